package broker

import (
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/switchboard/switchboard/internal/hookq"
	"github.com/switchboard/switchboard/wamp"
	"github.com/switchboard/switchboard/wamp/codec"
)

// Peer is a subscriber or publisher as the broker sees it.
type Peer interface {
	SessionID() wamp.ID
	Serialization() wamp.Serialization
	// SendEvent queues an encoded EVENT shared with other peers; it may be
	// dropped under the peer's slow-consumer policy.
	SendEvent(frame []byte)
	// Send encodes and queues a reply to this peer.
	Send(m *wamp.Message) error
	// Auth returns the peer's authid and authrole, for black/white-listing
	// by authid and authrole and for publisher disclosure.
	Auth() (authid, authrole string)
}

// Broker is the pub/sub router of one realm.
type Broker struct {
	cfg Config
	log *slog.Logger

	mu        sync.RWMutex
	idx       *index
	byID      map[wamp.ID]*subscription
	bySession map[wamp.ID][]*subscription

	// ret is read and written under mu (read-locked by Publish, so it has
	// a lock of its own; lock order mu -> ret.mu).
	ret   retainStore
	hooks hookq.Queue // calls of cfg.Hooks waiting for the lock to be released (meta.go)
}

// subscription is one (topic, match) with all its subscribers; the
// specification has subscribers of the same topic and policy share one id.
type subscription struct {
	id      wamp.ID
	uri     wamp.URI
	match   string // wamp.MatchExact, MatchPrefix or MatchWildcard
	created time.Time
	// subs is what the fan-out walks: a slice, so that a publication
	// reads its subscribers in order with no allocation. pos is the index
	// of each in subs by session id, so that the duplicate check of
	// SUBSCRIBE and a departure cost the same on a topic with ten
	// thousand subscribers as on one with ten, where a scan of subs made
	// a crowd leaving one topic quadratic (BenchmarkUnsubscribe). Both
	// change together, under the write lock.
	subs []Peer
	pos  map[wamp.ID]int
	// nodes are the other nodes with subscribers (RemotePeer) here, with
	// how many each, so that Publish finds the nodes to forward to from
	// the subscriptions it matched, without walking their subscribers
	// (broker/remote.go). Changed under the write lock with subs.
	nodes []nodeCount
	// hist, when set, keeps the last events (Config.History); such a
	// subscription is created with the broker and never deleted.
	hist *history
}

