// Package stub is a forwarding stub of a WAMP router: the least a router
// can do and still carry the load generator's scenarios. It answers HELLO
// with WELCOME, keeps subscriptions and registrations in plain maps, and
// forwards PUBLISH as EVENT, CALL as INVOCATION and YIELD as RESULT with the
// payload bytes passed through; it checks nothing, authorizes nothing and
// has no meta API. Measured with the generator on the same machine, it is
// the generator's ceiling: a router result reads as a fraction of it.
//
// It reuses the router's transport package (framing, handshakes, batched
// writev), so it shows what is left when the session, realm, broker and
// dealer layers cost nothing.
//
// Concurrency: each connection has a reader goroutine that routes inline
// and a writer goroutine that sends everything queued with one WriteBatch.
// Subscriber lists are copied on write, so a publication is delivered
// without holding any lock of the stub.
package stub

import (
	"errors"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard/switchboard/transport"
	"github.com/switchboard/switchboard/wamp"
	"github.com/switchboard/switchboard/wamp/codec"
)

// Server is one stub router with one realm that takes any name.
type Server struct {
	tcfg transport.Config

	mu     sync.RWMutex // guards topics, subs, procs, regs
	topics map[wamp.URI]*topic
	subs   map[wamp.ID]*topic
	procs  map[wamp.URI]*registration
	regs   map[wamp.ID]*registration

	cmu   sync.Mutex // guards calls
	calls map[callKey]pending

	subIDs, regIDs, reqIDs wamp.IDGen

	lmu    sync.Mutex // guards the fields below
	lns    []net.Listener
	srvs   []*http.Server
	peers  map[*peer]struct{}
	closed bool
	wg     sync.WaitGroup // accept loops and connections
}

type topic struct {
	id   wamp.ID
	uri  wamp.URI
	subs []*peer // copied on write: publishers read it without a lock
}

// registration is one procedure with its callees: one, or several that
// share it (any invocation policy but single is served round-robin).
type registration struct {
	id      wamp.ID
	uri     wamp.URI
	shared  bool
	callees []*peer // copied on write, like topic.subs
	next    atomic.Uint64
}

type callKey struct {
	callee *peer
	req    wamp.ID
}

type pending struct {
	caller *peer
	req    wamp.ID
}

// New returns a stub with no listener yet.
func New() *Server {
	return &Server{
		topics: make(map[wamp.URI]*topic),
		subs:   make(map[wamp.ID]*topic),
		procs:  make(map[wamp.URI]*registration),
		regs:   make(map[wamp.ID]*registration),
		calls:  make(map[callKey]pending),
		peers:  make(map[*peer]struct{}),
	}
}

// ErrClosed is returned by the Serve methods after Close.
var ErrClosed = errors.New("stub: closed")

