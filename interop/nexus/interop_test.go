package nexus_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/gammazero/nexus/v3/client"
	"github.com/gammazero/nexus/v3/wamp"
)

// TestInteropMatrix runs the basic profile with the nexus client over every
// transport x serializer pair, against one router.
func TestInteropMatrix(t *testing.T) {
	r := startRouter(t, nil)
	for _, kind := range transportKinds {
		for _, ser := range serializers {
			t.Run(kind+"/"+ser.name, func(t *testing.T) {
				t.Parallel()
				url := urlOf(t, r, kind)
				t.Run("join", func(t *testing.T) { testJoin(t, url, ser) })
				t.Run("pubsub_args_kwargs", func(t *testing.T) { testPubSub(t, url, ser) })
				t.Run("publish_acknowledged", func(t *testing.T) { testPublishAck(t, url, ser) })
				t.Run("exclude_me_default", func(t *testing.T) { testExcludeMeDefault(t, url, ser) })
				t.Run("exclude_me_false", func(t *testing.T) { testExcludeMeFalse(t, url, ser) })
				t.Run("unsubscribe", func(t *testing.T) { testUnsubscribe(t, url, ser) })
				t.Run("rpc_args_kwargs", func(t *testing.T) { testRPC(t, url, ser) })
				t.Run("callee_error", func(t *testing.T) { testCalleeError(t, url, ser) })
				t.Run("no_such_procedure", func(t *testing.T) { testNoSuchProcedure(t, url, ser) })
				t.Run("procedure_already_exists", func(t *testing.T) { testRegisterTwice(t, url, ser) })
				t.Run("unregister", func(t *testing.T) { testUnregister(t, url, ser) })
				t.Run("unknown_ids", func(t *testing.T) { testUnknownIDs(t, url, ser) })
				t.Run("invalid_uri", func(t *testing.T) { testInvalidURI(t, url, ser) })
				t.Run("no_such_realm", func(t *testing.T) { testNoSuchRealm(t, url, ser) })
				t.Run("callee_leaves_pending_call", func(t *testing.T) { testCalleeLeaves(t, url, ser) })
			})
		}
	}
}

func testJoin(t *testing.T, url string, ser serializer) {
	a := connect(t, url, ser)
	b := connect(t, url, ser)
	for _, c := range []*client.Client{a, b} {
		if id := c.ID(); id < 1 || id > 1<<53 {
			t.Errorf("session id %d outside [1, 2^53]", id)
		}
		d := c.RealmDetails()
		roles, ok := wamp.AsDict(d["roles"])
		if !ok {
			t.Fatalf("WELCOME.Details.roles is %T %v, want a dict", d["roles"], d["roles"])
		}
		for _, role := range []string{"broker", "dealer"} {
			if _, ok := wamp.AsDict(roles[role]); !ok {
				t.Errorf("WELCOME.Details.roles.%s is %T %v, want a dict", role, roles[role], roles[role])
			}
		}
		if role, _ := d["authrole"].(string); role == "" {
			t.Errorf("WELCOME.Details.authrole is %T %v, want a non-empty string", d["authrole"], d["authrole"])
		}
		if realm, _ := d["realm"].(string); realm != "" && realm != "realm1" {
			t.Errorf("WELCOME.Details.realm = %q, want realm1", realm)
		}
	}
	if a.ID() == b.ID() {
		t.Errorf("two sessions got the same id %d", a.ID())
	}
}

// payload is what pub/sub and RPC tests send, and want: as nexus decodes
// it, nested lists and dicts are plain []any and map[string]any.
var (
	sendArgs   = wamp.List{"a", wamp.List{"nested", true}, wamp.Dict{"x": "y"}, "ünïcode ✓"}
	sendKwargs = wamp.Dict{"k": "v", "list": wamp.List{"p", "q"}, "flag": false}
	wantArgs   = wamp.List{"a", []any{"nested", true}, map[string]any{"x": "y"}, "ünïcode ✓"}
	wantKwargs = wamp.Dict{"k": "v", "list": []any{"p", "q"}, "flag": false}
)

