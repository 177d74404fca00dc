package dealer

import (
	"fmt"
	"testing"

	"github.com/switchboard/switchboard/internal/fakepeer"
	"github.com/switchboard/switchboard/wamp"
)

// REGISTER.Options.disclose_caller (advanced/rpc_caller_identification.md):
// the callee asks for its callers to be named; the realm's never still wins.
func TestRegisterDiscloseCaller(t *testing.T) {
	for _, tc := range []struct {
		name    string
		policy  Disclosure
		opts    string
		want    bool
		refused bool
	}{
		{"asked", DiscloseOnRequest, `{"disclose_caller":true}`, true, false},
		{"declined", DiscloseOnRequest, `{"disclose_caller":false}`, false, false},
		{"prefix, asked", DiscloseOnRequest, `{"disclose_caller":true,"match":"prefix"}`, true, false},
		{"always, declined", DiscloseAlways, `{"disclose_caller":false}`, true, false},
		{"never, asked", DiscloseNever, `{"disclose_caller":true}`, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := New(Config{Disclosure: tc.policy})
			callee, caller := peer(1), peer(42)
			if tc.refused {
				d.Register(callee, decodef(t, `[64,1,%s,"com.example.who"]`, tc.opts))
				m := one(t, callee, wamp.ERROR)
				if m.ErrType != wamp.REGISTER || m.URI != ErrDiscloseMeDisallowed {
					t.Fatalf("got %v %s, want ERROR REGISTER %s", m.ErrType, m.URI, ErrDiscloseMeDisallowed)
				}
				if n := d.RegistrationCount(); n != 0 {
					t.Fatalf("%d registrations after a refused REGISTER", n)
				}
				return
			}
			registerOpts(t, d, callee, 1, tc.opts, "com.example.who")
			callOpts(t, d, caller, 1, `{}`, "com.example.who")
			inv := one(t, callee, wamp.INVOCATION)
			id, _ := wamp.AsInt(inv.Details["caller"])
			got := id == 42 && inv.Details["caller_authid"] == "user42" && inv.Details["caller_authrole"] == "role"
			if got != tc.want {
				t.Fatalf("INVOCATION details %v, want disclosure %v", inv.Details, tc.want)
			}
		})
	}
}

// The option is the asking callee's: on a shared registration a callee
// that did not ask still gets no caller, and the wish leaves with its
// callee.
func TestRegisterDiscloseCallerPerCallee(t *testing.T) {
	d := New(Config{})
	asks, quiet, caller := peer(1), peer(2), peer(42)
	registerOpts(t, d, asks, 1, `{"invoke":"first","disclose_caller":true}`, "com.example.who")
	registerOpts(t, d, quiet, 1, `{"invoke":"first"}`, "com.example.who")
	callOpts(t, d, caller, 1, `{}`, "com.example.who")
	inv := one(t, asks, wamp.INVOCATION)
	if id, _ := wamp.AsInt(inv.Details["caller"]); id != 42 {
		t.Fatalf("asking callee got details %v, want caller 42", inv.Details)
	}
	_ = yield(t, d, asks, inv.Request, `{}`)
	one(t, caller, wamp.RESULT)

	d.RemoveSession(asks.ID)
	callOpts(t, d, caller, 2, `{}`, "com.example.who")
	if inv := one(t, quiet, wamp.INVOCATION); len(inv.Details) != 0 {
		t.Fatalf("callee that did not ask got details %v", inv.Details)
	}
}

func TestRegisterDiscloseCallerBadType(t *testing.T) {
	d := New(Config{})
	callee := peer(1)
	d.Register(callee, decodef(t, `[64,1,{"disclose_caller":"yes"},"com.example.who"]`))
	if m := one(t, callee, wamp.ERROR); m.URI != wamp.ErrInvalidArgument {
		t.Fatalf("got ERROR %s, want %s", m.URI, wamp.ErrInvalidArgument)
	}
}

func decodef(t *testing.T, format string, a ...any) *wamp.Message {
	t.Helper()
	return fakepeer.Decode(t, fmt.Sprintf(format, a...))
}
