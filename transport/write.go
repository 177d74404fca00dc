package transport

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gobwas/ws"
)

// maxIovecs bounds the iovecs of one writev (IOV_MAX on Linux).
const maxIovecs = 1024

func (c *conn) WriteBatch(frames [][]byte) error { return c.writeBatch(frames, nil) }

func (c *conn) WriteBatchShared(frames [][]byte, shared []bool) error {
	if len(shared) != len(frames) {
		panic("transport: WriteBatchShared with one flag per frame expected")
	}
	return c.writeBatch(frames, shared)
}

// writeBatch is WriteBatch; shared, when not nil, marks the shared frames.
func (c *conn) writeBatch(frames [][]byte, shared []bool) error {
	if len(frames) == 0 {
		return nil
	}
	if c.maxWrite > 0 {
		for i, f := range frames {
			if len(f) > c.maxWrite {
				return fmt.Errorf("%w: frame %d of the batch has %d bytes, peer accepts %d", ErrTooLarge, i, len(f), c.maxWrite)
			}
		}
	}
	c.wsem <- struct{}{}
	defer c.releaseWrite()
	if c.werr != nil {
		return c.werr
	}
	if c.closing.Load() {
		return ErrClosed
	}
	if c.writeTimeout > 0 {
		_ = c.nc.SetWriteDeadline(time.Now().Add(c.writeTimeout))
	}
	for len(frames) > 0 {
		n, need := c.fit(frames, shared)
		buf := getBuffer(need)
		if c.deflate == nil {
			c.nb = c.layout(buf, frames[:n])
		} else {
			c.nb = c.layoutDeflate(buf, frames[:n], shared)
		}
		_, err := c.nb.WriteTo(c.nc)
		c.nb = nil
		putBuffer(buf)
		if err != nil {
			c.werr = fmt.Errorf("transport: %s write: %w", c.Transport(), err)
			return c.werr
		}
		frames = frames[n:]
		if shared != nil {
			shared = shared[n:]
		}
	}
	return nil
}

// fit returns how many leading frames go into one pooled buffer and one
// writev, and the buffer size they need. It is at least one.
func (c *conn) fit(frames [][]byte, shared []bool) (n, need int) {
	iovs := 1
	for i, f := range frames {
		size := ws.MaxHeaderSize
		if len(f) <= c.copyMax || c.deflate != nil && c.deflate.inBuffer(f, shared != nil && shared[i]) {
			size += len(f)
		} else {
			iovs += 2
		}
		if i > 0 && (need+size > maxPooled || iovs > maxIovecs) {
			return i, need
		}
		need += size
	}
	return len(frames), need
}

// layout writes headers, and frames up to copyMax, into buf; each bigger
// frame is referenced in place between the buffer segments around it. The
// buffer was sized by fit and never grows, so the segments stay valid.
func (c *conn) layout(buf *buffer, frames [][]byte) [][]byte {
	w, iov, seg := buf.b[:0], buf.iov[:0], 0
	for _, f := range frames {
		w = c.appendHeader(w, kindData, len(f))
		if len(f) <= c.copyMax {
			w = append(w, f...)
			continue
		}
		iov = append(iov, w[seg:], f)
		seg = len(w)
	}
	if seg < len(w) {
		iov = append(iov, w[seg:])
	}
	buf.b, buf.iov = w, iov
	return iov
}

// layoutDeflate is layout on a connection with permessage-deflate. A
// frame compressed for this connection alone is deflated straight into
// buf, behind room for the longest header its length could need; the
// payload is moved back if the header turns out shorter. A shared frame's
// compressed payload comes from the endpoint's cache and is copied or
// referenced in place as an uncompressed frame of its length would be.
func (c *conn) layoutDeflate(buf *buffer, frames [][]byte, shared []bool) [][]byte {
	d := c.deflate
	w, iov, seg := buf.b[:0], buf.iov[:0], 0
	for i, f := range frames {
		p, compressed := f, false
		if len(f) >= d.threshold {
			if !d.inBuffer(f, shared != nil && shared[i]) {
				if z := d.cache.compressed(f, d.serverBits); z != nil {
					p, compressed = z, true
				}
			} else {
				start := len(w)
				room := headerLen(len(f))
				if out, ok := d.compress(w[:start+room], f); ok {
					w = c.appendDataHeader(w[:start], len(out)-start-room, true)
					w = append(w, out[start+room:]...) // memmove: the ranges may overlap
					continue
				}
				w = w[:start]
			}
		}
		w = c.appendDataHeader(w, len(p), compressed)
		if len(f) <= c.copyMax {
			w = append(w, p...)
			continue
		}
		iov = append(iov, w[seg:], p)
		seg = len(w)
	}
	if seg < len(w) {
		iov = append(iov, w[seg:])
	}
	buf.b, buf.iov = w, iov
	return iov
}

