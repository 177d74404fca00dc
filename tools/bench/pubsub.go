package bench

import (
	"context"
	"fmt"
	"math/bits"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard/switchboard/tools/bench/client"
	"github.com/switchboard/switchboard/wamp"
)

// group is one publisher with the subscribers of its topic: fanout runs one
// group of K subscribers, pubsub P groups of one.
type group struct {
	pub   *client.Conn
	topic wamp.URI
	subs  []*subscriber
	k     int64 // subscribers that receive each publication
	run   *pubRun

	// Window flow control. arrivals[seq&mask] counts the subscribers that
	// have received publication seq; the one that makes it k resets the
	// slot and advances done. Events of one publisher reach each
	// subscriber in order, so publications complete in order and done is
	// the count of completed publications. The ring has at least W slots,
	// so a slot is reset before the publisher reuses it.
	arrivals []atomic.Int32
	mask     uint64
	done     atomic.Int64

	// pmu guards the publishing state. In window mode the subscriber that
	// completes a publication refills the window itself, at once, so that
	// the router gets new work while the generator still digests the last
	// batch; handing that to the publisher goroutine would make router and
	// generator take turns, each idle while the other works.
	pmu                sync.Mutex
	msg                wamp.Message
	args               []byte
	sent, sentMeasured int64
	ended              chan struct{} // closed when publishing stops
	finish             int64         // when it stopped
	stalled            bool
	err                error
}

// pubRun is what publishers need of the run.
type pubRun struct {
	cfg        *Config
	start, end int64
	window     bool
	refillMin  int64
}

type subscriber struct {
	g    *group
	conn *client.Conn
	ser  wamp.Serialization
	hist *Histogram // owned by the reader goroutine until it returns

	received atomic.Int64 // all events
	measured atomic.Int64 // events published in the window
	arrived  atomic.Int64 // events that arrived in the window
	bad      atomic.Int64 // events without a stamp this generator wrote
	disorder atomic.Int64 // events out of sequence
	next     uint64       // next sequence number expected
}

func (s *subscriber) handle(m *wamp.Message) {
	if m.Type != wamp.EVENT {
		return
	}
	s.handleAt(m, s.conn.LastRead())
}

// handleAt counts EVENT m, read at t (now's clock).
func (s *subscriber) handleAt(m *wamp.Message, t int64) {
	seq, stamp, ok := parseArgs(s.ser, m.Args.Raw)
	if !ok {
		s.bad.Add(1)
		return
	}
	g := s.g
	if stamp >= g.run.start {
		s.hist.Record(t - stamp)
		s.measured.Add(1)
	}
	if t >= g.run.start && t < g.run.end {
		s.arrived.Add(1)
	}
	s.received.Add(1)
	if seq != s.next {
		s.disorder.Add(1)
	}
	s.next = seq + 1
	if g.run.window {
		slot := &g.arrivals[seq&g.mask]
		if int64(slot.Add(1)) == g.k {
			slot.Store(0)
			g.done.Add(1)
			g.refill()
		}
	}
}

// newPubRun returns the run of cfg's publishers and the words of its
// parameters for the report.
func newPubRun(cfg *Config) (*pubRun, string) {
	run := &pubRun{cfg: cfg, window: cfg.Rate <= 0}
	var params string
	if run.window {
		params = fmt.Sprintf(" window=%d", cfg.Window)
		// Refilling a few slots at a time batches the publisher's writes;
		// the window stays at least 7/8 full.
		run.refillMin = max(1, int64(cfg.Window)/8)
	} else {
		params = fmt.Sprintf(" rate=%g/s", cfg.Rate)
	}
	if cfg.Payload > 0 {
		params += fmt.Sprintf(" payload=%d", cfg.Payload)
	}
	return run, params
}

