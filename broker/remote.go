package broker

import (
	"strings"
	"sync"

	"github.com/switchboard/switchboard/wamp"
)

// The cluster seam. A session on another node is represented here by a
// RemotePeer that subscribes like a local one (so that the meta API and
// meta events see it), but never gets an EVENT. Each subscription counts
// the nodes of its RemotePeers; Publish collects the nodes of the
// subscriptions it matched and, before the local subscribers get theirs,
// hands the publication to Remote once per node that has interest. The
// node that receives it calls DeliverRemote, which delivers to its local
// subscribers only, with the filters and disclosure of the original
// PUBLISH. The black/white-lists and exclude_me are applied there, not
// here: a node whose subscribers they all exclude gets the publication
// and delivers it to nobody, which spares the publisher's node a walk of
// the subscribers before forwarding. Without a Remote none of this runs.

// RemotePeer is a subscriber on another node. Its Serialization is 0,
// which is how Publish tells it from a local subscriber without a type
// assertion per subscriber; SendEvent is never called.
type RemotePeer interface {
	Peer
	// Node is the node the session is attached to; never 0, and the same
	// for as long as the peer is subscribed (subscriptions count their
	// remote subscribers by node).
	Node() uint64
}

// Remote forwards publications to other nodes.
type Remote interface {
	// Forward sends pub to each node in nodes, and to every node when
	// all is set (a retained event, which every node keeps). nodes are
	// the nodes with subscribers on the subscriptions the topic matches,
	// before the black/white-lists. nodes, pub and its payload are valid
	// only during the call. Forward is called on the publisher's reader, one
	// publication after another, which keeps the publisher's order, and
	// before the publication is delivered to this node's subscribers. It
	// is called without the broker's lock, so it may block and may call
	// into the broker.
	Forward(nodes []uint64, all bool, pub *Publication)
}

// Publication is one PUBLISH as it travels between nodes.
type Publication struct {
	Topic        wamp.URI
	ID           wamp.ID
	Args, Kwargs wamp.Payload
	Retain       bool
	// Options are the PUBLISH options when it has black/white-lists (nil
	// otherwise), from which the receiving node reads them again.
	Options wamp.Dict
	// Publisher and what the events may tell of it: the realm's
	// disclosure policy has been applied by the publisher's node.
	Publisher        wamp.ID
	ExcludeMe        bool
	Disclose         bool
	AuthID, AuthRole string
	// Trust is the trust level the publisher's node gave the publication
	// (zero value: none), and Passthru the PUBLISH's payload passthru
	// attributes (nil: none; a pointer, so that the publications without
	// any, which Forward passes on the heap, stay as small as before):
	// both go into every EVENT as they would on that node.
	Trust    wamp.TrustLevel
	Passthru *wamp.Passthru
}

// passthru returns pub's attributes, the zero value for none.
func (pub *Publication) passthru() wamp.Passthru {
	if pub.Passthru == nil {
		return wamp.Passthru{}
	}
	return *pub.Passthru
}

// passthruOf returns a copy of p for a Publication: nil for none.
func passthruOf(p *wamp.Passthru) *wamp.Passthru {
	if p.IsZero() {
		return nil
	}
	c := *p
	return &c
}

// nodeCount is a node with subscribers on one subscription, and how many.
type nodeCount struct {
	node uint64
	n    int
}

// remoteNode returns the node of p if p is a subscriber on another node:
// Serialization 0 and a RemotePeer, as deliver tells them apart.
func remoteNode(p Peer) (uint64, bool) {
	if p.Serialization() != 0 {
		return 0, false
	}
	rp, ok := p.(RemotePeer)
	if !ok {
		return 0, false
	}
	return rp.Node(), true
}

// addNode counts one more subscriber of node. b.mu must be held.
func (s *subscription) addNode(node uint64) {
	for i := range s.nodes {
		if s.nodes[i].node == node {
			s.nodes[i].n++
			return
		}
	}
	s.nodes = append(s.nodes, nodeCount{node: node, n: 1})
}

// dropNode counts one subscriber of node less and forgets the node with
// its last one. Editing in place is safe: Publish reads nodes only under
// the read lock. b.mu must be held.
func (s *subscription) dropNode(node uint64) {
	for i := range s.nodes {
		if s.nodes[i].node != node {
			continue
		}
		if s.nodes[i].n--; s.nodes[i].n == 0 {
			last := len(s.nodes) - 1
			s.nodes[i] = s.nodes[last]
			s.nodes = s.nodes[:last]
		}
		return
	}
}

