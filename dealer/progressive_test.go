package dealer

import (
	"testing"

	"github.com/switchboard/switchboard/internal/fakepeer"
	"github.com/switchboard/switchboard/wamp"
)

func TestProgressiveResults(t *testing.T) {
	d := New(Config{})
	callee, caller := peer(1, progResults...), peer(2)
	registerOpts(t, d, callee, 1, `{}`, "com.example.stream")

	callOpts(t, d, caller, 7, `{"receive_progress":true}`, "com.example.stream", `["go"]`)
	inv := one(t, callee, wamp.INVOCATION)
	if inv.Details["receive_progress"] != true {
		t.Fatalf("INVOCATION details %v, want receive_progress", inv.Details)
	}
	for i, chunk := range []string{`["a"]`, `["b"]`, ``} {
		var err error
		if chunk == "" {
			err = yield(t, d, callee, inv.Request, `{"progress":true}`)
		} else {
			err = yield(t, d, callee, inv.Request, `{"progress":true}`, chunk)
		}
		if err != nil {
			t.Fatal(err)
		}
		res := one(t, caller, wamp.RESULT)
		if res.Request != 7 || res.Details["progress"] != true || string(res.Args.Raw) != chunk {
			t.Fatalf("progressive RESULT %d: %v %v %s, want 7 progress %s", i, res, res.Details, res.Args.Raw, chunk)
		}
		if d.PendingCount() != 1 {
			t.Fatalf("PendingCount %d during progress, want 1", d.PendingCount())
		}
	}
	if err := yield(t, d, callee, inv.Request, `{}`, `["done"]`); err != nil {
		t.Fatal(err)
	}
	res := one(t, caller, wamp.RESULT)
	if res.Details["progress"] != nil || string(res.Args.Raw) != `["done"]` {
		t.Fatalf("final RESULT %v %s", res.Details, res.Args.Raw)
	}
	checkEmpty(t, d)
	// The call is over: a further progressive YIELD is unknown.
	if err := yield(t, d, callee, inv.Request, `{"progress":true}`); err == nil {
		t.Fatal("progressive YIELD after the final one accepted")
	}
}

func TestProgressiveResultsEndWithError(t *testing.T) {
	d := New(Config{})
	callee, caller := peer(1, progResults...), peer(2)
	registerOpts(t, d, callee, 1, `{}`, "com.example.stream")
	callOpts(t, d, caller, 1, `{"receive_progress":true}`, "com.example.stream")
	inv := one(t, callee, wamp.INVOCATION)
	if err := yield(t, d, callee, inv.Request, `{"progress":true}`, `[1]`); err != nil {
		t.Fatal(err)
	}
	one(t, caller, wamp.RESULT)
	if err := d.Error(callee, fakepeer.Decode(t, `[8,68,1,{},"com.example.error.broke"]`)); err != nil {
		t.Fatal(err)
	}
	wantCallError(t, caller, 1, "com.example.error.broke", "")
	checkEmpty(t, d)
}

func TestProgressiveResultsNotAsked(t *testing.T) {
	// A callee that sends progress to a caller that did not ask for it: the
	// progressive results are dropped, the final one goes through.
	d := New(Config{})
	callee, caller := peer(1, progResults...), peer(2)
	registerOpts(t, d, callee, 1, `{}`, "com.example.stream")
	callOpts(t, d, caller, 1, `{}`, "com.example.stream")
	inv := one(t, callee, wamp.INVOCATION)
	if _, ok := inv.Details["receive_progress"]; ok {
		t.Fatalf("INVOCATION details %v: the caller did not ask for progress", inv.Details)
	}
	if err := yield(t, d, callee, inv.Request, `{"progress":true}`, `[1]`); err != nil {
		t.Fatal(err)
	}
	none(t, caller)
	if err := yield(t, d, callee, inv.Request, `{"progress":false}`, `[2]`); err != nil {
		t.Fatal(err)
	}
	if res := one(t, caller, wamp.RESULT); string(res.Args.Raw) != `[2]` || res.Details["progress"] != nil {
		t.Fatalf("RESULT %v %s", res.Details, res.Args.Raw)
	}
	checkEmpty(t, d)
}

