package interop_test

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gammazero/nexus/v3/client"
	nexuswamp "github.com/gammazero/nexus/v3/wamp"

	"github.com/switchboard/switchboard/internal/testutil"
)

// The partition test's timing. failure_timeout is the nodes'; every other
// bound only stops a broken run from hanging, except partCallMargin, which
// is what the test allows past failure_timeout for an in-flight call to
// end once its callee's node is cut off.
const (
	partFailureTimeout = 3 * time.Second
	partCallMargin     = 2 * time.Second
	partStartBound     = 60 * time.Second // processes ready, cluster formed
	partCallCap        = 15 * time.Second // how long past the cut a late call is still waited for, to report its time
	partRaceBound      = 30 * time.Second // retries of the majority's REGISTER (and retained PUBLISH) while cluster_unavailable
	partReadyBound     = 20 * time.Second // /readyz settling during the partition
	partHold           = 15 * time.Second // the cut lasts at least this long
	partHealBound      = 60 * time.Second // each check after the heal
	partProbe          = time.Second      // a TCP connect that proves the cut
)

const (
	partRealm      = "realm1"
	partRace       = "com.part.race"
	partSlow       = "com.part.slow"
	partEcho       = "com.part.echo"
	partRetained   = "com.part.retained"
	errUnavailable = "switchboard.error.cluster_unavailable"
)

