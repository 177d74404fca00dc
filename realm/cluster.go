package realm

import (
	"hash/fnv"
	"maps"
	"strconv"
	"time"

	"github.com/switchboard/switchboard/broker"
	"github.com/switchboard/switchboard/dealer"
	"github.com/switchboard/switchboard/session"
	"github.com/switchboard/switchboard/wamp"
)

// Link is the cluster as one realm sees it (package cluster implements
// it; docs/cluster.md). A realm without a Link is a node alone and calls
// none of this. A node keeps its own sessions only: what the meta API
// needs of the other nodes' sessions it asks them (RemoteSessions ...),
// and their meta events reach it as ordinary events. The notifications
// (Joined ... Unregistered) are made for every change; the Link tells
// local sessions from the stand-ins of other nodes (IsLocal). They must
// not block: some come under the dealer's lock.
type Link interface {
	broker.Remote
	// IsLocal reports whether sid is a session attached here, as opposed
	// to a stand-in for other nodes in the broker or dealer: the realm
	// emits meta events for local sessions only.
	IsLocal(sid wamp.ID) bool
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
	// RemoteSessions returns the ids of the other nodes' sessions whose
	// authrole passes filter (nil: all), from the nodes that answered
	// within a bounded wait.
	RemoteSessions(filter map[string]bool) []wamp.ID
	// RemoteSession returns the details of session id of another node.
	RemoteSession(id wamp.ID) (map[string]any, bool)
	// KillRemote closes, on the other nodes, the sessions whose by
	// ("session", "authid" or "authrole") is value, with GOODBYE reason,
	// and returns their ids once closed.
	KillRemote(by, value string, reason wamp.URI, msg string) []wamp.ID
	// RemoteSubscribers returns the other nodes' sessions on
	// subscription sub.
	RemoteSubscribers(sub wamp.ID) []wamp.ID
	// KillAll closes every session of the realm on the other nodes, as
	// wamp.session.kill_all does here, and returns how many it closed
	// (from the nodes that answered within a bounded wait).
	KillAll(reason wamp.URI, msg string) int
	// RecordHistory keeps an event of a history subscription published
	// on this node in the cluster's store, which gives it back to every
	// node (broker.Config.HistoryRecorder). It must not block.
	RecordHistory(e *broker.HistoryEvent)
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

// JoinedAt returns when the local session id was attached; ok is false
// when it is not attached (any more).
func (r *Realm) JoinedAt(id wamp.ID) (at time.Time, ok bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if m := r.sessions[id]; m != nil {
		return m.joined, true
	}
	return time.Time{}, false
}

// LocalSessions returns the attached local sessions.
func (r *Realm) LocalSessions() []*session.Session { return r.members() }

// SessionDetails is the session details dict that wamp.session.get gives
// for s.
func SessionDetails(s *session.Session) map[string]any { return sessionDetails(s) }

// LocalSubscribers returns the sessions of this node on subscription
// id, for another node's wamp.subscription.list_subscribers.
func (r *Realm) LocalSubscribers(id wamp.ID) []wamp.ID {
	ids, _ := r.broker.ListSubscribers(id)
	return ids
}

// LocalSessionIDs returns the ids of the local sessions whose authrole
// passes filter (nil: all).
func (r *Realm) LocalSessionIDs(filter map[string]bool) []wamp.ID {
	var ids []wamp.ID
	for _, s := range r.members() {
		if filter == nil || filter[s.AuthRole] {
			ids = append(ids, s.ID)
		}
	}
	return ids
}

// KillLocal closes the local sessions whose by ("session", "authid",
// "authrole") is value, but except, and returns their ids.
func (r *Realm) KillLocal(by, value string, except wamp.ID, reason wamp.URI, msg string) []wamp.ID {
	var killed []wamp.ID
	for _, s := range r.members() {
		if s.ID != except && killMatch(s, by, value) {
			s.Goodbye(reason, msg)
			killed = append(killed, s.ID)
		}
	}
	return killed
}

func killMatch(s *session.Session, by, value string) bool {
	switch by {
	case "session":
		return strconv.FormatUint(uint64(s.ID), 10) == value
	case "authid":
		return s.AuthID == value
	case "authrole":
		return s.AuthRole == value
	}
	return false
}

// clusterIDs returns the id function of broker and dealer in a cluster.
func clusterIDs(name wamp.URI) func(wamp.URI, string) wamp.ID {
	return func(uri wamp.URI, match string) wamp.ID { return ClusterID(name, uri, match) }
}
