package broker

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/switchboard/switchboard/internal/fakepeer"
	"github.com/switchboard/switchboard/wamp"
)

// ghostPeer is a subscriber on another node, as the cluster's ghost is.
type ghostPeer struct {
	id   wamp.ID
	node uint64

	mu     sync.Mutex
	events int // SendEvent calls: must stay 0
}

func (g *ghostPeer) SessionID() wamp.ID                { return g.id }
func (g *ghostPeer) Serialization() wamp.Serialization { return 0 }
func (g *ghostPeer) Send(*wamp.Message) error          { return nil }
func (g *ghostPeer) Auth() (string, string)            { return "", "" }
func (g *ghostPeer) Node() uint64                      { return g.node }
func (g *ghostPeer) SendEvent([]byte) {
	g.mu.Lock()
	g.events++
	g.mu.Unlock()
}

var _ RemotePeer = (*ghostPeer)(nil)

// forwardCall is one Remote.Forward call as fakeRemote saw it.
type forwardCall struct {
	nodes []uint64 // sorted
	all   bool
	pub   Publication
	// seen is what onForward returned during the call.
	seen int
}

// fakeRemote records Forward calls; onForward, when set, runs inside
// each call.
type fakeRemote struct {
	mu        sync.Mutex
	calls     []forwardCall
	onForward func(pub *Publication) int
}

func (r *fakeRemote) Forward(nodes []uint64, all bool, pub *Publication) {
	c := forwardCall{nodes: slices.Sorted(slices.Values(nodes)), all: all, pub: *pub}
	c.pub.Args, c.pub.Kwargs = pub.Args.Clone(), pub.Kwargs.Clone()
	if r.onForward != nil {
		c.seen = r.onForward(pub)
	}
	r.mu.Lock()
	r.calls = append(r.calls, c)
	r.mu.Unlock()
}

// take returns the calls so far and forgets them.
func (r *fakeRemote) take() []forwardCall {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.calls
	r.calls = nil
	return c
}

