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

func (c *conn) WriteBatch(frames [][]byte) error {
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
		n, need := c.fit(frames)
		buf := getBuffer(need)
		c.nb = c.layout(buf, frames[:n])
		_, err := c.nb.WriteTo(c.nc)
		c.nb = nil
		putBuffer(buf)
		if err != nil {
			c.werr = fmt.Errorf("transport: %s write: %w", c.Transport(), err)
			return c.werr
		}
		frames = frames[n:]
	}
	return nil
}

// fit returns how many leading frames go into one pooled buffer and one
// writev, and the buffer size they need. It is at least one.
func (c *conn) fit(frames [][]byte) (n, need int) {
	iovs := 1
	for i, f := range frames {
		size := ws.MaxHeaderSize
		if len(f) <= c.copyMax {
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
