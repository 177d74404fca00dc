package broker

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/switchboard/switchboard/internal/fakepeer"
	"github.com/switchboard/switchboard/wamp"
)

// TestEventHistory follows the specification's example: two exact
// subscriptions and a prefix one, each with its own history.
func TestEventHistory(t *testing.T) {
	cfg := Config{History: []HistoryRule{
		{Topic: "com.mycompany.log.auth", Limit: 10},
		{Topic: "com.mycompany.log.basket", Match: "exact", Limit: 2},
		{Topic: "com.mycompany.log", Match: "prefix", Limit: 10},
	}}
	forCacheModes(t, cfg, func(t *testing.T, b *Broker) {
		auth := b.Lookup("com.mycompany.log.auth", "")
		basket := b.Lookup("com.mycompany.log.basket", "exact")
		all := b.Lookup("com.mycompany.log", "prefix")
		if auth == 0 || basket == 0 || all == 0 {
			t.Fatalf("history subscriptions must exist before anyone subscribes: %d %d %d", auth, basket, all)
		}
		pub := &fakepeer.Peer{ID: 1, Ser: wamp.JSON, AuthID: "alice", AuthRole: "user"}
		before := time.Now()
		var pubs []wamp.ID
		for i, topic := range []string{"auth", "basket", "basket", "basket", "checkout"} {
			b.Publish(pub, fakepeer.Decode(t, fmt.Sprintf(`[16,%d,{"acknowledge":true},"com.mycompany.log.%s",[%d],{"n":%d}]`, i+1, topic, i+1, i+1)))
			pubs = append(pubs, pub.Last().ID)
		}
		check := func(id wamp.ID, limit int, want ...wamp.ID) []HistoryEvent {
			t.Helper()
			evs, err := b.GetEvents(id, limit)
			if err != nil {
				t.Fatalf("GetEvents(%d, %d): %v", id, limit, err)
			}
			var got []wamp.ID
			for _, e := range evs {
				got = append(got, e.Publication)
				if e.Subscription != id || e.Timestamp.Before(before) {
					t.Errorf("event %+v of subscription %d", e, id)
				}
			}
			if !slices.Equal(got, want) {
				t.Errorf("GetEvents(%d, %d) publications %v, want %v", id, limit, got, want)
			}
			return evs
		}
		check(auth, 0, pubs[0])
		check(basket, 0, pubs[2], pubs[3]) // limit 2 kept: the oldest basket event is gone
		evs := check(all, 0, pubs...)
		check(all, 2, pubs[3], pubs[4])
		check(all, 100, pubs...)

		// The prefix subscription's events carry their concrete topic.
		if evs[4].Topic != "com.mycompany.log.checkout" || evs[4].Details["topic"] != "com.mycompany.log.checkout" {
			t.Errorf("prefix history event: topic %q details %v", evs[4].Topic, evs[4].Details)
		}
		d, err := evs[4].Dict()
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(d["args"], []any{int64(5)}) || !reflect.DeepEqual(d["kwargs"], map[string]any{"n": int64(5)}) ||
			d["publication"] != pubs[4] || d["subscription"] != all {
			t.Errorf("HistoryEvent.Dict() = %v", d)
		}
		if _, err := time.Parse(time.RFC3339, d["timestamp"].(string)); err != nil {
			t.Errorf("timestamp %q is not RFC 3339: %v", d["timestamp"], err)
		}

		// Publications with black/white-lists are not kept.
		b.Publish(pub, fakepeer.Decode(t, `[16,9,{"eligible_authrole":["admin"]},"com.mycompany.log.auth",[9]]`))
		b.Publish(pub, fakepeer.Decode(t, `[16,9,{"exclude":[5]},"com.mycompany.log.auth",[9]]`))
		check(auth, 0, pubs[0])

		// A history subscription is shared by subscribers and outlives them.
		p := fakepeer.New(2)
		if id := subscribeOpts(t, b, p, 1, `{}`, "com.mycompany.log.auth"); id != auth {
			t.Errorf("subscriber of a history topic got id %d, want %d", id, auth)
		}
		b.RemoveSession(2)
		if b.Lookup("com.mycompany.log.auth", "") != auth {
			t.Error("history subscription deleted after its last subscriber left")
		}
		check(auth, 0, pubs[0])

		if _, err := b.GetEvents(999, 0); !errors.Is(err, ErrNoSuchSubscription) {
			t.Errorf("GetEvents(999) error %v, want ErrNoSuchSubscription", err)
		}
		plain := subscribeOpts(t, b, p, 2, `{}`, "com.other")
		if _, err := b.GetEvents(plain, 0); !errors.Is(err, ErrNoHistory) {
			t.Errorf("GetEvents of a subscription without history: %v, want ErrNoHistory", err)
		}
	})
}

func TestHistoryRing(t *testing.T) {
	h := newHistory(3)
	for i := range 7 {
		h.add(HistoryEvent{Publication: wamp.ID(i + 1)})
		want := []wamp.ID{}
		for j := max(0, i-2); j <= i; j++ {
			want = append(want, wamp.ID(j+1))
		}
		var got []wamp.ID
		for _, e := range h.last(0) {
			got = append(got, e.Publication)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("after %d adds: %v, want %v", i+1, got, want)
		}
	}
	if got := h.last(1); len(got) != 1 || got[0].Publication != 7 {
		t.Errorf("last(1) = %v, want the newest", got)
	}
}

// TestAddHistoryOrdered: events from a cluster's store are kept in the
// order of their timestamps, whatever order they arrive in, and the
// oldest go first when the history is full.
func TestAddHistoryOrdered(t *testing.T) {
	b := New(Config{History: []HistoryRule{{Topic: "com.h", Limit: 3}}, HistoryRecorder: func(*HistoryEvent) {}})
	id := b.Lookup("com.h", "exact")
	t0 := time.Unix(1000, 0)
	for _, i := range []int{2, 1, 4, 0, 3} {
		b.AddHistory(HistoryEvent{Subscription: id, Publication: wamp.ID(i + 1), Timestamp: t0.Add(time.Duration(i) * time.Second)})
	}
	evs, err := b.GetEvents(id, 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []wamp.ID
	for _, e := range evs {
		got = append(got, e.Publication)
	}
	if want := []wamp.ID{3, 4, 5}; !slices.Equal(got, want) {
		t.Fatalf("publications kept %v, want %v (the last three by time, in order)", got, want)
	}
}
