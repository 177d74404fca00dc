package nexus_test

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"reflect"
	"testing"
	"time"

	"github.com/gammazero/nexus/v3/wamp"
	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

// maskedFrame encodes one client frame (masked, as RFC 6455 requires).
func maskedFrame(t testing.TB, op ws.OpCode, fin bool, p []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	f := ws.MaskFrameInPlace(ws.NewFrame(op, fin, bytes.Clone(p)))
	if err := ws.WriteFrame(&buf, f); err != nil {
		t.Fatalf("encode frame: %v", err)
	}
	return buf.Bytes()
}

// rawFrame encodes one RawSocket frame of the given type.
func rawFrame(kind byte, p []byte) []byte {
	b := make([]byte, 4, 4+len(p))
	binary.BigEndian.PutUint32(b, uint32(len(p)))
	b[0] = kind
	return append(b, p...)
}

var (
	helloJSON     = []byte(validHello)
	subscribeJSON = []byte(`[32,1,{},"com.example.pipelined"]`)
)

// expectWelcomeAndSubscribed reads what HELLO and SUBSCRIBE must bring.
func expectWelcomeAndSubscribed(t *testing.T, c *rawClient) {
	t.Helper()
	if m := c.recv(); m.MessageType() != wamp.WELCOME {
		t.Fatalf("got %v %+v, want WELCOME", m.MessageType(), m)
	}
	if m, ok := c.recv().(*wamp.Subscribed); !ok || m.Request != 1 {
		t.Fatalf("got %+v, want SUBSCRIBED 1", m)
	}
}

// TestWebSocketFraming exercises WebSocket framing the router must accept
// or refuse, with hand-made frames.
func TestWebSocketFraming(t *testing.T) {
	r := startRouter(t, nil)
	w := newWitness(t, r)
	wsURL := urlOf(t, r, kindWS)

	t.Run("hello behind the upgrade request", func(t *testing.T) {
		// A client may send its first frames in the same segment as the
		// HTTP request, before it has seen the 101.
		u, err := url.Parse(wsURL)
		if err != nil {
			t.Fatal(err)
		}
		nc, err := net.DialTimeout("tcp", u.Host, bound)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		t.Cleanup(func() { _ = nc.Close() })
		key := make([]byte, 16)
		_, _ = rand.Read(key)
		req := "GET " + u.Path + " HTTP/1.1\r\nHost: " + u.Host + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
			"Sec-WebSocket-Key: " + base64.StdEncoding.EncodeToString(key) + "\r\nSec-WebSocket-Version: 13\r\n" +
			"Sec-WebSocket-Protocol: wamp.2.json\r\n\r\n"
		msg := append([]byte(req), maskedFrame(t, ws.OpText, true, helloJSON)...)
		msg = append(msg, maskedFrame(t, ws.OpText, true, subscribeJSON)...)
		_ = nc.SetDeadline(time.Now().Add(bound))
		if _, err := nc.Write(msg); err != nil {
			t.Fatalf("write: %v", err)
		}
		br := bufio.NewReader(nc)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("upgrade response: %v", err)
		}
		if resp.StatusCode != http.StatusSwitchingProtocols || resp.Header.Get("Sec-WebSocket-Protocol") != "wamp.2.json" {
			t.Fatalf("upgrade response %s, subprotocol %q", resp.Status, resp.Header.Get("Sec-WebSocket-Protocol"))
		}
		c := &rawClient{t: t, nc: nc, rd: br, ws: true, ser: serJSON}
		expectWelcomeAndSubscribed(t, c)
		w.check(t)
	})

	t.Run("two messages in one write", func(t *testing.T) {
		c := dialRaw(t, wsURL, serJSON)
		b := append(maskedFrame(t, ws.OpText, true, helloJSON), maskedFrame(t, ws.OpText, true, subscribeJSON)...)
		if _, err := c.nc.Write(b); err != nil {
			t.Fatalf("write: %v", err)
		}
		expectWelcomeAndSubscribed(t, c)
	})

	t.Run("hello one byte at a time", func(t *testing.T) {
		c := dialRaw(t, wsURL, serJSON)
		for _, b := range maskedFrame(t, ws.OpText, true, helloJSON) {
			if _, err := c.nc.Write([]byte{b}); err != nil {
				t.Fatalf("write: %v", err)
			}
		}
		c.writeFrame(subscribeJSON)
		expectWelcomeAndSubscribed(t, c)
	})

	t.Run("fragmented hello with a ping between fragments", func(t *testing.T) {
		c := dialRaw(t, wsURL, serJSON)
		n := len(helloJSON)
		var b []byte
		b = append(b, maskedFrame(t, ws.OpText, false, helloJSON[:n/3])...)
		b = append(b, maskedFrame(t, ws.OpPing, true, []byte("mid"))...)
		b = append(b, maskedFrame(t, ws.OpContinuation, false, helloJSON[n/3:2*n/3])...)
		b = append(b, maskedFrame(t, ws.OpContinuation, true, helloJSON[2*n/3:])...)
		if _, err := c.nc.Write(b); err != nil {
			t.Fatalf("write: %v", err)
		}
		// The pong to the ping comes first, then WELCOME.
		f := readWSFrame(t, c)
		if f.Header.OpCode != ws.OpPong || string(f.Payload) != "mid" {
			t.Fatalf("got frame %v %q, want the pong", f.Header.OpCode, f.Payload)
		}
		if m := c.recv(); m.MessageType() != wamp.WELCOME {
			t.Fatalf("got %v, want WELCOME", m.MessageType())
		}
	})

	t.Run("ping after join", func(t *testing.T) {
		c := dialRaw(t, wsURL, serJSON)
		c.join()
		if _, err := c.nc.Write(maskedFrame(t, ws.OpPing, true, []byte("are you there"))); err != nil {
			t.Fatalf("write: %v", err)
		}
		f := readWSFrame(t, c)
		if f.Header.OpCode != ws.OpPong || string(f.Payload) != "are you there" {
			t.Fatalf("got frame %v %q, want the pong", f.Header.OpCode, f.Payload)
		}
	})

	t.Run("unmasked frame", func(t *testing.T) {
		c := dialRaw(t, wsURL, serJSON)
		c.join()
		var buf bytes.Buffer
		if err := ws.WriteFrame(&buf, ws.NewTextFrame(subscribeJSON)); err != nil {
			t.Fatal(err)
		}
		if _, err := c.nc.Write(buf.Bytes()); err != nil {
			t.Fatalf("write: %v", err)
		}
		var ce wsutil.ClosedError
		if err := c.expectClosed(); !errors.As(err, &ce) || ce.Code != ws.StatusProtocolError {
			t.Fatalf("closed with %v, want close code 1002", err)
		}
		w.check(t)
	})

	t.Run("client close frame", func(t *testing.T) {
		// Closing the WebSocket without GOODBYE ends the session; the
		// router echoes the close.
		c := dialRaw(t, wsURL, serJSON)
		c.join()
		if _, err := c.nc.Write(maskedFrame(t, ws.OpClose, true, ws.NewCloseFrameBody(ws.StatusNormalClosure, "bye"))); err != nil {
			t.Fatalf("write: %v", err)
		}
		var ce wsutil.ClosedError
		if err := c.expectClosed(); !errors.As(err, &ce) {
			t.Fatalf("closed with %v, want the close frame echoed", err)
		}
		w.check(t)
	})
}