// TestForwardBeforeLocalDelivery: the other nodes get the publication
// before any local subscriber its event, from Forward called without the
// broker's lock, once per node with interest, exact and pattern
// subscriptions alike.
func TestForwardBeforeLocalDelivery(t *testing.T) {
	forCacheModes(t, Config{}, func(t *testing.T, b *Broker) {
		r := &fakeRemote{}
		b.cfg.Remote = r
		var local []*fakepeer.Peer
		for i := range 50 {
			p := &fakepeer.Peer{ID: wamp.ID(100 + i), Ser: wamp.Serializations[i%3]}
			opts := []string{`{}`, `{"match":"prefix"}`, `{"match":"wildcard"}`}[i%3]
			topic := []string{"com.t.a", "com.t", "com..a"}[i%3]
			subscribeOpts(t, b, p, 1, opts, topic)
			local = append(local, p)
		}
		ghosts := []*ghostPeer{{id: 200, node: 7}, {id: 201, node: 7}, {id: 202, node: 9}}
		b.SubscribeRemote(ghosts[0], "com.t.a", wamp.MatchExact)
		b.SubscribeRemote(ghosts[1], "com.t", wamp.MatchPrefix)
		b.SubscribeRemote(ghosts[2], "com..a", wamp.MatchWildcard)
		b.SubscribeRemote(ghosts[2], "com.other", wamp.MatchExact)
		r.onForward = func(pub *Publication) int {
			if !b.mu.TryLock() {
				t.Error("Forward called with the broker's lock held")
			} else {
				b.mu.Unlock()
			}
			n := 0
			for _, p := range local {
				n += p.Count() - 1 // less its SUBSCRIBED
			}
			return n
		}

		pub := fakepeer.New(1)
		b.Publish(pub, fakepeer.Decode(t, `[16,1,{"acknowledge":true},"com.t.a",["x"],{"k":1}]`))
		calls := r.take()
		if len(calls) != 1 {
			t.Fatalf("%d Forward calls, want 1", len(calls))
		}
		c := calls[0]
		if c.seen != 0 {
			t.Errorf("local subscribers had %d events when Forward was called, want 0", c.seen)
		}
		if !slices.Equal(c.nodes, []uint64{7, 9}) || c.all {
			t.Errorf("Forward(%v, all=%v), want nodes [7 9] once each, all=false", c.nodes, c.all)
		}
		ack := pub.Last()
		if ack == nil || ack.Type != wamp.PUBLISHED || c.pub.ID != ack.ID || c.pub.Topic != "com.t.a" ||
			string(c.pub.Args.Raw) != `["x"]` || string(c.pub.Kwargs.Raw) != `{"k":1}` || c.pub.Publisher != 1 || !c.pub.ExcludeMe {
			t.Errorf("forwarded %+v, PUBLISHED %v", c.pub, ack)
		}
		for _, p := range local {
			if evs := events(t, p); len(evs) != 1 || evs[0].Publication != ack.ID {
				t.Errorf("local subscriber %d got %v after SUBSCRIBED, want one EVENT of publication %d", p.ID, evs, ack.ID)
			}
		}
		for _, g := range ghosts {
			if g.events != 0 {
				t.Errorf("ghost %d got %d events", g.id, g.events)
			}
		}

		// A topic only this node wants: no Forward at all; only the
		// subscribers of other nodes: Forward, and nothing local.
		subscribeOpts(t, b, local[0], 2, `{}`, "org.local")
		b.Publish(pub, fakepeer.Decode(t, `[16,2,{},"org.local"]`))
		if calls := r.take(); len(calls) != 0 {
			t.Errorf("publication without remote interest forwarded: %+v", calls)
		}
		if evs := events(t, local[0]); len(evs) != 1 {
			t.Errorf("local subscriber of org.local got %v", evs)
		}
		b.Publish(pub, fakepeer.Decode(t, `[16,3,{},"com.other"]`))
		if calls := r.take(); len(calls) != 1 || !slices.Equal(calls[0].nodes, []uint64{9}) {
			t.Errorf("publication to com.other: %+v, want one Forward to node 9", calls)
		}
		// Retained with no interest: to every node (all), nodes empty.
		b.Publish(pub, fakepeer.Decode(t, `[16,4,{"retain":true},"com.nobody"]`))
		if calls := r.take(); len(calls) != 1 || !calls[0].all || len(calls[0].nodes) != 0 || !calls[0].pub.Retain {
			t.Errorf("retained publication: %+v, want one Forward with all", calls)
		}
		// A publication from another node is not forwarded again.
		b.DeliverRemote(&Publication{Topic: "com.t.a", ID: 77, Publisher: 5, Retain: true})
		if calls := r.take(); len(calls) != 0 {
			t.Errorf("DeliverRemote forwarded: %+v", calls)
		}
	})
}

// TestForwardGap: a subscription made while Forward runs (the broker's
// lock released) is seen by the local fan-out, so a SUBSCRIBE with
// get_retained in that gap gets a retained event once, live.
func TestForwardGap(t *testing.T) {
	forCacheModes(t, Config{}, func(t *testing.T, b *Broker) {
		r := &fakeRemote{}
		b.cfg.Remote = r
		b.SubscribeRemote(&ghostPeer{id: 200, node: 7}, "com.gap", wamp.MatchPrefix)
		late := []*fakepeer.Peer{fakepeer.New(2), fakepeer.New(3), fakepeer.New(4)}
		r.onForward = func(*Publication) int {
			b.Subscribe(late[0], fakepeer.Decode(t, `[32,1,{"get_retained":true},"com.gap.x"]`))
			b.Subscribe(late[1], fakepeer.Decode(t, `[32,1,{"get_retained":true,"match":"wildcard"},"com..x"]`))
			b.Subscribe(late[2], fakepeer.Decode(t, `[32,1,{"get_retained":true,"match":"prefix"},"com.gap"]`))
			return 0
		}
		b.Publish(fakepeer.New(1), fakepeer.Decode(t, `[16,1,{"retain":true},"com.gap.x",[1]]`))
		if calls := r.take(); len(calls) != 1 || !calls[0].all {
			t.Fatalf("Forward calls %+v, want one with all", calls)
		}
		for _, p := range late {
			msgs := p.Messages()
			if len(msgs) != 2 || msgs[0].Type != wamp.SUBSCRIBED || msgs[1].Type != wamp.EVENT || msgs[1].Details["retained"] != nil {
				t.Errorf("subscriber %d in the gap got %v, want SUBSCRIBED then the live EVENT", p.ID, msgs)
			}
		}
	})
}

