//go:build !race

// The race detector makes sync.Pool drop items at random, so allocation
// counts only hold without it.

package broker

import (
	"testing"

	"github.com/switchboard/switchboard/internal/fakepeer"
	"github.com/switchboard/switchboard/wamp"
)

// TestPublishAllocs guards the hot path of a PUBLISH to an exact topic
// with no options: one allocation, the EVENT frame that every subscriber
// of its serializer shares, however many subscribers. A cluster node
// publishing to a topic no other node wants pays nothing more than a node
// alone: the remote-interest check reads the matched subscription's node
// counts, it does not allocate.
func TestPublishAllocs(t *testing.T) {
	for _, c := range []struct {
		name   string
		remote Remote
	}{{"alone", nil}, {"cluster, no remote interest", &fakeRemote{}}} {
		t.Run(c.name, func(t *testing.T) {
			b := New(Config{Remote: c.remote})
			for i := range 100 {
				b.Subscribe(&fakepeer.Peer{ID: wamp.ID(10 + i), Ser: wamp.JSON, Discard: true}, fakepeer.Decode(t, `[32,1,{},"com.example.hot"]`))
			}
			// Patterns elsewhere: the exact topic's publication skips them
			// only when the walk finds nothing, and the walk must not allocate.
			other := fakepeer.New(2)
			b.Subscribe(other, fakepeer.Decode(t, `[32,2,{"match":"prefix"},"org.example"]`))
			b.Subscribe(other, fakepeer.Decode(t, `[32,3,{"match":"wildcard"},"org..hot"]`))
			pub := &fakepeer.Peer{ID: 1, Ser: wamp.JSON, Discard: true}
			m := fakepeer.Decode(t, `[16,1,{},"com.example.hot",["hello",42],{"k":"v"}]`)
			if n := testing.AllocsPerRun(1000, func() { b.Publish(pub, m) }); n > 1 {
				t.Errorf("publish to 100 subscribers: %v allocations, want 1 (the shared frame)", n)
			}
		})
	}
}

// TestForwardAllocs: a publication that other nodes want costs no more
// allocations than one they do not: what forward hands the Remote is
// pooled.
func TestForwardAllocs(t *testing.T) {
	b := New(Config{Remote: nopRemote{}})
	for i := range 10 {
		b.Subscribe(&fakepeer.Peer{ID: wamp.ID(10 + i), Ser: wamp.JSON, Discard: true}, fakepeer.Decode(t, `[32,1,{},"com.example.hot"]`))
	}
	for node := range uint64(3) {
		b.Subscribe(&ghostPeer{id: wamp.ID(1<<62 + node), node: node + 2}, fakepeer.Decode(t, `[32,1,{},"com.example.hot"]`))
	}
	pub := &fakepeer.Peer{ID: 1, Ser: wamp.JSON, Discard: true}
	m := fakepeer.Decode(t, `[16,1,{},"com.example.hot",["hello",42]]`)
	if n := testing.AllocsPerRun(1000, func() { b.Publish(pub, m) }); n > 1 {
		t.Errorf("publish forwarded to 3 nodes: %v allocations, want 1 (the shared frame)", n)
	}
}

// TestPublishTrustAllocs: a trust level costs a plain publication nothing
// more: its EVENT details are a shared dict.
func TestPublishTrustAllocs(t *testing.T) {
	b := New(Config{})
	for i := range 10 {
		b.Subscribe(&fakepeer.Peer{ID: wamp.ID(10 + i), Ser: wamp.JSON, Discard: true}, fakepeer.Decode(t, `[32,1,{},"com.example.hot"]`))
	}
	pub := &fakepeer.Peer{ID: 1, Ser: wamp.JSON, Discard: true}
	m := fakepeer.Decode(t, `[16,1,{},"com.example.hot",["hello",42]]`)
	if n := testing.AllocsPerRun(1000, func() { _ = b.PublishTrust(pub, m, wamp.Trust(2)) }); n > 1 {
		t.Errorf("publish with a trust level: %v allocations, want 1 (the shared frame)", n)
	}
}

// TestPublishAllocsFlat: the allocations of one PUBLISH do not grow with
// its fan-out. Each serializer's EVENT frame is encoded once and shared,
// so 1000 subscribers cost what one subscriber of each serializer costs;
// a count that grows with n means something is built per subscriber.
// What one frame costs is TestPublishAllocs's to guard.
func TestPublishAllocsFlat(t *testing.T) {
	for _, sers := range [][]wamp.Serialization{{wamp.JSON}, wamp.Serializations} {
		counts := make(map[int]float64)
		for _, n := range []int{len(sers), 10 * len(sers), 1000 * len(sers)} {
			b := New(Config{})
			for i := range n {
				p := &fakepeer.Peer{ID: wamp.ID(10 + i), Ser: sers[i%len(sers)], Discard: true}
				b.Subscribe(p, fakepeer.Decode(t, `[32,1,{},"com.example.hot"]`))
			}
			pub := &fakepeer.Peer{ID: 1, Ser: wamp.JSON, Discard: true}
			m := fakepeer.Decode(t, `[16,1,{},"com.example.hot",["hello",42],{"k":"v"}]`)
			counts[n] = testing.AllocsPerRun(100, func() { b.Publish(pub, m) })
		}
		first := counts[len(sers)]
		for n, c := range counts {
			if c != first {
				t.Errorf("serializers %v: %v allocations per PUBLISH to %d subscribers, %v to %d: want the same", sers, c, n, first, len(sers))
			}
		}
		t.Logf("serializers %v: %v allocations per PUBLISH", sers, first)
	}
}
