// Package realm ties a broker, a dealer and the sessions attached to one
// realm together. It implements session.Handler: the session reader calls
// Handle for each message, which dispatches inline to the broker or dealer.
//
// Concurrency: safe for concurrent use. The realm's own mutex guards only
// its session table; routing is done under the broker's and dealer's locks.
// Lock order: realm.mu, then broker or dealer locks, then session locks;
// Handle takes no realm lock at all.
package realm
