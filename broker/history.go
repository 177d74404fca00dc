package broker

import (
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/switchboard/switchboard/wamp"
	"github.com/switchboard/switchboard/wamp/codec"
)

// HistoryEvent is one event kept for wamp.subscription.get_events.
type HistoryEvent struct {
	// Timestamp is when the broker received the publication.
	Timestamp    time.Time
	Subscription wamp.ID
	Publication  wamp.ID
	// Topic is the topic published to (for a pattern subscription, the
	// concrete one).
	Topic wamp.URI
	// Details are the EVENT details as sent: topic for pattern
	// subscriptions, the publisher's identity when it was disclosed. Nil
	// when empty. Shared: do not modify.
	Details wamp.Dict
	// Args and Kwargs are the broker's own copies of the payload, encoded
	// in the publisher's serializer (Raw) or, for router events, Value.
	Args, Kwargs wamp.Payload
}

// Dict returns e as the specification's get_events result element:
// timestamp (RFC 3339, UTC, milliseconds), subscription, publication,
// details, and args and kwargs when present, decoded.
func (e *HistoryEvent) Dict() (wamp.Dict, error) {
	d := wamp.Dict{
		"timestamp":    e.Timestamp.UTC().Format("2006-01-02T15:04:05.000Z"),
		"subscription": e.Subscription,
		"publication":  e.Publication,
		"details":      e.Details,
	}
	if d["details"] == nil {
		d["details"] = wamp.Dict{}
	}
	for _, x := range []struct {
		key string
		p   wamp.Payload
	}{{"args", e.Args}, {"kwargs", e.Kwargs}} {
		v, err := payloadValue(x.p)
		if err != nil {
			return nil, fmt.Errorf("event %d %s: %w", e.Publication, x.key, err)
		}
		if v != nil {
			d[x.key] = v
		}
	}
	return d, nil
}

func payloadValue(p wamp.Payload) (any, error) {
	if p.Value != nil || p.Raw == nil {
		return p.Value, nil
	}
	c := codec.For(p.Ser)
	if c == nil {
		return nil, fmt.Errorf("payload in unknown serialization %v", p.Ser)
	}
	return c.DecodeValue(p.Raw)
}

// history is a ring of the last events of one subscription. Publishers
// add to it under the broker's read lock, so it has its own mutex.
type history struct {
	mu    sync.Mutex
	buf   []HistoryEvent
	start int // index of the oldest event
	n     int
}

func newHistory(limit int) *history { return &history{buf: make([]HistoryEvent, limit)} }

func (h *history) add(e HistoryEvent) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.n < len(h.buf) {
		h.buf[(h.start+h.n)%len(h.buf)] = e
		h.n++
		return
	}
	h.buf[h.start] = e
	h.start = (h.start + 1) % len(h.buf)
}

// addOrdered adds e in the order of the events' timestamps: events from
// a cluster's store arrive in the order their nodes wrote them, which
// for publications on different nodes may differ from the order they
// were made in. An event older than every kept one when the history is
// full is dropped.
func (h *history) addOrdered(e HistoryEvent) {
	h.mu.Lock()
	if h.n == 0 || !e.Timestamp.Before(h.buf[(h.start+h.n-1)%len(h.buf)].Timestamp) {
		h.mu.Unlock()
		h.add(e)
		return
	}
	all := make([]HistoryEvent, 0, h.n+1)
	for i := range h.n {
		all = append(all, h.buf[(h.start+i)%len(h.buf)])
	}
	at := len(all)
	for at > 0 && e.Timestamp.Before(all[at-1].Timestamp) {
		at--
	}
	all = slices.Insert(all, at, e)
	if len(all) > len(h.buf) {
		all = all[1:]
	}
	h.start, h.n = 0, copy(h.buf, all)
	h.mu.Unlock()
}

// last returns up to limit of the most recent events, oldest first; limit
// <= 0 means all.
func (h *history) last(limit int) []HistoryEvent {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := h.n
	if limit > 0 && limit < n {
		n = limit
	}
	out := make([]HistoryEvent, n)
	for i := range n {
		out[i] = h.buf[(h.start+h.n-n+i)%len(h.buf)]
	}
	return out
}

// AddHistory keeps e, an event from the cluster's history store
// (Config.HistoryRecorder), in the history of its subscription, in the
// order of the events' timestamps; it does nothing for a subscription
// without one.
func (b *Broker) AddHistory(e HistoryEvent) {
	b.mu.RLock()
	sub := b.byID[e.Subscription]
	b.mu.RUnlock()
	if sub != nil && sub.hist != nil {
		sub.hist.addOrdered(e)
	}
}

// HistoryLimit returns the largest number of events a history
// subscription keeps (0: none keeps any).
func (b *Broker) HistoryLimit() int {
	n := 0
	for _, h := range b.cfg.History {
		n = max(n, h.Limit)
	}
	return n
}

// GetEvents returns up to limit of the most recent events of subscription
// id, oldest first (limit <= 0: all kept). Only subscriptions created by
// Config.History keep events; for others it returns ErrNoHistory, for an
// unknown id ErrNoSuchSubscription. Publications that used any
// black/white-list option are never kept, so the result may go to any
// caller allowed to subscribe to the topic.
func (b *Broker) GetEvents(id wamp.ID, limit int) ([]HistoryEvent, error) {
	b.mu.RLock()
	sub := b.byID[id]
	b.mu.RUnlock()
	if sub == nil {
		return nil, ErrNoSuchSubscription
	}
	if sub.hist == nil {
		return nil, ErrNoHistory
	}
	return sub.hist.last(limit), nil
}