// TestRemoteInterestDropped: a node stops getting publications when its
// last subscriber on the matched subscriptions leaves, by whichever path.
func TestRemoteInterestDropped(t *testing.T) {
	forCacheModes(t, Config{History: []HistoryRule{{Topic: "com.kept", Limit: 4}}}, func(t *testing.T, b *Broker) {
		r := &fakeRemote{}
		b.cfg.Remote = r
		pub := fakepeer.New(1)
		local := fakepeer.New(2)
		subscribe(t, b, local, 1, "com.t")
		forwarded := func(topic string) []uint64 {
			t.Helper()
			b.Publish(pub, fakepeer.Decode(t, fmt.Sprintf(`[16,1,{},%q]`, topic)))
			calls := r.take()
			if len(calls) > 1 {
				t.Fatalf("%d Forward calls for one publication", len(calls))
			}
			if len(calls) == 0 {
				return nil
			}
			if len(calls[0].nodes) == 0 {
				t.Fatal("Forward called with no node for a publication not retained")
			}
			return calls[0].nodes
		}
		g1, g2, g3 := &ghostPeer{id: 11, node: 7}, &ghostPeer{id: 12, node: 7}, &ghostPeer{id: 13, node: 9}
		id1 := b.SubscribeRemote(g1, "com.t", wamp.MatchExact)
		b.SubscribeRemote(g2, "com.t", wamp.MatchExact)
		id3 := b.SubscribeRemote(g3, "com", wamp.MatchPrefix)
		if got := forwarded("com.t"); !slices.Equal(got, []uint64{7, 9}) {
			t.Fatalf("nodes %v, want [7 9]", got)
		}
		b.UnsubscribeRemote(g1.id, id1)
		b.UnsubscribeRemote(g1.id, id1) // not subscribed any more: no change
		if got := forwarded("com.t"); !slices.Equal(got, []uint64{7, 9}) {
			t.Errorf("after one of node 7's two subscribers left: nodes %v, want [7 9]", got)
		}
		b.RemoveSession(g2.id)
		if got := forwarded("com.t"); !slices.Equal(got, []uint64{9}) {
			t.Errorf("after node 7's last subscriber left: nodes %v, want [9]", got)
		}
		b.UnsubscribeRemote(g3.id, id3)
		if got := forwarded("com.t"); got != nil {
			t.Errorf("after every remote subscriber left: forwarded to %v", got)
		}
		// A local subscriber leaving touches no node count.
		b.SubscribeRemote(g1, "com.t", wamp.MatchExact)
		b.RemoveSession(local.ID)
		if got := forwarded("com.t"); !slices.Equal(got, []uint64{7}) {
			t.Errorf("after the local subscriber left: nodes %v, want [7]", got)
		}
		// A subscription with a history outlives its subscribers; its
		// node count must not.
		b.SubscribeRemote(g3, "com.kept", wamp.MatchExact)
		if got := forwarded("com.kept"); !slices.Equal(got, []uint64{9}) {
			t.Errorf("com.kept: nodes %v, want [9]", got)
		}
		b.RemoveSession(g3.id)
		if got := forwarded("com.kept"); got != nil {
			t.Errorf("com.kept after its only subscriber left: forwarded to %v", got)
		}
	})
}

