package bridge

import (
	"context"
	"fmt"
	"net"
	"sync"

	"github.com/switchboard/switchboard/transport"
	"github.com/switchboard/switchboard/wamp"
	"github.com/switchboard/switchboard/wamp/codec"
)

// Peer is an in-process WAMP client: the session.Conn of a session that the
// router serves like any other, speaking JSON so that a request's args and
// kwargs, JSON already, pass through without being decoded, and a RESULT's
// go back to the HTTP client as they came.
type Peer struct {
	realm wamp.URI
	codec codec.Codec
	// in carries frames from the bridge to the session's reader. Bounded:
	// when the reader falls behind, HTTP handlers wait (until their
	// request's context ends) rather than queue without limit.
	in       chan []byte
	done     chan struct{}
	welcomed chan struct{}
	reqIDs   wamp.IDGen

	mu        sync.Mutex
	closed    bool // done is closed
	leaving   bool // GOODBYE answered: no new requests
	abort     error
	pending   map[wamp.ID]chan *wamp.Message
	subscribe map[wamp.ID]func(*wamp.Message) // by SUBSCRIBE request id
	// events holds the handlers by subscription id: a list, since two
	// subscribers on one topic and match get the same id from the broker.
	events map[wamp.ID][]func(*wamp.Message)
	// m is WriteBatch's reused decode target; only the session's one
	// writer goroutine touches it.
	m wamp.Message
}

// peerQueue bounds the frames waiting for the session's reader.
const peerQueue = 256

// bridgeAddr is what the meta API and logs show as a bridge session's
// peer address.
type bridgeAddr struct{}

func (bridgeAddr) Network() string { return "bridge" }
func (bridgeAddr) String() string  { return "bridge" }

// NewPeer returns a peer that joins realm once the router serves it: its
// HELLO is already queued.
func NewPeer(realm wamp.URI) *Peer {
	p := &Peer{
		realm:     realm,
		codec:     codec.For(wamp.JSON),
		in:        make(chan []byte, peerQueue),
		done:      make(chan struct{}),
		welcomed:  make(chan struct{}),
		pending:   make(map[wamp.ID]chan *wamp.Message),
		subscribe: make(map[wamp.ID]func(*wamp.Message)),
		events:    make(map[wamp.ID][]func(*wamp.Message)),
	}
	hello, err := p.codec.Encode(nil, &wamp.Message{Type: wamp.HELLO, URI: realm, Details: wamp.Dict{
		"roles": map[string]any{"publisher": map[string]any{}, "subscriber": map[string]any{}, "caller": map[string]any{}},
	}})
	if err != nil {
		panic("bridge: cannot encode HELLO: " + err.Error())
	}
	p.in <- hello
	return p
}

// Serialization, Read, WriteBatch, MaxWrite, Close, RemoteAddr and
// Transport make a Peer a session.Conn.

func (p *Peer) Serialization() wamp.Serialization { return wamp.JSON }
func (p *Peer) MaxWrite() int                     { return 0 }
func (p *Peer) RemoteAddr() net.Addr              { return bridgeAddr{} }
func (p *Peer) Transport() string                 { return "http-bridge" }

// Read returns the next frame for the session's reader.
func (p *Peer) Read() ([]byte, error) {
	select {
	case f := <-p.in:
		return f, nil
	case <-p.done:
		return nil, net.ErrClosed
	}
}

// Close ends the peer: Read fails from now on and every waiting request
// gets ErrClosed.
func (p *Peer) Close(transport.CloseCode, string) error {
	p.shut(nil)
	return nil
}

func (p *Peer) shut(abort error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	p.closed = true
	p.abort = abort
	close(p.done)
}

