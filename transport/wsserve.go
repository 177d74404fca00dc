package transport

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/gobwas/ws"

	"github.com/switchboard/switchboard/wamp"
)

// WebSocket is a WebSocket endpoint on an HTTP listener that also serves
// other paths (metrics, static files, the HTTP bridge).
//
// Serve upgrades a connection whose first request is an acceptable
// WebSocket handshake for the endpoint's path itself, with gobwas's
// zero-copy request parser, and hands every other connection to an
// http.Server. net/http would spend about 10 KiB of buffers, request and
// header maps on every handshake, a fifth of the router's CPU when clients
// connect and leave at a high rate, and garbage that an idle router keeps
// in its memory until the next collection.
//
// The endpoint is also an http.Handler (the same checks, through
// net/http), which the http.Server's mux must route the path to: it
// answers the requests Serve does not take, a plain GET (426), a refused
// origin (403), too many connections (503), no common subprotocol (400),
// upgrades whose head does not fit the fast path's buffer, and those
// from trusted proxies (Config.TrustedProxies), whose forwarding headers
// the http.Server's TrustProxies handler reads.
type WebSocket struct {
	h    *wsHandler
	path string
	// up holds one upgrader per serialization, built once so that a
	// handshake allocates no closures.
	up map[wamp.Serialization]*ws.Upgrader
}

// NewWebSocket returns the endpoint for path (as an http.ServeMux pattern
// would match it, without a host or method).
func NewWebSocket(cfg Config, path string, serve func(Conn)) *WebSocket {
	w := &WebSocket{h: WebSocketHandler(cfg, serve).(*wsHandler), path: path,
		up: make(map[wamp.Serialization]*ws.Upgrader)}
	for _, s := range w.h.cfg.Serializations {
		sub := s.Subprotocol()
		w.up[s] = &ws.Upgrader{
			ReadBufferSize: headBufSize,
			Protocol:       func(p []byte) bool { return string(p) == sub },
		}
	}
	return w
}

func (w *WebSocket) ServeHTTP(rw http.ResponseWriter, r *http.Request) { w.h.ServeHTTP(rw, r) }

// headBufSize bounds the request head the fast path reads. Browsers with
// many cookies send more; those go through net/http, which allows up to
// http.DefaultMaxHeaderBytes.
const headBufSize = 4 << 10

var headReaders sync.Pool // *bufio.Reader of headBufSize

// Serve accepts connections on ln until ln is closed, then closes srv's
// side and returns nil once srv.Serve has returned. srv must not be
// serving already; Serve runs it on a listener of its own.
func (w *WebSocket) Serve(ln net.Listener, srv *http.Server) error {
	hl := &handoff{addr: ln.Addr(), ch: make(chan net.Conn), done: make(chan struct{})}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(hl) }()
	var backoff time.Duration
	var err error
	for {
		var nc net.Conn
		nc, err = ln.Accept()
		if err != nil {
			var te interface{ Temporary() bool }
			if !errors.Is(err, net.ErrClosed) && errors.As(err, &te) && te.Temporary() {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				w.h.cfg.Logger.Warn("transport: websocket accept", "error", err, "retry", backoff)
				time.Sleep(backoff)
				continue
			}
			break
		}
		backoff = 0
		go w.handle(nc, hl)
	}
	_ = hl.Close()
	if serr := <-served; serr != nil && !errors.Is(serr, http.ErrServerClosed) && !errors.Is(serr, net.ErrClosed) {
		return fmt.Errorf("transport: http server: %w", serr)
	}
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return fmt.Errorf("transport: websocket accept: %w", err)
}