// TestNodeCountsChurn: the per-subscription node counts always agree with
// the subscribers, through random subscribes and removals.
func TestNodeCountsChurn(t *testing.T) {
	b := New(Config{Remote: &fakeRemote{}})
	rng := rand.New(rand.NewPCG(1, 2))
	topics := []struct {
		uri   wamp.URI
		match string
	}{{"com.a", wamp.MatchExact}, {"com.b", wamp.MatchExact}, {"com", wamp.MatchPrefix}, {"com..x", wamp.MatchWildcard}}
	var peers []*ghostPeer
	for i := range 30 {
		peers = append(peers, &ghostPeer{id: wamp.ID(100 + i), node: uint64(1 + i%4)})
	}
	locals := []*fakepeer.Peer{{ID: 1, Ser: wamp.JSON, Discard: true}, {ID: 2, Ser: wamp.CBOR, Discard: true}}
	for range 3000 {
		g := peers[rng.IntN(len(peers))]
		tp := topics[rng.IntN(len(topics))]
		switch rng.IntN(5) {
		case 0, 1:
			b.SubscribeRemote(g, tp.uri, tp.match)
		case 2:
			if sub := b.idx.get(tp.uri, tp.match); sub != nil {
				b.UnsubscribeRemote(g.id, sub.id)
			}
		case 3:
			b.RemoveSession(g.id)
		case 4:
			p := locals[rng.IntN(2)]
			if rng.IntN(2) == 0 {
				b.Subscribe(p, fakepeer.Decode(t, fmt.Sprintf(`[32,1,{"match":%q},%q]`, tp.match, tp.uri)))
			} else {
				b.RemoveSession(p.ID)
			}
		}
		for id, sub := range b.byID {
			want := map[uint64]int{}
			for _, p := range sub.subs {
				if n, ok := remoteNode(p); ok {
					want[n]++
				}
			}
			got := map[uint64]int{}
			for _, c := range sub.nodes {
				if c.n <= 0 || got[c.node] != 0 {
					t.Fatalf("subscription %d: bad node counts %v", id, sub.nodes)
				}
				got[c.node] = c.n
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("subscription %d: node counts %v, subscribers say %v", id, got, want)
			}
		}
	}
}

// TestForwardRace publishes with remote interest while remote and local
// subscribers come and go; run with -race.
func TestForwardRace(t *testing.T) {
	r := &fakeRemote{}
	b := New(Config{Remote: r, MatchCache: 4})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			g := &ghostPeer{id: wamp.ID(200 + w), node: uint64(1 + w)}
			p := &fakepeer.Peer{ID: wamp.ID(100 + w), Ser: wamp.JSON, Discard: true}
			for i := range 300 {
				switch i % 5 {
				case 0:
					b.SubscribeRemote(g, wamp.URI(fmt.Sprintf("com.t%d", i%3)), wamp.MatchPrefix)
				case 1:
					b.Subscribe(p, fakepeer.Decode(t, fmt.Sprintf(`[32,1,{"get_retained":true},"com.t%d.x"]`, i%3)))
				case 2, 3:
					b.Publish(p, fakepeer.Decode(t, fmt.Sprintf(`[16,1,{"retain":%v},"com.t%d.x",[%d]]`, i%2 == 0, i%3, i)))
				case 4:
					b.RemoveSession(g.id)
					b.RemoveSession(p.ID)
				}
			}
		})
	}
	wg.Wait()
	for w := range 4 {
		if g := b.bySession[wamp.ID(200+w)]; len(g) > 0 {
			b.RemoveSession(wamp.ID(200 + w))
		}
	}
	for _, sub := range b.byID {
		for _, p := range sub.subs {
			if _, ok := remoteNode(p); ok {
				t.Fatalf("remote subscriber left on %s", sub.uri)
			}
		}
		if len(sub.nodes) != 0 {
			t.Errorf("%s: node counts %v with no remote subscriber", sub.uri, sub.nodes)
		}
	}
}

