package metrics

import (
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard/switchboard/cluster"
	"github.com/switchboard/switchboard/dealer"
	"github.com/switchboard/switchboard/session"
	"github.com/switchboard/switchboard/wamp"
)

// Namespace prefixes every metric of the router.
const Namespace = "switchboard"

// Metrics holds every counter of one router and exports them.
type Metrics struct {
	mu     sync.Mutex
	groups map[groupKey]*Group
	realms map[string]*Realm
	// handshake counts the messages of sessions that have not joined (yet):
	// HELLO, CHALLENGE, AUTHENTICATE, ABORT.
	handshake *Group
	// bridges reads the HTTP bridges' counters (SetBridges); nil: none.
	bridges atomic.Pointer[func() []Bridge]
	// cluster reads the cluster node's counters (SetCluster); nil: none.
	cluster atomic.Pointer[func() cluster.Stats]
}

type groupKey struct{ realm, transport, serializer string }

// New returns empty counters.
func New() *Metrics {
	m := &Metrics{
		groups: make(map[groupKey]*Group),
		realms: make(map[string]*Realm),
	}
	m.handshake = newGroup(m, groupKey{}, nil)
	return m
}

// Handshake returns the group that counts sessions before they join, for
// session.Config.Stats.
func (m *Metrics) Handshake() *Group { return m.handshake }

// Realm returns the counters of the realm of that name, making them on
// first use. A realm removed by a reload keeps its counters: they are
// cumulative, and Prometheus expects a counter never to go back.
func (m *Metrics) Realm(name string) *Realm {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.realmLocked(name)
}

func (m *Metrics) realmLocked(name string) *Realm {
	r := m.realms[name]
	if r == nil {
		r = &Realm{name: name, callDur: newHist(callBounds, 1e-9)}
		m.realms[name] = r
	}
	return r
}

// Group returns the counters of the sessions of one realm, transport and
// serializer, making them on first use. Called once per session, at join.
func (m *Metrics) Group(realm, transport string, ser wamp.Serialization) *Group {
	k := groupKey{realm, transport, ser.String()}
	m.mu.Lock()
	defer m.mu.Unlock()
	g := m.groups[k]
	if g == nil {
		g = newGroup(m, k, m.realmLocked(realm))
		m.groups[k] = g
	}
	return g
}

func newGroup(m *Metrics, k groupKey, r *Realm) *Group {
	g := &Group{m: m, key: k, realm: r, live: make(map[*session.Session]struct{})}
	for i := range g.counters {
		g.counters[i] = Counter{g, &g.stripes[i]}
	}
	return g
}

// Realm counts what one realm routes. It implements dealer.Observer.
type Realm struct {
	name          string
	published     [numStripes]paddedCount // by publisher session id
	callsStarted  atomic.Uint64
	callsEnded    [dealer.NumCallOutcomes]atomic.Uint64
	callDur       *hist
	authFailures  sync.Map // method string -> *atomic.Uint64; failures are rare
	authFailTotal atomic.Uint64
}

// paddedCount is a counter on a cache line of its own.
type paddedCount struct {
	n atomic.Uint64
	_ [56]byte
}

// EventPublished counts one PUBLISH of session publisher that the realm
// accepted for routing. The count is striped by publisher like the
// message counts: publishers on different cores would otherwise all add to
// one cache line.
func (r *Realm) EventPublished(publisher wamp.ID) {
	r.published[uint64(publisher)%numStripes].n.Add(1)
}

func (r *Realm) publishedTotal() uint64 {
	var n uint64
	for i := range r.published {
		n += r.published[i].n.Load()
	}
	return n
}

// CallStarted implements dealer.Observer.
func (r *Realm) CallStarted() { r.callsStarted.Add(1) }

// CallEnded implements dealer.Observer.
func (r *Realm) CallEnded(o dealer.CallOutcome, d time.Duration) {
	if int(o) < len(r.callsEnded) {
		r.callsEnded[o].Add(1)
	}
	r.callDur.observe(uint64(max(d, 0)))
}

// AuthFailed counts a refused authentication by method ("none" when the
// client offered no method the realm takes). method must come from a
// bounded set: the router passes a configured method name or "none".
func (r *Realm) AuthFailed(method string) {
	c, ok := r.authFailures.Load(method)
	if !ok {
		c, _ = r.authFailures.LoadOrStore(method, new(atomic.Uint64))
	}
	c.(*atomic.Uint64).Add(1)
	r.authFailTotal.Add(1)
}

