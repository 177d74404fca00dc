package broker

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/switchboard/switchboard/internal/fakepeer"
	"github.com/switchboard/switchboard/wamp"
)

// forCacheModes runs f once per match-cache mode with cfg adjusted.
func forCacheModes(t *testing.T, cfg Config, f func(t *testing.T, b *Broker)) {
	t.Helper()
	for _, mode := range cacheModes {
		t.Run(mode.name, func(t *testing.T) {
			c := cfg
			c.MatchCache = mode.slots
			f(t, New(c))
		})
	}
}

// subscribeOpts subscribes with options given as JSON and returns the id.
func subscribeOpts(t *testing.T, b *Broker, p *fakepeer.Peer, req int, opts, topic string) wamp.ID {
	t.Helper()
	b.Subscribe(p, fakepeer.Decode(t, fmt.Sprintf(`[32,%d,%s,%q]`, req, opts, topic)))
	msgs := p.Messages()
	if len(msgs) != 1 || msgs[0].Type != wamp.SUBSCRIBED || msgs[0].Request != wamp.ID(req) {
		t.Fatalf("subscribe %s %s: got %v, want only SUBSCRIBED for request %d", opts, topic, msgs, req)
	}
	return msgs[0].ID
}

func publish(t *testing.T, b *Broker, p *fakepeer.Peer, opts, topic string) {
	t.Helper()
	b.Publish(p, fakepeer.Decode(t, fmt.Sprintf(`[16,1,%s,%q,["x"]]`, opts, topic)))
}

// events returns the EVENTs p received, failing on anything else.
func events(t *testing.T, p *fakepeer.Peer) []*wamp.Message {
	t.Helper()
	msgs := p.Messages()
	for _, m := range msgs {
		if m.Type != wamp.EVENT {
			t.Fatalf("session %d got %v, want only EVENTs", p.ID, m)
		}
	}
	return msgs
}

func TestPatternSubscriptions(t *testing.T) {
	forCacheModes(t, Config{}, func(t *testing.T, b *Broker) {
		p := fakepeer.New(2)
		exact := subscribeOpts(t, b, p, 1, `{}`, "com.myapp.topic.emergency.11")
		prefix := subscribeOpts(t, b, p, 2, `{"match":"prefix"}`, "com.myapp.topic.emergency")
		wild := subscribeOpts(t, b, p, 3, `{"match":"wildcard"}`, "com.myapp.topic..11")
		if len(slices.Compact([]wamp.ID{exact, prefix, wild})) != 3 {
			t.Fatalf("subscription ids %d %d %d: want three different ones", exact, prefix, wild)
		}
		pub := fakepeer.New(1)
		publish(t, b, pub, `{}`, "com.myapp.topic.emergency.11")
		evs := events(t, p)
		if len(evs) != 3 {
			t.Fatalf("got %d events, want one per matching subscription (3)", len(evs))
		}
		got := map[wamp.ID]wamp.Dict{}
		for _, ev := range evs {
			got[ev.ID] = ev.Details
			if ev.Publication != evs[0].Publication {
				t.Errorf("events of one publication carry publications %d and %d", ev.Publication, evs[0].Publication)
			}
		}
		if _, ok := got[exact]["topic"]; ok {
			t.Errorf("exact subscription's EVENT has details.topic: %v", got[exact])
		}
		for _, id := range []wamp.ID{prefix, wild} {
			if got[id]["topic"] != "com.myapp.topic.emergency.11" {
				t.Errorf("pattern subscription %d: details %v, want topic com.myapp.topic.emergency.11", id, got[id])
			}
		}

		publish(t, b, pub, `{}`, "com.myapp.topic.emergency-low")
		if evs := events(t, p); len(evs) != 1 || evs[0].ID != prefix || evs[0].Details["topic"] != "com.myapp.topic.emergency-low" {
			t.Errorf("emergency-low: got %v, want one event on the prefix subscription", evs)
		}
		publish(t, b, pub, `{}`, "com.myapp.topic.emerge")
		if evs := events(t, p); len(evs) != 0 {
			t.Errorf("com.myapp.topic.emerge matched %v", evs)
		}
		publish(t, b, pub, `{}`, "com.myapp.topic.x.11")
		if evs := events(t, p); len(evs) != 1 || evs[0].ID != wild {
			t.Errorf("com.myapp.topic.x.11: got %v, want one event on the wildcard subscription", evs)
		}

		// One subscription per (topic, match), shared by its subscribers.
		q := fakepeer.New(3)
		if id := subscribeOpts(t, b, q, 1, `{"match":"prefix"}`, "com.myapp.topic.emergency"); id != prefix {
			t.Errorf("second prefix subscriber got id %d, want the shared %d", id, prefix)
		}
		if id := subscribeOpts(t, b, q, 2, `{"match":"exact"}`, "com.myapp.topic.emergency"); id == prefix {
			t.Error("exact and prefix subscriptions to one URI share an id")
		}

		// Unsubscribing the last subscriber removes the pattern.
		b.Unsubscribe(p, fakepeer.Decode(t, fmt.Sprintf(`[34,9,%d]`, wild)))
		p.Messages()
		publish(t, b, pub, `{}`, "com.myapp.topic.x.11")
		if evs := events(t, p); len(evs) != 0 {
			t.Errorf("after unsubscribing the wildcard: got %v", evs)
		}
	})
}

