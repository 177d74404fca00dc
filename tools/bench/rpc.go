package bench

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard/switchboard/tools/bench/client"
	"github.com/switchboard/switchboard/wamp"
)

// caller keeps D calls in flight (window mode: each RESULT issues the next
// call from the reader goroutine, so the answer to a burst of results goes
// out in one write) or calls at a fixed rate from a pacer goroutine. Either
// way one goroutine issues, and the reader only records.
type caller struct {
	conn *client.Conn
	ser  wamp.Serialization
	hist *Histogram // owned by the reader goroutine until it returns

	// Owned by the issuing goroutine.
	msg  wamp.Message
	args []byte

	issued, issuedMeasured atomic.Int64
	completed, measured    atomic.Int64
	arrived                atomic.Int64 // results that arrived in the window
	errs                   atomic.Int64
	halted                 atomic.Bool
	finish                 atomic.Int64
	halt                   func() // marks the caller done issuing, once
}

// issue appends one CALL unless the window is over; false means stop.
func (c *caller) issue(cfg *Config, start, end int64) bool {
	t := now()
	if t >= end || cfg.Count > 0 && c.issuedMeasured.Load() >= cfg.Count {
		c.halt()
		return false
	}
	n := c.issued.Load()
	c.args = appendArgs(c.args[:0], c.ser, uint64(n), t, cfg.Payload)
	c.msg.Request = c.conn.NextID()
	c.msg.Args = wamp.Payload{Raw: c.args, Ser: c.ser}
	if err := c.conn.Append(&c.msg); err != nil {
		c.errs.Add(1)
		c.halt()
		return false
	}
	c.issued.Add(1)
	if t >= start {
		c.issuedMeasured.Add(1)
	}
	return true
}

// record handles a RESULT or ERROR; it reports whether one arrived.
func (c *caller) record(m *wamp.Message, start, end int64) bool {
	switch m.Type {
	case wamp.RESULT:
		t := c.conn.LastRead()
		if _, stamp, ok := parseArgs(c.ser, m.Args.Raw); ok && stamp >= start {
			c.hist.Record(t - stamp)
			c.measured.Add(1)
		}
		if t >= start && t < end {
			c.arrived.Add(1)
		}
	case wamp.ERROR:
		c.errs.Add(1)
	default:
		return false
	}
	c.completed.Add(1)
	return true
}

