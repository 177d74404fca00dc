package broker

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/switchboard/switchboard/internal/fakepeer"
	"github.com/switchboard/switchboard/wamp"
	"github.com/switchboard/switchboard/wamp/codec"
)

func subscribe(t *testing.T, b *Broker, p *fakepeer.Peer, req int, topic string) wamp.ID {
	t.Helper()
	b.Subscribe(p, fakepeer.Decode(t, fmt.Sprintf(`[32,%d,{},%q]`, req, topic)))
	m := p.Last()
	if m == nil || m.Type != wamp.SUBSCRIBED || m.Request != wamp.ID(req) {
		t.Fatalf("subscribe %s: got %v, want SUBSCRIBED for request %d", topic, m, req)
	}
	return m.ID
}

func TestSubscriptionIDShared(t *testing.T) {
	b := New(Config{})
	p1, p2 := fakepeer.New(1), fakepeer.New(2)
	id1 := subscribe(t, b, p1, 1, "com.example.a")
	id2 := subscribe(t, b, p2, 1, "com.example.a")
	again := subscribe(t, b, p1, 2, "com.example.a")
	other := subscribe(t, b, p1, 3, "com.example.b")
	if id1 != id2 || id1 != again {
		t.Errorf("subscribers of one topic got ids %d, %d, %d; want one id", id1, id2, again)
	}
	if other == id1 {
		t.Errorf("two topics share subscription id %d", other)
	}
	if n := b.SubscriptionCount(); n != 2 {
		t.Errorf("SubscriptionCount = %d, want 2", n)
	}
}

func TestPublishDeliversAndExcludesPublisher(t *testing.T) {
	b := New(Config{})
	pub, sub := fakepeer.New(1), fakepeer.New(2)
	subID := subscribe(t, b, sub, 1, "com.example.t")
	subscribe(t, b, pub, 1, "com.example.t")

	b.Publish(pub, fakepeer.Decode(t, `[16,7,{},"com.example.t",[1,"two"],{"k":true}]`))
	if got := pub.Messages(); len(got) != 0 {
		t.Errorf("publisher got %v with exclude_me defaulting to true", got)
	}
	ev := sub.Last()
	if ev == nil || ev.Type != wamp.EVENT || ev.ID != subID {
		t.Fatalf("subscriber got %v, want EVENT for subscription %d", ev, subID)
	}
	if ev.Publication < 1 || ev.Publication > wamp.MaxID {
		t.Errorf("publication id %d out of [1, 2^53]", ev.Publication)
	}
	if string(ev.Args.Raw) != `[1,"two"]` || string(ev.Kwargs.Raw) != `{"k":true}` {
		t.Errorf("payload = %s %s, want it passed through verbatim", ev.Args.Raw, ev.Kwargs.Raw)
	}

	b.Publish(pub, fakepeer.Decode(t, `[16,8,{"exclude_me":false,"acknowledge":true},"com.example.t",[]]`))
	msgs := pub.Messages()
	if len(msgs) != 2 || msgs[0].Type != wamp.EVENT || msgs[1].Type != wamp.PUBLISHED {
		t.Fatalf("publisher with exclude_me=false, acknowledge=true got %v, want EVENT then PUBLISHED", msgs)
	}
	if msgs[1].Request != 8 || msgs[1].ID != msgs[0].Publication {
		t.Errorf("PUBLISHED %v does not match the event's publication %d", msgs[1], msgs[0].Publication)
	}
}

func TestPublishNoAckWithoutOption(t *testing.T) {
	b := New(Config{})
	pub := fakepeer.New(1)
	b.Publish(pub, fakepeer.Decode(t, `[16,1,{},"com.example.none"]`))
	if got := pub.Messages(); len(got) != 0 {
		t.Errorf("publisher got %v without acknowledge", got)
	}
	b.Publish(pub, fakepeer.Decode(t, `[16,2,{"acknowledge":true},"com.example.none"]`))
	if m := pub.Last(); m == nil || m.Type != wamp.PUBLISHED || m.Request != 2 {
		t.Errorf("got %v, want PUBLISHED for request 2 even with no subscriber", m)
	}
}

