package interop_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gammazero/nexus/v3/client"
	nwamp "github.com/gammazero/nexus/v3/wamp"
)

// clusterNode is one switchboard process of the cluster test.
type clusterNode struct {
	cmd    *exec.Cmd
	out    *syncBuffer
	exited chan struct{}
	wsURL  string
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
	deadline := time.Now().Add(startTimeout)
	for {
		res, err := watcher.Call(context.Background(), "wamp.registration.lookup", nil, nwamp.List{victim}, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if res.Arguments[0] != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("node 1 never saw the registration made on node 3")
		}
		time.Sleep(20 * time.Millisecond)
	}
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
				m.stop(t)
			}
			return nil, early
		}
		nodes = append(nodes, n)
	}
	return nodes, ""
}

// stop ends a node with SIGTERM (SIGKILL if it does not exit in time).
func (n *clusterNode) stop(t *testing.T) {
	t.Helper()
	_ = n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-n.exited:
	case <-time.After(shutdownTimeout):
		_ = n.cmd.Process.Kill()
		<-n.exited
	}
}

// startClusterNode starts one node and waits for its WebSocket listener.
// Its cleanup stops it with SIGTERM unless the test killed it. If the node
// exits during its start, it returns its output instead.
func startClusterNode(t *testing.T, bin, cfg, dir, wsAddr string) (*clusterNode, string) {
	t.Helper()
	n := &clusterNode{out: new(syncBuffer), exited: make(chan struct{}), wsURL: "ws://" + wsAddr + "/ws"}
	n.cmd = exec.Command(bin, "-c", cfg)
	n.cmd.Dir = dir
	n.cmd.Stdout, n.cmd.Stderr = n.out, n.out
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var waitErr error
	go func() {
		waitErr = n.cmd.Wait()
		close(n.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-n.exited:
		default:
			_ = n.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-n.exited:
				if waitErr != nil {
					t.Errorf("%s did not exit cleanly on SIGTERM: %v", cfg, waitErr)
				}
			case <-time.After(shutdownTimeout):
				_ = n.cmd.Process.Kill()
				<-n.exited
				t.Errorf("%s still running %v after SIGTERM; killed", cfg, shutdownTimeout)
			}
		}
		if t.Failed() {
			t.Logf("%s output:\n%s", cfg, n.out.String())
		}
	})
	deadline := time.Now().Add(startTimeout)
	for {
		c, err := net.DialTimeout("tcp", wsAddr, time.Second)
		if err == nil {
			_ = c.Close()
			return n, ""
		}
		select {
		case <-n.exited:
			return nil, fmt.Sprintf("%s exited during startup: %v\n%s", cfg, waitErr, n.out.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not accepting connections on %s: %v", cfg, wsAddr, err)
		}
	}
}
