package bench

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// churnLoop is one of the parallel loops of connect, join, subscribe,
// leave.
type churnLoop struct {
	hist              *Histogram
	started, measured int64
	errs              int64
	firstErr          error
	finish            atomic.Int64
}

// runChurn runs cfg.Parallel loops, each cycling through connect, HELLO,
// SUBSCRIBE, GOODBYE and close on a fresh connection, and reports cycles
// per second and the time of one cycle.
func runChurn(ctx context.Context, cfg *Config, r *Report) error {
	r.Params = fmt.Sprintf("loops=%d", cfg.Parallel)
	r.Unit = "cycles/s"
	start := now() + int64(cfg.Warmup) + int64(20*time.Millisecond)
	end := start + int64(cfg.Duration)
	loops := make([]*churnLoop, cfg.Parallel)
	var wg sync.WaitGroup
	for i := range loops {
		l := &churnLoop{hist: NewHistogram()}
		loops[i] = l
		topic := fmt.Sprintf("bench.churn.%d", i)
		wg.Go(func() {
			defer func() { l.finish.Store(now()) }()
			failures := 0
			for ctx.Err() == nil {
				t0 := now()
				if t0 >= end || cfg.Count > 0 && l.measured >= cfg.Count {
					return
				}
				if t0 >= start {
					l.started++
				}
				if err := cycle(cfg, topic); err != nil {
					l.errs++
					if l.firstErr == nil {
						l.firstErr = err
					}
					// A router that refuses connections should not be
					// hammered by a spinning loop, nor fail the run at the
					// first refusal: back off, give up after a streak.
					if failures++; failures > 100 {
						return
					}
					time.Sleep(time.Millisecond)
					continue
				}
				failures = 0
				if t0 >= start {
					l.measured++
					l.hist.Record(now() - t0)
				}
			}
		})
	}
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	var m *meter
	if sleepUntil(ctx, start, finished) {
		m = startMeter(r.RouterPID)
		sleepUntil(ctx, end, finished)
	} else {
		m = startMeter(r.RouterPID)
	}
	// Loops finish the cycle they are in after the window; the meter
	// stops at its end.
	m.stop(r)
	<-finished

	h := NewHistogram()
	var last int64
	var firstErr error
	for _, l := range loops {
		h.Merge(l.hist)
		r.Sent += l.started
		r.Received += l.measured
		r.Errors += l.errs
		last = max(last, l.finish.Load())
		if firstErr == nil {
			firstErr = l.firstErr
		}
	}
	if firstErr != nil {
		r.Notes = append(r.Notes, "cycle failed: "+firstErr.Error())
	}
	m.perMsg(r, r.Sent)
	if last > start && last < end {
		r.Seconds = float64(last-start) / 1e9
	}
	r.Expected = r.Sent
	r.rates(r.Received)
	r.latencies(h)
	if r.Received == 0 && r.Errors > 0 {
		return fmt.Errorf("bench: churn: every cycle failed: %w", firstErr)
	}
	return nil
}

// cycle connects, joins, subscribes and leaves once.
func cycle(cfg *Config, topic string) error {
	c, err := join(cfg)
	if err != nil {
		return err
	}
	if _, err := c.Subscribe(topic); err != nil {
		_ = c.Close()
		return err
	}
	return c.Leave()
}
