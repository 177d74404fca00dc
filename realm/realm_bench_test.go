package realm_test

import (
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard/switchboard/realm"
	"github.com/switchboard/switchboard/session"
	"github.com/switchboard/switchboard/wamp"
	"github.com/switchboard/switchboard/wamp/codec"
)

// fixture runs n sessions joined to one realm whose peers only count what
// they are sent: the benchmarks measure the router's work (decode, route,
// encode, queue, batch), not a network.
type fixture struct {
	r        *realm.Realm
	sessions []*session.Session
	written  atomic.Int64
}

func newFixture(b *testing.B, n int) *fixture {
	r, err := realm.New(realm.Config{Name: "realm1"})
	if err != nil {
		b.Fatal(err)
	}
	f := &fixture{r: r}
	cfg := session.Config{QueueMessages: 1 << 16, QueueBytes: 1 << 30}
	for i := 0; i < n; i++ {
		c := newTestConn(wamp.JSON, false)
		c.written = &f.written
		s, _ := serve(b, r, cfg, c)
		f.sessions = append(f.sessions, s)
	}
	f.waitWritten(b, int64(n)) // every WELCOME
	f.written.Store(0)
	return f
}

// waitWritten waits until the writers have written at least n frames.
func (f *fixture) waitWritten(b *testing.B, n int64) {
	deadline := time.Now().Add(time.Minute)
	for f.written.Load() < n {
		if time.Now().After(deadline) {
			b.Fatalf("writers wrote %d frames, want %d", f.written.Load(), n)
		}
		time.Sleep(50 * time.Microsecond)
	}
}

func (f *fixture) handle(b *testing.B, s *session.Session, frame []byte, m *wamp.Message) {
	if err := codec.For(wamp.JSON).Decode(frame, m); err != nil {
		b.Fatal(err)
	}
	if err := f.r.Handle(s, m); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkPublish publishes from one session to n subscribed sessions,
// through realm, broker, session queues and writers: ns/op and allocs/op
// are per publication (n events). Writers are drained before the timer
// stops, and the publisher waits whenever it runs too far ahead, so no
// event is dropped.
func BenchmarkPublish(b *testing.B) {
	for _, n := range []int{1, 100, 1000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			f := newFixture(b, n+1)
			var m wamp.Message
			for i, s := range f.sessions[1:] {
				f.handle(b, s, []byte(`[32,`+strconv.Itoa(i+1)+`,{},"com.example.bench"]`), &m)
			}
			f.waitWritten(b, int64(n)) // every SUBSCRIBED
			f.written.Store(0)
			pub := f.sessions[0]
			frame := []byte(`[16,1,{},"com.example.bench",["hello",42],{"k":"v"}]`)
			window := int64(1 << 15)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
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
		})
	}
}

// BenchmarkCallResult runs CALL -> INVOCATION -> YIELD -> RESULT between
// two sessions: ns/op and allocs/op are per call round trip, both frames
// written by the sessions' writers.
func BenchmarkCallResult(b *testing.B) {
	f := newFixture(b, 2)
	caller, callee := f.sessions[0], f.sessions[1]
	var m wamp.Message
	f.handle(b, callee, []byte(`[64,1,{},"com.example.echo"]`), &m)
	f.waitWritten(b, 1)
	f.written.Store(0)
	call := []byte(`[48,1,{},"com.example.echo",["hello",42],{"k":"v"}]`)
	var yield []byte
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f.handle(b, caller, call, &m)
		// INVOCATION request ids are the callee session's own sequence.
		yield = append(strconv.AppendInt(append(yield[:0], "[70,"...), int64(i+1), 10), `,{},["hello",42],{"k":"v"}]`...)
		f.handle(b, callee, yield, &m)
		if i%4096 == 4095 {
			f.waitWritten(b, 2*int64(i+1)-4096)
		}
	}
	f.waitWritten(b, 2*int64(b.N))
}