// ServeWebSocket accepts WAMP over WebSocket on ln, on every HTTP path,
// until Close.
func (s *Server) ServeWebSocket(ln net.Listener) error {
	srv := &http.Server{Handler: transport.WebSocketHandler(s.tcfg, s.serve), ReadHeaderTimeout: 10 * time.Second}
	if !s.track(ln, srv) {
		return ErrClosed
	}
	defer s.wg.Done()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// ServeRawSocket accepts WAMP over RawSocket on ln until Close.
func (s *Server) ServeRawSocket(ln net.Listener) error {
	if !s.track(ln, nil) {
		return ErrClosed
	}
	defer s.wg.Done()
	return transport.ServeRawSocket(ln, s.tcfg, s.serve)
}

func (s *Server) track(ln net.Listener, srv *http.Server) bool {
	s.lmu.Lock()
	defer s.lmu.Unlock()
	if s.closed {
		_ = ln.Close()
		return false
	}
	s.wg.Add(1)
	if srv != nil {
		s.srvs = append(s.srvs, srv)
	} else {
		s.lns = append(s.lns, ln)
	}
	return true
}

// Close stops accepting, closes every connection and waits until their
// goroutines have ended.
func (s *Server) Close() {
	s.lmu.Lock()
	s.closed = true
	for _, ln := range s.lns {
		_ = ln.Close()
	}
	for _, srv := range s.srvs {
		_ = srv.Close()
	}
	for p := range s.peers {
		_ = p.conn.Close(transport.CloseGoingAway, "stub closing")
	}
	s.lmu.Unlock()
	s.wg.Wait()
}

// peer is one connection.
type peer struct {
	s    *Server
	conn transport.Conn
	ser  wamp.Serialization
	cod  codec.Codec

	// Owned by the reader goroutine.
	subs    []wamp.ID
	regs    []wamp.ID
	msg     wamp.Message // replies are built here
	scratch [4][]byte    // EVENT frames, by serializer

	mu     sync.Mutex // guards the fields below
	out    []byte     // encoded messages, back to back
	frames [][]byte   // one slice of out (or of an array it outgrew) each
	ending bool       // send what is queued, then close
	wake   chan struct{}
	done   chan struct{}
}

func (s *Server) serve(c transport.Conn) {
	p := &peer{s: s, conn: c, ser: c.Serialization(), cod: codec.For(c.Serialization()),
		wake: make(chan struct{}, 1), done: make(chan struct{})}
	s.lmu.Lock()
	if s.closed {
		s.lmu.Unlock()
		return
	}
	s.peers[p] = struct{}{}
	s.wg.Add(1)
	s.lmu.Unlock()
	defer func() {
		s.lmu.Lock()
		delete(s.peers, p)
		s.lmu.Unlock()
		s.wg.Done()
	}()

	go p.writeLoop()
	var m wamp.Message
	for {
		frame, err := c.Read()
		if err != nil || p.cod.Decode(frame, &m) != nil || !p.handle(&m) {
			break
		}
	}
	s.forget(p)
	p.mu.Lock()
	p.ending = true
	p.mu.Unlock()
	p.signal()
	<-p.done
}

func (p *peer) signal() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// send encodes m into the queue.
func (p *peer) send(m *wamp.Message) {
	p.mu.Lock()
	start := len(p.out)
	out, err := p.cod.Encode(p.out, m)
	if err != nil || p.ending {
		p.mu.Unlock()
		return
	}
	p.out = out
	p.queueLocked(start)
}

// sendFrame copies an encoded frame into the queue: a copy costs less than
// an allocation shared among subscribers would.
func (p *peer) sendFrame(f []byte) {
	p.mu.Lock()
	if p.ending {
		p.mu.Unlock()
		return
	}
	start := len(p.out)
	p.out = append(p.out, f...)
	p.queueLocked(start)
}

// queueLocked queues out[start:] as a frame and wakes the writer. p.mu must
// be held; it is released.
func (p *peer) queueLocked(start int) {
	p.frames = append(p.frames, p.out[start:len(p.out):len(p.out)])
	first := len(p.frames) == 1
	p.mu.Unlock()
	if first {
		p.signal()
	}
}

// maxKeep is the largest queue buffer a writer keeps for reuse.
const maxKeep = 1 << 20

// writeLoop swaps the queue out and writes it whole, until the reader has
// ended and the queue is empty, or a write fails.
func (p *peer) writeLoop() {
	defer close(p.done)
	var (
		out    []byte
		frames [][]byte
	)
	for {
		p.mu.Lock()
		for len(p.frames) == 0 && !p.ending {
			p.mu.Unlock()
			<-p.wake
			p.mu.Lock()
		}
		if len(p.frames) == 0 {
			p.mu.Unlock()
			_ = p.conn.Close(transport.CloseNormal, "")
			return
		}
		frames, p.frames = p.frames, frames[:0]
		out, p.out = p.out, out[:0]
		p.mu.Unlock()
		err := p.conn.WriteBatch(frames)
		clear(frames)
		if cap(out) > maxKeep {
			out = nil
		}
		if err != nil {
			p.mu.Lock()
			p.ending = true
			p.frames, p.out = nil, nil
			p.mu.Unlock()
			_ = p.conn.Close(transport.CloseInternal, "")
			return
		}
	}
}

var welcomeDetails = wamp.Dict{
	"authid": "stub", "authrole": "anonymous", "authmethod": "anonymous",
	"roles": map[string]any{"broker": map[string]any{}, "dealer": map[string]any{}},
}

// reply sends a reply of type t built in p.msg.
func (p *peer) reply(t wamp.Type, req, id wamp.ID) {
	p.msg = wamp.Message{Type: t, Request: req, ID: id}
	p.send(&p.msg)
}

func (p *peer) replyError(of wamp.Type, req wamp.ID, uri wamp.URI) {
	p.msg = wamp.Message{Type: wamp.ERROR, ErrType: of, Request: req, URI: uri}
	p.send(&p.msg)
}

// handle routes one message; false ends the session.
func (p *peer) handle(m *wamp.Message) bool {
	s := p.s
	switch m.Type {
	case wamp.HELLO:
		p.msg = wamp.Message{Type: wamp.WELCOME, ID: wamp.GlobalID(), Details: welcomeDetails}
		p.send(&p.msg)
	case wamp.GOODBYE:
		p.msg = wamp.Message{Type: wamp.GOODBYE, URI: wamp.ErrGoodbyeAndOut}
		p.send(&p.msg)
		return false
	case wamp.ABORT:
		return false
	case wamp.PUBLISH:
		s.publish(p, m)
	case wamp.SUBSCRIBE:
		p.reply(wamp.SUBSCRIBED, m.Request, s.subscribe(p, m.URI))
	case wamp.UNSUBSCRIBE:
		if s.unsubscribe(p, m.ID) {
			p.reply(wamp.UNSUBSCRIBED, m.Request, 0)
		} else {
			p.replyError(wamp.UNSUBSCRIBE, m.Request, wamp.ErrNoSuchSubscription)
		}
	case wamp.REGISTER:
		shared := wamp.String(m.Details, "invoke")
		if id, ok := s.register(p, m.URI, shared != "" && shared != "single"); ok {
			p.reply(wamp.REGISTERED, m.Request, id)
		} else {
			p.replyError(wamp.REGISTER, m.Request, wamp.ErrProcedureAlreadyExists)
		}
	case wamp.UNREGISTER:
		if s.unregister(p, m.ID) {
			p.reply(wamp.UNREGISTERED, m.Request, 0)
		} else {
			p.replyError(wamp.UNREGISTER, m.Request, wamp.ErrNoSuchRegistration)
		}
	case wamp.CALL:
		s.call(p, m)
	case wamp.YIELD, wamp.ERROR:
		s.yield(p, m)
	}
	return true
}

func (s *Server) publish(pub *peer, m *wamp.Message) {
	s.mu.RLock()
	t := s.topics[m.URI]
	var subs []*peer
	if t != nil {
		subs = t.subs
	}
	s.mu.RUnlock()
	pubID := wamp.GlobalID()
	if t != nil {
		excludeMe := wamp.Bool(m.Details, "exclude_me", true)
		ev := &pub.msg
		*ev = wamp.Message{Type: wamp.EVENT, ID: t.id, Publication: pubID, Args: m.Args, Kwargs: m.Kwargs}
		var frames [4][]byte
		for _, sub := range subs {
			if sub == pub && excludeMe {
				continue
			}
			f := frames[sub.ser]
			if f == nil {
				var err error
				if f, err = sub.cod.Encode(pub.scratch[sub.ser][:0], ev); err != nil {
					continue
				}
				frames[sub.ser], pub.scratch[sub.ser] = f, f
			}
			sub.sendFrame(f)
		}
	}
	if wamp.Bool(m.Details, "acknowledge", false) {
		pub.reply(wamp.PUBLISHED, m.Request, pubID)
	}
}

func (s *Server) subscribe(p *peer, uri wamp.URI) wamp.ID {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.topics[uri]
	if t == nil {
		t = &topic{id: s.subIDs.Next(), uri: uri}
		s.topics[uri] = t
		s.subs[t.id] = t
	}
	for _, q := range t.subs {
		if q == p {
			return t.id
		}
	}
	t.subs = append(t.subs[:len(t.subs):len(t.subs)], p)
	p.subs = append(p.subs, t.id)
	return t.id
}

func (s *Server) unsubscribe(p *peer, id wamp.ID) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, sid := range p.subs {
		if sid == id {
			p.subs = append(p.subs[:i], p.subs[i+1:]...)
			s.dropSubLocked(p, id)
			return true
		}
	}
	return false
}