// WriteBatch takes what the router sends the bridge. It never blocks.
func (p *Peer) WriteBatch(frames [][]byte) error {
	for _, f := range frames {
		m := &p.m
		if err := p.codec.Decode(f, m); err != nil {
			return fmt.Errorf("bridge: bad frame from the router: %w", err)
		}
		switch m.Type {
		case wamp.WELCOME:
			close(p.welcomed)
		case wamp.ABORT:
			p.shut(wamp.NewError(m.URI, wamp.String(m.Details, "message")))
		case wamp.GOODBYE:
			// The router is shutting down: answer, then stop taking
			// requests. The answer must not wait on a full queue.
			if b, err := p.codec.Encode(nil, &wamp.Message{Type: wamp.GOODBYE, URI: wamp.ErrGoodbyeAndOut}); err == nil {
				select {
				case p.in <- b:
				default:
				}
			}
			p.mu.Lock()
			p.leaving = true // done closes when the session closes the conn
			p.mu.Unlock()
		case wamp.EVENT:
			p.mu.Lock()
			hs := p.events[m.ID] // only ever appended to: safe to read unlocked
			p.mu.Unlock()
			for _, h := range hs {
				h(m)
			}
		case wamp.SUBSCRIBED:
			p.mu.Lock()
			if h := p.subscribe[m.Request]; h != nil {
				// Before the reply is delivered, so that no EVENT after
				// SUBSCRIBED can miss its handler.
				delete(p.subscribe, m.Request)
				p.events[m.ID] = append(p.events[m.ID], h)
			}
			p.mu.Unlock()
			p.reply(m)
		default:
			p.reply(m)
		}
	}
	return nil
}

// reply hands m to the request waiting for it, if any still does.
func (p *Peer) reply(m *wamp.Message) {
	if m.Request == 0 {
		return
	}
	p.mu.Lock()
	ch := p.pending[m.Request]
	delete(p.pending, m.Request)
	p.mu.Unlock()
	if ch != nil {
		ch <- m.Clone() // one slot, one reply: never blocks
	}
}

// Ready waits until the peer has joined its realm.
func (p *Peer) Ready(ctx context.Context) error {
	select {
	case <-p.welcomed:
		return nil
	case <-p.done:
		return p.closedErr()
	case <-ctx.Done():
		return fmt.Errorf("%w: %w", ErrNotJoined, ctx.Err())
	}
}

func (p *Peer) closedErr() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.abort != nil {
		return fmt.Errorf("%w: %w", ErrClosed, p.abort)
	}
	return ErrClosed
}

// request sends m with a fresh request id and waits for its answer. When
// ctx ends first, CANCEL is sent for the request if cancel is set, and the
// answer, should it come, is dropped. onID, if not nil, runs under p.mu
// with the request id before the request is sent.
func (p *Peer) request(ctx context.Context, m *wamp.Message, cancel bool, onID func(wamp.ID)) (*wamp.Message, error) {
	select {
	case <-p.welcomed:
	default:
		return nil, ErrNotJoined
	}
	id := p.reqIDs.Next()
	m.Request = id
	b, err := p.codec.Encode(nil, m)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadMessage, err)
	}
	// The session's reader decodes the frame as it would a client's, and
	// a frame it cannot decode is a protocol violation that ends the
	// session: for every request of the bridge, not only this one. So the
	// frame is decoded here first (headers, and the payloads checked, as
	// the reader does), and one that fails goes no further. Payloads pass
	// through from the HTTP body, and encoding/json accepts what the
	// router's JSON does not (invalid UTF-8, lone surrogates).
	var check wamp.Message
	if err := p.codec.Decode(b, &check); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadMessage, err)
	}
	ch := make(chan *wamp.Message, 1)
	p.mu.Lock()
	if p.closed || p.leaving {
		p.mu.Unlock()
		return nil, ErrClosed
	}
	p.pending[id] = ch
	if onID != nil {
		onID(id)
	}
	p.mu.Unlock()
	select {
	case p.in <- b:
	case <-p.done:
		p.forget(id)
		return nil, p.closedErr()
	case <-ctx.Done():
		p.forget(id)
		return nil, ctx.Err()
	}
	select {
	case a := <-ch:
		return a, nil
	case <-p.done:
		p.forget(id)
		return nil, p.closedErr()
	case <-ctx.Done():
		p.forget(id)
		if cancel {
			p.cancel(id)
		}
		return nil, ctx.Err()
	}
}