func testPubSub(t *testing.T, url string, ser serializer) {
	topic := uniq(t, "topic")
	sub := connect(t, url, ser)
	pub := connect(t, url, ser)
	events := eventChan(t, sub, topic, nil)
	if err := pub.Publish(topic, wamp.Dict{"acknowledge": true}, sendArgs, sendKwargs); err != nil {
		t.Fatalf("publish: %v", err)
	}
	ev := receive(t, events, "EVENT")
	if !reflect.DeepEqual(ev.Arguments, wantArgs) {
		t.Errorf("EVENT args = %#v, want %#v", ev.Arguments, wantArgs)
	}
	if !reflect.DeepEqual(ev.ArgumentsKw, wantKwargs) {
		t.Errorf("EVENT kwargs = %#v, want %#v", ev.ArgumentsKw, wantKwargs)
	}
	if id, _ := sub.SubscriptionID(topic); ev.Subscription != id {
		t.Errorf("EVENT subscription %d, want %d", ev.Subscription, id)
	}
	if ev.Publication < 1 || ev.Publication > 1<<53 {
		t.Errorf("publication id %d outside [1, 2^53]", ev.Publication)
	}
}

func testPublishAck(t *testing.T, url string, ser serializer) {
	pub := connect(t, url, ser)
	// No subscriber: the router must still acknowledge.
	if err := pub.Publish(uniq(t, "nobody"), wamp.Dict{"acknowledge": true}, wamp.List{1}, nil); err != nil {
		t.Fatalf("publish without subscribers: %v", err)
	}
	topic := uniq(t, "topic")
	sub := connect(t, url, ser)
	events := eventChan(t, sub, topic, nil)
	for i := range 3 {
		if err := pub.Publish(topic, wamp.Dict{"acknowledge": true}, wamp.List{"n", i}, nil); err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
	}
	for i := range 3 {
		ev := receive(t, events, "EVENT")
		if n, ok := wamp.AsInt64(ev.Arguments[1]); !ok || n != int64(i) {
			t.Fatalf("event %d carries %v: lost or out of order", i, ev.Arguments)
		}
	}
}

// testExcludeMeDefault: a publisher subscribed to its own topic does not get
// its event. The marker published afterwards by another session travels the
// same ordered queue, so had the first event been delivered it would arrive
// first.
func testExcludeMeDefault(t *testing.T, url string, ser serializer) {
	topic := uniq(t, "topic")
	a := connect(t, url, ser)
	b := connect(t, url, ser)
	events := eventChan(t, a, topic, nil)
	if err := a.Publish(topic, wamp.Dict{"acknowledge": true}, wamp.List{"self"}, nil); err != nil {
		t.Fatalf("publish: %v", err)
	}
	if err := b.Publish(topic, wamp.Dict{"acknowledge": true}, wamp.List{"marker"}, nil); err != nil {
		t.Fatalf("publish marker: %v", err)
	}
	ev := receive(t, events, "marker EVENT")
	if !reflect.DeepEqual(ev.Arguments, wamp.List{"marker"}) {
		t.Fatalf("first event %v, want the marker: the publisher got its own event", ev.Arguments)
	}
}

func testExcludeMeFalse(t *testing.T, url string, ser serializer) {
	topic := uniq(t, "topic")
	a := connect(t, url, ser)
	events := eventChan(t, a, topic, nil)
	if err := a.Publish(topic, wamp.Dict{"acknowledge": true, "exclude_me": false}, wamp.List{"self"}, nil); err != nil {
		t.Fatalf("publish: %v", err)
	}
	ev := receive(t, events, "own EVENT with exclude_me=false")
	if !reflect.DeepEqual(ev.Arguments, wamp.List{"self"}) {
		t.Fatalf("event %v, want [self]", ev.Arguments)
	}
}

