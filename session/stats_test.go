package session

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/switchboard/switchboard/wamp"
)

// recStats records what a session counts.
type recStats struct {
	mu      sync.Mutex
	in, out map[wamp.Type]int
	bytes   int
	dropped int
	slow    int
	depths  []int
	closed  []CloseReason
}

func newRecStats() *recStats {
	return &recStats{in: make(map[wamp.Type]int), out: make(map[wamp.Type]int)}
}

func (r *recStats) EventDropped()       { r.mu.Lock(); r.dropped++; r.mu.Unlock() }
func (r *recStats) SlowConsumerClosed() { r.mu.Lock(); r.slow++; r.mu.Unlock() }
func (r *recStats) QueueDepth(n int)    { r.mu.Lock(); r.depths = append(r.depths, n); r.mu.Unlock() }
func (r *recStats) MessageIn(t wamp.Type, n int) {
	r.mu.Lock()
	r.in[t]++
	r.bytes += n
	r.mu.Unlock()
}
func (r *recStats) MessageOut(t wamp.Type, n int) { r.mu.Lock(); r.out[t]++; r.mu.Unlock() }
func (r *recStats) SessionClosed(c CloseReason) {
	r.mu.Lock()
	r.closed = append(r.closed, c)
	r.mu.Unlock()
}

func (r *recStats) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return fmt.Sprintf("in %v out %v bytes %d dropped %d slow %d closed %v", r.in, r.out, r.bytes, r.dropped, r.slow, r.closed)
}

// A slow consumer under the disconnect policy: the stats see the HELLO in,
// WELCOME and the events that fit out, the drop, the close and its reason.
func TestStatsSlowConsumer(t *testing.T) {
	rec := newRecStats()
	gate := make(chan struct{})
	c, s, done := startCapture(t, Config{QueueMessages: 2, Policy: PolicyDisconnect, Stats: rec}, gate)
	writerHolding(t, s)
	for i := 0; i < 3; i++ {
		s.SendEvent(event(i))
	}
	wait(t, c.closed, "slow consumer close")
	wait(t, done, "Serve returning")
	want := fmt.Sprintf("in map[HELLO:1] out map[WELCOME:1 EVENT:3] bytes %d dropped 1 slow 1 closed [slow_consumer]", len(hello))
	if got := rec.String(); got != want {
		t.Errorf("stats %s\nwant  %s", got, want)
	}
	if len(rec.depths) == 0 || rec.depths[0] != 1 {
		t.Errorf("queue depths %v, want 1 first (WELCOME alone)", rec.depths)
	}
}

// The close reason follows who ended the session.
func TestStatsCloseReasons(t *testing.T) {
	for _, tc := range []struct {
		name string
		end  func(c *pipeConn, s *Session)
		want CloseReason
	}{
		{"peer goodbye", func(c *pipeConn, _ *Session) { c.in <- []byte(`[6,{},"wamp.close.close_realm"]`) }, ClosePeerGoodbye},
		{"peer abort", func(c *pipeConn, _ *Session) { c.in <- []byte(`[3,{},"wamp.error.canceled"]`) }, ClosePeerAbort},
		{"violation", func(c *pipeConn, _ *Session) { c.in <- []byte(`[2,1,{}]`) }, CloseProtocolViolation},
		{"shutdown", func(c *pipeConn, s *Session) {
			s.Goodbye(wamp.ErrSystemShutdown, "")
			c.in <- []byte(`[6,{},"wamp.close.goodbye_and_out"]`)
		}, CloseSystemShutdown},
		{"kill", func(c *pipeConn, s *Session) {
			s.Goodbye(wamp.ErrCloseRealm, "")
			c.in <- []byte(`[6,{},"wamp.close.goodbye_and_out"]`)
		}, CloseRouterGoodbye},
		{"lost", func(c *pipeConn, _ *Session) { _ = c.Close(0, "") }, CloseConnectionLost},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := newRecStats()
			c, s, done := startCapture(t, Config{Stats: rec}, nil)
			tc.end(c, s)
			wait(t, done, "Serve returning")
			rec.mu.Lock()
			defer rec.mu.Unlock()
			if len(rec.closed) != 1 || rec.closed[0] != tc.want {
				t.Errorf("closed %v, want [%v]", rec.closed, tc.want)
			}
		})
	}
}

// SetStats moves the counting to the realm's stats from then on.
func TestSetStats(t *testing.T) {
	before, after := newRecStats(), newRecStats()
	c, s, done := startCapture(t, Config{Stats: before}, nil)
	s.SetStats(after) // in a router, the Joiner does this during Join
	c.in <- []byte(`[16,1,{},"com.example.t"]`)
	wait(t, waitFor(func() bool { after.mu.Lock(); defer after.mu.Unlock(); return after.in[wamp.PUBLISH] == 1 }), "PUBLISH counted")
	_ = c.Close(0, "")
	wait(t, done, "Serve returning")
	if before.in[wamp.PUBLISH] != 0 || after.in[wamp.HELLO] != 0 || len(after.closed) != 1 {
		t.Errorf("before: %s\nafter: %s", before, after)
	}
}

func TestWarnLimit(t *testing.T) {
	var w warnLimit
	for i := range warnBurst {
		if ok, _ := w.allow(); !ok {
			t.Fatalf("warning %d suppressed", i)
		}
	}
	for range 5 {
		if ok, _ := w.allow(); ok {
			t.Fatal("warning past the burst let through")
		}
	}
	w.mu.Lock()
	w.start = w.start.Add(-warnPeriod)
	w.mu.Unlock()
	if ok, suppressed := w.allow(); !ok || suppressed != 5 {
		t.Errorf("after the period: %v %d, want true and 5 suppressed", ok, suppressed)
	}
}

// Payloads reach the log only with DebugPayloads.
func TestDebugPayloads(t *testing.T) {
	for _, on := range []bool{false, true} {
		var buf syncBuf
		log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
		rec := newRecStats()
		c, _, done := startCapture(t, Config{Logger: log, DebugPayloads: on, Stats: rec}, nil)
		c.in <- []byte(`[16,1,{},"com.example.t",["secret-payload"]]`)
		wait(t, waitFor(func() bool { rec.mu.Lock(); defer rec.mu.Unlock(); return rec.in[wamp.PUBLISH] == 1 }), "PUBLISH read")
		_ = c.Close(0, "")
		wait(t, done, "Serve returning")
		if got := strings.Contains(buf.String(), "secret-payload"); got != on {
			t.Errorf("DebugPayloads %v: payload logged %v:\n%s", on, got, buf.String())
		}
	}
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuf) Write(p []byte) (int, error) { b.mu.Lock(); defer b.mu.Unlock(); return b.b.Write(p) }
func (b *syncBuf) String() string              { b.mu.Lock(); defer b.mu.Unlock(); return b.b.String() }