// TestStoreRetained: a stored retained event is delivered to nobody and
// forwarded nowhere, and a later get_retained gets it with its own
// publication id and payload, the publisher's disclosure and exclude_me,
// and the black/white-lists of its Options.
func TestStoreRetained(t *testing.T) {
	forCacheModes(t, Config{}, func(t *testing.T, b *Broker) {
		r := &fakeRemote{}
		b.cfg.Remote = r
		b.SubscribeRemote(&ghostPeer{id: 200, node: 7}, "com.s", wamp.MatchPrefix)
		live := fakepeer.New(2)
		subscribe(t, b, live, 1, "com.s.t")

		args := []byte(`["stored"]`)
		b.StoreRetained(&Publication{
			Topic: "com.s.t", ID: 4242, Args: wamp.Payload{Raw: args, Ser: wamp.JSON},
			Kwargs:  wamp.Payload{Raw: []byte(`{"k":"v"}`), Ser: wamp.JSON},
			Options: wamp.Dict{"eligible": []any{uint64(2), uint64(3), uint64(5)}, "exclude_authrole": []any{"guest"}},
			// Retain is what the store says; StoreRetained keeps pub either way.
			Publisher: 5, ExcludeMe: true, Disclose: true, AuthID: "alice", AuthRole: "admin",
		})
		copy(args, "XXXXXXXXXX") // the caller's buffer is reused
		if msgs := live.Messages(); len(msgs) != 0 {
			t.Errorf("StoreRetained delivered %v", msgs)
		}
		if calls := r.take(); len(calls) != 0 {
			t.Errorf("StoreRetained forwarded %+v", calls)
		}
		if n := b.RetainedCount(); n != 1 {
			t.Errorf("RetainedCount %d, want 1", n)
		}

		_, evs := subscribeRetained(t, b, fakepeer.New(3), `{"get_retained":true}`, "com.s.t")
		if len(evs) != 1 {
			t.Fatalf("eligible subscriber got %d retained events, want 1", len(evs))
		}
		ev := evs[0]
		if ev.Publication != 4242 || argString(t, ev) != "[stored]" || string(ev.Kwargs.Raw) != `{"k":"v"}` || ev.Details["retained"] != true {
			t.Errorf("retained EVENT %v %s %s: want publication 4242, [stored], {\"k\":\"v\"}, retained", ev.Details, ev.Args.Raw, ev.Kwargs.Raw)
		}
		if id, _ := wamp.AsID(ev.Details["publisher"]); id != 5 || ev.Details["publisher_authid"] != "alice" || ev.Details["publisher_authrole"] != "admin" {
			t.Errorf("retained EVENT details %v: want publisher 5 disclosed", ev.Details)
		}
		for _, c := range []struct {
			p    *fakepeer.Peer
			want int
			why  string
		}{
			{fakepeer.New(4), 0, "not eligible"},
			{&fakepeer.Peer{ID: 3, Ser: wamp.CBOR, AuthRole: "guest"}, 0, "excluded by authrole"},
			{fakepeer.New(5), 0, "the publisher, with exclude_me"},
			{&fakepeer.Peer{ID: 3, Ser: wamp.MsgPack, AuthRole: "user"}, 1, "eligible"},
		} {
			if _, evs := subscribeRetained(t, b, c.p, `{"get_retained":true,"match":"prefix"}`, "com.s"); len(evs) != c.want {
				t.Errorf("subscriber %d (%s): %d retained events, want %d", c.p.ID, c.why, len(evs), c.want)
			}
			b.RemoveSession(c.p.ID)
		}

		// A later publication replaces it; a later store replaces that.
		b.Publish(fakepeer.New(1), fakepeer.Decode(t, `[16,1,{"retain":true},"com.s.t",["published"]]`))
		r.take()
		if p, ok := b.RetainedEvent("com.s.t"); !ok || string(p.Args.Raw) != `["published"]` {
			t.Errorf("after a retained publication: %+v", p)
		}
		b.StoreRetained(&Publication{Topic: "com.s.t", ID: 7, Args: wamp.List("again")})
		if _, evs := subscribeRetained(t, b, fakepeer.New(9), `{"get_retained":true}`, "com.s.t"); len(evs) != 1 || evs[0].Publication != 7 || argString(t, evs[0]) != "[again]" {
			t.Errorf("after a second store: %v", evs)
		}
		// Bad options: nothing stored.
		b.StoreRetained(&Publication{Topic: "com.s.bad", ID: 8, Options: wamp.Dict{"eligible": "x"}})
		if _, ok := b.RetainedEvent("com.s.bad"); ok {
			t.Error("an event with bad options was stored")
		}
	})
}

