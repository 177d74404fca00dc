package broker

import (
	"log/slog"
	"slices"
	"sync"

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
}

// Config configures a Broker.
type Config struct {
	// StrictURIs checks topics with the strict URI rules. Zero value: loose.
	StrictURIs bool
	// IDs numbers subscriptions. Share one across the router so that ids
	// are of router scope. Nil means a broker-local generator.
	IDs *wamp.IDGen
	// Logger for encoding failures. Nil means discard.
	Logger *slog.Logger
}

// Broker is the pub/sub router of one realm.
type Broker struct {
	cfg Config
	log *slog.Logger

	mu        sync.RWMutex
	topics    map[wamp.URI]*subscription
	byID      map[wamp.ID]*subscription
	bySession map[wamp.ID][]*subscription
}

// subscription is one (topic, match) with all its subscribers; the
// specification has subscribers of the same topic share one id.
type subscription struct {
	id    wamp.ID
	topic wamp.URI
	subs  []Peer
}

// New returns an empty broker.
func New(cfg Config) *Broker {
	if cfg.IDs == nil {
		cfg.IDs = new(wamp.IDGen)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Broker{
		cfg:       cfg,
		log:       cfg.Logger,
		topics:    make(map[wamp.URI]*subscription),
		byID:      make(map[wamp.ID]*subscription),
		bySession: make(map[wamp.ID][]*subscription),
	}
}

// Features is what the broker announces in WELCOME: only what it does.
func Features() wamp.Dict {
	return wamp.Dict{"features": map[string]any{
		"publisher_exclusion": true,
	}}
}

func replyError(p Peer, req wamp.Type, id wamp.ID, uri wamp.URI, msg string) {
	_ = p.Send(&wamp.Message{Type: wamp.ERROR, ErrType: req, Request: id, URI: uri, Details: wamp.Dict{"message": msg}})
}

// replyWAMPError answers with the URI and message of err, a *wamp.Error.
func replyWAMPError(p Peer, req wamp.Type, id wamp.ID, err error) {
	we, ok := err.(*wamp.Error)
	if !ok {
		we = wamp.NewError(wamp.ErrInvalidArgument, err.Error())
	}
	replyError(p, req, id, we.URI, we.Msg)
}

// Publish handles PUBLISH from pub. m borrows the publisher's frame; every
// EVENT is encoded before Publish returns. One frame is encoded per
// serializer and shared by all subscribers that speak it.
func (b *Broker) Publish(pub Peer, m *wamp.Message) {
	if !wamp.ValidURI(m.URI, b.cfg.StrictURIs, false) {
		replyError(pub, wamp.PUBLISH, m.Request, wamp.ErrInvalidURI, "invalid topic URI "+string(m.URI))
		return
	}
	if m.URI.Reserved() {
		replyError(pub, wamp.PUBLISH, m.Request, wamp.ErrInvalidURI, "topics under wamp. are reserved for the router")
		return
	}
	excludeMe, err := wamp.OptBool(m.Details, "exclude_me", true)
	if err != nil {
		replyWAMPError(pub, wamp.PUBLISH, m.Request, err)
		return
	}
	ack, err := wamp.OptBool(m.Details, "acknowledge", false)
	if err != nil {
		replyWAMPError(pub, wamp.PUBLISH, m.Request, err)
		return
	}
	pubID := wamp.GlobalID()
	ev := wamp.Acquire()
	ev.Type, ev.Publication, ev.Args, ev.Kwargs = wamp.EVENT, pubID, m.Args, m.Kwargs
	self := pub.SessionID()

	b.mu.RLock()
	if sub := b.topics[m.URI]; sub != nil {
		b.deliver(sub, ev, self, excludeMe)
	}
	b.mu.RUnlock()

	if ack {
		*ev = wamp.Message{Type: wamp.PUBLISHED, Request: m.Request, ID: pubID}
		_ = pub.Send(ev)
	}
	wamp.Release(ev)
}

// deliver queues ev to the subscribers of sub. b.mu must be held (read).
func (b *Broker) deliver(sub *subscription, ev *wamp.Message, self wamp.ID, excludeMe bool) {
	var frames [4][]byte // indexed by wamp.Serialization
	ev.ID = sub.id
	size := 32 + len(ev.Args.Raw) + len(ev.Kwargs.Raw)
	for _, p := range sub.subs {
		if excludeMe && p.SessionID() == self {
			continue
		}
		ser := p.Serialization()
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
}

// Subscribe handles SUBSCRIBE.
func (b *Broker) Subscribe(p Peer, m *wamp.Message) {
	match, err := wamp.OptString(m.Details, "match")
	if err != nil {
		replyWAMPError(p, wamp.SUBSCRIBE, m.Request, err)
		return
	}
	if match != "" && match != wamp.MatchExact {
		replyError(p, wamp.SUBSCRIBE, m.Request, wamp.ErrInvalidArgument, "match policy "+match+" is not supported")
		return
	}
	if !wamp.ValidURI(m.URI, b.cfg.StrictURIs, false) {
		replyError(p, wamp.SUBSCRIBE, m.Request, wamp.ErrInvalidURI, "invalid topic URI "+string(m.URI))
		return
	}
	sid := p.SessionID()
	b.mu.Lock()
	defer b.mu.Unlock()
	sub := b.topics[m.URI]
	if sub == nil {
		// The topic outlives the frame it came in: copy it.
		topic := wamp.URI(string([]byte(m.URI)))
		sub = &subscription{id: b.cfg.IDs.Next(), topic: topic}
		b.topics[topic] = sub
		b.byID[sub.id] = sub
	}
	if !sub.has(sid) {
		sub.subs = append(sub.subs, p)
		b.bySession[sid] = append(b.bySession[sid], sub)
	}
	_ = p.Send(&wamp.Message{Type: wamp.SUBSCRIBED, Request: m.Request, ID: sub.id})
}

func (s *subscription) has(sid wamp.ID) bool {
	for _, p := range s.subs {
		if p.SessionID() == sid {
			return true
		}
	}
	return false
}

// Unsubscribe handles UNSUBSCRIBE.
func (b *Broker) Unsubscribe(p Peer, m *wamp.Message) {
	sid := p.SessionID()
	b.mu.Lock()
	defer b.mu.Unlock()
	sub := b.byID[m.ID]
	if sub == nil || !sub.has(sid) {
		replyError(p, wamp.UNSUBSCRIBE, m.Request, wamp.ErrNoSuchSubscription, "no such subscription")
		return
	}
	b.removeLocked(sub, sid)
	b.bySession[sid] = slices.DeleteFunc(b.bySession[sid], func(x *subscription) bool { return x == sub })
	if len(b.bySession[sid]) == 0 {
		delete(b.bySession, sid)
	}
	_ = p.Send(&wamp.Message{Type: wamp.UNSUBSCRIBED, Request: m.Request})
}

// RemoveSession drops every subscription of a session that left.
func (b *Broker) RemoveSession(sid wamp.ID) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, sub := range b.bySession[sid] {
		b.removeLocked(sub, sid)
	}
	delete(b.bySession, sid)
}

// removeLocked takes sid out of sub and drops sub when it is empty. Editing
// the subscriber slice in place is safe because Publish iterates it only
// under the read lock. b.mu must be held.
func (b *Broker) removeLocked(sub *subscription, sid wamp.ID) {
	for i, p := range sub.subs {
		if p.SessionID() == sid {
			last := len(sub.subs) - 1
			sub.subs[i] = sub.subs[last]
			sub.subs[last] = nil
			sub.subs = sub.subs[:last]
			break
		}
	}
	if len(sub.subs) == 0 {
		delete(b.topics, sub.topic)
		delete(b.byID, sub.id)
	}
}

// SubscriptionCount returns the number of subscriptions (for tests and
// status pages).
func (b *Broker) SubscriptionCount() int {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return len(b.byID)
}
