package interop_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/gammazero/nexus/v3/client"
	nwamp "github.com/gammazero/nexus/v3/wamp"

	"github.com/switchboard/switchboard/internal/testutil"
)

// clusterNode is one switchboard process of the cluster test.
type clusterNode struct {
	proc
	out   *testutil.Buffer
	wsURL string
}

// TestAutobahnJSCluster starts the three nodes of examples/cluster as
// processes (on free ports), runs AutobahnJS clients on different nodes
// doing pub/sub and RPC, kills one node with SIGKILL while a session on it
// has a registration, and runs the checks again on the two survivors.
func TestAutobahnJSCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("interop test: builds the router and runs Node.js")
	}
	if os.Getenv(nexusdEnv) != "" {
		t.Skipf("%s set: nexusd has no cluster", nexusdEnv)
	}
	node := lookTool(t, "node")
	root := moduleRoot(t)
	dir := filepath.Join(root, "interop", "autobahn")
	npmCI(t, dir)
	tmp := t.TempDir()
	bin := buildSwitchboard(t, root, tmp)

	// Every address of the example moves to a free port, consistently
	// across the three files (the routes name the other nodes' ports). A
	// port found free can be taken by another test's process before the
	// node binds it; then the node exits at start, naming the port, and
	// the cluster starts again on other ports.
	var nodes []*clusterNode
	for attempt := 1; nodes == nil; attempt++ {
		var why string
		nodes, why = startExampleCluster(t, root, tmp, bin)
		if nodes == nil && attempt == 3 {
			t.Fatalf("the cluster did not start in %d attempts; last: %s", attempt, why)
		}
		if nodes == nil {
			t.Logf("attempt %d: %s; again on other ports", attempt, why)
		}
	}
	urls := func(ns []*clusterNode) string {
		var u []string
		for _, n := range ns {
			u = append(u, n.wsURL)
		}
		return strings.Join(u, ",")
	}
	run := func(phase string, ns []*clusterNode, env ...string) {
		runNode(t, node, dir, "cluster.test.mjs", append([]string{
			"SWITCHBOARD_URL=" + ns[0].wsURL,
			"SWITCHBOARD_URLS=" + urls(ns),
			"SWITCHBOARD_PHASE=" + phase,
		}, env...)...)
	}
	run("before", nodes)

	// A session on node 3 registers a procedure; node 1 sees it.
	const victim = "com.example.cluster.victim"
	callee := nexusClient(t, nodes[2].wsURL)
	if err := callee.Register(victim, func(context.Context, *nwamp.Invocation) client.InvokeResult {
		return client.InvokeResult{}
	}, nil); err != nil {
		t.Fatalf("register on node 3: %v", err)
	}
	watcher := nexusClient(t, nodes[0].wsURL)
	testutil.Eventually(t, startTimeout, func() bool {
		res, err := watcher.Call(context.Background(), "wamp.registration.lookup", nil, nwamp.List{victim}, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		return res.Arguments[0] != nil
	}, "node 1 sees the registration made on node 3")
	_ = watcher.Close()

	if err := nodes[2].cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-nodes[2].exited
	_ = callee.Close()

	run("after", nodes[:2], "SWITCHBOARD_VICTIM_PROC="+victim)
}

func nexusClient(t *testing.T, url string) *client.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	c, err := client.ConnectNet(ctx, url, client.Config{Realm: "realm1", ResponseTimeout: startTimeout})
	if err != nil {
		t.Fatalf("connect %s: %v", url, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// startExampleCluster starts the three nodes of examples/cluster on free
// ports. When a node exits during its start, it stops those it started
// and returns nil with the node's output.
func startExampleCluster(t *testing.T, root, tmp, bin string) ([]*clusterNode, string) {
	t.Helper()
	moves := map[string]string{}
	for _, a := range []string{"8080", "8090", "8100", "4222", "4223", "4224", "6222", "6223", "6224"} {
		moves["127.0.0.1:"+a] = freeAddr(t)
	}
	// One pass: a free port may begin with an example's port (42223
	// after 4222), which replacing in turn would rewrite again.
	var pairs []string
	for from, to := range moves {
		pairs = append(pairs, from, to)
	}
	rep := strings.NewReplacer(pairs...)
	var nodes []*clusterNode
	for i := range 3 {
		name := "node" + string(rune('1'+i))
		b, err := os.ReadFile(filepath.Join(root, "examples", "cluster", name+".yaml"))
		if err != nil {
			t.Fatal(err)
		}
		cfg := filepath.Join(tmp, name+".yaml")
		if err := os.WriteFile(cfg, []byte(rep.Replace(string(b))), 0o600); err != nil {
			t.Fatal(err)
		}
		ws := moves["127.0.0.1:"+[]string{"8080", "8090", "8100"}[i]]
		n, early := startClusterNode(t, bin, cfg, tmp, ws)
		if early != "" {
			for _, m := range nodes {
				m.stop(syscall.SIGTERM)
			}
			return nil, early
		}
		nodes = append(nodes, n)
	}
	return nodes, ""
}

// startClusterNode starts one node and waits for its WebSocket listener.
// Its cleanup stops it with SIGTERM unless the test killed it. If the node
// exits during its start, it returns its output instead.
func startClusterNode(t *testing.T, bin, cfg, dir, wsAddr string) (*clusterNode, string) {
	t.Helper()
	n := &clusterNode{out: new(testutil.Buffer), wsURL: "ws://" + wsAddr + "/ws"}
	cmd := exec.Command(bin, "-c", cfg)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = n.out, n.out
	n.start(t, cfg, cmd)
	t.Cleanup(func() {
		switch {
		case n.hasExited():
		case !n.stop(syscall.SIGTERM):
			t.Errorf("%s still running %v after SIGTERM; killed", cfg, shutdownTimeout)
		case n.err != nil:
			t.Errorf("%s did not exit cleanly on SIGTERM: %v", cfg, n.err)
		}
		if t.Failed() {
			t.Logf("%s output:\n%s", cfg, n.out.String())
		}
	})
	if err := waitListening(wsAddr, n.exited, startTimeout); errors.Is(err, errExited) {
		return nil, fmt.Sprintf("%s exited during startup: %v\n%s", cfg, n.err, n.out.String())
	} else if err != nil {
		t.Fatalf("%s not accepting connections on %s: %v", cfg, wsAddr, err)
	}
	return n, ""
}