func runRPC(ctx context.Context, cfg *Config, r *Report) error {
	r.Params = fmt.Sprintf("callees=%d callers=%d", cfg.Callees, cfg.Callers)
	window := cfg.Rate <= 0
	if window {
		r.Params += fmt.Sprintf(" inflight=%d", cfg.InFlight)
	} else {
		r.Params += fmt.Sprintf(" rate=%g/s", cfg.Rate)
	}
	if cfg.Payload > 0 {
		r.Params += fmt.Sprintf(" payload=%d", cfg.Payload)
	}
	r.Unit = "calls/s"
	proc := func(i int) string { return fmt.Sprintf("bench.rpc.%d", i%cfg.Callees) }
	var opts wamp.Dict
	if cfg.Invoke != "" {
		r.Params += " invoke=" + cfg.Invoke
		proc = func(int) string { return "bench.rpc.shared" }
		opts = wamp.Dict{"invoke": cfg.Invoke}
	}

	callees, _, err := openAll(ctx, cfg, cfg.Callees, func(i int, c *client.Conn) error {
		_, err := c.Register(proc(i), opts)
		return err
	})
	if err != nil {
		return fmt.Errorf("bench: callees: %w", err)
	}
	callerConns, _, err := openAllAt(ctx, cfg, cfg.pubURL(), cfg.Callers, func(int, *client.Conn) error { return nil })
	if err != nil {
		closeAll(callees)
		return fmt.Errorf("bench: callers: %w", err)
	}

	var rs readers
	for _, c := range callees {
		// The YIELD echoes the caller's payload, stamp included; payloads
		// borrow from the read buffer and are copied by Append at once.
		yield := &wamp.Message{Type: wamp.YIELD}
		rs.serve(c, func(m *wamp.Message) {
			if m.Type != wamp.INVOCATION {
				return
			}
			yield.Request, yield.Args, yield.Kwargs = m.Request, m.Args, m.Kwargs
			_ = c.Append(yield)
		})
	}

	start := now() + int64(cfg.Warmup) + int64(20*time.Millisecond)
	end := start + int64(cfg.Duration)
	stop := make(chan struct{})
	var issuing, pacers sync.WaitGroup
	callers := make([]*caller, cfg.Callers)
	for i, conn := range callerConns {
		c := &caller{conn: conn, ser: cfg.Serialization, hist: NewHistogram()}
		c.msg = wamp.Message{Type: wamp.CALL, URI: wamp.URI(proc(i))}
		issuing.Add(1)
		c.halt = func() {
			if c.halted.CompareAndSwap(false, true) {
				c.finish.Store(now())
				issuing.Done()
			}
		}
		callers[i] = c
		if !window {
			rs.serve(conn, func(m *wamp.Message) { c.record(m, start, end) })
			pacers.Go(func() { c.pace(cfg, start, end, stop) })
			continue
		}
		for range cfg.InFlight {
			if !c.issue(cfg, start, end) {
				break
			}
		}
		rs.serve(conn, func(m *wamp.Message) {
			if c.record(m, start, end) && !c.halted.Load() {
				c.issue(cfg, start, end)
			}
		})
	}
	finished := make(chan struct{})
	go func() { issuing.Wait(); close(finished) }()

	var m *meter
	if sleepUntil(ctx, start, finished) {
		m = startMeter(r.RouterPID)
		sleepUntil(ctx, end, finished)
	} else {
		m = startMeter(r.RouterPID)
	}
	close(stop)
	pacers.Wait()

	var issued, issuedMeasured, completed, measured, arrived, errs, last int64
	count := func() {
		issued, issuedMeasured, completed, measured, arrived, errs = 0, 0, 0, 0, 0, 0
		for _, c := range callers {
			issued += c.issued.Load()
			issuedMeasured += c.issuedMeasured.Load()
			completed += c.completed.Load()
			measured += c.measured.Load()
			arrived += c.arrived.Load()
			errs += c.errs.Load()
		}
	}
	count()
	m.stop(r)
	m.perMsg(r, issuedMeasured)
	for _, c := range callers {
		if f := c.finish.Load(); f > 0 && c.halted.Load() {
			last = max(last, f)
		}
	}
	select {
	case <-finished:
		if last > start && last < end {
			r.Seconds = float64(last-start) / 1e9
		}
	default:
	}

	drain(ctx, cfg.Drain, func() int64 { count(); return completed }, func() int64 { return issued })
	rs.stop(callerConns, callees)
	// Callers whose window never closed (the router stopped answering)
	// still hold their issuing count.
	for _, c := range callers {
		c.halt()
	}
	<-finished
	count()

	h := NewHistogram()
	for _, c := range callers {
		h.Merge(c.hist)
	}
	r.Sent, r.Received, r.Expected = issuedMeasured, measured, issued
	r.Lost = max(issued-completed, 0)
	r.Errors += errs
	r.rates(arrived)
	r.latencies(h)
	rs.note(r)
	if errs > 0 {
		r.Notes = append(r.Notes, fmt.Sprintf("%d calls failed", errs))
	}
	if cfg.Callees > 1 && cfg.Invoke == "" {
		r.Notes = append(r.Notes, "callers are spread round-robin over one procedure per callee (no shared registration)")
	}
	return nil
}

// pace issues calls at cfg.Rate per second until end, Count or stop.
func (c *caller) pace(cfg *Config, start, end int64, stop <-chan struct{}) {
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	t0 := now()
	for {
		select {
		case <-stop:
			c.halt()
			return
		case <-tick.C:
		}
		due := int64(cfg.Rate*float64(now()-t0)/1e9) - c.issued.Load()
		for range due {
			if !c.issue(cfg, start, end) {
				_ = c.conn.Flush()
				return
			}
		}
		if err := c.conn.Flush(); err != nil {
			c.errs.Add(1)
			c.halt()
			return
		}
	}
}
