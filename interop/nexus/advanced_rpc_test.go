package nexus_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/gammazero/nexus/v3/client"
	"github.com/gammazero/nexus/v3/wamp"

	"github.com/switchboard/switchboard/internal/testutil"
	"github.com/switchboard/switchboard/router"
)

// TestAdvancedRPC runs the advanced-profile RPC features with the nexus
// client: one serializer per transport, so that every transport and every
// serializer carries them.
func TestAdvancedRPC(t *testing.T) {
	r := startRouter(t, nil)
	// The group returns once all its parallel subtests are done.
	t.Run("group", func(t *testing.T) {
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
				url := urlOf(t, r, tc.kind)
				t.Run("features", func(t *testing.T) { testDealerFeatures(t, url, tc.ser) })
				t.Run("shared_registration", func(t *testing.T) { testSharedRegistration(t, url, tc.ser) })
				t.Run("pattern_registration", func(t *testing.T) { testPatternRegistration(t, url, tc.ser) })
				t.Run("progressive_results", func(t *testing.T) { testProgressiveResults(t, url, tc.ser) })
				t.Run("progressive_invocations", func(t *testing.T) { testProgressiveInvocations(t, url, tc.ser) })
				for _, mode := range []string{"killnowait", "kill", "skip"} {
					t.Run("cancel_"+mode, func(t *testing.T) { testCancel(t, url, tc.ser, mode) })
				}
				t.Run("timeout", func(t *testing.T) { testTimeout(t, url, tc.ser) })
				t.Run("caller_leaves", func(t *testing.T) { testCallerLeaves(t, url, tc.ser) })
				t.Run("caller_identification", func(t *testing.T) { testDiscloseMe(t, url, tc.ser) })
				t.Run("disclose_caller", func(t *testing.T) { testRegisterDiscloseCaller(t, url, tc.ser) })
				t.Run("bad_options", func(t *testing.T) { testBadRPCOptions(t, url, tc.ser) })
				t.Run("bad_cancel_and_yield", func(t *testing.T) { testBadCancelAndYield(t, url, tc.ser) })
			})
		}
	})
	t.Run("nothing_pending", func(t *testing.T) { checkNothingPending(t, r) })
}

// checkNothingPending waits until the realm holds no pending call: every
// call above ended, and every tombstone was answered or left with its
// callee.
func checkNothingPending(t *testing.T, r *router.Router) {
	testutil.CheckFor(t, bound, func() error {
		if n := r.Realm("realm1").Stats().PendingCalls; n != 0 {
			return fmt.Errorf("%d calls pending", n)
		}
		return nil
	})
}

func testDealerFeatures(t *testing.T, url string, ser serializer) {
	c := connect(t, url, ser)
	for _, f := range []string{
		"progressive_call_results", "progressive_call_invocations", "call_canceling", "call_timeout",
		"caller_identification", "shared_registration", "pattern_based_registration",
		"call_trustlevels", "payload_passthru_mode", "payload_transparency",
	} {
		if !c.HasFeature("dealer", f) {
			t.Errorf("WELCOME does not announce dealer feature %s: %v", f, c.RealmDetails()["roles"])
		}
	}
}

// tagged returns a handler that answers every call with tag.
func tagged(tag string) client.InvocationHandler {
	return func(context.Context, *wamp.Invocation) client.InvokeResult {
		return client.InvokeResult{Args: wamp.List{tag}}
	}
}

// whoAnswers calls proc and returns the tag of the callee that answered.
func whoAnswers(t *testing.T, caller *client.Client, proc string) string {
	t.Helper()
	res, err := call(t, caller, proc, nil, nil)
	if err != nil {
		t.Fatalf("call %s: %v", proc, err)
	}
	tag, _ := res.Arguments[0].(string)
	return tag
}

