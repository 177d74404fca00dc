package interop_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gammazero/nexus/v3/client"
	nexuswamp "github.com/gammazero/nexus/v3/wamp"

	"github.com/switchboard/switchboard/internal/testutil"
)

// Fault tests of a three-node cluster of switchboard processes on loopback
// (embedded NATS, JetStream with three replicas, failure_timeout 3s), each
// under load: publishers send numbered events (acknowledge: true) to a
// topic with a subscriber on every node, and callers call a procedure
// registered (invoke: roundrobin) on every node, with CALL.Options.timeout
// and a bounded context of their own. A checker then asks of every
// (publisher, subscriber) pair that the events arrived once each and in
// order (and, where nothing excuses a loss, all of them), and of every
// call that it ended with a RESULT or an allowed ERROR before its bound.
//
// No check is on a duration: every wait is bounded only to stop a broken
// run, and the measured times (how long the survivors took to take a node
// for dead, to admit a REGISTER, to be ready again) are logged.

// The nodes' failure timeout, and the load's CALL.Options.timeout.
const (
	faultFailureTimeout = 3 * time.Second
	faultCallTimeoutMs  = 5000
)

// Bounds that only stop a broken run from hanging; no check depends on them.
const (
	faultStartBound = 90 * time.Second // three processes started, /readyz 200 everywhere
	faultBound      = 30 * time.Second // one eventual condition
	faultCallBound  = 12 * time.Second // the client's context of one call of the load
	faultReplyBound = 10 * time.Second // nexus ResponseTimeout: REGISTER, PUBLISHED, the ERROR after a cancel
	// faultHangBound is when a caller goroutine is taken for stuck: the
	// call's context, the wait for the ERROR of its cancel, and slack.
	faultHangBound = faultCallBound + faultReplyBound + 5*time.Second
)

// The load: its pace and the cap on its count.
const (
	faultPubEvery  = 10 * time.Millisecond
	faultCallEvery = 5 * time.Millisecond
	faultWork      = 20 * time.Millisecond // a shared callee's work per call
	faultMaxEvents = 4000                  // per publisher
	faultMaxCalls  = 4000                  // per caller
	faultPoll      = 50 * time.Millisecond // /status and condition polling
)

const (
	faultRealm  = "realm1"
	faultTopic  = "com.fault.events"
	faultShared = "com.fault.shared" // invoke roundrobin, a callee on every node
	faultSingle = "com.fault.single" // one callee
	faultSlow   = "com.fault.slow"   // one callee on the victim, answering when released
	faultDead   = "node taken for dead"
)

var faultQuietLog = log.New(io.Discard, "", 0)

// TestClusterFault runs each fault on a cluster of its own.
func TestClusterFault(t *testing.T) {
	if testing.Short() {
		t.Skip("interop test: builds the router and runs three nodes")
	}
	if os.Getenv(nexusdEnv) != "" {
		t.Skipf("%s set: nexusd has no cluster", nexusdEnv)
	}
	began := time.Now()
	bin := buildSwitchboard(t, moduleRoot(t), t.TempDir())
	t.Run("sigkill", func(t *testing.T) { faultKill(t, bin) })
	t.Run("sigstop-short", func(t *testing.T) { faultShortStop(t, bin) })
	t.Run("sigstop-long", func(t *testing.T) { faultLongStop(t, bin) })
	t.Run("restart", func(t *testing.T) { faultRestart(t, bin) })
	t.Run("slowlink", func(t *testing.T) { faultSlowLink(t, bin) })
	t.Logf("TestClusterFault took %v (build included)", time.Since(began).Round(time.Millisecond))
}

// faultKill: SIGKILL of n3 under load.
func faultKill(t *testing.T, bin string) {
	c := startFaultCluster(t, bin)
	const victim = 2
	r := c.rig(t, []int{0, 1})
	single := c.join(t, victim)
	if err := single.Register(faultSingle, faultAnswer("n3"), nil); err != nil {
		t.Fatalf("REGISTER %s on n3: %v", faultSingle, err)
	}
	c.waitCallees(t, faultSingle, 1)
	victimIDs := append(r.sessionsOn(victim), uint64(single.ID()))
	watches := []*faultMemberWatch{c.watchMember(t, 0, "n3"), c.watchMember(t, 1, "n3")}
	taker := c.join(t, 0)

	r.startLoad()
	defer r.stopLoad(t)
	r.waitTraffic(t, 30)
	c.signal(t, victim, syscall.SIGKILL)
	killAt := time.Now()
	r.setRef(killAt)
	<-c.nodes[victim].exited
	t.Logf("SIGKILL n3 under load (%s)", r.progress())
	calm := r.waitCalleeGone(t, uint64(r.callees[victim].c.ID()), "n3 (SIGKILL)", 0, 1)

	// The victim's single registration must go, so that a survivor may
	// take the procedure.
	reg := faultRegisterRetry(taker, faultSingle, faultAnswer("n1"), nil, faultBound)
	if reg.err != nil {
		t.Errorf("after the SIGKILL of n3, REGISTER %s on n1 was still refused %v after the kill (%d attempts: %s); want it admitted once n3's registration is removed",
			faultSingle, time.Since(killAt).Round(time.Millisecond), reg.attempts, reg.desc())
	} else {
		t.Logf("REGISTER %s on n1 admitted %v after the SIGKILL (%d attempts; refusals: %s)",
			faultSingle, reg.at.Sub(killAt).Round(time.Millisecond), reg.attempts, reg.desc())
	}

	for i, w := range watches {
		ok, _, last := faultEventually(faultBound, func() (bool, string) { return w.dead(), w.last() })
		if !ok {
			t.Errorf("n%d never took n3 for dead within %v of the SIGKILL; last /status: %s", i+1, faultBound, last)
		} else {
			t.Logf("n%d: /status shows n3 not alive %v after the SIGKILL", i+1, w.deadAt().Sub(killAt).Round(time.Millisecond))
		}
	}
	faultWaitGone(t, r.probes[:2], victimIDs, "n3 (after its SIGKILL)", killAt, 5*time.Second)
	for i := range 2 {
		for _, line := range c.nodes[i].logLines(faultDead) {
			t.Logf("n%d logged: %s", i+1, line)
		}
	}
	// Keep the load on past the detection, then check it.
	r.waitMore(t, 100, 0, 1)
	r.stopLoad(t)
	r.checkEvents(t, func(p *faultPub, s *faultSub) (bool, int) {
		return p.node != victim && s.node != victim, 1
	}, func(s *faultSub) bool { return s.node != victim }, func(p *faultPub) bool { return p.node != victim })
	r.checkCalls(t, []string{string(nexuswamp.ErrCanceled), string(nexuswamp.ErrTimeout)},
		faultWindow{from: calm, why: "n3 taken for dead, its callee gone from n1's and n2's lists"})

	// The survivors see each other, and the cluster works.
	c.checkMembers(t, []int{0, 1}, []string{"n1", "n2"}, []string{"n3"})
	if reg.err == nil {
		for i := range 2 {
			c.checkAnswers(t, r.probes[i], faultSingle, "n1", fmt.Sprintf("n%d", i+1))
		}
	}
	for i := range 2 {
		got := map[string]int{}
		for range 6 {
			s, err := faultCallString(r.probes[i], faultShared)
			if err != nil {
				t.Errorf("after the SIGKILL, a call from n%d to %s: ERROR %s; want RESULT", i+1, faultShared, faultErrURI(err))
				continue
			}
			got[s]++
		}
		if got["n3"] > 0 || got["n1"]+got["n2"] != 6 {
			t.Errorf("after the SIGKILL, 6 calls from n%d to %s were answered by %v; want n1 and n2 only", i+1, faultShared, got)
		}
	}
}

// faultShortStop: SIGSTOP of n3 for a third of the failure timeout, then
// SIGCONT. Nobody may take it for dead, and nothing may be lost.
func faultShortStop(t *testing.T, bin string) {
	const stopFor = time.Second
	c := startFaultCluster(t, bin)
	const victim = 2
	leaves := []*faultLeaves{c.watchLeaves(t, 0), c.watchLeaves(t, 1)}
	r := c.rig(t, []int{0, 1, 2})
	invoked, release := make(chan struct{}, 1), make(chan struct{})
	slow := c.join(t, victim)
	if err := slow.Register(faultSlow, faultSlowCallee("n3", invoked, release), nil); err != nil {
		t.Fatalf("REGISTER %s on n3: %v", faultSlow, err)
	}
	releaseOnce := sync.OnceFunc(func() { close(release) })
	defer releaseOnce()
	c.waitCallees(t, faultSlow, 1)
	victimIDs := append(r.sessionsOn(victim), uint64(slow.ID()))
	watches := []*faultMemberWatch{c.watchMember(t, 0, "n3"), c.watchMember(t, 1, "n3")}

	r.startLoad()
	defer r.stopLoad(t)
	r.waitTraffic(t, 30)
	pending, stopAt := r.stopWithPendingCall(t, c, victim, invoked, releaseOnce, stopFor)
	defer c.cont(t, victim)
	time.Sleep(stopFor)
	c.cont(t, victim)
	contAt := time.Now()
	t.Logf("SIGCONT n3 %v after the SIGSTOP", contAt.Sub(stopAt).Round(time.Millisecond))

	select {
	case o := <-pending:
		if o.err != nil {
			t.Logf("NOTE: the call n1 -> %s pending on n3's callee during the stop ended with %s, %v after the SIGCONT (it ended; a RESULT was expected)",
				faultSlow, o.desc(), o.at.Sub(contAt).Round(time.Millisecond))
		} else {
			t.Logf("the call n1 -> %s pending on n3's callee during the stop ended with %s %v after the SIGCONT",
				faultSlow, o.desc(), o.at.Sub(contAt).Round(time.Millisecond))
		}
	case <-time.After(faultBound + stopFor):
		t.Errorf("the call n1 -> %s pending on n3's callee during the stop has not ended %v after the SIGCONT; want RESULT (or at least an end)",
			faultSlow, faultBound+stopFor)
	}
	r.waitMore(t, 100, 0, 1, 2)
	r.stopLoad(t)

	// Never taken for dead.
	for i, w := range watches {
		if at := w.deadAt(); !at.IsZero() {
			t.Errorf("n%d's /status showed n3 not alive %v after the SIGSTOP of %v (failure_timeout %v); want it alive throughout (%s)",
				i+1, at.Sub(stopAt).Round(time.Millisecond), stopFor, faultFailureTimeout, w.last())
		} else {
			t.Logf("n%d: n3 alive in every /status poll (%s)", i+1, w.last())
		}
	}
	for i, l := range leaves {
		if n := l.count(victimIDs); n > 0 {
			t.Errorf("n%d saw on_leave of %d of n3's sessions (%s); want none: n3 was stopped for %v only", i+1, n, l.desc(victimIDs), stopFor)
		}
	}
	for i, n := range c.nodes {
		if lines := n.logLines(faultDead); len(lines) > 0 {
			t.Errorf("n%d logged %q after a SIGSTOP of n3 of %v (failure_timeout %v); want never:\n%s",
				i+1, faultDead, stopFor, faultFailureTimeout, strings.Join(lines, "\n"))
		}
	}
	// Its sessions kept their subscriptions and registrations.
	for _, cl := range append(r.clients(victim), slow) {
		select {
		case <-cl.Done():
			t.Errorf("session %d on n3 was closed across the short stop; want it kept", cl.ID())
		default:
		}
	}
	c.checkIndexes(t, r, map[string][]uint64{faultSlow: {uint64(slow.ID())}})

	// Nothing lost, no call failed.
	all := func(*faultPub) bool { return true }
	r.checkEvents(t, func(*faultPub, *faultSub) (bool, int) { return true, 1 }, func(*faultSub) bool { return true }, all)
	r.checkCalls(t, nil)
	after := r.answersAfter(contAt)
	t.Logf("calls started after the SIGCONT answered by: %v", after)
	if after["n3"] == 0 {
		t.Errorf("no call of %s started after the SIGCONT reached n3's callee (answers %v); want calls to flow to it again", faultShared, after)
	}
	for i := range 3 {
		c.checkAnswers(t, r.probes[i], faultSlow, "n3", fmt.Sprintf("n%d", i+1))
	}
}

