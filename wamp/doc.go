// Package wamp holds the protocol's vocabulary: message types and their
// field layouts, IDs, URIs and the error and close URIs of the specification.
// It imports nothing of ours so that every other package can depend on it.
//
// Concurrency: the types here are plain values. A decoded Message borrows the
// frame it was decoded from and is owned by one goroutine (the session reader)
// until its handler returns; anything kept past that must be copied with
// Message.Clone.
package wamp