func TestProgressiveResultsCalleeWithoutFeature(t *testing.T) {
	// receive_progress is forwarded only to callees that announce
	// progressive_call_results; call_canceling is not required (AutobahnJS
	// callees announce the one without the other).
	for _, tc := range []struct {
		features []string
		want     bool
	}{
		{noFeatures, false},
		{canceling, false},
		{[]string{"callee.progressive_call_results"}, true},
		{progResults, true},
	} {
		d := New(Config{})
		callee, caller := peer(1, tc.features...), peer(2)
		registerOpts(t, d, callee, 1, `{}`, "com.example.p")
		callOpts(t, d, caller, 1, `{"receive_progress":true}`, "com.example.p")
		inv := one(t, callee, wamp.INVOCATION)
		if got := inv.Details["receive_progress"] == true; got != tc.want {
			t.Errorf("features %v: receive_progress forwarded %v, want %v", tc.features, got, tc.want)
		}
	}
}

func TestProgressiveInvocations(t *testing.T) {
	d := New(Config{})
	a, b := peer(1, fullCallee...), peer(2, fullCallee...)
	caller := peer(3, progInvoker...)
	id := registerOpts(t, d, a, 1, `{"invoke":"roundrobin"}`, "com.example.upload")
	registerOpts(t, d, b, 1, `{"invoke":"roundrobin"}`, "com.example.upload")

	callOpts(t, d, caller, 5, `{"progress":true,"receive_progress":true,"disclose_me":true}`, "com.example.upload", `["chunk1"]`)
	first := one(t, a, wamp.INVOCATION)
	if first.Details["progress"] != true || first.Details["receive_progress"] != true || first.Details["caller"] == nil || first.ID != id {
		t.Fatalf("first INVOCATION %v", first.Details)
	}
	// Continuations go to the same callee under the same request id, with
	// only progress in the details, even though roundrobin would pick b
	// for a new call and the caller repeats other options.
	callOpts(t, d, caller, 5, `{"progress":true,"disclose_me":true,"timeout":1}`, "com.example.upload", `["chunk2"]`)
	inv := one(t, a, wamp.INVOCATION)
	if inv.Request != first.Request || inv.ID != id || len(inv.Details) != 1 || inv.Details["progress"] != true || string(inv.Args.Raw) != `["chunk2"]` {
		t.Fatalf("continuation INVOCATION %v %v %s", inv, inv.Details, inv.Args.Raw)
	}
	none(t, b)
	// Results may flow while the caller still sends.
	if err := yield(t, d, a, first.Request, `{"progress":true}`, `["ack1"]`); err != nil {
		t.Fatal(err)
	}
	one(t, caller, wamp.RESULT)
	callOpts(t, d, caller, 5, `{}`, "com.example.upload", `["last"]`)
	inv = one(t, a, wamp.INVOCATION)
	if inv.Request != first.Request || len(inv.Details) != 0 {
		t.Fatalf("final INVOCATION %v %v", inv, inv.Details)
	}
	if err := yield(t, d, a, first.Request, `{}`, `["total"]`); err != nil {
		t.Fatal(err)
	}
	if res := one(t, caller, wamp.RESULT); res.Request != 5 || string(res.Args.Raw) != `["total"]` {
		t.Fatalf("RESULT %v %s", res, res.Args.Raw)
	}
	checkEmpty(t, d)
	// The request id is free again once the call ended after the final
	// CALL: a new CALL with it is a new call (roundrobin now picks b).
	callOpts(t, d, caller, 5, `{}`, "com.example.upload")
	one(t, b, wamp.INVOCATION)
}

