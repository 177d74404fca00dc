package broker

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/switchboard/switchboard/internal/fakepeer"
	"github.com/switchboard/switchboard/wamp"
)

// TestHistoryQuery: the filters of get_events
// (advanced/pubsub_event_history.md) on a ring with known timestamps.
func TestHistoryQuery(t *testing.T) {
	base := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	h := newHistory(8)
	// Publications 11..16, one second apart, plus 400µs that get_events
	// does not report.
	topics := []wamp.URI{"a", "b", "a", "b", "a", "b"}
	for i := range 6 {
		h.add(HistoryEvent{Publication: wamp.ID(11 + i), Topic: topics[i],
			Timestamp: base.Add(time.Duration(i)*time.Second + 400*time.Microsecond)})
	}
	ts := func(i int) time.Time { return base.Add(time.Duration(i) * time.Second) }
	for _, tc := range []struct {
		name string
		q    HistoryQuery
		want []wamp.ID
	}{
		{"all", HistoryQuery{}, []wamp.ID{11, 12, 13, 14, 15, 16}},
		{"limit: the most recent", HistoryQuery{Limit: 2}, []wamp.ID{15, 16}},
		{"reverse", HistoryQuery{Reverse: true}, []wamp.ID{16, 15, 14, 13, 12, 11}},
		{"reverse limit", HistoryQuery{Reverse: true, Limit: 2}, []wamp.ID{16, 15}},
		{"topic", HistoryQuery{Topic: "a"}, []wamp.ID{11, 13, 15}},
		{"from_publication", HistoryQuery{FromPublication: 14}, []wamp.ID{14, 15, 16}},
		{"after_publication", HistoryQuery{AfterPublication: 14}, []wamp.ID{15, 16}},
		{"before_publication", HistoryQuery{BeforePublication: 14}, []wamp.ID{11, 12, 13}},
		{"until_publication", HistoryQuery{UntilPublication: 14}, []wamp.ID{11, 12, 13, 14}},
		{"unknown publication", HistoryQuery{AfterPublication: 99}, []wamp.ID{}},
		{"page forward", HistoryQuery{AfterPublication: 12, Limit: 2}, []wamp.ID{13, 14}},
		{"page backward", HistoryQuery{BeforePublication: 15, Limit: 2, Reverse: true}, []wamp.ID{14, 13}},
		{"from_time", HistoryQuery{FromTime: ts(4)}, []wamp.ID{15, 16}},
		{"after_time", HistoryQuery{AfterTime: ts(4)}, []wamp.ID{16}},
		{"before_time", HistoryQuery{BeforeTime: ts(1)}, []wamp.ID{11}},
		{"until_time", HistoryQuery{UntilTime: ts(1)}, []wamp.ID{11, 12}},
		{"page forward by time", HistoryQuery{FromTime: ts(1), Limit: 2}, []wamp.ID{12, 13}},
		{"and", HistoryQuery{Topic: "b", FromPublication: 12, UntilTime: ts(3), Reverse: true}, []wamp.ID{14, 12}},
		{"empty range", HistoryQuery{AfterPublication: 14, BeforePublication: 13}, []wamp.ID{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := []wamp.ID{}
			for _, e := range h.query(&tc.q) {
				got = append(got, e.Publication)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("query %+v: publications %v, want %v", tc.q, got, tc.want)
			}
		})
	}
}

// TestHistoryQueryWrapped: positions count from the oldest kept event once
// the ring has wrapped; a pushed-out publication places no bound.
func TestHistoryQueryWrapped(t *testing.T) {
	h := newHistory(3)
	for i := range 5 {
		h.add(HistoryEvent{Publication: wamp.ID(i + 1)})
	}
	for _, tc := range []struct {
		q    HistoryQuery
		want []wamp.ID
	}{
		{HistoryQuery{AfterPublication: 3}, []wamp.ID{4, 5}},
		{HistoryQuery{UntilPublication: 4, Reverse: true}, []wamp.ID{4, 3}},
		{HistoryQuery{FromPublication: 2}, []wamp.ID{}},
	} {
		got := []wamp.ID{}
		for _, e := range h.query(&tc.q) {
			got = append(got, e.Publication)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("query %+v: publications %v, want %v", tc.q, got, tc.want)
		}
	}
}

func TestQueryEvents(t *testing.T) {
	b := New(Config{History: []HistoryRule{{Topic: "com.example.log", Match: "prefix", Limit: 10}}})
	id := b.Lookup("com.example.log", "prefix")
	pub := &fakepeer.Peer{ID: 1, Ser: wamp.JSON}
	var pubs []wamp.ID
	for i, topic := range []string{"auth", "basket", "auth"} {
		b.Publish(pub, fakepeer.Decode(t, fmt.Sprintf(`[16,%d,{"acknowledge":true},"com.example.log.%s"]`, i+1, topic)))
		pubs = append(pubs, pub.Last().ID)
	}
	evs, err := b.QueryEvents(id, HistoryQuery{Topic: "com.example.log.auth", Reverse: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 || evs[0].Publication != pubs[2] || evs[1].Publication != pubs[0] {
		t.Errorf("QueryEvents by topic, reversed: %+v, want publications %d, %d", evs, pubs[2], pubs[0])
	}
	if _, err := b.QueryEvents(999, HistoryQuery{}); !errors.Is(err, ErrNoSuchSubscription) {
		t.Errorf("QueryEvents(999): %v, want ErrNoSuchSubscription", err)
	}
}
