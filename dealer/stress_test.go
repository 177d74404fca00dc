package dealer

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/switchboard/switchboard/wamp"
	"github.com/switchboard/switchboard/wamp/codec"
)

// queuePeer is a Peer whose messages a goroutine consumes, as a session's
// reader would: Send never blocks.
type queuePeer struct {
	id       wamp.ID
	features map[string]bool
	reqs     wamp.IDGen

	mu     sync.Mutex
	q      []*wamp.Message
	signal chan struct{}
}

func newQueuePeer(id wamp.ID, features ...string) *queuePeer {
	p := &queuePeer{id: id, features: map[string]bool{}, signal: make(chan struct{}, 1)}
	for _, f := range features {
		p.features[f] = true
	}
	return p
}

func (p *queuePeer) SessionID() wamp.ID                   { return p.id }
func (p *queuePeer) NextRequestID() wamp.ID               { return p.reqs.Next() }
func (p *queuePeer) Auth() (string, string)               { return "", "" }
func (p *queuePeer) HasFeature(role, feature string) bool { return p.features[role+"."+feature] }

func (p *queuePeer) Send(m *wamp.Message) error {
	// Round-trip through the codec, as a session's queue would hold the
	// encoded frame: the message and its borrowed payload are not kept.
	b, err := codec.For(wamp.JSON).Encode(nil, m)
	if err != nil {
		return err
	}
	var c wamp.Message
	if err := codec.For(wamp.JSON).Decode(b, &c); err != nil {
		return err
	}
	p.mu.Lock()
	p.q = append(p.q, c.Clone())
	p.mu.Unlock()
	select {
	case p.signal <- struct{}{}:
	default:
	}
	return nil
}

// next waits for the next message, or returns nil once done is closed and
// the queue is empty.
func (p *queuePeer) next(done <-chan struct{}) *wamp.Message {
	for {
		p.mu.Lock()
		if len(p.q) > 0 {
			m := p.q[0]
			p.q = p.q[1:]
			p.mu.Unlock()
			return m
		}
		p.mu.Unlock()
		select {
		case <-p.signal:
		case <-done:
			return nil
		}
	}
}

// TestConcurrentCallsCancelsTimeouts runs callers and callees on their own
// goroutines through every ending a call can have — results, progressive
// results, errors, the three cancel modes, timeouts — and checks that each
// call ends exactly once and nothing is left. It asserts no timing: the
// sleeps only vary the interleavings, for the race detector.
func TestConcurrentCallsCancelsTimeouts(t *testing.T) {
	const callers, callees, callsEach = 4, 3, 60
	d := New(Config{})
	stop := make(chan struct{})
	var calleeWG sync.WaitGroup
	var cps []*queuePeer
	for i := range callees {
		p := newQueuePeer(wamp.ID(100+i), progResults...)
		cps = append(cps, p)
		d.Register(p, &wamp.Message{Type: wamp.REGISTER, Request: 1, URI: "com.example.stress", Details: wamp.Dict{"invoke": "random"}})
		if m := p.next(stop); m.Type != wamp.REGISTERED {
			t.Fatalf("register: %v", m)
		}
		calleeWG.Add(1)
		go func() {
			defer calleeWG.Done()
			rng := rand.New(rand.NewPCG(uint64(i), 1))
			var held []wamp.ID
			for {
				m := p.next(stop)
				if m == nil {
					return
				}
				req := m.Request
				switch {
				case m.Type == wamp.INTERRUPT:
					_ = d.Error(p, &wamp.Message{Type: wamp.ERROR, ErrType: wamp.INVOCATION, Request: req, URI: wamp.ErrCanceled})
				case rng.IntN(4) == 0:
					held = append(held, req) // answered only if interrupted
				case rng.IntN(3) == 0:
					_ = d.Error(p, &wamp.Message{Type: wamp.ERROR, ErrType: wamp.INVOCATION, Request: req, URI: "com.example.error"})
				default:
					if m.Details["receive_progress"] == true {
						_ = d.Yield(p, &wamp.Message{Type: wamp.YIELD, Request: req, Details: progressDetails})
					}
					_ = d.Yield(p, &wamp.Message{Type: wamp.YIELD, Request: req})
				}
			}
		}()
	}

	var callerWG sync.WaitGroup
	errs := make(chan error, callers)
	callerPeers := make([]*queuePeer, callers)
	for i := range callers {
		callerPeers[i] = newQueuePeer(wamp.ID(i + 1))
		callerWG.Add(1)
		go func() {
			defer callerWG.Done()
			p := callerPeers[i]
			rng := rand.New(rand.NewPCG(uint64(i), 2))
			for req := wamp.ID(1); req <= callsEach; req++ {
				opts := wamp.Dict{}
				if rng.IntN(2) == 0 {
					opts["timeout"] = int64(1 + rng.IntN(3))
				}
				if rng.IntN(2) == 0 {
					opts["receive_progress"] = true
				}
				if err := d.Call(p, &wamp.Message{Type: wamp.CALL, Request: req, URI: "com.example.stress", Details: opts}); err != nil {
					errs <- err
					return
				}
				time.Sleep(time.Duration(rng.IntN(200)) * time.Microsecond)
				mode := []string{"skip", "kill", "killnowait"}[rng.IntN(3)]
				_ = d.Cancel(p, &wamp.Message{Type: wamp.CANCEL, Request: req, Details: wamp.Dict{"mode": mode}})
				// Exactly one final answer, possibly after progress.
				for {
					m := p.next(nil)
					if m.Request != req {
						errs <- fmt.Errorf("caller %d: %v for request %d while waiting for %d", p.id, m.Type, m.Request, req)
						return
					}
					if m.Type == wamp.RESULT && m.Details["progress"] == true {
						continue
					}
					if m.Type != wamp.RESULT && m.Type != wamp.ERROR {
						errs <- fmt.Errorf("caller %d got %v", p.id, m)
						return
					}
					break
				}
			}
		}()
	}
	callerWG.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	close(stop)
	calleeWG.Wait()
	for _, p := range cps {
		d.RemoveSession(p.id)
	}
	if d.PendingCount() != 0 || d.RegistrationCount() != 0 || len(d.tombs) != 0 {
		t.Fatalf("left: %d pending, %d registrations, %d tombstone lists", d.PendingCount(), d.RegistrationCount(), len(d.tombs))
	}
	// Nothing more for any caller: every call ended once. The dealer
	// sends a caller only what a call or tombstone it holds produces, and
	// it holds none now (checked above) with the callees gone, so this is
	// the marker after which no late answer can still be on its way. The
	// callers stay joined until here so that a late answer would still
	// reach their queues.
	for _, p := range callerPeers {
		p.mu.Lock()
		extra := len(p.q)
		p.mu.Unlock()
		if extra != 0 {
			t.Errorf("caller %d got %d messages after its calls ended", p.id, extra)
		}
		d.RemoveSession(p.id)
	}
	checkEmpty(t, d)
}
