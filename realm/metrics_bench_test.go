package realm_test

import (
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/switchboard/switchboard/metrics"
	"github.com/switchboard/switchboard/realm"
	"github.com/switchboard/switchboard/session"
	"github.com/switchboard/switchboard/wamp"
)

// BenchmarkPublishMetrics is BenchmarkPublish with metrics off and on, for
// docs/monitoring.md: with metrics on, the realm counts the publication,
// every subscriber's session counts its EVENT and bytes out, its writer
// the queue depth, and the publisher's reader the PUBLISH in, as in a
// router. Compare with
//
//	go test -run '^$' -bench PublishMetrics -count 10 ./realm | benchstat -col /metrics -
func BenchmarkPublishMetrics(b *testing.B) {
	for _, n := range []int{1, 100, 1000} {
		for _, on := range []bool{false, true} {
			name := "off"
			if on {
				name = "on"
			}
			b.Run(fmt.Sprintf("subscribers=%d/metrics=%s", n, name), func(b *testing.B) {
				benchPublish(b, n, on)
			})
		}
	}
}

func benchPublish(b *testing.B, n int, on bool) {
	rcfg := realm.Config{Name: "realm1"}
	scfg := session.Config{QueueMessages: 1 << 16, QueueBytes: 1 << 30}
	var group *metrics.Group
	if on {
		m := metrics.New()
		rcfg.Stats = m.Realm("realm1")
		group = m.Group("realm1", "test", wamp.JSON)
		scfg.Stats = group
	}
	r, err := realm.New(rcfg)
	if err != nil {
		b.Fatal(err)
	}
	f := &fixture{r: r}
	for range n + 1 {
		c := newTestConn(wamp.JSON, false)
		c.written = &f.written
		s, _ := serve(b, r, scfg, c)
		if group != nil {
			group.Opened(s) // as the router does at join
		}
		f.sessions = append(f.sessions, s)
	}
	f.waitWritten(b, int64(n+1))
	f.written.Store(0)
	var m wamp.Message
	for i, s := range f.sessions[1:] {
		f.handle(b, s, []byte(`[32,`+strconv.Itoa(i+1)+`,{},"com.example.bench"]`), &m)
	}
	f.waitWritten(b, int64(n))
	f.written.Store(0)
	pub := f.sessions[0]
	var count session.Stats
	if group != nil {
		count = group.For(pub.ID) // what the router gives the publisher
	}
	frame := []byte(`[16,1,{},"com.example.bench",["hello",42],{"k":"v"}]`)
	window := int64(1 << 15)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if count != nil {
			count.MessageIn(wamp.PUBLISH, len(frame)) // what the reader counts
		}
		f.handle(b, pub, frame, &m)
		if sent := int64(i+1) * int64(n); sent-f.written.Load() > window {
			f.waitWritten(b, sent-window/2)
		}
	}
	f.waitWritten(b, int64(b.N)*int64(n))
	b.StopTimer()
	for _, s := range f.sessions {
		if d := s.Dropped(); d != 0 {
			b.Fatalf("session dropped %d events", d)
		}
	}
	b.ReportMetric(float64(b.N)*float64(n)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkPublishParallelMetrics publishes from GOMAXPROCS publishers at
// once, each to a topic of its own with one subscriber, metrics off and
// on: what the counters cost when several readers count at the same time
// (the case for contention on shared counters).
func BenchmarkPublishParallelMetrics(b *testing.B) {
	for _, on := range []bool{false, true} {
		name := "off"
		if on {
			name = "on"
		}
		b.Run("metrics="+name, func(b *testing.B) { benchPublishParallel(b, on) })
	}
}

func benchPublishParallel(b *testing.B, on bool) {
	const pairs = 16
	rcfg := realm.Config{Name: "realm1"}
	scfg := session.Config{QueueMessages: 1 << 16, QueueBytes: 1 << 30}
	var group *metrics.Group
	if on {
		m := metrics.New()
		rcfg.Stats = m.Realm("realm1")
		group = m.Group("realm1", "test", wamp.JSON)
		scfg.Stats = group
	}
	r, err := realm.New(rcfg)
	if err != nil {
		b.Fatal(err)
	}
	f := &fixture{r: r}
	for range 2 * pairs {
		c := newTestConn(wamp.JSON, false)
		c.written = &f.written
		s, _ := serve(b, r, scfg, c)
		if group != nil {
			group.Opened(s)
		}
		f.sessions = append(f.sessions, s)
	}
	f.waitWritten(b, 2*pairs)
	f.written.Store(0)
	var m wamp.Message
	frames := make([][]byte, pairs)
	for i := range pairs {
		f.handle(b, f.sessions[pairs+i], []byte(`[32,1,{},"com.example.bench`+strconv.Itoa(i)+`"]`), &m)
		frames[i] = []byte(`[16,1,{},"com.example.bench` + strconv.Itoa(i) + `",["hello",42],{"k":"v"}]`)
	}
	f.waitWritten(b, pairs)
	f.written.Store(0)
	var next, sent atomic.Int64
	window := int64(1 << 15)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := int(next.Add(1)-1) % pairs
		pub, frame := f.sessions[i], frames[i]
		var count session.Stats
		if group != nil {
			count = group.For(pub.ID)
		}
		var m wamp.Message
		for pb.Next() {
			if count != nil {
				count.MessageIn(wamp.PUBLISH, len(frame))
			}
			f.handle(b, pub, frame, &m)
			if n := sent.Add(1); n-f.written.Load() > window {
				f.waitWritten(b, n-window/2)
			}
		}
	})
	f.waitWritten(b, int64(b.N))
}
