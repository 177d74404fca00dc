package metrics

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchboard/switchboard/bridge"
)

// The HTTP bridges keep their own atomic counters (bridge.Stats); the
// collector reads them through a function the router sets, at scrape time,
// like everything else here.

var (
	descBridgeRequests  = desc("bridge_requests_total", "HTTP bridge requests by outcome: published, called, webhook (published), rejected (4xx from the bridge's checks), failed (refused by the router or a callee, no answer in time, bridge unavailable).", "listener", "outcome")
	descBridgeSubEvents = desc("bridge_subscriber_events_total", "Events of HTTP subscribers by outcome: delivered (2xx), failed (given up after the last retry), dropped (queue full).", "listener", "subscriber", "topic", "outcome")
	descBridgeSubRetry  = desc("bridge_subscriber_retries_total", "POSTs of HTTP subscribers tried again after a failure.", "listener", "subscriber", "topic")
)

// Bridge is what the collector reads of one HTTP bridge.
type Bridge struct {
	// Listener is the address of the websocket listener that serves the
	// bridge: the listener label.
	Listener string
	// Topics are the configured topics of the HTTP subscribers, in the
	// order of Stats.Subscribers: the topic label. The subscriber label
	// is the index in that order, since two subscribers may share a topic.
	Topics []string
	Stats  bridge.Stats
}

// SetBridges sets the function that reads the bridges' counters at scrape
// time. It is called without any lock of m held, so it may take locks of
// its own.
func (m *Metrics) SetBridges(read func() []Bridge) { m.bridges.Store(&read) }

// bridgeDescs are described even with no bridge, so that the set of
// metrics does not depend on the config.
var bridgeDescs = []*prometheus.Desc{descBridgeRequests, descBridgeSubEvents, descBridgeSubRetry}

func (m *Metrics) collectBridges(ch chan<- prometheus.Metric) {
	read := m.bridges.Load()
	if read == nil {
		return
	}
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	for _, b := range (*read)() {
		st := &b.Stats
		counter(descBridgeRequests, st.Published, b.Listener, "published")
		counter(descBridgeRequests, st.Calls, b.Listener, "called")
		counter(descBridgeRequests, st.Webhooks, b.Listener, "webhook")
		counter(descBridgeRequests, st.Rejected, b.Listener, "rejected")
		counter(descBridgeRequests, st.Failed, b.Listener, "failed")
		for i, s := range st.Subscribers {
			var topic string
			if i < len(b.Topics) {
				topic = b.Topics[i]
			}
			idx := strconv.Itoa(i)
			counter(descBridgeSubEvents, s.Delivered, b.Listener, idx, topic, "delivered")
			counter(descBridgeSubEvents, s.Failed, b.Listener, idx, topic, "failed")
			counter(descBridgeSubEvents, s.Dropped, b.Listener, idx, topic, "dropped")
			counter(descBridgeSubRetry, s.Retried, b.Listener, idx, topic)
		}
	}
}
