package broker

import (
	"slices"
	"time"

	"github.com/switchboard/switchboard/wamp"
)

// Hooks is told of subscription changes, for the subscription meta events
// (wamp.subscription.on_create, on_subscribe, on_unsubscribe, on_delete).
//
// Calls come in the order of the changes, one at a time, never under the
// broker's lock: a hook may call Emit, Publish and the query methods of the
// same broker, and even Subscribe or Unsubscribe. For one subscription,
// OnCreate comes before the first OnSubscribe and the last OnUnsubscribe
// before OnDelete, as the specification orders the meta events. A change
// is reported after its reply (SUBSCRIBED, UNSUBSCRIBED) was queued, on
// the goroutine of whichever broker call finds the hooks idle, so a hook
// may run after the call that caused it has returned, and must not block
// for long: it holds up the hooks of every other change.
type Hooks interface {
	// OnCreate: session's SUBSCRIBE created the subscription.
	OnCreate(session wamp.ID, info SubscriptionInfo)
	// OnSubscribe: session was added to subscription.
	OnSubscribe(session, subscription wamp.ID)
	// OnUnsubscribe: session was removed from subscription (UNSUBSCRIBE
	// or the session left).
	OnUnsubscribe(session, subscription wamp.ID)
	// OnDelete: session was the last one of subscription, which is gone.
	OnDelete(session, subscription wamp.ID)
}

// hook queues a call of the broker's Hooks, if any, to run once b.mu is
// released (b.hooks.Run, internal/hookq). b.mu must be held (write).
func (b *Broker) hook(call func(h Hooks)) {
	if h := b.cfg.Hooks; h != nil {
		b.hooks.Push(func() { call(h) })
	}
}

// SubscriptionInfo describes a subscription (the specification's
// SubscriptionDetails).
type SubscriptionInfo struct {
	ID      wamp.ID
	Created time.Time
	URI     wamp.URI
	Match   string // "exact", "prefix" or "wildcard"
}

// Dict returns the SubscriptionDetails dict of the meta API, with created
// in ISO 8601 (UTC, milliseconds) as Crossbar.io writes it.
func (i SubscriptionInfo) Dict() wamp.Dict {
	return wamp.Dict{
		"id":      i.ID,
		"created": i.Created.UTC().Format("2006-01-02T15:04:05.000Z"),
		"uri":     string(i.URI),
		"match":   i.Match,
	}
}

func (s *subscription) info() SubscriptionInfo {
	return SubscriptionInfo{ID: s.id, Created: s.created, URI: s.uri, Match: s.match}
}

// SubscriptionLists are the subscription ids by match policy
// (wamp.subscription.list).
type SubscriptionLists struct {
	Exact, Prefix, Wildcard []wamp.ID
}

// Dict returns the SubscriptionLists dict of the meta API.
func (l SubscriptionLists) Dict() wamp.Dict {
	return wamp.Dict{"exact": l.Exact, "prefix": l.Prefix, "wildcard": l.Wildcard}
}

func sortedIDs(m map[wamp.URI]*subscription) []wamp.ID {
	ids := make([]wamp.ID, 0, len(m))
	for _, s := range m {
		ids = append(ids, s.id)
	}
	slices.Sort(ids)
	return ids
}

// List returns the ids of all subscriptions by match policy, each list
// sorted.
func (b *Broker) List() SubscriptionLists {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return SubscriptionLists{
		Exact:    sortedIDs(b.idx.exact),
		Prefix:   sortedIDs(b.idx.prefix),
		Wildcard: sortedIDs(b.idx.wildcard),
	}
}

// Lookup returns the id of the subscription for topic under match ("" or
// "exact", "prefix", "wildcard"), or 0 if there is none or match is not a
// policy (wamp.subscription.lookup).
func (b *Broker) Lookup(topic wamp.URI, match string) wamp.ID {
	match, err := parseMatch(match)
	if err != nil {
		return 0
	}
	b.mu.RLock()
	defer b.mu.RUnlock()
	if s := b.idx.get(topic, match); s != nil {
		return s.id
	}
	return 0
}

// Match returns the ids of every subscription an event to topic would be
// delivered on, whatever their policy, sorted; nil if none
// (wamp.subscription.match).
func (b *Broker) Match(topic wamp.URI) []wamp.ID {
	b.mu.RLock()
	defer b.mu.RUnlock()
	var ids []wamp.ID
	if s := b.idx.exact[topic]; s != nil {
		ids = append(ids, s.id)
	}
	for _, s := range b.idx.walk(topic, nil) {
		ids = append(ids, s.id)
	}
	slices.Sort(ids)
	return ids
}

// Get returns the details of subscription id (wamp.subscription.get).
func (b *Broker) Get(id wamp.ID) (SubscriptionInfo, bool) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	s := b.byID[id]
	if s == nil {
		return SubscriptionInfo{}, false
	}
	return s.info(), true
}

// ListSubscribers returns the ids of this node's sessions on subscription
// id, sorted (wamp.subscription.list_subscribers); the stand-ins of other
// nodes are left out, the realm asks those nodes.
func (b *Broker) ListSubscribers(id wamp.ID) ([]wamp.ID, bool) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	s := b.byID[id]
	if s == nil {
		return nil, false
	}
	ids := make([]wamp.ID, 0, len(s.subs))
	for _, p := range s.subs {
		if p.Serialization() != 0 { // not another node's stand-in
			ids = append(ids, p.SessionID())
		}
	}
	slices.Sort(ids)
	return ids, true
}

// CountSubscribers returns the number of this node's sessions on
// subscription id (wamp.subscription.count_subscribers), without the
// stand-ins of other nodes.
func (b *Broker) CountSubscribers(id wamp.ID) (int, bool) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	s := b.byID[id]
	if s == nil {
		return 0, false
	}
	n := len(s.subs)
	for _, nc := range s.nodes {
		if nc.n > 0 {
			n -= nc.n
		}
	}
	return n, true
}

// SubscriptionNodes returns the other nodes with subscribers on
// subscription id, for status and tests.
func (b *Broker) SubscriptionNodes(id wamp.ID) []uint64 {
	b.mu.RLock()
	defer b.mu.RUnlock()
	s := b.byID[id]
	if s == nil {
		return nil
	}
	var out []uint64
	for _, nc := range s.nodes {
		if nc.n > 0 {
			out = append(out, nc.node)
		}
	}
	slices.Sort(out)
	return out
}
