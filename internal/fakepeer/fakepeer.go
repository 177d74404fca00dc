// Package fakepeer is a test double for the Peer interfaces of the broker
// and the dealer: it records what the router sends instead of writing it to
// a network, decoding every frame back so tests assert on messages.
package fakepeer

import (
	"errors"
	"sync"
	"testing"

	"github.com/switchboard/switchboard/wamp"
	"github.com/switchboard/switchboard/wamp/codec"
)

// ErrRefused is what Send returns once Refuse was called.
var ErrRefused = errors.New("fakepeer: refused")

// Peer records messages sent to it. Safe for concurrent use.
type Peer struct {
	ID  wamp.ID
	Ser wamp.Serialization
	// Discard, when set, counts messages without decoding (benchmarks).
	Discard bool
	// AuthID and AuthRole are what Auth returns.
	AuthID, AuthRole string
	// Features are the announced features, as "role.feature" keys, that
	// HasFeature reports.
	Features map[string]bool

	reqs wamp.IDGen

	mu      sync.Mutex
	scratch []byte // reused encoding buffer in Discard mode
	msgs    []*wamp.Message
	frames  int
	refused error
}

// New returns a JSON peer with session id id.
func New(id wamp.ID) *Peer { return &Peer{ID: id, Ser: wamp.JSON} }

// SessionID implements the Peer interfaces.
func (p *Peer) SessionID() wamp.ID { return p.ID }

// Serialization implements broker.Peer.
func (p *Peer) Serialization() wamp.Serialization { return p.Ser }

// Auth implements the Peer interfaces.
func (p *Peer) Auth() (authid, authrole string) { return p.AuthID, p.AuthRole }

// HasFeature implements the Peer interfaces.
func (p *Peer) HasFeature(role, feature string) bool { return p.Features[role+"."+feature] }

// NextRequestID implements dealer.Peer.
func (p *Peer) NextRequestID() wamp.ID { return p.reqs.Next() }

// SendEvent implements broker.Peer.
func (p *Peer) SendEvent(frame []byte) { p.record(frame) }

// Send implements the Peer interfaces: it encodes m as a session would, so
// encoding errors surface in tests.
func (p *Peer) Send(m *wamp.Message) error {
	p.mu.Lock()
	err := p.refused
	p.mu.Unlock()
	if err != nil {
		return err
	}
	if p.Discard {
		// Encode as a session would, into a reused buffer as its pool
		// gives, so benchmarks count the router's allocations only.
		p.mu.Lock()
		defer p.mu.Unlock()
		b, err := codec.For(p.Ser).Encode(p.scratch[:0], m)
		p.scratch = b
		p.frames++
		return err
	}
	frame, err := codec.For(p.Ser).Encode(nil, m)
	if err != nil {
		return err
	}
	p.record(frame)
	return nil
}

// Refuse makes later Sends fail with err (ErrRefused if nil).
func (p *Peer) Refuse(err error) {
	if err == nil {
		err = ErrRefused
	}
	p.mu.Lock()
	p.refused = err
	p.mu.Unlock()
}

func (p *Peer) record(frame []byte) {
	if p.Discard {
		p.mu.Lock()
		p.frames++
		p.mu.Unlock()
		return
	}
	var m wamp.Message
	if err := codec.For(p.Ser).Decode(frame, &m); err != nil {
		panic("fakepeer: router sent an undecodable frame: " + err.Error())
	}
	c := m.Clone()
	p.mu.Lock()
	p.msgs = append(p.msgs, c)
	p.frames++
	p.mu.Unlock()
}

// Messages returns what was received so far and forgets it.
func (p *Peer) Messages() []*wamp.Message {
	p.mu.Lock()
	defer p.mu.Unlock()
	m := p.msgs
	p.msgs = nil
	return m
}

// Last returns the last message received, or nil, and forgets all.
func (p *Peer) Last() *wamp.Message {
	m := p.Messages()
	if len(m) == 0 {
		return nil
	}
	return m[len(m)-1]
}

// Count returns the number of frames received.
func (p *Peer) Count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.frames
}

// Decode parses a JSON frame as a client would have sent it.
func Decode(t testing.TB, frame string) *wamp.Message {
	t.Helper()
	var m wamp.Message
	if err := codec.For(wamp.JSON).Decode([]byte(frame), &m); err != nil {
		t.Fatalf("decode %s: %v", frame, err)
	}
	return &m
}
