package transport

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/switchboard/switchboard/wamp"
)

// WAMP over HTTP long-poll (advanced profile, "HTTP Longpoll Transport"),
// the fallback for browsers and proxies where WebSocket fails. A client
// opens a transport with POST <base>/open, then sends each message (or a
// batch, for the .batched protocols) with POST <base>/<id>/send and
// receives with POST <base>/<id>/receive, which the router holds until a
// message is queued or PollTimeout passes. The transport is a Conn like
// any other, so the session code (auth, queue, slow consumer policy,
// meta API, metrics) is the WebSocket one.
//
// Status codes are AutobahnJS's (lib/transport/longpoll.js), which takes
// only 200 and 204 for success: send and close answer 204, not the 202
// the spec's text names.

// Defaults of LongPollConfig.
const (
	DefaultLongPollPath = "/lp"
	// DefaultPollTimeout is how long a receive is held: below
	// AutobahnJS's 12 s request timeout (and nginx's default 60 s
	// proxy_read_timeout), as Crossbar.io's 10 s.
	DefaultPollTimeout = 10 * time.Second
	// DefaultSessionTimeout is how long a transport may go without any
	// request before it is closed and its session leaves.
	DefaultSessionTimeout = 30 * time.Second
)

const (
	// lpOutboxBytes bounds what a transport holds for its client between
	// receives. Past it WriteBatch waits for a receive (within the write
	// timeout), so the session's own bounded queue and slow consumer
	// policy apply as for a WebSocket whose socket buffer is full.
	lpOutboxBytes = 1 << 20
	// lpInbox bounds the sends queued ahead of the session's reader; a
	// send beyond it waits (the client's request stays open).
	lpInbox = 8
	// lpOpenBody bounds the body of open, a small JSON object.
	lpOpenBody = 4 << 10
	// lpIDBytes is the size of a transport ID: unguessable, as it is the
	// only credential of the requests after open.
	lpIDBytes = 16
)

// LongPollConfig configures the long-poll endpoint of a listener.
type LongPollConfig struct {
	// Path is the base path; the endpoint serves Path+"/open" and
	// Path+"/<id>/{send,receive,close}". Zero value: DefaultLongPollPath.
	Path string
	// PollTimeout is how long a receive is held without a message before
	// it is answered 204. Zero value: DefaultPollTimeout.
	PollTimeout time.Duration
	// SessionTimeout is how long a transport may see no request before it
	// is closed (the client is gone). Zero value: DefaultSessionTimeout.
	SessionTimeout time.Duration
}

// LongPoll is the long-poll endpoint of a listener: an http.Handler for
// Path and everything under it.
type LongPoll struct {
	cfg   Config
	lp    LongPollConfig
	serve func(Conn)
	// origins and limit are the WebSocket endpoint's, so that one policy
	// and one per-address count cover both transports of a listener.
	origins originPolicy
	limit   *addrLimiter
	offer   string

	mu sync.Mutex
	ts map[string]*lpConn
}

// LongPoll returns a long-poll endpoint that shares w's configuration,
// origin policy and per-address connection limit. Mount it for lp.Path
// and lp.Path+"/".
func (w *WebSocket) LongPoll(lp LongPollConfig, serve func(Conn)) *LongPoll {
	if lp.Path == "" {
		lp.Path = DefaultLongPollPath
	}
	lp.Path = strings.TrimSuffix(lp.Path, "/")
	if lp.PollTimeout <= 0 {
		lp.PollTimeout = DefaultPollTimeout
	}
	if lp.SessionTimeout <= 0 {
		lp.SessionTimeout = DefaultSessionTimeout
	}
	names := make([]string, 0, 2*len(w.h.cfg.Serializations))
	for _, s := range w.h.cfg.Serializations {
		names = append(names, s.Subprotocol(), s.Subprotocol()+".batched")
	}
	return &LongPoll{cfg: w.h.cfg, lp: lp, serve: serve, origins: w.h.origins, limit: w.h.limit,
		offer: strings.Join(names, ", "), ts: make(map[string]*lpConn)}
}

// Len returns the number of open transports, for tests and status.
func (l *LongPoll) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.ts)
}