// New returns a broker whose only subscriptions are those Config.History
// asks for. It panics if cfg does not Validate: the config loader
// validates realm settings first, so an invalid Config here is a bug.
func New(cfg Config) *Broker {
	if err := cfg.Validate(); err != nil {
		panic(err)
	}
	if cfg.IDs == nil {
		cfg.IDs = new(wamp.IDGen)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxRetained == 0 {
		cfg.MaxRetained = DefaultMaxRetained
	}
	if cfg.MaxRetainedBytes == 0 {
		cfg.MaxRetainedBytes = DefaultMaxRetainedBytes
	}
	b := &Broker{
		cfg:       cfg,
		log:       cfg.Logger,
		idx:       newIndex(cfg.MatchCache),
		byID:      make(map[wamp.ID]*subscription),
		bySession: make(map[wamp.ID][]*subscription),
		ret:       retainStore{max: cfg.MaxRetained, maxBytes: cfg.MaxRetainedBytes},
	}
	for _, h := range cfg.History {
		match, _ := parseMatch(h.Match)
		sub := b.newSubLocked(h.Topic, match)
		sub.hist = newHistory(h.Limit)
	}
	return b
}

// Features is what the broker announces in WELCOME: only what it does.
// Publication trust levels are those PublishTrust is given (the realm's,
// by role or from the authenticator); payload passthru covers both the
// specification's ppt_* and Autobahn's older payload_transparency.
// subscription_meta_api and event_history are announced by whoever serves
// the meta procedures, since the broker only provides their data.
func Features() wamp.Dict {
	return wamp.Dict{"features": map[string]any{
		"publication_trustlevels":       true,
		"payload_passthru_mode":         true,
		"payload_transparency":          true,
		"publisher_exclusion":           true,
		"subscriber_blackwhite_listing": true,
		"publisher_identification":      true,
		"pattern_based_subscription":    true,
		"event_retention":               true,
	}}
}

// publisher is who published, as far as the events may tell, and what
// the router adds to every EVENT of the publication.
type publisher struct {
	id               wamp.ID // 0 for the router itself (Emit)
	disclose         bool
	authid, authrole string
	excludeMe        bool
	// trust is the publication's trust level (none: zero value).
	trust wamp.TrustLevel
	// ppt is the PUBLISH's payload passthru attributes, forwarded in
	// EVENT.Details (advanced/payload_passthru_mode.md).
	ppt wamp.Passthru
}

// details returns the EVENT details for one publication: d (nil, or a
// fresh dict of the pattern's topic or retained flag) with the publisher's
// identity added when disclosed, the trust level and the passthru
// attributes. The dict is shared by every frame and the history: nothing
// changes it after. A publication with a trust level only gets a shared
// dict (wamp.TrustLevel.Details), so that trust levels cost the plain
// publication no allocation.
func (pi *publisher) details(d wamp.Dict) wamp.Dict {
	if !pi.disclose && pi.ppt.IsZero() {
		if pi.trust == 0 {
			return d
		}
		if d == nil {
			return pi.trust.Details()
		}
		n, _ := pi.trust.Level()
		d["trustlevel"] = n
		return d
	}
	if d == nil {
		d = make(wamp.Dict, 4+pi.ppt.Len())
	}
	if n, ok := pi.trust.Level(); ok {
		d["trustlevel"] = n
	}
	pi.ppt.AddTo(d)
	if !pi.disclose {
		return d
	}
	d["publisher"] = pi.id
	if pi.authid != "" {
		d["publisher_authid"] = pi.authid
	}
	if pi.authrole != "" {
		d["publisher_authrole"] = pi.authrole
	}
	return d
}

// Publish handles PUBLISH from pub, with no trust level (PublishTrust).
func (b *Broker) Publish(pub Peer, m *wamp.Message) { _ = b.PublishTrust(pub, m, 0) }

// PublishTrust handles PUBLISH from pub, whose events get trust level
// trust (zero value: none). m borrows the publisher's frame; every EVENT
// is encoded before it returns. One frame is encoded per (subscription,
// serializer) and shared by all its subscribers that speak that
// serializer.
//
// The error is a protocol violation of the publisher, for which its
// session must be aborted: payload passthru options from a peer that did
// not announce the feature (advanced/payload_passthru_mode.md). pub is
// asked (HasFeature, when it has the method) only for such a publication.
func (b *Broker) PublishTrust(pub Peer, m *wamp.Message, trust wamp.TrustLevel) error {
	if !wamp.ValidURI(m.URI, b.cfg.StrictURIs, false) {
		_ = pub.Send(wamp.ErrorReply(wamp.PUBLISH, m.Request, wamp.ErrInvalidURI, "invalid topic URI "+quote(string(m.URI))))
		return nil
	}
	if m.URI.Reserved() {
		_ = pub.Send(wamp.ErrorReply(wamp.PUBLISH, m.Request, wamp.ErrInvalidURI, "topics under wamp. are reserved for the router"))
		return nil
	}
	o := pubOptions{excludeMe: true}
	if len(m.Details) > 0 {
		if err := o.parse(m.Details); err != nil {
			_ = pub.Send(wamp.AsError(err, wamp.ErrInvalidArgument).Reply(wamp.PUBLISH, m.Request))
			return nil
		}
		if !o.ppt.IsZero() {
			if err := checkPassthru(pub, "publisher", &o.ppt, m); err != nil {
				_ = pub.Send(wamp.AsError(err, wamp.ErrInvalidArgument).Reply(wamp.PUBLISH, m.Request))
				return protocolError(err)
			}
		}
	}
	// pc lives on the stack: it holds the filter and publisher by value
	// so that nothing of it escapes with what the history keeps.
	pc := pubCtx{f: o.filter, pi: publisher{id: pub.SessionID(), excludeMe: o.excludeMe, disclose: o.discloseMe, trust: trust, ppt: o.ppt}}
	if b.cfg.Remote != nil {
		pc.forward, pc.options = true, m.Details
	}
	switch b.cfg.Disclose {
	case DiscloseAlways:
		pc.pi.disclose = true
	case DiscloseNever:
		if o.discloseMe {
			_ = pub.Send(wamp.ErrorReply(wamp.PUBLISH, m.Request, ErrOptionDisallowedDiscloseMe, "this realm does not disclose publishers"))
			return nil
		}
	}
	if pc.pi.disclose {
		pc.pi.authid, pc.pi.authrole = pub.Auth()
	}
	pubID := b.publish(&pc, m.URI, m.Args, m.Kwargs, o.retain)
	if o.ack {
		ack := wamp.Acquire()
		ack.Type, ack.Request, ack.ID = wamp.PUBLISHED, m.Request, pubID
		_ = pub.Send(ack)
		wamp.Release(ack)
	}
	return nil
}

// Emit publishes an event of the router itself (a meta event) to topic,
// which may be under wamp.; the sessions in exclude do not receive it. args
// and kwargs are built by the router (Payload.Value). It is safe to call
// from Hooks. It returns the publication id.
func (b *Broker) Emit(topic wamp.URI, args, kwargs wamp.Payload, exclude []wamp.ID) wamp.ID {
	var pc pubCtx
	if len(exclude) > 0 {
		pc.f.exclude = idSet{on: true, ids: exclude}
		pc.f.active = true
		pc.options = wamp.Dict{"exclude": idsAny(exclude)}
	}
	// In a cluster a router event goes to the other nodes' subscribers
	// too: each node emits the events of its own sessions only.
	pc.forward = b.cfg.Remote != nil
	return b.publish(&pc, topic, args, kwargs, false)
}

func idsAny(ids []wamp.ID) []any {
	out := make([]any, len(ids))
	for i, id := range ids {
		out[i] = uint64(id)
	}
	return out
}

// HasSubscribers reports whether a publication to topic would match any
// subscription, local or remote, so that the router can skip building
// meta events nobody listens to.
func (b *Broker) HasSubscribers(topic wamp.URI) bool {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.idx.exact[topic] != nil {
		return true
	}
	if !b.idx.patterns() {
		return false
	}
	var buf [8]*subscription
	return len(b.idx.matchPatterns(topic, buf[:0])) > 0
}

// pubCtx is one publication on its way to the subscriptions it matches.
type pubCtx struct {
	f      filter
	pi     publisher
	ev     *wamp.Message
	topic  wamp.URI
	now    time.Time
	copied bool // args and kwargs below hold own copies of the payload
	args   wamp.Payload
	kwargs wamp.Payload

	// Cluster only (broker/remote.go): forward is set for a client's
	// PUBLISH when a Remote is configured; nodes collects the nodes with
	// remote subscribers on the matched subscriptions; pubID, when set, is
	// the publication id given by the node it came from.
	forward bool
	options wamp.Dict
	nodes   nodeSet
	pubID   wamp.ID
}

// publish delivers one publication whose filter and publisher pc holds.
// The topic is matched once: the subscriptions found give the nodes to
// forward to (first, so that the other nodes do not wait for the local
// fan-out) and then the local subscribers.
func (b *Broker) publish(pc *pubCtx, topic wamp.URI, args, kwargs wamp.Payload, retain bool) wamp.ID {
	pubID := pc.pubID
	if pubID == 0 {
		pubID = wamp.GlobalID()
	}
	ev := wamp.Acquire()
	ev.Type, ev.Publication, ev.Args, ev.Kwargs = wamp.EVENT, pubID, args, kwargs
	pc.ev, pc.topic = ev, topic
	pi := &pc.pi

	var buf [8]*subscription
	var subs []*subscription
	b.mu.RLock()
	exact := b.idx.exact[topic]
	if b.idx.patterns() {
		subs = b.idx.matchPatterns(topic, buf[:0])
	}
	if pc.forward && (pc.addNodes(exact, subs) || retain) {
		// Forward runs without mu: it publishes to NATS, which may block,
		// and a reader blocked under mu would stall every SUBSCRIBE and,
		// behind a waiting writer, every other publisher; the cluster
		// also calls into the broker holding its own locks. So the lock
		// is released and taken again, and the index may change in
		// between. Nodes are those of before: a remote subscriber that
		// came meanwhile misses the event as if it had subscribed just
		// after, and a node that lost its last one gets an event it
		// delivers to nobody. Locally, exact is looked up again (one map
		// lookup) and the patterns matched again if they changed (gen),
		// so the fan-out below sees the index as it is once the lock is
		// held again, as a publication made at that moment would: a
		// SUBSCRIBE with get_retained done in between gets this event
		// live (the retained one is stored below), never neither. A
		// publisher's events stay in order: one publisher forwards and
		// delivers them one after another.
		gen := b.idx.gen.Load()
		b.mu.RUnlock()
		b.forward(pc, pubID, retain)
		b.mu.RLock()
		exact = b.idx.exact[topic]
		if b.idx.gen.Load() != gen {
			subs = nil
			if b.idx.patterns() {
				subs = b.idx.matchPatterns(topic, buf[:0])
			}
		}
	}
	if exact != nil {
		ev.Details = pi.details(nil)
		b.deliver(exact, pc)
	}
	if len(subs) > 0 {
		// Pattern subscribers learn the concrete topic.
		ev.Details = pi.details(wamp.Dict{"topic": string(topic)})
		for _, sub := range subs {
			b.deliver(sub, pc)
		}
	}
	if retain {
		// Stored under the read lock, so that a SUBSCRIBE (write lock)
		// with get_retained sees either this event live or retained,
		// never neither.
		b.ret.put(&retainedEvent{
			topic: topic, pubID: pubID, args: pc.ownArgs(), kwargs: pc.kwargs,
			pub: pc.pi, filter: pc.f,
		})
	}
	b.mu.RUnlock()
	wamp.Release(ev)
	return pubID
}

// ownArgs copies the payload out of the publisher's frame, once per
// publication, for what outlives Publish (retained event, history).
func (pc *pubCtx) ownArgs() wamp.Payload {
	if !pc.copied {
		pc.args, pc.kwargs = pc.ev.Args.Clone(), pc.ev.Kwargs.Clone()
		pc.copied = true
	}
	return pc.args
}

// deliver queues pc's event to the subscribers of sub and records it in
// sub's history. b.mu must be held (read).
func (b *Broker) deliver(sub *subscription, pc *pubCtx) {
	var frames [4][]byte // indexed by wamp.Serialization
	ev := pc.ev
	ev.ID = sub.id
	size := 32 + len(ev.Args.Raw) + len(ev.Kwargs.Raw)
	if ev.Details != nil {
		size += 64 + len(pc.topic)
	}
	// The checks are hoisted out of the loop, which runs once per
	// subscriber: with no lists it costs what it did before they existed.
	excludeMe, self := pc.pi.excludeMe, pc.pi.id
	f := &pc.f
	filtered := f.active
	for _, p := range sub.subs {
		// Serialization 0 is a subscriber on another node (RemotePeer):
		// its node got the publication before this fan-out (publish).
		ser := p.Serialization()
		if ser == 0 || excludeMe && p.SessionID() == self || filtered && !f.allows(p) {
			continue
		}
		f := frames[ser]
		if f == nil {
			var err error
			f, err = codec.For(ser).Encode(make([]byte, 0, size), ev)
			if err != nil {
				b.log.Warn("cannot encode event", "serializer", ser.String(), "subscription", uint64(sub.id), "error", err)
				continue
			}
			frames[ser] = f
		}
		p.SendEvent(f)
	}
	// Events with black/white-lists are not kept: GetEvents cannot know
	// who will read them, and the specification warns that session-based
	// lists would leak to later sessions.
	if sub.hist != nil && !pc.f.active {
		if pc.now.IsZero() {
			pc.now = time.Now()
		}
		e := HistoryEvent{
			Timestamp: pc.now, Subscription: sub.id, Publication: ev.Publication,
			Topic: pc.topic, Details: ev.Details, Args: pc.ownArgs(), Kwargs: pc.kwargs,
		}
		switch {
		case b.cfg.HistoryRecorder == nil:
			sub.hist.add(e)
		case pc.pubID == 0:
			// Published here (a publication from another node carries
			// its id): the store keeps it, and gives it to every node.
			b.cfg.HistoryRecorder(&e)
		}
	}
}

// Subscribe handles SUBSCRIBE.
func (b *Broker) Subscribe(p Peer, m *wamp.Message) {
	opt, err := wamp.OptString(m.Details, "match")
	if err != nil {
		_ = p.Send(wamp.AsError(err, wamp.ErrInvalidArgument).Reply(wamp.SUBSCRIBE, m.Request))
		return
	}
	match, err := parseMatch(opt)
	if err != nil {
		_ = p.Send(wamp.AsError(err, wamp.ErrInvalidArgument).Reply(wamp.SUBSCRIBE, m.Request))
		return
	}
	getRetained, err := wamp.OptBool(m.Details, "get_retained", false)
	if err != nil {
		_ = p.Send(wamp.AsError(err, wamp.ErrInvalidArgument).Reply(wamp.SUBSCRIBE, m.Request))
		return
	}
	if !validPattern(m.URI, match, b.cfg.StrictURIs) {
		_ = p.Send(wamp.ErrorReply(wamp.SUBSCRIBE, m.Request, wamp.ErrInvalidURI, "invalid "+match+" topic URI "+quote(string(m.URI))))
		return
	}
	sid := p.SessionID()
	b.mu.Lock()
	sub := b.idx.get(m.URI, match)
	if sub == nil {
		// The topic outlives the frame it came in: copy it (decoders give
		// strings today, but the Message contract says "borrowed").
		sub = b.newSubLocked(wamp.URI(string([]byte(m.URI))), match)
		info := sub.info()
		b.hook(func(h Hooks) { h.OnCreate(sid, info) })
	}
	if !sub.has(sid) {
		sub.add(p)
		b.bySession[sid] = append(b.bySession[sid], sub)
		id := sub.id
		b.hook(func(h Hooks) { h.OnSubscribe(sid, id) })
	}
	_ = p.Send(&wamp.Message{Type: wamp.SUBSCRIBED, Request: m.Request, ID: sub.id})
	if getRetained {
		// Under the write lock: no live event of the subscription can be
		// queued before the retained ones.
		b.sendRetainedLocked(p, sub)
	}
	b.mu.Unlock()
	b.hooks.Run()
}

// newSubLocked creates and indexes a subscription. b.mu must be held, or
// the broker not yet shared.
func (b *Broker) newSubLocked(uri wamp.URI, match string) *subscription {
	sub := &subscription{id: b.newID(uri, match), uri: uri, match: match, created: time.Now()}
	b.idx.add(sub)
	b.byID[sub.id] = sub
	return sub
}

func (s *subscription) has(sid wamp.ID) bool {
	_, ok := s.pos[sid]
	return ok
}

// Unsubscribe handles UNSUBSCRIBE.
func (b *Broker) Unsubscribe(p Peer, m *wamp.Message) {
	sid := p.SessionID()
	b.mu.Lock()
	sub := b.byID[m.ID]
	if sub == nil || !sub.has(sid) {
		b.mu.Unlock()
		_ = p.Send(wamp.ErrorReply(wamp.UNSUBSCRIBE, m.Request, wamp.ErrNoSuchSubscription, "no such subscription"))
		return
	}
	b.removeLocked(sub, sid)
	b.bySession[sid] = slices.DeleteFunc(b.bySession[sid], func(x *subscription) bool { return x == sub })
	if len(b.bySession[sid]) == 0 {
		delete(b.bySession, sid)
	}
	_ = p.Send(&wamp.Message{Type: wamp.UNSUBSCRIBED, Request: m.Request})
	b.mu.Unlock()
	b.hooks.Run()
}

// RemoveSession drops every subscription of a session that left.
func (b *Broker) RemoveSession(sid wamp.ID) {
	b.mu.Lock()
	for _, sub := range b.bySession[sid] {
		b.removeLocked(sub, sid)
	}
	delete(b.bySession, sid)
	b.mu.Unlock()
	b.hooks.Run()
}

// add appends p to the subscribers of s and counts its node if it is on
// another node. b.mu must be held.
func (s *subscription) add(p Peer) {
	if s.pos == nil {
		s.pos = make(map[wamp.ID]int)
	}
	s.pos[p.SessionID()] = len(s.subs)
	s.subs = append(s.subs, p)
	if node, ok := remoteNode(p); ok {
		s.addNode(node)
	}
}

// removeLocked takes sid out of sub and drops sub when it is empty (unless
// it keeps a history). It is the one path by which a subscriber leaves a
// subscription (Unsubscribe, UnsubscribeRemote, RemoveSession), so the
// only place that uncounts a remote subscriber's node. Editing the
// subscriber slice in place is safe because Publish iterates it only under
// the read lock. The last subscriber takes the place of the one that
// leaves, which changes the order of the rest: nothing promises an order
// among the subscribers of one publication, only that of the events each
// one gets (docs/cluster.md). b.mu must be held.
func (b *Broker) removeLocked(sub *subscription, sid wamp.ID) {
	if i, ok := sub.pos[sid]; ok {
		if node, ok := remoteNode(sub.subs[i]); ok {
			sub.dropNode(node)
		}
		last := len(sub.subs) - 1
		if i != last {
			moved := sub.subs[last]
			sub.subs[i] = moved
			sub.pos[moved.SessionID()] = i
		}
		sub.subs[last] = nil
		sub.subs = sub.subs[:last]
		delete(sub.pos, sid)
	}
	id := sub.id
	b.hook(func(h Hooks) { h.OnUnsubscribe(sid, id) })
	if len(sub.subs) == 0 && sub.hist == nil {
		b.idx.remove(sub)
		delete(b.byID, sub.id)
		b.hook(func(h Hooks) { h.OnDelete(sid, id) })
	}
}

// SubscriptionCount returns the number of subscriptions (for tests and
// status pages).
func (b *Broker) SubscriptionCount() int {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return len(b.byID)
}
