// Package dealer routes remote procedure calls within one realm: the
// registration index, CALL to INVOCATION, YIELD to RESULT, callee errors,
// and the pending calls in between.
//
// Like the broker it declares the Peer it delivers to and imports nothing of
// sessions or realms, so a remote node can stand in for a callee.
//
// Concurrency: all methods are safe for concurrent use. The dealer's mutex
// guards the indexes and pending calls; REGISTERED and UNREGISTERED are
// queued under it so that a callee never sees an INVOCATION for a
// registration before the reply that created it. INVOCATION, RESULT and
// caller errors are encoded and queued outside the lock. Peer methods must
// not call back into the dealer.
package dealer
