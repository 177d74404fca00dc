package cluster_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gammazero/nexus/v3/client"
	nwamp "github.com/gammazero/nexus/v3/wamp"
	"github.com/nats-io/nats-server/v2/server"

	"github.com/switchboard/switchboard/config"
	"github.com/switchboard/switchboard/internal/testutil"
	"github.com/switchboard/switchboard/router"
	"github.com/switchboard/switchboard/router/routertest"
)

// TestNodeLoss kills a node as SIGKILL would (its NATS connection and
// embedded server vanish without a word): the others notice, its
// subscriptions and registrations go, calls pending on it fail with
// wamp.error.canceled, its sessions are no longer counted, and the rest
// keeps working. (No node mirrors another's sessions, so no on_leave is
// emitted for them: their node would have, and it is gone.)
func TestNodeLoss(t *testing.T) {
	rs := startCluster(t, 3, time.Second)
	victim := rs[2]

	watcher := connect(t, rs[0])

	callee := connect(t, victim)
	started := make(chan struct{}, 1)
	must(t, callee.Register("com.hang", func(ctx context.Context, _ *nwamp.Invocation) client.InvokeResult {
		started <- struct{}{}
		<-ctx.Done()
		return client.InvokeResult{Err: nwamp.ErrCanceled}
	}, nil))
	sub := connect(t, victim)
	must(t, sub.Subscribe("com.topic", func(*nwamp.Event) {}, nil))
	live := connect(t, rs[1])
	liveEvents := make(chan *nwamp.Event, 10)
	must(t, live.Subscribe("com.topic", func(ev *nwamp.Event) { liveEvents <- ev }, nil))
	waitCallees(t, rs, "com.hang", "exact", 1)
	waitSubscribers(t, rs, "com.topic", "exact", 2)

	caller := connect(t, rs[0])
	done := make(chan error, 1)
	go func() {
		_, err := caller.Call(context.Background(), "com.hang", nil, nil, nil, nil)
		done <- err
	}()
	select {
	case <-started:
	case <-time.After(bound):
		t.Fatal("the call did not reach the callee")
	}
	calleeID := callee.ID()

	victim.Cluster().Kill()

	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "wamp.error.canceled") {
			t.Fatalf("call pending on the dead node: %v, want wamp.error.canceled", err)
		}
	case <-time.After(bound):
		t.Fatal("call pending on the dead node was not answered")
	}
	survivors := rs[:2]
	waitCallees(t, survivors, "com.hang", "exact", 0)
	waitSubscribers(t, survivors, "com.topic", "exact", 1)
	testutil.Eventually(t, bound, func() bool {
		return rs[0].Cluster().Peers() == 1 && rs[1].Cluster().Peers() == 1
	}, "survivors see one peer")
	// The rest keeps working.
	must(t, watcher.Publish("com.topic", nil, nwamp.List{"after"}, nil))
	select {
	case ev := <-liveEvents:
		if ev.Arguments[0] != "after" {
			t.Fatalf("event %v", ev.Arguments)
		}
	case <-time.After(bound):
		t.Fatal("no event after the node loss")
	}
	res, err := caller.Call(context.Background(), "wamp.session.count", nil, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := nwamp.AsInt64(res.Arguments[0]); n != 3 {
		t.Fatalf("wamp.session.count after the loss = %d, want 3 (watcher, live, caller)", n)
	}
	_, err = caller.Call(context.Background(), "wamp.session.get", nil, nwamp.List{calleeID}, nil, nil)
	if err == nil || !strings.Contains(err.Error(), "wamp.error.no_such_session") {
		t.Fatalf("wamp.session.get of a session of the dead node: %v, want no_such_session", err)
	}
}

// externalNode is a node on an external NATS at url.
func externalNode(t testing.TB, name, url string, ft time.Duration, auth func(*config.ExternalNATS)) *router.Router {
	t.Helper()
	cfg := routertest.Config()
	cfg.Cluster = &config.Cluster{Name: "ext", Node: name, FailureTimeout: ft, NATS: &config.ExternalNATS{URLs: []string{url}}}
	if auth != nil {
		auth(cfg.Cluster.NATS)
	}
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("config: %v", err)
	}
	return routertest.Run(t, cfg)
}