func runPubSub(ctx context.Context, cfg *Config, r *Report) error {
	nGroups, k := 1, cfg.Subscribers
	if cfg.Scenario == "pubsub" {
		nGroups, k = cfg.Pairs, 1
		r.Params = fmt.Sprintf("pairs=%d", nGroups)
	} else {
		r.Params = fmt.Sprintf("subscribers=%d", k)
	}
	run, params := newPubRun(cfg)
	r.Params += params
	r.Unit = "events/s"

	ring := 1 << bits.Len(uint(cfg.Window-1))
	groups := make([]*group, nGroups)
	for i := range groups {
		topic := "bench.fanout"
		if cfg.Scenario == "pubsub" {
			topic = fmt.Sprintf("bench.pubsub.%d", i)
		}
		groups[i] = &group{
			topic:    wamp.URI(topic),
			k:        int64(k),
			run:      run,
			arrivals: make([]atomic.Int32, ring),
			mask:     uint64(ring - 1),
			ended:    make(chan struct{}),
		}
		groups[i].msg = wamp.Message{Type: wamp.PUBLISH, URI: groups[i].topic}
	}

	// Subscribers first, publishers after: a publication must find every
	// subscription in place.
	subConns, _, err := openAll(ctx, cfg, nGroups*k, func(i int, c *client.Conn) error {
		_, err := c.Subscribe(string(groups[i/k].topic))
		return err
	})
	if err != nil {
		return fmt.Errorf("bench: subscribers: %w", err)
	}
	pubConns, _, err := openAllAt(ctx, cfg, cfg.pubURL(), nGroups, func(int, *client.Conn) error { return nil })
	if err != nil {
		closeAll(subConns)
		return fmt.Errorf("bench: publishers: %w", err)
	}
	run.start = now() + int64(cfg.Warmup) + int64(20*time.Millisecond)
	run.end = run.start + int64(cfg.Duration)

	var rs readers
	for gi, g := range groups {
		g.pub = pubConns[gi]
		g.subs = make([]*subscriber, k)
		for j := range k {
			s := &subscriber{g: g, conn: subConns[gi*k+j], ser: cfg.Serialization, hist: NewHistogram()}
			g.subs[j] = s
			rs.serve(s.conn, s.handle)
		}
		// Publishers receive nothing but pings; the reader answers them.
		rs.serve(g.pub, func(*wamp.Message) {})
	}

	stop := make(chan struct{})
	var pubs sync.WaitGroup
	for _, g := range groups {
		pubs.Go(func() { g.publish(stop) })
	}
	finished := make(chan struct{})
	go func() { pubs.Wait(); close(finished) }()

	var m *meter
	if sleepUntil(ctx, run.start, finished) {
		m = startMeter(r.RouterPID)
		sleepUntil(ctx, run.end, finished)
	} else {
		m = startMeter(r.RouterPID)
	}
	close(stop)
	<-finished

	var received, measured, arrived, sent, sentMeasured, last int64
	for _, g := range groups {
		g.pmu.Lock()
		sent += g.sent
		sentMeasured += g.sentMeasured
		last = max(last, g.finish)
		g.pmu.Unlock()
	}
	m.stop(r)
	m.perMsg(r, sentMeasured*int64(k))
	// The window ends when the last publisher stopped, which Count or a
	// stall may make earlier than planned.
	if last > run.start && last < run.end {
		r.Seconds = float64(last-run.start) / 1e9
	}

	count := func() {
		received, measured, arrived = 0, 0, 0
		for _, g := range groups {
			for _, s := range g.subs {
				received += s.received.Load()
				measured += s.measured.Load()
				arrived += s.arrived.Load()
			}
		}
	}
	expected := sent * int64(k)
	drain(ctx, cfg.Drain, func() int64 { count(); return received }, func() int64 { return expected })
	rs.stop(pubConns, subConns)
	count()

	h := NewHistogram()
	var bad, disorder int64
	for _, g := range groups {
		for _, s := range g.subs {
			h.Merge(s.hist)
			bad += s.bad.Load()
			disorder += s.disorder.Load()
		}
		if g.stalled {
			r.Stalled = true
		}
		if g.err != nil {
			r.Errors++
			r.Notes = append(r.Notes, "publisher: "+g.err.Error())
		}
	}
	r.Sent, r.Received, r.Expected = sentMeasured, measured, expected
	r.Lost = max(expected-received, 0)
	r.rates(arrived)
	r.latencies(h)
	rs.note(r)
	if r.Stalled {
		r.Notes = append(r.Notes, fmt.Sprintf("a publisher's window stayed full for %v: events were lost", cfg.Stall))
	}
	if bad > 0 {
		r.Errors += bad
		r.Notes = append(r.Notes, fmt.Sprintf("%d events without a readable stamp", bad))
	}
	if disorder > 0 {
		r.Notes = append(r.Notes, fmt.Sprintf("%d events out of sequence (lost or reordered)", disorder))
	}
	if received > expected {
		r.Notes = append(r.Notes, fmt.Sprintf("%d events more than published", received-expected))
	}
	return nil
}

