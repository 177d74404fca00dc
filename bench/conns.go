package bench

import (
	"context"
	"fmt"
	"math"
	"sync/atomic"
	"time"

	"github.com/switchboard/switchboard/bench/client"
	"github.com/switchboard/switchboard/wamp"
)

// runConns opens cfg.Sessions sessions, each subscribed to a topic of its
// own (and to cfg.Topic when set), and reports the router's memory per
// session: its RSS growth from before the first session to Settle after
// the last, over their number. Throughput is the rate at which sessions
// were opened; latency is the time to connect, join and subscribe one.
// With Topic and Hold it then waits for an event on Topic to reach every
// session (Broadcast) and reports when it arrived.
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
	// the broadcast's arrival.
	var b broadcastWatch
	b.init(n)
	var rs readers
	for _, c := range conns {
		var got atomic.Bool
		rs.serve(c, func(m *wamp.Message) {
			if m.Type == wamp.EVENT && got.CompareAndSwap(false, true) {
				b.arrived(c.Serialization(), m)
			}
		})
	}
	settleMemory(ctx, cfg, r, before, n)
	if cfg.Topic != "" && cfg.Hold > 0 {
		if cfg.Ready != nil {
			fmt.Fprintf(cfg.Ready, "conns: %d sessions open, memory read; holding up to %v for an event on %s\n", n, cfg.Hold, cfg.Topic)
		}
		t := time.NewTimer(cfg.Hold)
		select {
		case <-b.all:
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
		b.report(r, n, cfg.Topic)
	}
	rs.stop(conns)
	r.rates(r.Received)
	r.latencies(h)
	rs.note(r)
	return nil
}

// broadcastWatch notes the first event each held conns session receives.
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
