// Package realm ties a broker, a dealer, its authentication and
// authorization (package auth) and the sessions attached to one realm
// together. It implements session.Handler: the session reader calls Handle
// for each message, which asks the realm's authorizer (when it has one)
// and dispatches inline to the broker or dealer. Authenticate runs the
// realm's authentication during a session's handshake; Call lets the
// router call a session's procedure (dynamic authenticators and
// authorizers).
//
// Concurrency: safe for concurrent use. The realm's own mutex guards only
// its session table; routing is done under the broker's and dealer's locks.
// Lock order: docs/locks.md. Handle takes no realm lock at all.
package realm
