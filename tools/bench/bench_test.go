package bench

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/switchboard/switchboard/router/routertest"
	"github.com/switchboard/switchboard/tools/bench/stub"
	"github.com/switchboard/switchboard/wamp"
)

// TestMain fails the package when a goroutine outlives the tests: every
// run closes its sessions and waits for their readers, and every router
// and stub is shut down at cleanup.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// tiny returns a config that runs scenario briefly with small sizes. The
// router runs in the test process, so its CPU and memory are not measured.
func tiny(scenario, url string) Config {
	return Config{
		Scenario:    scenario,
		URL:         url,
		Duration:    200 * time.Millisecond,
		Subscribers: 3,
		Pairs:       2,
		Callees:     2,
		Callers:     3,
		InFlight:    2,
		Sessions:    20,
		Parallel:    4,
		Window:      8,
		Settle:      10 * time.Millisecond,
		RouterPID:   -1,
	}
}

func run(t *testing.T, cfg Config) *Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := Run(ctx, cfg)
	if err != nil {
		t.Fatalf("Run(%s): %v", cfg.Scenario, err)
	}
	if testing.Verbose() {
		t.Logf("%s %s: %.0f %s, p50 %.0fµs p99 %.0fµs, lost %d, notes %q",
			r.Scenario, r.Params, r.Throughput, r.Unit, r.P50, r.P99, r.Lost, r.Notes)
	}
	return r
}

// checkSane asserts what every report of a loss-free run must show: work
// done, none lost or failed, and latency quantiles in order.
func checkSane(t *testing.T, r *Report) {
	t.Helper()
	if r.Throughput <= 0 || r.Sent <= 0 || r.Received <= 0 {
		t.Errorf("%s: throughput %v, sent %d, received %d: want all > 0", r.Scenario, r.Throughput, r.Sent, r.Received)
	}
	if r.Lost != 0 || r.Stalled || r.Errors != 0 {
		t.Errorf("%s: lost %d, stalled %v, errors %d: want none; notes %q", r.Scenario, r.Lost, r.Stalled, r.Errors, r.Notes)
	}
	if !(0 < r.P50 && r.P50 <= r.P99 && r.P99 <= r.P999 && r.P999 <= r.Max) {
		t.Errorf("%s: latencies p50 %v p99 %v p999 %v max %v: want 0 < p50 <= p99 <= p999 <= max", r.Scenario, r.P50, r.P99, r.P999, r.Max)
	}
	if r.Seconds <= 0 {
		t.Errorf("%s: window of %v s", r.Scenario, r.Seconds)
	}
}

// checkDelivered asserts that, with flow control, every publication of the
// window reached each of its k subscribers (or every call was answered).
func checkDelivered(t *testing.T, r *Report, k int) {
	t.Helper()
	if r.Received != r.Sent*int64(k) {
		t.Errorf("%s: received %d, want sent %d x %d", r.Scenario, r.Received, r.Sent, k)
	}
	if r.Expected == 0 || r.Lost != 0 {
		t.Errorf("%s: expected %d, lost %d", r.Scenario, r.Expected, r.Lost)
	}
}