var _ dealer.Observer = (*Realm)(nil)

// Group counts the sessions of one (realm, transport, serializer). It
// implements session.Stats.
type Group struct {
	m     *Metrics
	key   groupKey
	realm *Realm // nil for the handshake group

	open   atomic.Int64
	opened atomic.Uint64
	closed [session.NumCloseReasons]atomic.Uint64
	// stripes hold the message and byte counts; each session counts into
	// the stripe of its id (Counter), so that readers on different cores
	// seldom add to the same cache line.
	stripes  [numStripes]stripe
	counters [numStripes]Counter
	dropped  atomic.Uint64
	slow     atomic.Uint64

	// The EVENTs and queue depths of the group's sessions are counted by
	// each session itself, under a lock it holds anyway, and summed here
	// at scrape time: live sessions are read, those that ended were added
	// to ended. Lock order: docs/locks.md.
	mu    sync.Mutex
	live  map[*session.Session]struct{}
	ended session.SendStats
}

// numStripes spreads the sessions of a group over this many sets of
// counters.
const numStripes = 16

// stripe is one set of message counters, by typeIndex. EVENTs out are
// counted by the sessions (SendStats), not here.
type stripe struct {
	in, out           [numTypes]atomic.Uint64
	bytesIn, bytesOut atomic.Uint64
	_                 [64]byte // keeps the next stripe off this one's last cache line
}

// numTypes is the number of slots of a stripe: the protocol's message types
// and slot 0 for any other.
const numTypes = 25

// typeIndex maps a message type to its slot.
var typeIndex = func() (ix [256]uint8) {
	for i, t := range wampTypes {
		ix[t] = uint8(i + 1)
	}
	return ix
}()

// Counter is the session.Stats of one session: its group's counters, on
// the stripe of its session id. Group.For returns it.
type Counter struct {
	g *Group
	s *stripe
}

// For returns the counters a session of id counts into; no allocation.
func (g *Group) For(id wamp.ID) *Counter { return &g.counters[uint64(id)%numStripes] }

// EventDropped implements session.Stats.
func (c *Counter) EventDropped() { c.g.EventDropped() }

// SlowConsumerClosed implements session.Stats.
func (c *Counter) SlowConsumerClosed() { c.g.SlowConsumerClosed() }

// MessageIn implements session.Stats.
func (c *Counter) MessageIn(t wamp.Type, n int) {
	c.s.in[typeIndex[t]].Add(1)
	c.s.bytesIn.Add(uint64(n))
}

// MessageOut implements session.Stats.
func (c *Counter) MessageOut(t wamp.Type, n int) {
	c.s.out[typeIndex[t]].Add(1)
	c.s.bytesOut.Add(uint64(n))
}

// SessionClosed implements session.Stats.
func (c *Counter) SessionClosed(s *session.Session, r session.CloseReason) { c.g.SessionClosed(s, r) }

var _ session.Stats = (*Counter)(nil)

// traffic sums the stripes: messages by type and bytes, EVENTs and their
// bytes included.
func (g *Group) traffic() (in, out [256]uint64, bytesIn, bytesOut uint64) {
	for i := range g.stripes {
		st := &g.stripes[i]
		for j, t := range wampTypes {
			in[t] += st.in[j+1].Load()
			out[t] += st.out[j+1].Load()
		}
		bytesIn += st.bytesIn.Load()
		bytesOut += st.bytesOut.Load()
	}
	sent := g.sent()
	out[wamp.EVENT] += sent.Events
	bytesOut += sent.EventBytes
	return in, out, bytesIn, bytesOut
}

// Opened counts a session that joined, and reads its SendStats from now
// until it ends.
func (g *Group) Opened(s *session.Session) {
	g.opened.Add(1)
	g.open.Add(1)
	g.mu.Lock()
	g.live[s] = struct{}{}
	g.mu.Unlock()
}

// sent sums the SendStats of the group's sessions.
func (g *Group) sent() session.SendStats {
	g.mu.Lock()
	defer g.mu.Unlock()
	st := g.ended
	for s := range g.live {
		ss := s.SendStats()
		st.Add(&ss)
	}
	return st
}

// EventDropped implements session.Stats.
func (g *Group) EventDropped() { g.dropped.Add(1) }

// SlowConsumerClosed implements session.Stats.
func (g *Group) SlowConsumerClosed() { g.slow.Add(1) }