func (l *LongPoll) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	origin := r.Header.Values("Origin")
	if !l.origins.allows(origin) {
		l.cfg.Logger.Info("transport: long-poll from a refused origin", "remote", r.RemoteAddr, "origin", strings.Join(origin, ", "))
		http.Error(w, "transport: origin not allowed", http.StatusForbidden)
		return
	}
	if len(origin) == 1 {
		// Credentials (cookies, for cookie authentication) go with
		// AutobahnJS's requests (withCredentials), so the origin is echoed:
		// "*" is not allowed with credentials.
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", origin[0])
		h.Set("Access-Control-Allow-Credentials", "true")
		h.Add("Vary", "Origin")
	}
	if r.Method == http.MethodOptions {
		// The preflight of AutobahnJS's POSTs, which carry
		// Content-Type: application/json.
		h := w.Header()
		h.Set("Access-Control-Allow-Methods", "POST, OPTIONS")
		if req := r.Header.Get("Access-Control-Request-Headers"); req != "" {
			h.Set("Access-Control-Allow-Headers", req)
		}
		h.Set("Access-Control-Max-Age", "86400")
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST, OPTIONS")
		http.Error(w, "transport: long-poll requests are POSTs", http.StatusMethodNotAllowed)
		return
	}
	// Intermediaries must not cache a poll.
	w.Header().Set("Cache-Control", "no-store")
	rest, ok := strings.CutPrefix(r.URL.Path, l.lp.Path+"/")
	if !ok {
		http.Error(w, "transport: long-poll: POST "+l.lp.Path+"/open to open a transport", http.StatusNotFound)
		return
	}
	if rest == "open" {
		l.open(w, r)
		return
	}
	id, action, ok := strings.Cut(rest, "/")
	if !ok || strings.Contains(action, "/") {
		http.Error(w, "transport: long-poll: unknown path", http.StatusNotFound)
		return
	}
	l.mu.Lock()
	c := l.ts[id]
	l.mu.Unlock()
	if c == nil {
		if action == "close" {
			// Closing what is gone already is done: AutobahnJS reports
			// the close only on success, and its close may come late
			// (a browser's connections to a host are few, and held
			// receives take them).
			w.WriteHeader(http.StatusNoContent)
			return
		}
		http.Error(w, "transport: long-poll: no such transport (closed, timed out, or never opened)", http.StatusNotFound)
		return
	}
	switch action {
	case "send":
		c.send(w, r)
	case "receive":
		c.receive(w, r)
	case "close":
		c.clientClose(w)
	default:
		http.Error(w, "transport: long-poll: unknown action "+strconv.Quote(action)+": want send, receive or close", http.StatusNotFound)
	}
}