func testSharedRegistration(t *testing.T, url string, ser serializer) {
	proc := uniq(t, "shared")
	a, b := connect(t, url, ser), connect(t, url, ser)
	for _, c := range []struct {
		cl  *client.Client
		tag string
	}{{a, "a"}, {b, "b"}} {
		if err := c.cl.Register(proc, tagged(c.tag), wamp.Dict{"invoke": "roundrobin"}); err != nil {
			t.Fatalf("register %s: %v", c.tag, err)
		}
	}
	idA, _ := a.RegistrationID(proc)
	idB, _ := b.RegistrationID(proc)
	if idA != idB {
		t.Errorf("registration ids %d and %d: a shared registration has one id", idA, idB)
	}
	caller := connect(t, url, ser)
	var got []string
	for range 4 {
		got = append(got, whoAnswers(t, caller, proc))
	}
	if want := []string{"a", "b", "a", "b"}; !reflect.DeepEqual(got, want) {
		t.Errorf("roundrobin answered %v, want %v", got, want)
	}

	other := connect(t, url, ser)
	wantErrorURI(t, other.Register(proc, tagged("x"), wamp.Dict{"invoke": "first"}),
		"wamp.error.procedure_exists_with_different_invocation_policy")
	single := uniq(t, "single")
	if err := a.Register(single, tagged("a"), nil); err != nil {
		t.Fatal(err)
	}
	wantErrorURI(t, other.Register(single, tagged("x"), wamp.Dict{"invoke": "roundrobin"}), "wamp.error.procedure_already_exists")

	// Hot standby: first answers until it unregisters.
	standby := uniq(t, "standby")
	for _, c := range []struct {
		cl  *client.Client
		tag string
	}{{a, "a"}, {b, "b"}} {
		if err := c.cl.Register(standby, tagged(c.tag), wamp.Dict{"invoke": "first"}); err != nil {
			t.Fatal(err)
		}
	}
	if got := whoAnswers(t, caller, standby); got != "a" {
		t.Errorf("first: %s answered, want a", got)
	}
	if err := a.Unregister(standby); err != nil {
		t.Fatal(err)
	}
	if got := whoAnswers(t, caller, standby); got != "b" {
		t.Errorf("first after a unregistered: %s answered, want b", got)
	}
}

func testPatternRegistration(t *testing.T, url string, ser serializer) {
	base := uniq(t, "api")
	callee := connect(t, url, ser)
	procOf := make(chan string, 8)
	handler := func(tag string) client.InvocationHandler {
		return func(_ context.Context, inv *wamp.Invocation) client.InvokeResult {
			p, _ := inv.Details["procedure"].(string)
			procOf <- p
			return client.InvokeResult{Args: wamp.List{tag}}
		}
	}
	for _, reg := range []struct{ uri, match, tag string }{
		{base + ".exact", "exact", "exact"},
		{base, "prefix", "prefix"},
		{base + ".long", "prefix", "longer prefix"},
		{base + "..leaf", "wildcard", "wildcard"},
	} {
		if err := callee.Register(reg.uri, handler(reg.tag), wamp.Dict{"match": reg.match}); err != nil {
			t.Fatalf("register %s %s: %v", reg.match, reg.uri, err)
		}
	}
	caller := connect(t, url, ser)
	for _, tc := range []struct{ call, want, procedure string }{
		{base + ".exact", "exact", ""},
		{base + ".exactly", "prefix", base + ".exactly"},
		{base + ".long.er", "longer prefix", base + ".long.er"},
		{base + "x.y", "prefix", base + "x.y"},
	} {
		if got := whoAnswers(t, caller, tc.call); got != tc.want {
			t.Errorf("call %s answered by %s, want %s", tc.call, got, tc.want)
		}
		if p := receive(t, procOf, "INVOCATION"); p != tc.procedure {
			t.Errorf("call %s: INVOCATION.Details.procedure %q, want %q", tc.call, p, tc.procedure)
		}
	}
	// A wildcard needs its own namespace: the prefix covers all of base.
	wild := uniq(t, "wild")
	if err := callee.Register(wild+"..leaf", handler("wildcard"), wamp.Dict{"match": "wildcard"}); err != nil {
		t.Fatal(err)
	}
	if got := whoAnswers(t, caller, wild+".any.leaf"); got != "wildcard" {
		t.Errorf("wildcard call answered by %s", got)
	}
	if p := receive(t, procOf, "INVOCATION"); p != wild+".any.leaf" {
		t.Errorf("wildcard INVOCATION.Details.procedure %q", p)
	}
	_, err := call(t, caller, wild+".any.other", nil, nil)
	wantRPCError(t, err, "wamp.error.no_such_procedure")
}

