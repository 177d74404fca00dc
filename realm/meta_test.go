package realm_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard/switchboard/realm"
	"github.com/switchboard/switchboard/session"
	"github.com/switchboard/switchboard/transport"
	"github.com/switchboard/switchboard/wamp"
	"github.com/switchboard/switchboard/wamp/codec"
)

// Meta API edge cases that clients reach only by chance: frame reuse,
// bounds, and races between kill_all, leaving sessions and the
// subscription hooks. The interop tests (interop/nexus/meta_test.go) cover
// the API itself with real clients.

// peer is the test's end of one session: it sends frames into the session
// and reads what the router writes. Its methods that return an error may
// run on any goroutine; the others fail the test.
type peer struct {
	tb     testing.TB
	s      *session.Session
	c      *testConn
	done   <-chan struct{} // closed when the session is over
	req    wamp.ID
	events []*wamp.Message // EVENTs read while waiting for a reply
}

func newRealm(tb testing.TB, cfg realm.Config) *realm.Realm {
	tb.Helper()
	r, err := realm.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

// join attaches a new session to r and reads its WELCOME.
func join(tb testing.TB, r *realm.Realm, ser wamp.Serialization) *peer {
	tb.Helper()
	c := newTestConn(ser, true)
	s, done := serve(tb, r, session.Config{}, c)
	p := &peer{tb: tb, s: s, c: c, done: done}
	if m := p.recv(); m.Type != wamp.WELCOME {
		tb.Fatalf("got %v, want WELCOME", m)
	}
	return p
}

func (p *peer) sendErr(m *wamp.Message) error {
	b, err := codec.For(p.c.ser).Encode(nil, m)
	if err != nil {
		return err
	}
	select {
	case p.c.in <- b:
		return nil
	case <-p.done:
		return fmt.Errorf("session %d is over; cannot send %v", p.s.ID, m)
	case <-time.After(bound):
		return fmt.Errorf("session %d reads nothing: cannot send %v", p.s.ID, m)
	}
}

func (p *peer) recvErr() (*wamp.Message, error) {
	select {
	case b := <-p.c.out:
		m := new(wamp.Message)
		if err := codec.For(p.c.ser).Decode(b, m); err != nil {
			return nil, fmt.Errorf("decode %q: %w", b, err)
		}
		return m, nil
	case <-time.After(bound):
		return nil, fmt.Errorf("session %d: nothing received within %v", p.s.ID, bound)
	}
}

func (p *peer) recv() *wamp.Message {
	p.tb.Helper()
	m, err := p.recvErr()
	if err != nil {
		p.tb.Fatal(err)
	}
	return m
}

// requestErr sends m with a fresh request id and returns the reply to it,
// keeping EVENTs that come first in p.events.
func (p *peer) requestErr(m *wamp.Message) (*wamp.Message, error) {
	p.req++
	m.Request = p.req
	if err := p.sendErr(m); err != nil {
		return nil, err
	}
	for {
		r, err := p.recvErr()
		if err != nil {
			return nil, err
		}
		if r.Type == wamp.EVENT {
			p.events = append(p.events, r)
			continue
		}
		if r.Request != m.Request {
			return nil, fmt.Errorf("after %v got %v", m, r)
		}
		return r, nil
	}
}

func (p *peer) request(m *wamp.Message) *wamp.Message {
	p.tb.Helper()
	r, err := p.requestErr(m)
	if err != nil {
		p.tb.Fatal(err)
	}
	return r
}

// call calls proc and returns the RESULT or ERROR.
func (p *peer) call(proc wamp.URI, args []any, kwargs map[string]any) *wamp.Message {
	p.tb.Helper()
	m := &wamp.Message{Type: wamp.CALL, Details: wamp.Dict{}, URI: proc}
	if args != nil || kwargs != nil {
		m.Args = wamp.List(args...)
	}
	if kwargs != nil {
		m.Kwargs = wamp.KW(kwargs)
	}
	return p.request(m)
}

// mustCall calls proc, which must succeed.
func (p *peer) mustCall(proc wamp.URI, args []any, kwargs map[string]any) *wamp.Message {
	p.tb.Helper()
	r := p.call(proc, args, kwargs)
	if r.Type != wamp.RESULT {
		p.tb.Fatalf("%s %v %v: got %v %v, want RESULT", proc, args, kwargs, r, r.Details)
	}
	return r
}

// callError calls proc, which must fail with uri.
func (p *peer) callError(proc wamp.URI, args []any, kwargs map[string]any, uri wamp.URI) {
	p.tb.Helper()
	r := p.call(proc, args, kwargs)
	if r.Type != wamp.ERROR || r.URI != uri {
		p.tb.Fatalf("%s %v %v: got %v %q, want ERROR %s", proc, args, kwargs, r, r.URI, uri)
	}
}

func (p *peer) subscribe(topic wamp.URI) wamp.ID {
	p.tb.Helper()
	r := p.request(&wamp.Message{Type: wamp.SUBSCRIBE, Details: wamp.Dict{}, URI: topic})
	if r.Type != wamp.SUBSCRIBED {
		p.tb.Fatalf("SUBSCRIBE %s: got %v %q", topic, r, r.URI)
	}
	return r.ID
}

// event returns the next EVENT.
func (p *peer) event() *wamp.Message {
	p.tb.Helper()
	if len(p.events) > 0 {
		m := p.events[0]
		p.events = p.events[1:]
		return m
	}
	m := p.recv()
	if m.Type != wamp.EVENT {
		p.tb.Fatalf("got %v, want EVENT", m)
	}
	return m
}

// untilMarker publishes to marker, which p must be subscribed to with
// subscription markerSub, and returns the EVENTs that came before it.
func (p *peer) untilMarker(marker wamp.URI, markerSub wamp.ID) []*wamp.Message {
	p.tb.Helper()
	r := p.request(&wamp.Message{Type: wamp.PUBLISH, Details: wamp.Dict{"acknowledge": true, "exclude_me": false}, URI: marker})
	if r.Type != wamp.PUBLISHED {
		p.tb.Fatalf("PUBLISH %s: got %v %q", marker, r, r.URI)
	}
	var got []*wamp.Message
	for {
		ev := p.event()
		if ev.ID == markerSub {
			return got
		}
		got = append(got, ev)
	}
}

// end closes the connection and waits until the session is over.
func (p *peer) end() {
	p.tb.Helper()
	_ = p.c.Close(transport.CloseNormal, "")
	select {
	case <-p.done:
	case <-time.After(bound):
		p.tb.Fatalf("session %d still running %v after its connection closed", p.s.ID, bound)
	}
}

// value decodes a payload.
func value(tb testing.TB, p wamp.Payload) any {
	tb.Helper()
	if p.Raw == nil {
		return p.Value
	}
	v, err := codec.For(p.Ser).DecodeValue(p.Raw)
	if err != nil {
		tb.Fatalf("decode payload: %v", err)
	}
	return v
}

// TestTestamentOutlivesFrame: the arguments of add_testament are read from
// the CALL frame, which the transport reuses for the next one; the
// testament published later must hold them as they were.
func TestTestamentOutlivesFrame(t *testing.T) {
	for _, ser := range wamp.Serializations {
		t.Run(ser.String(), func(t *testing.T) {
			r := newRealm(t, realm.Config{Name: "realm1"})
			w := join(t, r, ser)
			willSub := w.subscribe("com.example.will")
			d := join(t, r, ser)
			long := strings.Repeat("testament ", 40)
			frame := encode(t, ser, &wamp.Message{
				Type: wamp.CALL, Request: 1, Details: wamp.Dict{}, URI: "wamp.session.add_testament",
				Args:   wamp.List("com.example.will", []any{"args", long}, map[string]any{"key": long}),
				Kwargs: wamp.KW(map[string]any{"publish_options": map[string]any{"exclude_authrole": []any{"nobody"}}}),
			})
			var m wamp.Message
			if err := codec.For(ser).Decode(frame, &m); err != nil {
				t.Fatal(err)
			}
			// Handled on this goroutine while the session's reader waits
			// in Read, as the benchmarks do.
			if err := r.Handle(d.s, &m); err != nil {
				t.Fatal(err)
			}
			for i := range frame {
				frame[i] = 0xff
			}
			if res := d.recv(); res.Type != wamp.RESULT || res.Request != 1 {
				t.Fatalf("add_testament: got %v %q", res, res.URI)
			}
			d.end()

			ev := w.event()
			if ev.ID != willSub {
				t.Fatalf("got EVENT on subscription %d, want the testament on %d", ev.ID, willSub)
			}
			if got := value(t, ev.Args); !slices.Equal(asList(got), []any{"args", long}) {
				t.Errorf("testament args %v", got)
			}
			if got, _ := value(t, ev.Kwargs).(map[string]any); got["key"] != long || len(got) != 1 {
				t.Errorf("testament kwargs %v", got)
			}
		})
	}
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

// TestTestamentBound: a session holds at most 64 testaments per scope.
func TestTestamentBound(t *testing.T) {
	r := newRealm(t, realm.Config{Name: "realm1"})
	p := join(t, r, wamp.JSON)
	add := func(scope string) *wamp.Message {
		return p.call("wamp.session.add_testament", []any{"com.example.will", []any{scope}}, map[string]any{"scope": scope})
	}
	for i := range 64 {
		if m := add("destroyed"); m.Type != wamp.RESULT {
			t.Fatalf("testament %d refused: %v %q", i+1, m, m.URI)
		}
	}
	if m := add("destroyed"); m.Type != wamp.ERROR || m.URI != wamp.ErrInvalidArgument {
		t.Fatalf("testament 65: got %v %q, want ERROR %s", m, m.URI, wamp.ErrInvalidArgument)
	}
	if m := add("detached"); m.Type != wamp.RESULT {
		t.Fatalf("the other scope is bounded apart, but refused: %v %q", m, m.URI)
	}
	p.mustCall("wamp.session.flush_testaments", nil, nil)
	if m := add("destroyed"); m.Type != wamp.RESULT {
		t.Fatalf("after a flush: %v %q", m, m.URI)
	}
}

// TestTestamentTopicStrict: in a realm with strict URIs, a testament topic
// the broker would refuse is refused when added, not dropped when the
// session goes.
func TestTestamentTopicStrict(t *testing.T) {
	r := newRealm(t, realm.Config{Name: "realm1", StrictURIs: true})
	p := join(t, r, wamp.JSON)
	p.callError("wamp.session.add_testament", []any{"com.example.Upper"}, nil, wamp.ErrInvalidURI)
	p.callError("wamp.session.add_testament", []any{"com.example.with-dash"}, nil, wamp.ErrInvalidURI)
	p.mustCall("wamp.session.add_testament", []any{"com.example.lower_case"}, nil)
}

// TestKillAllRacesLeaving: sessions that leave on their own while kill_all
// runs either leave as usual (on_leave) or are killed quietly (counted),
// never both and never neither, and the killed ones publish nothing.
func TestKillAllRacesLeaving(t *testing.T) {
	const n = 32
	r := newRealm(t, realm.Config{Name: "realm1"})
	caller := join(t, r, wamp.JSON)
	caller.subscribe(wamp.MetaSessionOnLeave)
	willSub := caller.subscribe("com.example.will")
	markerSub := caller.subscribe("com.example.marker")
	victims := make([]*peer, n)
	for i := range victims {
		victims[i] = join(t, r, wamp.JSON)
		victims[i].mustCall("wamp.session.add_testament", []any{"com.example.will", []any{i}}, nil)
	}
	selfLeavers := map[wamp.ID]bool{}
	var wg sync.WaitGroup
	for _, v := range victims[:n/2] {
		selfLeavers[v.s.ID] = true
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = v.c.Close(transport.CloseNormal, "")
		}()
	}
	res := caller.mustCall("wamp.session.kill_all", nil, nil)
	wg.Wait()
	killed, ok := wamp.AsInt(asList(value(t, res.Args))[0])
	if !ok || killed < n/2 || killed > n {
		t.Fatalf("kill_all = %v, want between %d and %d", value(t, res.Args), n/2, n)
	}
	for _, v := range victims {
		v.end()
	}

	// Every victim's session is over, so all it published came before the
	// marker.
	left, wills := 0, 0
	for _, ev := range caller.untilMarker("com.example.marker", markerSub) {
		args := asList(value(t, ev.Args))
		if ev.ID == willSub {
			wills++
			continue
		}
		id, _ := wamp.AsID(args[0])
		if !selfLeavers[id] {
			t.Errorf("on_leave for session %d, which kill_all closed", id)
		}
		left++
	}
	if int64(left)+killed != n {
		t.Errorf("%d sessions left with on_leave and kill_all closed %d: want %d in all", left, killed, n)
	}
	if wills != left {
		t.Errorf("%d testaments published for %d sessions that left on their own", wills, left)
	}
	if st := r.Stats(); st.Sessions != 1 {
		t.Errorf("%d sessions in the realm, want only the caller", st.Sessions)
	}
}

// TestSubscriptionMetaEventsUnderChurn: sessions subscribing, unsubscribing
// and leaving concurrently produce, for every subscription, on_create, then
// on_subscribe and on_unsubscribe for sessions in and out of it, then
// on_delete once it is empty.
func TestSubscriptionMetaEventsUnderChurn(t *testing.T) {
	const workers, rounds = 8, 25
	r := newRealm(t, realm.Config{Name: "realm1"})
	w := join(t, r, wamp.JSON)
	topicOf := map[wamp.ID]string{}
	for _, s := range []string{"on_create", "on_subscribe", "on_unsubscribe", "on_delete"} {
		topicOf[w.subscribe(wamp.URI("wamp.subscription."+s))] = s
	}
	markerSub := w.subscribe("com.example.marker")

	peers := make([]*peer, workers)
	for i := range peers {
		peers[i] = join(t, r, wamp.JSON)
	}
	topics := []struct {
		uri   wamp.URI
		match string
	}{{"com.example.churn.a", "exact"}, {"com.example.churn", "prefix"}, {"com.example..a", "wildcard"}}
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for i, p := range peers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- churn(p, i, rounds, i < workers/2, topics)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	// Half the workers leave with their last subscription still open, and
	// leave it so.
	for _, p := range peers[:workers/2] {
		p.end()
	}

	type state struct {
		live    bool
		members map[wamp.ID]bool
	}
	subs := map[wamp.ID]*state{}
	counts := map[string]int{}
	for _, ev := range w.untilMarker("com.example.marker", markerSub) {
		kind := topicOf[ev.ID]
		args := asList(value(t, ev.Args))
		sess, _ := wamp.AsID(args[0])
		if sess == w.s.ID {
			continue
		}
		counts[kind]++
		var id wamp.ID
		if kind == "on_create" {
			d, _ := args[1].(map[string]any)
			id, _ = wamp.AsID(d["id"])
		} else {
			id, _ = wamp.AsID(args[1])
		}
		st := subs[id]
		if st == nil {
			st = &state{}
			subs[id] = st
		}
		bad := ""
		switch kind {
		case "on_create":
			if st.live {
				bad = "on_create of a live subscription"
			}
			st.live, st.members = true, map[wamp.ID]bool{}
		case "on_subscribe":
			if !st.live || st.members[sess] {
				bad = "on_subscribe before on_create or twice"
			}
			st.members[sess] = true
		case "on_unsubscribe":
			if !st.live || !st.members[sess] {
				bad = "on_unsubscribe of a non-subscriber"
			}
			delete(st.members, sess)
		case "on_delete":
			if !st.live || len(st.members) != 0 {
				bad = "on_delete of a subscription with subscribers or not live"
			}
			st.live = false
		default:
			bad = "unexpected event"
		}
		if bad != "" {
			t.Fatalf("%s: %s session %d subscription %d (state %+v)", bad, kind, sess, id, st)
		}
	}
	for id, st := range subs {
		if st.live {
			t.Errorf("subscription %d has no on_delete, subscribers %v", id, st.members)
		}
	}
	if want := workers * rounds; counts["on_subscribe"] != want || counts["on_unsubscribe"] != want {
		t.Errorf("%d on_subscribe and %d on_unsubscribe, want %d each", counts["on_subscribe"], counts["on_unsubscribe"], want)
	}
	if counts["on_create"] != counts["on_delete"] || counts["on_create"] < len(topics) {
		t.Errorf("%d on_create and %d on_delete, want as many, at least %d", counts["on_create"], counts["on_delete"], len(topics))
	}
	if d := w.s.Dropped(); d != 0 {
		t.Fatalf("the watcher dropped %d events", d)
	}
}

// churn subscribes p to the topics in turn, starting at the i-th, and
// unsubscribes each time, but the last time if keepLast. It ends with a
// call: its reply comes after every earlier message was handled, hooks
// included.
func churn(p *peer, i, rounds int, keepLast bool, topics []struct {
	uri   wamp.URI
	match string
}) error {
	for k := range rounds {
		tp := topics[(i+k)%len(topics)]
		r, err := p.requestErr(&wamp.Message{Type: wamp.SUBSCRIBE, Details: wamp.Dict{"match": tp.match}, URI: tp.uri})
		if err != nil {
			return err
		}
		if r.Type != wamp.SUBSCRIBED {
			return fmt.Errorf("SUBSCRIBE %s: %v %q", tp.uri, r, r.URI)
		}
		if k == rounds-1 && keepLast {
			break
		}
		u, err := p.requestErr(&wamp.Message{Type: wamp.UNSUBSCRIBE, ID: r.ID})
		if err != nil {
			return err
		}
		if u.Type != wamp.UNSUBSCRIBED {
			return fmt.Errorf("UNSUBSCRIBE %d: %v %q", r.ID, u, u.URI)
		}
	}
	r, err := p.requestErr(&wamp.Message{Type: wamp.CALL, Details: wamp.Dict{}, URI: "wamp.session.count"})
	if err == nil && r.Type != wamp.RESULT {
		err = errors.New("wamp.session.count failed")
	}
	return err
}