// readWSFrame reads one frame as it is on the wire, control frames
// included.
func readWSFrame(t *testing.T, c *rawClient) ws.Frame {
	t.Helper()
	_ = c.nc.SetReadDeadline(time.Now().Add(bound))
	f, err := ws.ReadFrame(c.rd)
	if err != nil {
		t.Fatalf("read frame: %v", err)
	}
	return f
}

// TestRawSocketFraming exercises RawSocket framing over TCP and Unix
// sockets.
func TestRawSocketFraming(t *testing.T) {
	r := startRouter(t, nil)
	w := newWitness(t, r)
	for _, kind := range []string{kindTCP, kindUnix} {
		t.Run(kind, func(t *testing.T) {
			url := urlOf(t, r, kind)

			t.Run("handshake and messages in one write", func(t *testing.T) {
				nc := rawDialNet(t, url)
				b := append([]byte{0x7f, 0xf1, 0, 0}, rawFrame(0, helloJSON)...)
				b = append(b, rawFrame(0, subscribeJSON)...)
				_ = nc.SetDeadline(time.Now().Add(bound))
				if _, err := nc.Write(b); err != nil {
					t.Fatalf("write: %v", err)
				}
				var reply [4]byte
				if _, err := io.ReadFull(nc, reply[:]); err != nil || reply[0] != 0x7f || reply[1]&0x0f != 1 {
					t.Fatalf("handshake reply % x (%v)", reply, err)
				}
				c := &rawClient{t: t, nc: nc, rd: nc, ser: serJSON}
				expectWelcomeAndSubscribed(t, c)
			})

			t.Run("hello one byte at a time", func(t *testing.T) {
				c := dialRaw(t, url, serJSON)
				for _, b := range rawFrame(0, helloJSON) {
					if _, err := c.nc.Write([]byte{b}); err != nil {
						t.Fatalf("write: %v", err)
					}
				}
				c.writeFrame(subscribeJSON)
				expectWelcomeAndSubscribed(t, c)
			})

			t.Run("ping is answered with a pong", func(t *testing.T) {
				c := dialRaw(t, url, serJSON)
				c.join()
				if _, err := c.nc.Write(rawFrame(1, []byte("are you there"))); err != nil {
					t.Fatalf("write: %v", err)
				}
				_ = c.nc.SetReadDeadline(time.Now().Add(bound))
				hdr := make([]byte, 4)
				if _, err := io.ReadFull(c.rd, hdr); err != nil {
					t.Fatalf("read: %v", err)
				}
				p := make([]byte, int(hdr[1])<<16|int(hdr[2])<<8|int(hdr[3]))
				if _, err := io.ReadFull(c.rd, p); err != nil {
					t.Fatalf("read: %v", err)
				}
				if hdr[0] != 2 || string(p) != "are you there" {
					t.Fatalf("got frame type %d %q, want the pong", hdr[0], p)
				}
			})

			t.Run("reserved frame type", func(t *testing.T) {
				c := dialRaw(t, url, serJSON)
				c.join()
				if _, err := c.nc.Write(rawFrame(3, subscribeJSON)); err != nil {
					t.Fatalf("write: %v", err)
				}
				c.expectClosed()
				w.check(t)
			})

			t.Run("peer closes mid-frame", func(t *testing.T) {
				c := dialRaw(t, url, serJSON)
				c.join()
				f := rawFrame(0, subscribeJSON)
				if _, err := c.nc.Write(f[:len(f)/2]); err != nil {
					t.Fatalf("write: %v", err)
				}
				_ = c.nc.Close()
				w.check(t)
			})
		})
	}
	if !reflect.DeepEqual(helloJSON, []byte(validHello)) {
		t.Fatalf("a test modified the shared HELLO frame")
	}
}