// TestPatternFrameShared checks the shared-frame rule with patterns and
// disclosure: subscribers of one subscription and serializer share one
// frame; another subscription gets its own (its id differs).
func TestPatternFrameShared(t *testing.T) {
	b := New(Config{})
	a := &framePeer{Peer: fakepeer.New(1)}
	c := &framePeer{Peer: fakepeer.New(2)}
	d := &framePeer{Peer: fakepeer.New(3)}
	for _, p := range []*framePeer{a, c} {
		b.Subscribe(p, fakepeer.Decode(t, `[32,1,{"match":"prefix"},"com.example"]`))
	}
	b.Subscribe(d, fakepeer.Decode(t, `[32,1,{},"com.example.s"]`))
	b.Publish(fakepeer.New(4), fakepeer.Decode(t, `[16,1,{"disclose_me":true,"exclude":[99]},"com.example.s",["x"]]`))
	if len(a.frames) != 1 || len(c.frames) != 1 || len(d.frames) != 1 {
		t.Fatalf("frames: %d, %d, %d; want 1 each", len(a.frames), len(c.frames), len(d.frames))
	}
	if &a.frames[0][0] != &c.frames[0][0] {
		t.Error("two JSON subscribers of one prefix subscription got separately encoded frames")
	}
	if &a.frames[0][0] == &d.frames[0][0] {
		t.Error("two subscriptions share a frame; their subscription ids differ")
	}
}

func TestInvalidPatterns(t *testing.T) {
	cases := []struct {
		strict bool
		frame  string
		uri    wamp.URI
		msg    string
	}{
		{false, `[32,1,{"match":"prefix"},"com..x"]`, wamp.ErrInvalidURI, ""},
		{false, `[32,1,{"match":"prefix"},"com.x.."]`, wamp.ErrInvalidURI, ""},
		{false, `[32,1,{"match":"exact"},"com.x."]`, wamp.ErrInvalidURI, ""},
		{false, `[32,1,{"match":"wildcard"},""]`, wamp.ErrInvalidURI, ""},
		{false, `[32,1,{"match":"wildcard"},"com. .x"]`, wamp.ErrInvalidURI, ""},
		{true, `[32,1,{"match":"wildcard"},"com..X"]`, wamp.ErrInvalidURI, ""},
		{false, `[32,1,{"match":"regex"},"com.x"]`, wamp.ErrInvalidArgument, "match"},
		{false, `[32,1,{"match":"Prefix"},"com.x"]`, wamp.ErrInvalidArgument, "match"},
		{false, `[32,1,{"match":""},"com.x"]`, "", ""},   // empty is the default, exact
		{false, `[32,1,{"match":null},"com.x"]`, "", ""}, // null counts as absent (wamp.Dict)
		{false, `[32,1,{"match":["prefix"]},"com.x"]`, wamp.ErrInvalidArgument, "match"},
		{false, `[32,1,{"get_retained":1},"com.x"]`, wamp.ErrInvalidArgument, "get_retained"},
		{false, `[32,1,{"get_retained":"true"},"com.x"]`, wamp.ErrInvalidArgument, "get_retained"},
		{false, `[32,1,{"match":"wildcard"},"com..x"]`, "", ""},
		{false, `[32,1,{"match":"prefix"},"com.x."]`, "", ""},
		{false, `[32,1,{"match":"prefix"},""]`, "", ""},
		{false, `[32,1,{"match":"prefix"},"wamp.session"]`, "", ""}, // meta events may be subscribed
	}
	for _, c := range cases {
		b := New(Config{StrictURIs: c.strict})
		p := fakepeer.New(1)
		m := fakepeer.Decode(t, c.frame)
		b.Subscribe(p, m)
		got := p.Last()
		if c.uri == "" {
			if got == nil || got.Type != wamp.SUBSCRIBED {
				t.Errorf("%s: got %v, want SUBSCRIBED", c.frame, got)
			}
			continue
		}
		if got == nil || got.Type != wamp.ERROR || got.URI != c.uri || got.ErrType != wamp.SUBSCRIBE {
			t.Errorf("%s (strict=%v): got %v, want ERROR %s", c.frame, c.strict, got, c.uri)
			continue
		}
		if msg, _ := got.Details["message"].(string); !strings.Contains(msg, c.msg) {
			t.Errorf("%s: message %q does not name option %q", c.frame, msg, c.msg)
		}
	}
}