// sendLocked publishes up to n publications and flushes them; it stops
// publishing for good at the window's end, at Count or on an error.
// g.pmu must be held.
func (g *group) sendLocked(n int64) {
	run := g.run
	cfg := run.cfg
	// One stamp for the batch: its publications leave together at the
	// flush below, and the clock costs as much as encoding one.
	t := now()
	for range n {
		if t >= run.end || cfg.Count > 0 && g.sentMeasured >= cfg.Count {
			g.endLocked()
			break
		}
		g.args = appendArgs(g.args[:0], cfg.Serialization, uint64(g.sent), t, cfg.Payload)
		g.msg.Request = g.pub.NextID()
		g.msg.Args = wamp.Payload{Raw: g.args, Ser: cfg.Serialization}
		if err := g.pub.Append(&g.msg); err != nil {
			g.err = err
			g.endLocked()
			return
		}
		g.sent++
		if t >= run.start {
			g.sentMeasured++
		}
	}
	if err := g.pub.Flush(); err != nil && g.err == nil {
		g.err = err
		g.endLocked()
	}
}

// endLocked stops publishing. g.pmu must be held.
func (g *group) endLocked() {
	select {
	case <-g.ended:
	default:
		g.finish = now()
		close(g.ended)
	}
}

func (g *group) endedLocked() bool {
	select {
	case <-g.ended:
		return true
	default:
		return false
	}
}

// refill tops the window up once at least refillMin slots are free.
func (g *group) refill() {
	g.pmu.Lock()
	defer g.pmu.Unlock()
	if g.endedLocked() {
		return
	}
	if free := int64(g.run.cfg.Window) - (g.sent - g.done.Load()); free >= g.run.refillMin {
		g.sendLocked(free)
	}
}

// publish runs g's publisher until the window ends, Count is reached or
// stop. In window mode it fills the window, which subscribers then keep
// full, and watches for a stall; in rate mode it publishes on a 1 ms tick.
func (g *group) publish(stop <-chan struct{}) {
	cfg := g.run.cfg
	defer func() {
		g.pmu.Lock()
		g.endLocked()
		g.pmu.Unlock()
	}()

	if !g.run.window {
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		t0 := now()
		for {
			select {
			case <-stop:
				return
			case <-g.ended:
				return
			case <-tick.C:
			}
			g.pmu.Lock()
			if due := int64(cfg.Rate*float64(now()-t0)/1e9) - g.sent; due > 0 {
				g.sendLocked(due)
			}
			g.pmu.Unlock()
		}
	}

	g.pmu.Lock()
	g.sendLocked(int64(cfg.Window))
	g.pmu.Unlock()
	tick := time.NewTicker(cfg.Stall)
	defer tick.Stop()
	last := int64(-1)
	for {
		select {
		case <-stop:
			return
		case <-g.ended:
			return
		case <-tick.C:
		}
		g.pmu.Lock()
		done := g.done.Load()
		if done == last && g.sent > done {
			// A whole tick with publications in flight and none
			// completed: an event was lost and its publication never
			// will complete.
			g.stalled = true
			g.endLocked()
		}
		g.pmu.Unlock()
		last = done
	}
}
