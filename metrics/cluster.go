package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchboard/switchboard/cluster"
)

// The cluster node keeps its own atomic counters (cluster.Stats); the
// collector reads them through a function the router sets, at scrape time,
// as it does the bridges'. A node alone exports none of these series.

var (
	descClusterLinked      = desc("cluster_linked", "1 when the node is linked to the cluster: NATS connected and synchronised with every live node (what /readyz checks), else 0.")
	descClusterConnected   = desc("cluster_nats_connected", "1 while the NATS connection is up, else 0.")
	descClusterDisconnects = desc("cluster_nats_disconnects_total", "NATS connection losses.")
	descClusterReconnects  = desc("cluster_nats_reconnects_total", "NATS reconnections (each followed by a resynchronisation).")
	descClusterRTT         = desc("cluster_nats_rtt_seconds", "Last NATS round trip (PING to PONG), measured every heartbeat period.")
	descClusterEvents      = desc("cluster_events_forwarded_total", "Publications forwarded to other nodes (out: one per destination node) and received from them (in).", "direction")
	descClusterEventMsgs   = desc("cluster_event_messages_total", "NATS messages that carried the forwarded publications: several travel in one when they wait for the link (events_forwarded_total{direction=\"out\"} / this is the publications per message).")
	descClusterInvocations = desc("cluster_invocations_relayed_total", "INVOCATIONs relayed to callees on other nodes (out) and from callers on other nodes (in).", "direction")
	descClusterInterrupts  = desc("cluster_interrupts_relayed_total", "INTERRUPTs of relayed calls sent to other nodes (out) and received (in).", "direction")
	descClusterAnswers     = desc("cluster_answers_relayed_total", "Results (YIELD, progressive ones included) and errors of relayed calls sent back to the caller's node (out) and received (in).", "direction")
	descClusterSendFailed  = desc("cluster_send_failures_total", "Messages to other nodes that NATS refused (connection down): lost, as docs/cluster.md says.")
	descClusterCtlFailed   = desc("cluster_control_send_failures_total", "Control messages (state changes, snapshots, heartbeats) that NATS refused: the connection was down or the message exceeded max_payload.")
	descClusterPanics      = desc("cluster_handler_panics_total", "Messages from NATS dropped because handling them panicked (malformed or unexpected data from another node).")
	descClusterSnapshots   = desc("cluster_snapshots_total", "Full state snapshots sent to the other nodes (sent) and applied from them (applied).", "direction")
	descClusterResyncs     = desc("cluster_resync_requests_total", "Requests for other nodes' snapshots: at start, on reconnection, on a new node and on a detected gap.")
	descClusterNodesAlive  = desc("cluster_nodes_alive", "Other nodes this node hears heartbeats from.")
	descClusterNodesDead   = desc("cluster_nodes_dead_total", "Nodes taken for dead: their NATS connection gone, or silent for the failure timeout.")
	descClusterNodesGone   = desc("cluster_nodes_disconnected_total", "Nodes taken for dead because NATS had no subscriber left for them (their connection closed), not after a timeout.")
	descClusterNodesLeft   = desc("cluster_nodes_left_total", "Nodes that left the cluster with a goodbye.")
)

// clusterDescs are described even without a cluster, so that the set of
// metrics does not depend on the config.
var clusterDescs = []*prometheus.Desc{
	descClusterLinked, descClusterConnected, descClusterDisconnects, descClusterReconnects, descClusterRTT,
	descClusterEvents, descClusterEventMsgs, descClusterInvocations, descClusterInterrupts, descClusterAnswers, descClusterSendFailed,
	descClusterCtlFailed, descClusterPanics, descClusterSnapshots, descClusterResyncs, descClusterNodesAlive, descClusterNodesDead, descClusterNodesGone, descClusterNodesLeft,
}

// SetCluster sets the function that reads the cluster node's counters at
// scrape time; without it (a node alone) no cluster series is exported.
func (m *Metrics) SetCluster(read func() cluster.Stats) { m.cluster.Store(&read) }

func (m *Metrics) collectCluster(ch chan<- prometheus.Metric) {
	read := m.cluster.Load()
	if read == nil {
		return
	}
	st := (*read)()
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v)
	}
	gauge(descClusterLinked, b2f(st.Linked))
	gauge(descClusterConnected, b2f(st.Connected))
	counter(descClusterDisconnects, st.Disconnects)
	counter(descClusterReconnects, st.Reconnects)
	gauge(descClusterRTT, st.RTT.Seconds())
	inOut := func(d *prometheus.Desc, out, in uint64) {
		counter(d, out, "out")
		counter(d, in, "in")
	}
	inOut(descClusterEvents, st.EventsOut, st.EventsIn)
	counter(descClusterEventMsgs, st.EventMessagesOut)
	inOut(descClusterInvocations, st.InvocationsOut, st.InvocationsIn)
	inOut(descClusterInterrupts, st.InterruptsOut, st.InterruptsIn)
	inOut(descClusterAnswers, st.AnswersOut, st.AnswersIn)
	counter(descClusterSendFailed, st.SendFailures)
	counter(descClusterCtlFailed, st.ControlSendFailures)
	counter(descClusterPanics, st.HandlerPanics)
	counter(descClusterSnapshots, st.SnapshotsSent, "sent")
	counter(descClusterSnapshots, st.SnapshotsApplied, "applied")
	counter(descClusterResyncs, st.ResyncRequests)
	gauge(descClusterNodesAlive, float64(st.NodesAlive))
	counter(descClusterNodesDead, st.NodesDead)
	counter(descClusterNodesGone, st.NodesDisconnected)
	counter(descClusterNodesLeft, st.NodesLeft)
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
