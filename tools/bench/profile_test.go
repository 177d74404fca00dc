package bench

import (
	"context"
	"flag"
	"os"
	"runtime"
	"runtime/pprof"
	"testing"
	"time"

	"github.com/switchboard/switchboard/router/routertest"
)

var heapProfile = flag.String("heapprofile", "", "conns benchmark: write a heap profile to `FILE` while every session is open")

// BenchmarkRouter runs scenarios against an in-process router, so that the
// Go tooling can profile the router under the generator's real load. One
// op is one publication (fanout: 100 events), call or session. The
// generator's goroutines carry the pprof label side=generator; the router's
// carry none, so a profile shows the router alone with
//
//	go test ./bench -run '^$' -bench 'Router/fanout-100' -benchtime 200000x -cpuprofile cpu.out
//	go tool pprof -tagignore side=generator -top bench.test cpu.out
//
// and the memory of idle sessions with
//
//	go test ./bench -run '^$' -bench 'Router/conns' -benchtime 5000x -heapprofile heap.out
//	go tool pprof -sample_index inuse_space -ignore 'bench' -top bench.test heap.out
//
// Router and generator share the machine's CPUs here; the figures to quote
// are compare.sh's, with each on a CPU of its own.
func BenchmarkRouter(b *testing.B) {
	cases := []struct {
		name string
		cfg  Config
	}{
		{"fanout-100", Config{Scenario: "fanout", Subscribers: 100}},
		{"fanout-1", Config{Scenario: "fanout", Subscribers: 1}},
		{"pubsub-10", Config{Scenario: "pubsub", Pairs: 10}},
		{"rpc-8x4", Config{Scenario: "rpc", Callers: 8, InFlight: 4}},
		{"rpc-rtt", Config{Scenario: "rpc", Callers: 1, InFlight: 1}},
		{"conns", Config{Scenario: "conns", Parallel: 32}},
		{"churn", Config{Scenario: "churn", Parallel: 32}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			rt := routertest.Run(b, nil)
			cfg := c.cfg
			cfg.URL = rt.URL("websocket")
			cfg.RouterPID = -1
			senders := map[string]int{"fanout": 1, "pubsub": cfg.Pairs, "rpc": cfg.Callers, "churn": cfg.Parallel}[cfg.Scenario]
			switch cfg.Scenario {
			case "conns":
				cfg.Sessions = b.N
				cfg.Settled = func() { writeHeapProfile(b) }
			default:
				cfg.Count = int64(max(1, b.N/senders))
				cfg.Duration = 10 * time.Minute
			}
			var r *Report
			var err error
			b.ResetTimer()
			pprof.Do(context.Background(), pprof.Labels("side", "generator"), func(ctx context.Context) {
				r, err = Run(ctx, cfg)
			})
			b.StopTimer()
			if err != nil {
				b.Fatal(err)
			}
			if r.Lost != 0 || r.Errors != 0 {
				b.Errorf("lost %d, errors %d: %q", r.Lost, r.Errors, r.Notes)
			}
			b.ReportMetric(r.Throughput, r.Unit)
			b.ReportMetric(r.P50, "p50-µs")
			b.ReportMetric(r.P99, "p99-µs")
		})
	}
}

func writeHeapProfile(b *testing.B) {
	if *heapProfile == "" {
		return
	}
	runtime.GC()
	f, err := os.Create(*heapProfile)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		b.Fatal(err)
	}
}