// TestPublishOptionErrors is the bad-input table: every PUBLISH option
// with a wrong type or value gets ERROR invalid_argument naming it, and
// nothing is delivered.
func TestPublishOptionErrors(t *testing.T) {
	cases := []struct{ opts, option string }{
		{`{"acknowledge":"yes"}`, "acknowledge"},
		{`{"acknowledge":1}`, "acknowledge"},
		{`{"exclude_me":0}`, "exclude_me"},
		{`{"disclose_me":"true"}`, "disclose_me"},
		{`{"retain":1}`, "retain"},
		{`{"retain":{}}`, "retain"},
		{`{"exclude":5}`, "exclude"},
		{`{"exclude":"5"}`, "exclude"},
		{`{"exclude":["5"]}`, "exclude"},
		{`{"exclude":[1.5]}`, "exclude"},
		{`{"exclude":[-1]}`, "exclude"},
		{`{"exclude":[9007199254740993]}`, "exclude"},
		{`{"eligible":{"a":1}}`, "eligible"},
		{`{"eligible":[true]}`, "eligible"},
		{`{"eligible":[[1]]}`, "eligible"},
		{`{"exclude_authid":"alice"}`, "exclude_authid"},
		{`{"exclude_authid":[1]}`, "exclude_authid"},
		{`{"eligible_authid":[null]}`, "eligible_authid"},
		{`{"eligible_authid":{}}`, "eligible_authid"},
		{`{"exclude_authrole":[["admin"]]}`, "exclude_authrole"},
		{`{"eligible_authrole":"admin"}`, "eligible_authrole"},
		{`{"eligible_authrole":[false]}`, "eligible_authrole"},
	}
	for _, c := range cases {
		b := New(Config{})
		sub, pub := fakepeer.New(2), fakepeer.New(1)
		subscribeOpts(t, b, sub, 1, `{}`, "com.x")
		publish(t, b, pub, c.opts, "com.x")
		got := pub.Last()
		if got == nil || got.Type != wamp.ERROR || got.URI != wamp.ErrInvalidArgument || got.ErrType != wamp.PUBLISH || got.Request != 1 {
			t.Errorf("%s: got %v, want ERROR invalid_argument for PUBLISH 1", c.opts, got)
			continue
		}
		msg, _ := got.Details["message"].(string)
		if !strings.Contains(msg, "option "+c.option+" ") {
			t.Errorf("%s: message %q does not name option %s", c.opts, msg, c.option)
		}
		if evs := sub.Messages(); len(evs) != 0 {
			t.Errorf("%s: a publication with a bad option was delivered: %v", c.opts, evs)
		}
	}
	// Options of the right type but unknown to the broker are ignored.
	b := New(Config{})
	sub, pub := fakepeer.New(2), fakepeer.New(1)
	subscribeOpts(t, b, sub, 1, `{}`, "com.x")
	publish(t, b, pub, `{"x_custom":[1,"a"],"exclude":[],"eligible_authrole":[]}`, "com.x")
	if got := pub.Messages(); len(got) != 0 {
		t.Errorf("valid options got %v", got)
	}
}