func (p *Peer) forget(id wamp.ID) {
	p.mu.Lock()
	delete(p.pending, id)
	delete(p.subscribe, id)
	p.mu.Unlock()
}

// cancel asks the router to cancel call id (killnowait: the callee hears
// INTERRUPT, the caller waits no more). Best effort: a full queue skips it,
// and the call's own timeout still ends it.
func (p *Peer) cancel(id wamp.ID) {
	b, err := p.codec.Encode(nil, &wamp.Message{Type: wamp.CANCEL, Request: id, Details: wamp.Dict{"mode": "killnowait"}})
	if err != nil {
		return
	}
	select {
	case p.in <- b:
	default:
	}
}

// answer turns an ERROR reply into a *wamp.Error; other replies pass.
func answer(a *wamp.Message, want wamp.Type) (*wamp.Message, error) {
	switch a.Type {
	case want:
		return a, nil
	case wamp.ERROR:
		return a, wamp.NewError(a.URI, wamp.String(a.Details, "message"))
	}
	return a, fmt.Errorf("bridge: %v in answer to a request, want %v", a.Type, want)
}

// Publish publishes an acknowledged event and returns its publication id.
// args and kwargs are JSON (a list and a dict) or nil; opts are PUBLISH
// options, to which acknowledge is added.
func (p *Peer) Publish(ctx context.Context, topic wamp.URI, opts wamp.Dict, args, kwargs []byte) (wamp.ID, error) {
	if opts == nil {
		opts = wamp.Dict{}
	}
	opts["acknowledge"] = true
	m := &wamp.Message{Type: wamp.PUBLISH, URI: topic, Details: opts, Args: raw(args), Kwargs: raw(kwargs)}
	a, err := p.request(ctx, m, false, nil)
	if err != nil {
		return 0, err
	}
	a, err = answer(a, wamp.PUBLISHED)
	if err != nil {
		return 0, err
	}
	return a.ID, nil
}

// Call calls procedure and returns the RESULT, or the ERROR as a
// *wamp.Error together with the message that carried it (for its args and
// kwargs). Payloads are JSON.
func (p *Peer) Call(ctx context.Context, procedure wamp.URI, opts wamp.Dict, args, kwargs []byte) (*wamp.Message, error) {
	m := &wamp.Message{Type: wamp.CALL, URI: procedure, Details: opts, Args: raw(args), Kwargs: raw(kwargs)}
	a, err := p.request(ctx, m, true, nil)
	if err != nil {
		return nil, err
	}
	return answer(a, wamp.RESULT)
}

// Subscribe subscribes to topic under match ("" for exact) and calls h for
// each EVENT, on the session's writer goroutine: h must not block and must
// copy what it keeps of the message, which is reused.
func (p *Peer) Subscribe(ctx context.Context, topic wamp.URI, match string, h func(*wamp.Message)) (wamp.ID, error) {
	opts := wamp.Dict{}
	if match != "" && match != wamp.MatchExact {
		opts["match"] = match
	}
	m := &wamp.Message{Type: wamp.SUBSCRIBE, URI: topic, Details: opts}
	// The handler is in place before the request goes out, so that
	// WriteBatch can move it to p.events as SUBSCRIBED passes.
	a, err := p.request(ctx, m, false, func(id wamp.ID) { p.subscribe[id] = h })
	if err != nil {
		return 0, err
	}
	a, err = answer(a, wamp.SUBSCRIBED)
	if err != nil {
		return 0, err
	}
	return a.ID, nil
}

func raw(b []byte) wamp.Payload {
	if b == nil {
		return wamp.Payload{}
	}
	return wamp.Payload{Raw: b, Ser: wamp.JSON}
}
