package nexus_test

import (
	"fmt"
	"math"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/gammazero/nexus/v3/client"
	"github.com/gammazero/nexus/v3/wamp"

	"github.com/switchboard/switchboard/config"
	"github.com/switchboard/switchboard/internal/testutil"
	swamp "github.com/switchboard/switchboard/wamp"
)

// The meta API (advanced/meta_api_*.md, pubsub_testament.md,
// pubsub_event_history.md) with the nexus client. Each case runs in a realm
// of its own, so that session counts, kills and meta events belong to it
// alone while the cases run in parallel.

// metaCase is one meta API scenario.
type metaCase struct {
	name    string
	fn      func(t *testing.T, e metaEnv)
	history []config.History // the event history rules of the case's realm
}

// metaEnv is where a metaCase runs.
type metaEnv struct {
	url   string
	kind  string
	ser   serializer
	realm string // the case's realm
	peer  string // a second realm of the case's own, for isolation checks
}

// Topics of the history rules of the get_events case.
const (
	histTopic  = "com.example.meta.hist"
	histPrefix = "com.example.meta.histp"
	histLimit  = 3
)

var metaCases = []metaCase{
	{name: "session_queries", fn: testMetaSessionQueries},
	{name: "session_events", fn: testMetaSessionEvents},
	{name: "kill", fn: testMetaKill},
	{name: "kill_by_authid", fn: testMetaKillByAuthID},
	{name: "kill_by_authrole", fn: testMetaKillByAuthRole},
	{name: "kill_all", fn: testMetaKillAll},
	{name: "subscriptions", fn: testMetaSubscriptions},
	{name: "registrations", fn: testMetaRegistrations},
	{name: "get_events", fn: testMetaGetEvents, history: []config.History{
		{Topic: histTopic, Match: "exact", Limit: histLimit},
		{Topic: histPrefix, Match: "prefix", Limit: 2},
	}},
	{name: "testament_on_drop", fn: testMetaTestamentOnDrop},
	{name: "testament_on_goodbye", fn: testMetaTestamentOnGoodbye},
	{name: "flush_testaments", fn: testMetaFlushTestaments},
	{name: "bad_arguments", fn: testMetaBadArguments},
	{name: "realm_isolation", fn: testMetaRealmIsolation},
}

// metaConfig is testConfig plus two realms per meta case.
func metaConfig(t *testing.T) *config.Config {
	t.Helper()
	cfg := testConfig(t)
	for _, mc := range metaCases {
		name := swamp.URI("meta." + mc.name)
		cfg.Realms = append(cfg.Realms,
			config.Realm{Name: name, History: mc.history},
			config.Realm{Name: name + ".peer"})
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("config: %v", err)
	}
	return cfg
}

// TestMetaAPI runs the session, subscription and registration meta APIs,
// testaments and event history with the nexus client, over each transport
// with one serializer each, so that every transport and every serializer
// carries them.
func TestMetaAPI(t *testing.T) {
	for _, tc := range []struct {
		kind string
		ser  serializer
	}{
		{kindWS, serJSON},
		{kindTCP, serMsgpack},
		{kindUnix, serCBOR},
	} {
		t.Run(tc.kind+"/"+tc.ser.name, func(t *testing.T) {
			t.Parallel()
			r := startRouter(t, metaConfig(t))
			url := urlOf(t, r, tc.kind)
			for _, mc := range metaCases {
				t.Run(mc.name, func(t *testing.T) {
					t.Parallel()
					realm := "meta." + mc.name
					mc.fn(t, metaEnv{url: url, kind: tc.kind, ser: tc.ser, realm: realm, peer: realm + ".peer"})
				})
			}
		})
	}
}

// join joins the case's realm with the nexus client, closed at cleanup.
func (e metaEnv) join(t *testing.T) *client.Client { return e.joinRealm(t, e.realm) }