// handle reads the first request head of nc and upgrades it here, or hands
// nc to net/http with the bytes read so far.
func (w *WebSocket) handle(nc net.Conn, hl *handoff) {
	cfg := &w.h.cfg
	_ = nc.SetDeadline(time.Now().Add(cfg.HandshakeTimeout))
	br, _ := headReaders.Get().(*bufio.Reader)
	if br == nil {
		br = bufio.NewReaderSize(nc, headBufSize)
	} else {
		br.Reset(nc)
	}
	defer func() {
		if br != nil {
			br.Reset(nil)
			headReaders.Put(br)
		}
	}()
	head, err := peekHead(br)
	if err != nil && br.Buffered() == 0 {
		// Nothing came (a port scan, a check that only connects).
		_ = nc.Close()
		return
	}
	if err != nil && !errors.Is(err, errHeadTooLarge) {
		// The head did not come whole within the handshake timeout (a
		// trickle): handing it to net/http would give it a second
		// timeout of its own.
		cfg.Logger.Info("transport: request head not complete within the handshake timeout", "remote", nc.RemoteAddr().String(), "timeout", cfg.HandshakeTimeout, "error", err)
		_, _ = io.WriteString(nc, "HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
		_ = nc.Close()
		return
	}
	ser, exts, ok := w.fastPath(head)
	if ok && len(cfg.TrustedProxies) > 0 {
		// The client is behind a proxy whose headers TrustProxies reads.
		if ap, err := netip.ParseAddrPort(nc.RemoteAddr().String()); err == nil && proxies(cfg.TrustedProxies).trusts(ap.Addr()) {
			ok = false
		}
	}
	release := func() {}
	if ok {
		// Over the limit, the handler answers 503: it counts again and
		// finds no room either.
		if release, ok = w.h.limit.acquire(nc.RemoteAddr().String()); !ok {
			release()
		}
	}
	if !ok {
		// net/http gets the bytes read so far and sets its own deadlines.
		_ = nc.SetDeadline(time.Time{})
		p, _ := br.Peek(br.Buffered())
		hl.deliver(&replayConn{Conn: nc, buf: bytes.Clone(p)})
		return
	}
	u := *w.up[ser]
	zp := w.h.negotiateDeflate(exts)
	if zp.on {
		// Written with the success response only.
		u.OnBeforeUpgrade = w.h.deflateAnswers.get(zp)
	}
	if _, err := u.Upgrade(&headRW{head: head, w: nc}); err != nil {
		// The upgrader has answered the client already.
		cfg.Logger.Info("transport: websocket upgrade failed", "remote", nc.RemoteAddr().String(), "error", err)
		release()
		_ = nc.Close()
		return
	}
	_ = nc.SetDeadline(time.Time{})
	var pending []byte
	if n := br.Buffered(); n > len(head) {
		// A client may send its first frames right behind the request.
		p, _ := br.Peek(n)
		pending = bytes.Clone(p[len(head):])
	}
	c := newConn(nc, true, ser, cfg.MaxMessageSize, 0, *cfg, pending)
	w.h.setDeflate(c, zp)
	c.tail = func() {
		c.finish()
		release()
	}
	// The head reader goes back to the pool now, not when the session ends.
	br.Reset(nil)
	headReaders.Put(br)
	br = nil
	c.run(func() { w.h.serve(c) })
}

// peekHead reads until br holds a whole request head (through the blank
// line) and returns it, without consuming it. It fails when the head does
// not fit br or the connection fails first.
func peekHead(br *bufio.Reader) ([]byte, error) {
	for {
		n := br.Buffered()
		p, _ := br.Peek(n)
		if i := bytes.Index(p, []byte("\r\n\r\n")); i >= 0 {
			return p[:i+4], nil
		}
		if n == br.Size() {
			return nil, errHeadTooLarge
		}
		if _, err := br.Peek(n + 1); err != nil {
			return nil, err
		}
	}
}

var errHeadTooLarge = errors.New("request head larger than the fast path's buffer")

// fastPath reports whether head is a WebSocket upgrade of the endpoint's
// path that will be accepted: GET, the Upgrade header, an allowed origin
// and a common subprotocol; and returns the serialization and the
// Sec-WebSocket-Extensions lines (slices of head). Anything else,
// including what the upgrader would refuse, goes to net/http.
func (w *WebSocket) fastPath(head []byte) (_ wamp.Serialization, exts [][]byte, _ bool) {
	if head == nil {
		return 0, nil, false
	}
	line, rest, _ := bytes.Cut(head, []byte("\r\n"))
	method, line, _ := bytes.Cut(line, []byte(" "))
	uri, proto, _ := bytes.Cut(line, []byte(" "))
	if string(method) != http.MethodGet || string(proto) != "HTTP/1.1" {
		return 0, nil, false
	}
	if p, _, _ := bytes.Cut(uri, []byte("?")); string(p) != w.path {
		return 0, nil, false
	}
	var upgrade bool
	var origins []string
	var protocols [][]byte
	for len(rest) > 0 {
		line, rest, _ = bytes.Cut(rest, []byte("\r\n"))
		k, v, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue // the blank line
		}
		v = bytes.TrimSpace(v)
		switch {
		case bytes.EqualFold(k, []byte("Upgrade")):
			upgrade = upgrade || hasToken(string(v), "websocket", true)
		case bytes.EqualFold(k, []byte("Origin")):
			origins = append(origins, string(v))
		case bytes.EqualFold(k, []byte("Sec-WebSocket-Protocol")):
			protocols = append(protocols, v)
		case bytes.EqualFold(k, []byte("Sec-WebSocket-Extensions")):
			exts = append(exts, v)
		}
	}
	if !upgrade || !w.h.origins.allows(origins) {
		return 0, nil, false
	}
	for _, s := range w.h.cfg.Serializations {
		for _, line := range protocols {
			if hasToken(string(line), s.Subprotocol(), false) {
				return s, exts, true
			}
		}
	}
	return 0, nil, false
}

// headRW feeds the upgrader the request head and no more, so that frames
// a client sends right behind it stay in the head reader; writes go to the
// connection.
type headRW struct {
	head []byte
	w    io.Writer
}

func (h *headRW) Read(p []byte) (int, error) {
	if len(h.head) == 0 {
		return 0, io.ErrUnexpectedEOF
	}
	n := copy(p, h.head)
	h.head = h.head[n:]
	return n, nil
}

func (h *headRW) Write(p []byte) (int, error) { return h.w.Write(p) }

// replayConn is a connection handed to net/http with the bytes the fast
// path read from it already.
type replayConn struct {
	net.Conn
	buf []byte
}

func (c *replayConn) Read(p []byte) (int, error) {
	if len(c.buf) > 0 {
		n := copy(p, c.buf)
		c.buf = c.buf[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

// unwrapReplay returns the connection under a replayConn whose replayed
// bytes are all read, so that a connection upgraded by net/http gets the
// socket (for TLS state and buffer-free idle reads).
func unwrapReplay(nc net.Conn) net.Conn {
	if rc, ok := nc.(*replayConn); ok && len(rc.buf) == 0 {
		return rc.Conn
	}
	return nc
}

// handoff is the net.Listener through which Serve hands connections to
// net/http.
type handoff struct {
	addr net.Addr
	ch   chan net.Conn
	done chan struct{}
	once sync.Once
}

func (l *handoff) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *handoff) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *handoff) Addr() net.Addr { return l.addr }

func (l *handoff) deliver(c net.Conn) {
	select {
	case l.ch <- c:
	case <-l.done:
		_ = c.Close()
	}
}
