// Package session runs one attached peer: the HELLO handshake (with
// CHALLENGE and AUTHENTICATE when the Joiner authenticates through
// Challenge), the read loop that decodes frames and dispatches them inline
// to the realm, and the bounded outbound queue drained by a writer
// goroutine in batches.
//
// Concurrency: each Session has exactly two goroutines, the reader (the
// goroutine that called Serve) and the writer. Send and SendEvent may be
// called from any goroutine: they only encode (Send) and append to the queue
// under the session's mutex, never block on the network, and never call back
// into the realm. Handler methods run on the reader goroutine.
//
// Lock order (docs/locks.md): Session.mu is a leaf lock; no other lock is taken while it is
// held, and it may be taken while broker or dealer locks are held.
package session
