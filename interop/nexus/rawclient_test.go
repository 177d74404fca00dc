package nexus_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"syscall"
	"testing"
	"time"

	"github.com/gammazero/nexus/v3/wamp"
	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

// rawClient speaks WAMP frame by frame: it sends exactly the bytes a test
// gives it and hands back what the router answers, so that tests can break
// the protocol on purpose. Messages are encoded with the nexus serializers,
// which are independent of the router's codecs.
type rawClient struct {
	t   testing.TB
	nc  net.Conn
	rd  io.Reader // buffered handshake leftovers, then nc
	ws  bool
	ser serializer
	req wamp.ID
}

// dialRaw connects to a ws://, tcp:// or unix:// URL and completes the
// transport handshake for ser. The connection is closed at cleanup.
func dialRaw(t testing.TB, rawURL string, ser serializer) *rawClient {
	t.Helper()
	c, err := tryDialRaw(t, rawURL, ser, nil)
	if err != nil {
		t.Fatalf("raw dial %s: %v", rawURL, err)
	}
	return c
}

// tryDialRaw is dialRaw returning the error. control, when set, is given to
// the net.Dialer (to shrink socket buffers).
func tryDialRaw(t testing.TB, rawURL string, ser serializer, control func(network, address string, c syscall.RawConn) error) (*rawClient, error) {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	c := &rawClient{t: t, ser: ser}
	switch u.Scheme {
	case "ws":
		d := ws.Dialer{Protocols: []string{ser.subprotocol()}, Timeout: bound}
		if control != nil {
			d.NetDial = func(ctx context.Context, network, addr string) (net.Conn, error) {
				return (&net.Dialer{Control: control}).DialContext(ctx, network, addr)
			}
		}
		nc, br, hs, err := d.Dial(ctx, rawURL)
		if err != nil {
			return nil, err
		}
		if hs.Protocol != ser.subprotocol() {
			_ = nc.Close()
			return nil, fmt.Errorf("router chose subprotocol %q, want %q", hs.Protocol, ser.subprotocol())
		}
		c.nc, c.ws, c.rd = nc, true, nc
		if br != nil {
			c.rd = io.MultiReader(br, nc)
		}
	case "tcp", "unix":
		network, addr := "tcp", u.Host
		if u.Scheme == "unix" {
			network, addr = "unix", u.Path
		}
		nc, err := (&net.Dialer{Control: control}).DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		c.nc, c.rd = nc, nc
		// Offer to receive up to 16 MiB (length exponent 15).
		reply, err := c.rawHandshake([4]byte{0x7f, 0xf0 | ser.id, 0, 0})
		if err != nil {
			_ = nc.Close()
			return nil, err
		}
		if reply[0] != 0x7f || reply[1]&0x0f != ser.id || reply[2] != 0 || reply[3] != 0 {
			_ = nc.Close()
			return nil, fmt.Errorf("rawsocket handshake reply % x, want 7f x%x 00 00", reply, ser.id)
		}
	default:
		return nil, fmt.Errorf("unsupported scheme in %q", rawURL)
	}
	t.Cleanup(func() { _ = c.nc.Close() })
	return c, nil
}

// rawHandshake sends a RawSocket handshake request and returns the reply.
func (c *rawClient) rawHandshake(req [4]byte) ([4]byte, error) {
	var reply [4]byte
	_ = c.nc.SetDeadline(time.Now().Add(bound))
	defer func() { _ = c.nc.SetDeadline(time.Time{}) }()
	if _, err := c.nc.Write(req[:]); err != nil {
		return reply, err
	}
	_, err := io.ReadFull(c.nc, reply[:])
	return reply, err
}

// writeFrame sends one message frame holding exactly b.
func (c *rawClient) writeFrame(b []byte) {
	c.t.Helper()
	if err := c.tryWriteFrame(b); err != nil {
		c.t.Fatalf("write frame: %v", err)
	}
}

func (c *rawClient) tryWriteFrame(b []byte) error {
	_ = c.nc.SetWriteDeadline(time.Now().Add(bound))
	if c.ws {
		if c.ser.name == "json" {
			return wsutil.WriteClientText(c.nc, b)
		}
		return wsutil.WriteClientBinary(c.nc, b)
	}
	hdr := make([]byte, 4, 4+len(b))
	binary.BigEndian.PutUint32(hdr, uint32(len(b))) // type 0: message
	_, err := c.nc.Write(append(hdr, b...))
	return err
}

// send encodes m with the client's serializer and sends it.
func (c *rawClient) send(m wamp.Message) {
	c.t.Helper()
	b, err := c.ser.codec.Serialize(m)
	if err != nil {
		c.t.Fatalf("serialize %v: %v", m.MessageType(), err)
	}
	c.writeFrame(b)
}

// nextID returns a fresh request id.
func (c *rawClient) nextID() wamp.ID {
	c.req++
	return c.req
}

