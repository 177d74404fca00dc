package auth

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/switchboard/switchboard/wamp"
)

func mustStatic(t *testing.T, roles []Role) *Static {
	t.Helper()
	s, err := NewStatic(roles)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestStatic(t *testing.T) {
	s := mustStatic(t, []Role{
		{Name: "anonymous", Permissions: []Permission{
			{URI: "public.", Match: wamp.MatchPrefix, Allow: []Action{ActionSubscribe}},
		}},
		{Name: "backend", Permissions: []Permission{
			{URI: "app.", Match: wamp.MatchPrefix, Allow: []Action{ActionRegister, ActionPublish}, DiscloseCaller: true, DisclosePublisher: true},
			{URI: "app.admin.", Match: wamp.MatchPrefix, Allow: []Action{ActionCall}},
			{URI: "app.admin.reset", Allow: []Action{ActionRegister}},
			{URI: "app..status", Match: wamp.MatchWildcard, Allow: []Action{ActionSubscribe}},
			{URI: "sys..status", Match: wamp.MatchWildcard, Allow: []Action{ActionSubscribe}},
			{URI: "sys.x.", Match: wamp.MatchWildcard, Allow: []Action{ActionCall}},
			{URI: "wamp.session.", Match: wamp.MatchPrefix, Allow: []Action{ActionCall}},
		}},
		{Name: "admin", Permissions: []Permission{
			{URI: "", Match: wamp.MatchPrefix, Allow: []Action{ActionCall, ActionRegister, ActionPublish, ActionSubscribe}},
		}},
	})
	for _, tc := range []struct {
		role     string
		action   Action
		uri      wamp.URI
		match    string
		allow    bool
		disclose bool
	}{
		{"anonymous", ActionSubscribe, "public.news", "", true, false},
		{"anonymous", ActionSubscribe, "public.", wamp.MatchPrefix, true, false},
		{"anonymous", ActionSubscribe, "public", wamp.MatchPrefix, false, false}, // would match "publicity"
		{"anonymous", ActionSubscribe, "", wamp.MatchPrefix, false, false},       // everything
		{"anonymous", ActionPublish, "public.news", "", false, false},
		{"anonymous", ActionSubscribe, "wamp.session.on_join", "", false, false},
		{"anonymous", ActionCall, "wamp.session.kill", "", false, false},
		{"backend", ActionRegister, "app.add", "", true, false},
		{"backend", ActionPublish, "app.events", "", true, true},
		{"backend", ActionCall, "app.add", "", false, false},
		{"backend", ActionCall, "app.admin.list", "", true, false},          // the longer prefix decides
		{"backend", ActionRegister, "app.admin.list", "", false, false},     // and allows no register
		{"backend", ActionRegister, "app.admin.reset", "", true, false},     // exact beats prefix
		{"backend", ActionSubscribe, "app.orders.status", "", false, false}, // app. prefix beats the wildcard
		{"backend", ActionSubscribe, "sys.db.status", "", true, false},      // wildcard
		{"backend", ActionSubscribe, "sys.db.status.x", "", false, false},   // too many components
		{"backend", ActionCall, "sys.x.status", "", false, false},           // as specific as sys.x.: the first listed wins
		{"backend", ActionCall, "sys.x.reboot", "", true, false},
		{"backend", ActionCall, "wamp.session.kill", "", true, false},
		{"admin", ActionSubscribe, "anything.at.all", "", true, false},
		{"admin", ActionCall, "wamp.session.kill", "", true, false},
		{"stranger", ActionSubscribe, "public.news", "", false, false},
	} {
		d, err := s.Authorize(context.Background(), Subject{AuthRole: tc.role}, Access{Action: tc.action, URI: tc.uri, Match: tc.match})
		if err != nil || d.Allow != tc.allow || d.Disclose != tc.disclose {
			t.Errorf("%s %s %q (%s) = %+v, %v; want allow %v disclose %v", tc.role, tc.action, tc.uri, tc.match, d, err, tc.allow, tc.disclose)
		}
	}
	if !s.HasRole("backend") || s.HasRole("stranger") {
		t.Error("HasRole is wrong")
	}
}

func TestStaticAllocatesNothing(t *testing.T) {
	s := mustStatic(t, []Role{{Name: "r", Permissions: []Permission{
		{URI: "a.b", Allow: []Action{ActionPublish}},
		{URI: "a.", Match: wamp.MatchPrefix, Allow: []Action{ActionPublish}},
		{URI: "x..z", Match: wamp.MatchWildcard, Allow: []Action{ActionPublish}},
	}}})
	sub := Subject{AuthRole: "r"}
	for _, uri := range []wamp.URI{"a.b", "a.c", "x.y.z", "no.match"} {
		a := Access{Action: ActionPublish, URI: uri}
		if n := testing.AllocsPerRun(100, func() { _, _ = s.Authorize(context.Background(), sub, a) }); n != 0 {
			t.Errorf("Authorize(%s) allocates %v times", uri, n)
		}
	}
}

func TestStaticErrors(t *testing.T) {
	for _, roles := range [][]Role{
		{{Name: ""}},
		{{Name: "a"}, {Name: "a"}},
		{{Name: "a", Permissions: []Permission{{URI: "x", Allow: []Action{0}}}}},
		{{Name: "a", Permissions: []Permission{{URI: "x", Match: "regex"}}}},
		{{Name: "a", Permissions: []Permission{{URI: "x"}, {URI: "x", Match: wamp.MatchExact}}}},
		{{Name: "a", Permissions: []Permission{{URI: "x.", Match: wamp.MatchPrefix}, {URI: "x.", Match: wamp.MatchPrefix}}}},
	} {
		if _, err := NewStatic(roles); !errors.Is(err, ErrBadPermission) {
			t.Errorf("NewStatic(%+v) = %v, want ErrBadPermission", roles, err)
		}
	}
}

func TestDynamicAuthorizer(t *testing.T) {
	clk := newClock()
	c := &caller{fn: func(_ context.Context, args []any) ([]any, error) {
		switch args[1] {
		case "app.open":
			return []any{true}, nil
		case "app.disclosed":
			return []any{map[string]any{"allow": true, "disclose": true}}, nil
		case "app.nocache":
			return []any{map[string]any{"allow": true, "cache": false}}, nil
		case "app.broken":
			return nil, errors.New("backend down")
		case "app.weird":
			return []any{"yes"}, nil
		}
		return []any{false}, nil
	}}
	z := &DynamicAuthorizer{Caller: c, Procedure: "com.example.authorize", Cache: time.Minute, Now: clk.Now}
	sub := Subject{Session: 7, Realm: "realm1", AuthID: "alice", AuthRole: "frontend", AuthMethod: "ticket", AuthProvider: "static"}
	check := func(uri wamp.URI, allow, disclose bool) {
		t.Helper()
		d, err := z.Authorize(context.Background(), sub, Access{Action: ActionPublish, URI: uri})
		if err != nil || d.Allow != allow || d.Disclose != disclose {
			t.Errorf("%s = %+v, %v; want allow %v disclose %v", uri, d, err, allow, disclose)
		}
	}
	check("app.open", true, false)
	args := c.calls[0]
	session := args[0].(map[string]any)
	if session["session"] != uint64(7) || session["authid"] != "alice" || session["authrole"] != "frontend" || args[1] != "app.open" || args[2] != "publish" {
		t.Errorf("called with %v", args)
	}
	check("app.open", true, false)
	if c.count() != 1 {
		t.Errorf("calls = %d after a cached answer, want 1", c.count())
	}
	clk.Advance(time.Minute)
	check("app.open", true, false)
	if c.count() != 2 {
		t.Errorf("calls = %d after the cache expired, want 2", c.count())
	}
	// Another session, action or URI is another question.
	other := sub
	other.Session = 8
	_, _ = z.Authorize(context.Background(), other, Access{Action: ActionPublish, URI: "app.open"})
	_, _ = z.Authorize(context.Background(), sub, Access{Action: ActionSubscribe, URI: "app.open"})
	if c.count() != 4 {
		t.Errorf("calls = %d, want 4", c.count())
	}
	check("app.disclosed", true, true)
	check("app.closed", false, false)
	check("app.nocache", true, false)
	check("app.nocache", true, false)
	n := c.count()
	for _, uri := range []wamp.URI{"app.broken", "app.weird"} {
		for range 2 {
			_, err := z.Authorize(context.Background(), sub, Access{Action: ActionPublish, URI: uri})
			if !errors.Is(err, ErrAuthorizer) {
				t.Errorf("%s: err = %v, want ErrAuthorizer", uri, err)
			}
			if we := WAMPError(err); we.URI != wamp.ErrAuthorizationFailed {
				t.Errorf("%s: %v, want authorization_failed", uri, we)
			}
		}
	}
	if got := c.count() - n; got != 4 {
		t.Errorf("failures were cached: %d calls for 4 attempts", got)
	}
	z.Forget(7)
	z.Forget(8)
	if z.Cached() != 0 {
		t.Errorf("Cached = %d after forgetting every session", z.Cached())
	}
}

func TestDynamicAuthorizerBounded(t *testing.T) {
	z := &DynamicAuthorizer{Caller: returns(true), Procedure: "p", Cache: time.Hour, MaxCached: 50}
	for i := range 500 {
		_, _ = z.Authorize(context.Background(), Subject{Session: 1}, Access{Action: ActionCall, URI: wamp.URI(fmt.Sprint("u.", i))})
	}
	if z.Cached() > 50 {
		t.Errorf("Cached = %d, want at most 50", z.Cached())
	}
}

func TestChain(t *testing.T) {
	st := mustStatic(t, []Role{{Name: "authorizer", Permissions: []Permission{{URI: "com.example.authorize", Allow: []Action{ActionRegister}}}}})
	dyn := &DynamicAuthorizer{Caller: returns(true), Procedure: "p"}
	c := Chain{Static: st, Dynamic: dyn}
	d, _ := c.Authorize(context.Background(), Subject{AuthRole: "authorizer"}, Access{Action: ActionPublish, URI: "x"})
	if d.Allow {
		t.Error("a static role was passed to the dynamic authorizer")
	}
	d, _ = c.Authorize(context.Background(), Subject{AuthRole: "user"}, Access{Action: ActionPublish, URI: "x"})
	if !d.Allow {
		t.Error("a role without static permissions did not reach the dynamic authorizer")
	}
	if !c.HasRole("anything") || (Chain{Static: st}).HasRole("anything") {
		t.Error("HasRole is wrong")
	}
}

func TestActions(t *testing.T) {
	for _, a := range []Action{ActionCall, ActionRegister, ActionPublish, ActionSubscribe} {
		if b, ok := ParseAction(a.String()); !ok || b != a {
			t.Errorf("ParseAction(%q) = %v, %v", a.String(), b, ok)
		}
	}
	if _, ok := ParseAction("delete"); ok {
		t.Error("ParseAction(delete) ok")
	}
}
