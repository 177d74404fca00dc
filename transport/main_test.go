package transport

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	// Sweeps often, so that the parking tests wait little.
	parkQuiet = 20 * time.Millisecond
	goleak.VerifyTestMain(m)
}

// wait bounds every blocking step of a test. It is generous: tests assert
// outcomes, never durations.
const wait = 10 * time.Second

// peer records what one server-side Conn read, for a test to inspect. The
// test goroutine is the Conn's only writer.
type peer struct {
	conn Conn
	msgs chan []byte
	err  chan error
}

// recorder returns a serve function that reads until the end, and the
// channel on which it hands out each peer.
func recorder() (func(Conn), chan *peer) {
	peers := make(chan *peer, 16)
	return func(c Conn) {
		p := &peer{conn: c, msgs: make(chan []byte, 1024), err: make(chan error, 1)}
		peers <- p
		for {
			m, err := c.Read()
			if err != nil {
				p.err <- err
				return
			}
			p.msgs <- bytes.Clone(m)
		}
	}, peers
}

func echo(c Conn) {
	for {
		m, err := c.Read()
		if err != nil {
			return
		}
		if err := c.WriteBatch([][]byte{m}); err != nil {
			return
		}
	}
}

func recv[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(wait):
		t.Fatalf("nothing received within %v", wait)
		panic("unreachable")
	}
}