// TestBlackWhiteListing checks the specification's six rules and their
// combinations against a fixed population of subscribers.
func TestBlackWhiteListing(t *testing.T) {
	type peer struct {
		id            wamp.ID
		authid, role  string
		serialization wamp.Serialization
	}
	population := []peer{
		{10, "alice", "admin", wamp.JSON},
		{11, "bob", "staff", wamp.MsgPack},
		{12, "carol", "staff", wamp.CBOR},
		{13, "alice", "staff", wamp.JSON},
		{14, "dave", "", wamp.JSON},
	}
	cases := []struct {
		opts string
		want []wamp.ID
	}{
		{`{}`, []wamp.ID{10, 11, 12, 13, 14}},
		{`{"exclude":[11,12]}`, []wamp.ID{10, 13, 14}},
		{`{"eligible":[11,12,99]}`, []wamp.ID{11, 12}},
		{`{"eligible":[]}`, nil},
		{`{"exclude":[]}`, []wamp.ID{10, 11, 12, 13, 14}},
		{`{"eligible":[10,11,12],"exclude":[10]}`, []wamp.ID{11, 12}}, // the specification's third example
		{`{"exclude_authid":["alice"]}`, []wamp.ID{11, 12, 14}},
		{`{"eligible_authid":["alice","dave"]}`, []wamp.ID{10, 13, 14}},
		{`{"exclude_authrole":["staff"]}`, []wamp.ID{10, 14}},
		{`{"eligible_authrole":["staff"]}`, []wamp.ID{11, 12, 13}},
		{`{"eligible_authrole":["staff"],"eligible_authid":["alice","bob"]}`, []wamp.ID{11, 13}},
		{`{"eligible_authrole":["staff"],"exclude_authid":["alice"]}`, []wamp.ID{11, 12}},
		{`{"eligible_authid":["alice"],"exclude_authrole":["admin"],"exclude":[]}`, []wamp.ID{13}},
		{`{"eligible":[10,11,12,13],"eligible_authid":["alice","carol"],"eligible_authrole":["staff"],"exclude":[12]}`, []wamp.ID{13}},
		{`{"exclude_authrole":[""]}`, []wamp.ID{10, 11, 12, 13}},
		// exclude_me still applies: the publisher (1) is subscribed too.
		{`{"eligible":[1,10]}`, []wamp.ID{10}},
		{`{"eligible":[1,10],"exclude_me":false}`, []wamp.ID{1, 10}},
		{`{"exclude_me":false,"exclude":[1]}`, []wamp.ID{10, 11, 12, 13, 14}},
		// Long lists take the map path.
		{`{"eligible":[1,2,3,4,5,6,7,8,9,20,21,22,23,24,25,26,27,12,14]}`, []wamp.ID{12, 14}},
		{`{"exclude_authid":["a","b","c","d","e","f","g","h","i","j","k","l","m","n","o","p","q","bob"]}`, []wamp.ID{10, 12, 13, 14}},
	}
	for _, mode := range cacheModes {
		for _, match := range []string{`{}`, `{"match":"prefix"}`} {
			for _, c := range cases {
				b := New(Config{MatchCache: mode.slots})
				topic := "com.example.bw"
				subTopic := topic
				if match != `{}` {
					subTopic = "com.example"
				}
				peers := map[wamp.ID]*fakepeer.Peer{}
				pub := fakepeer.New(1)
				pub.AuthID, pub.AuthRole = "pub", "publisher"
				subscribeOpts(t, b, pub, 1, match, subTopic)
				peers[1] = pub
				for _, x := range population {
					p := &fakepeer.Peer{ID: x.id, Ser: x.serialization, AuthID: x.authid, AuthRole: x.role}
					subscribeOpts(t, b, p, 1, match, subTopic)
					peers[x.id] = p
				}
				publish(t, b, pub, c.opts, topic)
				var got []wamp.ID
				for id, p := range peers {
					switch evs := events(t, p); len(evs) {
					case 0:
					case 1:
						got = append(got, id)
					default:
						t.Errorf("session %d got %d events", id, len(evs))
					}
				}
				slices.Sort(got)
				if !slices.Equal(got, c.want) {
					t.Errorf("%s, subscribe %s: receivers %v, want %v", mode.name, match, got, c.want)
				}
			}
		}
	}
}

