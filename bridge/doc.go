// Package bridge is the HTTP bridge: web backends that cannot hold a WAMP
// session publish (POST /publish) and call (POST /call) through it, services
// such as GitHub post webhooks that become events, and events on chosen
// topics are POSTed to HTTP endpoints (HTTP subscribers). The request
// formats and the signature are those of Crossbar.io's HTTP Publisher and
// Caller, so integrations move over unchanged.
//
// The bridge is a WAMP client like any other: each identity it acts as (the
// unsigned one and one per signing key) is a Peer, an in-process connection
// that the router serves as an ordinary session. Everything a realm does
// for a WebSocket client (authorization by role, disclosure, meta events,
// metrics) therefore applies to the bridge too, with no second code path.
//
// Concurrency: a Peer is the session.Conn of one session. Its Read is
// called by that session's reader goroutine, WriteBatch by its writer; the
// HTTP handlers run on net/http's goroutines and may use a Peer
// concurrently (requests are told apart by request id). WriteBatch never
// blocks: replies go to a one-slot channel per request, events to the
// HTTP subscriber's bounded queue. Each identity has a goroutine that
// joins a new session when its session ends while the bridge runs, and
// each HTTP subscriber one that posts its events; Bridge.Close stops them
// all and ends the sessions.
package bridge
