package metrics

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/switchboard/switchboard/dealer"
	"github.com/switchboard/switchboard/wamp"
)

func TestHist(t *testing.T) {
	h := newHist([]uint64{1, 4, 16}, 0.5)
	for _, v := range []uint64{0, 1, 2, 4, 5, 100} {
		h.observe(v)
	}
	buckets := make(map[float64]uint64)
	count, sum := h.into(buckets)
	if count != 6 || sum != 56 {
		t.Errorf("count %d sum %v, want 6 and 56", count, sum)
	}
	want := map[float64]uint64{0.5: 2, 2: 4, 8: 5}
	for k, v := range want {
		if buckets[k] != v {
			t.Errorf("bucket le=%v: %d, want %d (%v)", k, buckets[k], v, buckets)
		}
	}
}

// The collector's output passes the Prometheus linter (names, units, help)
// and sums the groups of a realm into its series.
func TestCollector(t *testing.T) {
	m := New()
	r := m.Realm("realm1")
	r.EventPublished(1)
	r.CallStarted()
	r.CallEnded(dealer.CallCompleted, 3*time.Millisecond)
	r.AuthFailed("ticket")
	for _, ser := range []wamp.Serialization{wamp.JSON, wamp.MsgPack} {
		g := m.Group("realm1", "websocket", ser)
		g.MessageOut(wamp.RESULT, 10)
		g.EventDropped()
		g.SlowConsumerClosed()
	}
	m.Handshake().MessageIn(wamp.HELLO, 7)
	if problems, err := testutil.CollectAndLint(m.Collector()); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %+v", err, problems)
	}
	expect := `
# HELP switchboard_events_delivered_total EVENT messages queued to subscribers.
# TYPE switchboard_events_delivered_total counter
switchboard_events_delivered_total{realm="realm1"} 0
# HELP switchboard_events_dropped_total EVENT messages dropped for slow subscribers (queue full or message too large for the peer).
# TYPE switchboard_events_dropped_total counter
switchboard_events_dropped_total{realm="realm1"} 2
# HELP switchboard_sent_bytes_total Bytes of WAMP messages queued to peers (serialized message, without transport framing).
# TYPE switchboard_sent_bytes_total counter
switchboard_sent_bytes_total 20
# HELP switchboard_received_bytes_total Bytes of WAMP messages received (serialized message, without transport framing).
# TYPE switchboard_received_bytes_total counter
switchboard_received_bytes_total 7
# HELP switchboard_calls_total Routed calls that ended, by outcome: completed, failed, canceled, timed_out.
# TYPE switchboard_calls_total counter
switchboard_calls_total{outcome="canceled",realm="realm1"} 0
switchboard_calls_total{outcome="completed",realm="realm1"} 1
switchboard_calls_total{outcome="failed",realm="realm1"} 0
switchboard_calls_total{outcome="timed_out",realm="realm1"} 0
# HELP switchboard_auth_failures_total Refused authentications by method (none: the client offered no method the realm takes).
# TYPE switchboard_auth_failures_total counter
switchboard_auth_failures_total{method="ticket",realm="realm1"} 1
`
	names := []string{"switchboard_events_delivered_total", "switchboard_events_dropped_total", "switchboard_sent_bytes_total",
		"switchboard_received_bytes_total", "switchboard_calls_total", "switchboard_auth_failures_total"}
	if err := testutil.CollectAndCompare(m.Collector(), strings.NewReader(expect), names...); err != nil {
		t.Error(err)
	}
	s := m.Snapshot()
	rs := s.Realms["realm1"]
	if rs.EventsDropped != 2 || rs.EventsPublished != 1 ||
		rs.CallsEnded["completed"] != 1 || s.MessagesIn["HELLO"] != 1 || s.MessagesOut["RESULT"] != 2 {
		t.Errorf("snapshot: %+v", s)
	}
	if _, err := m.Registry(); err != nil {
		t.Errorf("Registry: %v", err)
	}
}

// Counting allocates nothing.
func TestCountingAllocs(t *testing.T) {
	m := New()
	g := m.Group("realm1", "websocket", wamp.JSON)
	r := m.Realm("realm1")
	if n := testing.AllocsPerRun(100, func() {
		g.MessageIn(wamp.PUBLISH, 40)
		g.MessageOut(wamp.RESULT, 40)
		g.EventDropped()
		r.EventPublished(1)
		r.CallStarted()
		r.CallEnded(dealer.CallFailed, time.Millisecond)
		r.AuthFailed("ticket")
	}); n != 0 {
		t.Errorf("%v allocations per count", n)
	}
}