// addNodes collects the nodes of exact (may be nil) and subs into
// pc.nodes and reports whether there are any. b.mu must be held (read).
func (pc *pubCtx) addNodes(exact *subscription, subs []*subscription) bool {
	if exact != nil {
		for _, c := range exact.nodes {
			pc.nodes.add(c.node)
		}
	}
	for _, sub := range subs {
		for _, c := range sub.nodes {
			pc.nodes.add(c.node)
		}
	}
	return pc.nodes.n > 0
}

// nodeSet collects the distinct nodes of one publication; a handful of
// nodes fit without allocating.
type nodeSet struct {
	n    int
	fix  [8]uint64
	more []uint64
}

func (s *nodeSet) add(node uint64) {
	for _, x := range s.list() {
		if x == node {
			return
		}
	}
	if s.n < len(s.fix) {
		s.fix[s.n] = node
	} else {
		s.more = append(s.more, node)
	}
	s.n++
}

func (s *nodeSet) list() []uint64 {
	if s.n <= len(s.fix) {
		return s.fix[:s.n]
	}
	return append(s.fix[:], s.more...)
}

// forwarded is what forward hands the Remote. Passed through an
// interface it would escape, so it is pooled: a forwarded publication
// allocates nothing here.
type forwarded struct {
	pub   Publication
	nodes []uint64
}

var forwardedPool = sync.Pool{New: func() any { return new(forwarded) }}

// forward hands a client's publication to the Remote.
func (b *Broker) forward(pc *pubCtx, pubID wamp.ID, retain bool) {
	f := forwardedPool.Get().(*forwarded)
	f.pub = Publication{
		Topic: pc.topic, ID: pubID, Args: pc.ev.Args, Kwargs: pc.ev.Kwargs, Retain: retain,
		Publisher: pc.pi.id, ExcludeMe: pc.pi.excludeMe, Disclose: pc.pi.disclose,
		AuthID: pc.pi.authid, AuthRole: pc.pi.authrole,
		Trust: pc.pi.trust, Passthru: passthruOf(&pc.pi.ppt),
	}
	if pc.f.active {
		// Only the black/white-lists matter to the other nodes: the rest
		// of the options was applied here.
		f.pub.Options = pc.options
	}
	// A copy: the list in pc would make every publication's pc escape to
	// the heap, cluster or not.
	f.nodes = append(f.nodes[:0], pc.nodes.list()...)
	b.cfg.Remote.Forward(f.nodes, retain, &f.pub)
	f.pub = Publication{} // the payload and options are the publisher's frame's
	forwardedPool.Put(f)
}

// DeliverRemote delivers a publication from another node to this node's
// subscribers (and keeps it when retained). It never forwards.
func (b *Broker) DeliverRemote(pub *Publication) {
	var o pubOptions
	if len(pub.Options) > 0 {
		if err := o.parse(pub.Options); err != nil {
			b.log.Warn("bad options in a publication from another node", "topic", string(pub.Topic), "error", err)
			return
		}
	}
	pc := pubCtx{f: o.filter, pubID: pub.ID, pi: publisher{
		id: pub.Publisher, excludeMe: pub.ExcludeMe, disclose: pub.Disclose,
		authid: pub.AuthID, authrole: pub.AuthRole, trust: pub.Trust, ppt: pub.passthru(),
	}}
	b.publish(&pc, pub.Topic, pub.Args, pub.Kwargs, pub.Retain)
}

// StoreRetained keeps pub as the retained event of its topic, as if it
// had been published here with retain: true (publisher, exclude_me,
// disclosure, the black/white-lists read from pub.Options as
// DeliverRemote reads them, publication id pub.ID, or a new one if 0),
// but delivers it to nobody and forwards it nowhere: the cluster calls it
// with the retained events it reads from its replicated store, at startup
// among others. pub is valid only during the call: the broker keeps its
// own copy of the topic and payload. MaxRetained and MaxRetainedBytes
// apply as to a publication. Of two retained events of one topic the one
// stored last stays, whether published or stored: the caller orders
// them.
func (b *Broker) StoreRetained(pub *Publication) {
	var o pubOptions
	if len(pub.Options) > 0 {
		if err := o.parse(pub.Options); err != nil {
			b.log.Warn("bad options in a stored retained event", "topic", string(pub.Topic), "error", err)
			return
		}
	}
	id := pub.ID
	if id == 0 {
		id = wamp.GlobalID()
	}
	e := &retainedEvent{
		topic: wamp.URI(strings.Clone(string(pub.Topic))), pubID: id,
		args: pub.Args.Clone(), kwargs: pub.Kwargs.Clone(),
		pub: publisher{
			id: pub.Publisher, excludeMe: pub.ExcludeMe, disclose: pub.Disclose,
			authid: pub.AuthID, authrole: pub.AuthRole, trust: pub.Trust, ppt: pub.passthru(),
		},
		filter: o.filter,
	}
	// Under the read lock, as publish stores a retained event.
	b.mu.RLock()
	b.ret.put(e)
	b.mu.RUnlock()
}

