package transport

import (
	"errors"
	"fmt"
	"io"
	"net"
	"unicode/utf8"

	"github.com/gobwas/ws"
)

func (c *conn) Read() ([]byte, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	return c.readLocked()
}

// readLocked is Read; rmu must be held.
func (c *conn) readLocked() ([]byte, error) {
	if c.rerr != nil {
		return nil, c.rerr
	}
	if c.rb != nil && cap(c.rb.b) > readKeep {
		// The last message was big; do not hold its buffer while idle.
		c.releaseReadBuffer()
	}
	var msg []byte
	var err error
	if c.websocket {
		msg, err = c.readWS()
	} else {
		msg, err = c.readRaw()
	}
	switch {
	case err == nil:
		c.idle = false // a data message: a wait must be quiet again to park
	case err != ErrParked:
		c.rerr = err
	}
	return msg, err
}

// atBoundary is called where the next byte begins a frame outside any
// message: it waits for input there when parking is on and nothing is
// buffered, and reports whether the reader should park instead.
func (c *conn) atBoundary() bool {
	if c.resume == nil || c.noPark || !c.br.empty() || c.closing.Load() || !c.awaitBoundary() {
		return false
	}
	c.wantPark = true
	return true
}

// readWS reads frames until a whole data message is in rbuf.
func (c *conn) readWS() ([]byte, error) {
	c.rbuf = c.rbuf[:0]
	state := ws.StateServerSide
	compressed := false
	// text: the message is a text message, whose bytes must be UTF-8
	// (RFC 6455 8.1); checked is how much of rbuf is known valid, so that
	// a fragmented message fails at the fragment that breaks it.
	text, checked := false, 0
	for {
		if !state.Fragmented() && c.atBoundary() {
			return nil, ErrParked
		}
		h, err := ws.ReadHeaderBuffer(&c.br, c.hdr[:])
		if err != nil {
			if errors.Is(err, ws.ErrHeaderLengthMSB) || errors.Is(err, ws.ErrHeaderLengthUnexpected) {
				return nil, c.violation(err)
			}
			return nil, c.readFailed(err)
		}
		if h.Rsv != 0 && c.deflate != nil {
			// RFC 7692 6: RSV1 marks a compressed message, on its first
			// frame only; RSV2 and RSV3 mean nothing here either. Without
			// deflate CheckHeader refuses every reserved bit.
			if h.Rsv != ws.Rsv(true, false, false) || h.OpCode.IsControl() || h.OpCode == ws.OpContinuation {
				return nil, c.violation(fmt.Errorf("reserved bits %#x on a %v frame", h.Rsv, h.OpCode))
			}
			compressed = true
			h.Rsv = 0
		}
		if err := ws.CheckHeader(h, state); err != nil {
			return nil, c.violation(err)
		}
		if h.OpCode.IsControl() {
			p := c.ctrl[:h.Length] // CheckHeader bounded it to 125
			if _, err := io.ReadFull(&c.br, p); err != nil {
				return nil, c.readFailed(unexpectedEOF(err))
			}
			ws.Cipher(p, h.Mask, 0)
			switch h.OpCode {
			case ws.OpPing:
				// A failed pong shows up in the writer's next batch too.
				_ = c.writeControl(kindPong, p)
			case ws.OpClose:
				return nil, c.peerClosed(p)
			}
			continue
		}
		limit := c.maxRead
		if compressed {
			// The inflated size is checked as it is produced.
			limit = compressedMax(c.maxRead)
		}
		if h.Length > int64(limit-len(c.rbuf)) {
			return nil, c.tooBig(int64(len(c.rbuf)) + h.Length)
		}
		start := len(c.rbuf)
		if err := c.readPayload(int(h.Length)); err != nil {
			return nil, c.readFailed(err)
		}
		ws.Cipher(c.rbuf[start:], h.Mask, 0)
		if h.OpCode == ws.OpText {
			text = true
		}
		if !h.Fin {
			state = state.Set(ws.StateFragmented)
			if text && !compressed {
				n, ok := validUTF8Prefix(c.rbuf[checked:])
				if !ok {
					return nil, c.invalidUTF8("text message")
				}
				checked += n
			}
			continue
		}
		if c.closing.Load() {
			// After Close only the peer's close frame matters.
			c.rbuf = c.rbuf[:0]
			state = ws.StateServerSide
			compressed = false
			text, checked = false, 0
			continue
		}
		if compressed {
			if err := c.inflate(); err != nil {
				return nil, err
			}
		}
		if text && !utf8.Valid(c.rbuf[checked:]) {
			return nil, c.invalidUTF8("text message")
		}
		return c.rbuf, nil
	}
}