func (e metaEnv) joinRealm(t *testing.T, realm string) *client.Client {
	t.Helper()
	c, err := dial(e.url, e.ser, realm)
	if err != nil {
		t.Fatalf("join %s: %v", realm, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// transportType is what the session details name e's transport.
func (e metaEnv) transportType() string {
	if e.kind == kindWS {
		return "websocket"
	}
	return "rawsocket"
}

// leave closes c with GOODBYE and asserts that the router answered: it
// answers only once the session has left the realm, so everything the
// leaving caused (testaments, meta events) has been published.
func leave(t *testing.T, c *client.Client) {
	t.Helper()
	if err := c.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if c.RouterGoodbye() == nil {
		t.Fatal("the router did not answer GOODBYE")
	}
}

// authid is the authid the router gave c in WELCOME.
func authid(t *testing.T, c *client.Client) string {
	t.Helper()
	s, ok := wamp.AsString(c.RealmDetails()["authid"])
	if !ok || s == "" {
		t.Fatalf("WELCOME authid %v", c.RealmDetails()["authid"])
	}
	return s
}

// norm maps the values decoders may represent differently onto one form:
// integral numbers become int64, lists []any and dicts map[string]any.
func norm(v any) any {
	switch x := v.(type) {
	case nil, string, bool:
		return x
	case wamp.ID:
		return int64(x)
	case int:
		return int64(x)
	case int64:
		return x
	case uint64:
		if x <= math.MaxInt64 {
			return int64(x)
		}
		return x
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<63 {
			return int64(x)
		}
		return x
	case wamp.URI:
		return string(x)
	}
	if d, ok := wamp.AsDict(v); ok && d != nil {
		out := make(map[string]any, len(d))
		for k, x := range d {
			out[k] = norm(x)
		}
		return out
	}
	if l, ok := wamp.AsList(v); ok {
		out := make([]any, len(l))
		for i, x := range l {
			out[i] = norm(x)
		}
		return out
	}
	if n, ok := wamp.AsInt64(v); ok {
		return n
	}
	return v
}

func same(got, want any) bool { return reflect.DeepEqual(norm(got), norm(want)) }

// samePayload is same for arguments, where absent and empty are one.
func samePayload[T ~[]any | ~map[string]any](got, want T) bool {
	if len(got) == 0 && len(want) == 0 {
		return true
	}
	return same(got, want)
}

// metaCallArgs returns the arguments to send: an empty list rather than
// none where there are keyword arguments. nexus encodes a nil List followed
// by keyword arguments as null, and the router's codecs refuse a null
// Arguments as a protocol violation (wamp/codec, "args null").
func metaCallArgs(args wamp.List, kwargs wamp.Dict) wamp.List {
	if args == nil && kwargs != nil {
		return wamp.List{}
	}
	return args
}

// metaCall calls a meta procedure that must succeed and returns the
// positional results.
func metaCall(t *testing.T, c *client.Client, proc string, args wamp.List, kwargs wamp.Dict) wamp.List {
	t.Helper()
	res, err := call(t, c, proc, metaCallArgs(args, kwargs), kwargs)
	if err != nil {
		t.Fatalf("%s %v %v: %v", proc, args, kwargs, err)
	}
	return res.Arguments
}

// metaNone calls a procedure that returns nothing.
func metaNone(t *testing.T, c *client.Client, proc string, args wamp.List, kwargs wamp.Dict) {
	t.Helper()
	if res := metaCall(t, c, proc, args, kwargs); len(res) != 0 {
		t.Fatalf("%s %v %v returned %v, want nothing", proc, args, kwargs, res)
	}
}

// metaOne calls a procedure with exactly one positional result.
func metaOne(t *testing.T, c *client.Client, proc string, args wamp.List, kwargs wamp.Dict) any {
	t.Helper()
	res := metaCall(t, c, proc, args, kwargs)
	if len(res) != 1 {
		t.Fatalf("%s %v %v returned %v, want one result", proc, args, kwargs, res)
	}
	return res[0]
}

func metaInt(t *testing.T, c *client.Client, proc string, args wamp.List, kwargs wamp.Dict) int64 {
	t.Helper()
	v := metaOne(t, c, proc, args, kwargs)
	n, ok := norm(v).(int64)
	if !ok {
		t.Fatalf("%s %v returned %v (%T), want an integer", proc, args, v, v)
	}
	return n
}

func metaDict(t *testing.T, c *client.Client, proc string, args wamp.List, kwargs wamp.Dict) wamp.Dict {
	t.Helper()
	v := metaOne(t, c, proc, args, kwargs)
	d, ok := wamp.AsDict(v)
	if !ok || d == nil {
		t.Fatalf("%s %v returned %v (%T), want a dict", proc, args, v, v)
	}
	return d
}

// metaIDs calls a procedure whose result is a list of ids and returns them
// sorted; null is not a list.
func metaIDs(t *testing.T, c *client.Client, proc string, args wamp.List, kwargs wamp.Dict) []wamp.ID {
	t.Helper()
	return idsOf(t, metaOne(t, c, proc, args, kwargs), proc)
}

func idsOf(t *testing.T, v any, what string) []wamp.ID {
	t.Helper()
	l, ok := wamp.AsList(v)
	if !ok || v == nil {
		t.Fatalf("%s: %v (%T), want a list of ids", what, v, v)
	}
	ids := make([]wamp.ID, len(l))
	for i, x := range l {
		id, ok := wamp.AsID(x)
		if !ok {
			t.Fatalf("%s: element %v (%T) is not an id", what, x, x)
		}
		ids[i] = id
	}
	slices.Sort(ids)
	return ids
}

// metaIDOrNull returns the id a nullable-id procedure returned, 0 for null.
func metaIDOrNull(t *testing.T, c *client.Client, proc string, args wamp.List, kwargs wamp.Dict) wamp.ID {
	t.Helper()
	v := metaOne(t, c, proc, args, kwargs)
	if v == nil {
		return 0
	}
	id, ok := wamp.AsID(v)
	if !ok {
		t.Fatalf("%s %v returned %v (%T), want an id or null", proc, args, v, v)
	}
	return id
}

func sortedIDs(ids ...wamp.ID) []wamp.ID {
	ids = slices.Clone(ids)
	slices.Sort(ids)
	return ids
}

// metaErr calls a procedure that must fail with uri and a message.
func metaErr(t *testing.T, c *client.Client, proc string, args wamp.List, kwargs wamp.Dict, uri wamp.URI) {
	t.Helper()
	res, err := call(t, c, proc, metaCallArgs(args, kwargs), kwargs)
	if err == nil {
		t.Fatalf("%s %v %v returned %v, want ERROR %s", proc, args, kwargs, res.Arguments, uri)
	}
	rpcErr := wantRPCError(t, err, uri)
	if msg, _ := wamp.AsString(rpcErr.Err.Details["message"]); msg == "" {
		t.Errorf("%s %v %v: ERROR %s without a message: %v", proc, args, kwargs, uri, rpcErr.Err.Details)
	}
}

// alive asserts that c's session is still attached: a call made after the
// calls under test gets its RESULT, which would come after any GOODBYE they
// had queued for c.
func alive(t *testing.T, c *client.Client) {
	t.Helper()
	if _, err := call(t, c, "wamp.session.count", nil, nil); err != nil {
		t.Fatalf("session %d is gone: %v", c.ID(), err)
	}
}

// expectKilled waits for the router's GOODBYE to c and checks its reason
// and message ("" for none).
func expectKilled(t *testing.T, c *client.Client, reason wamp.URI, msg string) {
	t.Helper()
	receive(t, c.Done(), fmt.Sprintf("GOODBYE to session %d", c.ID()))
	g := c.RouterGoodbye()
	if g == nil {
		t.Fatalf("session %d ended without GOODBYE from the router", c.ID())
	}
	checkGoodbye(t, g, reason, msg)
}

func checkGoodbye(t testing.TB, g *wamp.Goodbye, reason wamp.URI, msg string) {
	t.Helper()
	if g.Reason != reason {
		t.Errorf("GOODBYE reason %q, want %q", g.Reason, reason)
	}
	got, has := g.Details["message"]
	switch {
	case msg == "" && has:
		t.Errorf("GOODBYE details %v carry a message; none was given", g.Details)
	case msg != "" && got != msg:
		t.Errorf("GOODBYE details %v, want message %q", g.Details, msg)
	}
}

// checkSessionDetails checks a session details dict (wamp.session.get,
// on_join) against the session c and its WELCOME.
func checkSessionDetails(t *testing.T, d wamp.Dict, c *client.Client, e metaEnv) {
	t.Helper()
	checkDetailsOf(t, d, c.ID(), c.RealmDetails(), e)
}

func checkDetailsOf(t *testing.T, d wamp.Dict, id wamp.ID, welcome wamp.Dict, e metaEnv) {
	t.Helper()
	var keys []string
	for k := range d {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if want := []string{"authid", "authmethod", "authprovider", "authrole", "session", "transport"}; !slices.Equal(keys, want) {
		t.Errorf("session details keys %v, want %v", keys, want)
	}
	if got, ok := wamp.AsID(d["session"]); !ok || got != id {
		t.Errorf("details session %v, want %d", d["session"], id)
	}
	for _, k := range []string{"authid", "authrole", "authmethod", "authprovider"} {
		s, ok := d[k].(string)
		if !ok || s == "" {
			t.Errorf("details %s = %v (%T), want a non-empty string", k, d[k], d[k])
			continue
		}
		if w, has := welcome[k]; has && w != s {
			t.Errorf("details %s = %q, WELCOME said %v", k, s, w)
		}
	}
	if d["authrole"] != "anonymous" || d["authmethod"] != "anonymous" {
		t.Errorf("details authrole %v authmethod %v, want anonymous", d["authrole"], d["authmethod"])
	}
	tr, ok := wamp.AsDict(d["transport"])
	if !ok || tr == nil {
		t.Fatalf("details transport %v (%T), want a dict", d["transport"], d["transport"])
	}
	if tr["type"] != e.transportType() || tr["serializer"] != e.ser.name {
		t.Errorf("details transport %v, want type %s serializer %s", tr, e.transportType(), e.ser.name)
	}
	if _, ok := tr["peer"].(string); !ok {
		t.Errorf("details transport peer %v (%T), want a string", tr["peer"], tr["peer"])
	}
}

// metaEvent is one event of subscribeAll.
type metaEvent struct {
	topic   string
	args    wamp.List
	kwargs  wamp.Dict
	details wamp.Dict
}

// session returns the session an event is about: its first argument, or
// the session of the details dict of on_join. 0 if none.
func (m metaEvent) session() wamp.ID {
	if len(m.args) == 0 {
		return 0
	}
	if d, ok := wamp.AsDict(m.args[0]); ok && d != nil {
		id, _ := wamp.AsID(d["session"])
		return id
	}
	id, _ := wamp.AsID(m.args[0])
	return id
}

// subscribeAll subscribes c to every topic with opts, all onto one channel:
// nexus runs event handlers one at a time in arrival order, so the channel
// holds the events of all the subscriptions in the order the router sent
// them. Events of pattern subscriptions carry their concrete topic.
func subscribeAll(t *testing.T, c *client.Client, opts wamp.Dict, topics ...string) <-chan metaEvent {
	t.Helper()
	ch := make(chan metaEvent, 4096)
	for _, topic := range topics {
		if err := c.Subscribe(topic, func(ev *wamp.Event) {
			m := metaEvent{topic: topic, args: ev.Arguments, kwargs: ev.ArgumentsKw, details: ev.Details}
			if s, ok := wamp.AsString(ev.Details["topic"]); ok {
				m.topic = s
			}
			ch <- m
		}, opts); err != nil {
			t.Fatalf("subscribe %s %v: %v", topic, opts, err)
		}
	}
	return ch
}

// nextEvent returns the next event not about one of the skip sessions.
func nextEvent(t *testing.T, ch <-chan metaEvent, what string, skip ...wamp.ID) metaEvent {
	t.Helper()
	for {
		ev := receive(t, ch, what)
		if !slices.Contains(skip, ev.session()) {
			return ev
		}
	}
}

// wantEvent checks an event's topic and positional arguments, and that it
// has no keyword arguments.
func wantEvent(t *testing.T, ev metaEvent, topic string, args ...any) {
	t.Helper()
	if ev.topic != topic || !same(ev.args, wamp.List(args)) || len(ev.kwargs) != 0 {
		t.Fatalf("got event %s %v %v, want %s %v", ev.topic, ev.args, ev.kwargs, topic, args)
	}
}

// untilMarker publishes a marker that c itself receives and returns the
// events of ch before it. c must be subscribed to marker on ch. Everything
// published or emitted to c before the publication is queued before the
// marker, so the result is all of it.
func untilMarker(t *testing.T, c *client.Client, ch <-chan metaEvent, marker string) []metaEvent {
	t.Helper()
	if err := c.Publish(marker, wamp.Dict{"acknowledge": true, "exclude_me": false}, wamp.List{"marker"}, nil); err != nil {
		t.Fatalf("publish marker: %v", err)
	}
	var got []metaEvent
	for {
		ev := receive(t, ch, "the marker event")
		if ev.topic == marker {
			return got
		}
		got = append(got, ev)
	}
}

// rawSession is a session of the raw client. It shows when the router has
// let a session go: after the router's GOODBYE it answers GOODBYE and then
// sees the connection end, which the router does only after the session
// has left the realm, meta events and testaments published.
type rawSession struct {
	*rawClient
	id      wamp.ID
	welcome wamp.Dict
}

func (e metaEnv) rawJoin(t *testing.T) *rawSession {
	t.Helper()
	c := dialRaw(t, e.url, e.ser)
	c.send(&wamp.Hello{Realm: wamp.URI(e.realm), Details: helloDetails()})
	m := c.recv()
	w, ok := m.(*wamp.Welcome)
	if !ok {
		t.Fatalf("after HELLO got %v %+v, want WELCOME", m.MessageType(), m)
	}
	return &rawSession{rawClient: c, id: w.ID, welcome: w.Details}
}

// call makes a CALL that must succeed and returns the RESULT.
func (s *rawSession) call(proc string, args wamp.List, kwargs wamp.Dict) *wamp.Result {
	s.t.Helper()
	req := s.nextID()
	s.send(&wamp.Call{Request: req, Options: wamp.Dict{}, Procedure: wamp.URI(proc), Arguments: args, ArgumentsKw: kwargs})
	m := s.recv()
	r, ok := m.(*wamp.Result)
	if !ok || r.Request != req {
		s.t.Fatalf("after CALL %s %v %v got %v %+v, want RESULT %d", proc, args, kwargs, m.MessageType(), m, req)
	}
	return r
}

// expectKilled expects the router's GOODBYE, answers it and expects the
// connection to end.
func (s *rawSession) expectKilled(reason wamp.URI, msg string) {
	s.t.Helper()
	m := s.recv()
	g, ok := m.(*wamp.Goodbye)
	if !ok {
		s.t.Fatalf("session %d got %v %+v, want GOODBYE %s", s.id, m.MessageType(), m, reason)
	}
	checkGoodbye(s.t, g, reason, msg)
	s.send(&wamp.Goodbye{Details: wamp.Dict{}, Reason: wamp.CloseGoodbyeAndOut})
	s.expectClosed()
}

func testMetaSessionQueries(t *testing.T, e metaEnv) {
	a, b := e.join(t), e.join(t)
	both := sortedIDs(a.ID(), b.ID())
	if n := metaInt(t, a, "wamp.session.count", nil, nil); n != 2 {
		t.Errorf("count = %d, want 2", n)
	}
	if got := metaIDs(t, a, "wamp.session.list", nil, nil); !slices.Equal(got, both) {
		t.Errorf("list = %v, want %v", got, both)
	}
	for _, f := range []struct {
		filter any
		want   []wamp.ID
	}{
		{wamp.List{"anonymous"}, both},
		{wamp.List{"admin"}, []wamp.ID{}},
		{wamp.List{"admin", "anonymous"}, both},
		{wamp.List{}, []wamp.ID{}},
		{nil, both}, // null: no filter
	} {
		args := wamp.List{f.filter}
		if n := metaInt(t, a, "wamp.session.count", args, nil); n != int64(len(f.want)) {
			t.Errorf("count(%v) = %d, want %d", f.filter, n, len(f.want))
		}
		if got := metaIDs(t, a, "wamp.session.list", args, nil); !slices.Equal(got, f.want) {
			t.Errorf("list(%v) = %v, want %v", f.filter, got, f.want)
		}
	}

	for _, c := range []*client.Client{a, b} {
		checkSessionDetails(t, metaDict(t, a, "wamp.session.get", wamp.List{c.ID()}, nil), c, e)
	}

	// Sessions of another realm are not in this one.
	other := e.joinRealm(t, e.peer)
	metaErr(t, a, "wamp.session.get", wamp.List{other.ID()}, nil, "wamp.error.no_such_session")
	if got := metaIDs(t, other, "wamp.session.list", nil, nil); !slices.Equal(got, []wamp.ID{other.ID()}) {
		t.Errorf("list in %s = %v, want only %d", e.peer, got, other.ID())
	}

	leave(t, b)
	metaErr(t, a, "wamp.session.get", wamp.List{b.ID()}, nil, "wamp.error.no_such_session")
	if n := metaInt(t, a, "wamp.session.count", nil, nil); n != 1 {
		t.Errorf("count after a session left = %d, want 1", n)
	}
	if got := metaIDs(t, a, "wamp.session.list", nil, nil); !slices.Equal(got, []wamp.ID{a.ID()}) {
		t.Errorf("list after a session left = %v, want %v", got, []wamp.ID{a.ID()})
	}
}

func testMetaSessionEvents(t *testing.T, e metaEnv) {
	w := e.join(t)
	ch := subscribeAll(t, w, nil, "wamp.session.on_join", "wamp.session.on_leave")

	x := e.join(t)
	ev := receive(t, ch, "on_join")
	if ev.topic != "wamp.session.on_join" || len(ev.args) != 1 || len(ev.kwargs) != 0 {
		t.Fatalf("got %s %v %v, want on_join with one argument", ev.topic, ev.args, ev.kwargs)
	}
	d, ok := wamp.AsDict(ev.args[0])
	if !ok || d == nil {
		t.Fatalf("on_join argument %v (%T), want a dict", ev.args[0], ev.args[0])
	}
	checkSessionDetails(t, d, x, e)
	if got := metaDict(t, w, "wamp.session.get", wamp.List{x.ID()}, nil); !same(d, got) {
		t.Errorf("on_join details %v differ from wamp.session.get %v", d, got)
	}

	leave(t, x)
	wantEvent(t, receive(t, ch, "on_leave"), "wamp.session.on_leave", x.ID(), authid(t, x), "anonymous")

	// A session whose connection drops, without GOODBYE.
	r := e.rawJoin(t)
	ev = receive(t, ch, "on_join of the raw session")
	if ev.topic != "wamp.session.on_join" || ev.session() != r.id {
		t.Fatalf("got %s %v, want on_join of %d", ev.topic, ev.args, r.id)
	}
	d, _ = wamp.AsDict(ev.args[0])
	checkDetailsOf(t, d, r.id, r.welcome, e)
	_ = r.nc.Close()
	wantEvent(t, receive(t, ch, "on_leave of the raw session"), "wamp.session.on_leave", r.id, r.welcome["authid"], "anonymous")
}

func testMetaKill(t *testing.T, e metaEnv) {
	caller := e.join(t)
	leaves := subscribeAll(t, caller, nil, "wamp.session.on_leave")

	v1 := e.join(t)
	metaNone(t, caller, "wamp.session.kill", wamp.List{v1.ID()}, nil)
	expectKilled(t, v1, "wamp.close.killed", "")
	_ = v1.Close()
	wantEvent(t, receive(t, leaves, "on_leave of the killed session"), "wamp.session.on_leave", v1.ID(), authid(t, v1), "anonymous")

	v2 := e.join(t)
	metaNone(t, caller, "wamp.session.kill", wamp.List{v2.ID()}, wamp.Dict{"reason": "com.example.kicked", "message": "enough"})
	expectKilled(t, v2, "com.example.kicked", "enough")

	// Only other sessions of the realm can be killed.
	metaErr(t, caller, "wamp.session.kill", wamp.List{caller.ID()}, nil, "wamp.error.no_such_session")
	metaErr(t, caller, "wamp.session.kill", wamp.List{v1.ID()}, nil, "wamp.error.no_such_session")
	other := e.joinRealm(t, e.peer)
	metaErr(t, caller, "wamp.session.kill", wamp.List{other.ID()}, nil, "wamp.error.no_such_session")
	alive(t, other)

	// A bad reason or message kills nobody.
	v3 := e.join(t)
	for _, reason := range []any{"not a uri", "", 42, "com..example", "com.example#x"} {
		metaErr(t, caller, "wamp.session.kill", wamp.List{v3.ID()}, wamp.Dict{"reason": reason}, "wamp.error.invalid_uri")
	}
	metaErr(t, caller, "wamp.session.kill", wamp.List{v3.ID()}, wamp.Dict{"message": 42}, "wamp.error.invalid_argument")
	alive(t, v3)
	alive(t, caller)
}

func testMetaKillByAuthID(t *testing.T, e metaEnv) {
	caller, v1, v2 := e.join(t), e.join(t), e.join(t)
	if got := metaIDs(t, caller, "wamp.session.kill_by_authid", wamp.List{authid(t, v1)}, nil); !slices.Equal(got, []wamp.ID{v1.ID()}) {
		t.Fatalf("kill_by_authid(%s) = %v, want [%d]", authid(t, v1), got, v1.ID())
	}
	expectKilled(t, v1, "wamp.close.killed", "")
	alive(t, v2)

	// The caller is never among the killed.
	if got := metaIDs(t, caller, "wamp.session.kill_by_authid", wamp.List{authid(t, caller)}, nil); len(got) != 0 {
		t.Fatalf("kill_by_authid(own authid) = %v, want []", got)
	}
	alive(t, caller)
	if got := metaIDs(t, caller, "wamp.session.kill_by_authid", wamp.List{"nobody"}, nil); len(got) != 0 {
		t.Fatalf("kill_by_authid(nobody) = %v, want []", got)
	}

	metaErr(t, caller, "wamp.session.kill_by_authid", wamp.List{authid(t, v2)}, wamp.Dict{"reason": "bad uri"}, "wamp.error.invalid_uri")
	alive(t, v2)
	got := metaIDs(t, caller, "wamp.session.kill_by_authid", wamp.List{authid(t, v2)}, wamp.Dict{"reason": "com.example.out", "message": "bye"})
	if !slices.Equal(got, []wamp.ID{v2.ID()}) {
		t.Fatalf("kill_by_authid(%s) = %v, want [%d]", authid(t, v2), got, v2.ID())
	}
	expectKilled(t, v2, "com.example.out", "bye")
}

func testMetaKillByAuthRole(t *testing.T, e metaEnv) {
	caller, v1, v2 := e.join(t), e.join(t), e.join(t)
	if n := metaInt(t, caller, "wamp.session.kill_by_authrole", wamp.List{"admin"}, nil); n != 0 {
		t.Fatalf("kill_by_authrole(admin) = %d, want 0", n)
	}
	alive(t, v1)
	metaErr(t, caller, "wamp.session.kill_by_authrole", wamp.List{"anonymous"}, wamp.Dict{"reason": 5}, "wamp.error.invalid_uri")
	alive(t, v1)
	alive(t, v2)

	if n := metaInt(t, caller, "wamp.session.kill_by_authrole", wamp.List{"anonymous"}, wamp.Dict{"message": "everyone out"}); n != 2 {
		t.Fatalf("kill_by_authrole(anonymous) = %d, want 2 (the caller is spared)", n)
	}
	expectKilled(t, v1, "wamp.close.killed", "everyone out")
	expectKilled(t, v2, "wamp.close.killed", "everyone out")
	alive(t, caller)
	_, _ = v1.Close(), v2.Close()
	testutil.CheckFor(t, bound, func() error {
		if got := metaIDs(t, caller, "wamp.session.list", nil, nil); !slices.Equal(got, []wamp.ID{caller.ID()}) {
			return fmt.Errorf("sessions %v, want only the caller %d", got, caller.ID())
		}
		return nil
	})
}

func testMetaKillAll(t *testing.T, e metaEnv) {
	const will, marker = "com.example.meta.will", "com.example.meta.marker"
	caller := e.join(t)
	ch := subscribeAll(t, caller, nil, "wamp.session.on_leave", will, marker)

	// The probe: a session killed alone leaves with its testament and
	// on_leave, and they reach the caller before its marker.
	ctl := e.rawJoin(t)
	ctl.call("wamp.session.add_testament", wamp.List{will, wamp.List{"ctl"}}, nil)
	metaNone(t, caller, "wamp.session.kill", wamp.List{ctl.id}, nil)
	ctl.expectKilled("wamp.close.killed", "")
	got := untilMarker(t, caller, ch, marker)
	if len(got) != 2 {
		t.Fatalf("after a kill the caller got %v, want the testament and on_leave", got)
	}
	wantEvent(t, got[0], will, "ctl")
	wantEvent(t, got[1], "wamp.session.on_leave", ctl.id, ctl.welcome["authid"], "anonymous")

	// kill_all: the same sessions leave without either.
	victims := []*rawSession{e.rawJoin(t), e.rawJoin(t)}
	for i, v := range victims {
		v.call("wamp.session.add_testament", wamp.List{will, wamp.List{"destroyed", i}}, nil)
		v.call("wamp.session.add_testament", wamp.List{will, wamp.List{"detached", i}}, wamp.Dict{"scope": "detached"})
	}
	// With a bad reason or message it kills nobody: a victim's next call
	// gets its RESULT, where a GOODBYE would have come first.
	metaErr(t, caller, "wamp.session.kill_all", nil, wamp.Dict{"reason": "no good"}, "wamp.error.invalid_uri")
	metaErr(t, caller, "wamp.session.kill_all", nil, wamp.Dict{"message": false}, "wamp.error.invalid_argument")
	for _, v := range victims {
		v.call("wamp.session.count", nil, nil)
	}
	if n := metaInt(t, caller, "wamp.session.kill_all", nil, wamp.Dict{"reason": "com.example.closed", "message": "maintenance"}); n != 2 {
		t.Fatalf("kill_all = %d, want 2", n)
	}
	for _, v := range victims {
		v.expectKilled("com.example.closed", "maintenance")
	}
	if got := untilMarker(t, caller, ch, marker); len(got) != 0 {
		t.Fatalf("kill_all published %v; it must publish no meta or testament events", got)
	}
	if got := metaIDs(t, caller, "wamp.session.list", nil, nil); !slices.Equal(got, []wamp.ID{caller.ID()}) {
		t.Fatalf("sessions after kill_all %v, want only the caller %d", got, caller.ID())
	}

	// Default reason, no message.
	v := e.rawJoin(t)
	if n := metaInt(t, caller, "wamp.session.kill_all", nil, nil); n != 1 {
		t.Fatalf("kill_all = %d, want 1", n)
	}
	v.expectKilled("wamp.close.killed", "")
	if got := untilMarker(t, caller, ch, marker); len(got) != 0 {
		t.Fatalf("kill_all published %v", got)
	}
	if n := metaInt(t, caller, "wamp.session.kill_all", nil, nil); n != 0 {
		t.Fatalf("kill_all alone in the realm = %d, want 0", n)
	}
	alive(t, caller)
}

// checkCreated checks the SubscriptionDetails or RegistrationDetails dict
// d: id, uri, match, created as an ISO 8601 time, and the want entries.
func checkCreated(t *testing.T, d any, id wamp.ID, uri, match string, want wamp.Dict) {
	t.Helper()
	dict, ok := wamp.AsDict(d)
	if !ok || dict == nil {
		t.Fatalf("details %v (%T), want a dict", d, d)
	}
	created, _ := dict["created"].(string)
	if _, err := time.Parse(time.RFC3339Nano, created); err != nil {
		t.Errorf("created %v: %v", dict["created"], err)
	}
	rest := wamp.Dict{}
	for k, v := range dict {
		if k != "created" {
			rest[k] = v
		}
	}
	exp := wamp.Dict{"id": id, "uri": uri, "match": match}
	for k, v := range want {
		exp[k] = v
	}
	if !same(rest, exp) {
		t.Errorf("details %v, want %v plus created", dict, exp)
	}
}

// wantCreate checks an on_create event of session sess for id.
func wantCreate(t *testing.T, ev metaEvent, topic string, sess, id wamp.ID, uri, match string, want wamp.Dict) {
	t.Helper()
	if ev.topic != topic || len(ev.args) != 2 || !same(ev.args[0], sess) || len(ev.kwargs) != 0 {
		t.Fatalf("got %s %v %v, want %s of session %d", ev.topic, ev.args, ev.kwargs, topic, sess)
	}
	checkCreated(t, ev.args[1], id, uri, match, want)
}

func testMetaSubscriptions(t *testing.T, e metaEnv) {
	const (
		onCreate      = "wamp.subscription.on_create"
		onSubscribe   = "wamp.subscription.on_subscribe"
		onUnsubscribe = "wamp.subscription.on_unsubscribe"
		onDelete      = "wamp.subscription.on_delete"
		exact         = "com.example.meta.sub.a.b"
		prefix        = "com.example.meta.sub.a"
		wildcard      = "com.example.meta.sub..b"
	)
	w := e.join(t)
	ch := subscribeAll(t, w, nil, onCreate, onSubscribe, onUnsubscribe, onDelete)
	next := func(what string) metaEvent { t.Helper(); return nextEvent(t, ch, what, w.ID()) }
	var watcherSubs []wamp.ID
	for _, topic := range []string{onCreate, onSubscribe, onUnsubscribe, onDelete} {
		id, _ := w.SubscriptionID(topic)
		watcherSubs = append(watcherSubs, id)
	}
	noop := func(*wamp.Event) {}
	subscribe := func(c *client.Client, topic, match string) wamp.ID {
		t.Helper()
		if err := c.Subscribe(topic, noop, wamp.Dict{"match": match}); err != nil {
			t.Fatalf("subscribe %s %s: %v", match, topic, err)
		}
		id, _ := c.SubscriptionID(topic)
		return id
	}

	s1, s2 := e.join(t), e.join(t)
	subID := subscribe(s1, exact, "exact")
	wantCreate(t, next("on_create"), onCreate, s1.ID(), subID, exact, "exact", nil)
	wantEvent(t, next("on_subscribe"), onSubscribe, s1.ID(), subID)
	if id := subscribe(s2, exact, "exact"); id != subID {
		t.Fatalf("second subscriber got subscription %d, want the shared %d", id, subID)
	}
	wantEvent(t, next("on_subscribe"), onSubscribe, s2.ID(), subID)
	pID := subscribe(s2, prefix, "prefix")
	wantCreate(t, next("on_create"), onCreate, s2.ID(), pID, prefix, "prefix", nil)
	wantEvent(t, next("on_subscribe"), onSubscribe, s2.ID(), pID)
	wID := subscribe(s1, wildcard, "wildcard")
	wantCreate(t, next("on_create"), onCreate, s1.ID(), wID, wildcard, "wildcard", nil)
	wantEvent(t, next("on_subscribe"), onSubscribe, s1.ID(), wID)

	lists := metaDict(t, w, "wamp.subscription.list", nil, nil)
	for k, want := range map[string][]wamp.ID{
		"exact":    sortedIDs(append(slices.Clone(watcherSubs), subID)...),
		"prefix":   {pID},
		"wildcard": {wID},
	} {
		if got := idsOf(t, lists[k], "list."+k); !slices.Equal(got, want) {
			t.Errorf("list %s = %v, want %v", k, got, want)
		}
	}
	if len(lists) != 3 {
		t.Errorf("list = %v, want exact, prefix and wildcard only", lists)
	}

	for _, l := range []struct {
		args wamp.List
		want wamp.ID
	}{
		{wamp.List{exact}, subID},
		{wamp.List{exact, wamp.Dict{}}, subID},
		{wamp.List{exact, wamp.Dict{"match": "exact"}}, subID},
		{wamp.List{exact, wamp.Dict{"match": "prefix"}}, 0},
		{wamp.List{prefix, wamp.Dict{"match": "prefix"}}, pID},
		{wamp.List{prefix}, 0},
		{wamp.List{wildcard, wamp.Dict{"match": "wildcard"}}, wID},
		{wamp.List{wildcard}, 0},
		{wamp.List{"com.example.meta.none"}, 0},
	} {
		if got := metaIDOrNull(t, w, "wamp.subscription.lookup", l.args, nil); got != l.want {
			t.Errorf("lookup %v = %d, want %d (0: null)", l.args, got, l.want)
		}
	}

	for _, m := range []struct {
		topic string
		want  []wamp.ID
	}{
		{exact, sortedIDs(subID, pID, wID)},
		{prefix + ".c", []wamp.ID{pID}},
		{prefix + "x", []wamp.ID{pID}}, // prefix matching is by string
		{"com.example.meta.sub.x.b", []wamp.ID{wID}},
	} {
		if got := metaIDs(t, w, "wamp.subscription.match", wamp.List{m.topic}, nil); !slices.Equal(got, m.want) {
			t.Errorf("match %s = %v, want %v", m.topic, got, m.want)
		}
	}
	if v := metaOne(t, w, "wamp.subscription.match", wamp.List{"com.other.topic"}, nil); v != nil {
		t.Errorf("match of an unsubscribed topic = %v, want null", v)
	}

	checkCreated(t, metaDict(t, w, "wamp.subscription.get", wamp.List{subID}, nil), subID, exact, "exact", nil)
	checkCreated(t, metaDict(t, w, "wamp.subscription.get", wamp.List{pID}, nil), pID, prefix, "prefix", nil)
	checkCreated(t, metaDict(t, w, "wamp.subscription.get", wamp.List{wID}, nil), wID, wildcard, "wildcard", nil)
	for id, want := range map[wamp.ID][]wamp.ID{subID: sortedIDs(s1.ID(), s2.ID()), pID: {s2.ID()}, wID: {s1.ID()}} {
		if got := metaIDs(t, w, "wamp.subscription.list_subscribers", wamp.List{id}, nil); !slices.Equal(got, want) {
			t.Errorf("list_subscribers(%d) = %v, want %v", id, got, want)
		}
		if n := metaInt(t, w, "wamp.subscription.count_subscribers", wamp.List{id}, nil); n != int64(len(want)) {
			t.Errorf("count_subscribers(%d) = %d, want %d", id, n, len(want))
		}
	}
	unknown := wamp.ID(1<<53 - 11)
	for _, proc := range []string{"wamp.subscription.get", "wamp.subscription.list_subscribers", "wamp.subscription.count_subscribers"} {
		metaErr(t, w, proc, wamp.List{unknown}, nil, "wamp.error.no_such_subscription")
	}

	// Unsubscribing: the last one deletes.
	if err := s2.Unsubscribe(exact); err != nil {
		t.Fatal(err)
	}
	wantEvent(t, next("on_unsubscribe"), onUnsubscribe, s2.ID(), subID)
	if n := metaInt(t, w, "wamp.subscription.count_subscribers", wamp.List{subID}, nil); n != 1 {
		t.Errorf("count_subscribers after one left = %d, want 1", n)
	}
	if err := s1.Unsubscribe(exact); err != nil {
		t.Fatal(err)
	}
	wantEvent(t, next("on_unsubscribe"), onUnsubscribe, s1.ID(), subID)
	wantEvent(t, next("on_delete"), onDelete, s1.ID(), subID)
	metaErr(t, w, "wamp.subscription.get", wamp.List{subID}, nil, "wamp.error.no_such_subscription")
	if got := metaIDOrNull(t, w, "wamp.subscription.lookup", wamp.List{exact}, nil); got != 0 {
		t.Errorf("lookup of a deleted subscription = %d, want null", got)
	}

	// Leaving: a session goes from its subscriptions, and the last one
	// deletes, whether it says GOODBYE or its connection drops.
	leave(t, s2)
	wantEvent(t, next("on_unsubscribe"), onUnsubscribe, s2.ID(), pID)
	wantEvent(t, next("on_delete"), onDelete, s2.ID(), pID)
	_ = s1.Close()
	wantEvent(t, next("on_unsubscribe"), onUnsubscribe, s1.ID(), wID)
	wantEvent(t, next("on_delete"), onDelete, s1.ID(), wID)

	// Nothing else came in between: the next change is the next event.
	s3 := e.join(t)
	lastID := subscribe(s3, "com.example.meta.last", "exact")
	wantCreate(t, next("on_create"), onCreate, s3.ID(), lastID, "com.example.meta.last", "exact", nil)
}

func testMetaRegistrations(t *testing.T, e metaEnv) {
	const (
		onCreate     = "wamp.registration.on_create"
		onRegister   = "wamp.registration.on_register"
		onUnregister = "wamp.registration.on_unregister"
		onDelete     = "wamp.registration.on_delete"
		exact        = "com.example.meta.proc.a.b"
		prefix       = "com.example.meta.proc.a"
		wildcard     = "com.example.meta.proc..b"
	)
	w := e.join(t)
	ch := subscribeAll(t, w, nil, onCreate, onRegister, onUnregister, onDelete)
	next := func(what string) metaEvent { t.Helper(); return nextEvent(t, ch, what, w.ID()) }
	register := func(c *client.Client, proc string, opts wamp.Dict) wamp.ID {
		t.Helper()
		if err := c.Register(proc, tagged(proc), opts); err != nil {
			t.Fatalf("register %s %v: %v", proc, opts, err)
		}
		id, _ := c.RegistrationID(proc)
		return id
	}

	c1, c2 := e.join(t), e.join(t)
	rr := wamp.Dict{"invoke": "roundrobin"}
	regID := register(c1, exact, rr)
	wantCreate(t, next("on_create"), onCreate, c1.ID(), regID, exact, "exact", wamp.Dict{"invoke": "roundrobin"})
	wantEvent(t, next("on_register"), onRegister, c1.ID(), regID)
	if id := register(c2, exact, rr); id != regID {
		t.Fatalf("second callee got registration %d, want the shared %d", id, regID)
	}
	wantEvent(t, next("on_register"), onRegister, c2.ID(), regID)
	pID := register(c2, prefix, wamp.Dict{"match": "prefix"})
	wantCreate(t, next("on_create"), onCreate, c2.ID(), pID, prefix, "prefix", wamp.Dict{"invoke": "single"})
	wantEvent(t, next("on_register"), onRegister, c2.ID(), pID)
	wID := register(c1, wildcard, wamp.Dict{"match": "wildcard", "invoke": "last"})
	wantCreate(t, next("on_create"), onCreate, c1.ID(), wID, wildcard, "wildcard", wamp.Dict{"invoke": "last"})
	wantEvent(t, next("on_register"), onRegister, c1.ID(), wID)

	// The router's own procedures are no registrations of the meta API.
	lists := metaDict(t, w, "wamp.registration.list", nil, nil)
	for k, want := range map[string][]wamp.ID{"exact": {regID}, "prefix": {pID}, "wildcard": {wID}} {
		if got := idsOf(t, lists[k], "list."+k); !slices.Equal(got, want) {
			t.Errorf("list %s = %v, want %v", k, got, want)
		}
	}
	if len(lists) != 3 {
		t.Errorf("list = %v, want exact, prefix and wildcard only", lists)
	}

	for _, l := range []struct {
		args wamp.List
		want wamp.ID
	}{
		{wamp.List{exact}, regID},
		{wamp.List{exact, wamp.Dict{"match": "exact"}}, regID},
		{wamp.List{exact, wamp.Dict{"match": "prefix"}}, 0},
		{wamp.List{prefix, wamp.Dict{"match": "prefix"}}, pID},
		{wamp.List{prefix}, 0},
		{wamp.List{wildcard, wamp.Dict{"match": "wildcard"}}, wID},
		{wamp.List{"com.example.meta.none"}, 0},
		{wamp.List{"wamp.session.count"}, 0},
	} {
		if got := metaIDOrNull(t, w, "wamp.registration.lookup", l.args, nil); got != l.want {
			t.Errorf("lookup %v = %d, want %d (0: null)", l.args, got, l.want)
		}
	}
	for _, m := range []struct {
		uri  string
		want wamp.ID
	}{
		{exact, regID}, // exact beats prefix and wildcard
		{prefix + ".c", pID},
		{prefix + ".x.b", pID}, // prefix beats wildcard
		{"com.example.meta.proc.x.b", wID},
		{"com.other.proc", 0},
		{"wamp.session.count", 0},
	} {
		if got := metaIDOrNull(t, w, "wamp.registration.match", wamp.List{m.uri}, nil); got != m.want {
			t.Errorf("match %s = %d, want %d (0: null)", m.uri, got, m.want)
		}
	}

	checkCreated(t, metaDict(t, w, "wamp.registration.get", wamp.List{regID}, nil), regID, exact, "exact", wamp.Dict{"invoke": "roundrobin"})
	checkCreated(t, metaDict(t, w, "wamp.registration.get", wamp.List{pID}, nil), pID, prefix, "prefix", wamp.Dict{"invoke": "single"})
	checkCreated(t, metaDict(t, w, "wamp.registration.get", wamp.List{wID}, nil), wID, wildcard, "wildcard", wamp.Dict{"invoke": "last"})
	for id, want := range map[wamp.ID][]wamp.ID{regID: sortedIDs(c1.ID(), c2.ID()), pID: {c2.ID()}, wID: {c1.ID()}} {
		if got := metaIDs(t, w, "wamp.registration.list_callees", wamp.List{id}, nil); !slices.Equal(got, want) {
			t.Errorf("list_callees(%d) = %v, want %v", id, got, want)
		}
		if n := metaInt(t, w, "wamp.registration.count_callees", wamp.List{id}, nil); n != int64(len(want)) {
			t.Errorf("count_callees(%d) = %d, want %d", id, n, len(want))
		}
	}
	unknown := wamp.ID(1<<53 - 13)
	for _, proc := range []string{"wamp.registration.get", "wamp.registration.list_callees", "wamp.registration.count_callees"} {
		metaErr(t, w, proc, wamp.List{unknown}, nil, "wamp.error.no_such_registration")
	}

	if err := c2.Unregister(exact); err != nil {
		t.Fatal(err)
	}
	wantEvent(t, next("on_unregister"), onUnregister, c2.ID(), regID)
	if got := metaIDs(t, w, "wamp.registration.list_callees", wamp.List{regID}, nil); !slices.Equal(got, []wamp.ID{c1.ID()}) {
		t.Errorf("list_callees after one left = %v, want [%d]", got, c1.ID())
	}
	if err := c1.Unregister(exact); err != nil {
		t.Fatal(err)
	}
	wantEvent(t, next("on_unregister"), onUnregister, c1.ID(), regID)
	wantEvent(t, next("on_delete"), onDelete, c1.ID(), regID)
	metaErr(t, w, "wamp.registration.get", wamp.List{regID}, nil, "wamp.error.no_such_registration")
	if got := metaIDOrNull(t, w, "wamp.registration.match", wamp.List{exact}, nil); got != pID {
		t.Errorf("match %s after the exact registration went = %d, want the prefix %d", exact, got, pID)
	}

	leave(t, c2)
	wantEvent(t, next("on_unregister"), onUnregister, c2.ID(), pID)
	wantEvent(t, next("on_delete"), onDelete, c2.ID(), pID)
	_ = c1.Close()
	wantEvent(t, next("on_unregister"), onUnregister, c1.ID(), wID)
	wantEvent(t, next("on_delete"), onDelete, c1.ID(), wID)

	c3 := e.join(t)
	lastID := register(c3, "com.example.meta.last", nil)
	wantCreate(t, next("on_create"), onCreate, c3.ID(), lastID, "com.example.meta.last", "exact", wamp.Dict{"invoke": "single"})
}

// checkHistory checks get_events results against the wanted payload
// numbers, oldest first.
func checkHistory(t *testing.T, got any, sub wamp.ID, topic string, want ...int) {
	t.Helper()
	l, ok := wamp.AsList(got)
	if !ok || got == nil {
		t.Fatalf("get_events = %v (%T), want a list", got, got)
	}
	if len(l) != len(want) {
		t.Fatalf("get_events returned %d events %v, want %d", len(l), l, len(want))
	}
	pubs := map[wamp.ID]bool{}
	for i, x := range l {
		ev, ok := wamp.AsDict(x)
		if !ok || ev == nil {
			t.Fatalf("event %d: %v (%T), want a dict", i, x, x)
		}
		if !same(ev["subscription"], sub) {
			t.Errorf("event %d subscription %v, want %d", i, ev["subscription"], sub)
		}
		pub, ok := wamp.AsID(ev["publication"])
		if !ok || pubs[pub] {
			t.Errorf("event %d publication %v: not a new id", i, ev["publication"])
		}
		pubs[pub] = true
		ts, _ := ev["timestamp"].(string)
		if _, err := time.Parse(time.RFC3339Nano, ts); err != nil {
			t.Errorf("event %d timestamp %v: %v", i, ev["timestamp"], err)
		}
		details, ok := wamp.AsDict(ev["details"])
		if !ok || details == nil {
			t.Errorf("event %d details %v, want a dict", i, ev["details"])
		}
		if topic != "" && details["topic"] != topic+fmt.Sprintf(".t%d", want[i]) {
			t.Errorf("event %d details %v, want topic %s.t%d", i, details, topic, want[i])
		}
		if !same(ev["args"], wamp.List{want[i]}) || !same(ev["kwargs"], wamp.Dict{"i": want[i]}) {
			t.Errorf("event %d args %v kwargs %v, want [%d] {i: %d}", i, ev["args"], ev["kwargs"], want[i], want[i])
		}
	}
}

// historyPubs returns the publication ids of a get_events result.
func historyPubs(t *testing.T, got any) []wamp.ID {
	t.Helper()
	l, _ := wamp.AsList(got)
	var ids []wamp.ID
	for _, x := range l {
		ev, _ := wamp.AsDict(x)
		id, ok := wamp.AsID(ev["publication"])
		if !ok {
			t.Fatalf("get_events event %v has no publication id", x)
		}
		ids = append(ids, id)
	}
	return ids
}

func testMetaGetEvents(t *testing.T, e metaEnv) {
	c, pub := e.join(t), e.join(t)
	// History subscriptions exist from the start, subscribers or not.
	id := metaIDOrNull(t, c, "wamp.subscription.lookup", wamp.List{histTopic}, nil)
	if id == 0 {
		t.Fatalf("lookup %s = null, want the history subscription", histTopic)
	}
	if n := metaInt(t, c, "wamp.subscription.count_subscribers", wamp.List{id}, nil); n != 0 {
		t.Errorf("count_subscribers of the history subscription = %d, want 0", n)
	}
	checkHistory(t, metaOne(t, c, "wamp.subscription.get_events", wamp.List{id}, nil), id, "")

	publish := func(topic string, i int, opts wamp.Dict) {
		t.Helper()
		o := wamp.Dict{"acknowledge": true}
		for k, v := range opts {
			o[k] = v
		}
		if err := pub.Publish(topic, o, wamp.List{i}, wamp.Dict{"i": i}); err != nil {
			t.Fatalf("publish %s %d: %v", topic, i, err)
		}
	}
	for i := range histLimit + 2 {
		publish(histTopic, i, nil)
	}
	// Publications with black/white-lists are not kept.
	publish(histTopic, 99, wamp.Dict{"exclude": wamp.List{c.ID()}})

	get := func(args wamp.List, kwargs wamp.Dict) any {
		t.Helper()
		return metaOne(t, c, "wamp.subscription.get_events", args, kwargs)
	}
	checkHistory(t, get(wamp.List{id}, nil), id, "", 2, 3, 4)
	checkHistory(t, get(wamp.List{id, 2}, nil), id, "", 3, 4)
	checkHistory(t, get(wamp.List{id, 0}, nil), id, "", 2, 3, 4)
	checkHistory(t, get(wamp.List{id, 10}, nil), id, "", 2, 3, 4)
	checkHistory(t, get(wamp.List{id}, wamp.Dict{"limit": 1}), id, "", 4)

	// The specification's filters (advanced/pubsub_event_history.md).
	pubs := historyPubs(t, get(wamp.List{id}, nil))
	checkHistory(t, get(wamp.List{id}, wamp.Dict{"reverse": true}), id, "", 4, 3, 2)
	checkHistory(t, get(wamp.List{id}, wamp.Dict{"after_publication": pubs[0]}), id, "", 3, 4)
	checkHistory(t, get(wamp.List{id}, wamp.Dict{"after_publication": pubs[0], "limit": 1}), id, "", 3)
	checkHistory(t, get(wamp.List{id}, wamp.Dict{"before_publication": pubs[2], "reverse": true}), id, "", 3, 2)
	checkHistory(t, get(wamp.List{id}, wamp.Dict{"from_publication": pubs[1], "until_publication": pubs[1]}), id, "", 3)
	checkHistory(t, get(wamp.List{id}, wamp.Dict{"from_time": "2000-01-01T00:00:00Z"}), id, "", 2, 3, 4)
	checkHistory(t, get(wamp.List{id}, wamp.Dict{"until_time": "2000-01-01T00:00:00.000Z"}), id, "")
	checkHistory(t, get(wamp.List{id}, wamp.Dict{"before_time": "2999-01-01T00:00:00+02:00"}), id, "", 2, 3, 4)
	checkHistory(t, get(wamp.List{id}, wamp.Dict{"after_time": "2999-01-01T00:00:00Z"}), id, "")
	for _, kw := range []wamp.Dict{
		{"reverse": "yes"}, {"from_time": "yesterday"}, {"after_time": 5}, {"after_publication": -1},
		{"until_publication": "x"}, {"topic": 5}, {"topic": "not a uri"},
	} {
		metaErr(t, c, "wamp.subscription.get_events", wamp.List{id}, kw, "wamp.error.invalid_argument")
	}

	// A subscriber joins the history subscription.
	if err := c.Subscribe(histTopic, func(*wamp.Event) {}, nil); err != nil {
		t.Fatal(err)
	}
	if got, _ := c.SubscriptionID(histTopic); got != id {
		t.Errorf("subscribing to %s gave subscription %d, want the history one %d", histTopic, got, id)
	}

	pid := metaIDOrNull(t, c, "wamp.subscription.lookup", wamp.List{histPrefix, wamp.Dict{"match": "prefix"}}, nil)
	if pid == 0 {
		t.Fatalf("lookup prefix %s = null, want the history subscription", histPrefix)
	}
	for i := range 3 {
		publish(fmt.Sprintf("%s.t%d", histPrefix, i), i, nil)
	}
	checkHistory(t, get(wamp.List{pid}, nil), pid, histPrefix, 1, 2)
	checkHistory(t, get(wamp.List{pid}, wamp.Dict{"topic": histPrefix + ".t1"}), pid, histPrefix, 1)

	metaErr(t, c, "wamp.subscription.get_events", wamp.List{wamp.ID(1<<53 - 17)}, nil, "wamp.error.no_such_subscription")
	if err := c.Subscribe("com.example.meta.plain", func(*wamp.Event) {}, nil); err != nil {
		t.Fatal(err)
	}
	plain, _ := c.SubscriptionID("com.example.meta.plain")
	metaErr(t, c, "wamp.subscription.get_events", wamp.List{plain}, nil, "wamp.error.invalid_argument")
	metaErr(t, c, "wamp.subscription.get_events", wamp.List{id, -1}, nil, "wamp.error.invalid_argument")
	metaErr(t, c, "wamp.subscription.get_events", wamp.List{id}, wamp.Dict{"limit": "3"}, "wamp.error.invalid_argument")
	metaErr(t, c, "wamp.subscription.get_events", wamp.List{id, 1}, wamp.Dict{"limit": 1}, "wamp.error.invalid_argument")
}

const willTopic = "com.example.meta.will"

func testMetaTestamentOnDrop(t *testing.T, e metaEnv) {
	w := e.join(t)
	ch := subscribeAll(t, w, nil, willTopic, "wamp.session.on_leave")
	d := e.rawJoin(t)
	for _, c := range []struct {
		args   wamp.List
		kwargs wamp.Dict
	}{
		{wamp.List{willTopic, wamp.List{"first", 1}, wamp.Dict{"k": "v"}}, nil},
		{wamp.List{willTopic, wamp.List{"detached"}}, wamp.Dict{"scope": "detached"}},
		{wamp.List{willTopic, wamp.List{"second"}}, wamp.Dict{"scope": "destroyed"}},
		{wamp.List{willTopic, nil, wamp.Dict{"only": "kwargs"}}, nil},
		{wamp.List{willTopic}, nil},
	} {
		if r := d.call("wamp.session.add_testament", c.args, c.kwargs); len(r.Arguments) != 0 || len(r.ArgumentsKw) != 0 {
			t.Fatalf("add_testament returned %v %v, want nothing", r.Arguments, r.ArgumentsKw)
		}
	}
	_ = d.nc.Close() // no GOODBYE: the connection is lost

	// Detached scope first, then destroyed, each in the order added, and
	// all before on_leave.
	for _, want := range []struct {
		args   wamp.List
		kwargs wamp.Dict
	}{
		{wamp.List{"detached"}, nil},
		{wamp.List{"first", 1}, wamp.Dict{"k": "v"}},
		{wamp.List{"second"}, nil},
		{nil, wamp.Dict{"only": "kwargs"}},
		{nil, nil},
	} {
		ev := receive(t, ch, "testament event")
		if ev.topic != willTopic || !samePayload(ev.args, want.args) || !samePayload(ev.kwargs, want.kwargs) {
			t.Fatalf("got %s %v %v, want testament %v %v", ev.topic, ev.args, ev.kwargs, want.args, want.kwargs)
		}
		if _, ok := ev.details["publisher"]; ok {
			t.Errorf("testament event discloses its publisher without disclose_me: %v", ev.details)
		}
	}
	wantEvent(t, receive(t, ch, "on_leave"), "wamp.session.on_leave", d.id, d.welcome["authid"], "anonymous")
}

func testMetaTestamentOnGoodbye(t *testing.T, e metaEnv) {
	w1, w2 := e.join(t), e.join(t)
	ch1 := subscribeAll(t, w1, nil, willTopic, "wamp.session.on_leave")
	ch2 := subscribeAll(t, w2, nil, willTopic, "wamp.session.on_leave")
	n := e.join(t)
	// Publish options apply, except acknowledge, which has no one to go to.
	metaNone(t, n, "wamp.session.add_testament", wamp.List{willTopic, wamp.List{"to w2"}},
		wamp.Dict{"publish_options": wamp.Dict{"eligible": wamp.List{w2.ID()}, "acknowledge": true}})
	metaNone(t, n, "wamp.session.add_testament", wamp.List{willTopic, wamp.List{"disclosed"}},
		wamp.Dict{"publish_options": wamp.Dict{"disclose_me": true}})
	leave(t, n)

	ev := receive(t, ch2, "the eligible testament")
	wantEvent(t, ev, willTopic, "to w2")
	ev = receive(t, ch2, "the disclosed testament")
	wantEvent(t, ev, willTopic, "disclosed")
	if !same(ev.details["publisher"], n.ID()) {
		t.Errorf("disclosed testament details %v, want publisher %d", ev.details, n.ID())
	}
	wantEvent(t, receive(t, ch2, "on_leave"), "wamp.session.on_leave", n.ID(), authid(t, n), "anonymous")

	wantEvent(t, receive(t, ch1, "the disclosed testament"), willTopic, "disclosed")
	wantEvent(t, receive(t, ch1, "on_leave"), "wamp.session.on_leave", n.ID(), authid(t, n), "anonymous")
}

func testMetaFlushTestaments(t *testing.T, e metaEnv) {
	w := e.join(t)
	ch := subscribeAll(t, w, nil, willTopic, "wamp.session.on_leave")
	add := func(c *client.Client, arg, scope string) {
		t.Helper()
		var kw wamp.Dict
		if scope != "" {
			kw = wamp.Dict{"scope": scope}
		}
		metaNone(t, c, "wamp.session.add_testament", wamp.List{willTopic, wamp.List{arg}}, kw)
	}

	// The default scope is destroyed, for flushing as for adding.
	f := e.join(t)
	add(f, "d1", "")
	add(f, "x1", "detached")
	metaNone(t, f, "wamp.session.flush_testaments", nil, nil)
	add(f, "d2", "destroyed")
	leave(t, f)
	wantEvent(t, receive(t, ch, "detached testament"), willTopic, "x1")
	wantEvent(t, receive(t, ch, "destroyed testament"), willTopic, "d2")
	wantEvent(t, receive(t, ch, "on_leave"), "wamp.session.on_leave", f.ID(), authid(t, f), "anonymous")

	// Both scopes flushed: nothing before on_leave, which follows any
	// testament.
	g := e.join(t)
	add(g, "d", "")
	add(g, "x", "detached")
	metaNone(t, g, "wamp.session.flush_testaments", nil, wamp.Dict{"scope": "detached"})
	metaNone(t, g, "wamp.session.flush_testaments", nil, wamp.Dict{"scope": "destroyed"})
	metaNone(t, g, "wamp.session.flush_testaments", nil, wamp.Dict{"scope": "destroyed"})
	leave(t, g)
	wantEvent(t, receive(t, ch, "on_leave"), "wamp.session.on_leave", g.ID(), authid(t, g), "anonymous")
}

func testMetaBadArguments(t *testing.T, e metaEnv) {
	const (
		badArg = wamp.URI("wamp.error.invalid_argument")
		badURI = wamp.URI("wamp.error.invalid_uri")
	)
	by := e.join(t) // a bystander that no bad call may kill
	ch := subscribeAll(t, by, nil, willTopic, "wamp.session.on_leave")
	c := e.join(t)
	id := by.ID()
	sub, _ := by.SubscriptionID(willTopic) // a subscription without history
	for _, b := range []struct {
		proc   string
		args   wamp.List
		kwargs wamp.Dict
		want   wamp.URI
	}{
		{"wamp.session.count", wamp.List{"anonymous"}, nil, badArg},
		{"wamp.session.count", wamp.List{wamp.List{1}}, nil, badArg},
		{"wamp.session.list", wamp.List{wamp.Dict{}}, nil, badArg},
		{"wamp.session.list", wamp.List{wamp.List{"anonymous", nil}}, nil, badArg},
		{"wamp.session.get", nil, nil, badArg},
		{"wamp.session.get", wamp.List{"1"}, nil, badArg},
		{"wamp.session.get", wamp.List{-1}, nil, badArg},
		{"wamp.session.get", wamp.List{1.5}, nil, badArg},
		{"wamp.session.kill", nil, nil, badArg},
		{"wamp.session.kill", wamp.List{wamp.List{id}}, nil, badArg},
		{"wamp.session.kill", wamp.List{id}, wamp.Dict{"reason": wamp.List{}}, badURI},
		{"wamp.session.kill", wamp.List{id}, wamp.Dict{"message": wamp.Dict{}}, badArg},
		{"wamp.session.kill_by_authid", nil, nil, badArg},
		{"wamp.session.kill_by_authid", wamp.List{1}, nil, badArg},
		{"wamp.session.kill_by_authid", wamp.List{authid(t, by)}, wamp.Dict{"reason": "a b"}, badURI},
		{"wamp.session.kill_by_authid", wamp.List{authid(t, by)}, wamp.Dict{"message": 1}, badArg},
		{"wamp.session.kill_by_authrole", nil, nil, badArg},
		{"wamp.session.kill_by_authrole", wamp.List{true}, nil, badArg},
		{"wamp.session.kill_by_authrole", wamp.List{"anonymous"}, wamp.Dict{"reason": ""}, badURI},
		{"wamp.session.kill_all", nil, wamp.Dict{"reason": 1}, badURI},
		{"wamp.session.kill_all", nil, wamp.Dict{"message": wamp.List{}}, badArg},
		{"wamp.session.add_testament", nil, nil, badArg},
		{"wamp.session.add_testament", wamp.List{1}, nil, badArg},
		{"wamp.session.add_testament", wamp.List{"not a uri"}, nil, badURI},
		{"wamp.session.add_testament", wamp.List{"wamp.session.on_leave"}, nil, badURI},
		{"wamp.session.add_testament", wamp.List{willTopic, "args"}, nil, badArg},
		{"wamp.session.add_testament", wamp.List{willTopic, wamp.List{}, wamp.List{}}, nil, badArg},
		{"wamp.session.add_testament", wamp.List{willTopic}, wamp.Dict{"scope": "forever"}, badArg},
		{"wamp.session.add_testament", wamp.List{willTopic}, wamp.Dict{"scope": 1}, badArg},
		{"wamp.session.add_testament", wamp.List{willTopic}, wamp.Dict{"publish_options": "x"}, badArg},
		{"wamp.session.add_testament", wamp.List{willTopic}, wamp.Dict{"publish_options": wamp.Dict{"exclude_me": "no"}}, badArg},
		{"wamp.session.add_testament", wamp.List{willTopic}, wamp.Dict{"publish_options": wamp.Dict{"eligible": "me"}}, badArg},
		{"wamp.session.flush_testaments", nil, wamp.Dict{"scope": "all"}, badArg},
		{"wamp.session.flush_testaments", nil, wamp.Dict{"scope": nil}, badArg},
		{"wamp.subscription.lookup", nil, nil, badArg},
		{"wamp.subscription.lookup", wamp.List{1}, nil, badArg},
		{"wamp.subscription.lookup", wamp.List{willTopic, "exact"}, nil, badArg},
		{"wamp.subscription.lookup", wamp.List{willTopic, wamp.Dict{"match": "regex"}}, nil, badArg},
		{"wamp.subscription.lookup", wamp.List{willTopic, wamp.Dict{"match": 1}}, nil, badArg},
		{"wamp.subscription.match", nil, nil, badArg},
		{"wamp.subscription.match", wamp.List{wamp.Dict{}}, nil, badArg},
		{"wamp.subscription.get", nil, nil, badArg},
		{"wamp.subscription.get", wamp.List{"x"}, nil, badArg},
		{"wamp.subscription.list_subscribers", wamp.List{-5}, nil, badArg},
		{"wamp.subscription.count_subscribers", wamp.List{nil}, nil, badArg},
		{"wamp.subscription.get_events", nil, nil, badArg},
		{"wamp.subscription.get_events", wamp.List{"x"}, nil, badArg},
		{"wamp.subscription.get_events", wamp.List{sub, "x"}, nil, badArg},
		{"wamp.subscription.get_events", wamp.List{sub, -1}, nil, badArg},
		{"wamp.subscription.get_events", wamp.List{sub}, wamp.Dict{"limit": 1.5}, badArg},
		{"wamp.registration.lookup", nil, nil, badArg},
		{"wamp.registration.lookup", wamp.List{1}, nil, badArg},
		{"wamp.registration.lookup", wamp.List{"com.example.p", wamp.List{}}, nil, badArg},
		{"wamp.registration.lookup", wamp.List{"com.example.p", wamp.Dict{"match": "fuzzy"}}, nil, badArg},
		{"wamp.registration.match", nil, nil, badArg},
		{"wamp.registration.match", wamp.List{2}, nil, badArg},
		{"wamp.registration.get", wamp.List{"x"}, nil, badArg},
		{"wamp.registration.list_callees", nil, nil, badArg},
		{"wamp.registration.count_callees", wamp.List{1.25}, nil, badArg},
	} {
		metaErr(t, c, b.proc, b.args, b.kwargs, b.want)
	}
	// The caller is still served, no one was killed, and no bad testament
	// was kept: the caller's on_leave comes with none before it.
	if n := metaInt(t, c, "wamp.session.count", nil, nil); n != 2 {
		t.Errorf("count after the bad calls = %d, want 2", n)
	}
	alive(t, by)
	leave(t, c)
	wantEvent(t, receive(t, ch, "on_leave"), "wamp.session.on_leave", c.ID(), authid(t, c), "anonymous")
}

func testMetaRealmIsolation(t *testing.T, e metaEnv) {
	const marker = "com.example.meta.marker"
	// b watches every meta topic of the other realm; it is alone there,
	// so every meta event it gets must be about itself.
	b := e.joinRealm(t, e.peer)
	chB := subscribeAll(t, b, wamp.Dict{"match": "prefix"}, "wamp.")
	markerB := subscribeAll(t, b, nil, marker)
	a := e.join(t)
	chA := subscribeAll(t, a, wamp.Dict{"match": "prefix"}, "wamp.")

	actor := e.join(t)
	if err := actor.Subscribe("com.example.meta.iso", func(*wamp.Event) {}, nil); err != nil {
		t.Fatal(err)
	}
	if err := actor.Register("com.example.meta.iso", tagged("iso"), nil); err != nil {
		t.Fatal(err)
	}
	subID, _ := actor.SubscriptionID("com.example.meta.iso")
	regID, _ := actor.RegistrationID("com.example.meta.iso")

	// Neither the session nor its subscription and registration are
	// visible from the other realm.
	metaErr(t, b, "wamp.session.get", wamp.List{actor.ID()}, nil, "wamp.error.no_such_session")
	metaErr(t, b, "wamp.session.kill", wamp.List{actor.ID()}, nil, "wamp.error.no_such_session")
	metaErr(t, b, "wamp.subscription.get", wamp.List{subID}, nil, "wamp.error.no_such_subscription")
	metaErr(t, b, "wamp.registration.get", wamp.List{regID}, nil, "wamp.error.no_such_registration")
	if got := metaIDOrNull(t, b, "wamp.subscription.lookup", wamp.List{"com.example.meta.iso"}, nil); got != 0 {
		t.Errorf("lookup from the other realm = %d, want null", got)
	}
	if n := metaInt(t, b, "wamp.session.kill_all", nil, nil); n != 0 {
		t.Errorf("kill_all in the other realm = %d, want 0", n)
	}
	alive(t, actor)

	if err := actor.Unsubscribe("com.example.meta.iso"); err != nil {
		t.Fatal(err)
	}
	if err := actor.Unregister("com.example.meta.iso"); err != nil {
		t.Fatal(err)
	}
	leave(t, actor)

	// The meta events did happen, in a's realm.
	seen := map[string]bool{}
	for !seen["wamp.session.on_leave"] {
		ev := receive(t, chA, "meta events in the actor's realm")
		if ev.session() == actor.ID() {
			seen[ev.topic] = true
		}
	}
	for _, topic := range []string{
		"wamp.session.on_join", "wamp.subscription.on_create", "wamp.subscription.on_subscribe",
		"wamp.subscription.on_unsubscribe", "wamp.subscription.on_delete", "wamp.registration.on_create",
		"wamp.registration.on_register", "wamp.registration.on_unregister", "wamp.registration.on_delete",
	} {
		if !seen[topic] {
			t.Errorf("no %s about the actor in its realm (saw %v)", topic, seen)
		}
	}

	// The actor's session has left (leave saw the GOODBYE reply), so all
	// its events were published before b's marker.
	if err := b.Publish(marker, wamp.Dict{"acknowledge": true, "exclude_me": false}, wamp.List{"marker"}, nil); err != nil {
		t.Fatal(err)
	}
	receive(t, markerB, "the marker")
	// nexus hands events to the handlers one at a time in arrival order,
	// so every event b got before the marker is in chB by now.
	for {
		select {
		case ev := <-chB:
			if ev.session() != b.ID() {
				t.Errorf("meta event %s %v reached another realm", ev.topic, ev.args)
			}
			continue
		default:
		}
		break
	}
}
