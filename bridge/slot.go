package bridge

import (
	"sync"
	"time"
)

// slot holds the session of one identity of the bridge and replaces it
// when it ends while the bridge runs. The bridge's requests are checked
// so that none should end its session, but should one (a router bug, a
// meta API wamp.session.kill), every later request of that identity would
// fail: one bad moment must not take the bridge down for good.
type slot struct {
	authid, role string

	mu      sync.Mutex
	p       *Peer
	swapped chan struct{} // closed when p is replaced
}

// get returns the current session and a channel closed when it is
// replaced.
func (s *slot) get() (*Peer, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.p, s.swapped
}

func (s *slot) peer() *Peer {
	p, _ := s.get()
	return p
}

// Rejoin backoff: the first attempt after a session ended waits
// rejoinFirst, each next one twice as long up to rejoinMax.
const (
	rejoinFirst = 100 * time.Millisecond
	rejoinMax   = 5 * time.Second
)

// newSlot starts the session of an identity and keeps it joined until the
// bridge closes.
func (b *Bridge) newSlot(authid, role string) *slot {
	s := &slot{authid: authid, role: role, p: NewPeer(b.cfg.Realm), swapped: make(chan struct{})}
	b.slots = append(b.slots, s)
	b.cfg.Join(s.p, authid, role)
	b.wg.Add(1)
	go b.keep(s)
	return s
}

func (b *Bridge) keep(s *slot) {
	defer b.wg.Done()
	wait := rejoinFirst
	for {
		p := s.peer()
		welcomed := false
		select {
		case <-b.stop:
			return
		case <-p.welcomed:
			welcomed = true
		case <-p.done:
		}
		if welcomed {
			wait = rejoinFirst
			select {
			case <-b.stop:
				return
			case <-p.done:
			}
		}
		b.log.Error("bridge session ended; joining again", "authid", s.authid, "role", s.role, "error", p.closedErr(), "wait", wait)
		t := time.NewTimer(wait)
		select {
		case <-b.stop:
			t.Stop()
			return
		case <-t.C:
		}
		wait = min(2*wait, rejoinMax)
		np := NewPeer(b.cfg.Realm)
		s.mu.Lock()
		s.p = np
		close(s.swapped)
		s.swapped = make(chan struct{})
		s.mu.Unlock()
		b.cfg.Join(np, s.authid, s.role)
	}
}