// validUTF8Prefix checks a text message's bytes so far: it reports
// whether they are UTF-8 up to, possibly, a rune cut at their end (the
// next fragment completes it), and how many bytes before that cut it
// checked.
func validUTF8Prefix(b []byte) (int, bool) {
	i := 0
	for i < len(b) {
		if b[i] < utf8.RuneSelf {
			i++
			continue
		}
		if !utf8.FullRune(b[i:]) {
			// The start of a rune that the next fragment may complete;
			// utf8 takes any invalid start for a full (error) rune.
			return i, true
		}
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 {
			return i, false
		}
		i += size
	}
	return i, true
}

// invalidUTF8 fails the connection for text that is not UTF-8 (what: a
// text message, a close reason), with close code 1007 (RFC 6455 8.1,
// 7.4.1).
func (c *conn) invalidUTF8(what string) error {
	c.log.Info("transport: "+what+" not UTF-8", "transport", c.Transport(), "remote", c.RemoteAddr().String())
	_ = c.close(CloseInvalidData, what+" not UTF-8", closeLinger)
	return fmt.Errorf("%w: %s: %s not UTF-8", ErrProtocol, c.Transport(), what)
}

// readRaw reads RawSocket frames until a message is in rbuf.
func (c *conn) readRaw() ([]byte, error) {
	for {
		if c.atBoundary() {
			return nil, ErrParked
		}
		c.rbuf = c.rbuf[:0]
		h := c.hdr[:4]
		if _, err := io.ReadFull(&c.br, h); err != nil {
			return nil, c.readFailed(err)
		}
		if h[0]&0xf0 != 0 {
			return nil, c.violation(fmt.Errorf("reserved bits set in frame header %#02x", h[0]))
		}
		kind := frameKind(h[0] & 0x07)
		if kind > kindPong {
			return nil, c.violation(fmt.Errorf("reserved frame type %d", kind))
		}
		n := int(h[1])<<16 | int(h[2])<<8 | int(h[3])
		if h[0]&0x08 != 0 {
			// The 25th length bit is legal only for exactly 16 MiB.
			if n != 0 {
				return nil, c.violation(fmt.Errorf("length bit 24 set with nonzero length %d", n))
			}
			n = 1 << 24
		}
		if n > c.maxRead {
			return nil, c.tooBig(int64(n))
		}
		if kind == kindPong {
			if _, err := c.br.Discard(n); err != nil {
				return nil, c.readFailed(unexpectedEOF(err))
			}
			continue
		}
		if err := c.readPayload(n); err != nil {
			return nil, c.readFailed(err)
		}
		if kind == kindPing {
			_ = c.writeControl(kindPong, c.rbuf)
			continue
		}
		if c.closing.Load() {
			continue
		}
		return c.rbuf, nil
	}
}

// readPayload appends n bytes from the stream to rbuf. It trusts the
// announced n for at most growTrust bytes of allocation ahead of the data.
func (c *conn) readPayload(n int) error {
	for n > 0 {
		if len(c.rbuf) == cap(c.rbuf) {
			c.growReadBuffer(n)
		}
		b := c.rbuf
		k := min(n, cap(b)-len(b))
		if _, err := io.ReadFull(&c.br, b[len(b):len(b)+k]); err != nil {
			return unexpectedEOF(err)
		}
		c.rbuf = b[:len(b)+k]
		n -= k
	}
	return nil
}

