package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/switchboard/switchboard/wamp"
)

// runRegister times registrations: one session registers cfg.Count
// procedures of its own (default 1000), one at a time, each REGISTER
// waiting for its REGISTERED, then unregisters them the same way. On a
// cluster each registration is admitted by the directory (a JetStream
// write), so this is the latency that write adds. Latency is REGISTER's
// round trip; UNREGISTER's is in a note.
func runRegister(ctx context.Context, cfg *Config, r *Report) error {
	n := cfg.Count
	if n <= 0 {
		n = 1000
	}
	r.Params = fmt.Sprintf("procedures=%d", n)
	r.Unit = "registrations/s"
	c, err := join(cfg)
	if err != nil {
		return fmt.Errorf("bench: register session: %w", err)
	}
	defer func() { _ = c.Close() }()

	base := fmt.Sprintf("bench.register.%d.", time.Now().UnixNano())
	reg, unreg := NewHistogram(), NewHistogram()
	ids := make([]wamp.ID, 0, n)
	m := startMeter(r.RouterPID)
	end := time.Now().Add(cfg.Duration)
	var firstErr error
	for i := range n {
		if ctx.Err() != nil || time.Now().After(end) {
			break
		}
		t0 := now()
		id, err := c.Register(fmt.Sprintf("%s%d", base, i), nil)
		if err != nil {
			r.Errors++
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		reg.Record(now() - t0)
		ids = append(ids, id)
	}
	m.stop(r)
	m.perMsg(r, int64(len(ids)))
	for _, id := range ids {
		if ctx.Err() != nil {
			break
		}
		t0 := now()
		if err := c.Unregister(id); err != nil {
			r.Errors++
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		unreg.Record(now() - t0)
	}
	_ = c.Leave()

	r.Sent, r.Received, r.Expected = int64(len(ids))+r.Errors, int64(len(ids)), n
	r.rates(r.Received)
	r.latencies(reg)
	us := func(d time.Duration) float64 { return float64(d) / 1e3 }
	r.Notes = append(r.Notes, fmt.Sprintf("UNREGISTER round trip (%d): p50 %.0fµs p99 %.0fµs max %.0fµs",
		unreg.Count(), us(unreg.Quantile(0.5)), us(unreg.Quantile(0.99)), us(unreg.Max())))
	if firstErr != nil {
		r.Notes = append(r.Notes, "first error: "+firstErr.Error())
	}
	return nil
}

// Broadcast joins the router at cfg.URL, publishes one event on topic
// with acknowledgement, and leaves. The event's Args are [0, stamp], the
// stamp being the wall clock in microseconds since the Unix epoch (a conns
// run with Topic set reports arrivals against it, from another process).
// It returns when the router acknowledged the publication.
func Broadcast(cfg Config, topic string) (sent time.Time, err error) {
	cfg.defaults()
	c, err := join(&cfg)
	if err != nil {
		return time.Time{}, err
	}
	defer func() { _ = c.Close() }()
	sent = time.Now()
	args := appendArgs(nil, cfg.Serialization, 0, sent.UnixMicro(), 0)
	if err := c.PublishAcked(topic, wamp.Payload{Raw: args, Ser: cfg.Serialization}); err != nil {
		return sent, err
	}
	return sent, c.Leave()
}
