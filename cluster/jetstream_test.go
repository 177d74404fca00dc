package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gammazero/nexus/v3/client"
	nwamp "github.com/gammazero/nexus/v3/wamp"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchboard/switchboard/cluster"
	"github.com/switchboard/switchboard/config"
	"github.com/switchboard/switchboard/internal/testutil"
	"github.com/switchboard/switchboard/realm"
	"github.com/switchboard/switchboard/router"
	"github.com/switchboard/switchboard/router/routertest"
	"github.com/switchboard/switchboard/wamp"
)

func noop(context.Context, *nwamp.Invocation) client.InvokeResult { return client.InvokeResult{} }

// registerURI returns the error URI a REGISTER of proc got ("" for
// REGISTERED).
func registerURI(t *testing.T, c *client.Client, proc string, h client.InvocationHandler) string {
	t.Helper()
	err := c.Register(proc, h, nil)
	if err == nil {
		return ""
	}
	var re client.RPCError
	if errors.As(err, &re) {
		return string(re.Err.Error)
	}
	// nexus reports a REGISTER's ERROR as a plain error naming the URI.
	return err.Error()
}

// retainedArgs subscribes to topic with get_retained through a raw client
// (the nexus client drops an EVENT right behind SUBSCRIBED) and returns
// the retained event's arguments.
func retainedArgs(t *testing.T, r *router.Router, topic string) []any {
	t.Helper()
	c := rawJoin(t, r, "subscriber")
	if err := c.Send(&wamp.Message{Type: wamp.SUBSCRIBE, Request: 1, URI: wamp.URI(topic), Details: wamp.Dict{"get_retained": true}}); err != nil {
		t.Fatal(err)
	}
	if m := recvRaw(t, c); m.Type != wamp.SUBSCRIBED {
		t.Fatalf("SUBSCRIBE %s: %v %v", topic, m.Type, m.URI)
	}
	m := recvRaw(t, c)
	if m.Type != wamp.EVENT {
		t.Fatalf("after SUBSCRIBED with get_retained: %v, want the retained EVENT", m.Type)
	}
	return rawArgs(t, m.Args)
}

// TestRegisterWithoutQuorumRefused: a node whose peers are gone has no
// JetStream quorum: it answers REGISTER with cluster_unavailable instead
// of admitting it, and says it is not ready.
func TestRegisterWithoutQuorumRefused(t *testing.T) {
	rs := startCluster(t, 3, time.Second)
	c := connect(t, rs[0])
	rs[1].Cluster().Kill()
	rs[2].Cluster().Kill()
	testutil.CheckFor(t, bound, func() error {
		if err := rs[0].Cluster().LinkErr(); err == nil || !strings.Contains(err.Error(), "quorum") {
			return fmt.Errorf("the node alone says %v, want no quorum", err)
		}
		return nil
	})
	got := registerURI(t, c, "com.noquorum", noop)
	if !strings.Contains(got, string(cluster.ErrUnavailable)) {
		t.Fatalf("REGISTER without quorum: %q, want %s", got, cluster.ErrUnavailable)
	}
	if n, _ := rs[0].Realm("realm1").Dealer().CountCallees(realm.ClusterID("realm1", "com.noquorum", "exact")); n != 0 {
		t.Fatalf("a callee was registered without quorum")
	}
}

// TestDeadNodeProvenByNATS: a node that vanishes (its NATS connection and
// server gone, as with SIGKILL) is taken for dead on NATS's word (no
// responders on its ping subject), not after the failure timeout of
// silence; its registration goes from the directory, and another node can
// then register the procedure.
func TestDeadNodeProvenByNATS(t *testing.T) {
	// A failure timeout far longer than the test's bound: only NATS's
	// proof can take the node for dead in time.
	rs := startCluster(t, 3, time.Minute)
	victim := connect(t, rs[2])
	must(t, victim.Register("com.take", noop, nil))
	waitCallees(t, rs, "com.take", "exact", 1)

	killed := time.Now()
	rs[2].Cluster().Kill()
	survivors := rs[:2]
	testutil.Eventually(t, bound, func() bool {
		return rs[0].Cluster().Peers() == 1 && rs[1].Cluster().Peers() == 1
	}, "the survivors take the node for dead")
	t.Logf("SIGKILL-like loss known in %v (failure timeout 1m)", time.Since(killed).Round(time.Millisecond))
	for i, r := range survivors {
		if st := r.Cluster().Stats(); st.NodesDisconnected != 1 {
			t.Fatalf("node %d: %d deaths proven by NATS (%d in all), want 1", i, st.NodesDisconnected, st.NodesDead)
		}
	}
	waitCallees(t, survivors, "com.take", "exact", 0)
	taker := connect(t, rs[1])
	testutil.CheckFor(t, bound, func() error {
		if got := registerURI(t, taker, "com.take", func(context.Context, *nwamp.Invocation) client.InvokeResult {
			return client.InvokeResult{Args: nwamp.List{"taken"}}
		}); got != "" {
			return fmt.Errorf("another node registers the dead node's procedure: REGISTER %s", got)
		}
		return nil
	})
	caller := connect(t, rs[0])
	waitCallees(t, survivors, "com.take", "exact", 1)
	res, err := caller.Call(context.Background(), "com.take", nil, nil, nil, nil)
	if err != nil || len(res.Arguments) == 0 || res.Arguments[0] != "taken" {
		t.Fatalf("call after the takeover: %v %v", res, err)
	}
}