func TestPublisherIdentification(t *testing.T) {
	cases := []struct {
		disclose string
		opts     string
		want     bool     // disclosed
		err      wamp.URI // or refused
	}{
		{DiscloseClient, `{}`, false, ""},
		{DiscloseClient, `{"disclose_me":false}`, false, ""},
		{DiscloseClient, `{"disclose_me":true}`, true, ""},
		{DiscloseAlways, `{}`, true, ""},
		{DiscloseAlways, `{"disclose_me":false}`, true, ""},
		{DiscloseNever, `{}`, false, ""},
		{DiscloseNever, `{"disclose_me":false}`, false, ""},
		{DiscloseNever, `{"disclose_me":true}`, false, ErrOptionDisallowedDiscloseMe},
	}
	for _, c := range cases {
		b := New(Config{Disclose: c.disclose})
		exact, prefix := fakepeer.New(2), &fakepeer.Peer{ID: 3, Ser: wamp.MsgPack}
		subscribeOpts(t, b, exact, 1, `{}`, "com.example.id")
		subscribeOpts(t, b, prefix, 1, `{"match":"prefix"}`, "com.example")
		pub := &fakepeer.Peer{ID: 1, Ser: wamp.JSON, AuthID: "alice", AuthRole: "admin"}
		publish(t, b, pub, c.opts, "com.example.id")
		if c.err != "" {
			if m := pub.Last(); m == nil || m.Type != wamp.ERROR || m.URI != c.err {
				t.Errorf("Disclose %q, %s: got %v, want ERROR %s", c.disclose, c.opts, m, c.err)
			}
			if n := len(exact.Messages()) + len(prefix.Messages()); n != 0 {
				t.Errorf("Disclose %q, %s: refused publication delivered %d events", c.disclose, c.opts, n)
			}
			continue
		}
		for _, p := range []*fakepeer.Peer{exact, prefix} {
			evs := events(t, p)
			if len(evs) != 1 {
				t.Fatalf("Disclose %q, %s: session %d got %d events", c.disclose, c.opts, p.ID, len(evs))
			}
			d := evs[0].Details
			pid, _ := wamp.AsID(d["publisher"])
			got := pid != 0
			if got != c.want {
				t.Errorf("Disclose %q, %s: session %d details %v, disclosed %v, want %v", c.disclose, c.opts, p.ID, d, got, c.want)
			}
			if c.want && (pid != 1 || d["publisher_authid"] != "alice" || d["publisher_authrole"] != "admin") {
				t.Errorf("Disclose %q, %s: details %v, want publisher 1, alice, admin", c.disclose, c.opts, d)
			}
			if !c.want && (d["publisher_authid"] != nil || d["publisher_authrole"] != nil) {
				t.Errorf("Disclose %q, %s: details %v leak the publisher", c.disclose, c.opts, d)
			}
		}
	}
}

func TestConfigValidate(t *testing.T) {
	bad := []Config{
		{Disclose: "sometimes"},
		{MaxRetained: -1},
		{MaxRetainedBytes: -1},
		{History: []HistoryRule{{Topic: "com.x", Limit: 0}}},
		{History: []HistoryRule{{Topic: "com..x", Limit: 1}}},
		{History: []HistoryRule{{Topic: "com.x", Match: "regex", Limit: 1}}},
		{History: []HistoryRule{{Topic: "com.x", Limit: 1}, {Topic: "com.x", Match: "exact", Limit: 2}}},
	}
	for _, c := range bad {
		err := c.Validate()
		var ce *ConfigError
		if !errors.Is(err, ErrConfig) || !errors.As(err, &ce) {
			t.Errorf("Validate(%+v) = %v, want a *ConfigError wrapping ErrConfig", c, err)
		}
	}
	good := Config{Disclose: DiscloseNever, History: []HistoryRule{
		{Topic: "com.x", Limit: 1}, {Topic: "com.x", Match: "prefix", Limit: 1}, {Topic: "com..x", Match: "wildcard", Limit: 5},
	}}
	if err := good.Validate(); err != nil {
		t.Errorf("Validate(%+v) = %v", good, err)
	}
	defer func() {
		if recover() == nil {
			t.Error("New with an invalid Config did not panic")
		}
	}()
	New(Config{Disclose: "sometimes"})
}

