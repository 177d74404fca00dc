package bench

import (
	"context"
	"fmt"
	"math"
	"strings"
	"sync/atomic"
	"time"

	"github.com/switchboard/switchboard/tools/bench/client"
	"github.com/switchboard/switchboard/wamp"
)

// runConns opens cfg.Sessions sessions, each subscribed to a topic of its
// own (and to cfg.Topic when set), and reports the router's memory per
// session: its RSS growth from before the first session to Settle after
// the last, over their number. Throughput is the rate at which sessions
// were opened; latency is the time to connect, join and subscribe one.
// With Topic and Hold it then waits for Events events on Topic to reach
// every session (Broadcast) and reports when each arrived.
func runConns(ctx context.Context, cfg *Config, r *Report) error {
	n := cfg.Sessions
	r.Params = fmt.Sprintf("sessions=%d parallel=%d", n, cfg.Parallel)
	if cfg.Topic != "" {
		r.Params += " topic=" + cfg.Topic
	}
	r.Unit = "sessions/s"
	before := sampleProc(r.RouterPID)
	m := startMeter(r.RouterPID)
	conns, h, err := openAll(ctx, cfg, n, func(i int, c *client.Conn) error {
		if _, err := c.Subscribe(fmt.Sprintf("bench.conns.%d", i)); err != nil {
			return err
		}
		if cfg.Topic != "" {
			_, err := c.Subscribe(cfg.Topic)
			return err
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("bench: opening sessions: %w", err)
	}
	m.stop(r)
	m.perMsg(r, int64(n))
	r.Sent, r.Received, r.Expected = int64(n), int64(n), int64(n)

	// Readers answer the router's pings while the sessions idle, and note
	// each broadcast's arrival: a session's k-th event on Topic is event
	// k, the order one publisher's events keep.
	events := make([]broadcastWatch, cfg.Events)
	for i := range events {
		events[i].init(n)
	}
	var rs readers
	for _, c := range conns {
		var got atomic.Int64
		rs.serve(c, func(m *wamp.Message) {
			if m.Type != wamp.EVENT {
				return
			}
			if k := got.Add(1) - 1; k < int64(len(events)) {
				events[k].arrived(c.Serialization(), m)
			}
		})
	}
	settleMemory(ctx, cfg, r, before, n)
	if cfg.Topic != "" && cfg.Hold > 0 {
		if cfg.Ready != nil {
			what := "an event"
			if cfg.Events > 1 {
				what = fmt.Sprintf("%d events", cfg.Events)
			}
			fmt.Fprintf(cfg.Ready, "conns: %d sessions open, memory read; holding up to %v for %s on %s\n", n, cfg.Hold, what, cfg.Topic)
		}
		hold(ctx, cfg, r, events)
		events[0].report(r, n, cfg.Topic)
		for i := range events {
			r.BroadcastEvents = append(r.BroadcastEvents, events[i].figures())
		}
		if len(events) > 1 {
			last := make([]string, len(events))
			for i, e := range r.BroadcastEvents {
				last[i] = fmt.Sprintf("%d:%.1f", e.Received, e.LastMs)
			}
			r.Notes = append(r.Notes, fmt.Sprintf("%d events on %s, sessions reached and last arrival (ms) each: %s",
				len(events), cfg.Topic, strings.Join(last, " ")))
		}
	}
	rs.stop(conns)
	r.rates(r.Received)
	r.latencies(h)
	rs.note(r)
	return nil
}

// hold waits until every event has reached every session, or cfg.Hold, and
// reports the router's CPU and system calls in the meantime per event
// received.
func hold(ctx context.Context, cfg *Config, r *Report, events []broadcastWatch) {
	t0, before := time.Now(), sampleProc(r.RouterPID)
	t := time.NewTimer(cfg.Hold)
	defer t.Stop()
wait:
	for i := range events {
		select {
		case <-events[i].all:
		case <-t.C:
			break wait
		case <-ctx.Done():
			break wait
		}
	}
	after := sampleProc(r.RouterPID)
	r.BroadcastSeconds = time.Since(t0).Seconds()
	var got int64
	for i := range events {
		got += events[i].count.Load()
	}
	if before.ok && after.ok && got > 0 {
		r.BroadcastRouterCPUPerEvent = float64((after.cpu - before.cpu).Nanoseconds()) / 1e3 / float64(got)
		r.BroadcastRouterSyscallsPerEvent = float64(after.syscr+after.syscw-before.syscr-before.syscw) / float64(got)
	}
}

// BroadcastEvent is how one event on Config.Topic reached the held conns
// sessions: how many received it, and the first and last arrival after its
// wall-clock stamp, in milliseconds.
type BroadcastEvent struct {
	Received int64   `json:"received"`
	FirstMs  float64 `json:"first_ms"`
	LastMs   float64 `json:"last_ms"`
}

// broadcastWatch notes one event's arrival at each held session.
type broadcastWatch struct {
	sessions    int64
	count       atomic.Int64
	first, last atomic.Int64 // microseconds after the stamp
	unstamped   atomic.Int64
	all         chan struct{}
}

func (b *broadcastWatch) init(n int) {
	b.sessions = int64(n)
	b.first.Store(math.MaxInt64)
	b.last.Store(math.MinInt64)
	b.all = make(chan struct{})
}

func (b *broadcastWatch) arrived(ser wamp.Serialization, m *wamp.Message) {
	at := time.Now().UnixMicro()
	if _, stamp, ok := parseArgs(ser, m.Args.Raw); ok {
		d := at - stamp
		for v := b.first.Load(); d < v && !b.first.CompareAndSwap(v, d); v = b.first.Load() {
		}
		for v := b.last.Load(); d > v && !b.last.CompareAndSwap(v, d); v = b.last.Load() {
		}
	} else {
		b.unstamped.Add(1)
	}
	if b.count.Add(1) == b.sessions {
		close(b.all)
	}
}

func (b *broadcastWatch) figures() BroadcastEvent {
	e := BroadcastEvent{Received: b.count.Load()}
	if first, last := b.first.Load(), b.last.Load(); first <= last {
		e.FirstMs, e.LastMs = float64(first)/1e3, float64(last)/1e3
	}
	return e
}

func (b *broadcastWatch) report(r *Report, n int, topic string) {
	got := b.count.Load()
	r.BroadcastReceived = got
	first, last := b.first.Load(), b.last.Load()
	if first <= last {
		r.BroadcastFirstMs, r.BroadcastLastMs = float64(first)/1e3, float64(last)/1e3
	}
	r.Notes = append(r.Notes, fmt.Sprintf("broadcast on %s: %d of %d sessions received it, first %.1f ms and last %.1f ms after its stamp",
		topic, got, n, r.BroadcastFirstMs, r.BroadcastLastMs))
	if u := b.unstamped.Load(); u > 0 {
		r.Notes = append(r.Notes, fmt.Sprintf("%d broadcast events without a readable stamp", u))
	}
}