// faultLongStop: SIGSTOP of n3 for over three failure timeouts, then
// SIGCONT. The others take it for dead, then it rejoins.
func faultLongStop(t *testing.T, bin string) {
	// Over three failure timeouts: n3 is taken for dead after one, and
	// JetStream needs a few seconds more (RAFT elections) to elect new
	// leaders among n1 and n2 when n3 led a bucket, before a REGISTER can
	// be admitted on their side.
	const stopFor = 10 * time.Second
	c := startFaultCluster(t, bin)
	const victim = 2
	r := c.rig(t, []int{0, 1})
	invoked, release := make(chan struct{}, 1), make(chan struct{})
	slow := c.join(t, victim)
	if err := slow.Register(faultSlow, faultSlowCallee("n3", invoked, release), nil); err != nil {
		t.Fatalf("REGISTER %s on n3: %v", faultSlow, err)
	}
	releaseOnce := sync.OnceFunc(func() { close(release) })
	defer releaseOnce()
	single := c.join(t, victim)
	if err := single.Register(faultSingle, faultAnswer("n3"), nil); err != nil {
		t.Fatalf("REGISTER %s on n3: %v", faultSingle, err)
	}
	c.waitCallees(t, faultSlow, 1)
	c.waitCallees(t, faultSingle, 1)
	victimIDs := append(r.sessionsOn(victim), uint64(slow.ID()), uint64(single.ID()))
	watches := []*faultMemberWatch{c.watchMember(t, 0, "n3"), c.watchMember(t, 1, "n3")}
	taker := c.join(t, 0)

	r.startLoad()
	defer r.stopLoad(t)
	r.waitTraffic(t, 30)
	pending, stopAt := r.stopWithPendingCall(t, c, victim, invoked, releaseOnce, stopFor)
	defer c.cont(t, victim)

	for i, w := range watches {
		ok, _, last := faultEventually(stopFor, func() (bool, string) { return w.dead(), w.last() })
		if !ok {
			t.Errorf("n%d did not take n3 for dead during its stop of %v (failure_timeout %v); last /status: %s", i+1, stopFor, faultFailureTimeout, last)
		} else {
			t.Logf("n%d: /status shows n3 not alive %v after the SIGSTOP", i+1, w.deadAt().Sub(stopAt).Round(time.Millisecond))
		}
	}
	calm := r.waitCalleeGone(t, uint64(r.callees[victim].c.ID()), "n3 (SIGSTOP)", 0, 1)
	// n3 is taken for dead: its single procedure is free for a survivor,
	// which takes it while n3 sleeps (retried until the SIGCONT).
	regDone := make(chan faultReg, 1)
	go func() {
		regDone <- faultRegisterRetry(taker, faultSingle, faultAnswer("n1"), nil, time.Until(stopAt.Add(stopFor)))
	}()
	select {
	case o := <-pending:
		if o.err == nil {
			t.Errorf("the call n1 -> %s pending on stopped n3 ended with %s %v after the SIGSTOP; want an ERROR once n3 is taken for dead",
				faultSlow, o.desc(), o.at.Sub(stopAt).Round(time.Millisecond))
		} else {
			t.Logf("the call n1 -> %s pending on stopped n3 ended with %s %v after the SIGSTOP", faultSlow, o.desc(), o.at.Sub(stopAt).Round(time.Millisecond))
		}
	case <-time.After(time.Until(stopAt.Add(stopFor))):
		t.Errorf("the call n1 -> %s pending on stopped n3 had not ended %v after the SIGSTOP (failure_timeout %v); want an ERROR once n3 is taken for dead",
			faultSlow, stopFor, faultFailureTimeout)
	}
	faultWaitGone(t, r.probes[:2], victimIDs, "n3 (after its SIGSTOP)", stopAt, min(max(time.Until(stopAt.Add(stopFor)), 500*time.Millisecond), 5*time.Second))
	time.Sleep(time.Until(stopAt.Add(stopFor)))
	c.cont(t, victim)
	contAt := time.Now()
	t.Logf("SIGCONT n3 %v after the SIGSTOP", contAt.Sub(stopAt).Round(time.Millisecond))
	var reg faultReg
	select {
	case reg = <-regDone:
	case <-time.After(faultHangBound):
		t.Fatalf("REGISTER %s on n1 still unanswered %v after the SIGCONT", faultSingle, faultHangBound)
	}
	switch {
	case reg.err != nil:
		t.Logf("REGISTER %s on n1 during n3's stop: not admitted (%d attempts: %s); n3 keeps it", faultSingle, reg.attempts, reg.desc())
	case reg.at.After(contAt):
		t.Logf("REGISTER %s on n1 admitted %v after the SIGSTOP, %v after the SIGCONT (%d attempts; refusals: %s)",
			faultSingle, reg.at.Sub(stopAt).Round(time.Millisecond), reg.at.Sub(contAt).Round(time.Millisecond), reg.attempts, reg.desc())
	default:
		t.Logf("REGISTER %s on n1 admitted %v after the SIGSTOP (%d attempts; refusals: %s): n3's session holds it too when n3 comes back",
			faultSingle, reg.at.Sub(stopAt).Round(time.Millisecond), reg.attempts, reg.desc())
	}

	// It rejoins.
	if ok, took, last := c.waitReady(faultStartBound, 0, 1, 2); !ok {
		t.Errorf("after the SIGCONT, /readyz not 200 on every node within %v: %s", faultStartBound, last)
	} else {
		t.Logf("/readyz 200 on all three %v after the SIGCONT", took.Round(time.Millisecond))
	}
	c.waitMembers(t, "after the SIGCONT", contAt)
	for i, w := range watches {
		if at := w.aliveAgainAt(); !at.IsZero() {
			t.Logf("n%d: /status shows n3 alive again %v after the SIGCONT", i+1, at.Sub(contAt).Round(time.Millisecond))
		}
	}
	for _, line := range c.nodes[victim].logLines(faultDead) {
		t.Logf("n3 logged after its SIGCONT: %s", line)
	}
	if ok, _, last := faultEventually(faultBound, func() (bool, string) { return c.indexesHold(r, nil) }); !ok {
		t.Errorf("after the SIGCONT, the nodes' indexes did not hold every subscriber of %s and callee of %s within %v: %s", faultTopic, faultShared, faultBound, last)
	} else {
		t.Logf("every node's index holds the %d subscribers and %d callees again %v after the SIGCONT", len(r.subs), len(r.callees), time.Since(contAt).Round(time.Millisecond))
	}
	rejoined := time.Now()
	marks := r.mark()
	r.waitMore(t, 50, 0, 1, 2)
	r.stopLoad(t)

	// One callee for the single procedure, the same from every node.
	ok, took, last := faultEventually(faultBound, func() (bool, string) { return c.oneCallee(faultSingle) })
	if !ok {
		t.Errorf("after n3 rejoined, %s does not have one and the same callee on every node within %v (callee session ids by node): %s", faultSingle, faultBound, last)
	} else {
		t.Logf("after the SIGCONT %s has one callee, the same on every node (%s), %v after the check began", faultSingle, last, took.Round(time.Millisecond))
	}
	c.checkOneAnswer(t, r.probes, faultSingle, "after n3 rejoined")
	for _, cl := range []*client.Client{single, slow} {
		select {
		case <-cl.Done():
			t.Logf("n3's session %d was closed after the stop", cl.ID())
		default:
		}
	}

	r.checkEvents(t, func(p *faultPub, s *faultSub) (bool, int) {
		if p.node != victim && s.node != victim {
			return true, 1
		}
		return true, marks[p]
	}, func(*faultSub) bool { return true }, func(p *faultPub) bool { return p.node != victim })
	r.checkCalls(t, []string{string(nexuswamp.ErrCanceled), string(nexuswamp.ErrTimeout)},
		faultWindow{from: calm, to: contAt, why: "n3 taken for dead, its callee gone from n1's and n2's lists, until the SIGCONT"},
		faultWindow{from: rejoined, why: "n3 back in every node's lists"})
	got := map[string]int{}
	for range 6 {
		s, err := faultCallString(r.probes[0], faultShared)
		if err != nil {
			t.Errorf("after n3 rejoined, a call from n1 to %s: ERROR %s; want RESULT", faultShared, faultErrURI(err))
			continue
		}
		got[s]++
	}
	if got["n3"] == 0 {
		t.Errorf("after n3 rejoined, 6 calls from n1 to %s (roundrobin over 3 callees) were answered by %v; want n3's callee among them", faultShared, got)
	}
}