func TestEmit(t *testing.T) {
	b := New(Config{})
	p, q := fakepeer.New(1), &fakepeer.Peer{ID: 2, Ser: wamp.CBOR}
	subscribeOpts(t, b, p, 1, `{}`, "wamp.session.on_join")
	subscribeOpts(t, b, q, 1, `{"match":"prefix"}`, "wamp.session")
	b.Emit("wamp.session.on_join", wamp.List(wamp.Dict{"session": wamp.ID(7)}), wamp.Payload{}, nil)
	for _, x := range []*fakepeer.Peer{p, q} {
		if evs := events(t, x); len(evs) != 1 {
			t.Errorf("session %d got %d meta events, want 1", x.ID, len(evs))
		}
	}
	b.Emit("wamp.session.on_join", wamp.List(1), wamp.Payload{}, []wamp.ID{2})
	if len(events(t, p)) != 1 || len(events(t, q)) != 0 {
		t.Error("Emit with exclude [2]: want an event for 1 only")
	}
}

// hookLog records hook calls as text; fn, when set, runs inside each call.
type hookLog struct {
	mu    sync.Mutex
	calls []string
	fn    func(kind string, session, sub wamp.ID)
}

func (h *hookLog) add(kind string, session, sub wamp.ID) {
	h.mu.Lock()
	h.calls = append(h.calls, fmt.Sprintf("%s %d %d", kind, session, sub))
	h.mu.Unlock()
	if h.fn != nil {
		h.fn(kind, session, sub)
	}
}

func (h *hookLog) OnCreate(s wamp.ID, info SubscriptionInfo) {
	h.add("create:"+string(info.URI)+":"+info.Match, s, info.ID)
}
func (h *hookLog) OnSubscribe(s, sub wamp.ID)   { h.add("subscribe", s, sub) }
func (h *hookLog) OnUnsubscribe(s, sub wamp.ID) { h.add("unsubscribe", s, sub) }
func (h *hookLog) OnDelete(s, sub wamp.ID)      { h.add("delete", s, sub) }

func (h *hookLog) take() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	c := h.calls
	h.calls = nil
	return c
}