func TestCrossSerializerEvent(t *testing.T) {
	b := New(Config{})
	pub := fakepeer.New(1)
	subs := map[wamp.Serialization]*fakepeer.Peer{}
	for i, ser := range wamp.Serializations {
		p := &fakepeer.Peer{ID: wamp.ID(10 + i), Ser: ser}
		subs[ser] = p
		subscribe(t, b, p, 1, "com.example.x")
	}
	b.Publish(pub, fakepeer.Decode(t, `[16,1,{},"com.example.x",[9007199254740992,"\u0000AAEC",-1.5],{"big":18446744073709551615}]`))
	wantArgs := []any{int64(1 << 53), []byte{0, 1, 2}, -1.5}
	wantKw := map[string]any{"big": uint64(1<<64 - 1)}
	for ser, p := range subs {
		ev := p.Last()
		if ev == nil || ev.Type != wamp.EVENT {
			t.Fatalf("%v subscriber got %v", ser, ev)
		}
		args, err := codec.For(ser).DecodeValue(ev.Args.Raw)
		if err != nil {
			t.Fatalf("%v args: %v", ser, err)
		}
		kw, err := codec.For(ser).DecodeValue(ev.Kwargs.Raw)
		if err != nil {
			t.Fatalf("%v kwargs: %v", ser, err)
		}
		if !reflect.DeepEqual(args, wantArgs) || !reflect.DeepEqual(kw, wantKw) {
			t.Errorf("%v subscriber got args %#v kwargs %#v, want %#v %#v", ser, args, kw, wantArgs, wantKw)
		}
	}
}

// framePeer keeps the frames themselves, to check that subscribers of one
// serializer share one encoding.
type framePeer struct {
	*fakepeer.Peer
	frames [][]byte
}

func (p *framePeer) SendEvent(f []byte) { p.frames = append(p.frames, f) }

func TestEventFrameSharedPerSerializer(t *testing.T) {
	b := New(Config{})
	a := &framePeer{Peer: fakepeer.New(1)}
	c := &framePeer{Peer: fakepeer.New(2)}
	for _, p := range []*framePeer{a, c} {
		b.Subscribe(p, fakepeer.Decode(t, `[32,1,{},"com.example.s"]`))
	}
	b.Publish(fakepeer.New(3), fakepeer.Decode(t, `[16,1,{},"com.example.s",["x"]]`))
	if len(a.frames) != 1 || len(c.frames) != 1 {
		t.Fatalf("frames: %d and %d, want 1 each", len(a.frames), len(c.frames))
	}
	if &a.frames[0][0] != &c.frames[0][0] {
		t.Error("two JSON subscribers got separately encoded frames; want one shared frame")
	}
}

func TestUnsubscribe(t *testing.T) {
	b := New(Config{})
	p, other := fakepeer.New(1), fakepeer.New(2)
	id := subscribe(t, b, p, 1, "com.example.u")

	b.Unsubscribe(other, fakepeer.Decode(t, fmt.Sprintf(`[34,5,%d]`, id)))
	if m := other.Last(); m == nil || m.Type != wamp.ERROR || m.URI != wamp.ErrNoSuchSubscription || m.ErrType != wamp.UNSUBSCRIBE || m.Request != 5 {
		t.Errorf("unsubscribe of another session's subscription: got %v, want ERROR no_such_subscription", m)
	}
	b.Unsubscribe(p, fakepeer.Decode(t, fmt.Sprintf(`[34,2,%d]`, id)))
	if m := p.Last(); m == nil || m.Type != wamp.UNSUBSCRIBED || m.Request != 2 {
		t.Fatalf("got %v, want UNSUBSCRIBED", m)
	}
	b.Publish(other, fakepeer.Decode(t, `[16,1,{},"com.example.u"]`))
	if got := p.Messages(); len(got) != 0 {
		t.Errorf("got %v after unsubscribing", got)
	}
	b.Unsubscribe(p, fakepeer.Decode(t, fmt.Sprintf(`[34,3,%d]`, id)))
	if m := p.Last(); m == nil || m.URI != wamp.ErrNoSuchSubscription {
		t.Errorf("second unsubscribe: got %v, want no_such_subscription", m)
	}
	if n := b.SubscriptionCount(); n != 0 {
		t.Errorf("SubscriptionCount = %d after the last subscriber left, want 0", n)
	}
}

