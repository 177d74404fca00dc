package realm

import (
	"errors"
	"fmt"
	"slices"

	"github.com/switchboard/switchboard/broker"
	"github.com/switchboard/switchboard/wamp"
)

// The subscription meta API (advanced/meta_api_subscriptions.md) and event
// history (pubsub_event_history.md): the meta events of the broker's hooks
// and the procedures that read its subscriptions.

// subscriptionHooks publishes the subscription meta events.
type subscriptionHooks struct{ r *Realm }

func (h subscriptionHooks) OnCreate(sess wamp.ID, info broker.SubscriptionInfo) {
	if !h.r.local(sess) {
		return
	}
	h.r.emit("wamp.subscription.on_create", func() wamp.Payload { return wamp.List(uint64(sess), info.Dict()) })
}

func (h subscriptionHooks) OnSubscribe(sess, sub wamp.ID) {
	if !h.r.local(sess) {
		return
	}
	h.r.emit("wamp.subscription.on_subscribe", func() wamp.Payload { return wamp.List(uint64(sess), uint64(sub)) })
	if h.r.link != nil {
		h.r.link.Subscribed(sess, sub)
	}
}

func (h subscriptionHooks) OnUnsubscribe(sess, sub wamp.ID) {
	if !h.r.local(sess) {
		return
	}
	h.r.emit("wamp.subscription.on_unsubscribe", func() wamp.Payload { return wamp.List(uint64(sess), uint64(sub)) })
	if h.r.link != nil {
		h.r.link.Unsubscribed(sess, sub)
	}
}

func (h subscriptionHooks) OnDelete(sess, sub wamp.ID) {
	if !h.r.local(sess) {
		return
	}
	h.r.emit("wamp.subscription.on_delete", func() wamp.Payload { return wamp.List(uint64(sess), uint64(sub)) })
}

func (r *Realm) subscriptionList(wamp.ID, []any, map[string]any) (any, error) {
	return subscriptionListsDict(r.broker.List()), nil
}

func subscriptionListsDict(l broker.SubscriptionLists) map[string]any {
	return map[string]any{"exact": idList(l.Exact), "prefix": idList(l.Prefix), "wildcard": idList(l.Wildcard)}
}

func (r *Realm) subscriptionLookup(_ wamp.ID, args []any, _ map[string]any) (any, error) {
	topic, match, err := lookupArgs(args, "topic")
	if err != nil {
		return nil, err
	}
	return orNull(r.broker.Lookup(topic, match)), nil
}

func (r *Realm) subscriptionMatch(_ wamp.ID, args []any, _ map[string]any) (any, error) {
	topic, err := argString(args, 0, "topic")
	if err != nil {
		return nil, err
	}
	ids := r.broker.Match(wamp.URI(topic))
	if len(ids) == 0 {
		return nil, nil
	}
	return idList(ids), nil
}

func noSuchSubscription(id wamp.ID) error {
	return wamp.NewError(wamp.ErrNoSuchSubscription, fmt.Sprintf("no subscription %d", id))
}

func (r *Realm) subscriptionGet(_ wamp.ID, args []any, _ map[string]any) (any, error) {
	id, err := argID(args, 0, "subscription")
	if err != nil {
		return nil, err
	}
	info, ok := r.broker.Get(id)
	if !ok {
		return nil, noSuchSubscription(id)
	}
	return info.Dict(), nil
}

func (r *Realm) listSubscribers(_ wamp.ID, args []any, _ map[string]any) (any, error) {
	id, err := argID(args, 0, "subscription")
	if err != nil {
		return nil, err
	}
	ids, ok := r.broker.ListSubscribers(id)
	if !ok {
		return nil, noSuchSubscription(id)
	}
	if r.link != nil {
		ids = append(ids, r.link.RemoteSubscribers(id)...)
		slices.Sort(ids)
	}
	return idList(ids), nil
}

func (r *Realm) countSubscribers(_ wamp.ID, args []any, _ map[string]any) (any, error) {
	id, err := argID(args, 0, "subscription")
	if err != nil {
		return nil, err
	}
	n, ok := r.broker.CountSubscribers(id)
	if !ok {
		return nil, noSuchSubscription(id)
	}
	if r.link != nil {
		n += len(r.link.RemoteSubscribers(id))
	}
	return n, nil
}

// getEvents takes limit as the keyword argument the specification
// (pubsub_event_history.md) names, or positionally, as Crossbar.io also
// accepts it, and the specification's other filters (historyQuery).
func (r *Realm) getEvents(_ wamp.ID, args []any, kwargs map[string]any) (any, error) {
	id, err := argID(args, 0, "subscription")
	if err != nil {
		return nil, err
	}
	var lv any
	if len(args) > 1 {
		lv = args[1]
	}
	if v, ok := kwargs["limit"]; ok {
		if lv != nil {
			return nil, badArg("limit given both as argument 2 and as a keyword argument")
		}
		lv = v
	}
	limit := 0
	if lv != nil {
		n, ok := wamp.AsInt(lv)
		if !ok || n < 0 {
			return nil, badArg("limit must be a non-negative integer")
		}
		limit = int(n)
	}
	q, err := historyQuery(kwargs)
	if err != nil {
		return nil, err
	}
	q.Limit = limit
	events, err := r.broker.QueryEvents(id, q)
	switch {
	case err == nil:
	case errors.Is(err, broker.ErrNoSuchSubscription):
		return nil, noSuchSubscription(id)
	default:
		return nil, badArg("subscription %d keeps no event history", id)
	}
	out := make([]any, 0, len(events))
	for i := range events {
		d, err := events[i].Dict()
		if err != nil {
			return nil, fmt.Errorf("get_events: %w", err)
		}
		out = append(out, d)
	}
	return out, nil
}
