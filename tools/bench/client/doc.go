// Package client is a lean WAMP client for load generation: WebSocket
// (gobwas/ws framing) or RawSocket (TCP or Unix) transport, json, msgpack
// or cbor through wamp/codec, and none of the machinery of a full client
// (no goroutine per session, no channel per message, no decoded payloads).
//
// Writes are batched: Append encodes and frames a message into the
// connection's write buffer, Flush sends everything appended with one
// write system call. Serve runs the read loop: it decodes each message into
// one reused wamp.Message, calls the handler inline, and flushes whatever
// the handler appended once no more input is buffered, so that a burst of
// invocations is answered with one write.
//
// Concurrency: Append, Flush, Send and Close may be called from any
// goroutine. Recv and Serve read the connection and must have one caller at
// a time; the synchronous helpers (Join, Subscribe, Register, Leave) read
// too and so must not run while Serve does.
package client
