package cluster_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gammazero/nexus/v3/client"
	nwamp "github.com/gammazero/nexus/v3/wamp"
	"github.com/nats-io/nats-server/v2/server"

	"github.com/switchboard/switchboard/internal/testutil"
	"github.com/switchboard/switchboard/router"
	"github.com/switchboard/switchboard/router/routertest"
)

// cmBase is the HTTP base URL of a node's websocket listener, where
// /metrics, /readyz and /status are served.
func cmBase(r *router.Router) string {
	u := strings.TrimPrefix(r.URL("websocket"), "ws://")
	return "http://" + u[:strings.IndexByte(u, '/')]
}

func cmGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// cmScrape reads a node's /metrics into series -> value, series spelled
// as in the exposition.
func cmScrape(t *testing.T, r *router.Router) map[string]float64 {
	t.Helper()
	return testutil.Scrape(t, cmBase(r)+"/metrics")
}

func cmStatus(t *testing.T, r *router.Router) router.Status {
	t.Helper()
	code, body := cmGet(t, cmBase(r)+"/status")
	var st router.Status
	if err := json.Unmarshal([]byte(body), &st); code != http.StatusOK || err != nil {
		t.Fatalf("/status: %d %v\n%s", code, err, body)
	}
	return st
}

// cmWaitReady waits until every node's /readyz answers code.
func cmWaitReady(t *testing.T, rs []*router.Router, code int) {
	t.Helper()
	testutil.Eventually(t, bound, func() bool {
		for _, r := range rs {
			if c, _ := cmGet(t, cmBase(r)+"/readyz"); c != code {
				return false
			}
		}
		return true
	}, "/readyz %d on every node", code)
}

const (
	evOut  = `switchboard_cluster_events_forwarded_total{direction="out"}`
	evIn   = `switchboard_cluster_events_forwarded_total{direction="in"}`
	invOut = `switchboard_cluster_invocations_relayed_total{direction="out"}`
	invIn  = `switchboard_cluster_invocations_relayed_total{direction="in"}`
	ansOut = `switchboard_cluster_answers_relayed_total{direction="out"}`
	ansIn  = `switchboard_cluster_answers_relayed_total{direction="in"}`
)

