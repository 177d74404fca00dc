package cluster

import (
	"github.com/switchboard/switchboard/broker"
	"github.com/switchboard/switchboard/wamp"
)

// Interest and forwarding. A node tells the others which subscriptions
// have local subscribers (state ops "sub" and "unsub" with the first and
// last local subscriber, and its snapshot), not which sessions: the
// others keep, per node, one stand-in subscriber (nodePeer) on each such
// subscription, so a publication is forwarded once per node with
// interest, and memory grows with subscriptions, not remote sessions.

// localSub is a subscription with local subscribers.
type localSub struct {
	uri   wamp.URI
	match string
	n     int
}

// nodeInterest is what this node keeps of another's interest.
type nodeInterest struct {
	peer *nodePeer
	// subs maps the ids its node announced to the ids of the same
	// subscriptions here. ClusterID makes them equal, but for a hash
	// collision, which one node may resolve differently from another:
	// ops and snapshots name the remote id.
	subs map[wamp.ID]wamp.ID
}

// nodePeer stands for another node's subscribers in the broker. It is
// never written to: Publish forwards to its node instead.
type nodePeer struct {
	node uint64
	id   wamp.ID
}

var _ broker.RemotePeer = (*nodePeer)(nil)

// nodePeerID is the broker's session id of a node's stand-in: above every
// session id (at most 2^53), so it never names a session.
func nodePeerID(node uint64) wamp.ID { return wamp.ID(1<<63 | node>>1) }

func (p *nodePeer) SessionID() wamp.ID                { return p.id }
func (p *nodePeer) Node() uint64                      { return p.node }
func (p *nodePeer) Serialization() wamp.Serialization { return 0 }
func (p *nodePeer) SendEvent([]byte)                  {}
func (p *nodePeer) Send(*wamp.Message) error          { return nil }
func (p *nodePeer) Auth() (string, string)            { return "", "" }

// Forward implements broker.Remote. A retained publication goes to the
// cluster's store (retained.go), which every node reads, so it is
// forwarded like any other only to the nodes with interest, without its
// retain flag: the store alone says which event is the latest.
func (l *Realm) Forward(nodes []uint64, _ bool, pub *broker.Publication) {
	if pub.Retain {
		l.n.ret.put(l.name, pub)
	}
	if len(nodes) == 0 {
		return
	}
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	b, err := appendPub((*bp)[:0], l.n.id, l.name, pub, false)
	if err != nil {
		l.n.log.Warn("publication not forwarded", "topic", string(pub.Topic), "error", err)
		return
	}
	if cap(b) <= 64<<10 {
		*bp = b // grown: keep it, within reason
	}
	for _, node := range nodes {
		if o := l.n.outboxFor(node); o == nil || !o.put(b) {
			l.n.sent(kindPub, errStopped)
		}
	}
}

// Subscribed implements realm.Link: a subscription's first local
// subscriber is announced.
func (l *Realm) Subscribed(sid, sub wamp.ID) {
	if !l.IsLocal(sid) {
		return
	}
	info, ok := l.r.Broker().Get(sub)
	if !ok {
		return // gone again: its Unsubscribed follows
	}
	l.localMu.Lock()
	defer l.localMu.Unlock()
	ls := l.subs[sub]
	if ls == nil {
		ls = &localSub{uri: info.URI, match: info.Match}
		l.subs[sub] = ls
	}
	ls.n++
	if ls.n == 1 {
		l.n.ann.add(op{K: "sub", Realm: string(l.name), ID: uint64(sub), URI: string(info.URI), Match: info.Match})
	}
}

// Unsubscribed implements realm.Link: a subscription's last local
// subscriber is announced.
func (l *Realm) Unsubscribed(sid, sub wamp.ID) {
	if !l.IsLocal(sid) {
		return
	}
	l.localMu.Lock()
	defer l.localMu.Unlock()
	ls := l.subs[sub]
	if ls == nil {
		return
	}
	if ls.n--; ls.n == 0 {
		delete(l.subs, sub)
		l.n.ann.add(op{K: "unsub", Realm: string(l.name), ID: uint64(sub)})
	}
}

// interestLocked returns node's interest, creating it. l.mu must be held.
func (l *Realm) interestLocked(node uint64) *nodeInterest {
	ni := l.interest[node]
	if ni == nil {
		ni = &nodeInterest{peer: &nodePeer{node: node, id: nodePeerID(node)}, subs: make(map[wamp.ID]wamp.ID)}
		l.interest[node] = ni
	}
	return ni
}

func (l *Realm) subLocked(ni *nodeInterest, id wamp.ID, uri, match string) {
	if _, ok := ni.subs[id]; ok {
		return
	}
	ni.subs[id] = l.r.Broker().SubscribeRemote(ni.peer, wamp.URI(uri), match)
}

func (l *Realm) unsubLocked(ni *nodeInterest, id wamp.ID) {
	local, ok := ni.subs[id]
	if !ok {
		return
	}
	delete(ni.subs, id)
	l.r.Broker().UnsubscribeRemote(ni.peer.id, local)
}

// applyOp applies one change of node's interest.
func (l *Realm) applyOp(node uint64, o *op) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch o.K {
	case "sub":
		l.subLocked(l.interestLocked(node), wamp.ID(o.ID), o.URI, o.Match)
	case "unsub":
		if ni := l.interest[node]; ni != nil {
			l.unsubLocked(ni, wamp.ID(o.ID))
		}
	}
}

// applySnapshot makes this node's view of node's interest rs.
func (l *Realm) applySnapshot(node uint64, rs realmState) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ni := l.interestLocked(node)
	want := make(map[wamp.ID]bool, len(rs.Subs))
	for _, s := range rs.Subs {
		want[wamp.ID(s.ID)] = true
		l.subLocked(ni, wamp.ID(s.ID), s.URI, s.Match)
	}
	for id := range ni.subs {
		if !want[id] {
			l.unsubLocked(ni, id)
		}
	}
}

// dropInterest forgets node's interest.
func (l *Realm) dropInterest(node uint64) {
	l.mu.Lock()
	ni := l.interest[node]
	delete(l.interest, node)
	l.mu.Unlock()
	if ni != nil {
		l.r.Broker().RemoveSession(ni.peer.id)
	}
}

// snapshot returns this node's interest in the realm.
func (l *Realm) snapshot() realmState {
	rs := realmState{Realm: string(l.name)}
	l.localMu.Lock()
	defer l.localMu.Unlock()
	rs.Sessions = len(l.local)
	for id, ls := range l.subs {
		rs.Subs = append(rs.Subs, ref{ID: uint64(id), URI: string(ls.uri), Match: ls.match})
	}
	return rs
}
