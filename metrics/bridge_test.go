package metrics

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/switchboard/switchboard/bridge"
)

// The bridge series pass the Prometheus linter and carry the labels the
// router gives: listener, and each subscriber's index and topic.
func TestBridgeCollector(t *testing.T) {
	m := New()
	m.SetBridges(func() []Bridge {
		return []Bridge{{
			Listener: "127.0.0.1:8080",
			Topics:   []string{"com.example.a", "com.example.a"},
			Stats: bridge.Stats{Published: 1, Calls: 2, Webhooks: 3, Rejected: 4, Failed: 5, Subscribers: []bridge.SubscriberStats{
				{Delivered: 6, Retried: 7, Failed: 8, Dropped: 9}, {Delivered: 10},
			}},
		}}
	})
	if problems, err := testutil.CollectAndLint(m.Collector()); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %+v", err, problems)
	}
	expect := `
# HELP switchboard_bridge_requests_total HTTP bridge requests by outcome: published, called, webhook (published), rejected (4xx from the bridge's checks), failed (refused by the router or a callee, no answer in time, bridge unavailable).
# TYPE switchboard_bridge_requests_total counter
switchboard_bridge_requests_total{listener="127.0.0.1:8080",outcome="called"} 2
switchboard_bridge_requests_total{listener="127.0.0.1:8080",outcome="failed"} 5
switchboard_bridge_requests_total{listener="127.0.0.1:8080",outcome="published"} 1
switchboard_bridge_requests_total{listener="127.0.0.1:8080",outcome="rejected"} 4
switchboard_bridge_requests_total{listener="127.0.0.1:8080",outcome="webhook"} 3
# HELP switchboard_bridge_subscriber_events_total Events of HTTP subscribers by outcome: delivered (2xx), failed (given up after the last retry), dropped (queue full).
# TYPE switchboard_bridge_subscriber_events_total counter
switchboard_bridge_subscriber_events_total{listener="127.0.0.1:8080",outcome="delivered",subscriber="0",topic="com.example.a"} 6
switchboard_bridge_subscriber_events_total{listener="127.0.0.1:8080",outcome="delivered",subscriber="1",topic="com.example.a"} 10
switchboard_bridge_subscriber_events_total{listener="127.0.0.1:8080",outcome="dropped",subscriber="0",topic="com.example.a"} 9
switchboard_bridge_subscriber_events_total{listener="127.0.0.1:8080",outcome="dropped",subscriber="1",topic="com.example.a"} 0
switchboard_bridge_subscriber_events_total{listener="127.0.0.1:8080",outcome="failed",subscriber="0",topic="com.example.a"} 8
switchboard_bridge_subscriber_events_total{listener="127.0.0.1:8080",outcome="failed",subscriber="1",topic="com.example.a"} 0
# HELP switchboard_bridge_subscriber_retries_total POSTs of HTTP subscribers tried again after a failure.
# TYPE switchboard_bridge_subscriber_retries_total counter
switchboard_bridge_subscriber_retries_total{listener="127.0.0.1:8080",subscriber="0",topic="com.example.a"} 7
switchboard_bridge_subscriber_retries_total{listener="127.0.0.1:8080",subscriber="1",topic="com.example.a"} 0
`
	if err := testutil.CollectAndCompare(m.Collector(), strings.NewReader(expect),
		"switchboard_bridge_requests_total", "switchboard_bridge_subscriber_events_total", "switchboard_bridge_subscriber_retries_total"); err != nil {
		t.Error(err)
	}
}