// dropSubLocked takes p out of subscription id. s.mu must be held.
func (s *Server) dropSubLocked(p *peer, id wamp.ID) {
	t := s.subs[id]
	if t == nil {
		return
	}
	subs := make([]*peer, 0, len(t.subs))
	for _, q := range t.subs {
		if q != p {
			subs = append(subs, q)
		}
	}
	t.subs = subs
	if len(subs) == 0 {
		delete(s.topics, t.uri)
		delete(s.subs, id)
	}
}

func (s *Server) register(p *peer, uri wamp.URI, shared bool) (wamp.ID, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.procs[uri]
	if r != nil && (!shared || !r.shared) {
		return 0, false
	}
	if r == nil {
		r = &registration{id: s.regIDs.Next(), uri: uri, shared: shared}
		s.procs[uri] = r
		s.regs[r.id] = r
	}
	r.callees = append(r.callees[:len(r.callees):len(r.callees)], p)
	p.regs = append(p.regs, r.id)
	return r.id, true
}

func (s *Server) unregister(p *peer, id wamp.ID) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, rid := range p.regs {
		if rid == id {
			p.regs = append(p.regs[:i], p.regs[i+1:]...)
			s.dropRegLocked(p, id)
			return true
		}
	}
	return false
}

// dropRegLocked takes p out of registration id. s.mu must be held.
func (s *Server) dropRegLocked(p *peer, id wamp.ID) {
	r := s.regs[id]
	if r == nil {
		return
	}
	callees := make([]*peer, 0, len(r.callees))
	for _, q := range r.callees {
		if q != p {
			callees = append(callees, q)
		}
	}
	r.callees = callees
	if len(callees) == 0 {
		delete(s.procs, r.uri)
		delete(s.regs, id)
	}
}

