package realm

import (
	"hash/fnv"
	"maps"

	"github.com/switchboard/switchboard/broker"
	"github.com/switchboard/switchboard/dealer"
	"github.com/switchboard/switchboard/session"
	"github.com/switchboard/switchboard/wamp"
)

// Link is the cluster as one realm sees it (package cluster implements
// it; docs/cluster.md). A realm without a Link is a node alone and calls
// none of this. The notifications (Joined ... Unregistered) are made for
// every change, local sessions' or remote ones'; the Link tells them
// apart. They must not block: some come under the dealer's lock.
type Link interface {
	broker.Remote
	// Joined: a local session joined (after its WELCOME).
	Joined(s *session.Session)
	// Left: a session left, after its subscriptions and registrations.
	Left(sid wamp.ID)
	// Subscribed and Unsubscribed: a session's subscription changed.
	Subscribed(sid, sub wamp.ID)
	Unsubscribed(sid, sub wamp.ID)
	// Unregistered: a session stopped being a callee of reg.
	Unregistered(sid, reg wamp.ID)
	// Register handles a local session's REGISTER, which must hold
	// cluster-wide, and answers it.
	Register(s *session.Session, m *wamp.Message)
	// Answer takes a local callee's YIELD or ERROR when it answers an
	// INVOCATION from another node, and reports whether it did.
	Answer(s *session.Session, m *wamp.Message) bool
	// Kill asks the node of remote session sid to close it with GOODBYE
	// reason (wamp.session.kill*); it does not wait for the close.
	Kill(node uint64, sid wamp.ID, reason wamp.URI, msg string)
	// KillAll closes every session of the realm on the other nodes, as
	// wamp.session.kill_all does here, and returns how many it closed
	// (from the nodes that answered within a bounded wait).
	KillAll(reason wamp.URI, msg string) int
	// Testaments: local session s's testaments are now ts (all scopes,
	// detached first), for another node to publish should this node die
	// with the session.
	Testaments(s *session.Session, ts []Testament)
}

// Testament is one event a session asked to have published when it goes
// (wamp.session.add_testament), as the cluster keeps it.
type Testament struct {
	Topic   wamp.URI  `json:"topic"`
	Options wamp.Dict `json:"options,omitempty"`
	Args    []any     `json:"args,omitempty"`
	Kwargs  wamp.Dict `json:"kwargs,omitempty"`
}

// Message is the PUBLISH of the testament. Acknowledgement makes no sense
// for a session that is gone, so it is dropped.
func (t *Testament) Message() *wamp.Message {
	opts := maps.Clone(t.Options)
	delete(opts, "acknowledge")
	m := &wamp.Message{Type: wamp.PUBLISH, Details: opts, URI: t.Topic}
	if t.Args != nil {
		m.Args = wamp.Payload{Value: t.Args}
	}
	if t.Kwargs != nil {
		m.Kwargs = wamp.Payload{Value: map[string]any(t.Kwargs)}
	}
	return m
}

// KillAllLocal closes every local session without meta or testament
// events, for wamp.session.kill_all on another node, and returns how many.
func (r *Realm) KillAllLocal(reason wamp.URI, msg string) int {
	return r.killAllExcept(0, reason, msg)
}

// linkTestaments tells the link the testaments of session id. r.mu must
// not be held.
func (r *Realm) linkTestaments(id wamp.ID) {
	if r.link == nil {
		return
	}
	r.mu.RLock()
	m := r.sessions[id]
	var ts []Testament
	if m != nil {
		for _, scope := range m.testaments {
			for _, t := range scope {
				ts = append(ts, t.export())
			}
		}
	}
	r.mu.RUnlock()
	if m != nil {
		r.link.Testaments(m.s, ts)
	}
}

// RemoteSession is a session attached to another node of the cluster.
type RemoteSession struct {
	ID       wamp.ID
	Node     uint64
	AuthID   string
	AuthRole string
	// Details is its session details dict (wamp.session.get, on_join).
	Details map[string]any
}

// ClusterID numbers a subscription or registration by what it is, so
// that every node gives it the same id: FNV-1a of realm, match and URI,
// in [1, 2^53].
func ClusterID(realm, uri wamp.URI, match string) wamp.ID {
	h := fnv.New64a()
	_, _ = h.Write([]byte(realm))
	_, _ = h.Write([]byte{0})
	_, _ = h.Write([]byte(match))
	_, _ = h.Write([]byte{0})
	_, _ = h.Write([]byte(uri))
	return wamp.ID(h.Sum64()%wamp.MaxID) + 1
}

// Broker returns the realm's broker, for the cluster link.
func (r *Realm) Broker() *broker.Broker { return r.broker }

// Dealer returns the realm's dealer, for the cluster link.
func (r *Realm) Dealer() *dealer.Dealer { return r.dealer }

// LocalSession returns the attached local session id, or nil.
func (r *Realm) LocalSession(id wamp.ID) *session.Session { return r.session(id) }

// LocalSessions returns the attached local sessions.
func (r *Realm) LocalSessions() []*session.Session { return r.members() }

// SessionDetails is the session details dict that wamp.session.get gives
// for s.
func SessionDetails(s *session.Session) map[string]any { return sessionDetails(s) }

// AddRemote records a session of another node and fires on_join for it.
// A session already known is left as it is.
func (r *Realm) AddRemote(rs RemoteSession) {
	r.mu.Lock()
	if _, ok := r.remote[rs.ID]; ok || r.sessions[rs.ID] != nil {
		r.mu.Unlock()
		return
	}
	r.remote[rs.ID] = &rs
	r.mu.Unlock()
	r.emit(wamp.MetaSessionOnJoin, func() wamp.Payload { return wamp.List(rs.Details) })
}

// RemoveRemote forgets a session of another node: its subscriptions and
// registrations go, calls pending on it are answered with
// wamp.error.canceled, and on_leave fires.
func (r *Realm) RemoveRemote(id wamp.ID) {
	r.broker.RemoveSession(id)
	r.dealer.RemoveSession(id)
	r.mu.Lock()
	rs := r.remote[id]
	delete(r.remote, id)
	r.mu.Unlock()
	if rs == nil {
		return
	}
	r.emit(wamp.MetaSessionOnLeave, func() wamp.Payload { return wamp.List(uint64(id), rs.AuthID, rs.AuthRole) })
}

// remoteSessions returns the ids of the remote sessions whose role passes
// filter (nil: all). r.mu must not be held.
func (r *Realm) remoteSessions(filter map[string]bool) []wamp.ID {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var ids []wamp.ID
	for id, rs := range r.remote {
		if filter == nil || filter[rs.AuthRole] {
			ids = append(ids, id)
		}
	}
	return ids
}

func (r *Realm) remoteDetails(id wamp.ID) (map[string]any, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if rs := r.remote[id]; rs != nil {
		return rs.Details, true
	}
	return nil, false
}

// clusterIDs returns the id function of broker and dealer in a cluster.
func clusterIDs(name wamp.URI) func(wamp.URI, string) wamp.ID {
	return func(uri wamp.URI, match string) wamp.ID { return ClusterID(name, uri, match) }
}

// remoteWhere returns copies of the remote sessions for which keep holds.
func (r *Realm) remoteWhere(keep func(*RemoteSession) bool) []RemoteSession {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var out []RemoteSession
	for _, rs := range r.remote {
		if keep(rs) {
			out = append(out, *rs)
		}
	}
	return out
}

// HasRemote reports whether id is a session of another node.
func (r *Realm) HasRemote(id wamp.ID) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	_, ok := r.remote[id]
	return ok
}