func TestHooksOrder(t *testing.T) {
	h := &hookLog{}
	b := New(Config{Hooks: h})
	p, q := fakepeer.New(1), fakepeer.New(2)
	id := subscribeOpts(t, b, p, 1, `{"match":"wildcard"}`, "com..x")
	subscribeOpts(t, b, q, 1, `{"match":"wildcard"}`, "com..x")
	subscribeOpts(t, b, q, 2, `{"match":"wildcard"}`, "com..x") // again: no event
	other := subscribeOpts(t, b, q, 3, `{}`, "com.y")
	b.Unsubscribe(p, fakepeer.Decode(t, fmt.Sprintf(`[34,4,%d]`, id)))
	b.RemoveSession(2)
	want := []string{
		fmt.Sprintf("create:com..x:wildcard 1 %d", id),
		fmt.Sprintf("subscribe 1 %d", id),
		fmt.Sprintf("subscribe 2 %d", id),
		fmt.Sprintf("create:com.y:exact 2 %d", other),
		fmt.Sprintf("subscribe 2 %d", other),
		fmt.Sprintf("unsubscribe 1 %d", id),
		fmt.Sprintf("unsubscribe 2 %d", id),
		fmt.Sprintf("delete 2 %d", id),
		fmt.Sprintf("unsubscribe 2 %d", other),
		fmt.Sprintf("delete 2 %d", other),
	}
	if got := h.take(); !slices.Equal(got, want) {
		t.Errorf("hook calls:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestHooksReenter has the hooks publish meta events into the same broker
// (as the realm will) and even subscribe: neither may deadlock, and the
// meta events arrive.
func TestHooksReenter(t *testing.T) {
	h := &hookLog{}
	b := New(Config{Hooks: h})
	meta := fakepeer.New(9)
	subscribeOpts(t, b, meta, 1, `{"match":"prefix"}`, "wamp.subscription.")
	h.take()
	reentered := false
	h.fn = func(kind string, session, sub wamp.ID) {
		topic := wamp.URI("wamp.subscription.on_" + strings.SplitN(kind, ":", 2)[0])
		b.Emit(topic, wamp.List(session, sub), wamp.Payload{}, nil)
		_ = b.Match("com.x")
		if !reentered {
			reentered = true
			b.Subscribe(fakepeer.New(8), fakepeer.Decode(t, `[32,1,{},"com.reentered"]`))
		}
	}
	p := fakepeer.New(1)
	subscribeOpts(t, b, p, 1, `{}`, "com.x")
	b.RemoveSession(1)
	var got []string
	for _, ev := range events(t, meta) {
		got = append(got, ev.Details["topic"].(string))
	}
	want := []string{
		"wamp.subscription.on_create", "wamp.subscription.on_subscribe", // com.x by 1
		"wamp.subscription.on_create", "wamp.subscription.on_subscribe", // com.reentered by 8, from the first hook
		"wamp.subscription.on_unsubscribe", "wamp.subscription.on_delete", // com.x
	}
	if !slices.Equal(got, want) {
		t.Errorf("meta events %v, want %v", got, want)
	}
}

func TestQueries(t *testing.T) {
	forCacheModes(t, Config{}, func(t *testing.T, b *Broker) {
		p, q := fakepeer.New(1), fakepeer.New(2)
		e := subscribeOpts(t, b, p, 1, `{}`, "com.a.b")
		pre := subscribeOpts(t, b, p, 2, `{"match":"prefix"}`, "com.a")
		w := subscribeOpts(t, b, q, 1, `{"match":"wildcard"}`, "com..b")
		subscribeOpts(t, b, q, 2, `{}`, "com.a.b")
		l := b.List()
		if !slices.Equal(l.Exact, []wamp.ID{e}) || !slices.Equal(l.Prefix, []wamp.ID{pre}) || !slices.Equal(l.Wildcard, []wamp.ID{w}) {
			t.Errorf("List = %+v", l)
		}
		d := l.Dict()
		if len(d) != 3 {
			t.Errorf("List().Dict() = %v", d)
		}
		for _, c := range []struct {
			topic, match string
			want         wamp.ID
		}{
			{"com.a.b", "", e}, {"com.a.b", "exact", e}, {"com.a", "prefix", pre}, {"com..b", "wildcard", w},
			{"com.a", "exact", 0}, {"com.a.b", "prefix", 0}, {"com.a", "regex", 0},
		} {
			if got := b.Lookup(wamp.URI(c.topic), c.match); got != c.want {
				t.Errorf("Lookup(%q, %q) = %d, want %d", c.topic, c.match, got, c.want)
			}
		}
		want := []wamp.ID{e, pre, w}
		slices.Sort(want)
		if got := b.Match("com.a.b"); !slices.Equal(got, want) {
			t.Errorf("Match(com.a.b) = %v, want %v", got, want)
		}
		if got := b.Match("org.x"); got != nil {
			t.Errorf("Match(org.x) = %v, want nil", got)
		}
		info, ok := b.Get(pre)
		if !ok || info.ID != pre || info.URI != "com.a" || info.Match != "prefix" || info.Created.IsZero() {
			t.Errorf("Get(%d) = %+v, %v", pre, info, ok)
		}
		if d := info.Dict(); d["uri"] != "com.a" || d["match"] != "prefix" || !strings.HasSuffix(d["created"].(string), "Z") {
			t.Errorf("SubscriptionInfo.Dict() = %v", d)
		}
		if ids, ok := b.ListSubscribers(e); !ok || !slices.Equal(ids, []wamp.ID{1, 2}) {
			t.Errorf("ListSubscribers(%d) = %v, %v", e, ids, ok)
		}
		if n, ok := b.CountSubscribers(e); !ok || n != 2 {
			t.Errorf("CountSubscribers(%d) = %d, %v", e, n, ok)
		}
		if _, ok := b.Get(999); ok {
			t.Error("Get(999) found a subscription")
		}
		if _, ok := b.ListSubscribers(999); ok {
			t.Error("ListSubscribers(999) found a subscription")
		}
		if _, ok := b.CountSubscribers(999); ok {
			t.Error("CountSubscribers(999) found a subscription")
		}
	})
}

// TestConcurrentChurn publishes to patterns while subscriptions come and
// go, with hooks that publish; run with -race.
func TestConcurrentChurn(t *testing.T) {
	h := &hookLog{}
	b := New(Config{Hooks: h, MatchCache: 4})
	h.fn = func(kind string, session, sub wamp.ID) {
		b.Emit("wamp.subscription.on_x", wamp.List(session, sub), wamp.Payload{}, nil)
	}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			p := &fakepeer.Peer{ID: wamp.ID(100 + w), Ser: wamp.Serializations[w%3], Discard: true}
			for i := range 300 {
				topic := fmt.Sprintf("com.t%d.x%d", i%5, i%3)
				switch i % 4 {
				case 0:
					b.Subscribe(p, fakepeer.Decode(t, fmt.Sprintf(`[32,1,{"match":"prefix"},"com.t%d"]`, i%5)))
				case 1:
					b.Subscribe(p, fakepeer.Decode(t, fmt.Sprintf(`[32,1,{"match":"wildcard","get_retained":true},"com..x%d"]`, i%3)))
				case 2:
					b.Publish(p, fakepeer.Decode(t, fmt.Sprintf(`[16,1,{"exclude_me":false,"retain":true},%q,[%d]]`, topic, i)))
				case 3:
					b.RemoveSession(p.ID)
				}
				_ = b.Match(wamp.URI(topic))
				_ = b.List()
			}
		})
	}
	wg.Wait()
	for w := range 4 {
		b.RemoveSession(wamp.ID(100 + w))
	}
	if n := b.SubscriptionCount(); n != 0 {
		t.Errorf("%d subscriptions left after every session left", n)
	}
	// Every create has its delete, and per subscription the order holds.
	state := map[string]int{}
	for _, c := range h.take() {
		f := strings.Fields(c)
		kind, sub := strings.SplitN(f[0], ":", 2)[0], f[2]
		switch kind {
		case "create":
			if state[sub] != 0 {
				t.Fatalf("%s: subscription created twice", c)
			}
			state[sub] = 1
		case "subscribe", "unsubscribe":
			if state[sub] != 1 {
				t.Fatalf("%s before create or after delete", c)
			}
		case "delete":
			if state[sub] != 1 {
				t.Fatalf("%s before create", c)
			}
			state[sub] = 2
		}
	}
	for sub, s := range state {
		if s != 2 {
			t.Errorf("subscription %s was never deleted", sub)
		}
	}
}

// BenchmarkPublishPatterns publishes to a topic that one exact, one prefix
// and two wildcard subscriptions match (one JSON subscriber each), among n
// unrelated subscriptions of all kinds: ns/op should not grow with n.
func BenchmarkPublishPatterns(b *testing.B) {
	for _, n := range []int{10, 10_000, 100_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			br := New(Config{})
			x, _ := benchIndex(n, -1)
			sid := wamp.ID(1000)
			for _, m := range []map[wamp.URI]*subscription{x.exact, x.prefix, x.wildcard} {
				for uri, s := range m {
					p := &fakepeer.Peer{ID: sid, Ser: wamp.JSON, Discard: true}
					sid++
					br.Subscribe(p, fakepeer.Decode(b, fmt.Sprintf(`[32,1,{"match":%q},%q]`, s.match, uri)))
				}
			}
			pub := &fakepeer.Peer{ID: 1, Ser: wamp.JSON, Discard: true}
			m := fakepeer.Decode(b, `[16,1,{},"com.g0.dev0.temp",["hello",42],{"k":"v"}]`)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				br.Publish(pub, m)
			}
		})
	}
}
