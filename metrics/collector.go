package metrics

import (
	"sort"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/switchboard/switchboard/dealer"
	"github.com/switchboard/switchboard/session"
	"github.com/switchboard/switchboard/transport"
	"github.com/switchboard/switchboard/wamp"
)

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(prometheus.BuildFQName(Namespace, "", name), help, labels, nil)
}

var (
	descSessionsOpen   = desc("sessions_open", "Sessions joined and not yet ended.", "realm", "transport", "serializer")
	descSessionsOpened = desc("sessions_opened_total", "Sessions that joined a realm.", "realm", "transport", "serializer")
	descSessionsClosed = desc("sessions_closed_total", "Joined sessions that ended, by reason.", "realm", "reason")
	descMsgsIn         = desc("messages_received_total", "WAMP messages received and decoded, by type.", "type")
	descMsgsOut        = desc("messages_sent_total", "WAMP messages queued to peers, by type (dropped events not included).", "type")
	descBytesIn        = desc("received_bytes_total", "Bytes of WAMP messages received (serialized message, without transport framing).")
	descBytesOut       = desc("sent_bytes_total", "Bytes of WAMP messages queued to peers (serialized message, without transport framing).")
	descPublished      = desc("events_published_total", "PUBLISH messages the realm accepted for routing.", "realm")
	descDelivered      = desc("events_delivered_total", "EVENT messages queued to subscribers.", "realm")
	descDropped        = desc("events_dropped_total", "EVENT messages dropped for slow subscribers (queue full or message too large for the peer).", "realm")
	descSlowClosed     = desc("slow_consumers_closed_total", "Sessions closed because their outbound queue stayed full.", "realm")
	descCallsStarted   = desc("calls_started_total", "Calls routed to a callee (INVOCATION sent).", "realm")
	descCallsEnded     = desc("calls_total", "Routed calls that ended, by outcome: completed, failed, canceled, timed_out.", "realm", "outcome")
	descCallDuration   = desc("call_duration_seconds", "Time from INVOCATION to the end of a routed call, any outcome.", "realm")
	descQueueDepth     = desc("outbound_queue_depth", "Messages a session's writer found queued when it took them for one write.")
	descParked         = desc("connections_parked", "Connections whose reader gave its goroutine up while the peer sends nothing (docs/performance.md, \"Idle connections\").")
	descAuthFailures   = desc("auth_failures_total", "Refused authentications by method (none: the client offered no method the realm takes).", "realm", "method")
)

// collector exports a Metrics' atomics at scrape time.
type collector struct{ m *Metrics }

// Collector returns the Prometheus collector of m's counters.
func (m *Metrics) Collector() prometheus.Collector { return collector{m} }

// Registry returns a registry with m's collector and the Go runtime and
// process collectors, ready for promhttp.HandlerFor. extra adds collectors
// of other parts (the cluster's, once it exists).
func (m *Metrics) Registry(extra ...prometheus.Collector) (*prometheus.Registry, error) {
	reg := prometheus.NewRegistry()
	cs := append([]prometheus.Collector{
		m.Collector(),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	}, extra...)
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return reg, nil
}

func (collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		descSessionsOpen, descSessionsOpened, descSessionsClosed, descMsgsIn, descMsgsOut, descBytesIn, descBytesOut,
		descPublished, descDelivered, descDropped, descSlowClosed, descCallsStarted, descCallsEnded, descCallDuration,
		descQueueDepth, descAuthFailures, descParked,
	} {
		ch <- d
	}
	for _, d := range bridgeDescs {
		ch <- d
	}
	for _, d := range clusterDescs {
		ch <- d
	}
}