// growReadBuffer moves rbuf to a bigger buffer for n more bytes.
func (c *conn) growReadBuffer(n int) {
	have := len(c.rbuf)
	size := max(have+n, 2*cap(c.rbuf))
	if n > growTrust {
		size = min(size, max(2*cap(c.rbuf), have+growTrust))
	}
	nb := getBuffer(size)
	nb.b = append(nb.b, c.rbuf...)
	c.releaseReadBuffer()
	c.rb, c.rbuf = nb, nb.b
}

// releaseReadBuffer returns the read buffer to its pool; rmu must be held.
func (c *conn) releaseReadBuffer() {
	if c.rb != nil {
		putBuffer(c.rb)
	}
	c.rb, c.rbuf = nil, nil
}

// unexpectedEOF converts an EOF met inside a frame, which is never orderly.
func unexpectedEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// readFailed ends the connection after a read error and says why.
func (c *conn) readFailed(err error) error {
	closing, closed := c.closing.Load(), c.closed.Load()
	c.closeNow()
	c.mu.Lock()
	cause := c.closeErr
	c.mu.Unlock()
	switch {
	case cause != nil:
		return cause
	case closed || errors.Is(err, net.ErrClosed):
		return ErrClosed
	case err == io.EOF && c.websocket && !closing:
		return fmt.Errorf("transport: websocket peer went away without a close frame: %w", io.ErrUnexpectedEOF)
	case err == io.EOF:
		return io.EOF
	}
	return fmt.Errorf("transport: %s read: %w", c.Transport(), err)
}

// violation fails the connection for a framing error of the peer.
func (c *conn) violation(cause error) error {
	c.log.Info("transport: protocol violation", "transport", c.Transport(),
		"remote", c.RemoteAddr().String(), "error", cause)
	// Only this peer's own reader waits here, for its writer to finish, so
	// that the close frame tells the peer what it did wrong.
	_ = c.close(CloseProtocolError, "protocol error", closeLinger)
	return fmt.Errorf("%w: %s: %w", ErrProtocol, c.Transport(), cause)
}

func (c *conn) tooBig(n int64) error {
	c.log.Info("transport: message too big", "transport", c.Transport(),
		"remote", c.RemoteAddr().String(), "size", n, "max", c.maxRead)
	_ = c.close(CloseTooBig, "message too big", closeLinger)
	return fmt.Errorf("%w: %s message of %d bytes or more, limit %d", ErrTooLarge, c.Transport(), n, c.maxRead)
}

// peerClosed handles a WebSocket close frame with payload p.
func (c *conn) peerClosed(p []byte) error {
	code := CloseNormal // RFC 6455 7.1.5: no code received reads as 1005; we echo 1000
	var reason []byte
	if len(p) > 0 {
		if len(p) < 2 {
			return c.violation(errors.New("close frame with a 1-byte payload"))
		}
		code = CloseCode(uint16(p[0])<<8 | uint16(p[1]))
		reason = p[2:]
		if !validCloseCode(code) {
			return c.violation(fmt.Errorf("close code %d", code))
		}
		if !utf8.Valid(reason) {
			return c.invalidUTF8("close reason")
		}
	}
	if c.closing.CompareAndSwap(false, true) {
		c.log.Debug("transport: peer closed", "remote", c.RemoteAddr().String(),
			"code", int(code), "reason", string(reason))
		// Echo the close; the server then ends the TCP connection first
		// (RFC 6455 7.1.1), so no linger is needed.
		if c.acquireWrite(closeLinger) {
			if c.werr == nil {
				_ = c.writeCloseFrame(code, "")
			}
			c.releaseWrite()
		}
	}
	c.closeNow()
	return io.EOF
}

func validCloseCode(code CloseCode) bool {
	return code >= 1000 && code <= 1003 || code >= 1007 && code <= 1014 || code >= 3000 && code <= 4999
}