func TestScenariosAgainstRouter(t *testing.T) {
	rt := routertest.Run(t, nil)
	url := rt.URL("websocket")
	cfg := tiny("fanout", url)

	t.Run("fanout", func(t *testing.T) {
		r := run(t, cfg)
		checkSane(t, r)
		checkDelivered(t, r, cfg.Subscribers)
	})
	t.Run("pubsub", func(t *testing.T) {
		c := cfg
		c.Scenario = "pubsub"
		r := run(t, c)
		checkSane(t, r)
		checkDelivered(t, r, 1)
	})
	t.Run("rpc", func(t *testing.T) {
		c := cfg
		c.Scenario = "rpc"
		r := run(t, c)
		checkSane(t, r)
		checkDelivered(t, r, 1)
	})
	t.Run("rpc-shared", func(t *testing.T) {
		c := cfg
		c.Scenario = "rpc"
		c.Invoke = "roundrobin"
		r := run(t, c)
		checkSane(t, r)
		checkDelivered(t, r, 1)
	})
	t.Run("conns", func(t *testing.T) {
		c := cfg
		c.Scenario = "conns"
		r := run(t, c)
		checkSane(t, r)
		if r.Sent != int64(c.Sessions) || r.Received != int64(c.Sessions) {
			t.Errorf("conns: sent %d, received %d, want %d each", r.Sent, r.Received, c.Sessions)
		}
	})
	t.Run("pubsub-pub-url", func(t *testing.T) {
		c := cfg
		c.Scenario = "pubsub"
		c.PubURL = rt.URL("rawsocket")
		r := run(t, c)
		checkSane(t, r)
		checkDelivered(t, r, 1)
	})
	t.Run("conns-broadcast", func(t *testing.T) {
		c := cfg
		c.Scenario = "conns"
		c.Topic = "bench.broadcast"
		c.Hold = 10 * time.Second
		errc := make(chan error, 1)
		c.Ready = writerFunc(func(p []byte) (int, error) {
			go func() {
				_, err := Broadcast(Config{URL: rt.URL("rawsocket")}, c.Topic)
				errc <- err
			}()
			return len(p), nil
		})
		r := run(t, c)
		checkSane(t, r)
		if err := <-errc; err != nil {
			t.Fatalf("Broadcast: %v", err)
		}
		if r.BroadcastReceived != int64(c.Sessions) || !(0 < r.BroadcastFirstMs && r.BroadcastFirstMs <= r.BroadcastLastMs) {
			t.Errorf("broadcast reached %d of %d sessions, first %v ms, last %v ms", r.BroadcastReceived, c.Sessions, r.BroadcastFirstMs, r.BroadcastLastMs)
		}
	})
	t.Run("conns-broadcast-events", func(t *testing.T) {
		c := cfg
		c.Scenario = "conns"
		c.Topic = "bench.broadcast"
		c.Hold = 10 * time.Second
		c.Events = 3
		errc := make(chan error, 1)
		c.Ready = writerFunc(func(p []byte) (int, error) {
			go func() {
				for range c.Events {
					if _, err := Broadcast(Config{URL: rt.URL("rawsocket")}, c.Topic); err != nil {
						errc <- err
						return
					}
				}
				errc <- nil
			}()
			return len(p), nil
		})
		r := run(t, c)
		checkSane(t, r)
		if err := <-errc; err != nil {
			t.Fatalf("Broadcast: %v", err)
		}
		if len(r.BroadcastEvents) != c.Events {
			t.Fatalf("%d events reported, want %d", len(r.BroadcastEvents), c.Events)
		}
		for i, e := range r.BroadcastEvents {
			if e.Received != int64(c.Sessions) || !(0 < e.FirstMs && e.FirstMs <= e.LastMs) {
				t.Errorf("event %d reached %d of %d sessions, first %v ms, last %v ms", i, e.Received, c.Sessions, e.FirstMs, e.LastMs)
			}
		}
		if r.BroadcastSeconds <= 0 || r.BroadcastSeconds >= c.Hold.Seconds() {
			t.Errorf("hold took %v s, want under %v", r.BroadcastSeconds, c.Hold)
		}
	})
	t.Run("register", func(t *testing.T) {
		c := cfg
		c.Scenario = "register"
		c.Count = 50
		r := run(t, c)
		checkSane(t, r)
		if r.Received != c.Count {
			t.Errorf("register: %d registrations of %d", r.Received, c.Count)
		}
	})
	t.Run("churn", func(t *testing.T) {
		c := cfg
		c.Scenario = "churn"
		r := run(t, c)
		checkSane(t, r)
		if r.Received != r.Sent {
			t.Errorf("churn: %d cycles completed of %d started", r.Received, r.Sent)
		}
	})
}

// TestRateMode runs publishers and callers open loop at a rate the router
// carries easily, so nothing may be lost and about rate x window arrive.
func TestRateMode(t *testing.T) {
	rt := routertest.Run(t, nil)
	for _, sc := range []string{"fanout", "rpc"} {
		t.Run(sc, func(t *testing.T) {
			cfg := tiny(sc, rt.URL("websocket"))
			cfg.Rate = 500
			r := run(t, cfg)
			checkSane(t, r)
			// 500/s for 0.2 s is 100 per publisher or caller. The pacer
			// never runs ahead of its schedule, so more than that (plus
			// a tick's worth) is a bug; fewer only means a busy machine,
			// which must not fail a test.
			perSender := float64(r.Sent)
			if sc == "rpc" {
				perSender /= float64(cfg.Callers)
			}
			if perSender > 110 {
				t.Errorf("%s: %.0f sent per sender at 500/s for 0.2 s, want about 100", sc, perSender)
			}
		})
	}
}

