package broker

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/switchboard/switchboard/internal/fakepeer"
	"github.com/switchboard/switchboard/wamp"
	"github.com/switchboard/switchboard/wamp/codec"
)

// subscribeRetained subscribes with get_retained and returns the id and
// the EVENTs that followed SUBSCRIBED, checking that SUBSCRIBED came first.
func subscribeRetained(t *testing.T, b *Broker, p *fakepeer.Peer, opts, topic string) (wamp.ID, []*wamp.Message) {
	t.Helper()
	b.Subscribe(p, fakepeer.Decode(t, fmt.Sprintf(`[32,7,%s,%q]`, opts, topic)))
	msgs := p.Messages()
	if len(msgs) == 0 || msgs[0].Type != wamp.SUBSCRIBED || msgs[0].Request != 7 {
		t.Fatalf("subscribe %s %s: got %v, want SUBSCRIBED first", opts, topic, msgs)
	}
	for _, m := range msgs[1:] {
		if m.Type != wamp.EVENT || m.ID != msgs[0].ID {
			t.Fatalf("after SUBSCRIBED got %v, want EVENTs of subscription %d", m, msgs[0].ID)
		}
	}
	return msgs[0].ID, msgs[1:]
}

func argString(t *testing.T, ev *wamp.Message) string {
	t.Helper()
	v, err := codec.For(ev.Args.Ser).DecodeValue(ev.Args.Raw)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprint(v)
}

func TestRetainedEvent(t *testing.T) {
	forCacheModes(t, Config{}, func(t *testing.T, b *Broker) {
		pub := fakepeer.New(1)
		// Not retained: nothing to get later.
		b.Publish(pub, fakepeer.Decode(t, `[16,1,{},"com.r.a",["plain"]]`))
		b.Publish(pub, fakepeer.Decode(t, `[16,2,{"retain":false},"com.r.a",["not"]]`))
		if _, evs := subscribeRetained(t, b, fakepeer.New(2), `{"get_retained":true}`, "com.r.a"); len(evs) != 0 {
			t.Fatalf("got %v without a retained publication", evs)
		}

		b.Publish(pub, fakepeer.Decode(t, `[16,3,{"retain":true},"com.r.a",["first"]]`))
		b.Publish(pub, fakepeer.Decode(t, `[16,4,{"retain":true,"acknowledge":true},"com.r.a",["second"],{"k":1}]`))
		ack := pub.Last()
		if ack == nil || ack.Type != wamp.PUBLISHED {
			t.Fatalf("retained publish with acknowledge: got %v", ack)
		}
		b.Publish(pub, fakepeer.Decode(t, `[16,5,{},"com.r.a",["live, not retained"]]`))
		b.Publish(pub, fakepeer.Decode(t, `[16,6,{"retain":true},"com.r.b",["b"]]`))

		// Without get_retained: nothing.
		if _, evs := subscribeRetained(t, b, fakepeer.New(3), `{}`, "com.r.a"); len(evs) != 0 {
			t.Errorf("got %v without get_retained", evs)
		}
		// Exact: the most recent retained event, marked retained.
		p := &fakepeer.Peer{ID: 4, Ser: wamp.MsgPack}
		id, evs := subscribeRetained(t, b, p, `{"get_retained":true}`, "com.r.a")
		if len(evs) != 1 {
			t.Fatalf("get_retained: got %d events, want 1", len(evs))
		}
		ev := evs[0]
		if ev.ID != id || ev.Publication != ack.ID || ev.Details["retained"] != true || ev.Details["topic"] != nil {
			t.Errorf("retained EVENT %v details %v: want subscription %d, publication %d, retained true, no topic", ev, ev.Details, id, ack.ID)
		}
		if got := argString(t, ev); got != "[second]" {
			t.Errorf("retained args %s, want [second]", got)
		}
		// Live events after it carry no retained flag.
		b.Publish(pub, fakepeer.Decode(t, `[16,7,{},"com.r.a",["live"]]`))
		if evs := events(t, p); len(evs) != 1 || evs[0].Details["retained"] != nil {
			t.Errorf("live event after retained: %v", evs)
		}

		// A pattern gets every matching topic's event, with its topic.
		q := fakepeer.New(5)
		_, evs = subscribeRetained(t, b, q, `{"match":"prefix","get_retained":true}`, "com.r.")
		var topics []string
		for _, ev := range evs {
			if ev.Details["retained"] != true {
				t.Errorf("pattern retained event details %v", ev.Details)
			}
			topics = append(topics, ev.Details["topic"].(string))
		}
		if !slices.Equal(topics, []string{"com.r.a", "com.r.b"}) {
			t.Errorf("prefix get_retained topics %v, want [com.r.a com.r.b]", topics)
		}
		_, evs = subscribeRetained(t, b, fakepeer.New(6), `{"match":"wildcard","get_retained":true}`, "com..b")
		if len(evs) != 1 || evs[0].Details["topic"] != "com.r.b" {
			t.Errorf("wildcard get_retained: %v", evs)
		}
		// Subscribing again (same subscription) with get_retained sends it again.
		if _, evs := subscribeRetained(t, b, q, `{"match":"prefix","get_retained":true}`, "com.r."); len(evs) != 2 {
			t.Errorf("second get_retained on the same subscription: %d events, want 2", len(evs))
		}
	})
}