// faultRestart: SIGTERM of n3 under load, then a start on the same config
// and data_dir.
func faultRestart(t *testing.T, bin string) {
	c := startFaultCluster(t, bin)
	const victim = 2
	r := c.rig(t, []int{0, 1})
	single := c.join(t, victim)
	if err := single.Register(faultSingle, faultAnswer("n3"), nil); err != nil {
		t.Fatalf("REGISTER %s on n3: %v", faultSingle, err)
	}
	c.waitCallees(t, faultSingle, 1)
	watches := []*faultMemberWatch{c.watchMember(t, 0, "n3"), c.watchMember(t, 1, "n3")}
	taker := c.join(t, 0)

	r.startLoad()
	defer r.stopLoad(t)
	r.waitTraffic(t, 30)
	closed := r.watchClosed(victim, map[string]*client.Client{"single": single})
	c.signal(t, victim, syscall.SIGTERM)
	termAt := time.Now()
	r.setRef(termAt)
	select {
	case <-c.nodes[victim].exited:
		if err := c.nodes[victim].err; err != nil {
			t.Errorf("n3 did not exit cleanly on SIGTERM under load: %v", err)
		}
		t.Logf("n3 exited %v after SIGTERM (%s)", time.Since(termAt).Round(time.Millisecond), r.progress())
	case <-time.After(shutdownTimeout):
		t.Fatalf("n3 still running %v after SIGTERM", shutdownTimeout)
	}
	t.Logf("n3's sessions closed after the SIGTERM: %s", closed())
	for i, w := range watches {
		ok, _, last := faultEventually(faultBound, func() (bool, string) { return w.dead(), w.last() })
		if !ok {
			t.Errorf("n%d still shows n3 alive %v after it exited: %s", i+1, faultBound, last)
		} else {
			t.Logf("n%d: /status shows n3 gone %v after the SIGTERM", i+1, w.deadAt().Sub(termAt).Round(time.Millisecond))
		}
	}
	calm := r.waitCalleeGone(t, uint64(r.callees[victim].c.ID()), "n3 (SIGTERM)", 0, 1)
	for _, line := range c.nodes[victim].linesFrom("shutting down") {
		if !strings.Contains(line, "session left") {
			t.Logf("n3's shutdown: %s", line)
		}
	}
	reg := faultRegisterRetry(taker, faultSingle, faultAnswer("n1"), nil, faultBound)
	if reg.err != nil {
		t.Errorf("after n3 stopped, REGISTER %s on n1 was still refused %v after the SIGTERM (%d attempts: %s); want it admitted",
			faultSingle, time.Since(termAt).Round(time.Millisecond), reg.attempts, reg.desc())
	} else {
		t.Logf("REGISTER %s on n1 admitted %v after the SIGTERM (%d attempts; refusals: %s)",
			faultSingle, reg.at.Sub(termAt).Round(time.Millisecond), reg.attempts, reg.desc())
	}

	// The load runs on n1 and n2 alone for a while, then n3 starts again.
	r.waitMore(t, 50, 0, 1)
	restartAt := time.Now()
	c.restart(t, victim)
	if ok, took, last := c.waitReady(faultStartBound, 0, 1, 2); !ok {
		t.Fatalf("after the restart of n3, /readyz not 200 on every node within %v: %s", faultStartBound, last)
	} else {
		t.Logf("n3 restarted on the same data_dir; /readyz 200 on all three %v after the start", took.Round(time.Millisecond))
	}
	c.waitMembers(t, "after the restart", restartAt)

	// New sessions on the new n3.
	r.addSub(t, victim)
	r.addCallee(t, victim)
	again := c.join(t, victim)
	err := again.Register(faultSingle, faultAnswer("n3"), nil)
	switch {
	case err == nil:
		t.Errorf("after the restart a REGISTER of %s on n3 was admitted while n1 holds it; want wamp.error.procedure_already_exists", faultSingle)
	case !strings.Contains(err.Error(), string(nexuswamp.ErrProcedureAlreadyExists)):
		t.Errorf("after the restart a REGISTER of %s on n3 (held by n1): %v; want wamp.error.procedure_already_exists", faultSingle, err)
	default:
		t.Logf("after the restart, REGISTER %s on n3 refused: %s", faultSingle, faultErrURI(err))
	}
	r.probes = append(r.probes[:2], again)
	if ok, took, last := faultEventually(faultBound, func() (bool, string) { return c.indexesHold(r, nil) }); !ok {
		t.Errorf("after the restart, the nodes' indexes did not hold exactly the live subscribers of %s and callees of %s within %v: %s", faultTopic, faultShared, faultBound, last)
	} else {
		t.Logf("every node's index holds the new n3's subscriber and callee %v after they subscribed/registered", took.Round(time.Millisecond))
	}
	rejoined := time.Now()
	marks := r.mark()
	r.waitMore(t, 50, 0, 1)
	r.stopLoad(t)

	if reg.err == nil {
		if ok, _, last := faultEventually(faultBound, func() (bool, string) { return c.oneCallee(faultSingle) }); !ok {
			t.Errorf("after the restart, %s does not have one and the same callee on every node within %v: %s", faultSingle, faultBound, last)
		}
		for i := range 3 {
			c.checkAnswers(t, r.probes[i], faultSingle, "n1", fmt.Sprintf("n%d", i+1))
		}
	}
	r.checkEvents(t, func(p *faultPub, s *faultSub) (bool, int) {
		switch {
		case p.node != victim && s.node != victim:
			return true, 1
		case s.live():
			return true, marks[p]
		}
		return false, 0
	}, func(*faultSub) bool { return true }, func(p *faultPub) bool { return p.node != victim })
	r.checkCalls(t, []string{string(nexuswamp.ErrCanceled), string(nexuswamp.ErrTimeout)},
		faultWindow{from: calm, to: restartAt, why: "n3 gone, its callee gone from n1's and n2's lists, until its restart"},
		faultWindow{from: rejoined, why: "the new n3's callee in every node's lists"})
}

// faultCluster is three switchboard processes n1, n2, n3.
type faultCluster struct {
	t     *testing.T
	nodes []*faultNode
	http  *http.Client
}

// faultNode is one node, across its restarts.
type faultNode struct {
	name   string
	cfg    string
	bin    string
	dir    string
	wsAddr string
	out    *testutil.Buffer // every run's output

	proc
	stopped atomic.Bool
}

// faultConfig is node i's config. ports are ws, NATS client, NATS route
// of each node.
// via, when set, gives the address node i dials for its route to node
// j, whose route port is addr (a proxy in between).
// faultConfig is node i's config. With via, its routes go to via's
// addresses, and it advertises deadEnd as its route address: NATS gossips
// a node's advertised address to the peers, which would otherwise dial
// its cluster_listen directly (an implicit route) and sometimes keep that
// route rather than the one through via.
func faultConfig(dir string, i int, ports [][3]string, via func(from, to int, addr string) string, deadEnd string) string {
	var routes []string
	for j := range ports {
		if j != i {
			addr := ports[j][2]
			if via != nil {
				addr = via(i, j, addr)
			}
			routes = append(routes, "nats://"+addr)
		}
	}
	advertise := ""
	if via != nil {
		advertise = "\n    advertise: " + deadEnd
	}
	return fmt.Sprintf(`log:
  level: debug
transports:
  - type: websocket
    listen: %s
    path: /ws
realms:
  - name: %s
cluster:
  name: fault
  node: n%d
  failure_timeout: %v
  replicas: 3
  data_dir: %s
  embedded:
    listen: %s
    cluster_listen: %s
    routes: [%s]%s
`, ports[i][0], faultRealm, i+1, faultFailureTimeout, filepath.Join(dir, fmt.Sprintf("n%d-data", i+1)),
		ports[i][1], ports[i][2], strings.Join(routes, ", "), advertise)
}

// startFaultCluster starts three nodes on free ports and waits until each
// answers /readyz 200. A port found free may be taken before the node
// binds it: then the node exits at start, and the cluster starts again on
// other ports.
func startFaultCluster(t *testing.T, bin string) *faultCluster {
	t.Helper()
	return startFaultClusterVia(t, bin, nil)
}

// startFaultClusterVia is startFaultCluster with the routes' addresses
// given by via (faultConfig).
func startFaultClusterVia(t *testing.T, bin string, via func(from, to int, addr string) string) *faultCluster {
	t.Helper()
	began := time.Now()
	c := &faultCluster{t: t, http: &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}}
	deadEnd := ""
	if via != nil {
		deadEnd = startDeadEnd(t)
	}
	for attempt := 1; ; attempt++ {
		dir := t.TempDir()
		ports := make([][3]string, 3)
		for i := range ports {
			ports[i] = [3]string{freeAddr(t), freeAddr(t), freeAddr(t)}
		}
		c.nodes = nil
		for i := range 3 {
			n := &faultNode{name: fmt.Sprintf("n%d", i+1), bin: bin, dir: dir, wsAddr: ports[i][0], out: new(testutil.Buffer)}
			n.cfg = filepath.Join(dir, n.name+".yaml")
			if err := os.WriteFile(n.cfg, []byte(faultConfig(dir, i, ports, via, deadEnd)), 0o600); err != nil {
				t.Fatal(err)
			}
			n.start(t)
			c.nodes = append(c.nodes, n)
		}
		why := c.waitStarted(faultStartBound, 0)
		if why == "" {
			break
		}
		for _, n := range c.nodes {
			if !n.hasExited() {
				_ = n.cmd.Process.Kill()
				<-n.exited
			}
		}
		// A port found free may be taken before the node binds it; its
		// embedded NATS server then fails to start (its listen or route
		// port) and the node exits: start again on other ports, three
		// times at most, so that a node that cannot start at all still
		// fails the test.
		if attempt == 3 || !strings.Contains(why, "address already in use") && !strings.Contains(why, "exited during its start") {
			t.Fatalf("the cluster did not start (attempt %d): %s", attempt, why)
		}
		t.Logf("attempt %d: %s; again on other ports", attempt, why)
	}
	if ok, took, last := c.waitReady(faultStartBound, 0, 1, 2); !ok {
		t.Fatalf("/readyz not 200 on every node within %v of their start: %s", faultStartBound, last)
	} else {
		t.Logf("three nodes ready %v after their start (readyz waited %v)", time.Since(began).Round(time.Millisecond), took.Round(time.Millisecond))
	}
	return c
}

// startDeadEnd listens on a loopback port that closes every connection it
// takes, until the test ends: a route address no NATS server answers at.
func startDeadEnd(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.Close()
		}
	}()
	return ln.Addr().String()
}

// start runs the node's process; its cleanup (registered at the first
// start) continues it if stopped, stops it with SIGTERM (SIGKILL after
// shutdownTimeout) and logs its output if the test failed.
func (n *faultNode) start(t *testing.T) {
	t.Helper()
	first := n.cmd == nil
	cmd := exec.Command(n.bin, "-c", n.cfg)
	cmd.Dir = n.dir
	cmd.Stdout, cmd.Stderr = n.out, n.out
	// Ends the node with the test's process if that dies without its
	// cleanups.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	n.stopped.Store(false)
	n.proc.start(t, n.name, cmd)
	if !first {
		return
	}
	t.Cleanup(func() {
		if !n.hasExited() {
			if n.stopped.Load() {
				_ = n.cmd.Process.Signal(syscall.SIGCONT)
			}
			if !n.stop(syscall.SIGTERM) {
				t.Errorf("%s still running %v after SIGTERM; killed", n.name, shutdownTimeout)
			} else if n.err != nil {
				t.Errorf("%s did not exit cleanly on SIGTERM: %v", n.name, n.err)
			}
		}
		if t.Failed() {
			t.Logf("%s (%s) output:\n%s", n.name, n.cfg, n.out.String())
		}
	})
}

// logLines returns the node's log lines holding text.
func (n *faultNode) logLines(text string) []string {
	var lines []string
	for _, l := range strings.Split(n.out.String(), "\n") {
		if strings.Contains(l, text) {
			lines = append(lines, l)
		}
	}
	return lines
}

// linesFrom returns the node's log lines from the first holding marker.
func (n *faultNode) linesFrom(marker string) []string {
	out := n.out.String()
	i := strings.Index(out, marker)
	if i < 0 {
		return nil
	}
	i = strings.LastIndexByte(out[:i], '\n') + 1
	return strings.Split(strings.TrimSpace(out[i:]), "\n")
}