// inBuffer reports whether a frame of a batch is compressed into the
// batch's buffer, rather than taken from the cache or sent as it is.
// fit reserves its length in the buffer for it.
func (d *deflateState) inBuffer(f []byte, shared bool) bool {
	if len(f) < d.threshold {
		return false
	}
	if shared && d.cache != nil {
		// From the cache, or as it is when too big for the cache: never
		// once per subscriber.
		return false
	}
	return true
}

// headerLen is the length of a server frame header for an n-byte payload.
func headerLen(n int) int {
	switch {
	case n < 126:
		return 2
	case n <= 0xffff:
		return 4
	}
	return 10
}

// appendDataHeader appends a data frame header, with RSV1 set for a
// compressed payload.
func (c *conn) appendDataHeader(b []byte, n int, compressed bool) []byte {
	b = c.appendHeader(b, kindData, n)
	if compressed {
		b[len(b)-headerLen(n)] |= 0x40
	}
	return b
}

func (c *conn) appendHeader(b []byte, kind frameKind, n int) []byte {
	if !c.websocket {
		if n == 1<<24 {
			return append(b, 0x08|byte(kind), 0, 0, 0)
		}
		return append(b, byte(kind), byte(n>>16), byte(n>>8), byte(n))
	}
	op := c.dataOp
	switch kind {
	case kindPing:
		op = ws.OpPing
	case kindPong:
		op = ws.OpPong
	}
	b0 := 0x80 | byte(op) // FIN: the router never fragments
	switch {
	case n < 126:
		return append(b, b0, byte(n))
	case n <= 0xffff:
		return append(b, b0, 126, byte(n>>8), byte(n))
	}
	return append(b, b0, 127, byte(n>>56), byte(n>>48), byte(n>>40), byte(n>>32),
		byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
}

// writeControl sends a ping or pong, waiting for the writer if it is busy.
func (c *conn) writeControl(kind frameKind, p []byte) error {
	c.wsem <- struct{}{}
	defer c.releaseWrite()
	if c.werr != nil {
		return c.werr
	}
	if c.closing.Load() {
		return ErrClosed
	}
	buf := getBuffer(ws.MaxHeaderSize + len(p))
	buf.b = append(c.appendHeader(buf.b, kind, len(p)), p...)
	err := c.writeLocked(buf.b)
	putBuffer(buf)
	return err
}

// writeCloseFrame sends a WebSocket close frame; wsem must be held.
func (c *conn) writeCloseFrame(code CloseCode, reason string) error {
	if !validCloseCode(code) {
		code = CloseNormal
	}
	reason = strings.ToValidUTF8(reason, "?")
	if len(reason) > ws.MaxControlFramePayloadSize-2 {
		i := ws.MaxControlFramePayloadSize - 2
		for i > 0 && !utf8.RuneStart(reason[i]) {
			i--
		}
		reason = reason[:i]
	}
	var frame [2 + ws.MaxControlFramePayloadSize]byte
	b := append(frame[:0], 0x80|byte(ws.OpClose), byte(2+len(reason)), byte(code>>8), byte(code))
	return c.writeLocked(append(b, reason...))
}

// writeLocked writes b within the write timeout; wsem must be held.
func (c *conn) writeLocked(b []byte) error {
	if c.writeTimeout > 0 {
		_ = c.nc.SetWriteDeadline(time.Now().Add(c.writeTimeout))
	}
	if _, err := c.nc.Write(b); err != nil {
		c.werr = fmt.Errorf("transport: %s write: %w", c.Transport(), err)
		return c.werr
	}
	return nil
}

// acquireWrite takes wsem, giving up after d (at once if d <= 0).
func (c *conn) acquireWrite(d time.Duration) bool {
	select {
	case c.wsem <- struct{}{}:
		return true
	default:
	}
	if d <= 0 {
		return false
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case c.wsem <- struct{}{}:
		return true
	case <-t.C:
		return false
	}
}

func (c *conn) releaseWrite() { <-c.wsem }