// TestClusterMetricsReadyStatus drives publications and calls from node a
// to node b, checks the forwarded counters of both exactly, then cuts
// the NATS server both use: /readyz turns 503 with the reason on both, and
// back to 200 once NATS is back and the nodes have resynchronised.
func TestClusterMetricsReadyStatus(t *testing.T) {
	ns := runNATS(t, server.RANDOM_PORT)
	addr := ns.Addr().String()
	// A failure timeout longer than the gap below: the nodes do not take
	// each other for dead, they must resynchronise to be ready again.
	rs := []*router.Router{
		externalNode(t, "a", "nats://"+addr, 10*time.Second, nil),
		externalNode(t, "b", "nats://"+addr, 10*time.Second, nil),
	}
	a, b := rs[0], rs[1]
	waitMesh(t, rs)
	cmWaitReady(t, rs, http.StatusOK)

	for i, r := range rs {
		st := cmStatus(t, r)
		c := st.Cluster
		if !st.Ready || c == nil || !c.Linked || !c.Connected || c.Cluster != "ext" || len(c.Members) != 2 {
			t.Fatalf("node %d /status: %+v cluster %+v", i, st, c)
		}
		self, other := c.Members[0], c.Members[1]
		wantSelf, wantOther := "a", "b"
		if i == 1 {
			wantSelf, wantOther = "b", "a"
		}
		if !self.Self || self.Name != wantSelf || self.ID != c.ID || !self.Alive || other.Self || other.Name != wantOther || !other.Alive || !other.Synced {
			t.Fatalf("node %d members: %+v", i, c.Members)
		}
	}

	const events, calls = 25, 7
	var got atomic.Int64
	all := make(chan struct{})
	sub := connect(t, b)
	must(t, sub.Subscribe("com.metrics", func(*nwamp.Event) {
		if got.Add(1) == events {
			close(all)
		}
	}, nil))
	must(t, sub.Register("com.metrics.echo", func(_ context.Context, inv *nwamp.Invocation) client.InvokeResult {
		return client.InvokeResult{Args: inv.Arguments}
	}, nil))
	waitSubscribers(t, rs, "com.metrics", "exact", 1)
	waitCallees(t, rs, "com.metrics.echo", "exact", 1)

	pub := connect(t, a)
	for i := range events {
		must(t, pub.Publish("com.metrics", nil, nwamp.List{i}, nil))
	}
	select {
	case <-all:
	case <-time.After(bound):
		t.Fatalf("%d of %d events arrived", got.Load(), events)
	}
	for i := range calls {
		res, err := pub.Call(context.Background(), "com.metrics.echo", nil, nwamp.List{i}, nil, nil)
		if err != nil || len(res.Arguments) != 1 {
			t.Fatalf("call %d: %v %v", i, res, err)
		}
	}
	// Both sides of b count before the answer reaches a, save the answer's
	// own send: wait for that one.
	testutil.Eventually(t, bound, func() bool { return cmScrape(t, b)[ansOut] == calls }, "b counts its answers")
	want := map[*router.Router]map[string]float64{
		a: {evOut: events, evIn: 0, invOut: calls, invIn: 0, ansOut: 0, ansIn: calls,
			"switchboard_cluster_linked": 1, "switchboard_cluster_nats_connected": 1, "switchboard_cluster_nodes_alive": 1,
			"switchboard_cluster_nodes_dead_total": 0, "switchboard_cluster_send_failures_total": 0,
			"switchboard_cluster_control_send_failures_total": 0, "switchboard_cluster_handler_panics_total": 0},
		b: {evOut: 0, evIn: events, invOut: 0, invIn: calls, ansOut: calls, ansIn: 0,
			"switchboard_cluster_linked": 1, "switchboard_cluster_nats_connected": 1, "switchboard_cluster_nodes_alive": 1,
			"switchboard_cluster_nodes_dead_total": 0, "switchboard_cluster_send_failures_total": 0,
			"switchboard_cluster_control_send_failures_total": 0, "switchboard_cluster_handler_panics_total": 0},
	}
	for r, w := range want {
		m := cmScrape(t, r)
		for series, v := range w {
			if got, ok := m[series]; !ok || got != v {
				t.Errorf("node %s: %s = %v (present %v), want %v", r.Cluster().Status().Node, series, got, ok, v)
			}
		}
		if m[`switchboard_cluster_snapshots_total{direction="applied"}`] < 1 || m["switchboard_cluster_resync_requests_total"] < 1 {
			t.Errorf("node %s: no snapshot applied or requested: %v", r.Cluster().Status().Node, m)
		}
	}
	testutil.Eventually(t, bound, func() bool {
		return cmScrape(t, a)["switchboard_cluster_nats_rtt_seconds"] > 0
	}, "a NATS round trip measured")

	// Cut the link: both nodes lose NATS.
	ns.Shutdown()
	ns.WaitForShutdown()
	cmWaitReady(t, rs, http.StatusServiceUnavailable)
	for _, r := range rs {
		code, body := cmGet(t, cmBase(r)+"/readyz")
		var ans struct{ Status, Error string }
		if err := json.Unmarshal([]byte(body), &ans); err != nil || code != http.StatusServiceUnavailable ||
			ans.Status != "not ready" || !strings.HasPrefix(ans.Error, "cluster: NATS connection") {
			t.Errorf("/readyz without NATS: %d %s", code, body)
		}
		m := cmScrape(t, r)
		if m["switchboard_cluster_linked"] != 0 || m["switchboard_cluster_nats_connected"] != 0 || m["switchboard_cluster_nats_disconnects_total"] < 1 {
			t.Errorf("metrics without NATS: linked %v connected %v disconnects %v", m["switchboard_cluster_linked"],
				m["switchboard_cluster_nats_connected"], m["switchboard_cluster_nats_disconnects_total"])
		}
		if st := cmStatus(t, r); st.Ready || st.Cluster.Linked || st.Cluster.Connected || st.Cluster.Reason == "" {
			t.Errorf("/status without NATS: %+v cluster %+v", st, st.Cluster)
		}
	}

	// NATS back on the same port: the nodes reconnect, exchange snapshots
	// and are ready again.
	_, port, _ := strings.Cut(addr, ":")
	p, _ := strconv.Atoi(port)
	ns2 := runNATS(t, p)
	defer func() { ns2.Shutdown(); ns2.WaitForShutdown() }()
	cmWaitReady(t, rs, http.StatusOK)
	for _, r := range rs {
		m := cmScrape(t, r)
		if m["switchboard_cluster_linked"] != 1 || m["switchboard_cluster_nats_reconnects_total"] < 1 || m["switchboard_cluster_nodes_alive"] != 1 {
			t.Errorf("metrics after the heal: linked %v reconnects %v alive %v", m["switchboard_cluster_linked"],
				m["switchboard_cluster_nats_reconnects_total"], m["switchboard_cluster_nodes_alive"])
		}
	}
}

