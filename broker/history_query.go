package broker

import (
	"slices"
	"time"

	"github.com/switchboard/switchboard/wamp"
)

// HistoryQuery holds the filters of wamp.subscription.get_events
// (advanced/pubsub_event_history.md), all of which must hold (logical
// AND). A zero field filters nothing.
type HistoryQuery struct {
	// Reverse returns the newest event first.
	Reverse bool
	// Limit bounds the events returned. It keeps the events next to the
	// lower bound when FromPublication, AfterPublication, FromTime or
	// AfterTime is set, so that paging forward with after_publication
	// works as the specification describes; otherwise, and with Reverse,
	// the most recent ones (as get_events with a limit alone has always
	// done, like Crossbar.io).
	Limit int
	// FromTime (>=), AfterTime (>), BeforeTime (<) and UntilTime (<=)
	// compare with the timestamps as get_events reports them, to the
	// millisecond, so that a timestamp from a result can be passed back.
	FromTime, AfterTime, BeforeTime, UntilTime time.Time
	// Topic keeps, for a pattern subscription, the events of that topic.
	Topic wamp.URI
	// FromPublication (the event and later), AfterPublication (later),
	// BeforePublication (earlier) and UntilPublication (the event and
	// earlier) place a bound at the kept event with that publication id.
	// An id the history does not hold (never kept, or pushed out) gives
	// no event: the bound cannot be placed.
	FromPublication, AfterPublication, BeforePublication, UntilPublication wamp.ID
}

// QueryEvents returns the kept events of subscription id that pass q,
// oldest first unless q.Reverse. Errors as GetEvents.
func (b *Broker) QueryEvents(id wamp.ID, q HistoryQuery) ([]HistoryEvent, error) {
	b.mu.RLock()
	sub := b.byID[id]
	b.mu.RUnlock()
	if sub == nil {
		return nil, ErrNoSuchSubscription
	}
	if sub.hist == nil {
		return nil, ErrNoHistory
	}
	return sub.hist.query(&q), nil
}

func (h *history) query(q *HistoryQuery) []HistoryEvent {
	h.mu.Lock()
	defer h.mu.Unlock()
	at := func(i int) *HistoryEvent { return &h.buf[(h.start+i)%len(h.buf)] }
	find := func(id wamp.ID) int {
		for i := range h.n {
			if at(i).Publication == id {
				return i
			}
		}
		return -1
	}
	// [lo, hi) in order of occurrence.
	lo, hi := 0, h.n
	for _, b := range [...]struct {
		id    wamp.ID
		apply func(i int)
	}{
		{q.FromPublication, func(i int) { lo = max(lo, i) }},
		{q.AfterPublication, func(i int) { lo = max(lo, i+1) }},
		{q.BeforePublication, func(i int) { hi = min(hi, i) }},
		{q.UntilPublication, func(i int) { hi = min(hi, i+1) }},
	} {
		if b.id == 0 {
			continue
		}
		i := find(b.id)
		if i < 0 {
			return []HistoryEvent{}
		}
		b.apply(i)
	}
	out := make([]HistoryEvent, 0, max(hi-lo, 0))
	for i := lo; i < hi; i++ {
		if e := at(i); q.matches(e) {
			out = append(out, *e)
		}
	}
	if q.Limit > 0 && len(out) > q.Limit {
		lower := q.FromPublication != 0 || q.AfterPublication != 0 || !q.FromTime.IsZero() || !q.AfterTime.IsZero()
		if lower && !q.Reverse {
			out = out[:q.Limit]
		} else {
			out = out[len(out)-q.Limit:]
		}
	}
	if q.Reverse {
		slices.Reverse(out)
	}
	return out
}

// matches applies the filters that are not bounds by position.
func (q *HistoryQuery) matches(e *HistoryEvent) bool {
	if q.Topic != "" && e.Topic != q.Topic {
		return false
	}
	if q.FromTime.IsZero() && q.AfterTime.IsZero() && q.BeforeTime.IsZero() && q.UntilTime.IsZero() {
		return true
	}
	ts := e.Timestamp.Truncate(time.Millisecond)
	return (q.FromTime.IsZero() || !ts.Before(q.FromTime)) &&
		(q.AfterTime.IsZero() || ts.After(q.AfterTime)) &&
		(q.BeforeTime.IsZero() || ts.Before(q.BeforeTime)) &&
		(q.UntilTime.IsZero() || !ts.After(q.UntilTime))
}