// testUnsubscribe: after UNSUBSCRIBED no event comes. Nexus forgets the
// subscription's handler before it sends UNSUBSCRIBE, so it would hide a
// router that kept sending; the raw subscriber sees every frame. The marker
// on a second topic, published after the event on the first, travels the
// same ordered queue and so proves that no such event is on its way.
func testUnsubscribe(t *testing.T, url string, ser serializer) {
	topic, marker := uniq(t, "topic"), uniq(t, "marker")
	pub := connect(t, url, ser)

	// The nexus API round trip.
	sub := connect(t, url, ser)
	eventChan(t, sub, topic, nil)
	if err := sub.Unsubscribe(topic); err != nil {
		t.Fatalf("nexus unsubscribe: %v", err)
	}
	if err := sub.Unsubscribe(topic); !errors.Is(err, client.ErrNotSubscribed) {
		t.Fatalf("second nexus unsubscribe: %v, want ErrNotSubscribed", err)
	}

	raw := dialRaw(t, url, ser)
	raw.join()
	subID := raw.subscribe(topic)
	if err := pub.Publish(topic, wamp.Dict{"acknowledge": true}, wamp.List{"before"}, nil); err != nil {
		t.Fatalf("publish: %v", err)
	}
	if ev, ok := raw.recv().(*wamp.Event); !ok || ev.Subscription != subID || !reflect.DeepEqual(ev.Arguments, wamp.List{"before"}) {
		t.Fatalf("got %+v, want EVENT [before] on subscription %d", ev, subID)
	}
	req := raw.nextID()
	raw.send(&wamp.Unsubscribe{Request: req, Subscription: subID})
	if m, ok := raw.recv().(*wamp.Unsubscribed); !ok || m.Request != req {
		t.Fatalf("got %+v, want UNSUBSCRIBED %d", m, req)
	}
	markerID := raw.subscribe(marker)
	if err := pub.Publish(topic, wamp.Dict{"acknowledge": true}, wamp.List{"after"}, nil); err != nil {
		t.Fatalf("publish after: %v", err)
	}
	if err := pub.Publish(marker, wamp.Dict{"acknowledge": true}, wamp.List{"marker"}, nil); err != nil {
		t.Fatalf("publish marker: %v", err)
	}
	m := raw.recv()
	if ev, ok := m.(*wamp.Event); !ok || ev.Subscription != markerID {
		t.Fatalf("got %v %+v after unsubscribing, want the marker EVENT on subscription %d", m.MessageType(), m, markerID)
	}
	// Unsubscribing again is an error now.
	req = raw.nextID()
	raw.send(&wamp.Unsubscribe{Request: req, Subscription: subID})
	if e, ok := raw.recv().(*wamp.Error); !ok || e.Request != req || e.Error != "wamp.error.no_such_subscription" {
		t.Fatalf("second UNSUBSCRIBE: got %+v, want ERROR no_such_subscription", e)
	}
}

func testRPC(t *testing.T, url string, ser serializer) {
	proc := uniq(t, "echo")
	callee := connect(t, url, ser)
	caller := connect(t, url, ser)
	regs := make(chan wamp.ID, 1)
	err := callee.Register(proc, func(_ context.Context, inv *wamp.Invocation) client.InvokeResult {
		regs <- inv.Registration
		return client.InvokeResult{
			Args:   append(wamp.List{"echo"}, inv.Arguments...),
			Kwargs: wamp.Dict{"got": inv.ArgumentsKw},
		}
	}, nil)
	if err != nil {
		t.Fatalf("register: %v", err)
	}
	res, err := call(t, caller, proc, sendArgs, sendKwargs)
	if err != nil {
		t.Fatalf("call: %v", err)
	}
	want := append(wamp.List{"echo"}, wantArgs...)
	if !reflect.DeepEqual(res.Arguments, want) {
		t.Errorf("RESULT args = %#v, want %#v", res.Arguments, want)
	}
	wantKw := wamp.Dict{"got": map[string]any(wantKwargs)}
	if !reflect.DeepEqual(res.ArgumentsKw, wantKw) {
		t.Errorf("RESULT kwargs = %#v, want %#v", res.ArgumentsKw, wantKw)
	}
	if id, _ := callee.RegistrationID(proc); receive(t, regs, "invocation") != id {
		t.Errorf("INVOCATION names another registration than %d", id)
	}
}

func testCalleeError(t *testing.T, url string, ser serializer) {
	proc := uniq(t, "fails")
	callee := connect(t, url, ser)
	caller := connect(t, url, ser)
	err := callee.Register(proc, func(context.Context, *wamp.Invocation) client.InvokeResult {
		return client.InvokeResult{Err: "com.example.error.x", Args: wamp.List{"bad", "thing"}, Kwargs: wamp.Dict{"code": "e1"}}
	}, nil)
	if err != nil {
		t.Fatalf("register: %v", err)
	}
	_, err = call(t, caller, proc, wamp.List{"in"}, nil)
	rpcErr := wantRPCError(t, err, "com.example.error.x")
	if rpcErr.Err.Type != wamp.CALL {
		t.Errorf("ERROR for %v, want CALL", rpcErr.Err.Type)
	}
	if want := (wamp.List{"bad", "thing"}); !reflect.DeepEqual(rpcErr.Err.Arguments, want) {
		t.Errorf("ERROR args = %#v, want %#v", rpcErr.Err.Arguments, want)
	}
	if want := (wamp.Dict{"code": "e1"}); !reflect.DeepEqual(rpcErr.Err.ArgumentsKw, want) {
		t.Errorf("ERROR kwargs = %#v, want %#v", rpcErr.Err.ArgumentsKw, want)
	}
}

// wantRPCError asserts that err is a client.RPCError with the given URI.
func wantRPCError(t testing.TB, err error, uri wamp.URI) client.RPCError {
	t.Helper()
	var rpcErr client.RPCError
	if !errors.As(err, &rpcErr) {
		t.Fatalf("error %v (%T), want client.RPCError %s", err, err, uri)
	}
	if rpcErr.Err.Error != uri {
		t.Fatalf("ERROR URI %q (%v), want %q", rpcErr.Err.Error, rpcErr, uri)
	}
	return rpcErr
}