func TestInvalidTopics(t *testing.T) {
	cases := []struct {
		strict bool
		frame  string
		uri    wamp.URI
	}{
		{false, `[32,1,{},"com..x"]`, wamp.ErrInvalidURI},
		{false, `[32,1,{},"com.a b"]`, wamp.ErrInvalidURI},
		{true, `[32,1,{},"com.Example"]`, wamp.ErrInvalidURI},
		{false, `[32,1,{"match":"fuzzy"},"com.x"]`, wamp.ErrInvalidArgument},
		{false, `[32,1,{"match":1},"com.x"]`, wamp.ErrInvalidArgument},
		{false, `[16,1,{"acknowledge":"yes"},"com.x"]`, wamp.ErrInvalidArgument},
		{false, `[16,1,{"exclude_me":0},"com.x"]`, wamp.ErrInvalidArgument},
		{false, `[16,1,{},"com..x"]`, wamp.ErrInvalidURI},
		{false, `[16,1,{},"wamp.session.on_join"]`, wamp.ErrInvalidURI},
		{true, `[16,1,{},"com.Example"]`, wamp.ErrInvalidURI},
	}
	for _, c := range cases {
		b := New(Config{StrictURIs: c.strict})
		p := fakepeer.New(1)
		m := fakepeer.Decode(t, c.frame)
		if m.Type == wamp.SUBSCRIBE {
			b.Subscribe(p, m)
		} else {
			b.Publish(p, m)
		}
		got := p.Last()
		if got == nil || got.Type != wamp.ERROR || got.URI != c.uri || got.ErrType != m.Type {
			t.Errorf("%s (strict=%v): got %v, want ERROR %s", c.frame, c.strict, got, c.uri)
		}
	}
}

func TestRemoveSession(t *testing.T) {
	b := New(Config{})
	p, q := fakepeer.New(1), fakepeer.New(2)
	subscribe(t, b, p, 1, "com.a")
	subscribe(t, b, p, 2, "com.b")
	subscribe(t, b, q, 1, "com.b")
	b.RemoveSession(1)
	if n := b.SubscriptionCount(); n != 1 {
		t.Errorf("SubscriptionCount = %d, want 1 (com.b still has a subscriber)", n)
	}
	b.Publish(q, fakepeer.Decode(t, `[16,1,{"exclude_me":false},"com.b"]`))
	if p.Count() != 2 {
		t.Errorf("removed session received %d frames, want only its 2 SUBSCRIBED", p.Count())
	}
	if m := q.Last(); m == nil || m.Type != wamp.EVENT {
		t.Errorf("remaining subscriber got %v, want EVENT", m)
	}
}

// BenchmarkPublish measures one PUBLISH fanned out to n local JSON
// subscribers: ns/op and allocs/op are per publication.
func BenchmarkPublish(b *testing.B) {
	for _, n := range []int{1, 100, 1000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			br := New(Config{})
			for i := 0; i < n; i++ {
				p := &fakepeer.Peer{ID: wamp.ID(i + 2), Ser: wamp.JSON, Discard: true}
				br.Subscribe(p, fakepeer.Decode(b, `[32,1,{},"com.example.bench"]`))
			}
			pub := &fakepeer.Peer{ID: 1, Ser: wamp.JSON, Discard: true}
			frame := []byte(`[16,1,{},"com.example.bench",["hello",42],{"k":"v"}]`)
			var m wamp.Message
			c := codec.For(wamp.JSON)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := c.Decode(frame, &m); err != nil {
					b.Fatal(err)
				}
				br.Publish(pub, &m)
			}
		})
	}
}

// HasSubscribers sees exact, prefix and wildcard subscriptions, and their
// removal.
func TestHasSubscribers(t *testing.T) {
	b := New(Config{})
	p := fakepeer.New(1)
	if b.HasSubscribers("wamp.session.on_join") {
		t.Fatal("empty broker has subscribers")
	}
	b.Subscribe(p, fakepeer.Decode(t, `[32,1,{"match":"prefix"},"wamp.session."]`))
	b.Subscribe(p, fakepeer.Decode(t, `[32,2,{"match":"wildcard"},"com..created"]`))
	b.Subscribe(p, fakepeer.Decode(t, `[32,3,{},"com.example.exact"]`))
	for topic, want := range map[wamp.URI]bool{
		"wamp.session.on_join":        true,
		"wamp.subscription.on_create": false,
		"com.users.created":           true,
		"com.users.deleted":           false,
		"com.example.exact":           true,
		"com.example.exactly":         false,
	} {
		if got := b.HasSubscribers(topic); got != want {
			t.Errorf("%s: %v, want %v", topic, got, want)
		}
	}
	b.RemoveSession(1)
	if b.HasSubscribers("wamp.session.on_join") || b.HasSubscribers("com.example.exact") {
		t.Error("subscribers left after their session")
	}
}