func TestProgressiveInvocationsEndedEarly(t *testing.T) {
	// The callee answers while the caller is still streaming: continuations
	// on their way are discarded (advanced/rpc_progressive_call_invocations.md
	// "Continuations on Completed Calls") until the caller's final CALL.
	d := New(Config{})
	callee, caller := peer(1, fullCallee...), peer(2, progInvoker...)
	registerOpts(t, d, callee, 1, `{}`, "com.example.upload")
	callOpts(t, d, caller, 1, `{"progress":true}`, "com.example.upload", `[1]`)
	inv := one(t, callee, wamp.INVOCATION)
	if err := d.Error(callee, fakepeer.Decode(t, `[8,68,1,{},"com.example.error.full"]`)); err != nil {
		t.Fatal(err)
	}
	wantCallError(t, caller, 1, "com.example.error.full", "")
	callOpts(t, d, caller, 1, `{"progress":true}`, "com.example.upload", `[2]`)
	callOpts(t, d, caller, 1, `{}`, "com.example.upload", `[3]`)
	none(t, callee)
	none(t, caller)
	checkEmpty(t, d)
	// After the final CALL the id is an ordinary one again.
	callOpts(t, d, caller, 1, `{}`, "com.example.upload")
	if m := one(t, callee, wamp.INVOCATION); m.Request == inv.Request {
		t.Fatal("new call reused the old invocation request id")
	}
}

func TestProgressiveInvocationsRefused(t *testing.T) {
	for _, tc := range []struct {
		name           string
		caller, callee []string
		wantViolation  bool
		want           wamp.URI
	}{
		{"caller did not announce", noFeatures, fullCallee, true, wamp.ErrProtocolViolation},
		{"callee did not announce", progInvoker, progResults, false, wamp.ErrFeatureNotSupported},
		{"callee cannot be interrupted", progInvoker, []string{"callee.progressive_call_invocations"}, false, wamp.ErrFeatureNotSupported},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := New(Config{})
			callee, caller := peer(1, tc.callee...), peer(2, tc.caller...)
			registerOpts(t, d, callee, 1, `{}`, "com.example.upload")
			err := d.Call(caller, fakepeer.Decode(t, `[48,1,{"progress":true},"com.example.upload"]`))
			if we, ok := err.(*wamp.Error); (ok && we.URI == wamp.ErrProtocolViolation) != tc.wantViolation {
				t.Fatalf("Call returned %v, want protocol violation %v", err, tc.wantViolation)
			}
			wantCallError(t, caller, 1, tc.want, "progress")
			none(t, callee)
			checkEmpty(t, d)
		})
	}
	t.Run("local procedure", func(t *testing.T) {
		d := New(Config{})
		if err := d.RegisterLocal("wamp.x", func(Peer, *wamp.Message) (wamp.Payload, wamp.Payload, error) {
			return wamp.List(), wamp.Payload{}, nil
		}); err != nil {
			t.Fatal(err)
		}
		caller := peer(2, progInvoker...)
		callOpts(t, d, caller, 1, `{"progress":true}`, "wamp.x")
		wantCallError(t, caller, 1, wamp.ErrFeatureNotSupported, "progress")
	})
}

func TestDiscloseCaller(t *testing.T) {
	for _, tc := range []struct {
		name    string
		policy  Disclosure
		opts    string
		want    bool
		refused bool
	}{
		{"on request, asked", DiscloseOnRequest, `{"disclose_me":true}`, true, false},
		{"on request, not asked", DiscloseOnRequest, `{}`, false, false},
		{"on request, declined", DiscloseOnRequest, `{"disclose_me":false}`, false, false},
		{"always", DiscloseAlways, `{}`, true, false},
		{"always, declined", DiscloseAlways, `{"disclose_me":false}`, true, false},
		{"never, not asked", DiscloseNever, `{}`, false, false},
		{"never, asked", DiscloseNever, `{"disclose_me":true}`, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := New(Config{Disclosure: tc.policy})
			callee, caller := peer(1), peer(42)
			registerOpts(t, d, callee, 1, `{}`, "com.example.who")
			callOpts(t, d, caller, 1, tc.opts, "com.example.who")
			if tc.refused {
				wantCallError(t, caller, 1, ErrDiscloseMeDisallowed, "disclose")
				none(t, callee)
				checkEmpty(t, d)
				return
			}
			inv := one(t, callee, wamp.INVOCATION)
			id, _ := wamp.AsInt(inv.Details["caller"])
			got := id == 42 && inv.Details["caller_authid"] == "user42" && inv.Details["caller_authrole"] == "role"
			if got != tc.want || (!tc.want && len(inv.Details) != 0) {
				t.Fatalf("INVOCATION details %v, want disclosure %v", inv.Details, tc.want)
			}
		})
	}
}