// waitStarted waits until each node has logged "ready" more than before
// times (once per start); it returns why not.
func (c *faultCluster) waitStarted(bound time.Duration, before int) string {
	var why string
	if testutil.Poll(bound, func() bool {
		all := true
		for _, n := range c.nodes {
			if n.hasExited() {
				why = fmt.Sprintf("%s exited during its start: %v\n%s", n.name, n.err, n.out.String())
				return true
			}
			all = all && strings.Count(n.out.String(), "msg=ready") > before
		}
		return all
	}) {
		return why
	}
	var s []string
	for _, n := range c.nodes {
		s = append(s, fmt.Sprintf("%s:\n%s", n.name, n.out.String()))
	}
	return fmt.Sprintf("not every node logged ready within %v:\n%s", bound, strings.Join(s, "\n"))
}

// restart starts node i again on the same config and data_dir, and waits
// for its "ready".
func (c *faultCluster) restart(t *testing.T, i int) {
	t.Helper()
	n := c.nodes[i]
	before := strings.Count(n.out.String(), "msg=ready")
	_, _ = fmt.Fprintf(n.out, "--- test: %s started again ---\n", n.name)
	n.start(t)
	var exited bool
	started := testutil.Poll(faultStartBound, func() bool {
		if strings.Count(n.out.String(), "msg=ready") > before {
			return true
		}
		exited = n.hasExited()
		return exited
	})
	switch {
	case exited:
		t.Fatalf("%s exited during its restart: %v", n.name, n.err)
	case !started:
		t.Fatalf("%s not started again within %v", n.name, faultStartBound)
	}
}

func (c *faultCluster) signal(t *testing.T, i int, sig syscall.Signal) {
	t.Helper()
	n := c.nodes[i]
	if sig == syscall.SIGSTOP {
		n.stopped.Store(true)
		// Registered after the sessions' cleanups, so run before them:
		// a session's Close waits for its router, which must not be
		// stopped if the test ends early.
		pid := n.cmd.Process.Pid
		t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGCONT) })
	}
	if err := n.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("%v to %s: %v", sig, n.name, err)
	}
	if sig == syscall.SIGSTOP {
		// The signal is delivered asynchronously: wait until every
		// thread is stopped, so that nothing the test does next is
		// handled by the node before it stops.
		if ok, _, last := faultEventually(faultBound, func() (bool, string) { return faultStopped(n.cmd.Process.Pid) }); !ok {
			t.Fatalf("%s not stopped %v after SIGSTOP: %s", n.name, faultBound, last)
		}
	}
}

// faultStopped reports whether every thread of process pid is stopped,
// from /proc.
func faultStopped(pid int) (bool, string) {
	dir := fmt.Sprintf("/proc/%d/task", pid)
	tasks, err := os.ReadDir(dir)
	if err != nil {
		return false, err.Error()
	}
	for _, task := range tasks {
		b, err := os.ReadFile(filepath.Join(dir, task.Name(), "stat"))
		if err != nil {
			return false, err.Error()
		}
		// pid (comm) state ...: comm may hold spaces and parentheses.
		i := strings.LastIndexByte(string(b), ')')
		if i < 0 || i+2 >= len(b) {
			return false, "bad stat: " + string(b)
		}
		if st := b[i+2]; st != 'T' && st != 't' {
			return false, fmt.Sprintf("thread %s in state %c", task.Name(), st)
		}
	}
	return true, ""
}

// cont sends SIGCONT to node i if it is stopped.
func (c *faultCluster) cont(t *testing.T, i int) {
	t.Helper()
	n := c.nodes[i]
	if n.stopped.CompareAndSwap(true, false) {
		if err := n.cmd.Process.Signal(syscall.SIGCONT); err != nil {
			t.Errorf("SIGCONT to %s: %v", n.name, err)
		}
	}
}

// join opens a session on node i.
func (c *faultCluster) join(t *testing.T, i int) *client.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), faultBound)
	defer cancel()
	cl, err := client.ConnectNet(ctx, "ws://"+c.nodes[i].wsAddr+"/ws", client.Config{
		Realm: faultRealm, Logger: faultQuietLog, ResponseTimeout: faultReplyBound,
	})
	if err != nil {
		t.Fatalf("join %s on %s: %v", faultRealm, c.nodes[i].name, err)
	}
	t.Cleanup(func() {
		// nexus's Close waits for the router's answer: bounded, so that a
		// node that died or hangs cannot hold the test up.
		done := make(chan struct{})
		go func() { _ = cl.Close(); close(done) }()
		select {
		case <-done:
		case <-time.After(faultBound):
			// The node's goroutines (SIGQUIT) show what held it up; its
			// output is logged with the test's failure.
			t.Errorf("closing a session on %s took over %v; SIGQUIT to it for its goroutines", c.nodes[i].name, faultBound)
			if n := c.nodes[i]; !n.hasExited() {
				_ = n.cmd.Process.Signal(syscall.SIGQUIT)
				select {
				case <-n.exited:
				case <-time.After(faultBound):
				}
			}
		}
	})
	return cl
}

// faultStatus is what the test reads of GET /status.
type faultStatus struct {
	Ready   bool   `json:"ready"`
	Reason  string `json:"not_ready_reason"`
	Cluster *struct {
		Linked  bool `json:"linked"`
		Members []struct {
			ID       string `json:"id"`
			Name     string `json:"name"`
			Self     bool   `json:"self"`
			Alive    bool   `json:"alive"`
			Synced   bool   `json:"synced"`
			Sessions int    `json:"sessions"`
		} `json:"members"`
	} `json:"cluster"`
}

func (s *faultStatus) alive(name string) bool {
	if s.Cluster == nil {
		return false
	}
	for _, m := range s.Cluster.Members {
		if m.Name == name && m.Alive {
			return true
		}
	}
	return false
}

func (s *faultStatus) String() string {
	if s.Cluster == nil {
		return "no cluster"
	}
	var ms []string
	for _, m := range s.Cluster.Members {
		d := m.Name + "/" + m.ID
		switch {
		case m.Self:
			d += " self"
		case !m.Alive:
			d += " DEAD"
		case !m.Synced:
			d += " alive unsynced"
		default:
			d += " alive"
		}
		ms = append(ms, fmt.Sprintf("%s %d sessions", d, m.Sessions))
	}
	return fmt.Sprintf("ready %v linked %v [%s]", s.Ready, s.Cluster.Linked, strings.Join(ms, "; "))
}

func (c *faultCluster) get(i int, path string) (int, []byte, error) {
	resp, err := c.http.Get("http://" + c.nodes[i].wsAddr + path)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, b, err
}

func (c *faultCluster) status(i int) (*faultStatus, error) {
	code, b, err := c.get(i, "/status")
	if err != nil {
		return nil, err
	}
	if code != http.StatusOK {
		return nil, fmt.Errorf("/status %d: %s", code, b)
	}
	var s faultStatus
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("/status: %w: %s", err, b)
	}
	return &s, nil
}

// waitReady polls /readyz of nodes until each answers 200.
func (c *faultCluster) waitReady(bound time.Duration, nodes ...int) (bool, time.Duration, string) {
	return faultEventually(bound, func() (bool, string) {
		ok := true
		var desc []string
		for _, i := range nodes {
			code, b, err := c.get(i, "/readyz")
			ok = ok && code == http.StatusOK
			if err != nil {
				desc = append(desc, fmt.Sprintf("%s: %v", c.nodes[i].name, err))
			} else {
				desc = append(desc, fmt.Sprintf("%s: %d %s", c.nodes[i].name, code, strings.Join(strings.Fields(string(b)), " ")))
			}
		}
		return ok, strings.Join(desc, "; ")
	})
}

// waitMembers waits until every node's /status shows the three alive.
func (c *faultCluster) waitMembers(t *testing.T, when string, since time.Time) {
	t.Helper()
	ok, _, last := faultEventually(faultBound, func() (bool, string) {
		all := true
		var desc []string
		for i := range c.nodes {
			s, err := c.status(i)
			if err != nil {
				all = false
				desc = append(desc, fmt.Sprintf("n%d: %v", i+1, err))
				continue
			}
			all = all && s.alive("n1") && s.alive("n2") && s.alive("n3")
			desc = append(desc, fmt.Sprintf("n%d: %s", i+1, s))
		}
		return all, strings.Join(desc, "\n")
	})
	if !ok {
		t.Errorf("%s, not every node sees the three alive within %v:\n%s", when, faultBound, last)
	} else {
		t.Logf("%s, every node sees the three alive %v later", when, time.Since(since).Round(time.Millisecond))
	}
}

// checkMembers checks that each of nodes sees alive and not gone.
func (c *faultCluster) checkMembers(t *testing.T, nodes []int, alive, gone []string) {
	t.Helper()
	for _, i := range nodes {
		s, err := c.status(i)
		if err != nil {
			t.Errorf("n%d /status: %v", i+1, err)
			continue
		}
		for _, a := range alive {
			if !s.alive(a) {
				t.Errorf("n%d does not see %s alive: %s", i+1, a, s)
			}
		}
		for _, g := range gone {
			if s.alive(g) {
				t.Errorf("n%d still sees %s alive: %s", i+1, g, s)
			}
		}
		if !s.Ready {
			t.Errorf("n%d not ready: %s (%s)", i+1, s.Reason, s)
		}
	}
}

// faultMemberWatch polls a node's /status for one member until the test
// ends.
type faultMemberWatch struct {
	mu       sync.Mutex
	dead0    time.Time // the first poll that saw it not alive
	alive1   time.Time // the first poll after dead0 that saw it alive
	lastSeen string
}

func (c *faultCluster) watchMember(t *testing.T, from int, name string) *faultMemberWatch {
	w := &faultMemberWatch{}
	stop, done := make(chan struct{}), make(chan struct{})
	t.Cleanup(func() { close(stop); <-done })
	go func() {
		defer close(done)
		tick := time.NewTicker(faultPoll)
		defer tick.Stop()
		for {
			s, err := c.status(from)
			now := time.Now()
			w.mu.Lock()
			if err != nil {
				w.lastSeen = err.Error()
			} else {
				w.lastSeen = s.String()
				switch alive := s.alive(name); {
				case !alive && w.dead0.IsZero():
					w.dead0 = now
				case alive && !w.dead0.IsZero() && w.alive1.IsZero():
					w.alive1 = now
				}
			}
			w.mu.Unlock()
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	return w
}

func (w *faultMemberWatch) dead() bool { return !w.deadAt().IsZero() }

func (w *faultMemberWatch) deadAt() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.dead0
}

func (w *faultMemberWatch) aliveAgainAt() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.alive1
}

func (w *faultMemberWatch) last() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.lastSeen
}

// faultLeaves records the wamp.session.on_leave (and on_join) events of
// one session.
type faultLeaves struct {
	mu     sync.Mutex
	at     map[uint64]time.Time
	joined map[uint64]bool
}