// realmSums are the per-realm sums over a realm's groups.
type realmSums struct {
	closed                   [session.NumCloseReasons]uint64
	delivered, dropped, slow uint64
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	m := c.m
	// Before m.mu: the bridges are read under the router's lock.
	m.collectBridges(ch)
	m.collectCluster(ch)
	ch <- prometheus.MustNewConstMetric(descParked, prometheus.GaugeValue, float64(transport.Parked()))
	m.mu.Lock()
	defer m.mu.Unlock()
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	var in, out [256]uint64
	var bytesIn, bytesOut uint64
	var depth session.SendStats
	sums := make(map[*Realm]*realmSums, len(m.realms))
	for _, g := range m.allGroupsLocked() {
		sent := g.sent()
		depth.Add(&sent)
		gin, gout, gbin, gbout := g.traffic()
		for _, t := range wampTypes {
			in[t] += gin[t]
			out[t] += gout[t]
		}
		bytesIn += gbin
		bytesOut += gbout
		if g.realm == nil {
			continue
		}
		k := g.key
		ch <- prometheus.MustNewConstMetric(descSessionsOpen, prometheus.GaugeValue, float64(g.open.Load()), k.realm, k.transport, k.serializer)
		counter(descSessionsOpened, g.opened.Load(), k.realm, k.transport, k.serializer)
		s := sums[g.realm]
		if s == nil {
			s = new(realmSums)
			sums[g.realm] = s
		}
		for r := range g.closed {
			s.closed[r] += g.closed[r].Load()
		}
		s.delivered += sent.Events
		s.dropped += g.dropped.Load()
		s.slow += g.slow.Load()
	}
	// Every type the protocol defines is exported, zeros included, so that
	// rate() has a series from the first scrape.
	for _, t := range wampTypes {
		counter(descMsgsIn, in[t], t.String())
		counter(descMsgsOut, out[t], t.String())
	}
	counter(descBytesIn, bytesIn)
	counter(descBytesOut, bytesOut)

	names := make([]string, 0, len(m.realms))
	for n := range m.realms {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		r := m.realms[n]
		s := sums[r]
		if s == nil {
			s = new(realmSums)
		}
		for reason := range s.closed {
			counter(descSessionsClosed, s.closed[reason], n, session.CloseReason(reason).String())
		}
		counter(descPublished, r.publishedTotal(), n)
		counter(descDelivered, s.delivered, n)
		counter(descDropped, s.dropped, n)
		counter(descSlowClosed, s.slow, n)
		counter(descCallsStarted, r.callsStarted.Load(), n)
		for o := range r.callsEnded {
			counter(descCallsEnded, r.callsEnded[o].Load(), n, dealer.CallOutcome(o).String())
		}
		ch <- constHist(descCallDuration, []*hist{r.callDur}, n)
		r.authFailures.Range(func(k, v any) bool {
			counter(descAuthFailures, v.(*atomic.Uint64).Load(), n, k.(string))
			return true
		})
	}
	ch <- depthHist(&depth)
}

// depthHist exports the queue depth buckets of SendStats, whose upper
// bounds are the powers of two.
func depthHist(st *session.SendStats) prometheus.Metric {
	buckets := make(map[float64]uint64, session.NumDepthBuckets-1)
	var count uint64
	for i, n := range st.Depth {
		count += n
		if i < session.NumDepthBuckets-1 {
			buckets[float64(uint64(1)<<i)] = count
		}
	}
	return prometheus.MustNewConstHistogram(descQueueDepth, count, float64(st.DepthSum), buckets)
}

// wampTypes are the message types of the protocol.
var wampTypes = []wamp.Type{
	wamp.HELLO, wamp.WELCOME, wamp.ABORT, wamp.CHALLENGE, wamp.AUTHENTICATE, wamp.GOODBYE, wamp.ERROR,
	wamp.PUBLISH, wamp.PUBLISHED, wamp.SUBSCRIBE, wamp.SUBSCRIBED, wamp.UNSUBSCRIBE, wamp.UNSUBSCRIBED, wamp.EVENT,
	wamp.CALL, wamp.CANCEL, wamp.RESULT, wamp.REGISTER, wamp.REGISTERED, wamp.UNREGISTER, wamp.UNREGISTERED,
	wamp.INVOCATION, wamp.INTERRUPT, wamp.YIELD,
}
