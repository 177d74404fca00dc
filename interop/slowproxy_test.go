package interop_test

import (
	"errors"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// slowProxy is a TCP proxy on loopback that can slow its connections
// down: each chunk read is written on after delay, and no faster than
// rate bytes per second. It stands for a slow network link between
// cluster nodes (a route of their embedded NATS servers), which this
// kernel cannot make with netem. Order is kept and memory bounded: a
// direction holds at most slowProxyChunks chunks in flight, past which
// its reader waits, as a full socket buffer would make the sender wait.
type slowProxy struct {
	ln     net.Listener
	target string
	delay  atomic.Int64 // nanoseconds added to every chunk
	rate   atomic.Int64 // bytes per second per direction; 0: unlimited

	mu    sync.Mutex
	conns []net.Conn
	wg    sync.WaitGroup
}

const (
	slowProxyChunk  = 16 << 10
	slowProxyChunks = 64
)

// startSlowProxy listens on a free loopback port and forwards every
// connection to target; the test's cleanup closes it all.
func startSlowProxy(t *testing.T, target string) *slowProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &slowProxy{ln: ln, target: target}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

func (p *slowProxy) addr() string { return p.ln.Addr().String() }

// slow sets the delay and rate of every connection, from the next chunk
// on; slow(0, 0) makes the link fast again.
func (p *slowProxy) slow(delay time.Duration, rate int64) {
	p.delay.Store(int64(delay))
	p.rate.Store(rate)
}

func (p *slowProxy) accept() {
	defer p.wg.Done()
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return
		}
		out, err := net.DialTimeout("tcp", p.target, 5*time.Second)
		if err != nil {
			_ = in.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, in, out)
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(out, in)
		go p.pipe(in, out)
	}
}

type slowChunk struct {
	data []byte
	at   time.Time
}

// pipe copies src to dst through a bounded queue of chunks, each held
// until the delay has passed since it was read.
func (p *slowProxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	q := make(chan slowChunk, slowProxyChunks)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for c := range q {
			if d := time.Until(c.at.Add(time.Duration(p.delay.Load()))); d > 0 {
				time.Sleep(d)
			}
			if _, err := dst.Write(c.data); err != nil {
				_ = src.Close()
				for range q { // let the reader finish
				}
				return
			}
			if r := p.rate.Load(); r > 0 {
				time.Sleep(time.Duration(int64(len(c.data)) * int64(time.Second) / r))
			}
		}
		if tc, ok := dst.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
	}()
	for {
		buf := make([]byte, slowProxyChunk)
		n, err := src.Read(buf)
		if n > 0 {
			q <- slowChunk{data: buf[:n], at: time.Now()}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				_ = dst.Close()
			}
			break
		}
	}
	close(q)
	<-done
}

