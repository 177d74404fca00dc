package realm_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/switchboard/switchboard/auth"
	"github.com/switchboard/switchboard/realm"
	"github.com/switchboard/switchboard/wamp"
)

// Authorization in Handle, with the anonymous sessions of the fixture
// (role "anonymous"); the interop tests cover it with real clients.
func authzRealm(t *testing.T) *realm.Realm {
	t.Helper()
	st, err := auth.NewStatic([]auth.Role{{Name: "anonymous", Permissions: []auth.Permission{
		{URI: "ok.", Match: wamp.MatchPrefix, Allow: []auth.Action{auth.ActionSubscribe, auth.ActionPublish, auth.ActionRegister}},
		{URI: "ok.call", Allow: []auth.Action{auth.ActionCall, auth.ActionRegister}, DiscloseCaller: true},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	return newRealm(t, realm.Config{Name: "realm1", Authorizer: st})
}

func TestHandleAuthorizes(t *testing.T) {
	r := authzRealm(t)
	p := join(t, r, wamp.JSON)
	denied := func(m *wamp.Message) {
		t.Helper()
		reply := p.request(m)
		if reply.Type != wamp.ERROR || reply.ErrType != m.Type || reply.URI != wamp.ErrNotAuthorized || wamp.String(reply.Details, "message") == "" {
			t.Fatalf("%v %s: got %v %q %v, want ERROR not_authorized with a message", m.Type, m.URI, reply, reply.URI, reply.Details)
		}
	}
	denied(&wamp.Message{Type: wamp.SUBSCRIBE, Details: wamp.Dict{}, URI: "no.topic"})
	denied(&wamp.Message{Type: wamp.SUBSCRIBE, Details: wamp.Dict{}, URI: wamp.MetaSessionOnJoin})
	denied(&wamp.Message{Type: wamp.SUBSCRIBE, Details: wamp.Dict{"match": "prefix"}, URI: "o"})
	denied(&wamp.Message{Type: wamp.REGISTER, Details: wamp.Dict{}, URI: "no.proc"})
	denied(&wamp.Message{Type: wamp.PUBLISH, Details: wamp.Dict{"acknowledge": true}, URI: "no.topic"})
	denied(&wamp.Message{Type: wamp.CALL, Details: wamp.Dict{}, URI: "wamp.session.count"})
	// The session stays, and what is allowed works.
	sub := p.subscribe("ok.topic")
	if r := p.request(&wamp.Message{Type: wamp.SUBSCRIBE, Details: wamp.Dict{"match": "prefix"}, URI: "ok.t"}); r.Type != wamp.SUBSCRIBED {
		t.Fatalf("prefix subscription under ok.: %v %q", r, r.URI)
	}
	// A refused publication without acknowledge gets no answer at all.
	if err := p.sendErr(&wamp.Message{Type: wamp.PUBLISH, Request: 999, Details: wamp.Dict{}, URI: "no.topic"}); err != nil {
		t.Fatal(err)
	}
	if got := p.untilMarker("ok.topic", sub); len(got) != 0 {
		t.Errorf("got %v before the marker", got)
	}
	if m := p.request(&wamp.Message{Type: wamp.REGISTER, Details: wamp.Dict{}, URI: "ok.call"}); m.Type != wamp.REGISTERED {
		t.Fatalf("REGISTER ok.call: %v %q", m, m.URI)
	}
	// The permission discloses callers: the INVOCATION names the caller
	// though the CALL did not ask.
	caller := join(t, r, wamp.MsgPack)
	caller.req++
	if err := caller.sendErr(&wamp.Message{Type: wamp.CALL, Request: caller.req, Details: wamp.Dict{}, URI: "ok.call"}); err != nil {
		t.Fatal(err)
	}
	inv := p.recv()
	if inv.Type != wamp.INVOCATION || inv.Details["caller_authrole"] != "anonymous" || inv.Details["caller"] == nil {
		t.Fatalf("got %v %v, want an INVOCATION that discloses the caller", inv, inv.Details)
	}
	if err := p.sendErr(&wamp.Message{Type: wamp.YIELD, Request: inv.Request, Details: wamp.Dict{}}); err != nil {
		t.Fatal(err)
	}
	if res := caller.recv(); res.Type != wamp.RESULT {
		t.Fatalf("caller got %v", res)
	}
}

// Realm.Call is the router calling a session's procedure (for dynamic
// authenticators and authorizers): answers come back decoded, whatever the
// callee's serializer; callee errors as *wamp.Error.
func TestRealmCall(t *testing.T) {
	for _, ser := range wamp.Serializations {
		t.Run(ser.String(), func(t *testing.T) {
			r := newRealm(t, realm.Config{Name: "realm1"})
			callee := join(t, r, ser)
			if m := callee.request(&wamp.Message{Type: wamp.REGISTER, Details: wamp.Dict{}, URI: "com.example.auth"}); m.Type != wamp.REGISTERED {
				t.Fatalf("REGISTER: %v", m)
			}
			type answer struct {
				args   []any
				kwargs map[string]any
				err    error
			}
			call := func() <-chan answer {
				ch := make(chan answer, 1)
				go func() {
					a, k, err := r.Call(context.Background(), "com.example.auth", []any{"realm1", "alice"}, map[string]any{"x": int64(1)})
					ch <- answer{a, k, err}
				}()
				return ch
			}
			ch := call()
			inv := callee.recv()
			if args := value(t, inv.Args).([]any); len(args) != 2 || args[1] != "alice" {
				t.Fatalf("INVOCATION args %v", args)
			}
			if err := callee.sendErr(&wamp.Message{Type: wamp.YIELD, Request: inv.Request, Details: wamp.Dict{},
				Args: wamp.List("frontend"), Kwargs: wamp.KW(map[string]any{"authid": "alice"})}); err != nil {
				t.Fatal(err)
			}
			a := <-ch
			if a.err != nil || len(a.args) != 1 || a.args[0] != "frontend" || a.kwargs["authid"] != "alice" {
				t.Fatalf("Call = %v %v %v", a.args, a.kwargs, a.err)
			}

			ch = call()
			inv = callee.recv()
			if err := callee.sendErr(&wamp.Message{Type: wamp.ERROR, ErrType: wamp.INVOCATION, Request: inv.Request, Details: wamp.Dict{},
				URI: wamp.ErrNotAuthorized, Args: wamp.List("go away")}); err != nil {
				t.Fatal(err)
			}
			var we *wamp.Error
			if a := <-ch; !errors.As(a.err, &we) || we.URI != wamp.ErrNotAuthorized || we.Msg != "go away" {
				t.Fatalf("Call error %v, want not_authorized: go away", a.err)
			}

			ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
			defer cancel()
			got := make(chan struct{})
			go func() { _, _ = callee.recvErr(); close(got) }() // the INVOCATION, never answered
			if _, _, err := r.Call(ctx, "com.example.auth", nil, nil); !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("unanswered Call: %v, want the deadline", err)
			}
			<-got // the reader ends with the test, not after it (goleak)
		})
	}
}