// TestRetainedReachesLateNode: a retained event published before a node
// joined is given to a subscriber on that node.
func TestRetainedReachesLateNode(t *testing.T) {
	rs := startCluster(t, 2, 3*time.Second)
	pub := connect(t, rs[0])
	must(t, pub.Publish("com.retained", nwamp.Dict{"retain": true, "acknowledge": true}, nwamp.List{"kept"}, nil))
	late := routertest.Run(t, nodeConfigR(t, "n2", 3*time.Second, 2, rs[0].Cluster().ClusterAddr()))
	rs = append(rs, late)
	waitMesh(t, rs)
	waitReady(t, rs)
	testutil.Eventually(t, bound, func() bool {
		return late.Realm("realm1").Broker().RetainedCount() == 1
	}, "the late node has the retained event")
	if args := retainedArgs(t, late, "com.retained"); len(args) != 1 || args[0] != "kept" {
		t.Fatalf("retained event on the late node: %v", args)
	}
}

// eventsOf calls wamp.subscription.get_events on the history
// subscription of topic through c and returns each event's first
// argument.
func eventsOf(t *testing.T, c *client.Client, topic string) []any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	id := realm.ClusterID("realm1", wamp.URI(topic), "exact")
	res, err := c.Call(ctx, "wamp.subscription.get_events", nil, nwamp.List{uint64(id)}, nwamp.Dict{"limit": 10}, nil)
	must(t, err)
	evs, _ := nwamp.AsList(res.Arguments[0])
	var out []any
	for _, e := range evs {
		d, _ := nwamp.AsDict(e)
		args, _ := nwamp.AsList(d["args"])
		if len(args) > 0 {
			out = append(out, args[0])
		}
	}
	return out
}

// withHistory keeps the last 5 events of com.hist.
func withHistory(cfg *config.Config) {
	cfg.Realms[0].History = []config.History{{Topic: "com.hist", Limit: 5}}
}

// TestHistoryAcrossNodes: wamp.subscription.get_events answers the same
// on every node, also for events published on a node with no subscriber
// on the history subscription, and on a node that joined later.
func TestHistoryAcrossNodes(t *testing.T) {
	var rs []*router.Router
	for i := range 2 {
		var routes []string
		if i > 0 {
			routes = []string{rs[0].Cluster().ClusterAddr()}
		}
		cfg := nodeConfigR(t, fmt.Sprintf("n%d", i), 3*time.Second, 2, routes...)
		withHistory(cfg)
		rs = append(rs, routertest.Run(t, cfg))
	}
	waitMesh(t, rs)
	waitReady(t, rs)
	a, b := connect(t, rs[0]), connect(t, rs[1])
	for i := range 7 {
		c := a
		if i%2 == 1 {
			c = b
		}
		must(t, c.Publish("com.hist", nwamp.Dict{"acknowledge": true}, nwamp.List{fmt.Sprint(i)}, nil))
	}
	want := []any{"2", "3", "4", "5", "6"}
	for i, c := range []*client.Client{a, b} {
		testutil.CheckFor(t, bound, func() error {
			if got := eventsOf(t, c, "com.hist"); !slices.Equal(got, want) {
				return fmt.Errorf("node %d's history %v, want %v", i, got, want)
			}
			return nil
		})
	}
	cfg := nodeConfigR(t, "n2", 3*time.Second, 2, rs[0].Cluster().ClusterAddr())
	withHistory(cfg)
	late := routertest.Run(t, cfg)
	rs = append(rs, late)
	waitMesh(t, rs)
	waitReady(t, rs)
	if got := eventsOf(t, connect(t, late), "com.hist"); !slices.Equal(got, want) {
		t.Fatalf("history on a node that joined later: %v, want %v", got, want)
	}
}