// callAsync runs a call on its own goroutine; the result comes on the
// returned channel.
func callAsync(ctx context.Context, c *client.Client, proc string, opts wamp.Dict, progress client.ProgressHandler) <-chan error {
	errc := make(chan error, 1)
	go func() {
		_, err := c.Call(ctx, proc, opts, nil, nil, progress)
		errc <- err
	}()
	return errc
}

func testProgressiveResults(t *testing.T, url string, ser serializer) {
	proc := uniq(t, "stream")
	callee := connect(t, url, ser)
	err := callee.Register(proc, func(ctx context.Context, inv *wamp.Invocation) client.InvokeResult {
		for i := range 3 {
			if err := callee.SendProgress(ctx, wamp.List{i}, nil); err != nil {
				return client.InvokeResult{Err: "com.example.error.progress", Args: wamp.List{err.Error()}}
			}
		}
		return client.InvokeResult{Args: wamp.List{"done"}}
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	caller := connect(t, url, ser)
	var progress []int64
	type reply struct {
		res *wamp.Result
		err error
	}
	ch := make(chan reply, 1)
	go func() {
		res, err := caller.Call(context.Background(), proc, nil, nil, nil, func(r *wamp.Result) {
			n, _ := wamp.AsInt64(r.Arguments[0])
			progress = append(progress, n)
		})
		ch <- reply{res, err}
	}()
	rep := receive(t, ch, "final RESULT")
	if rep.err != nil {
		t.Fatal(rep.err)
	}
	if !reflect.DeepEqual(progress, []int64{0, 1, 2}) || !reflect.DeepEqual(rep.res.Arguments, wamp.List{"done"}) {
		t.Fatalf("progress %v, final %v; want [0 1 2], [done]", progress, rep.res.Arguments)
	}
}

func testProgressiveInvocations(t *testing.T, url string, ser serializer) {
	proc := uniq(t, "upload")
	callee := connect(t, url, ser)
	sums := map[wamp.ID]int64{} // the handler runs chunks of one call in order
	err := callee.Register(proc, func(_ context.Context, inv *wamp.Invocation) client.InvokeResult {
		n, _ := wamp.AsInt64(inv.Arguments[0])
		sums[inv.Request] += n
		if more, _ := inv.Details["progress"].(bool); more {
			return client.InvokeResult{Err: wamp.InternalProgressiveOmitResult}
		}
		return client.InvokeResult{Args: wamp.List{sums[inv.Request]}}
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	caller := connect(t, url, ser)
	chunk := 0
	send := func(context.Context) (wamp.Dict, wamp.List, wamp.Dict, error) {
		chunk++
		return wamp.Dict{"progress": chunk < 4}, wamp.List{chunk}, nil, nil
	}
	type reply struct {
		res *wamp.Result
		err error
	}
	ch := make(chan reply, 1)
	go func() {
		res, err := caller.CallProgressive(context.Background(), proc, send, nil)
		ch <- reply{res, err}
	}()
	rep := receive(t, ch, "RESULT of a progressive call")
	if rep.err != nil {
		t.Fatal(rep.err)
	}
	if n, _ := wamp.AsInt64(rep.res.Arguments[0]); n != 1+2+3+4 {
		t.Fatalf("sum of chunks %v, want 10", rep.res.Arguments)
	}
}

// blocking registers proc with a handler that reports each invocation on
// started and then waits for INTERRUPT (its context) or release; it
// reports on interrupted when INTERRUPT came.
func blocking(t *testing.T, callee *client.Client, proc string) (started, interrupted chan struct{}, release chan struct{}) {
	t.Helper()
	started, interrupted, release = make(chan struct{}, 8), make(chan struct{}, 8), make(chan struct{})
	err := callee.Register(proc, func(ctx context.Context, _ *wamp.Invocation) client.InvokeResult {
		started <- struct{}{}
		select {
		case <-ctx.Done():
			interrupted <- struct{}{}
			return client.InvocationCanceled
		case <-release:
			return client.InvokeResult{Args: wamp.List{"late"}}
		}
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return started, interrupted, release
}

func testCancel(t *testing.T, url string, ser serializer, mode string) {
	proc := uniq(t, "slow")
	callee := connect(t, url, ser)
	started, interrupted, release := blocking(t, callee, proc)
	caller := connect(t, url, ser)
	if err := caller.SetCallCancelMode(mode); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := callAsync(ctx, caller, proc, nil, nil)
	receive(t, started, "INVOCATION")
	cancel()
	// nexus returns the context's error once the router's ERROR arrived,
	// and ErrReplyTimeout (after bound) if none came.
	if err := receive(t, errc, "the caller's reply to CANCEL"); !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled call returned %v, want context.Canceled (the router's ERROR)", err)
	}
	if mode == "skip" {
		// No INTERRUPT: the callee answers in its own time, and its
		// answer is swallowed without harm to its session.
		close(release)
	} else {
		receive(t, interrupted, "INTERRUPT at the callee")
	}
	// The callee's session is still in good standing.
	if err := callee.Register(uniq(t, "after"), tagged("ok"), nil); err != nil {
		t.Fatalf("callee after cancel: %v", err)
	}
}

func testTimeout(t *testing.T, url string, ser serializer) {
	proc := uniq(t, "slow")
	callee := connect(t, url, ser)
	started, interrupted, _ := blocking(t, callee, proc)
	caller := connect(t, url, ser)
	errc := callAsync(context.Background(), caller, proc, wamp.Dict{"timeout": 50}, nil)
	receive(t, started, "INVOCATION")
	wantRPCError(t, receive(t, errc, "the timed-out call's ERROR"), "wamp.error.timeout")
	receive(t, interrupted, "INTERRUPT at the callee")
}

func testCallerLeaves(t *testing.T, url string, ser serializer) {
	proc := uniq(t, "slow")
	callee := connect(t, url, ser)
	started, interrupted, _ := blocking(t, callee, proc)
	caller, err := dial(url, ser, "realm1")
	if err != nil {
		t.Fatal(err)
	}
	errc := callAsync(context.Background(), caller, proc, nil, nil)
	receive(t, started, "INVOCATION")
	_ = caller.Close()
	receive(t, errc, "the departed caller's Call to return")
	// basic/remote_procedure_call.md: INTERRUPT (killnowait) to a callee
	// that announced call canceling.
	receive(t, interrupted, "INTERRUPT at the callee")
}

func testDiscloseMe(t *testing.T, url string, ser serializer) {
	proc := uniq(t, "who")
	callee := connect(t, url, ser)
	seen := make(chan wamp.Dict, 2)
	if err := callee.Register(proc, func(_ context.Context, inv *wamp.Invocation) client.InvokeResult {
		seen <- inv.Details
		return client.InvokeResult{}
	}, nil); err != nil {
		t.Fatal(err)
	}
	caller := connect(t, url, ser)
	if _, err := caller.Call(context.Background(), proc, wamp.Dict{"disclose_me": true}, nil, nil, nil); err != nil {
		t.Fatal(err)
	}
	d := receive(t, seen, "INVOCATION")
	id, _ := wamp.AsID(d["caller"])
	authid, _ := d["caller_authid"].(string)
	authrole, _ := d["caller_authrole"].(string)
	want := caller.RealmDetails()
	if id != caller.ID() || authid != want["authid"] || authrole != want["authrole"] {
		t.Errorf("INVOCATION details %v, want caller %d authid %v authrole %v", d, caller.ID(), want["authid"], want["authrole"])
	}
	if _, err := caller.Call(context.Background(), proc, nil, nil, nil, nil); err != nil {
		t.Fatal(err)
	}
	if d := receive(t, seen, "INVOCATION"); d["caller"] != nil {
		t.Errorf("undisclosed call's INVOCATION details %v", d)
	}
}

// testRegisterDiscloseCaller: a callee that registers with disclose_caller
// learns who calls it without the caller asking
// (advanced/rpc_caller_identification.md).
func testRegisterDiscloseCaller(t *testing.T, url string, ser serializer) {
	proc := uniq(t, "whocalls")
	callee := connect(t, url, ser)
	seen := make(chan wamp.Dict, 1)
	if err := callee.Register(proc, func(_ context.Context, inv *wamp.Invocation) client.InvokeResult {
		seen <- inv.Details
		return client.InvokeResult{}
	}, wamp.Dict{"disclose_caller": true}); err != nil {
		t.Fatal(err)
	}
	caller := connect(t, url, ser)
	if _, err := caller.Call(context.Background(), proc, nil, nil, nil, nil); err != nil {
		t.Fatal(err)
	}
	d := receive(t, seen, "INVOCATION")
	id, _ := wamp.AsID(d["caller"])
	authid, _ := d["caller_authid"].(string)
	if want := caller.RealmDetails(); id != caller.ID() || authid != want["authid"] {
		t.Errorf("INVOCATION details %v, want caller %d authid %v", d, caller.ID(), want["authid"])
	}
}

func testBadRPCOptions(t *testing.T, url string, ser serializer) {
	proc := uniq(t, "ok")
	callee := connect(t, url, ser)
	if err := callee.Register(proc, tagged("ok"), nil); err != nil {
		t.Fatal(err)
	}
	caller := connect(t, url, ser)
	for _, opts := range []wamp.Dict{
		{"timeout": -1},
		{"timeout": "soon"},
		{"timeout": 1.5},
		{"receive_progress": "yes"},
		{"disclose_me": 1},
		{"progress": "no"},
	} {
		_, err := caller.Call(context.Background(), proc, opts, nil, nil, nil)
		rpcErr := wantRPCError(t, err, "wamp.error.invalid_argument")
		for k := range opts {
			if msg, _ := rpcErr.Err.Details["message"].(string); !strings.Contains(msg, "option "+k) {
				t.Errorf("CALL %v: message %q does not name the option", opts, msg)
			}
		}
	}
	for _, opts := range []wamp.Dict{{"invoke": "bogus"}, {"invoke": 3}, {"match": "regex"}, {"match": false}, {"disclose_caller": "yes"}} {
		wantErrorURI(t, callee.Register(uniq(t, "bad"), tagged("x"), opts), "wamp.error.invalid_argument")
	}
	if got := whoAnswers(t, caller, proc); got != "ok" {
		t.Fatalf("after bad options: %s", got)
	}
}

// testBadCancelAndYield sends the malformed CANCEL and YIELD that the
// nexus client cannot produce, from raw clients.
func testBadCancelAndYield(t *testing.T, url string, ser serializer) {
	// CANCEL with a bad mode: ERROR for the CANCEL; the call goes on and a
	// good CANCEL ends it.
	proc := uniq(t, "slow")
	callee := connect(t, url, ser)
	started, _, _ := blocking(t, callee, proc)
	c := dialRaw(t, url, ser)
	c.join()
	c.send(&wamp.Call{Request: 1, Options: wamp.Dict{}, Procedure: wamp.URI(proc)})
	receive(t, started, "INVOCATION")
	c.send(&wamp.Cancel{Request: 1, Options: wamp.Dict{"mode": "hard"}})
	if e, ok := c.recv().(*wamp.Error); !ok || e.Type != wamp.CANCEL || e.Request != 1 || e.Error != "wamp.error.invalid_argument" {
		t.Fatalf("got %+v, want ERROR CANCEL 1 invalid_argument", e)
	}
	c.send(&wamp.Cancel{Request: 1, Options: wamp.Dict{"mode": "skip"}})
	if e, ok := c.recv().(*wamp.Error); !ok || e.Type != wamp.CALL || e.Request != 1 || e.Error != "wamp.error.canceled" {
		t.Fatalf("got %+v, want ERROR CALL 1 canceled", e)
	}

	// YIELD with a progress that is no boolean: the caller gets
	// invalid_argument, the callee keeps its session.
	proc2 := uniq(t, "raw")
	raw := dialRaw(t, url, ser)
	raw.join()
	raw.send(&wamp.Register{Request: raw.nextID(), Options: wamp.Dict{}, Procedure: wamp.URI(proc2)})
	if m, ok := raw.recv().(*wamp.Registered); !ok {
		t.Fatalf("got %+v, want REGISTERED", m)
	}
	caller := connect(t, url, ser)
	errc := callAsync(context.Background(), caller, proc2, wamp.Dict{"receive_progress": true}, nil)
	inv, ok := raw.recv().(*wamp.Invocation)
	if !ok {
		t.Fatalf("got %+v, want INVOCATION", inv)
	}
	raw.send(&wamp.Yield{Request: inv.Request, Options: wamp.Dict{"progress": "yes"}})
	wantRPCError(t, receive(t, errc, "reply to the call"), "wamp.error.invalid_argument")
	raw.send(&wamp.Yield{Request: inv.Request, Options: wamp.Dict{}}) // swallowed
	raw.subscribe(uniq(t, "still.open"))
}