// TestCount ends a window early after Count publications or calls.
func TestCount(t *testing.T) {
	rt := routertest.Run(t, nil)
	for _, sc := range []string{"pubsub", "rpc", "churn"} {
		t.Run(sc, func(t *testing.T) {
			cfg := tiny(sc, rt.URL("websocket"))
			cfg.Duration = time.Minute
			cfg.Count = 30
			r := run(t, cfg)
			checkSane(t, r)
			senders := map[string]int{"pubsub": cfg.Pairs, "rpc": cfg.Callers, "churn": cfg.Parallel}[sc]
			if want := int64(senders) * cfg.Count; r.Sent != want {
				t.Errorf("%s: sent %d, want %d", sc, r.Sent, want)
			}
			if r.Seconds >= 30 {
				t.Errorf("%s: window of %.1f s did not end at Count", sc, r.Seconds)
			}
		})
	}
}

// TestTransportsAndSerializers runs fanout and rpc over every transport and
// serializer, with payloads that need each WebSocket length encoding.
func TestTransportsAndSerializers(t *testing.T) {
	rt := routertest.Run(t, nil)
	for _, tr := range []string{"websocket", "rawsocket"} {
		for _, ser := range wamp.Serializations {
			for _, payload := range []int{0, 300, 70000} {
				for _, sc := range []string{"fanout", "rpc"} {
					t.Run(fmt.Sprintf("%s/%s/%s/%d", tr, ser, sc, payload), func(t *testing.T) {
						cfg := tiny(sc, rt.URL(tr))
						cfg.Serialization = ser
						cfg.Payload = payload
						// A count, not a short window: under -race on a
						// busy machine one 70 kB call can outlast 100 ms.
						cfg.Duration = time.Minute
						cfg.Count = 5
						r := run(t, cfg)
						checkSane(t, r)
						k := 1
						if sc == "fanout" {
							k = cfg.Subscribers
						}
						checkDelivered(t, r, k)
					})
				}
			}
		}
	}
}

// TestStub runs every scenario against the forwarding stub over WebSocket
// and RawSocket.
func TestStub(t *testing.T) {
	s := stub.New()
	t.Cleanup(s.Close)
	wsLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rawLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = s.ServeWebSocket(wsLn) }()
	go func() { _ = s.ServeRawSocket(rawLn) }()
	urls := map[string]string{
		"websocket": "ws://" + wsLn.Addr().String() + "/ws",
		"rawsocket": "tcp://" + rawLn.Addr().String(),
	}
	for _, tr := range []string{"websocket", "rawsocket"} {
		for _, sc := range Scenarios {
			t.Run(tr+"/"+sc, func(t *testing.T) {
				cfg := tiny(sc, urls[tr])
				cfg.Serialization = wamp.MsgPack
				r := run(t, cfg)
				checkSane(t, r)
			})
		}
	}
}

// TestRouterGone reports, not hangs, when the router goes away in the
// middle of a run: the window stalls, sessions end, and Run returns.
func TestRouterGone(t *testing.T) {
	s := stub.New()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = s.ServeWebSocket(ln) }()
	cfg := tiny("fanout", "ws://"+ln.Addr().String()+"/ws")
	cfg.Duration = 10 * time.Second
	cfg.Stall = 200 * time.Millisecond
	cfg.Drain = 200 * time.Millisecond
	time.AfterFunc(300*time.Millisecond, s.Close)
	r := run(t, cfg)
	if r.Errors == 0 && !r.Stalled {
		t.Errorf("router closed mid-run: errors %d, stalled %v; want the loss reported", r.Errors, r.Stalled)
	}
	if r.Seconds > 5 {
		t.Errorf("run went on for %.1f s after the router left", r.Seconds)
	}
}

func TestBadConfig(t *testing.T) {
	if _, err := Run(context.Background(), Config{Scenario: "fanout"}); err == nil {
		t.Error("Run without URL: no error")
	}
	if _, err := Run(context.Background(), Config{Scenario: "nosuch", URL: "ws://127.0.0.1:1/ws", RouterPID: -1}); err == nil {
		t.Error("Run with unknown scenario: no error")
	}
	cfg := tiny("fanout", "ws://127.0.0.1:1/ws") // nothing listens on port 1
	if _, err := Run(context.Background(), cfg); err == nil {
		t.Error("Run against a closed port: no error")
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