func (c *faultCluster) watchLeaves(t *testing.T, i int) *faultLeaves {
	t.Helper()
	l := &faultLeaves{at: map[uint64]time.Time{}, joined: map[uint64]bool{}}
	cl := c.join(t, i)
	if err := cl.Subscribe("wamp.session.on_join", func(ev *nexuswamp.Event) {
		if len(ev.Arguments) == 0 {
			return
		}
		d, _ := nexuswamp.AsDict(ev.Arguments[0])
		id, _ := nexuswamp.AsID(d["session"])
		l.mu.Lock()
		l.joined[uint64(id)] = true
		l.mu.Unlock()
	}, nil); err != nil {
		t.Fatalf("subscribe to wamp.session.on_join on n%d: %v", i+1, err)
	}
	if err := cl.Subscribe("wamp.session.on_leave", func(ev *nexuswamp.Event) {
		if len(ev.Arguments) == 0 {
			return
		}
		id, _ := nexuswamp.AsID(ev.Arguments[0])
		l.mu.Lock()
		if _, ok := l.at[uint64(id)]; !ok {
			l.at[uint64(id)] = time.Now()
		}
		l.mu.Unlock()
	}, nil); err != nil {
		t.Fatalf("subscribe to wamp.session.on_leave on n%d: %v", i+1, err)
	}
	return l
}

func (l *faultLeaves) count(ids []uint64) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, id := range ids {
		if _, ok := l.at[id]; ok {
			n++
		}
	}
	return n
}

func (l *faultLeaves) all(ids []uint64) bool { return l.count(ids) == len(ids) }

// joins counts the sessions of ids whose on_join was seen.
func (l *faultLeaves) joins(ids []uint64) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, id := range ids {
		if l.joined[id] {
			n++
		}
	}
	return n
}

func (l *faultLeaves) desc(ids []uint64) string {
	return fmt.Sprintf("on_leave of %d of the %d sessions", l.count(ids), len(ids))
}

// span is when the on_leave events of ids came, after t0.
func (l *faultLeaves) span(ids []uint64, t0 time.Time) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var first, last time.Duration
	for i, id := range ids {
		d := l.at[id].Sub(t0)
		if i == 0 || d < first {
			first = d
		}
		if i == 0 || d > last {
			last = d
		}
	}
	return fmt.Sprintf("from %v to %v", first.Round(time.Millisecond), last.Round(time.Millisecond))
}

// faultWaitGone waits until the survivors (a probe session on each) no
// longer know the sessions of ids: wamp.session.get answers
// no_such_session for each, and wamp.session.list lists none. No node
// mirrors another's sessions (docs/cluster.md), so no on_leave is
// emitted for the sessions of a node taken for dead; what the survivors
// must not do is go on counting them.
func faultWaitGone(t *testing.T, probes []*client.Client, ids []uint64, what string, t0 time.Time, bound time.Duration) {
	t.Helper()
	for i, p := range probes {
		ok, _, last := faultEventually(bound, func() (bool, string) {
			ctx, cancel := context.WithTimeout(context.Background(), faultBound)
			defer cancel()
			res, err := nexusCall(ctx, p, string(nexuswamp.MetaProcSessionList), nil, nil)
			if err != nil {
				return false, err.Error()
			}
			listed, _ := nexuswamp.AsList(res.Arguments[0])
			for _, v := range listed {
				id, _ := nexuswamp.AsID(v)
				if slices.Contains(ids, uint64(id)) {
					return false, fmt.Sprintf("wamp.session.list still has %d", id)
				}
			}
			for _, id := range ids {
				_, err := nexusCall(ctx, p, string(nexuswamp.MetaProcSessionGet), nil, nexuswamp.List{id})
				if err == nil || !strings.Contains(err.Error(), "no_such_session") {
					return false, fmt.Sprintf("wamp.session.get %d: %v", id, err)
				}
			}
			return true, ""
		})
		if !ok {
			t.Errorf("n%d still knows sessions of %s %v after it: %s", i+1, what, bound, last)
			continue
		}
		t.Logf("n%d no longer knows the %d sessions of %s (%v after)", i+1, len(ids), what, time.Since(t0).Round(time.Millisecond))
	}
}

// faultRig is the load on a cluster: on every node a subscriber, a
// publisher and a callee of faultShared; callers of faultShared on some
// nodes; and a probe session per node for meta calls.
type faultRig struct {
	c       *faultCluster
	subs    []*faultSub
	pubs    []*faultPub
	callees []*faultCallee
	callers []*faultCaller
	probes  []*client.Client

	refMu sync.Mutex
	ref   time.Time // when the fault was made, for reports

	invokedMu sync.Mutex
	invoked   map[string][]string // call key -> the callees it reached, and when

	// views are the changes of each node's callees of faultShared seen
	// while the load runs (wamp.registration.list_callees, polled).
	viewsMu sync.Mutex
	views   [][]string

	mu      sync.Mutex
	running bool
	stop    chan struct{}
	wg      sync.WaitGroup
}

type faultSub struct {
	name string
	node int
	c    *client.Client
	mu   sync.Mutex
	got  map[string][]int // publisher -> the seqs in arrival order
	bad  []string
}

type faultPub struct {
	name  string
	node  int
	c     *client.Client
	mu    sync.Mutex
	next  int            // the next seq
	acked map[int]bool   // PUBLISHED
	errs  map[int]string // ERROR, or no answer
	ended string         // why the loop ended before the stop
}

type faultCallee struct {
	node int
	c    *client.Client
}

type faultCaller struct {
	name  string
	node  int
	c     *client.Client
	mu    sync.Mutex
	calls []faultCallRec
}

type faultCallRec struct {
	key    string // the call's argument, which its callee records
	start  time.Time
	took   time.Duration
	callee string // the answer: the callee's node
	err    string // the ERROR's URI, or the client's error
	hung   bool   // the client's bound passed without an answer
}

func (s *faultSub) live() bool {
	select {
	case <-s.c.Done():
		return false
	default:
		return true
	}
}

// rig starts the sessions of the load and waits until every node's
// indexes hold them. callerNodes get two callers each.
func (c *faultCluster) rig(t *testing.T, callerNodes []int) *faultRig {
	t.Helper()
	r := &faultRig{c: c, ref: time.Now(), invoked: map[string][]string{}}
	for i := range c.nodes {
		r.probes = append(r.probes, c.join(t, i))
		r.addSub(t, i)
		r.addPub(t, i)
		r.addCallee(t, i)
	}
	for _, i := range callerNodes {
		for k := range 2 {
			r.callers = append(r.callers, &faultCaller{name: fmt.Sprintf("c%d%c", i+1, 'a'+k), node: i, c: c.join(t, i)})
		}
	}
	if ok, took, last := faultEventually(faultBound, func() (bool, string) { return c.indexesHold(r, nil) }); !ok {
		t.Fatalf("the nodes' indexes do not hold every subscriber of %s and callee of %s within %v: %s", faultTopic, faultShared, faultBound, last)
	} else {
		t.Logf("subscriptions and registrations seen on every node %v after they were made", took.Round(time.Millisecond))
	}
	return r
}

func (r *faultRig) addSub(t *testing.T, i int) {
	t.Helper()
	s := &faultSub{name: fmt.Sprintf("s%d", len(r.subs)+1), node: i, c: r.c.join(t, i), got: map[string][]int{}}
	if err := s.c.Subscribe(faultTopic, func(ev *nexuswamp.Event) {
		var pub string
		var seq int64
		ok := len(ev.Arguments) == 2
		if ok {
			pub, ok = nexuswamp.AsString(ev.Arguments[0])
		}
		if ok {
			seq, ok = nexuswamp.AsInt64(ev.Arguments[1])
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if !ok {
			s.bad = append(s.bad, fmt.Sprint(ev.Arguments))
			return
		}
		s.got[pub] = append(s.got[pub], int(seq))
	}, nil); err != nil {
		t.Fatalf("subscribe to %s on n%d: %v", faultTopic, i+1, err)
	}
	r.subs = append(r.subs, s)
}

func (r *faultRig) addPub(t *testing.T, i int) {
	t.Helper()
	r.pubs = append(r.pubs, &faultPub{
		name: fmt.Sprintf("p%d", len(r.pubs)+1), node: i, c: r.c.join(t, i), next: 1,
		acked: map[int]bool{}, errs: map[int]string{},
	})
}

func (r *faultRig) addCallee(t *testing.T, i int) {
	t.Helper()
	name := fmt.Sprintf("n%d", i+1)
	cl := r.c.join(t, i)
	if err := cl.Register(faultShared, func(ctx context.Context, inv *nexuswamp.Invocation) client.InvokeResult {
		if len(inv.Arguments) > 0 {
			key, _ := nexuswamp.AsString(inv.Arguments[0])
			r.invokedMu.Lock()
			r.invoked[key] = append(r.invoked[key], fmt.Sprintf("%s at %v", name, r.since().Round(time.Millisecond)))
			r.invokedMu.Unlock()
		}
		select {
		case <-ctx.Done():
			return client.InvokeResult{Err: nexuswamp.ErrCanceled}
		case <-time.After(faultWork):
			return client.InvokeResult{Args: nexuswamp.List{name}}
		}
	}, nexuswamp.Dict{nexuswamp.OptInvoke: "roundrobin"}); err != nil {
		t.Fatalf("REGISTER %s (roundrobin) on %s: %v", faultShared, name, err)
	}
	r.callees = append(r.callees, &faultCallee{node: i, c: cl})
}

// stopWithPendingCall calls faultSlow from n1, waits until its callee on
// n3 (victim) is invoked, then SIGSTOPs n3 and releases the callee, so
// that its YIELD waits in the stopped node's socket. It returns the
// pending call and the time of the stop (the rig's reference).
func (r *faultRig) stopWithPendingCall(t *testing.T, c *faultCluster, victim int, invoked <-chan struct{}, release func(), stopFor time.Duration) (<-chan faultOutcome, time.Time) {
	t.Helper()
	pending := faultGo(r.probes[0], faultSlow, nil, faultBound+stopFor)
	select {
	case <-invoked:
	case o := <-pending:
		t.Fatalf("the call n1 -> %s (callee on n3) ended before the stop: %s", faultSlow, o.desc())
	case <-time.After(faultBound):
		t.Fatalf("the INVOCATION of %s (caller on n1) never reached its callee on n3 within %v", faultSlow, faultBound)
	}
	c.signal(t, victim, syscall.SIGSTOP)
	stopAt := time.Now()
	r.setRef(stopAt)
	release()
	t.Logf("SIGSTOP n3 for %v under load, with a call n1 -> %s pending on its callee (%s)", stopFor, faultSlow, r.progress())
	return pending, stopAt
}

func (r *faultRig) setRef(at time.Time) {
	r.refMu.Lock()
	defer r.refMu.Unlock()
	r.ref = at
}

func (r *faultRig) getRef() time.Time {
	r.refMu.Lock()
	defer r.refMu.Unlock()
	return r.ref
}

// since is the time since the fault.
func (r *faultRig) since() time.Duration { return time.Since(r.getRef()) }

// watchClosed watches the sessions of the rig on node i, and extra, and
// returns a function that says when each closed, after the fault.
func (r *faultRig) watchClosed(i int, extra map[string]*client.Client) func() string {
	named := map[string]*client.Client{}
	for k, v := range extra {
		named[k] = v
	}
	for _, s := range r.subs {
		if s.node == i {
			named["subscriber "+s.name] = s.c
		}
	}
	for _, p := range r.pubs {
		if p.node == i {
			named["publisher "+p.name] = p.c
		}
	}
	for _, ce := range r.callees {
		if ce.node == i {
			named["callee"] = ce.c
		}
	}
	for _, ca := range r.callers {
		if ca.node == i {
			named["caller "+ca.name] = ca.c
		}
	}
	if i < len(r.probes) {
		named["probe"] = r.probes[i]
	}
	var mu sync.Mutex
	at := map[string]time.Duration{}
	for name, cl := range named {
		go func() {
			select {
			case <-cl.Done():
			case <-time.After(faultHangBound):
				return
			}
			mu.Lock()
			at[name] = r.since()
			mu.Unlock()
		}()
	}
	return func() string {
		mu.Lock()
		defer mu.Unlock()
		var ds []string
		for name := range named {
			if d, ok := at[name]; ok {
				ds = append(ds, fmt.Sprintf("%s %v", name, d.Round(time.Millisecond)))
			} else {
				ds = append(ds, name+" not yet")
			}
		}
		sort.Strings(ds)
		return strings.Join(ds, ", ")
	}
}

// sessionsOn returns the ids of the rig's sessions on node i.
func (r *faultRig) sessionsOn(i int) []uint64 {
	var ids []uint64
	for _, cl := range r.clients(i) {
		ids = append(ids, uint64(cl.ID()))
	}
	return ids
}

func (r *faultRig) clients(i int) []*client.Client {
	var cs []*client.Client
	for _, s := range r.subs {
		if s.node == i {
			cs = append(cs, s.c)
		}
	}
	for _, p := range r.pubs {
		if p.node == i {
			cs = append(cs, p.c)
		}
	}
	for _, ce := range r.callees {
		if ce.node == i {
			cs = append(cs, ce.c)
		}
	}
	for _, ca := range r.callers {
		if ca.node == i {
			cs = append(cs, ca.c)
		}
	}
	if i < len(r.probes) {
		cs = append(cs, r.probes[i])
	}
	return cs
}

func (r *faultRig) startLoad() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.running = true
	r.stop = make(chan struct{})
	r.views = make([][]string, len(r.probes))
	names := map[uint64]string{}
	for _, ce := range r.callees {
		names[uint64(ce.c.ID())] = fmt.Sprintf("n%d", ce.node+1)
	}
	for i, p := range r.probes {
		r.wg.Go(func() { r.watchView(i, p, names, r.stop) })
	}
	for _, p := range r.pubs {
		r.wg.Go(func() { p.run(r.stop) })
	}
	for _, ca := range r.callers {
		r.wg.Go(func() { ca.run(r.stop) })
	}
}