// MessageIn implements session.Stats, on the group's first stripe (for the
// handshake, before a session has an id).
func (g *Group) MessageIn(t wamp.Type, n int) { g.counters[0].MessageIn(t, n) }

// MessageOut implements session.Stats, as MessageIn.
func (g *Group) MessageOut(t wamp.Type, n int) { g.counters[0].MessageOut(t, n) }

// SessionClosed implements session.Stats.
func (g *Group) SessionClosed(s *session.Session, r session.CloseReason) {
	if int(r) < len(g.closed) {
		g.closed[r].Add(1)
	}
	g.open.Add(-1)
	ss := s.SendStats()
	g.mu.Lock()
	g.ended.Add(&ss)
	delete(g.live, s)
	g.mu.Unlock()
}

var _ session.Stats = (*Group)(nil)

// Snapshot is a copy of the counters, for /status and tests.
type Snapshot struct {
	Realms map[string]RealmSnapshot `json:"realms"`
	// MessagesIn and MessagesOut are by WAMP message type name.
	MessagesIn  map[string]uint64 `json:"messages_in"`
	MessagesOut map[string]uint64 `json:"messages_out"`
	BytesIn     uint64            `json:"bytes_in"`
	BytesOut    uint64            `json:"bytes_out"`
}

// RealmSnapshot is one realm's counters.
type RealmSnapshot struct {
	SessionsOpen    int64             `json:"sessions_open"`
	SessionsOpened  uint64            `json:"sessions_opened"`
	SessionsClosed  map[string]uint64 `json:"sessions_closed"`
	EventsPublished uint64            `json:"events_published"`
	EventsDelivered uint64            `json:"events_delivered"`
	EventsDropped   uint64            `json:"events_dropped"`
	CallsStarted    uint64            `json:"calls_started"`
	CallsEnded      map[string]uint64 `json:"calls_ended"`
	AuthFailures    map[string]uint64 `json:"auth_failures"`
}

// Snapshot copies the counters now.
func (m *Metrics) Snapshot() Snapshot {
	s := Snapshot{Realms: make(map[string]RealmSnapshot), MessagesIn: make(map[string]uint64), MessagesOut: make(map[string]uint64)}
	m.mu.Lock()
	defer m.mu.Unlock()
	for name, r := range m.realms {
		rs := RealmSnapshot{
			SessionsClosed:  make(map[string]uint64),
			EventsPublished: r.publishedTotal(),
			CallsStarted:    r.callsStarted.Load(),
			CallsEnded:      make(map[string]uint64),
			AuthFailures:    make(map[string]uint64),
		}
		for o := range r.callsEnded {
			rs.CallsEnded[dealer.CallOutcome(o).String()] = r.callsEnded[o].Load()
		}
		r.authFailures.Range(func(k, v any) bool {
			rs.AuthFailures[k.(string)] = v.(*atomic.Uint64).Load()
			return true
		})
		s.Realms[name] = rs
	}
	for _, g := range m.allGroupsLocked() {
		in, out, bytesIn, bytesOut := g.traffic()
		for _, t := range wampTypes {
			if in[t] > 0 {
				s.MessagesIn[t.String()] += in[t]
			}
			if out[t] > 0 {
				s.MessagesOut[t.String()] += out[t]
			}
		}
		s.BytesIn += bytesIn
		s.BytesOut += bytesOut
		if g.realm == nil {
			continue
		}
		rs := s.Realms[g.realm.name]
		rs.SessionsOpen += g.open.Load()
		rs.SessionsOpened += g.opened.Load()
		for r := range g.closed {
			if n := g.closed[r].Load(); n > 0 {
				rs.SessionsClosed[session.CloseReason(r).String()] += n
			}
		}
		rs.EventsDelivered += g.sent().Events
		rs.EventsDropped += g.dropped.Load()
		s.Realms[g.realm.name] = rs
	}
	return s
}

// allGroupsLocked lists the groups in a stable order, the handshake group
// first. m.mu must be held.
func (m *Metrics) allGroupsLocked() []*Group {
	gs := make([]*Group, 0, len(m.groups)+1)
	gs = append(gs, m.handshake)
	keys := make([]groupKey, 0, len(m.groups))
	for k := range m.groups {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		if a.realm != b.realm {
			return a.realm < b.realm
		}
		if a.transport != b.transport {
			return a.transport < b.transport
		}
		return a.serializer < b.serializer
	})
	for _, k := range keys {
		gs = append(gs, m.groups[k])
	}
	return gs
}