// A node alone exports no cluster series and has a null cluster in
// /status.
func TestNoClusterNoClusterMetrics(t *testing.T) {
	r := routertest.Run(t, routertest.Config())
	for series := range cmScrape(t, r) {
		if strings.HasPrefix(series, "switchboard_cluster_") {
			t.Errorf("a node alone exports %s", series)
		}
	}
	if st := cmStatus(t, r); st.Cluster != nil {
		t.Errorf("/status cluster of a node alone: %+v", st.Cluster)
	}
}

// TestClusterNodeDeathMetrics kills node b of an embedded pair (its NATS
// connection and embedded server vanish): b is not ready at once; a takes
// b for dead, counts it, lists it as not alive in /status, and is ready
// again as a node whose peers are gone.
func TestClusterNodeDeathMetrics(t *testing.T) {
	rs := startCluster(t, 2, time.Second)
	a, b := rs[0], rs[1]
	cmWaitReady(t, rs, http.StatusOK)
	bID := b.Cluster().Status().ID

	b.Cluster().Kill()
	code, body := cmGet(t, cmBase(b)+"/readyz")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "cluster: left the cluster") {
		t.Errorf("/readyz of the killed node: %d %s", code, body)
	}
	testutil.Eventually(t, bound, func() bool {
		return cmScrape(t, a)["switchboard_cluster_nodes_dead_total"] == 1
	}, "a takes b for dead")
	cmWaitReady(t, rs[:1], http.StatusOK)
	m := cmScrape(t, a)
	if m["switchboard_cluster_nodes_alive"] != 0 || m["switchboard_cluster_linked"] != 1 || m["switchboard_cluster_nodes_left_total"] != 0 {
		t.Errorf("a after b's death: alive %v linked %v left %v", m["switchboard_cluster_nodes_alive"],
			m["switchboard_cluster_linked"], m["switchboard_cluster_nodes_left_total"])
	}
	st := cmStatus(t, a).Cluster
	if len(st.Members) != 2 || !st.Members[0].Self || st.Members[1].ID != bID || st.Members[1].Name != "n1" || st.Members[1].Alive {
		t.Errorf("a's members after b's death: %+v", st.Members)
	}
}

// TestClusterGoodbyeMetrics: a node that stops cleanly is counted as
// left, not dead, at once.
func TestClusterGoodbyeMetrics(t *testing.T) {
	rs := startCluster(t, 2, 10*time.Second)
	cmWaitReady(t, rs, http.StatusOK)
	rs[1].Cluster().Close()
	testutil.Eventually(t, bound, func() bool {
		m := cmScrape(t, rs[0])
		return m["switchboard_cluster_nodes_left_total"] == 1 && m["switchboard_cluster_nodes_alive"] == 0
	}, "a hears b leave")
	if m := cmScrape(t, rs[0]); m["switchboard_cluster_nodes_dead_total"] != 0 {
		t.Errorf("a node that said goodbye counted dead: %v", m["switchboard_cluster_nodes_dead_total"])
	}
}