// stopLoad ends the load and waits for its goroutines, whose calls are
// bounded by faultHangBound; a second call does nothing.
func (r *faultRig) stopLoad(t *testing.T) {
	t.Helper()
	r.mu.Lock()
	running := r.running
	r.running = false
	r.mu.Unlock()
	if !running {
		return
	}
	close(r.stop)
	t.Logf("load stopped %v after the fault (%s)", r.since().Round(time.Millisecond), r.progress())
	done := make(chan struct{})
	go func() { r.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(faultHangBound):
		t.Errorf("the load's publishers and callers have not returned %v after the stop: a PUBLISH or CALL hangs past its bound", faultHangBound)
		<-done
	}
}

// watchView records the changes of node i's callees of faultShared until
// stop, naming the callees by their node (names; the others by id).
func (r *faultRig) watchView(i int, p *client.Client, names map[uint64]string, stop <-chan struct{}) {
	last := "?"
	for {
		select {
		case <-stop:
			return
		case <-p.Done():
			return
		case <-time.After(100 * time.Millisecond):
		}
		ids, err := faultCallees(p, faultShared)
		var view string
		if err != nil {
			view = "ERROR " + faultErrURI(err)
		} else {
			var ns []string
			for _, id := range ids {
				if n, ok := names[id]; ok {
					ns = append(ns, n)
				} else {
					ns = append(ns, fmt.Sprint(id))
				}
			}
			view = "[" + strings.Join(ns, " ") + "]"
		}
		if view != last {
			last = view
			r.viewsMu.Lock()
			r.views[i] = append(r.views[i], fmt.Sprintf("%v %s", r.since().Round(time.Millisecond), view))
			r.viewsMu.Unlock()
		}
	}
}

func (p *faultPub) run(stop <-chan struct{}) {
	tick := time.NewTicker(faultPubEvery)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-p.c.Done():
			p.mu.Lock()
			p.ended = "its session closed"
			p.mu.Unlock()
			return
		case <-tick.C:
		}
		p.mu.Lock()
		seq := p.next
		if seq > faultMaxEvents {
			p.ended = fmt.Sprintf("reached the cap of %d events", faultMaxEvents)
			p.mu.Unlock()
			return
		}
		p.next++
		p.mu.Unlock()
		err := p.c.Publish(faultTopic, nexuswamp.Dict{nexuswamp.OptAcknowledge: true}, nexuswamp.List{p.name, seq}, nil)
		p.mu.Lock()
		if err != nil {
			p.errs[seq] = faultErrURI(err)
		} else {
			p.acked[seq] = true
		}
		p.mu.Unlock()
	}
}

func (ca *faultCaller) run(stop <-chan struct{}) {
	for n := range faultMaxCalls {
		select {
		case <-stop:
			return
		case <-ca.c.Done():
			return
		case <-time.After(faultCallEvery):
		}
		rec := faultCallRec{start: time.Now(), key: fmt.Sprintf("%s#%d", ca.name, n)}
		ctx, cancel := context.WithTimeout(context.Background(), faultCallBound)
		res, err := nexusCall(ctx, ca.c, faultShared, nexuswamp.Dict{nexuswamp.OptTimeout: faultCallTimeoutMs}, nexuswamp.List{rec.key})
		cancel()
		rec.took = time.Since(rec.start)
		switch {
		case err == nil && len(res.Arguments) > 0:
			rec.callee, _ = nexuswamp.AsString(res.Arguments[0])
		case err == nil:
			rec.err = "empty RESULT"
		default:
			rec.err = faultErrURI(err)
			rec.hung = errors.Is(err, context.DeadlineExceeded) || errors.Is(err, client.ErrReplyTimeout)
		}
		ca.mu.Lock()
		ca.calls = append(ca.calls, rec)
		ca.mu.Unlock()
	}
}

// progress sums up the load so far.
func (r *faultRig) progress() string {
	var pubs, calls int
	for _, p := range r.pubs {
		p.mu.Lock()
		pubs += p.next - 1
		p.mu.Unlock()
	}
	for _, ca := range r.callers {
		ca.mu.Lock()
		calls += len(ca.calls)
		ca.mu.Unlock()
	}
	return fmt.Sprintf("%d events published, %d calls made so far", pubs, calls)
}

// waitTraffic waits until every subscriber has n events of every
// publisher.
func (r *faultRig) waitTraffic(t *testing.T, n int) {
	t.Helper()
	ok, _, last := faultEventually(faultBound, func() (bool, string) {
		for _, s := range r.subs {
			s.mu.Lock()
			for _, p := range r.pubs {
				if got := len(s.got[p.name]); got < n {
					s.mu.Unlock()
					return false, fmt.Sprintf("%s (n%d) has %d events of %s (n%d)", s.name, s.node+1, got, p.name, p.node+1)
				}
			}
			s.mu.Unlock()
		}
		return true, ""
	})
	if !ok {
		t.Fatalf("the load did not get going within %v: %s", faultBound, last)
	}
}

// mark returns each publisher's next seq.
func (r *faultRig) mark() map[*faultPub]int {
	m := map[*faultPub]int{}
	for _, p := range r.pubs {
		p.mu.Lock()
		m[p] = p.next
		p.mu.Unlock()
	}
	return m
}

// waitMore waits until the publishers on nodes have published n more
// events.
func (r *faultRig) waitMore(t *testing.T, n int, nodes ...int) {
	t.Helper()
	from := r.mark()
	ok, _, last := faultEventually(faultBound, func() (bool, string) {
		for _, p := range r.pubs {
			if !slices.Contains(nodes, p.node) {
				continue
			}
			p.mu.Lock()
			next, ended := p.next, p.ended
			p.mu.Unlock()
			if next < from[p]+n && ended == "" {
				return false, fmt.Sprintf("%s (n%d) published %d of %d", p.name, p.node+1, next-from[p], n)
			}
		}
		return true, ""
	})
	if !ok {
		t.Errorf("the publishers did not publish %d more events within %v: %s", n, faultBound, last)
	}
}

