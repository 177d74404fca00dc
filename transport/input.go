package transport

import (
	"errors"
	"io"
	"net"
	"os"
	"syscall"
)

// input is a connection's read buffer. On sockets it holds its pooled
// buffer only while bytes wait in it or a read is under way: when the
// socket has nothing to read, the buffer goes back to the pool before the
// goroutine parks, and a fresh one is taken when the socket turns readable.
// At tens of thousands of idle sessions that is 4 KiB each that would
// otherwise sit unused (nats-server shrinks its read buffers for the same
// reason). The system calls are those of a plain net.Conn read: one read,
// and on EAGAIN a wait in the runtime's poller.
//
// Connections that are no socket of their own (TLS, pipes in tests) keep
// one buffer for their life and read through net.Conn.
type input struct {
	c    *conn
	raw  syscall.RawConn // nil: read through c.nc
	buf  *buffer         // nil while idle (raw only)
	r, w int             // unread bytes are buf.b[r:w]
	// pending holds bytes the handshake read past its end, served first.
	pending []byte

	// read is the closure handed to raw.Read, built once so that a read
	// does not allocate; into, n and err are its arguments and results.
	read func(fd uintptr) bool
	into []byte
	n    int
	err  error
	// noWait makes readFD give up at EAGAIN rather than park, setting
	// wouldBlock (fillIdle).
	noWait, wouldBlock bool
	// held is the outcome of a boundary wait that brought no bytes (the
	// end, or an error), returned by the next fill.
	held error
}

func (in *input) init(c *conn, pending []byte) {
	in.c, in.pending = c, pending
	if sc, ok := c.nc.(syscall.Conn); ok {
		if raw, err := sc.SyscallConn(); err == nil {
			in.raw = raw
			in.read = in.readFD
			return
		}
	}
	in.buf = getBuffer(readBufSize)
}

// Read implements io.Reader as bufio.Reader does: from the buffer when it
// holds bytes, straight into p when p is at least a buffer long, else by
// filling the buffer.
func (in *input) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if in.r == in.w {
		if len(in.pending) > 0 {
			n := copy(p, in.pending)
			in.pending = in.pending[n:]
			return n, nil
		}
		if len(p) >= readBufSize {
			return in.fill(p)
		}
		if err := in.fillBuffer(); err != nil {
			return 0, err
		}
	}
	n := copy(p, in.buf.b[in.r:in.w])
	in.r += n
	return n, nil
}

// Discard skips n bytes.
func (in *input) Discard(n int) (int, error) {
	done := 0
	for done < n {
		if in.r == in.w && len(in.pending) == 0 {
			if err := in.fillBuffer(); err != nil {
				return done, err
			}
		}
		if len(in.pending) > 0 {
			k := min(n-done, len(in.pending))
			in.pending = in.pending[k:]
			done += k
			continue
		}
		k := min(n-done, in.w-in.r)
		in.r += k
		done += k
	}
	return done, nil
}

// fillBuffer reads into the empty buffer, taking one from the pool first
// if the last read gave it back.
func (in *input) fillBuffer() error {
	in.r, in.w = 0, 0
	if in.raw == nil && in.buf == nil {
		in.buf = getBuffer(readBufSize)
	}
	// The raw path takes a buffer itself once the socket is readable.
	n, err := in.fill(nil)
	in.w = n
	return err
}

// empty reports whether nothing read from the peer waits to be consumed.
func (in *input) empty() bool {
	return in.r == in.w && len(in.pending) == 0 && in.held == nil
}

// fillIdle fills the empty buffer as fillBuffer does, for a boundary
// wait (conn.awaitBoundary), and reports whether nothing came: the read
// deadline ended the wait or, with noWait, the socket had nothing to
// read at once. The end or an error is held for the next fill.
func (in *input) fillIdle(noWait bool) (idle bool) {
	in.noWait = noWait
	n, err := in.fillRaw(nil)
	in.noWait = false
	in.r, in.w = 0, n
	if n > 0 {
		in.gotInput()
		return false
	}
	if in.wouldBlock || errors.Is(err, os.ErrDeadlineExceeded) {
		return true
	}
	in.held = err
	return false
}

// fillRaw reads once from the socket into p, or into a pooled buffer
// when p is nil. n == 0 comes with an error; io.EOF at the end.
func (in *input) fillRaw(p []byte) (int, error) {
	in.into, in.n, in.err, in.wouldBlock = p, 0, nil, false
	if rerr := in.raw.Read(in.read); rerr != nil {
		in.err = rerr
	}
	n, err := in.n, in.err
	in.into = nil
	if n == 0 && err == nil && !in.wouldBlock {
		err = io.EOF
	}
	return n, err
}

// gotInput notes input from the peer for the keepalive.
func (in *input) gotInput() {
	in.c.activity.Store(true)
	if in.c.pingSent.Load() {
		in.c.answered()
	}
}

// fill reads once into p, or into the buffer when p is nil.
func (in *input) fill(p []byte) (int, error) {
	if in.held != nil {
		err := in.held
		in.held = nil
		return 0, err
	}
	var n int
	var err error
	if in.raw == nil {
		if p == nil {
			p = in.buf.b[:cap(in.buf.b)]
		}
		n, err = in.c.nc.Read(p)
	} else {
		n, err = in.fillRaw(p)
	}
	if n > 0 {
		in.gotInput()
		return n, nil
	}
	if err == nil {
		err = io.EOF
	}
	return 0, err
}

// readFD is called by the runtime with the socket's descriptor; returning
// false parks the goroutine until the socket is readable.
func (in *input) readFD(fd uintptr) bool {
	p := in.into
	if p == nil {
		if in.buf == nil {
			in.buf = getBuffer(readBufSize)
		}
		p = in.buf.b[:cap(in.buf.b)]
	}
	for {
		n, err := syscall.Read(int(fd), p)
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN:
			if in.noWait {
				in.wouldBlock = true
				if in.into == nil && in.buf != nil {
					putBuffer(in.buf)
					in.buf = nil
				}
				return true
			}
			if in.buf != nil {
				// Nothing to read (and nothing buffered, or we would
				// not be reading): park without a buffer.
				putBuffer(in.buf)
				in.buf = nil
			}
			return false
		case err != nil:
			in.err = &net.OpError{Op: "read", Net: in.c.nc.RemoteAddr().Network(),
				Source: in.c.nc.LocalAddr(), Addr: in.c.nc.RemoteAddr(), Err: err}
			return true
		}
		in.n = n // n == 0: end of stream, which fill turns into io.EOF
		return true
	}
}

// release gives the buffer back for good; the connection reads no more.
func (in *input) release() {
	if in.buf != nil {
		putBuffer(in.buf)
		in.buf = nil
	}
	in.r, in.w = 0, 0
}