// TestRetainedEventRoundTrip: RetainedEvent gives back what was stored
// (by StoreRetained or a retained PUBLISH), and StoreRetained of it on
// another broker behaves the same.
func TestRetainedEventRoundTrip(t *testing.T) {
	b := New(Config{Disclose: DiscloseAlways})
	if _, ok := b.RetainedEvent("com.none"); ok {
		t.Error("RetainedEvent of a topic without one")
	}
	pub := &fakepeer.Peer{ID: 1, Ser: wamp.JSON, AuthID: "alice", AuthRole: "admin"}
	b.Publish(pub, fakepeer.Decode(t, `[16,1,{"retain":true,"acknowledge":true,"exclude":[4],"eligible_authid":["bob","carol"]},"com.rt",[1,2],{"a":true}]`))
	ack := pub.Last()
	got, ok := b.RetainedEvent("com.rt")
	if !ok {
		t.Fatal("no retained event after a retained PUBLISH")
	}
	want := Publication{
		Topic: "com.rt", ID: ack.ID, Retain: true,
		Options:   wamp.Dict{"exclude": []any{uint64(4)}, "eligible_authid": []any{"bob", "carol"}},
		Publisher: 1, ExcludeMe: true, Disclose: true, AuthID: "alice", AuthRole: "admin",
	}
	if string(got.Args.Raw) != `[1,2]` || string(got.Kwargs.Raw) != `{"a":true}` {
		t.Errorf("payload %s %s", got.Args.Raw, got.Kwargs.Raw)
	}
	got.Args, got.Kwargs = wamp.Payload{}, wamp.Payload{}
	if fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", want) {
		t.Errorf("RetainedEvent\n got %+v\nwant %+v", got, want)
	}
	// The payload is a copy.
	again, _ := b.RetainedEvent("com.rt")
	again.Args.Raw[0] = 'X'
	if p, _ := b.RetainedEvent("com.rt"); string(p.Args.Raw) != `[1,2]` {
		t.Errorf("changing RetainedEvent's payload changed the stored one: %s", p.Args.Raw)
	}

	// Without lists, Options is nil.
	b.Publish(pub, fakepeer.Decode(t, `[16,2,{"retain":true},"com.plain",[]]`))
	if p, _ := b.RetainedEvent("com.plain"); p.Options != nil {
		t.Errorf("Options %v without lists, want nil", p.Options)
	}

	// Stored on another broker, the event reaches the same subscribers.
	b2 := New(Config{})
	p, _ := b.RetainedEvent("com.rt")
	b2.StoreRetained(&p)
	for _, c := range []struct {
		sub  *fakepeer.Peer
		want int
	}{
		{&fakepeer.Peer{ID: 3, Ser: wamp.JSON, AuthID: "bob"}, 1},
		{&fakepeer.Peer{ID: 4, Ser: wamp.JSON, AuthID: "bob"}, 0},   // exclude
		{&fakepeer.Peer{ID: 5, Ser: wamp.JSON, AuthID: "eve"}, 0},   // eligible_authid
		{&fakepeer.Peer{ID: 1, Ser: wamp.JSON, AuthID: "carol"}, 0}, // exclude_me
	} {
		_, evs := subscribeRetained(t, b2, c.sub, `{"get_retained":true}`, "com.rt")
		if len(evs) != c.want {
			t.Errorf("subscriber %d (%s): %d retained events, want %d", c.sub.ID, c.sub.AuthID, len(evs), c.want)
			continue
		}
		if c.want == 1 && (evs[0].Publication != ack.ID || evs[0].Details["publisher_authid"] != "alice") {
			t.Errorf("retained event on the other broker: %v %v", evs[0], evs[0].Details)
		}
		b2.RemoveSession(c.sub.ID)
	}
}

// nopRemote forwards nowhere (benchmarks).
type nopRemote struct{}

func (nopRemote) Forward([]uint64, bool, *Publication) {}

// BenchmarkPublishRemote measures one PUBLISH on a cluster node: n local
// JSON subscribers and 3 subscribers on each of 3 other nodes on the
// topic. ns/op and allocs/op are per publication, the Forward itself
// excluded.
func BenchmarkPublishRemote(b *testing.B) {
	for _, n := range []int{1, 100, 1000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			br := New(Config{Remote: nopRemote{}})
			for i := range n {
				p := &fakepeer.Peer{ID: wamp.ID(i + 2), Ser: wamp.JSON, Discard: true}
				br.Subscribe(p, fakepeer.Decode(b, `[32,1,{},"com.example.bench"]`))
			}
			for i := range 9 {
				br.SubscribeRemote(&ghostPeer{id: wamp.ID(100_000 + i), node: uint64(1 + i%3)}, "com.example.bench", wamp.MatchExact)
			}
			pub := &fakepeer.Peer{ID: 1, Ser: wamp.JSON, Discard: true}
			m := fakepeer.Decode(b, `[16,1,{},"com.example.bench",["hello",42],{"k":"v"}]`)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				br.Publish(pub, m)
			}
		})
	}
}
