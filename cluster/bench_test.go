package cluster_test

import (
	"context"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gammazero/nexus/v3/client"
	nwamp "github.com/gammazero/nexus/v3/wamp"

	"github.com/switchboard/switchboard/router"
	"github.com/switchboard/switchboard/router/routertest"
)

// benchNodes returns (publisher's node, subscriber's node): one router for
// "local", two nodes of a cluster for "cross".
func benchNodes(b *testing.B, cross bool) (*router.Router, *router.Router) {
	if !cross {
		r := routertest.Run(b, nil)
		return r, r
	}
	rs := startCluster(b, 2, 3*time.Second)
	return rs[0], rs[1]
}

// BenchmarkEvents measures events per second from one publisher to one
// subscriber, on one node and across two nodes; the nexus clients on
// both ends are part of the cost.
func BenchmarkEvents(b *testing.B) {
	for _, cross := range []bool{false, true} {
		name := "local"
		if cross {
			name = "cross-node"
		}
		b.Run(name, func(b *testing.B) {
			pn, sn := benchNodes(b, cross)
			sub := connect(b, sn)
			var got atomic.Int64
			done := make(chan struct{}, 1)
			var want atomic.Int64
			must(b, sub.Subscribe("com.bench", func(*nwamp.Event) {
				if got.Add(1) == want.Load() {
					done <- struct{}{}
				}
			}, nil))
			if cross {
				waitSubscribers(b, []*router.Router{pn, sn}, "com.bench", "exact", 1)
			}
			pub := connect(b, pn)
			payload := nwamp.List{"0123456789abcdef0123456789abcdef"}
			want.Store(int64(b.N))
			b.ResetTimer()
			start := time.Now()
			// A window of events in flight: WAMP has no flow control, and
			// past the subscriber's queue events are dropped by design.
			const window = 256
			for i := range b.N {
				for int64(i)-got.Load() > window {
					time.Sleep(20 * time.Microsecond)
				}
				if err := pub.Publish("com.bench", nil, payload, nil); err != nil {
					b.Fatal(err)
				}
			}
			select {
			case <-done:
			case <-time.After(time.Minute):
				b.Fatalf("got %d of %d events", got.Load(), b.N)
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
		})
	}
}

// BenchmarkCall measures call round trips, one at a time, on one node and
// to a callee on another node, with the 50th and 99th percentiles.
func BenchmarkCall(b *testing.B) {
	for _, cross := range []bool{false, true} {
		name := "local"
		if cross {
			name = "cross-node"
		}
		b.Run(name, func(b *testing.B) {
			cn, en := benchNodes(b, cross)
			callee := connect(b, en)
			must(b, callee.Register("com.bench.echo", func(_ context.Context, inv *nwamp.Invocation) client.InvokeResult {
				return client.InvokeResult{Args: inv.Arguments}
			}, nil))
			if cross {
				waitCallees(b, []*router.Router{cn, en}, "com.bench.echo", "exact", 1)
			}
			caller := connect(b, cn)
			lat := make([]time.Duration, 0, b.N)
			args := nwamp.List{1}
			ctx := context.Background()
			b.ResetTimer()
			for range b.N {
				t0 := time.Now()
				if _, err := caller.Call(ctx, "com.bench.echo", nil, args, nil, nil); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(t0))
			}
			b.StopTimer()
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
		})
	}
}