// wantErrorURI asserts that err is non-nil and names uri. Nexus reports
// ERROR replies to SUBSCRIBE, PUBLISH and REGISTER as text that holds the
// URI, and so does its ABORT on join.
func wantErrorURI(t testing.TB, err error, uri wamp.URI) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %s", uri)
	}
	if !strings.Contains(err.Error(), string(uri)) {
		t.Fatalf("error %q does not name %s", err, uri)
	}
}

func testNoSuchProcedure(t *testing.T, url string, ser serializer) {
	caller := connect(t, url, ser)
	_, err := call(t, caller, uniq(t, "nobody"), nil, nil)
	wantRPCError(t, err, "wamp.error.no_such_procedure")
}

func testRegisterTwice(t *testing.T, url string, ser serializer) {
	proc := uniq(t, "proc")
	first := connect(t, url, ser)
	second := connect(t, url, ser)
	caller := connect(t, url, ser)
	handler := func(who string) client.InvocationHandler {
		return func(context.Context, *wamp.Invocation) client.InvokeResult {
			return client.InvokeResult{Args: wamp.List{who}}
		}
	}
	if err := first.Register(proc, handler("first"), nil); err != nil {
		t.Fatalf("first register: %v", err)
	}
	wantErrorURI(t, second.Register(proc, handler("second"), nil), "wamp.error.procedure_already_exists")
	res, err := call(t, caller, proc, nil, nil)
	if err != nil {
		t.Fatalf("call: %v", err)
	}
	if !reflect.DeepEqual(res.Arguments, wamp.List{"first"}) {
		t.Fatalf("call answered by %v, want the first callee", res.Arguments)
	}
}

func testUnregister(t *testing.T, url string, ser serializer) {
	proc := uniq(t, "proc")
	callee := connect(t, url, ser)
	caller := connect(t, url, ser)
	err := callee.Register(proc, func(context.Context, *wamp.Invocation) client.InvokeResult {
		return client.InvokeResult{Args: wamp.List{"ok"}}
	}, nil)
	if err != nil {
		t.Fatalf("register: %v", err)
	}
	if _, err := call(t, caller, proc, nil, nil); err != nil {
		t.Fatalf("call before unregister: %v", err)
	}
	if err := callee.Unregister(proc); err != nil {
		t.Fatalf("unregister: %v", err)
	}
	_, err = call(t, caller, proc, nil, nil)
	wantRPCError(t, err, "wamp.error.no_such_procedure")
	// The procedure is free again for another callee.
	other := connect(t, url, ser)
	if err := other.Register(proc, func(context.Context, *wamp.Invocation) client.InvokeResult {
		return client.InvokeResult{}
	}, nil); err != nil {
		t.Fatalf("register after unregister: %v", err)
	}
}