// runNATS starts an in-process NATS server with JetStream on port (random
// when -1). Its store is new: a restart loses the cluster's state.
func runNATS(t testing.TB, port int) *server.Server {
	t.Helper()
	return runNATSOpts(t, &server.Options{Host: "127.0.0.1", Port: port, NoLog: true, NoSigs: true, JetStream: true, StoreDir: t.TempDir()})
}

func runNATSOpts(t testing.TB, opts *server.Options) *server.Server {
	t.Helper()
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(bound) {
		t.Fatal("NATS server did not start")
	}
	return s
}

// TestNATSRestartHeals stops the NATS server both nodes use and starts it
// again: the nodes reconnect and resynchronise sessions, subscriptions
// and registrations without help.
func TestNATSRestartHeals(t *testing.T) {
	ns := runNATS(t, server.RANDOM_PORT)
	port := ns.Addr().(interface{ String() string }).String()
	url := "nats://" + port
	rs := []*router.Router{
		externalNode(t, "a", url, time.Second, nil),
		externalNode(t, "b", url, time.Second, nil),
	}
	waitMesh(t, rs)
	callee := connect(t, rs[1])
	must(t, callee.Register("com.echo", func(_ context.Context, inv *nwamp.Invocation) client.InvokeResult {
		return client.InvokeResult{Args: inv.Arguments}
	}, nil))
	sub := connect(t, rs[1])
	events := make(chan *nwamp.Event, 100)
	must(t, sub.Subscribe("com.heal", func(ev *nwamp.Event) { events <- ev }, nil))
	waitCallees(t, rs, "com.echo", "exact", 1)
	waitSubscribers(t, rs, "com.heal", "exact", 1)

	ns.Shutdown()
	ns.WaitForShutdown()
	// Long enough for each node to take the other for dead and drop its
	// state: the heal below must rebuild it.
	testutil.Eventually(t, bound, func() bool {
		return rs[0].Cluster().Peers() == 0 && rs[1].Cluster().Peers() == 0
	}, "nodes drop each other")
	waitCallees(t, rs[:1], "com.echo", "exact", 0)
	// A subscription made during the gap: its announcement is lost, the
	// resynchronisation must bring it.
	during := connect(t, rs[1])
	duringEvents := make(chan *nwamp.Event, 10)
	must(t, during.Subscribe("com.during", func(ev *nwamp.Event) { duringEvents <- ev }, nil))

	_, portStr, _ := strings.Cut(port, ":")
	var p int
	fmt.Sscan(portStr, &p)
	ns2 := runNATS(t, p)
	defer func() { ns2.Shutdown(); ns2.WaitForShutdown() }()
	waitMesh(t, rs)
	waitCallees(t, rs, "com.echo", "exact", 1)
	waitSubscribers(t, rs, "com.heal", "exact", 1)
	waitSubscribers(t, rs, "com.during", "exact", 1)

	caller := connect(t, rs[0])
	must(t, caller.Publish("com.during", nil, nwamp.List{"seen"}, nil))
	select {
	case <-duringEvents:
	case <-time.After(bound):
		t.Fatal("no event for the subscription made during the gap")
	}
	res, err := caller.Call(context.Background(), "com.echo", nil, nwamp.List{"again"}, nil, nil)
	if err != nil || res.Arguments[0] != "again" {
		t.Fatalf("call after the heal: %v %v", res, err)
	}
	must(t, caller.Publish("com.heal", nil, nwamp.List{"healed"}, nil))
	select {
	case ev := <-events:
		if ev.Arguments[0] != "healed" {
			t.Fatalf("event %v", ev.Arguments)
		}
	case <-time.After(bound):
		t.Fatal("no event after the heal")
	}
}