func (s *Server) call(caller *peer, m *wamp.Message) {
	s.mu.RLock()
	r := s.procs[m.URI]
	var callees []*peer
	if r != nil {
		callees = r.callees
	}
	s.mu.RUnlock()
	if len(callees) == 0 {
		caller.replyError(wamp.CALL, m.Request, wamp.ErrNoSuchProcedure)
		return
	}
	callee := callees[0]
	if len(callees) > 1 {
		callee = callees[(r.next.Add(1)-1)%uint64(len(callees))]
	}
	// An id unique in the stub is unique among the callee's calls too.
	req := s.reqIDs.Next()
	s.cmu.Lock()
	s.calls[callKey{callee, req}] = pending{caller: caller, req: m.Request}
	s.cmu.Unlock()
	inv := &caller.msg
	*inv = wamp.Message{Type: wamp.INVOCATION, Request: req, ID: r.id, Args: m.Args, Kwargs: m.Kwargs}
	callee.send(inv)
}

// yield answers a call with the callee's YIELD or ERROR.
func (s *Server) yield(callee *peer, m *wamp.Message) {
	key := callKey{callee, m.Request}
	s.cmu.Lock()
	pc, ok := s.calls[key]
	delete(s.calls, key)
	s.cmu.Unlock()
	if !ok {
		return
	}
	res := &callee.msg
	if m.Type == wamp.ERROR {
		*res = wamp.Message{Type: wamp.ERROR, ErrType: wamp.CALL, Request: pc.req, URI: m.URI, Args: m.Args, Kwargs: m.Kwargs}
	} else {
		*res = wamp.Message{Type: wamp.RESULT, Request: pc.req, Args: m.Args, Kwargs: m.Kwargs}
	}
	pc.caller.send(res)
}

// forget drops what a peer that left had subscribed and registered. Calls
// pending on it stay unanswered: the stub keeps no such promise.
func (s *Server) forget(p *peer) {
	s.mu.Lock()
	for _, id := range p.subs {
		s.dropSubLocked(p, id)
	}
	for _, id := range p.regs {
		s.dropRegLocked(p, id)
	}
	s.mu.Unlock()
	p.subs, p.regs = nil, nil
}
