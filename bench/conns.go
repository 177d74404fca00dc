package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/switchboard/switchboard/bench/client"
	"github.com/switchboard/switchboard/wamp"
)

// runConns opens cfg.Sessions sessions, each subscribed to a topic of its
// own, and reports the router's memory per session: its RSS growth from
// before the first session to Settle after the last, over their number.
// Throughput is the rate at which sessions were opened; latency is the
// time to connect, join and subscribe one.
func runConns(ctx context.Context, cfg *Config, r *Report) error {
	n := cfg.Sessions
	r.Params = fmt.Sprintf("sessions=%d parallel=%d", n, cfg.Parallel)
	r.Unit = "sessions/s"
	before := sampleProc(r.RouterPID)
	m := startMeter(r.RouterPID)
	conns, h, err := openAll(ctx, cfg, n, func(i int, c *client.Conn) error {
		_, err := c.Subscribe(fmt.Sprintf("bench.conns.%d", i))
		return err
	})
	if err != nil {
		return fmt.Errorf("bench: opening sessions: %w", err)
	}
	m.stop(r)
	m.perMsg(r, int64(n))
	r.Sent, r.Received, r.Expected = int64(n), int64(n), int64(n)

	// Readers answer the router's pings while the sessions idle.
	var rs readers
	for _, c := range conns {
		rs.serve(c, func(*wamp.Message) {})
	}
	t := time.NewTimer(cfg.Settle)
	select {
	case <-t.C:
	case <-ctx.Done():
		t.Stop()
	}
	after := sampleProc(r.RouterPID)
	if cfg.Settled != nil {
		cfg.Settled()
	}
	if before.ok && after.ok {
		r.MemPerSession = float64(after.rssKiB-before.rssKiB) * 1024 / float64(n)
		r.RouterRSSKiB, r.RouterHWMKiB = after.rssKiB, after.hwmKiB
	}
	rs.stop(conns)
	r.rates(r.Received)
	r.latencies(h)
	rs.note(r)
	return nil
}
