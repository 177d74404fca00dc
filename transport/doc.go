// Package transport turns network connections into framed WAMP peers: WAMP
// over WebSocket (RFC 6455, subprotocols wamp.2.json, wamp.2.msgpack,
// wamp.2.cbor) and WAMP over RawSocket (TCP, Unix, TLS). It moves bytes
// only; it knows serializers by their ids but decodes nothing.
//
// # Concurrency
//
// A Conn has at most three kinds of caller, and the package is built for
// exactly these:
//
//   - One reader goroutine calls Read. The returned slice aliases the
//     connection's read buffer and is overwritten by the next Read, so the
//     reader must finish with (or copy) a message before reading the next.
//     Read answers pings and close frames itself.
//   - One writer goroutine calls WriteBatch (or WriteBatchShared, see
//     SharedWriter). Pongs, keepalive pings and close frames are written
//     from other goroutines; a one-slot semaphore keeps every frame whole.
//     WriteBatch does not retain the frames; WriteBatchShared may keep a
//     shared frame in the endpoint's cache of compressed frames, which is
//     why a shared frame must never change.
//   - Any goroutine may call Close, any number of times.
//
// Close sends the close frame (WebSocket), half-closes the stream and lets
// the peer answer for up to two seconds before the connection is torn down;
// a Read blocked meanwhile returns when the peer answers or the time is up.
// After Close, WriteBatch returns ErrClosed and Read returns no more
// messages, only the end.
//
// WebSocketHandler and ServeRawSocket call serve once per connection (in
// the HTTP handler's goroutine, or in one goroutine per accepted RawSocket
// connection). When serve returns, the package closes the connection and
// drains the peer's last input in that same goroutine; serve must not touch
// the Conn afterwards, nor leave a goroutine in Read.
//
// The exception is parking (park.go): a reader that enabled it
// (Parker.EnablePark) gets ErrParked from Read once the peer has been
// silent for a second or two, and returns; serve returns then, and the
// connection waits in an epoll set with no goroutine. Input or Close runs
// the reader's loop again on a new goroutine, and the connection ends as
// above when that loop returns without parking. At 10,000 idle sessions
// this is 8 KiB of stack per session that no goroutine holds.
//
// Between messages a connection holds its 4 KiB read buffer and at most a
// 4 KiB message buffer; bigger message buffers and all write buffers come
// from size-classed pools and go back as soon as they are used. So do the
// compressors and decompressors of permessage-deflate (deflate.go): with
// the default settings a compressed connection holds no compression state
// between messages but a 64-byte struct.
//
// Keepalive runs on a timer, not a goroutine: idle connections cost memory
// only. It counts any input as a sign of life, and input is seen only while
// the reader is in Read, so a session reader must not stall for longer than
// PingInterval plus PingTimeout.
package transport