// RetainedEvent returns the retained event of topic, if any, as a
// Publication with Retain set and its own copy of the payload, for the
// cluster to write to its store (StoreRetained takes it back) and for
// tests. Options holds the black/white-lists only, rebuilt from what the
// broker kept (nil when there were none): acknowledge, exclude_me,
// disclose_me and retain are not kept, and ExcludeMe, Disclose and Retain
// carry what matters of them.
func (b *Broker) RetainedEvent(topic wamp.URI) (Publication, bool) {
	e := b.ret.get(topic)
	if e == nil {
		return Publication{}, false
	}
	return Publication{
		Topic: e.topic, ID: e.pubID, Args: e.args.Clone(), Kwargs: e.kwargs.Clone(), Retain: true,
		Options: e.filter.options(), Publisher: e.pub.id, ExcludeMe: e.pub.excludeMe,
		Disclose: e.pub.disclose, AuthID: e.pub.authid, AuthRole: e.pub.authrole,
		Trust: e.pub.trust, Passthru: passthruOf(&e.pub.ppt),
	}, true
}

// SubscribeRemote adds a session of another node to the subscription
// (topic, match), creating it if need be, and returns its id. The meta
// hooks run as for a local SUBSCRIBE.
func (b *Broker) SubscribeRemote(p RemotePeer, topic wamp.URI, match string) wamp.ID {
	sid := p.SessionID()
	b.mu.Lock()
	sub := b.idx.get(topic, match)
	if sub == nil {
		sub = b.newSubLocked(topic, match)
		info := sub.info()
		b.hook(func(h Hooks) { h.OnCreate(sid, info) })
	}
	if !sub.has(sid) {
		sub.add(p)
		b.bySession[sid] = append(b.bySession[sid], sub)
		id := sub.id
		b.hook(func(h Hooks) { h.OnSubscribe(sid, id) })
	}
	id := sub.id
	b.mu.Unlock()
	b.hooks.Run()
	return id
}

// UnsubscribeRemote removes a session of another node from subscription
// id; it does nothing when the session is not on it.
func (b *Broker) UnsubscribeRemote(sid, id wamp.ID) {
	b.mu.Lock()
	sub := b.byID[id]
	if sub == nil || !sub.has(sid) {
		b.mu.Unlock()
		return
	}
	b.removeLocked(sub, sid)
	list := b.bySession[sid]
	for i, x := range list {
		if x == sub {
			list = append(list[:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(b.bySession, sid)
	} else {
		b.bySession[sid] = list
	}
	b.mu.Unlock()
	b.hooks.Run()
}

// SessionSubscriptions returns the subscriptions of session sid, for the
// state a node announces to the others.
func (b *Broker) SessionSubscriptions(sid wamp.ID) []SubscriptionInfo {
	b.mu.RLock()
	defer b.mu.RUnlock()
	subs := b.bySession[sid]
	out := make([]SubscriptionInfo, len(subs))
	for i, s := range subs {
		out[i] = s.info()
	}
	return out
}

// newID numbers a new subscription. b.mu must be held. Should the
// cluster's id of (uri, match) be taken (a hash collision, which 53 bits
// make unlikely), a counter's id serves, and that subscription's id differs
// between nodes.
func (b *Broker) newID(uri wamp.URI, match string) wamp.ID {
	if b.cfg.IDFor != nil {
		if id := b.cfg.IDFor(uri, match); b.byID[id] == nil {
			return id
		}
	}
	return b.cfg.IDs.Next()
}

// RetainedCount returns the number of topics with a retained event, for
// status pages and tests.
func (b *Broker) RetainedCount() int { return b.ret.count() }
