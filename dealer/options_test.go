package dealer

import (
	"fmt"
	"strings"
	"testing"

	"github.com/switchboard/switchboard/internal/fakepeer"
	"github.com/switchboard/switchboard/wamp"
)

// TestBadOptions sends every option the dealer reads with a wrong type or
// value: each gets ERROR wamp.error.invalid_argument naming the option,
// leaves nothing pending, and the dealer goes on serving.
func TestBadOptions(t *testing.T) {
	type kind int
	const (
		register kind = iota
		call
		cancelCall
	)
	for _, tc := range []struct {
		kind   kind
		opts   string
		option string
	}{
		{register, `{"match":1}`, "match"},
		{register, `{"match":"regex"}`, "match"},
		{register, `{"match":""}`, ""}, // "" means exact: accepted
		{register, `{"invoke":true}`, "invoke"},
		{register, `{"invoke":"bogus"}`, "invoke"},
		{register, `{"invoke":"RoundRobin"}`, "invoke"},
		{call, `{"timeout":"100"}`, "timeout"},
		{call, `{"timeout":-1}`, "timeout"},
		{call, `{"timeout":1.5}`, "timeout"},
		{call, `{"timeout":true}`, "timeout"},
		{call, `{"timeout":null}`, ""}, // null counts as absent (wamp.Dict)
		{call, `{"timeout":[1]}`, "timeout"},
		{call, `{"timeout":18446744073709551615}`, "timeout"},
		{call, `{"timeout":9223372036854775807}`, "timeout"},
		{call, `{"timeout":100.0}`, ""}, // an integral float is an integer
		{call, `{"receive_progress":"yes"}`, "receive_progress"},
		{call, `{"receive_progress":1}`, "receive_progress"},
		{call, `{"disclose_me":1}`, "disclose_me"},
		{call, `{"disclose_me":"true"}`, "disclose_me"},
		{call, `{"progress":"true"}`, "progress"},
		{call, `{"progress":{}}`, "progress"},
		{cancelCall, `{"mode":1}`, "mode"},
		{cancelCall, `{"mode":"hard"}`, "mode"},
		{cancelCall, `{"mode":"SKIP"}`, "mode"},
	} {
		t.Run(tc.opts, func(t *testing.T) {
			d := New(Config{})
			callee, caller := peer(1, everyFeature...), peer(2, everyFeature...)
			registerOpts(t, d, callee, 1, `{}`, "com.example.ok")
			var typ wamp.Type
			switch tc.kind {
			case register:
				typ = wamp.REGISTER
				d.Register(callee, fakepeer.Decode(t, fmt.Sprintf(`[64,5,%s,"com.example.new"]`, tc.opts)))
			case call:
				typ = wamp.CALL
				callOpts(t, d, caller, 5, tc.opts, "com.example.ok")
			case cancelCall:
				callOpts(t, d, caller, 4, `{}`, "com.example.ok")
				one(t, callee, wamp.INVOCATION)
				typ = wamp.CANCEL
				cancel(t, d, caller, 4, tc.opts)
			}
			p := caller
			if tc.kind == register {
				p = callee
			}
			if tc.option == "" {
				want, got := wamp.REGISTERED, callee.Last()
				if tc.kind == call {
					want = wamp.INVOCATION
					none(t, caller)
				}
				if got == nil || got.Type != want {
					t.Fatalf("got %v %v, want the option accepted", got, details(got))
				}
				return
			}
			m := p.Last()
			if m == nil || m.Type != wamp.ERROR || m.ErrType != typ || m.Request != 5 && m.Request != 4 || m.URI != wamp.ErrInvalidArgument {
				t.Fatalf("got %v %v %v, want ERROR %v invalid_argument", m, details(m), m.URI, typ)
			}
			if msg := wamp.String(m.Details, "message"); !strings.Contains(msg, "option "+tc.option) {
				t.Fatalf("message %q does not name option %s", msg, tc.option)
			}
			if tc.kind == call {
				none(t, callee)
				checkEmpty(t, d)
			}
			if tc.kind == cancelCall {
				// The call is still pending and still answerable.
				if d.PendingCount() != 1 {
					t.Fatalf("PendingCount %d after a bad CANCEL, want the call still pending", d.PendingCount())
				}
				cancel(t, d, caller, 4, `{"mode":"killnowait"}`)
				wantCallError(t, caller, 4, wamp.ErrCanceled, "")
			}
			// The dealer still serves.
			callOpts(t, d, caller, 6, `{}`, "com.example.ok")
			inv := callee.Last()
			if inv == nil || inv.Type != wamp.INVOCATION {
				t.Fatalf("callee got %v after the bad input, want INVOCATION", inv)
			}
		})
	}
}

func TestBadYieldProgress(t *testing.T) {
	// A YIELD whose progress is not a boolean: the caller gets
	// invalid_argument naming the option, the callee an INTERRUPT, and its
	// further answers are swallowed.
	// (null counts as absent: wamp.Dict.)
	for _, opts := range []string{`{"progress":"yes"}`, `{"progress":1}`} {
		t.Run(opts, func(t *testing.T) {
			d := New(Config{})
			callee, caller := peer(1, progResults...), peer(2)
			registerOpts(t, d, callee, 1, `{}`, "com.example.p")
			callOpts(t, d, caller, 3, `{"receive_progress":true}`, "com.example.p")
			inv := one(t, callee, wamp.INVOCATION)
			if err := yield(t, d, callee, inv.Request, opts, `[1]`); err != nil {
				t.Fatalf("bad YIELD: %v, want the session kept", err)
			}
			wantCallError(t, caller, 3, wamp.ErrInvalidArgument, "option progress")
			one(t, callee, wamp.INTERRUPT)
			if err := yield(t, d, callee, inv.Request, `{"progress":true}`); err != nil {
				t.Fatal(err)
			}
			if err := yield(t, d, callee, inv.Request, `{}`); err != nil {
				t.Fatal(err)
			}
			none(t, caller)
			checkEmpty(t, d)
		})
	}
}

func TestBadContinuationProgress(t *testing.T) {
	d := New(Config{})
	callee, caller := peer(1, fullCallee...), peer(2, progInvoker...)
	registerOpts(t, d, callee, 1, `{}`, "com.example.upload")
	callOpts(t, d, caller, 1, `{"progress":true}`, "com.example.upload")
	inv := one(t, callee, wamp.INVOCATION)
	callOpts(t, d, caller, 1, `{"progress":"more"}`, "com.example.upload")
	wantCallError(t, caller, 1, wamp.ErrInvalidArgument, "option progress")
	if in := one(t, callee, wamp.INTERRUPT); in.Request != inv.Request {
		t.Fatalf("INTERRUPT %v", in)
	}
	// Continuations still under way are discarded, the callee's answer
	// swallowed.
	callOpts(t, d, caller, 1, `{}`, "com.example.upload")
	none(t, callee)
	if err := d.Error(callee, fakepeer.Decode(t, fmt.Sprintf(`[8,68,%d,{},"wamp.error.canceled"]`, inv.Request))); err != nil {
		t.Fatal(err)
	}
	none(t, caller)
	checkEmpty(t, d)
}
