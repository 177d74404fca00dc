package broker

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/switchboard/switchboard/internal/fakepeer"
	"github.com/switchboard/switchboard/wamp"
)

// TestSubscriberIndex: after any mix of SUBSCRIBE, UNSUBSCRIBE and
// departures, each subscription's index by session id points at that
// session in the slice the fan-out walks, and a publication reaches
// exactly the sessions still subscribed, once each.
func TestSubscriberIndex(t *testing.T) {
	const topics, sessions = 3, 40
	b := New(Config{})
	peers := make([]*fakepeer.Peer, sessions)
	for i := range peers {
		peers[i] = &fakepeer.Peer{ID: wamp.ID(i + 1), Ser: wamp.JSON}
	}
	want := make([]map[wamp.ID]bool, topics) // topic -> subscribed sessions
	for i := range want {
		want[i] = map[wamp.ID]bool{}
	}
	topic := func(i int) wamp.URI { return wamp.URI(fmt.Sprintf("com.example.t%d", i)) }
	rng := rand.New(rand.NewPCG(1, 2))
	for step := range 2000 {
		p, ti := peers[rng.IntN(sessions)], rng.IntN(topics)
		switch op := rng.IntN(10); {
		case op < 6:
			b.Subscribe(p, &wamp.Message{Type: wamp.SUBSCRIBE, Request: 1, URI: topic(ti)})
			want[ti][p.ID] = true
		case op < 9:
			sub := b.idx.exact[topic(ti)]
			if sub == nil {
				continue
			}
			b.Unsubscribe(p, &wamp.Message{Type: wamp.UNSUBSCRIBE, Request: 2, ID: sub.id})
			delete(want[ti], p.ID)
		default:
			b.RemoveSession(p.ID)
			for _, w := range want {
				delete(w, p.ID)
			}
		}
		for i := range topics {
			sub := b.idx.exact[topic(i)]
			if sub == nil {
				if len(want[i]) > 0 {
					t.Fatalf("step %d: %s gone with %d subscribers", step, topic(i), len(want[i]))
				}
				continue
			}
			if len(sub.subs) != len(want[i]) || len(sub.pos) != len(sub.subs) {
				t.Fatalf("step %d: %s has %d subscribers, %d indexed, want %d", step, topic(i), len(sub.subs), len(sub.pos), len(want[i]))
			}
			for j, p := range sub.subs {
				if !want[i][p.SessionID()] || sub.pos[p.SessionID()] != j {
					t.Fatalf("step %d: %s: session %d at %d, indexed at %d", step, topic(i), p.SessionID(), j, sub.pos[p.SessionID()])
				}
			}
		}
	}
	pub := &fakepeer.Peer{ID: sessions + 1, Ser: wamp.JSON}
	for i := range topics {
		b.Publish(pub, &wamp.Message{Type: wamp.PUBLISH, Request: 3, URI: topic(i)})
	}
	for _, p := range peers {
		n := 0
		for _, w := range want {
			if w[p.ID] {
				n++
			}
		}
		got := 0
		for _, m := range p.Messages() {
			if m.Type == wamp.EVENT {
				got++
			}
		}
		if got != n {
			t.Errorf("session %d got %d events, want %d", p.ID, got, n)
		}
	}
}

// BenchmarkUnsubscribe measures n sessions leaving one busy topic one
// after another, as when a crowd of browser tabs closes: ns/op is for all
// n, ns/unsubscribe for one. Membership and removal are constant time, so
// ns/unsubscribe stays flat as n grows; with a scan of the subscriber
// slice it grew with n, and the whole crowd cost n².
func BenchmarkUnsubscribe(b *testing.B) {
	for _, n := range []int{100, 1000, 10000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			br := New(Config{})
			peers := make([]*fakepeer.Peer, n)
			for i := range peers {
				peers[i] = &fakepeer.Peer{ID: wamp.ID(i + 1), Ser: wamp.JSON, Discard: true}
			}
			sub := fakepeer.Decode(b, `[32,1,{},"com.example.busy"]`)
			unsub := &wamp.Message{Type: wamp.UNSUBSCRIBE, Request: 2}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				for _, p := range peers {
					br.Subscribe(p, sub)
				}
				unsub.ID = br.idx.exact["com.example.busy"].id
				b.StartTimer()
				for _, p := range peers {
					br.Unsubscribe(p, unsub)
				}
			}
			b.StopTimer()
			if br.SubscriptionCount() != 0 {
				b.Fatalf("%d subscriptions left", br.SubscriptionCount())
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/unsubscribe")
		})
	}
}
