package session

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/switchboard/switchboard/internal/testutil"
	"github.com/switchboard/switchboard/transport"
	"github.com/switchboard/switchboard/wamp"
)

// recStats records what a session counts.
type recStats struct {
	mu      sync.Mutex
	in, out map[wamp.Type]int
	bytes   int
	dropped int
	slow    int
	closed  []CloseReason
	sent    SendStats // at SessionClosed
}

func newRecStats() *recStats {
	return &recStats{in: make(map[wamp.Type]int), out: make(map[wamp.Type]int)}
}

func (r *recStats) EventDropped()       { r.mu.Lock(); r.dropped++; r.mu.Unlock() }
func (r *recStats) SlowConsumerClosed() { r.mu.Lock(); r.slow++; r.mu.Unlock() }
func (r *recStats) MessageIn(t wamp.Type, n int) {
	r.mu.Lock()
	r.in[t]++
	r.bytes += n
	r.mu.Unlock()
}
func (r *recStats) MessageOut(t wamp.Type, n int) { r.mu.Lock(); r.out[t]++; r.mu.Unlock() }
func (r *recStats) SessionClosed(s *Session, c CloseReason) {
	r.mu.Lock()
	r.closed = append(r.closed, c)
	r.sent = s.SendStats()
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
	want := fmt.Sprintf("in map[HELLO:1] out map[WELCOME:1] bytes %d dropped 1 slow 1 closed [slow_consumer]", len(hello))
	if got := rec.String(); got != want {
		t.Errorf("stats %s\nwant  %s", got, want)
	}
	// The events that fit: the one the writer took (depth 1, like WELCOME
	// before it) and the two left queued when the session was closed.
	wantSent := SendStats{Events: 3, EventBytes: uint64(len(event(1000)) + len(event(0)) + len(event(1))), DepthSum: 2}
	wantSent.Depth[0] = 2
	if rec.sent != wantSent {
		t.Errorf("SendStats %+v, want %+v", rec.sent, wantSent)
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
		{"transport violation", func(c *pipeConn, _ *Session) {
			c.failRead(fmt.Errorf("%w: websocket: text message not UTF-8", transport.ErrProtocol))
		}, CloseProtocolViolation},
		{"too large", func(c *pipeConn, _ *Session) {
			c.failRead(fmt.Errorf("%w: websocket message of 2000 bytes", transport.ErrTooLarge))
		}, CloseProtocolViolation},
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

// A write that times out (the peer stopped reading, and its socket
// buffer is full) closes a slow consumer, whichever fires first: the
// write timeout or the queue's bound. The other write errors are a lost
// connection.
func TestStatsWriteTimeout(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want CloseReason
		slow int
	}{
		{"timeout", fmt.Errorf("transport: websocket write: %w", os.ErrDeadlineExceeded), CloseSlowConsumer, 1},
		{"reset", fmt.Errorf("transport: websocket write: %w", syscall.ECONNRESET), CloseConnectionLost, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := newRecStats()
			gate := make(chan struct{})
			c, s, done := startCapture(t, Config{Stats: rec}, gate)
			c.mu.Lock()
			c.writeErr = tc.err
			c.mu.Unlock()
			s.SendEvent(event(1))
			close(gate)
			wait(t, done, "Serve returning")
			rec.mu.Lock()
			defer rec.mu.Unlock()
			if len(rec.closed) != 1 || rec.closed[0] != tc.want || rec.slow != tc.slow {
				t.Errorf("closed %v slow %d, want [%v] slow %d", rec.closed, rec.slow, tc.want, tc.slow)
			}
		})
	}
}

// statsJoiner sets the session's stats in Join, as the router does.
type statsJoiner struct {
	*handler
	st Stats
}

func (j statsJoiner) Join(s *Session, realm wamp.URI, details wamp.Dict) (Handler, wamp.Dict, error) {
	h, d, err := j.handler.Join(s, realm, details)
	s.SetStats(j.st)
	return h, d, err
}

// SetStats moves the counting to the realm's stats from then on.
func TestSetStats(t *testing.T) {
	before, after := newRecStats(), newRecStats()
	c := newPipe()
	done := make(chan struct{})
	go func() {
		Serve(c, Config{Stats: before}, statsJoiner{&handler{left: make(chan struct{})}, after})
		close(done)
	}()
	c.in <- []byte(hello)
	if m := c.next(t); m.Type != wamp.WELCOME {
		t.Fatalf("got %v, want WELCOME", m)
	}
	c.in <- []byte(`[16,1,{},"com.example.t"]`)
	testutil.Eventually(t, 10*time.Second, func() bool { after.mu.Lock(); defer after.mu.Unlock(); return after.in[wamp.PUBLISH] == 1 }, "PUBLISH counted")
	_ = c.Close(0, "")
	wait(t, done, "Serve returning")
	if got, want := before.String(), fmt.Sprintf("in map[HELLO:1] out map[] bytes %d dropped 0 slow 0 closed []", len(hello)); got != want {
		t.Errorf("before: %s\nwant    %s", got, want)
	}
	if got, want := after.String(), "in map[PUBLISH:1] out map[WELCOME:1] bytes 25 dropped 0 slow 0 closed [connection_lost]"; got != want {
		t.Errorf("after: %s\nwant   %s", got, want)
	}
}

func TestDepthBucket(t *testing.T) {
	for n, want := range map[int]int{1: 0, 2: 1, 3: 2, 4: 2, 5: 3, 8: 3, 9: 4, 1024: 10, 1025: 11, 2048: 11, 2049: 12, 1 << 20: 12} {
		if got := depthBucket(n); got != want {
			t.Errorf("depthBucket(%d) = %d, want %d", n, got, want)
		}
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
		testutil.Eventually(t, 10*time.Second, func() bool { rec.mu.Lock(); defer rec.mu.Unlock(); return rec.in[wamp.PUBLISH] == 1 }, "PUBLISH read")
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