// open creates a transport and runs its session.
func (l *LongPoll) open(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, lpOpenBody))
	if err != nil {
		http.Error(w, "transport: long-poll open: body over "+strconv.Itoa(lpOpenBody)+" bytes or unreadable", http.StatusRequestEntityTooLarge)
		return
	}
	var req struct {
		Protocols []string `json:"protocols"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		http.Error(w, `transport: long-poll open: want a JSON object {"protocols": [...]}: `+err.Error(), http.StatusBadRequest)
		return
	}
	ser, batched, proto, ok := l.negotiate(req.Protocols)
	if !ok {
		l.cfg.Logger.Info("transport: long-poll without an acceptable protocol", "remote", r.RemoteAddr, "offered", strings.Join(req.Protocols, ", "))
		http.Error(w, "transport: long-poll open: no acceptable protocol; this router speaks "+l.offer, http.StatusBadRequest)
		return
	}
	release, ok := l.limit.acquire(r.RemoteAddr)
	if !ok {
		release()
		l.cfg.Logger.Info("transport: long-poll over the connection limit", "remote", r.RemoteAddr, "limit", l.cfg.MaxConnsPerAddr)
		w.Header().Set("Retry-After", "10")
		http.Error(w, "transport: too many connections from your address", http.StatusServiceUnavailable)
		return
	}
	var raw [lpIDBytes]byte
	_, _ = rand.Read(raw[:]) // never fails (crypto/rand)
	id := base64.RawURLEncoding.EncodeToString(raw[:])
	c := newLPConn(l, id, ser, batched, remoteAddrOf(r))
	l.mu.Lock()
	l.ts[id] = c
	l.mu.Unlock()
	go func() {
		defer release()
		defer c.finish()
		l.serve(c)
	}()
	w.Header().Set("Content-Type", "application/json")
	b, _ := json.Marshal(map[string]string{"transport": id, "protocol": proto})
	_, _ = w.Write(b)
}

// negotiate picks the first of our serializations that the client offers,
// unbatched or batched (unbatched when it offers both).
func (l *LongPoll) negotiate(offered []string) (ser wamp.Serialization, batched bool, proto string, ok bool) {
	for _, s := range l.cfg.Serializations {
		sub := s.Subprotocol()
		for _, want := range []string{sub, sub + ".batched"} {
			for _, p := range offered {
				if p == want {
					return s, want != sub, want, true
				}
			}
		}
	}
	return 0, false, "", false
}

// forget removes c from the endpoint.
func (l *LongPoll) forget(c *lpConn) {
	l.mu.Lock()
	if l.ts[c.id] == c {
		delete(l.ts, c.id)
	}
	l.mu.Unlock()
}

func remoteAddrOf(r *http.Request) net.Addr {
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		return net.TCPAddrFromAddrPort(ap)
	}
	return lpAddr(r.RemoteAddr)
}

type lpAddr string

func (a lpAddr) Network() string { return "tcp" }
func (a lpAddr) String() string  { return string(a) }

// lpConn is one long-poll transport. Its session reads what send requests
// queue on in, and its writer fills out, which receive requests take.
type lpConn struct {
	l       *LongPoll
	id      string
	ser     wamp.Serialization
	batched bool
	remote  net.Addr

	in   chan [][]byte // queued sends, each one message or a batch
	done chan struct{} // closed once the transport ends (any side)
	gone chan struct{} // closed once it is removed from the endpoint

	// Reader state, the session's reader goroutine's alone.
	cur  [][]byte
	rerr error

	mu        sync.Mutex
	out       [][]byte      // messages for the client, oldest first
	outBytes  int           // their size
	outReady  chan struct{} // closed and replaced when out grows
	outRoom   chan struct{} // closed and replaced when out shrinks
	ended     bool          // done is closed
	forgotten bool          // gone is closed
	endErr    error         // what Read returns once in is drained
	polls     int           // receives in progress
	reaper    *time.Timer
	lastSeen  time.Time
}

var _ Conn = (*lpConn)(nil)

func newLPConn(l *LongPoll, id string, ser wamp.Serialization, batched bool, remote net.Addr) *lpConn {
	c := &lpConn{l: l, id: id, ser: ser, batched: batched, remote: remote,
		in: make(chan [][]byte, lpInbox), done: make(chan struct{}), gone: make(chan struct{}),
		outReady: make(chan struct{}), outRoom: make(chan struct{}), lastSeen: time.Now()}
	c.mu.Lock()
	c.reaper = time.AfterFunc(l.lp.SessionTimeout, c.reap)
	c.mu.Unlock()
	return c
}

func (c *lpConn) Serialization() wamp.Serialization { return c.ser }
func (c *lpConn) MaxWrite() int                     { return 0 }
func (c *lpConn) RemoteAddr() net.Addr              { return c.remote }
func (c *lpConn) Transport() string                 { return "longpoll" }

// Read returns the next message the client sent. Messages queued before
// the transport ended are still returned.
func (c *lpConn) Read() ([]byte, error) {
	for len(c.cur) == 0 {
		if c.rerr != nil {
			return nil, c.rerr
		}
		select {
		case batch := <-c.in:
			c.cur = batch
		case <-c.done:
			select {
			case batch := <-c.in:
				c.cur = batch
			default:
				c.mu.Lock()
				c.rerr = c.endErr
				c.mu.Unlock()
			}
		}
	}
	m := c.cur[0]
	c.cur[0] = nil
	c.cur = c.cur[1:]
	return m, nil
}

// WriteBatch queues frames for the client's receives. It waits, within
// the write timeout, while the outbox is full.
func (c *lpConn) WriteBatch(frames [][]byte) error {
	if len(frames) == 0 {
		return nil
	}
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for len(frames) > 0 {
		c.mu.Lock()
		if c.ended {
			c.mu.Unlock()
			return ErrClosed
		}
		n := 0
		for n < len(frames) && (len(c.out) == 0 && n == 0 || c.outBytes+len(frames[n]) <= lpOutboxBytes) {
			// The writer does not retain frames: they are copied.
			f := append([]byte(nil), frames[n]...)
			c.out = append(c.out, f)
			c.outBytes += len(f)
			n++
		}
		if n > 0 {
			close(c.outReady)
			c.outReady = make(chan struct{})
			frames = frames[n:]
			c.mu.Unlock()
			continue
		}
		room := c.outRoom
		c.mu.Unlock()
		if timer == nil {
			timer = time.NewTimer(c.l.cfg.WriteTimeout)
		}
		select {
		case <-room:
		case <-c.done:
			return ErrClosed
		case <-timer.C:
			// As a socket write past its deadline: the session takes the
			// client for a slow consumer.
			return fmt.Errorf("transport: longpoll write: client took nothing within %v with %d bytes queued: %w", c.l.cfg.WriteTimeout, lpOutboxBytes, os.ErrDeadlineExceeded)
		}
	}
	return nil
}

// Close ends the transport from the router's side. What is queued for the
// client stays available to its receives until it closes or times out,
// so that a GOODBYE or ABORT still reaches it.
func (c *lpConn) Close(CloseCode, string) error {
	c.end(ErrClosed, false)
	return nil
}

// end marks the transport ended with err for Read. forget removes it from
// the endpoint at once (the client closed it, or is gone); otherwise it
// lingers until the client closes it or stops polling.
func (c *lpConn) end(err error, forget bool) {
	c.mu.Lock()
	if !c.ended {
		c.ended = true
		c.endErr = err
		close(c.done)
	}
	if forget && !c.forgotten {
		c.forgotten = true
		c.reaper.Stop()
		close(c.gone)
		c.out, c.outBytes = nil, 0
	}
	c.mu.Unlock()
	if forget {
		c.l.forget(c)
	}
}

// finish runs once the session has ended: the transport ends, and goes
// once its client has taken what is left (or the session timeout passes).
func (c *lpConn) finish() {
	c.end(ErrClosed, false)
	c.mu.Lock()
	if len(c.out) == 0 && c.polls == 0 {
		// Nothing left to deliver: keep the transport only for the
		// client's close, briefly.
		c.lingerLocked()
	}
	c.mu.Unlock()
}

// lingerLocked gives an ended transport with nothing left to deliver a
// short while for its client's close. c.mu must be held.
func (c *lpConn) lingerLocked() {
	if !c.forgotten {
		c.reaper.Reset(closeLinger)
	}
}

// reap runs on the session timer: a transport without a request for the
// session timeout (and no receive held) is gone with its client.
func (c *lpConn) reap() {
	c.mu.Lock()
	idle := time.Since(c.lastSeen)
	// An ended transport stays while it holds what its client has yet
	// to receive (a GOODBYE, an ABORT) and the client is still polling.
	pending := !c.ended || len(c.out) > 0
	if c.polls > 0 || (pending && idle < c.l.lp.SessionTimeout) {
		c.reaper.Reset(max(c.l.lp.SessionTimeout-idle, time.Millisecond))
		c.mu.Unlock()
		return
	}
	ended := c.ended
	c.mu.Unlock()
	if !ended {
		c.l.cfg.Logger.Info("transport: long-poll client stopped polling", "remote", c.remote.String(), "timeout", c.l.lp.SessionTimeout)
	}
	c.end(fmt.Errorf("%w: long-poll client sent no request within %v", ErrPingTimeout, c.l.lp.SessionTimeout), true)
}

// touch counts a request as a sign of life.
func (c *lpConn) touch() {
	c.mu.Lock()
	c.lastSeen = time.Now()
	c.mu.Unlock()
}

// send queues the request body, one message or a batch, for the session.
func (c *lpConn) send(w http.ResponseWriter, r *http.Request) {
	c.touch()
	limit := int64(c.l.cfg.MaxMessageSize)
	if c.batched {
		// A batch may carry several messages, each up to the limit.
		limit *= 4
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			http.Error(w, fmt.Sprintf("transport: long-poll send: body over %d bytes", limit), http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "transport: long-poll send: "+err.Error(), http.StatusBadRequest)
		return
	}
	msgs, err := c.split(body)
	if err != nil {
		http.Error(w, "transport: long-poll send: "+err.Error(), http.StatusBadRequest)
		return
	}
	select {
	case <-c.done:
		http.Error(w, "transport: long-poll send: transport closed", http.StatusGone)
		return
	default:
	}
	select {
	case c.in <- msgs:
		w.WriteHeader(http.StatusNoContent)
	case <-c.done:
		http.Error(w, "transport: long-poll send: transport closed", http.StatusGone)
	case <-r.Context().Done():
	}
}

// split cuts a send body into messages: the body itself unbatched, or the
// batch framing of the serializer (advanced profile, "Message Batching").
func (c *lpConn) split(body []byte) ([][]byte, error) {
	if !c.batched {
		if len(body) == 0 {
			return nil, errors.New("empty body: want one WAMP message")
		}
		return [][]byte{body}, nil
	}
	max := c.l.cfg.MaxMessageSize
	var msgs [][]byte
	if c.ser == wamp.JSON {
		for len(body) > 0 {
			i := bytes.IndexByte(body, 0x1e)
			if i < 0 {
				return nil, errors.New("batch: last JSON message not ended by 0x1e")
			}
			if i > max {
				return nil, fmt.Errorf("batch: message of %d bytes over the limit of %d", i, max)
			}
			msgs = append(msgs, body[:i])
			body = body[i+1:]
		}
	} else {
		for len(body) > 0 {
			if len(body) < 4 {
				return nil, errors.New("batch: truncated length prefix")
			}
			n := binary.BigEndian.Uint32(body)
			if n > uint32(max) {
				return nil, fmt.Errorf("batch: message of %d bytes over the limit of %d", n, max)
			}
			if uint32(len(body)-4) < n {
				return nil, errors.New("batch: message shorter than its length prefix")
			}
			msgs = append(msgs, body[4:4+n])
			body = body[4+n:]
		}
	}
	if len(msgs) == 0 {
		return nil, errors.New("empty batch: want at least one WAMP message")
	}
	return msgs, nil
}

// receive answers with what is queued for the client, holding the
// request up to the poll timeout while nothing is.
func (c *lpConn) receive(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	c.lastSeen = time.Now()
	c.polls++
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.polls--
		c.lastSeen = time.Now()
		if c.ended && len(c.out) == 0 {
			// All delivered after the session ended: what is left to
			// wait for is the client's close.
			c.lingerLocked()
		}
		c.mu.Unlock()
	}()
	_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 1<<10))
	timer := time.NewTimer(c.l.lp.PollTimeout)
	defer timer.Stop()
	for {
		c.mu.Lock()
		if len(c.out) > 0 {
			body := c.takeLocked()
			c.mu.Unlock()
			w.Header().Set("Content-Type", contentType(c.ser))
			w.Header().Set("Content-Length", strconv.Itoa(len(body)))
			_, _ = w.Write(body)
			return
		}
		ready := c.outReady
		c.mu.Unlock()
		select {
		case <-ready:
		case <-timer.C:
			w.WriteHeader(http.StatusNoContent)
			return
		case <-c.gone:
			// Closed by the client or reaped: nothing more will come.
			w.WriteHeader(http.StatusNoContent)
			return
		case <-r.Context().Done():
			return
		}
	}
}

// takeLocked removes from the outbox what one receive answers: the oldest
// message, or all of them batched. c.mu must be held.
func (c *lpConn) takeLocked() []byte {
	var body []byte
	if !c.batched {
		body = c.out[0]
		c.out[0] = nil
		c.out = c.out[1:]
	} else {
		size := 0
		for _, m := range c.out {
			size += len(m) + 4
		}
		body = make([]byte, 0, size)
		for _, m := range c.out {
			if c.ser == wamp.JSON {
				body = append(append(body, m...), 0x1e)
			} else {
				body = append(binary.BigEndian.AppendUint32(body, uint32(len(m))), m...)
			}
		}
		clear(c.out)
		c.out = c.out[:0]
	}
	if len(c.out) == 0 {
		c.out = nil // let a big backlog's array go
		c.outBytes = 0
	} else {
		c.outBytes -= len(body)
	}
	close(c.outRoom)
	c.outRoom = make(chan struct{})
	return body
}

// clientClose ends the transport on the client's request; its session
// ends as a WebSocket session whose peer closed.
func (c *lpConn) clientClose(w http.ResponseWriter) {
	c.end(io.EOF, true)
	w.WriteHeader(http.StatusNoContent)
}

func contentType(s wamp.Serialization) string {
	switch s {
	case wamp.MsgPack:
		return "application/x-msgpack"
	case wamp.CBOR:
		return "application/cbor"
	}
	return "application/json; charset=utf-8"
}
