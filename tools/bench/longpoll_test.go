package bench

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/switchboard/switchboard/router/routertest"
	"github.com/switchboard/switchboard/wamp"
)

func runLP(t *testing.T, cfg Config, lp LongPollConfig) *LongPollReport {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := RunLongPoll(ctx, cfg, lp)
	if err != nil {
		t.Fatalf("RunLongPoll(%+v): %v", lp, err)
	}
	if testing.Verbose() {
		t.Logf("%s %s %s: %.0f %s, %.0f receives/s, %.1f events/receive, p50 %.0fµs, lost %d, notes %q",
			r.Scenario, r.Params, r.Protocol, r.Throughput, r.Unit, r.ReceiveRate, r.EventsPerReceive, r.P50, r.Lost, r.Notes)
	}
	return r
}

// TestLongPollEvents runs fanout to one long-poll subscriber, batched and
// unbatched, in window mode and at a modest rate: every event arrives, and
// an unbatched receive carries exactly one.
func TestLongPollEvents(t *testing.T) {
	rt := routertest.Run(t, nil)
	for _, c := range []struct {
		ser       wamp.Serialization
		unbatched bool
		rate      float64
	}{
		{wamp.JSON, false, 0},
		{wamp.JSON, true, 0},
		{wamp.JSON, false, 500},
		{wamp.JSON, true, 500},
		{wamp.MsgPack, false, 0},
		{wamp.CBOR, false, 0},
		{wamp.CBOR, true, 0},
	} {
		t.Run(fmt.Sprintf("%s/unbatched=%v/rate=%v", c.ser, c.unbatched, c.rate), func(t *testing.T) {
			cfg := tiny("longpoll", rt.URL("websocket"))
			cfg.Serialization = c.ser
			cfg.Rate = c.rate
			r := runLP(t, cfg, LongPollConfig{Unbatched: c.unbatched})
			checkSane(t, &r.Report)
			checkDelivered(t, &r.Report, 1)
			want := c.ser.Subprotocol() + ".batched"
			if c.unbatched {
				want = c.ser.Subprotocol()
			}
			if r.Protocol != want {
				t.Errorf("protocol %q, want %q", r.Protocol, want)
			}
			if r.Receives <= 0 || r.ReceiveRate <= 0 {
				t.Errorf("receives %d, %.0f/s: want some", r.Receives, r.ReceiveRate)
			}
			if c.unbatched && r.EventsPerReceive != 1 {
				t.Errorf("unbatched: %.2f events per receive, want 1", r.EventsPerReceive)
			}
			if !c.unbatched && r.EventsPerReceive < 1 {
				t.Errorf("batched: %.2f events per receive, want at least 1", r.EventsPerReceive)
			}
		})
	}
}

// TestLongPollSessions holds sessions with a receive each, then checks
// that one event reached them all.
func TestLongPollSessions(t *testing.T) {
	rt := routertest.Run(t, nil)
	for _, unbatched := range []bool{false, true} {
		t.Run(fmt.Sprintf("unbatched=%v", unbatched), func(t *testing.T) {
			cfg := tiny("longpoll", rt.URL("websocket"))
			cfg.Sessions = 50
			r := runLP(t, cfg, LongPollConfig{Mode: LongPollSessions, Unbatched: unbatched})
			checkSane(t, &r.Report)
			if r.Sent != int64(cfg.Sessions) || r.BroadcastReceived != int64(cfg.Sessions) {
				t.Errorf("sessions %d, broadcast reached %d: want %d each", r.Sent, r.BroadcastReceived, cfg.Sessions)
			}
			if !(0 < r.BroadcastFirstMs && r.BroadcastFirstMs <= r.BroadcastLastMs) {
				t.Errorf("broadcast first %v ms, last %v ms", r.BroadcastFirstMs, r.BroadcastLastMs)
			}
		})
	}
}

// TestLongPollCount ends the window at Count publications.
func TestLongPollCount(t *testing.T) {
	rt := routertest.Run(t, nil)
	cfg := tiny("longpoll", rt.URL("websocket"))
	cfg.Duration = time.Minute
	cfg.Count = 40
	r := runLP(t, cfg, LongPollConfig{})
	checkSane(t, &r.Report)
	if r.Sent != cfg.Count || r.Seconds >= 30 {
		t.Errorf("sent %d in %.1f s, want %d well within the minute", r.Sent, r.Seconds, cfg.Count)
	}
}

func TestLongPollBadConfig(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		url string
		lp  LongPollConfig
	}{
		{"ws://127.0.0.1:1/ws", LongPollConfig{Mode: "nosuch"}},
		{"tcp://127.0.0.1:1", LongPollConfig{}},                            // no long-poll URL to derive
		{"ws://127.0.0.1:1/ws", LongPollConfig{URL: "ftp://127.0.0.1/lp"}}, // not HTTP
		{"ws://127.0.0.1:1/ws", LongPollConfig{}},                          // nothing listens
		{"ws://127.0.0.1:1/ws", LongPollConfig{Mode: LongPollSessions}},    // nothing listens
		{"", LongPollConfig{URL: "http://127.0.0.1:1/lp"}},                 // no router URL
	} {
		cfg := tiny("longpoll", c.url)
		if _, err := RunLongPoll(ctx, cfg, c.lp); err == nil {
			t.Errorf("RunLongPoll(%s, %+v): no error", c.url, c.lp)
		}
	}
}