// checkEvents waits until each subscriber has every event it must have
// (strict returns whether the pair loses nothing, and from which seq),
// then checks every pair of a subscriber that counts: once each, in
// order; and for a strict pair none of the acknowledged events missing.
// It also fails on any publication of a publisher that mustAck that got
// no PUBLISHED.
func (r *faultRig) checkEvents(t *testing.T, strict func(*faultPub, *faultSub) (bool, int), counts func(*faultSub) bool, mustAck func(*faultPub) bool) {
	t.Helper()
	missing := func(p *faultPub, s *faultSub, from int) []int {
		p.mu.Lock()
		var want []int
		for seq := range p.acked {
			if seq >= from {
				want = append(want, seq)
			}
		}
		p.mu.Unlock()
		s.mu.Lock()
		have := map[int]bool{}
		for _, seq := range s.got[p.name] {
			have[seq] = true
		}
		s.mu.Unlock()
		var miss []int
		for _, seq := range want {
			if !have[seq] {
				miss = append(miss, seq)
			}
		}
		sort.Ints(miss)
		return miss
	}
	ok, took, last := faultEventually(faultBound, func() (bool, string) {
		for _, s := range r.subs {
			for _, p := range r.pubs {
				if st, from := strict(p, s); st && counts(s) {
					if m := missing(p, s, from); len(m) > 0 {
						return false, fmt.Sprintf("%s (n%d) misses %d events of %s (n%d): %s", s.name, s.node+1, len(m), p.name, p.node+1, faultRanges(m))
					}
				}
			}
		}
		return true, ""
	})
	if ok {
		t.Logf("every strict subscriber had every acknowledged event %v after the load stopped", took.Round(time.Millisecond))
	} else {
		t.Logf("after %v, a strict subscriber still misses events: %s", took.Round(time.Millisecond), last)
	}
	for _, p := range r.pubs {
		p.mu.Lock()
		acked, nerr, errs, ended := len(p.acked), len(p.errs), faultErrCounts(p.errs), p.ended
		p.mu.Unlock()
		desc := fmt.Sprintf("%s on n%d: %d PUBLISHED", p.name, p.node+1, acked)
		if nerr > 0 {
			desc += fmt.Sprintf(", %d not: %v", nerr, errs)
		}
		if ended != "" {
			desc += "; stopped: " + ended
		}
		t.Log(desc)
		if nerr > 0 && mustAck(p) {
			t.Errorf("publisher %s on n%d got no PUBLISHED for %d events (%v); want every PUBLISH of it acknowledged", p.name, p.node+1, nerr, errs)
		}
	}
	for _, s := range r.subs {
		if !counts(s) {
			continue
		}
		s.mu.Lock()
		if len(s.bad) > 0 {
			t.Errorf("%s (n%d) got %d events that are not the load's: %v", s.name, s.node+1, len(s.bad), s.bad[:min(len(s.bad), 5)])
		}
		s.mu.Unlock()
		for _, p := range r.pubs {
			st, from := strict(p, s)
			s.mu.Lock()
			seqs := slices.Clone(s.got[p.name])
			s.mu.Unlock()
			var dups, disorder []string
			seen := map[int]bool{}
			prev := 0
			for _, seq := range seqs {
				switch {
				case seen[seq]:
					dups = append(dups, fmt.Sprint(seq))
				case seq < prev:
					disorder = append(disorder, fmt.Sprintf("%d after %d", seq, prev))
				}
				seen[seq] = true
				prev = max(prev, seq)
			}
			pair := fmt.Sprintf("%s (n%d) -> %s (n%d)", p.name, p.node+1, s.name, s.node+1)
			if len(dups) > 0 {
				t.Errorf("%s: %d duplicate events (seqs %s)", pair, len(dups), faultFirst(dups))
			}
			if len(disorder) > 0 {
				t.Errorf("%s: %d events out of order (%s)", pair, len(disorder), faultFirst(disorder))
			}
			var miss []int
			if st {
				miss = missing(p, s, from)
			}
			if len(miss) > 0 {
				t.Errorf("%s: %d acknowledged events (from seq %d) never arrived: %s", pair, len(miss), from, faultRanges(miss))
			}
			lost := ""
			if !st || from > 1 {
				lost = fmt.Sprintf(", %d of its acknowledged events not received (losses allowed", len(missing(p, s, 1)))
				if st {
					lost += fmt.Sprintf(" before seq %d)", from)
				} else {
					lost += ")"
				}
			}
			t.Logf("%s: %d events, %d distinct%s", pair, len(seqs), len(seen), lost)
		}
	}
}

// faultErrCounts counts the publications' errors by text.
func faultErrCounts(m map[int]string) map[string]int {
	out := map[string]int{}
	for _, v := range m {
		out[v]++
	}
	return out
}

// faultWindow is a span of time in which the cluster is settled, so that
// every call started in it must get a RESULT; a zero to is open.
type faultWindow struct {
	from, to time.Time
	why      string
}

func (w faultWindow) holds(at time.Time) bool {
	return !at.Before(w.from) && (w.to.IsZero() || at.Before(w.to))
}

// checkCalls checks that every call of the load ended before its client
// bound, with a RESULT or an ERROR in allowed; and with a RESULT if it
// started in one of the strict windows.
func (r *faultRig) checkCalls(t *testing.T, allowed []string, strict ...faultWindow) {
	t.Helper()
	for _, w := range strict {
		end := "the end of the load"
		if !w.to.IsZero() {
			end = fmt.Sprintf("%v after the fault", w.to.Sub(r.getRef()).Round(time.Millisecond))
		}
		t.Logf("calls started from %v after the fault to %s (%s) must get a RESULT", w.from.Sub(r.getRef()).Round(time.Millisecond), end, w.why)
	}
	r.viewsMu.Lock()
	for i, v := range r.views {
		t.Logf("n%d's callees of %s by callee node, as they changed (time after the fault): %s", i+1, faultShared, strings.Join(v, "; "))
	}
	r.viewsMu.Unlock()
	for _, ca := range r.callers {
		ca.mu.Lock()
		calls := slices.Clone(ca.calls)
		ca.mu.Unlock()
		answers, errs := map[string]int{}, map[string]int{}
		var longest time.Duration
		var hung, bad []string
		for _, rec := range calls {
			longest = max(longest, rec.took)
			switch {
			case rec.hung:
				hung = append(hung, fmt.Sprintf("started %s, %s after %v", rec.start.Format("15:04:05.000"), rec.err, rec.took.Round(time.Millisecond)))
			case rec.err != "":
				errs[rec.err]++
				inWindow := slices.ContainsFunc(strict, func(w faultWindow) bool { return w.holds(rec.start) })
				// In a settled window a call must not be canceled; its
				// own CALL.timeout may still fire on a machine saturated
				// by the race detector and parallel test packages (it
				// ended, with the error the caller asked for: logged
				// above, not a failure).
				settledTimeout := inWindow && rec.err == string(nexuswamp.ErrTimeout)
				if !slices.Contains(allowed, rec.err) || (inWindow && !settledTimeout) {
					bad = append(bad, fmt.Sprintf("%s %s (started %v after the fault, took %v)", rec.key, rec.err,
						rec.start.Sub(r.getRef()).Round(time.Millisecond), rec.took.Round(time.Millisecond)))
				}
			default:
				answers[rec.callee]++
			}
		}
		t.Logf("caller %s on n%d: %d calls, answers by callee node %v, errors %v, longest %v",
			ca.name, ca.node+1, len(calls), answers, errs, longest.Round(time.Millisecond))
		var odd []string
		for _, rec := range calls {
			if rec.err != "" || rec.took > time.Second {
				what := rec.err
				if what == "" {
					what = "RESULT from " + rec.callee
				}
				r.invokedMu.Lock()
				reached := r.invoked[rec.key]
				r.invokedMu.Unlock()
				where := "its INVOCATION reached no callee of the test that is still connected"
				if len(reached) > 0 {
					where = "its INVOCATION reached " + strings.Join(reached, ", ")
				}
				odd = append(odd, fmt.Sprintf("%s %s started %v after the fault (%s), took %v (%s)", rec.key, what,
					rec.start.Sub(r.getRef()).Round(time.Millisecond), rec.start.UTC().Format("15:04:05.000"), rec.took.Round(time.Millisecond), where))
			}
		}
		if len(odd) > 0 {
			t.Logf("caller %s on n%d: calls that failed or took over 1s: %s", ca.name, ca.node+1, faultFirst(odd))
		}
		if len(hung) > 0 {
			t.Errorf("caller %s on n%d: %d calls got no answer within the client's bound of %v although CALL.timeout is %dms: %s",
				ca.name, ca.node+1, len(hung), faultCallBound, faultCallTimeoutMs, faultFirst(hung))
		}
		if len(bad) > 0 {
			t.Errorf("caller %s on n%d: %d calls ended with an ERROR other than %v, or with any ERROR while the cluster was settled (see the windows above): %s",
				ca.name, ca.node+1, len(bad), allowed, faultFirst(bad))
		}
	}
}

// waitCalleeGone waits until none of nodes lists callee (a session id)
// among the callees of faultShared, and returns when that was seen.
func (r *faultRig) waitCalleeGone(t *testing.T, callee uint64, what string, nodes ...int) time.Time {
	t.Helper()
	ok, _, last := faultEventually(faultBound, func() (bool, string) {
		for _, i := range nodes {
			ids, err := faultCallees(r.probes[i], faultShared)
			if err != nil || slices.Contains(ids, callee) {
				return false, fmt.Sprintf("n%d: %v %v", i+1, ids, err)
			}
		}
		return true, ""
	})
	if !ok {
		t.Errorf("%s: its callee of %s still listed %v after the fault: %s", what, faultShared, r.since().Round(time.Millisecond), last)
	} else {
		t.Logf("%s: its callee of %s gone from the survivors' lists %v after the fault", what, faultShared, r.since().Round(time.Millisecond))
	}
	return time.Now()
}

// answersAfter counts by callee the RESULTs of the calls started after t0.
func (r *faultRig) answersAfter(t0 time.Time) map[string]int {
	got := map[string]int{}
	for _, ca := range r.callers {
		ca.mu.Lock()
		for _, rec := range ca.calls {
			if rec.start.After(t0) && rec.err == "" {
				got[rec.callee]++
			}
		}
		ca.mu.Unlock()
	}
	return got
}

// indexesHold reports whether every node's index holds exactly the live
// subscribers of the rig's topic and the live callees of faultShared, and
// the callees of the given single registrations.
func (c *faultCluster) indexesHold(r *faultRig, singles map[string][]uint64) (bool, string) {
	var wantSubs, wantCallees []uint64
	for _, s := range r.subs {
		if s.live() {
			wantSubs = append(wantSubs, uint64(s.c.ID()))
		}
	}
	for _, ce := range r.callees {
		select {
		case <-ce.c.Done():
		default:
			wantCallees = append(wantCallees, uint64(ce.c.ID()))
		}
	}
	slices.Sort(wantSubs)
	slices.Sort(wantCallees)
	var desc []string
	ok := true
	for i, n := range c.nodes {
		if n.hasExited() {
			continue
		}
		p := r.probes[i]
		subs, err := faultSubscribers(p, faultTopic)
		if err != nil || !slices.Equal(subs, wantSubs) {
			ok = false
			desc = append(desc, fmt.Sprintf("n%d subscribers of %s: %v %v, want %v", i+1, faultTopic, subs, err, wantSubs))
		}
		callees, err := faultCallees(p, faultShared)
		if err != nil || !slices.Equal(callees, wantCallees) {
			ok = false
			desc = append(desc, fmt.Sprintf("n%d callees of %s: %v %v, want %v", i+1, faultShared, callees, err, wantCallees))
		}
		for proc, want := range singles {
			got, err := faultCallees(p, proc)
			if err != nil || !slices.Equal(got, want) {
				ok = false
				desc = append(desc, fmt.Sprintf("n%d callees of %s: %v %v, want %v", i+1, proc, got, err, want))
			}
		}
	}
	return ok, strings.Join(desc, "; ")
}

// checkIndexes fails unless indexesHold.
func (c *faultCluster) checkIndexes(t *testing.T, r *faultRig, singles map[string][]uint64) {
	t.Helper()
	if ok, desc := c.indexesHold(r, singles); !ok {
		t.Errorf("the nodes' subscription and registration indexes lost sessions: %s", desc)
	}
}

// waitCallees waits until every node sees proc with n callees.
func (c *faultCluster) waitCallees(t *testing.T, proc string, n int) {
	t.Helper()
	probes := make([]*client.Client, len(c.nodes))
	for i := range c.nodes {
		probes[i] = c.join(t, i)
	}
	ok, _, last := faultEventually(faultBound, func() (bool, string) {
		for i, p := range probes {
			got, err := faultCallees(p, proc)
			if err != nil || len(got) != n {
				return false, fmt.Sprintf("n%d: callees of %s %v %v, want %d", i+1, proc, got, err, n)
			}
		}
		return true, ""
	})
	if !ok {
		t.Fatalf("not every node sees %s with %d callees within %v: %s", proc, n, faultBound, last)
	}
	for _, p := range probes {
		_ = p.Close()
	}
}