// testUnknownIDs sends UNSUBSCRIBE and UNREGISTER for ids the session does
// not hold, with the raw client because nexus only sends ids it knows.
// Another session's subscription and registration must survive them.
func testUnknownIDs(t *testing.T, url string, ser serializer) {
	topic, proc := uniq(t, "topic"), uniq(t, "proc")
	other := connect(t, url, ser)
	events := eventChan(t, other, topic, nil)
	if err := other.Register(proc, func(context.Context, *wamp.Invocation) client.InvokeResult {
		return client.InvokeResult{Args: wamp.List{"alive"}}
	}, nil); err != nil {
		t.Fatalf("register: %v", err)
	}
	subID, _ := other.SubscriptionID(topic)
	regID, _ := other.RegistrationID(proc)

	raw := dialRaw(t, url, ser)
	raw.join()
	const unknown = wamp.ID(1<<53 - 7)
	for _, tc := range []struct {
		name string
		msg  func(req wamp.ID) wamp.Message
		typ  wamp.MessageType
		uri  wamp.URI
	}{
		{"unsubscribe unknown id", func(req wamp.ID) wamp.Message { return &wamp.Unsubscribe{Request: req, Subscription: unknown} },
			wamp.UNSUBSCRIBE, "wamp.error.no_such_subscription"},
		{"unsubscribe another session's subscription", func(req wamp.ID) wamp.Message { return &wamp.Unsubscribe{Request: req, Subscription: subID} },
			wamp.UNSUBSCRIBE, "wamp.error.no_such_subscription"},
		{"unregister unknown id", func(req wamp.ID) wamp.Message { return &wamp.Unregister{Request: req, Registration: unknown} },
			wamp.UNREGISTER, "wamp.error.no_such_registration"},
		{"unregister another session's registration", func(req wamp.ID) wamp.Message { return &wamp.Unregister{Request: req, Registration: regID} },
			wamp.UNREGISTER, "wamp.error.no_such_registration"},
	} {
		req := raw.nextID()
		raw.send(tc.msg(req))
		m := raw.recv()
		e, ok := m.(*wamp.Error)
		if !ok || e.Type != tc.typ || e.Request != req || e.Error != tc.uri {
			t.Errorf("%s: got %v %+v, want ERROR %v %d %s", tc.name, m.MessageType(), m, tc.typ, req, tc.uri)
		}
	}

	// The session is still open, and the other session's subscription and
	// registration still work.
	req := raw.nextID()
	raw.send(&wamp.Publish{Request: req, Options: wamp.Dict{"acknowledge": true}, Topic: wamp.URI(topic), Arguments: wamp.List{"still"}})
	if m, ok := raw.recv().(*wamp.Published); !ok || m.Request != req {
		t.Fatalf("PUBLISH after the errors: got %+v, want PUBLISHED %d", m, req)
	}
	if ev := receive(t, events, "EVENT"); !reflect.DeepEqual(ev.Arguments, wamp.List{"still"}) {
		t.Fatalf("event %v, want [still]", ev.Arguments)
	}
	req = raw.nextID()
	raw.send(&wamp.Call{Request: req, Options: wamp.Dict{}, Procedure: wamp.URI(proc)})
	m := raw.recv()
	if res, ok := m.(*wamp.Result); !ok || res.Request != req || !reflect.DeepEqual(res.Arguments, wamp.List{"alive"}) {
		t.Fatalf("CALL after the errors: got %v %+v, want RESULT [alive]", m.MessageType(), m)
	}
}

func testInvalidURI(t *testing.T, url string, ser serializer) {
	c := connect(t, url, ser)
	const uri = "wamp.error.invalid_uri"
	base := uniq(t, "")
	noop := func(*wamp.Event) {}
	wantErrorURI(t, c.Subscribe(base+"a..b", noop, nil), uri)
	wantErrorURI(t, c.Publish(base+"with space", wamp.Dict{"acknowledge": true}, nil, nil), uri)
	wantErrorURI(t, c.Register(base+"hash#mark", func(context.Context, *wamp.Invocation) client.InvokeResult {
		return client.InvokeResult{}
	}, nil), uri)
	_, err := call(t, c, base+"x.", nil, nil)
	wantRPCError(t, err, uri)
	// The session survives its errors.
	if err := c.Publish(base+"fine", wamp.Dict{"acknowledge": true}, nil, nil); err != nil {
		t.Fatalf("publish after the errors: %v", err)
	}
}

func testNoSuchRealm(t *testing.T, url string, ser serializer) {
	c, err := dial(url, ser, "com.example.no_such_realm")
	if err == nil {
		_ = c.Close()
		t.Fatalf("joined an unknown realm")
	}
	wantErrorURI(t, err, "wamp.error.no_such_realm")
}

// testCalleeLeaves: the callee closes its session while a call is pending.
// Its handler returns a distinct error URI once interrupted, so the caller
// can tell the router's wamp.error.canceled from anything the callee sent.
func testCalleeLeaves(t *testing.T, url string, ser serializer) {
	proc := uniq(t, "slow")
	callee := connect(t, url, ser)
	caller := connect(t, url, ser)
	invoked := make(chan struct{}, 1)
	err := callee.Register(proc, func(ctx context.Context, _ *wamp.Invocation) client.InvokeResult {
		invoked <- struct{}{}
		<-ctx.Done()
		return client.InvokeResult{Err: "com.example.error.callee_interrupted"}
	}, nil)
	if err != nil {
		t.Fatalf("register: %v", err)
	}
	type reply struct {
		res *wamp.Result
		err error
	}
	replies := make(chan reply, 1)
	go func() {
		res, err := caller.Call(context.Background(), proc, nil, nil, nil, nil)
		replies <- reply{res, err}
	}()
	receive(t, invoked, "INVOCATION")
	if err := callee.Close(); err != nil {
		t.Fatalf("callee close: %v", err)
	}
	r := receive(t, replies, "reply to the pending CALL")
	wantRPCError(t, r.err, "wamp.error.canceled")
	// The caller's session is unharmed.
	_, err = call(t, caller, proc, nil, nil)
	wantRPCError(t, err, "wamp.error.no_such_procedure")
}