// readFrame returns the next message frame, answering pings on the way.
// A timeout is reported as such: callers treat it as a failure.
func (c *rawClient) readFrame() ([]byte, error) {
	_ = c.nc.SetReadDeadline(time.Now().Add(bound))
	if c.ws {
		b, _, err := wsutil.ReadServerData(struct {
			io.Reader
			io.Writer
		}{c.rd, c.nc})
		return b, err
	}
	for {
		var hdr [4]byte
		if _, err := io.ReadFull(c.rd, hdr[:]); err != nil {
			return nil, err
		}
		n := int(hdr[1])<<16 | int(hdr[2])<<8 | int(hdr[3])
		b := make([]byte, n)
		if _, err := io.ReadFull(c.rd, b); err != nil {
			return nil, err
		}
		switch hdr[0] {
		case 0:
			return b, nil
		case 1: // ping: answer with a pong of the same payload
			if _, err := c.nc.Write(append([]byte{2, hdr[1], hdr[2], hdr[3]}, b...)); err != nil {
				return nil, err
			}
		case 2: // pong
		default:
			return nil, fmt.Errorf("rawsocket frame header % x", hdr)
		}
	}
}

// recv returns the next message, failing the test if there is none.
func (c *rawClient) recv() wamp.Message {
	c.t.Helper()
	b, err := c.readFrame()
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	m, err := c.ser.codec.Deserialize(b)
	if err != nil {
		c.t.Fatalf("deserialize %q: %v", b, err)
	}
	return m
}

// join sends HELLO for realm1 with the given roles and expects WELCOME.
func (c *rawClient) join() *wamp.Welcome {
	c.t.Helper()
	c.send(&wamp.Hello{Realm: "realm1", Details: helloDetails()})
	m := c.recv()
	w, ok := m.(*wamp.Welcome)
	if !ok {
		c.t.Fatalf("after HELLO got %v %+v, want WELCOME", m.MessageType(), m)
	}
	return w
}

// subscribe subscribes to topic and returns the subscription id.
func (c *rawClient) subscribe(topic string) wamp.ID {
	c.t.Helper()
	req := c.nextID()
	c.send(&wamp.Subscribe{Request: req, Options: wamp.Dict{}, Topic: wamp.URI(topic)})
	m := c.recv()
	s, ok := m.(*wamp.Subscribed)
	if !ok || s.Request != req {
		c.t.Fatalf("after SUBSCRIBE %d got %v %+v, want SUBSCRIBED", req, m.MessageType(), m)
	}
	return s.Subscription
}

func helloDetails() wamp.Dict {
	return wamp.Dict{"roles": wamp.Dict{
		"publisher": wamp.Dict{}, "subscriber": wamp.Dict{},
		"caller": wamp.Dict{}, "callee": wamp.Dict{},
	}}
}

// expectAbort reads ABORT with the given reason and then expects the router
// to close the connection.
func (c *rawClient) expectAbort(reason wamp.URI) {
	c.t.Helper()
	m := c.recv()
	a, ok := m.(*wamp.Abort)
	if !ok {
		c.t.Fatalf("got %v %+v, want ABORT %s", m.MessageType(), m, reason)
	}
	if a.Reason != reason {
		c.t.Fatalf("ABORT reason %q (details %v), want %q", a.Reason, a.Details, reason)
	}
	c.expectClosed()
}

// expectClosed expects the router to end the connection: no further
// message, and an end of stream (or WebSocket close) rather than a timeout.
// It returns the WebSocket close frame's error, if any.
func (c *rawClient) expectClosed() error {
	c.t.Helper()
	b, err := c.readFrame()
	if err == nil {
		m, derr := c.ser.codec.Deserialize(b)
		if derr != nil {
			c.t.Fatalf("router sent %q (%v) where it should have closed", b, derr)
		}
		c.t.Fatalf("router sent %v %+v where it should have closed", m.MessageType(), m)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		c.t.Fatalf("connection still open after %v", bound)
	}
	// Like a real peer, close our side once the router has ended the
	// session, so that the router need not wait out its linger.
	defer c.nc.Close()
	var ce wsutil.ClosedError
	if errors.As(err, &ce) {
		// The close frame came; the router must then end the stream too.
		if _, err2 := io.Copy(io.Discard, c.rd); err2 != nil && !isConnEnd(err2) {
			c.t.Fatalf("after the close frame: %v", err2)
		}
		return ce
	}
	if !isConnEnd(err) {
		c.t.Fatalf("read after close: %v, want end of stream", err)
	}
	return nil
}

// isWSClose reports whether err is a WebSocket close frame from the router.
func isWSClose(err error) bool {
	var ce wsutil.ClosedError
	return errors.As(err, &ce)
}

// isConnEnd reports whether err is the end of a connection the peer closed.
func isConnEnd(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return false
	}
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET)
}
