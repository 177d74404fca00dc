// Package testutil holds the helpers that tests of more than one package
// need, so that each is written once: self-signed certificates and a small
// certificate authority, polling for an eventual condition with a bound,
// reading the Prometheus text exposition, and a hand-written WebSocket
// upgrade for tests of the HTTP handshake.
//
// What belongs here: a helper that a second package's tests would
// otherwise copy, with no knowledge of switchboard's own types (routers
// and their configs are in router/routertest; fake peers for the broker
// and dealer in internal/fakepeer). What does not: anything production
// code imports, and helpers only one package uses.
//
// Every helper takes a testing.TB, fails the test itself on error, and is
// safe for concurrent use by parallel tests; none sleeps for a fixed time
// before asserting: waits poll a condition and the bound only ends a hang.
package testutil
