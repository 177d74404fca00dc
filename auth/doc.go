// Package auth decides who may join a realm and what a session may do there.
//
// Authentication: a realm has a Set of Authenticators, one per configured
// method (anonymous, ticket, wampcra, cryptosign, tls, wamp-scram), each
// static (its
// principals come from the config) or dynamic (a procedure registered by a
// backend is called for each HELLO, through the Caller seam); a ticket
// method may instead verify its tickets as JWTs (jwt.go, jwtkey.go), each
// key taking only the algorithms of its type. Set picks the
// first method, in the realm's order, that the client offered in
// HELLO.Details.authmethods and that can take the HELLO; the method sends
// CHALLENGE and reads AUTHENTICATE through the Challenger the session gives
// it, and returns the Identity that WELCOME announces. Failures are errors
// that WAMPError maps, in one table, to the ABORT reason
// (wamp.error.authentication_failed, not_authorized, no_auth_method,
// no_such_role). Repeated failures from one address are slowed down by a
// Limiter; secrets are compared in constant time; every challenge is random
// and is answered at most once.
//
// Authorization: an Authorizer says whether a session may call, register,
// publish or subscribe to a URI, and whether the router must disclose the
// caller or publisher. Static holds per-role permissions on URI patterns
// (exact, prefix, wildcard); DynamicAuthorizer asks a procedure and caches
// its answers for a while; Chain combines the two.
//
// The package imports nothing of the router but wamp: the session, the realm
// and the dealer reach it through the small interfaces it declares
// (Challenger, Caller).
//
// Concurrency: Set, Limiter, Static, DynamicAuthorizer, Chain and
// JWTVerifier are safe for concurrent use once built. Authenticate runs on
// the joining session's reader goroutine and may block (on the peer, a
// dynamic authenticator, or the Limiter's delay) for at most the context's
// lifetime. Authorize runs on the reader goroutine of the session whose
// message it checks; the static authorizer never blocks, the dynamic one
// blocks for at most its timeout.
package auth