// startWS serves a WebSocket endpoint at "/" as the router does, upgrades
// on the fast path and everything else through net/http, and returns its
// ws:// URL.
func startWS(t *testing.T, cfg Config, serve func(Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	w := NewWebSocket(cfg, "/", serve)
	mux := http.NewServeMux()
	mux.Handle("/", w)
	srv := &http.Server{Handler: mux}
	done := make(chan error, 1)
	go func() { done <- w.Serve(ln, srv) }()
	t.Cleanup(func() {
		_ = ln.Close()
		_ = srv.Close()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return "ws://" + ln.Addr().String()
}

// startWSHandler serves WebSocketHandler alone on an httptest server, the
// path of upgrades that the fast path leaves to net/http.
func startWSHandler(t *testing.T, cfg Config, serve func(Conn)) string {
	t.Helper()
	srv := httptest.NewServer(WebSocketHandler(cfg, serve))
	t.Cleanup(srv.Close)
	return "ws" + strings.TrimPrefix(srv.URL, "http")
}

// starters run a test against both paths of a WebSocket endpoint.
var starters = []struct {
	name  string
	start func(*testing.T, Config, func(Conn)) string
}{{"fast", startWS}, {"net-http", startWSHandler}}

// wsClient is the client end of a WebSocket: rd reads what the server sent.
type wsClient struct {
	net.Conn
	rd       io.Reader
	protocol string
}

func dialWS(t *testing.T, url string, protocols ...string) *wsClient {
	t.Helper()
	d := ws.Dialer{Protocols: protocols, Timeout: wait}
	nc, br, hs, err := d.Dial(context.Background(), url)
	if err != nil {
		t.Fatalf("dial %s %v: %v", url, protocols, err)
	}
	t.Cleanup(func() { nc.Close() })
	c := &wsClient{Conn: nc, rd: nc, protocol: hs.Protocol}
	if br != nil {
		c.rd = io.MultiReader(br, nc)
	}
	_ = nc.SetDeadline(time.Now().Add(wait))
	return c
}

// send writes one masked client frame.
func (c *wsClient) send(t *testing.T, op ws.OpCode, fin bool, payload []byte) {
	t.Helper()
	f := ws.MaskFrameInPlace(ws.NewFrame(op, fin, bytes.Clone(payload)))
	if err := ws.WriteFrame(c.Conn, f); err != nil {
		t.Fatalf("client write: %v", err)
	}
}

// next reads one server frame.
func (c *wsClient) next(t *testing.T) (ws.Header, []byte) {
	t.Helper()
	h, p, err := readWSFrame(c.rd)
	if err != nil {
		t.Fatalf("client read: %v", err)
	}
	return h, p
}

func readWSFrame(r io.Reader) (ws.Header, []byte, error) {
	h, err := ws.ReadHeader(r)
	if err != nil {
		return h, nil, err
	}
	if h.Masked {
		return h, nil, errors.New("server frame is masked")
	}
	p := make([]byte, h.Length)
	_, err = io.ReadFull(r, p)
	return h, p, err
}

// startRaw serves RawSocket on a loopback listener and returns its address.
func startRaw(t *testing.T, cfg Config, serve func(Conn)) string {
	t.Helper()
	ln, err := Listen("127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	serveOn(t, ln, cfg, serve)
	return ln.Addr().String()
}

func serveOn(t *testing.T, ln net.Listener, cfg Config, serve func(Conn)) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- ServeRawSocket(ln, cfg, serve) }()
	t.Cleanup(func() {
		ln.Close()
		if err := recv(t, done); err != nil {
			t.Errorf("ServeRawSocket: %v", err)
		}
	})
}

// rawClient is the client end of a RawSocket.
type rawClient struct {
	net.Conn
	br *bufio.Reader
}

// dialRaw connects and sends the handshake request octets, returning the
// reply.
func dialRaw(t *testing.T, network, addr string, req [4]byte) (*rawClient, [4]byte) {
	t.Helper()
	nc, err := net.DialTimeout(network, addr, wait)
	if err != nil {
		t.Fatal(err)
	}
	return rawClientOn(t, nc, req)
}

func rawClientOn(t *testing.T, nc net.Conn, req [4]byte) (*rawClient, [4]byte) {
	t.Helper()
	t.Cleanup(func() { nc.Close() })
	_ = nc.SetDeadline(time.Now().Add(wait))
	if _, err := nc.Write(req[:]); err != nil {
		t.Fatal(err)
	}
	c := &rawClient{Conn: nc, br: bufio.NewReader(nc)}
	var reply [4]byte
	if _, err := io.ReadFull(c.br, reply[:]); err != nil {
		t.Fatalf("reading handshake reply: %v", err)
	}
	return c, reply
}

func rawFrame(kind frameKind, payload []byte) []byte {
	n := len(payload)
	return append([]byte{byte(kind), byte(n >> 16), byte(n >> 8), byte(n)}, payload...)
}

func (c *rawClient) send(t *testing.T, kind frameKind, payload []byte) {
	t.Helper()
	if _, err := c.Write(rawFrame(kind, payload)); err != nil {
		t.Fatalf("client write: %v", err)
	}
}

func (c *rawClient) next(t *testing.T) (frameKind, []byte) {
	t.Helper()
	var h [4]byte
	if _, err := io.ReadFull(c.br, h[:]); err != nil {
		t.Fatalf("client read: %v", err)
	}
	n := int(h[1])<<16 | int(h[2])<<8 | int(h[3])
	if h[0]&0x08 != 0 {
		n = 1 << 24
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(c.br, p); err != nil {
		t.Fatalf("client read payload: %v", err)
	}
	return frameKind(h[0] & 0x07), p
}

// expectEOF asserts that the server ends the stream.
func expectEOF(t *testing.T, r io.Reader) {
	t.Helper()
	n, err := io.Copy(io.Discard, r)
	if err != nil && !errors.Is(err, net.ErrClosed) && !isReset(err) {
		t.Fatalf("want EOF from server, got %v after %d bytes", err, n)
	}
}

func isReset(err error) bool {
	return err != nil && strings.Contains(err.Error(), "connection reset")
}

// memConn is a net.Conn over a scripted input, for fuzzing and benchmarks:
// Read serves the chunks one by one (each at most once per call) and then
// io.EOF; Write discards.
type memConn struct {
	chunks [][]byte
	loop   []byte // when set, Read serves it over and over instead
	off    int
	closed atomic.Bool
	wrote  atomic.Int64
}

func (m *memConn) Read(p []byte) (int, error) {
	if m.closed.Load() {
		return 0, net.ErrClosed
	}
	if m.loop != nil {
		n := copy(p, m.loop[m.off:])
		m.off = (m.off + n) % len(m.loop)
		return n, nil
	}
	for len(m.chunks) > 0 && len(m.chunks[0]) == 0 {
		m.chunks = m.chunks[1:]
	}
	if len(m.chunks) == 0 {
		return 0, io.EOF
	}
	n := copy(p, m.chunks[0])
	m.chunks[0] = m.chunks[0][n:]
	return n, nil
}

func (m *memConn) Write(p []byte) (int, error) {
	if m.closed.Load() {
		return 0, net.ErrClosed
	}
	m.wrote.Add(int64(len(p)))
	return len(p), nil
}

func (m *memConn) Close() error                     { m.closed.Store(true); return nil }
func (m *memConn) LocalAddr() net.Addr              { return memAddr{} }
func (m *memConn) RemoteAddr() net.Addr             { return memAddr{} }
func (m *memConn) SetDeadline(time.Time) error      { return nil }
func (m *memConn) SetReadDeadline(time.Time) error  { return nil }
func (m *memConn) SetWriteDeadline(time.Time) error { return nil }

type memAddr struct{}

func (memAddr) Network() string { return "mem" }
func (memAddr) String() string  { return "mem" }

func dialTCP(t *testing.T, addr string) net.Conn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, wait)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	_ = nc.SetDeadline(time.Now().Add(wait))
	return nc
}