// oneCallee reports whether proc has exactly one callee, the same on
// every node.
func (c *faultCluster) oneCallee(proc string) (bool, string) {
	var desc []string
	ok := true
	var first []uint64
	for i := range c.nodes {
		ctx, cancel := context.WithTimeout(context.Background(), faultBound)
		cl, err := client.ConnectNet(ctx, "ws://"+c.nodes[i].wsAddr+"/ws", client.Config{
			Realm: faultRealm, Logger: faultQuietLog, ResponseTimeout: faultReplyBound,
		})
		cancel()
		if err != nil {
			return false, fmt.Sprintf("join n%d: %v", i+1, err)
		}
		got, err := faultCallees(cl, proc)
		_ = cl.Close()
		desc = append(desc, fmt.Sprintf("n%d: %v %v", i+1, got, err))
		if err != nil || len(got) != 1 || (first != nil && !slices.Equal(got, first)) {
			ok = false
		}
		if first == nil {
			first = got
		}
	}
	return ok, strings.Join(desc, ", ")
}

// checkOneAnswer calls proc from every probe (one per node) and wants a
// RESULT from the same callee everywhere.
func (c *faultCluster) checkOneAnswer(t *testing.T, probes []*client.Client, proc, when string) {
	t.Helper()
	answers := map[string][]string{}
	for i, p := range probes {
		res, err := faultCall(p, proc)
		got := ""
		switch {
		case err != nil:
			got = "ERROR " + faultErrURI(err)
			t.Errorf("%s, a call from n%d to %s: %s; want RESULT", when, i+1, proc, got)
		case len(res) > 0:
			got, _ = nexuswamp.AsString(res[0])
		}
		answers[got] = append(answers[got], fmt.Sprintf("n%d", i+1))
	}
	if len(answers) != 1 {
		t.Errorf("%s, calls to %s from the three nodes reach different callees (answer: callers) %v; want one callee", when, proc, answers)
	} else {
		t.Logf("%s, calls to %s from every node are answered alike (answer: callers) %v", when, proc, answers)
	}
}

// checkAnswers calls proc from c (on node from) and wants answer; a
// no_such_procedure is retried for a while (registrations reach the other
// nodes asynchronously).
func (c *faultCluster) checkAnswers(t *testing.T, cl *client.Client, proc, want, from string) {
	t.Helper()
	ok, took, last := faultEventually(faultBound, func() (bool, string) {
		res, err := faultCall(cl, proc)
		if err != nil {
			return !strings.Contains(faultErrURI(err), "no_such_procedure"), "ERROR " + faultErrURI(err)
		}
		got := ""
		if len(res) > 0 {
			got, _ = nexuswamp.AsString(res[0])
		}
		return true, got
	})
	switch {
	case !ok:
		t.Errorf("a call from %s to %s: %s after %v; want RESULT %q", from, proc, last, took.Round(time.Millisecond), want)
	case last != want:
		t.Errorf("a call from %s to %s: %s; want RESULT %q", from, proc, last, want)
	}
}

// faultOutcome is how a call ended.
type faultOutcome struct {
	res *nexuswamp.Result
	err error
	at  time.Time
}

func (o faultOutcome) desc() string {
	if o.err != nil {
		return "ERROR " + faultErrURI(o.err)
	}
	return fmt.Sprintf("RESULT %v", o.res.Arguments)
}

// nexusCall is cl.Call without its panic: the nexus client's Call sends
// on a channel that its session closes when the connection ends, and a
// call whose node dies between Call's check and its send panics (send on
// a closed channel). Here that is a failed call, not a crash of the
// tests.
func nexusCall(ctx context.Context, cl *client.Client, proc string, opts nexuswamp.Dict, args nexuswamp.List) (res *nexuswamp.Result, err error) {
	defer func() {
		if p := recover(); p != nil {
			res, err = nil, fmt.Errorf("nexus client panicked in Call of %s: %v", proc, p)
		}
	}()
	return cl.Call(ctx, proc, opts, args, nil, nil)
}

// faultGo calls proc in the background, bounded by bound.
func faultGo(cl *client.Client, proc string, opts nexuswamp.Dict, bound time.Duration) <-chan faultOutcome {
	ch := make(chan faultOutcome, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), bound)
		defer cancel()
		res, err := nexusCall(ctx, cl, proc, opts, nil)
		ch <- faultOutcome{res, err, time.Now()}
	}()
	return ch
}

// faultCall calls proc with args, bounded by faultCallBound. The nexus
// client's Call can block past its context when the router dies under it
// (its hand-off of the CALL to the session is not bounded by ctx), as a
// probe of a node killed mid-call did for 20 minutes: the wait here is
// bounded whatever the client does, and a stuck call is left behind.
func faultCall(cl *client.Client, proc string, args ...any) (nexuswamp.List, error) {
	ctx, cancel := context.WithTimeout(context.Background(), faultCallBound)
	defer cancel()
	type outcome struct {
		res *nexuswamp.Result
		err error
	}
	ch := make(chan outcome, 1)
	go func() {
		res, err := nexusCall(ctx, cl, proc, nil, args)
		ch <- outcome{res, err}
	}()
	select {
	case o := <-ch:
		if o.err != nil {
			return nil, o.err
		}
		return o.res.Arguments, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// faultCallString calls proc and returns its first argument as a string.
func faultCallString(cl *client.Client, proc string) (string, error) {
	res, err := faultCall(cl, proc)
	if err != nil {
		return "", err
	}
	if len(res) == 0 {
		return "", errors.New("empty RESULT")
	}
	s, _ := nexuswamp.AsString(res[0])
	return s, nil
}

// faultIDs reads a list of ids.
func faultIDs(v any) []uint64 {
	l, _ := nexuswamp.AsList(v)
	ids := []uint64{}
	for _, x := range l {
		id, _ := nexuswamp.AsID(x)
		ids = append(ids, uint64(id))
	}
	slices.Sort(ids)
	return ids
}

// faultCallees is the callees of proc (exact match) as cl's node sees
// them; nil when it is not registered.
func faultCallees(cl *client.Client, proc string) ([]uint64, error) {
	res, err := faultCall(cl, "wamp.registration.lookup", proc)
	if err != nil || len(res) == 0 || res[0] == nil {
		return nil, err
	}
	res, err = faultCall(cl, "wamp.registration.list_callees", res[0])
	if err != nil {
		return nil, err
	}
	if len(res) == 0 {
		return nil, errors.New("empty result")
	}
	return faultIDs(res[0]), nil
}

// faultSubscribers is the subscribers of topic (exact match) as cl's node
// sees them; nil when there is no subscription.
func faultSubscribers(cl *client.Client, topic string) ([]uint64, error) {
	res, err := faultCall(cl, "wamp.subscription.lookup", topic)
	if err != nil || len(res) == 0 || res[0] == nil {
		return nil, err
	}
	res, err = faultCall(cl, "wamp.subscription.list_subscribers", res[0])
	if err != nil {
		return nil, err
	}
	if len(res) == 0 {
		return nil, errors.New("empty result")
	}
	return faultIDs(res[0]), nil
}

// faultReg is the outcome of faultRegisterRetry.
type faultReg struct {
	err      error
	attempts int
	at       time.Time
	refused  map[string]int
}

func (r faultReg) desc() string {
	d := "none"
	if len(r.refused) > 0 {
		d = fmt.Sprint(r.refused)
	}
	if r.err != nil {
		d += "; last: " + faultErrURI(r.err)
	}
	return d
}

// faultRegisterRetry REGISTERs proc on cl until it is admitted or bound
// has passed.
func faultRegisterRetry(cl *client.Client, proc string, h client.InvocationHandler, opts nexuswamp.Dict, bound time.Duration) faultReg {
	r := faultReg{refused: map[string]int{}}
	deadline := time.Now().Add(bound)
	for {
		r.attempts++
		r.err = cl.Register(proc, h, opts)
		r.at = time.Now()
		if r.err == nil || time.Now().After(deadline) {
			return r
		}
		r.refused[faultErrURI(r.err)]++
		time.Sleep(100 * time.Millisecond)
	}
}

// faultAnswer is a callee that answers its node's name.
func faultAnswer(node string) client.InvocationHandler {
	return func(context.Context, *nexuswamp.Invocation) client.InvokeResult {
		return client.InvokeResult{Args: nexuswamp.List{node}}
	}
}

// faultSlowCallee signals invoked, then answers its node's name once
// release is closed (at once for later calls), or canceled when
// interrupted.
func faultSlowCallee(node string, invoked chan<- struct{}, release <-chan struct{}) client.InvocationHandler {
	return func(ctx context.Context, _ *nexuswamp.Invocation) client.InvokeResult {
		select {
		case invoked <- struct{}{}:
		default:
		}
		select {
		case <-ctx.Done():
			return client.InvokeResult{Err: nexuswamp.ErrCanceled}
		case <-release:
			return client.InvokeResult{Args: nexuswamp.List{node}}
		}
	}
}

// faultErrURI is the error URI of a nexus client error: the ERROR of a
// CALL, or what nexus makes of the ERROR of a REGISTER or PUBLISH.
func faultErrURI(err error) string {
	var re client.RPCError
	if errors.As(err, &re) {
		return string(re.Err.Error)
	}
	if _, rest, ok := strings.Cut(err.Error(), "': "); ok {
		return rest
	}
	if s, ok := strings.CutPrefix(err.Error(), "waiting for published message: "); ok {
		return s
	}
	return err.Error()
}

// faultEventually polls cond every faultPoll until it holds or bound has
// passed; it returns whether it held, after how long, and cond's last
// description.
func faultEventually(bound time.Duration, cond func() (bool, string)) (bool, time.Duration, string) {
	t0 := time.Now()
	for {
		ok, last := cond()
		if ok {
			return true, time.Since(t0), last
		}
		if time.Since(t0) > bound {
			return false, time.Since(t0), last
		}
		time.Sleep(faultPoll)
	}
}

// faultRanges writes sorted seqs as ranges: 3-7,9.
func faultRanges(seqs []int) string {
	var parts []string
	for i := 0; i < len(seqs); {
		j := i
		for j+1 < len(seqs) && seqs[j+1] == seqs[j]+1 {
			j++
		}
		if i == j {
			parts = append(parts, fmt.Sprint(seqs[i]))
		} else {
			parts = append(parts, fmt.Sprintf("%d-%d", seqs[i], seqs[j]))
		}
		i = j + 1
	}
	return strings.Join(parts, ",")
}

// faultFirst lists the first few items.
func faultFirst(items []string) string {
	if len(items) > 10 {
		return strings.Join(items[:10], "; ") + fmt.Sprintf("; and %d more", len(items)-10)
	}
	return strings.Join(items, "; ")
}