// TestPartition runs three switchboard processes, each in its own network
// namespace with its embedded NATS on its namespace's address, cuts node
// n3 off from n1 and n2 (packets dropped both ways) while every client
// stays connected (clients reach each node over a Unix socket, which no
// cut touches), and checks what a partition must not break:
//
//  1. before the cut the cluster works (a call from n3 reaches n1);
//  2. a call in flight from n1 to a callee on n3 ends, with a result or an
//     ERROR, within failure_timeout plus a margin of the cut;
//  3. during the cut, of two racing REGISTERs of one procedure on n3
//     (isolated) and n1 (majority) at most one is admitted: the isolated
//     side answers an ERROR, the majority REGISTERED (retried while it
//     answers cluster_unavailable, as JetStream elects a new leader);
//  4. the isolated node's /readyz answers 503, and keeps answering it
//     until the heal (the cut lasts at least partHold); n1's and n2's 200;
//  5. a retained event published on n1 during the cut is acknowledged;
//  6. after the heal: /readyz 200 everywhere, calls to the raced
//     procedure from n1, n2 and n3 reach the same callee,
//     wamp.session.count agrees on every node, and a new subscriber on n3
//     with get_retained gets the event of 5.
//
// It needs root and iproute2 (ip, tc); see netns_test.go for the network.
func TestPartition(t *testing.T) {
	if testing.Short() {
		t.Skip("interop test: builds the router, runs three nodes in network namespaces")
	}
	if os.Getenv(nexusdEnv) != "" {
		t.Skipf("%s set: nexusd has no cluster", nexusdEnv)
	}
	requireNetAdmin(t)
	began := time.Now()
	root := moduleRoot(t)
	tmp := t.TempDir()
	bin := buildSwitchboard(t, root, tmp)
	jetstream := acceptsJetStreamKeys(t, bin, tmp)

	// The network first: its cleanup, which deletes the namespaces, must
	// run after the nodes' cleanups have stopped them.
	topo := newNetTopo(t, 3)
	c := &partCluster{}
	for i := range topo.nodes {
		c.nodes = append(c.nodes, startPartNode(t, topo, bin, tmp, i, jetstream))
	}
	for _, n := range c.nodes {
		n.waitStarted(t)
	}
	n1, n2, n3 := c.nodes[0], c.nodes[1], c.nodes[2]
	t.Logf("%v: three processes started (build included)", time.Since(began).Round(time.Millisecond))

	// 1. Before the cut the cluster works.
	if ok, took, last := c.waitReady(partStartBound, 200, c.nodes...); !ok {
		t.Fatalf("before the cut: /readyz not 200 on every node within %v: %s%s", partStartBound, last, c.exits())
	} else {
		t.Logf("all three ready %v after their start", took.Round(time.Millisecond))
	}
	probes := []*client.Client{partClient(t, n1), partClient(t, n2), partClient(t, n3)}
	if err := probes[0].Register(partEcho, answer(n1.name), nil); err != nil {
		t.Fatalf("before the cut: REGISTER %s on n1: %v", partEcho, err)
	}
	// The slow callee has a session of its own: the router may close it
	// (see the check after the heal), which must not take a probe along.
	slow := partClient(t, n3)
	invoked := make(chan struct{}, 1)
	release := make(chan struct{})
	if err := slow.Register(partSlow, slowCallee(invoked, release), nil); err != nil {
		t.Fatalf("before the cut: REGISTER %s on n3: %v", partSlow, err)
	}
	t.Cleanup(func() { close(release) }) // before the clients close: the callee's handler returns
	if ok, _, last := eventually(partStartBound, func() (bool, string) {
		got, err := callString(probes[2], partEcho)
		return err == nil && got == n1.name, fmt.Sprintf("got %q, %v", got, err)
	}); !ok {
		t.Fatalf("before the cut: a call from n3 to %s (callee on n1) never answered %q within %v; last: %s%s",
			partEcho, n1.name, partStartBound, last, c.exits())
	}
	if ok, _, last := eventually(partStartBound, func() (bool, string) {
		res, err := call(probes[0], "wamp.registration.lookup", partSlow)
		return err == nil && len(res) > 0 && res[0] != nil, fmt.Sprintf("%v, %v", res, err)
	}); !ok {
		t.Fatalf("before the cut: n1 never saw %s registered on n3 within %v; last lookup: %s", partSlow, partStartBound, last)
	}
	racers := []*client.Client{partClient(t, n1), partClient(t, n3)} // n1 (majority), n3 (isolated)
	ours := append(append([]*client.Client{slow}, probes...), racers...)
	sessions := len(ours)
	ok, _, last := eventually(partStartBound, func() (bool, string) {
		counts, desc := c.sessionCounts(probes)
		return counts[0] == sessions && counts[1] == sessions && counts[2] == sessions, desc
	})
	if !ok {
		t.Fatalf("before the cut: wamp.session.count is not %d (the test's sessions) on every node within %v: %s",
			sessions, partStartBound, last)
	}
	for _, peer := range []int{0, 1} {
		if err := c.probeRoute(2, peer); err != nil {
			t.Fatalf("before the cut: n3 cannot connect to %s's NATS route port: %v", c.nodes[peer].name, err)
		}
	}

	// 2. A call in flight across the cut must end.
	type outcome struct {
		res *nexuswamp.Result
		err error
		at  time.Time
	}
	ended := make(chan outcome, 1)
	callCtx, cancelCall := context.WithTimeout(context.Background(), partCallCap+partRaceBound+partHealBound)
	t.Cleanup(cancelCall)
	go func() {
		res, err := nexusCall(callCtx, probes[0], partSlow, nil, nil)
		ended <- outcome{res, err, time.Now()}
	}()
	select {
	case <-invoked:
	case o := <-ended:
		t.Fatalf("before the cut: the call n1 -> %s on n3 ended before it was cut: %v %v", partSlow, o.res, o.err)
	case <-time.After(partStartBound):
		t.Fatalf("before the cut: the INVOCATION of %s (caller on n1) never reached its callee on n3 within %v", partSlow, partStartBound)
	}

	heal := topo.isolate(t, 2)
	cutAt := time.Now()
	t.Cleanup(heal) // runs before the nodes' cleanups stop them
	t.Logf("cut: n3 (%s) isolated from n1 and n2 (packets dropped both ways)", nodeIP(2))
	// The cut must really cut, and only n3.
	var cutErrs []string
	var pwg sync.WaitGroup
	var pmu sync.Mutex
	for _, p := range [][2]int{{2, 0}, {2, 1}, {0, 2}, {1, 2}, {0, 1}} {
		pwg.Go(func() {
			err := c.probeRoute(p[0], p[1])
			cutOff := p[0] == 2 || p[1] == 2
			pmu.Lock()
			defer pmu.Unlock()
			switch {
			case cutOff && err == nil:
				cutErrs = append(cutErrs, fmt.Sprintf("%s connected to %s:6222 through the cut", c.nodes[p[0]].name, nodeIP(p[1])))
			case !cutOff && err != nil:
				cutErrs = append(cutErrs, fmt.Sprintf("%s cannot connect to %s:6222 on the majority side: %v", c.nodes[p[0]].name, nodeIP(p[1]), err))
			}
		})
	}
	pwg.Wait()
	if len(cutErrs) > 0 {
		t.Fatalf("the cut is not what the test needs (a harness problem, not the router's): %s", strings.Join(cutErrs, "; "))
	}

	bound := partFailureTimeout + partCallMargin
	describe := func(o outcome) string {
		if o.err != nil {
			return "ERROR " + wampURI(o.err)
		}
		return fmt.Sprintf("RESULT %v", o.res.Arguments)
	}
	select {
	case o := <-ended:
		took := o.at.Sub(cutAt)
		if took > bound {
			t.Errorf("2. the call in flight from n1 to its callee on n3 ended %v after the cut (%s); want within failure_timeout %v + %v",
				took.Round(time.Millisecond), describe(o), partFailureTimeout, partCallMargin)
		} else {
			t.Logf("2. the in-flight call n1 -> n3 ended %v after the cut: %s", took.Round(time.Millisecond), describe(o))
		}
	case <-time.After(time.Until(cutAt.Add(partCallCap))):
		t.Errorf("2. the call in flight from n1 to its callee on n3 is still pending %v after the cut; want it ended (RESULT or ERROR) within failure_timeout %v + %v",
			partCallCap, partFailureTimeout, partCallMargin)
	}

	// 3. Race a REGISTER on each side.
	type regOutcome struct {
		err      error
		attempts int
		took     time.Duration
	}
	var iso, maj regOutcome
	start := make(chan struct{})
	var rwg sync.WaitGroup
	rwg.Go(func() {
		<-start
		t0 := time.Now()
		iso.err = racers[1].Register(partRace, answer(n3.name), nil)
		iso.attempts, iso.took = 1, time.Since(t0)
	})
	rwg.Go(func() {
		<-start
		t0 := time.Now()
		for {
			maj.attempts++
			maj.err = racers[0].Register(partRace, answer(n1.name), nil)
			if maj.err == nil || !strings.Contains(maj.err.Error(), errUnavailable) || time.Since(t0) > partRaceBound {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		maj.took = time.Since(t0)
	})
	raceAt := time.Now()
	close(start)
	rwg.Wait()
	regDesc := func(o regOutcome) string {
		if o.err == nil {
			return fmt.Sprintf("REGISTERED after %v (%d attempts)", o.took.Round(time.Millisecond), o.attempts)
		}
		if errors.Is(o.err, client.ErrReplyTimeout) {
			return fmt.Sprintf("no answer within the client's %v (%d attempts)", opsBound, o.attempts)
		}
		return fmt.Sprintf("ERROR %s after %v (%d attempts)", wampURI(o.err), o.took.Round(time.Millisecond), o.attempts)
	}
	t.Logf("3. race %v after the cut: isolated n3: %s; majority n1: %s",
		raceAt.Sub(cutAt).Round(time.Millisecond), regDesc(iso), regDesc(maj))
	winner := ""
	switch {
	case iso.err == nil && maj.err == nil:
		t.Errorf("3. split brain: both sides admitted REGISTER %s during the partition (isolated n3 and majority n1 both REGISTERED); want at most one, the majority's", partRace)
	case iso.err == nil:
		winner = n3.name
		t.Errorf("3. the isolated n3 admitted REGISTER %s (REGISTERED); want an ERROR: a node cut from the majority cannot know the procedure is free", partRace)
	case errors.Is(iso.err, client.ErrReplyTimeout):
		t.Errorf("3. the isolated n3 never answered REGISTER %s (no REGISTERED, no ERROR within %v); want an ERROR", partRace, opsBound)
	}
	switch {
	case maj.err == nil:
		winner = n1.name
	default:
		t.Errorf("3. the majority n1 did not admit REGISTER %s within %v of retries on %s: %s; want REGISTERED", partRace, partRaceBound, errUnavailable, regDesc(maj))
	}

	// 4. /readyz: 503 on the isolated node, 200 on the majority.
	var readyErrs []string
	isoUnready := false
	var rmu sync.Mutex
	var ywg sync.WaitGroup
	for _, w := range []struct {
		n    *partNode
		code int
	}{{n3, 503}, {n1, 200}, {n2, 200}} {
		ywg.Go(func() {
			ok, took, last := c.waitReady(partReadyBound, w.code, w.n)
			rmu.Lock()
			defer rmu.Unlock()
			if !ok {
				readyErrs = append(readyErrs, fmt.Sprintf("%s: want %d within %v, last %s", w.n.name, w.code, partReadyBound, last))
			} else {
				isoUnready = isoUnready || w.n == n3
				t.Logf("4. %s /readyz %d %v after the cut (waited %v)", w.n.name, w.code, time.Since(cutAt).Round(time.Millisecond), took.Round(time.Millisecond))
			}
		})
	}
	ywg.Wait()
	for _, e := range readyErrs {
		t.Errorf("4. during the partition /readyz %s", e)
	}
	// Once unready, n3 must stay so for as long as it is cut off: watch
	// it until the heal, which comes no sooner than partHold after the
	// cut, long enough for JetStream to have settled on each side.
	stopWatch := make(chan struct{})
	stop := sync.OnceFunc(func() { close(stopWatch) })
	t.Cleanup(stop)
	watched := make(chan string, 1) // the first answer that was not 503, or ""
	n3watch := func() {
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stopWatch:
				watched <- ""
				return
			case <-tick.C:
			}
			if code, body := n3.readyz(); code != 503 {
				watched <- fmt.Sprintf("%d %s, %v after the cut", code, body, time.Since(cutAt).Round(time.Millisecond))
				return
			}
		}
	}
	if isoUnready {
		go n3watch()
	} else {
		watched <- "" // reported above
	}

	// 5. A retained event published on the majority side during the cut.
	marker := fmt.Sprintf("published on n1 during the partition (%d)", time.Now().UnixNano())
	var pubErr error
	attempts := 0
	t0 := time.Now()
	for {
		attempts++
		pubErr = probes[0].Publish(partRetained, nexuswamp.Dict{"retain": true, "acknowledge": true}, nexuswamp.List{marker}, nil)
		if pubErr == nil || !strings.Contains(pubErr.Error(), errUnavailable) || time.Since(t0) > partRaceBound {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if pubErr != nil {
		t.Errorf("5. the retained PUBLISH (acknowledge) on n1 during the partition failed after %d attempts in %v: %s; want PUBLISHED",
			attempts, time.Since(t0).Round(time.Millisecond), wampURI(pubErr))
	} else {
		t.Logf("5. retained event PUBLISHED on n1 after %v (%d attempts)", time.Since(t0).Round(time.Millisecond), attempts)
	}
	// Hold the cut, then check n3 stayed unready.
	var seen string
	select {
	case seen = <-watched:
		<-time.After(time.Until(cutAt.Add(partHold)))
	case <-time.After(time.Until(cutAt.Add(partHold))):
		stop()
		seen = <-watched
	}
	if seen != "" {
		t.Errorf("4. the isolated n3 became ready again during the partition: /readyz answered %s (first answer other than 503 seen; the cut lasted %v); want 503 for as long as it is cut off",
			seen, partHold)
	}

	// 6. Heal.
	heal()
	healAt := time.Now()
	t.Logf("healed %v after the cut", healAt.Sub(cutAt).Round(time.Millisecond))
	if ok, _, last := eventually(10*time.Second, func() (bool, string) {
		err := c.probeRoute(2, 0)
		return err == nil, fmt.Sprint(err)
	}); !ok {
		t.Fatalf("after the heal n3 still cannot connect to n1's route port (a harness problem): %s", last)
	}
	// A callee that answers an invocation the router interrupted (nexus
	// answers ERROR wamp.error.canceled) is within the protocol: the late
	// answer is for the router to drop, not a reason to close the session.
	select {
	case <-slow.Done():
		t.Errorf("2. the router closed the session of the callee on n3 whose invocation it had interrupted when n1 went silent (seen after the heal); want it kept " +
			"(look in n3's output for \"protocol violation\": its late ERROR wamp.error.canceled for the interrupted INVOCATION)")
	default:
	}
	sessions = 0
	for _, o := range ours {
		select {
		case <-o.Done():
		default:
			sessions++
		}
	}

	// The checks after the heal run side by side, each bounded by
	// partHealBound, so that one that never holds does not eat the
	// others' time; the new subscriber's comes last, once the sessions
	// are counted, since its session would count.
	type verdict struct {
		ok   bool
		what string // the failure, or what was seen
	}
	checks := []func() verdict{
		func() verdict {
			if ok, _, last := c.waitReady(partHealBound, 200, c.nodes...); !ok {
				return verdict{false, fmt.Sprintf("6. after the heal /readyz is not 200 on every node within %v: %s%s", partHealBound, last, c.exits())}
			}
			return verdict{true, fmt.Sprintf("6. all ready %v after the heal", time.Since(healAt).Round(time.Millisecond))}
		},
		func() verdict {
			ok, _, last := eventually(partHealBound, func() (bool, string) {
				var desc []string
				agree := true
				first := ""
				for i, p := range probes {
					s, err := callString(p, partRace)
					if err != nil {
						s = "ERROR " + wampURI(err)
					}
					if i == 0 {
						first = s
					}
					desc = append(desc, fmt.Sprintf("from %s: %s", c.nodes[i].name, s))
					agree = agree && err == nil && s == first && (winner == "" || s == winner)
				}
				return agree, strings.Join(desc, "; ")
			})
			if !ok {
				want := "the same callee"
				if winner != "" {
					want = "the callee on " + winner + ", the one admitted during the partition"
				}
				return verdict{false, fmt.Sprintf("6. after the heal, calls to %s from n1, n2 and n3 do not all reach %s within %v; last answers (each callee returns its node's name): %s",
					partRace, want, partHealBound, last)}
			}
			return verdict{true, fmt.Sprintf("6. calls to %s agree %v after the heal: %s", partRace, time.Since(healAt).Round(time.Millisecond), last)}
		},
		func() verdict {
			ok, _, last := eventually(partHealBound, func() (bool, string) {
				counts, desc := c.sessionCounts(probes)
				return counts[0] == sessions && counts[1] == sessions && counts[2] == sessions, desc
			})
			if !ok {
				return verdict{false, fmt.Sprintf("6. after the heal wamp.session.count is not %d (the test's sessions still connected) on every node within %v: %s; session lists: %s",
					sessions, partHealBound, last, c.sessionLists(probes))}
			}
			return verdict{true, fmt.Sprintf("6. wamp.session.count agrees %v after the heal: %s", time.Since(healAt).Round(time.Millisecond), last)}
		},
	}
	retained := func() verdict {
		ok, last := retainedOn(n3, partRetained, marker, time.Now().Add(partHealBound))
		if !ok {
			return verdict{false, fmt.Sprintf("6. after the heal a new subscriber on n3 with get_retained did not get the retained event published on n1 during the partition (%q) within %v: %s",
				marker, partHealBound, last)}
		}
		return verdict{true, fmt.Sprintf("6. a new subscriber on n3 got the retained event %v after the heal: %s", time.Since(healAt).Round(time.Millisecond), last)}
	}
	verdicts := make([]verdict, len(checks))
	var hwg sync.WaitGroup
	for i, check := range checks {
		hwg.Go(func() { verdicts[i] = check() })
	}
	hwg.Wait()
	verdicts = append(verdicts, retained())
	for _, v := range verdicts {
		if v.ok {
			t.Log(v.what)
		} else {
			t.Error(v.what)
		}
	}
	t.Logf("test body took %v (build included)", time.Since(began).Round(time.Millisecond))
}

// partCluster is the three nodes.
type partCluster struct {
	nodes []*partNode
}

// partNode is one switchboard process in its namespace.
type partNode struct {
	name string // n1, its cluster.node
	ns   string
	ip   string
	sock string // the RawSocket Unix socket the test's clients use
	cfg  string
	proc
	out  *testutil.Buffer
	http *http.Client
}

// partConfig is node i's config: realm1 on a WebSocket listener on its
// namespace's loopback (for /readyz) and a RawSocket Unix socket (for the
// test's clients), and its embedded NATS on its namespace address, routed
// to the others. jetstream adds the keys of the cluster/ rewrite.
func partConfig(dir string, i, n int, jetstream bool) string {
	name := fmt.Sprintf("n%d", i+1)
	var routes []string
	for j := range n {
		if j != i {
			routes = append(routes, "nats://"+nodeIP(j)+":6222")
		}
	}
	js := ""
	if jetstream {
		js = fmt.Sprintf("  replicas: %d\n  data_dir: %s\n", n, filepath.Join(dir, name+"-jetstream"))
	}
	return fmt.Sprintf(`log:
  level: info
transports:
  - type: websocket
    listen: 127.0.0.1:8080
    path: /ws
  - type: rawsocket
    listen: unix:%s
realms:
  - name: %s
cluster:
  name: part
  node: %s
  failure_timeout: %v
%s  embedded:
    listen: %s:4222
    cluster_listen: %s:6222
    routes: [%s]
`, filepath.Join(dir, name+".sock"), partRealm, name, partFailureTimeout, js, nodeIP(i), nodeIP(i), strings.Join(routes, ", "))
}

// acceptsJetStreamKeys tells whether the config loader knows the keys of
// the JetStream cluster (cluster.replicas, cluster.data_dir). Until it
// does, the nodes run without them and the test says so; once it does,
// they are always given. To force either way, make this return a constant.
func acceptsJetStreamKeys(t *testing.T, bin, dir string) bool {
	t.Helper()
	file := filepath.Join(dir, "check.yaml")
	if err := os.WriteFile(file, []byte(partConfig(dir, 0, 3, true)), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "check", "-c", file).CombinedOutput()
	if err == nil {
		return true
	}
	if s := string(out); strings.Contains(s, "replicas") || strings.Contains(s, "data_dir") {
		t.Logf("NOTE: this switchboard rejects cluster.replicas/data_dir, so the nodes run without them (the pre-JetStream cluster):\n%s", out)
		return false
	}
	t.Fatalf("switchboard check of the partition test's config: %v\n%s", err, out)
	return false
}

// startPartNode starts node i in its namespace. Its cleanup stops it with
// SIGTERM (SIGKILL after shutdownTimeout) and logs its output if the test
// failed.
func startPartNode(t *testing.T, topo *netTopo, bin, dir string, i int, jetstream bool) *partNode {
	t.Helper()
	n := &partNode{
		name: fmt.Sprintf("n%d", i+1),
		ns:   topo.nodes[i],
		ip:   nodeIP(i),
		out:  new(testutil.Buffer),
	}
	n.sock = filepath.Join(dir, n.name+".sock")
	n.cfg = filepath.Join(dir, n.name+".yaml")
	n.http = httpIn(n.ns)
	if err := os.WriteFile(n.cfg, []byte(partConfig(dir, i, len(topo.nodes), jetstream)), 0o600); err != nil {
		t.Fatal(err)
	}
	// ip netns exec execs the router: the pid is the router's. Pdeathsig
	// ends it with the test's process if that dies without its cleanups.
	cmd := exec.Command(topo.ip, "netns", "exec", n.ns, bin, "-c", n.cfg)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = n.out, n.out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	n.start(t, n.name, cmd)
	t.Cleanup(func() {
		switch {
		case n.hasExited():
			t.Errorf("%s exited before the test ended: %v", n.name, n.err)
		case !n.stop(syscall.SIGTERM):
			t.Errorf("%s still running %v after SIGTERM; killed", n.name, shutdownTimeout)
		case n.err != nil:
			t.Errorf("%s did not exit cleanly on SIGTERM: %v", n.name, n.err)
		}
		if t.Failed() {
			t.Logf("%s (%s, %s) output:\n%s", n.name, n.ns, n.ip, n.out.String())
		}
	})
	return n
}

// waitStarted waits for the router's "ready" log line (it listens).
func (n *partNode) waitStarted(t *testing.T) {
	t.Helper()
	var exited bool
	started := testutil.Poll(partStartBound, func() bool {
		if strings.Contains(n.out.String(), "msg=ready") {
			return true
		}
		select {
		case <-n.exited:
			exited = true
		default:
		}
		return exited
	})
	switch {
	case exited:
		t.Fatalf("%s exited during its start: %v\n%s", n.name, n.err, n.out.String())
	case !started:
		t.Fatalf("%s not started within %v:\n%s", n.name, partStartBound, n.out.String())
	}
}

// readyz returns the node's /readyz status and body (0 and the error when
// it does not answer).
func (n *partNode) readyz() (int, string) {
	resp, err := n.http.Get("http://127.0.0.1:8080/readyz")
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp.StatusCode, strings.Join(strings.Fields(string(body)), " ")
}

// waitReady polls /readyz of nodes until each answers code; last lists
// every node's last answer.
func (c *partCluster) waitReady(bound time.Duration, code int, nodes ...*partNode) (bool, time.Duration, string) {
	return eventually(bound, func() (bool, string) {
		ok := true
		var desc []string
		for _, n := range nodes {
			got, body := n.readyz()
			ok = ok && got == code
			desc = append(desc, fmt.Sprintf("%s: %d %s", n.name, got, body))
		}
		return ok, strings.Join(desc, "; ")
	})
}

// probeRoute connects from node from's namespace to node to's NATS route
// port, within partProbe.
func (c *partCluster) probeRoute(from, to int) error {
	ctx, cancel := context.WithTimeout(context.Background(), partProbe)
	defer cancel()
	conn, err := dialIn(ctx, c.nodes[from].ns, nodeIP(to)+":6222")
	if err != nil {
		return err
	}
	return conn.Close()
}

// exits names the nodes that have exited, for failure messages.
func (c *partCluster) exits() string {
	var s string
	for _, n := range c.nodes {
		select {
		case <-n.exited:
			s += fmt.Sprintf("; %s EXITED: %v", n.name, n.err)
		default:
		}
	}
	return s
}

// sessionCounts asks wamp.session.count from a session on each node
// (-1 for an error).
func (c *partCluster) sessionCounts(probes []*client.Client) ([]int, string) {
	counts := make([]int, len(probes))
	var desc []string
	for i, p := range probes {
		counts[i] = -1
		res, err := call(p, "wamp.session.count")
		switch {
		case err != nil:
			desc = append(desc, fmt.Sprintf("%s: ERROR %s", c.nodes[i].name, wampURI(err)))
		case len(res) == 0:
			desc = append(desc, fmt.Sprintf("%s: empty result", c.nodes[i].name))
		default:
			n, _ := nexuswamp.AsInt64(res[0])
			counts[i] = int(n)
			desc = append(desc, fmt.Sprintf("%s: %d", c.nodes[i].name, n))
		}
	}
	return counts, strings.Join(desc, ", ")
}

// sessionLists is wamp.session.list from a session on each node.
func (c *partCluster) sessionLists(probes []*client.Client) string {
	var desc []string
	for i, p := range probes {
		res, err := call(p, "wamp.session.list")
		desc = append(desc, fmt.Sprintf("%s: %v %v", c.nodes[i].name, res, err))
	}
	return strings.Join(desc, "; ")
}

// eventually polls cond until it holds or bound has passed, and returns
// whether it held, how long that took (the tests log it), and cond's last
// description of what it saw.
func eventually(bound time.Duration, cond func() (bool, string)) (bool, time.Duration, string) {
	t0 := time.Now()
	var last string
	ok := testutil.Poll(bound, func() bool {
		var ok bool
		ok, last = cond()
		return ok
	})
	return ok, time.Since(t0), last
}

// partClient joins realm1 on node n through its Unix socket.
func partClient(t *testing.T, n *partNode) *client.Client {
	t.Helper()
	c, err := join(t, "unix://"+n.sock, partRealm)
	if err != nil {
		t.Fatalf("join %s on %s: %v", partRealm, n.name, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// answer is a callee that answers its node's name.
func answer(node string) client.InvocationHandler {
	return func(context.Context, *nexuswamp.Invocation) client.InvokeResult {
		return client.InvokeResult{Args: nexuswamp.List{node}}
	}
}

// slowCallee signals invoked, then answers only when release is closed or
// the call is interrupted.
func slowCallee(invoked chan<- struct{}, release <-chan struct{}) client.InvocationHandler {
	return func(ctx context.Context, _ *nexuswamp.Invocation) client.InvokeResult {
		select {
		case invoked <- struct{}{}:
		default:
		}
		select {
		case <-ctx.Done():
			return client.InvokeResult{Err: nexuswamp.ErrCanceled}
		case <-release:
			return client.InvokeResult{Args: nexuswamp.List{"released"}}
		}
	}
}

// call calls proc with args, bounded by opsBound.
func call(c *client.Client, proc string, args ...any) (nexuswamp.List, error) {
	ctx, cancel := context.WithTimeout(context.Background(), opsBound)
	defer cancel()
	res, err := nexusCall(ctx, c, proc, nil, args)
	if err != nil {
		return nil, err
	}
	return res.Arguments, nil
}

// callString calls proc and returns its first argument as a string.
func callString(c *client.Client, proc string) (string, error) {
	res, err := call(c, proc)
	if err != nil {
		return "", err
	}
	if len(res) == 0 {
		return "", errors.New("empty result")
	}
	s, _ := nexuswamp.AsString(res[0])
	return s, nil
}

// wampURI is the error URI (and arguments) of a nexus client error: the
// ERROR of a CALL, or the text nexus makes of the ERROR of a REGISTER or
// PUBLISH ("registering procedure 'p': URI: args").
func wampURI(err error) string {
	var re client.RPCError
	if errors.As(err, &re) {
		s := string(re.Err.Error)
		if len(re.Err.Arguments) > 0 {
			s += fmt.Sprint(" ", re.Err.Arguments)
		}
		return s
	}
	if _, rest, ok := strings.Cut(err.Error(), "': "); ok {
		return rest
	}
	if s, ok := strings.CutPrefix(err.Error(), "waiting for published message: "); ok {
		return s
	}
	return err.Error()
}

// retainedOn joins node n with a raw JSON RawSocket session (nexus drops
// an EVENT that arrives before its Subscribe has stored the handler, as a
// retained event does) and subscribes to topic with get_retained until
// the retained event carrying marker arrives right after SUBSCRIBED, or
// the deadline passes; last says what the subscriptions got.
func retainedOn(n *partNode, topic, marker string, deadline time.Time) (bool, string) {
	conn, err := net.DialTimeout("unix", n.sock, opsBound)
	if err != nil {
		return false, fmt.Sprintf("dial %s: %v", n.sock, err)
	}
	_ = conn.SetDeadline(time.Now().Add(opsBound))
	var hs [4]byte
	_, err = conn.Write([]byte{0x7f, 0xf1, 0, 0}) // 16 MiB, JSON
	if err == nil {
		_, err = io.ReadFull(conn, hs[:])
	}
	if err != nil || hs[0] != 0x7f || hs[1]&0x0f != 1 {
		_ = conn.Close()
		return false, fmt.Sprintf("rawsocket handshake: % x, %v", hs, err)
	}
	_ = conn.SetReadDeadline(time.Time{})
	_ = conn.SetWriteDeadline(deadline.Add(opsBound))
	frames := make(chan []any, 16)
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		_ = readFrames(conn, frames)
	}()
	defer func() {
		_ = conn.Close()
		<-readDone
	}()
	next := func(within time.Duration) ([]any, bool) {
		select {
		case m := <-frames:
			return m, true
		case <-time.After(within):
			return nil, false
		}
	}
	if err := rawSend(conn, fmt.Sprintf(`[1,%q,{"roles":{"subscriber":{}}}]`, partRealm)); err != nil {
		return false, fmt.Sprintf("HELLO: %v", err)
	}
	if m, ok := next(opsBound); !ok || kind(m) != 2 {
		return false, fmt.Sprintf("want WELCOME, got %v", m)
	}
	var seen []string
	for req := 1; ; req += 2 {
		if err := rawSend(conn, fmt.Sprintf(`[32,%d,{"get_retained":true},%q]`, req, topic)); err != nil {
			return false, fmt.Sprintf("SUBSCRIBE: %v", err)
		}
		m, ok := next(opsBound)
		if !ok || kind(m) != 33 || len(m) < 3 {
			return false, fmt.Sprintf("SUBSCRIBE %s: want SUBSCRIBED, got %v", topic, m)
		}
		sub := m[2]
		m, ok = next(time.Second)
		switch {
		case ok && kind(m) == 36 && len(m) >= 5:
			args, _ := m[4].([]any)
			if len(args) > 0 && args[0] == marker {
				return true, fmt.Sprintf("EVENT %v", m)
			}
			seen = append(seen, fmt.Sprintf("EVENT %v", m))
		case ok:
			seen = append(seen, fmt.Sprintf("%v", m))
		default:
			seen = append(seen, "no EVENT within 1s of SUBSCRIBED")
		}
		if err := rawSend(conn, fmt.Sprintf(`[34,%d,%v]`, req+1, sub)); err != nil {
			return false, fmt.Sprintf("UNSUBSCRIBE: %v", err)
		}
		for {
			m, ok := next(opsBound)
			if !ok {
				return false, "no UNSUBSCRIBED"
			}
			if kind(m) == 35 {
				break
			}
		}
		if time.Now().After(deadline) {
			return false, fmt.Sprintf("%d subscriptions; the last got: %s", len(seen), seen[len(seen)-1])
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// rawSend writes one JSON RawSocket message.
func rawSend(c net.Conn, msg string) error {
	b := make([]byte, 4, 4+len(msg))
	binary.BigEndian.PutUint32(b, uint32(len(msg))) // type 0, a regular message: len < 16 MiB
	_, err := c.Write(append(b, msg...))
	return err
}

// readFrames reads JSON RawSocket messages into frames until the
// connection fails (the test closes it), skipping pings and pongs.
func readFrames(c net.Conn, frames chan<- []any) error {
	for {
		var h [4]byte
		if _, err := io.ReadFull(c, h[:]); err != nil {
			return err
		}
		b := make([]byte, int(h[1])<<16|int(h[2])<<8|int(h[3]))
		if _, err := io.ReadFull(c, b); err != nil {
			return err
		}
		if h[0]&0x07 != 0 {
			continue
		}
		d := json.NewDecoder(strings.NewReader(string(b)))
		d.UseNumber() // ids up to 2^53 go back unchanged
		var m []any
		if err := d.Decode(&m); err != nil {
			return fmt.Errorf("bad message %q: %w", b, err)
		}
		select {
		case frames <- m:
		default: // nobody reads any more
		}
	}
}

// kind is a WAMP message's type code, 0 if none.
func kind(m []any) int {
	if len(m) == 0 {
		return 0
	}
	n, _ := m[0].(json.Number)
	k, _ := n.Int64()
	return int(k)
}