// TestRetainedEligibility: a retained event goes only to whom it would
// have gone when it was published.
func TestRetainedEligibility(t *testing.T) {
	cases := []struct {
		opts string
		sub  *fakepeer.Peer
		want bool
	}{
		{`{"retain":true}`, fakepeer.New(1), false}, // exclude_me: the publisher itself
		{`{"retain":true,"exclude_me":false}`, fakepeer.New(1), true},
		{`{"retain":true,"eligible":[2]}`, fakepeer.New(2), true},
		{`{"retain":true,"eligible":[2]}`, fakepeer.New(3), false},
		{`{"retain":true,"exclude":[3]}`, fakepeer.New(3), false},
		{`{"retain":true,"eligible_authrole":["admin"]}`, &fakepeer.Peer{ID: 4, Ser: wamp.JSON, AuthRole: "admin"}, true},
		{`{"retain":true,"eligible_authrole":["admin"]}`, &fakepeer.Peer{ID: 4, Ser: wamp.JSON, AuthRole: "user"}, false},
		{`{"retain":true,"exclude_authid":["eve"]}`, &fakepeer.Peer{ID: 5, Ser: wamp.JSON, AuthID: "eve"}, false},
	}
	for _, c := range cases {
		b := New(Config{})
		b.Publish(fakepeer.New(1), fakepeer.Decode(t, fmt.Sprintf(`[16,1,%s,"com.r",[1]]`, c.opts)))
		_, evs := subscribeRetained(t, b, c.sub, `{"get_retained":true}`, "com.r")
		if got := len(evs) == 1; got != c.want {
			t.Errorf("%s, subscriber %d (%s/%s): retained delivered %v, want %v", c.opts, c.sub.ID, c.sub.AuthID, c.sub.AuthRole, got, c.want)
		}
	}
}

func TestRetainedDisclosure(t *testing.T) {
	b := New(Config{})
	pub := &fakepeer.Peer{ID: 1, Ser: wamp.JSON, AuthID: "alice", AuthRole: "admin"}
	b.Publish(pub, fakepeer.Decode(t, `[16,1,{"retain":true,"disclose_me":true},"com.r",[1]]`))
	_, evs := subscribeRetained(t, b, fakepeer.New(2), `{"get_retained":true}`, "com.r")
	if len(evs) != 1 {
		t.Fatalf("got %d retained events", len(evs))
	}
	d := evs[0].Details
	if id, _ := wamp.AsID(d["publisher"]); id != 1 || d["publisher_authid"] != "alice" || d["retained"] != true {
		t.Errorf("retained event details %v: want the disclosed publisher and retained", d)
	}
}

// TestRetainedOwnsPayload: the retained event outlives the frame it came
// in, which the session reader reuses for the next message.
func TestRetainedOwnsPayload(t *testing.T) {
	b := New(Config{})
	frame := []byte(`[16,1,{"retain":true},"com.r",["original"],{"k":"vvvvv"}]`)
	var m wamp.Message
	if err := codec.For(wamp.JSON).Decode(frame, &m); err != nil {
		t.Fatal(err)
	}
	b.Publish(fakepeer.New(1), &m)
	for i := range frame {
		frame[i] = 'X'
	}
	_, evs := subscribeRetained(t, b, fakepeer.New(2), `{"get_retained":true}`, "com.r")
	if len(evs) != 1 || argString(t, evs[0]) != "[original]" || !strings.Contains(string(evs[0].Kwargs.Raw), "vvvvv") {
		t.Fatalf("retained event after the frame was reused: %v", evs)
	}
}

func TestRetainedBounds(t *testing.T) {
	b := New(Config{MaxRetained: 2, MaxRetainedBytes: 200})
	pub := fakepeer.New(1)
	for _, topic := range []string{"com.a", "com.b", "com.c"} {
		b.Publish(pub, fakepeer.Decode(t, fmt.Sprintf(`[16,1,{"retain":true},%q,[%q]]`, topic, topic)))
	}
	if n := b.ret.count(); n != 2 {
		t.Errorf("%d retained topics with MaxRetained 2", n)
	}
	if _, evs := subscribeRetained(t, b, fakepeer.New(2), `{"get_retained":true}`, "com.c"); len(evs) != 0 {
		t.Errorf("a topic past MaxRetained was retained: %v", evs)
	}
	// Existing topics are still updated at the bound.
	b.Publish(pub, fakepeer.Decode(t, `[16,1,{"retain":true},"com.a",["new"]]`))
	if _, evs := subscribeRetained(t, b, fakepeer.New(3), `{"get_retained":true}`, "com.a"); len(evs) != 1 || argString(t, evs[0]) != "[new]" {
		t.Errorf("update of a retained topic at the bound: %v", evs)
	}
	// A payload past the byte bound is not retained; the old one stays.
	big := strings.Repeat("x", 300)
	b.Publish(pub, fakepeer.Decode(t, fmt.Sprintf(`[16,1,{"retain":true},"com.a",[%q]]`, big)))
	if _, evs := subscribeRetained(t, b, fakepeer.New(4), `{"get_retained":true}`, "com.a"); len(evs) != 1 || argString(t, evs[0]) != "[new]" {
		t.Errorf("after a retained publication past MaxRetainedBytes: %v", evs)
	}
	if b.ret.bytes > 200 {
		t.Errorf("retained bytes %d past the bound 200", b.ret.bytes)
	}
}

// TestRetainedNotLost: a SUBSCRIBE with get_retained racing a retained
// PUBLISH gets the event live or retained, never neither.
func TestRetainedNotLost(t *testing.T) {
	for i := range 200 {
		b := New(Config{})
		done := make(chan struct{})
		go func() {
			b.Publish(fakepeer.New(1), fakepeer.Decode(t, `[16,1,{"retain":true},"com.race",[1]]`))
			close(done)
		}()
		p := fakepeer.New(2)
		b.Subscribe(p, fakepeer.Decode(t, `[32,1,{"get_retained":true},"com.race"]`))
		<-done
		n := 0
		for _, m := range p.Messages() {
			if m.Type == wamp.EVENT {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("run %d: %d events, want exactly 1 (live or retained)", i, n)
		}
	}
}