func (p *slowProxy) close() {
	_ = p.ln.Close()
	p.mu.Lock()
	for _, c := range p.conns {
		_ = c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// TestSlowProxy checks the proxy itself: bytes arrive whole and in
// order, and not before the delay.
func TestSlowProxy(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		_, _ = io.Copy(c, c) // echo
	}()
	p := startSlowProxy(t, ln.Addr().String())
	const delay = 50 * time.Millisecond
	p.slow(delay, 1<<20)
	c, err := net.Dial("tcp", p.addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	msg := make([]byte, 100<<10)
	for i := range msg {
		msg[i] = byte(i * 7)
	}
	t0 := time.Now()
	go func() { _, _ = c.Write(msg) }()
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatal(err)
	}
	// Both ways delayed: the echo cannot be back before twice the delay.
	if took := time.Since(t0); took < 2*delay {
		t.Errorf("echo back after %v through a proxy delaying %v each way", took, delay)
	}
	for i := range got {
		if got[i] != msg[i] {
			t.Fatalf("byte %d is %d, want %d", i, got[i], msg[i])
		}
	}
}

// The slow link: n3's routes to n1 and n2 go through slowProxies that,
// while the load runs, hold every chunk faultSlowDelay and pass at most
// faultSlowRate bytes per second each way. That is a busy or distant
// link, not a cut: nobody may be taken for dead, no session may leave,
// no event may be lost, duplicated or reordered, and every call must end
// with a RESULT.
const (
	faultSlowDelay  = 300 * time.Millisecond
	faultSlowRate   = 256 << 10
	faultSlowEvents = 500 // events each publisher sends while the link is slow: 5 s, past the failure timeout
)

func faultSlowLink(t *testing.T, bin string) {
	const victim = 2
	var mu sync.Mutex
	var toVictim []*slowProxy // every route between n3 and the others
	c := startFaultClusterVia(t, bin, func(from, to int, addr string) string {
		p := startSlowProxy(t, addr)
		if from == victim || to == victim {
			mu.Lock()
			toVictim = append(toVictim, p)
			mu.Unlock()
		}
		return p.addr()
	})
	leaves := []*faultLeaves{c.watchLeaves(t, 0), c.watchLeaves(t, 1)}
	r := c.rig(t, []int{0, 1, 2})
	victimIDs := r.sessionsOn(victim)
	watches := []*faultMemberWatch{c.watchMember(t, 0, "n3"), c.watchMember(t, 1, "n3")}
	single := c.join(t, victim)
	if err := single.Register(faultSingle, faultAnswer("n3"), nil); err != nil {
		t.Fatalf("REGISTER %s on n3: %v", faultSingle, err)
	}
	c.waitCallees(t, faultSingle, 1)

	r.startLoad()
	defer r.stopLoad(t)
	r.waitTraffic(t, 30)
	mu.Lock()
	slowed := slices.Clone(toVictim)
	mu.Unlock()
	for _, p := range slowed {
		p.slow(faultSlowDelay, faultSlowRate)
	}
	slowAt := time.Now()
	t.Logf("n3's routes slowed (%v each way, %d KiB/s) under load (%s)", faultSlowDelay, faultSlowRate>>10, r.progress())

	// The links are slow indeed: a call from n1 or n2 to n3's callee
	// crosses one twice.
	for i, probe := range r.probes[:victim] {
		t0 := time.Now()
		if s, err := faultCallString(probe, faultSingle); err != nil || s != "n3" {
			t.Errorf("a call from n%d to %s on n3 over the slow link: %q, %v; want RESULT n3", i+1, faultSingle, s, err)
		} else if took := time.Since(t0); took < 2*faultSlowDelay {
			t.Errorf("a call from n%d to n3 over the slow link took %v, less than twice its delay %v: the routes do not go through the proxies", i+1, took, faultSlowDelay)
		} else {
			t.Logf("a call n%d -> n3 over the slow link took %v", i+1, took.Round(time.Millisecond))
		}
	}
	r.waitMore(t, faultSlowEvents, 0, 1, 2)
	for _, p := range slowed {
		p.slow(0, 0)
	}
	t.Logf("n3's routes fast again %v after they were slowed (%s)", time.Since(slowAt).Round(time.Millisecond), r.progress())
	r.waitMore(t, 100, 0, 1, 2)
	r.stopLoad(t)

	for i, w := range watches {
		if at := w.deadAt(); !at.IsZero() {
			t.Errorf("n%d's /status showed n3 not alive %v after its link was slowed (%v each way); want it alive throughout (%s)",
				i+1, at.Sub(slowAt).Round(time.Millisecond), faultSlowDelay, w.last())
		}
	}
	for i, l := range leaves {
		if n := l.count(victimIDs); n > 0 {
			t.Errorf("n%d saw on_leave of %d of n3's sessions (%s); want none: the link was slow, not cut", i+1, n, l.desc(victimIDs))
		}
	}
	for i, n := range c.nodes {
		if lines := n.logLines(faultDead); len(lines) > 0 {
			t.Errorf("n%d logged %q while n3's link was slow; want never:\n%s", i+1, faultDead, strings.Join(lines, "\n"))
		}
	}
	all := func(*faultPub) bool { return true }
	r.checkEvents(t, func(*faultPub, *faultSub) (bool, int) { return true, 1 }, func(*faultSub) bool { return true }, all)
	r.checkCalls(t, nil)
	c.checkIndexes(t, r, map[string][]uint64{faultSingle: {uint64(single.ID())}})
}