// TestRetainedSurvivesClusterRestart: with file storage, retained events
// and event history outlive a restart of every node; the registrations
// of the nodes before the restart are gone (their nodes never come
// back).
func TestRetainedSurvivesClusterRestart(t *testing.T) {
	dir := t.TempDir()
	start := func() []*router.Router {
		var rs []*router.Router
		for i := range 3 {
			var routes []string
			if i > 0 {
				routes = []string{rs[0].Cluster().ClusterAddr()}
			}
			cfg := nodeConfigR(t, fmt.Sprintf("n%d", i), time.Second, 3, routes...)
			cfg.Cluster.DataDir = filepath.Join(dir, fmt.Sprintf("n%d", i))
			cfg.Cluster.Storage = "file"
			withHistory(cfg)
			rs = append(rs, routertest.Run(t, cfg))
		}
		waitMesh(t, rs)
		waitReady(t, rs)
		return rs
	}
	rs := start()
	c := connect(t, rs[1])
	must(t, c.Publish("com.durable", nwamp.Dict{"retain": true, "acknowledge": true}, nwamp.List{"survives"}, nil))
	must(t, c.Register("com.before", noop, nil))
	must(t, c.Publish("com.hist", nwamp.Dict{"acknowledge": true}, nwamp.List{"kept"}, nil))
	waitCallees(t, rs, "com.before", "exact", 1)
	testutil.Eventually(t, bound, func() bool { return slices.Equal(eventsOf(t, c, "com.hist"), []any{"kept"}) }, "the history event is kept")
	testutil.Eventually(t, bound, func() bool {
		for _, r := range rs {
			if r.Realm("realm1").Broker().RetainedCount() != 1 {
				return false
			}
		}
		return true
	}, "every node keeps the retained event")
	_ = c.Close()
	for _, r := range rs {
		ctx, cancel := context.WithTimeout(context.Background(), bound)
		must(t, r.Shutdown(ctx))
		cancel()
	}

	rs = start()
	if args := retainedArgs(t, rs[2], "com.durable"); len(args) != 1 || args[0] != "survives" {
		t.Fatalf("retained event after the restart: %v", args)
	}
	again := connect(t, rs[0])
	if got := eventsOf(t, again, "com.hist"); !slices.Equal(got, []any{"kept"}) {
		t.Fatalf("history after a restart of the whole cluster: %v", got)
	}
	testutil.CheckFor(t, bound, func() error {
		if got := registerURI(t, again, "com.before", noop); got != "" {
			return fmt.Errorf("the procedure of a node before the restart is free again: REGISTER %s", got)
		}
		return nil
	})
}

// TestKillAllAcrossNodes: wamp.session.kill_all closes the sessions of
// every node but the caller, and counts them.
func TestKillAllAcrossNodes(t *testing.T) {
	rs := startCluster(t, 2, 3*time.Second)
	caller := connect(t, rs[0])
	local, remote := connect(t, rs[0]), connect(t, rs[1])
	res, err := caller.Call(context.Background(), "wamp.session.kill_all", nil, nil, nwamp.Dict{"reason": "com.example.all"}, nil)
	must(t, err)
	if n, _ := nwamp.AsInt64(res.Arguments[0]); n != 2 {
		t.Fatalf("kill_all answered %v, want 2 (one session on each node)", res.Arguments)
	}
	waitKilled(t, local, "com.example.all")
	waitKilled(t, remote, "com.example.all")
}

// TestTestamentOfDeadNodePublished: the testament of a session whose
// node dies is published by a survivor, once.
func TestTestamentOfDeadNodePublished(t *testing.T) {
	rs := startCluster(t, 3, time.Minute)
	watcher := connect(t, rs[0])
	wills := make(chan nwamp.List, 10)
	must(t, watcher.Subscribe("com.will", func(ev *nwamp.Event) { wills <- ev.Arguments }, nil))
	waitSubscribers(t, rs, "com.will", "exact", 1)
	mortal := connect(t, rs[2])
	_, err := mortal.Call(context.Background(), "wamp.session.add_testament", nil, nwamp.List{"com.will", nwamp.List{"bye"}, nwamp.Dict{}}, nil, nil)
	must(t, err)
	kv := testamentsBucket(t, rs[0])
	testutil.Eventually(t, bound, func() bool { return len(bucketKeys(t, kv)) == 1 }, "the testament is stored in the cluster")

	rs[2].Cluster().Kill()
	select {
	case args := <-wills:
		if len(args) != 1 || args[0] != "bye" {
			t.Fatalf("testament event %v", args)
		}
	case <-time.After(bound):
		t.Fatal("the testament of a session of the dead node was not published")
	}
	testutil.Eventually(t, bound, func() bool { return len(bucketKeys(t, kv)) == 0 }, "the testament is removed from the cluster")
	// Both survivors have swept (the key is gone); a second publication
	// would have come before the marker, which the same node sends after.
	must(t, watcher.Publish("com.will", nwamp.Dict{"exclude_me": false}, nwamp.List{"marker"}, nil))
	select {
	case args := <-wills:
		if args[0] != "marker" {
			t.Fatalf("testament published twice: then %v", args)
		}
	case <-time.After(bound):
		t.Fatal("no marker")
	}
}

func testamentsBucket(t *testing.T, r *router.Router) jetstream.KeyValue {
	t.Helper()
	nc, err := nats.Connect(r.Cluster().ClientURL())
	must(t, err)
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	must(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	kv, err := js.KeyValue(ctx, "sb_test_testaments")
	must(t, err)
	return kv
}

func bucketKeys(t *testing.T, kv jetstream.KeyValue) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	keys, err := kv.Keys(ctx)
	if errors.Is(err, jetstream.ErrNoKeysFound) {
		return nil
	}
	must(t, err)
	return keys
}