// TestExternalNATSServerBinary runs two nodes against a real nats-server
// process (built from the module cache) with token authentication.
func TestExternalNATSServerBinary(t *testing.T) {
	bin := natsServerBinary(t)
	port := 20000 + os.Getpid()%20000
	cmd := exec.Command(bin, "-a", "127.0.0.1", "-p", fmt.Sprint(port), "--auth", "s3cret", "-js", "-sd", t.TempDir())
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	url := fmt.Sprintf("nats://127.0.0.1:%d", port)
	testutil.Eventually(t, bound, func() bool { return dialOK(fmt.Sprintf("127.0.0.1:%d", port)) }, "nats-server listening")
	tok := func(n *config.ExternalNATS) { n.Token = "s3cret" }
	rs := []*router.Router{externalNode(t, "a", url, 3*time.Second, tok), externalNode(t, "b", url, 3*time.Second, tok)}
	waitMesh(t, rs)
	sub := connect(t, rs[1])
	events := make(chan *nwamp.Event, 10)
	must(t, sub.Subscribe("com.ext", func(ev *nwamp.Event) { events <- ev }, nil))
	must(t, sub.Register("com.ext.echo", func(_ context.Context, inv *nwamp.Invocation) client.InvokeResult {
		return client.InvokeResult{Args: inv.Arguments}
	}, nil))
	waitSubscribers(t, rs, "com.ext", "exact", 1)
	waitCallees(t, rs, "com.ext.echo", "exact", 1)
	pub := connect(t, rs[0])
	must(t, pub.Publish("com.ext", nil, nwamp.List{1}, nil))
	select {
	case <-events:
	case <-time.After(bound):
		t.Fatal("no event through the external NATS")
	}
	res, err := pub.Call(context.Background(), "com.ext.echo", nil, nwamp.List{"x"}, nil, nil)
	if err != nil || res.Arguments[0] != "x" {
		t.Fatalf("call through the external NATS: %v %v", res, err)
	}

	// A wrong token is refused at Start with a clear error.
	cfg := routertest.Config()
	cfg.Cluster = &config.Cluster{Name: "ext", NATS: &config.ExternalNATS{URLs: []string{url}, Token: "wrong"}}
	cfg.SetDefaults()
	r, err := router.New(cfg, router.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Start(); err == nil || !strings.Contains(err.Error(), "cluster") {
		t.Fatalf("start with a wrong token: %v, want a cluster error", err)
	}
}

// natsServerBinary builds nats-server from the module cache into a temp
// dir; it skips when that is impossible, unless CI is set.
func natsServerBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds nats-server")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "nats-server")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/nats-io/nats-server/v2")
	if out, err := cmd.CombinedOutput(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("build nats-server: %v\n%s", err, out)
		}
		t.Skipf("cannot build nats-server: %v\n%s", err, out)
	}
	return bin
}

func dialOK(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	_ = c.Close()
	return true
}

// TestExternalNATSWithoutJetStream: a node on a NATS without JetStream
// fails to start, saying so.
func TestExternalNATSWithoutJetStream(t *testing.T) {
	ns := runNATSOpts(t, &server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT, NoLog: true, NoSigs: true})
	defer func() { ns.Shutdown(); ns.WaitForShutdown() }()
	err := startErr(t, ns.ClientURL(), nil)
	if err == nil || !strings.Contains(err.Error(), "no JetStream") {
		t.Fatalf("start on a NATS without JetStream: %v, want an error naming JetStream", err)
	}
}

// TestShortGapResync restarts NATS faster than the failure timeout: no
// node is taken for dead, and what changed during the gap (a subscription
// whose announcement was lost) arrives with the snapshots the nodes
// exchange when they reconnect.
func TestShortGapResync(t *testing.T) {
	ns := runNATS(t, server.RANDOM_PORT)
	addr := ns.Addr().String()
	rs := []*router.Router{
		externalNode(t, "a", "nats://"+addr, 10*time.Second, nil),
		externalNode(t, "b", "nats://"+addr, 10*time.Second, nil),
	}
	waitMesh(t, rs)
	ns.Shutdown()
	ns.WaitForShutdown()
	during := connect(t, rs[1])
	events := make(chan *nwamp.Event, 10)
	must(t, during.Subscribe("com.gap", func(ev *nwamp.Event) { events <- ev }, nil))
	_, portStr, _ := strings.Cut(addr, ":")
	var p int
	fmt.Sscan(portStr, &p)
	ns2 := runNATS(t, p)
	defer func() { ns2.Shutdown(); ns2.WaitForShutdown() }()
	waitSubscribers(t, rs, "com.gap", "exact", 1)
	if rs[0].Cluster().Peers() != 1 {
		t.Fatalf("node a knows %d peers, want 1", rs[0].Cluster().Peers())
	}
	pub := connect(t, rs[0])
	must(t, pub.Publish("com.gap", nil, nwamp.List{1}, nil))
	select {
	case <-events:
	case <-time.After(bound):
		t.Fatal("no event after a short gap")
	}
}
