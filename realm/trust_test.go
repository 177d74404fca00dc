package realm_test

import (
	"strings"
	"testing"
	"time"

	"github.com/switchboard/switchboard/auth"
	"github.com/switchboard/switchboard/realm"
	"github.com/switchboard/switchboard/session"
	"github.com/switchboard/switchboard/transport"
	"github.com/switchboard/switchboard/wamp"
)

// identityJoiner attaches every session as who, as the router does once
// an authenticator has answered.
type identityJoiner struct {
	r        *realm.Realm
	who      auth.Identity
	sessions chan *session.Session
}

func (j identityJoiner) Join(s *session.Session, _ wamp.URI, _ wamp.Dict) (session.Handler, wamp.Dict, error) {
	d, err := j.r.AttachAs(s, wamp.GlobalID(), j.who)
	j.sessions <- s
	return j.r, d, err
}

// joinAs attaches a session as who whose HELLO announces features (each
// "role.feature") and reads its WELCOME.
func joinAs(t *testing.T, r *realm.Realm, who auth.Identity, features ...string) (*peer, *wamp.Message) {
	t.Helper()
	roles := map[string]any{}
	for _, role := range []string{"subscriber", "publisher", "caller", "callee"} {
		roles[role] = map[string]any{"features": map[string]any{}}
	}
	for _, f := range features {
		role, name, _ := strings.Cut(f, ".")
		roles[role].(map[string]any)["features"].(map[string]any)[name] = true
	}
	c := newTestConn(wamp.JSON, true)
	j := identityJoiner{r: r, who: who, sessions: make(chan *session.Session, 1)}
	c.in <- encode(t, wamp.JSON, &wamp.Message{Type: wamp.HELLO, URI: "realm1", Details: wamp.Dict{"roles": roles}})
	done := make(chan struct{})
	go func() {
		defer close(done)
		session.Serve(c, session.Config{}, j)
	}()
	t.Cleanup(func() {
		_ = c.Close(transport.CloseNormal, "")
		<-done
	})
	var s *session.Session
	select {
	case s = <-j.sessions:
	case <-time.After(bound):
		t.Fatalf("no join within %v", bound)
	}
	p := &peer{tb: t, s: s, c: c, done: done}
	w := p.recv()
	if w.Type != wamp.WELCOME {
		t.Fatalf("got %v, want WELCOME", w)
	}
	return p, w
}

func anon(role string, extra wamp.Dict) auth.Identity {
	return auth.Identity{AuthID: "someone", AuthRole: role, AuthMethod: "anonymous", AuthProvider: "static", AuthExtra: extra}
}

func trustOf(t *testing.T, m *wamp.Message) any {
	t.Helper()
	if m.Type != wamp.EVENT && m.Type != wamp.INVOCATION {
		t.Fatalf("got %v %q %v, want EVENT or INVOCATION", m, m.URI, m.Details)
	}
	return m.Details["trustlevel"]
}

// TestTrustLevels: a role's trust level (Config.TrustLevels, then
// SetTrustLevels as a reload does) reaches the EVENTs of its publications
// and the INVOCATIONs of its calls; an authenticator's authextra
// trustlevel takes precedence; a session without one gets none.
func TestTrustLevels(t *testing.T) {
	r := newRealm(t, realm.Config{Name: "realm1", TrustLevels: map[string]int64{"user": 2, "admin": 9}})
	sub, _ := joinAs(t, r, anon("other", nil))
	subID := sub.subscribe("com.t")
	if m := sub.request(&wamp.Message{Type: wamp.REGISTER, Details: wamp.Dict{}, URI: "com.p"}); m.Type != wamp.REGISTERED {
		t.Fatalf("REGISTER: %v", m)
	}
	user, _ := joinAs(t, r, anon("user", nil))
	boss, _ := joinAs(t, r, anon("user", wamp.Dict{"trustlevel": 5}))
	guest, _ := joinAs(t, r, anon("guest", nil))

	publish := func(p *peer) any {
		t.Helper()
		if m := p.request(&wamp.Message{Type: wamp.PUBLISH, Details: wamp.Dict{"acknowledge": true}, URI: "com.t", Args: wamp.List(1)}); m.Type != wamp.PUBLISHED {
			t.Fatalf("PUBLISH: %v %q", m, m.URI)
		}
		ev := sub.recv()
		if ev.ID != subID {
			t.Fatalf("EVENT for %d, want %d", ev.ID, subID)
		}
		return trustOf(t, ev)
	}
	call := func(p *peer) any {
		t.Helper()
		p.req++
		if err := p.sendErr(&wamp.Message{Type: wamp.CALL, Request: p.req, Details: wamp.Dict{}, URI: "com.p"}); err != nil {
			t.Fatal(err)
		}
		inv := sub.recv()
		tl := trustOf(t, inv)
		if err := sub.sendErr(&wamp.Message{Type: wamp.YIELD, Request: inv.Request, Details: wamp.Dict{}}); err != nil {
			t.Fatal(err)
		}
		if m := p.recv(); m.Type != wamp.RESULT {
			t.Fatalf("got %v, want RESULT", m)
		}
		return tl
	}
	for _, c := range []struct {
		name string
		p    *peer
		want any
	}{{"role", user, int64(2)}, {"authenticator", boss, int64(5)}, {"none", guest, nil}} {
		if got := publish(c.p); got != c.want {
			t.Errorf("%s: EVENT trustlevel %v, want %v", c.name, got, c.want)
		}
		if got := call(c.p); got != c.want {
			t.Errorf("%s: INVOCATION trustlevel %v, want %v", c.name, got, c.want)
		}
	}
	if n, ok := r.TrustLevel(boss.s.ID); !ok || n != 5 {
		t.Errorf("TrustLevel(boss) = %d, %v; want 5", n, ok)
	}

	// A reload changes the role's level, not the authenticator's.
	r.SetTrustLevels(map[string]int64{"user": 3, "guest": 0})
	if got := publish(user); got != int64(3) {
		t.Errorf("after reload: role trustlevel %v, want 3", got)
	}
	if got := publish(boss); got != int64(5) {
		t.Errorf("after reload: authenticator's trustlevel %v, want 5", got)
	}
	if got := call(guest); got != int64(0) {
		t.Errorf("after reload: level 0 is %v, want 0 (the lowest, not none)", got)
	}
	r.SetTrustLevels(nil)
	if got := publish(user); got != nil {
		t.Errorf("without levels: trustlevel %v, want none", got)
	}
	if got := publish(boss); got != int64(5) {
		t.Errorf("without role levels: authenticator's trustlevel %v, want 5", got)
	}
}

func TestTrustLevelsInvalid(t *testing.T) {
	if _, err := realm.New(realm.Config{Name: "realm1", TrustLevels: map[string]int64{"user": -1}}); err == nil {
		t.Error("realm.New took a negative trust level")
	}
	// A bad authextra trustlevel is ignored (and logged).
	r := newRealm(t, realm.Config{Name: "realm1", TrustLevels: map[string]int64{"user": 1}})
	p, _ := joinAs(t, r, anon("user", wamp.Dict{"trustlevel": "high"}))
	if n, ok := r.TrustLevel(p.s.ID); !ok || n != 1 {
		t.Errorf("TrustLevel = %d, %v; want the role's 1", n, ok)
	}
}

// TestWelcomeAnnouncesTrustAndPassthru: what works is announced.
func TestWelcomeAnnouncesTrustAndPassthru(t *testing.T) {
	r := newRealm(t, realm.Config{Name: "realm1"})
	_, w := joinAs(t, r, anon("user", nil))
	for _, c := range []struct{ role, feature string }{
		{"broker", "publication_trustlevels"}, {"broker", "payload_passthru_mode"}, {"broker", "payload_transparency"},
		{"dealer", "call_trustlevels"}, {"dealer", "payload_passthru_mode"}, {"dealer", "payload_transparency"},
	} {
		if wamp.Dig(w.Details, "roles", c.role, "features", c.feature) != true {
			t.Errorf("WELCOME does not announce %s.%s", c.role, c.feature)
		}
	}
}

// TestPassthruProtocolViolations: ppt_* from a peer that did not announce
// payload_passthru_mode ends its session with ABORT protocol_violation,
// for PUBLISH, CALL, YIELD and ERROR alike.
func TestPassthruProtocolViolations(t *testing.T) {
	ppt := wamp.Dict{"ppt_scheme": "mqtt"}
	bin := wamp.List([]byte{1, 2, 3})
	wantAbort := func(p *peer, what string) {
		t.Helper()
		for {
			m, err := p.recvErr()
			if err != nil {
				t.Fatalf("%s: %v, want ABORT", what, err)
			}
			if m.Type == wamp.ABORT {
				if m.URI != wamp.ErrProtocolViolation {
					t.Errorf("%s: ABORT %s, want protocol_violation", what, m.URI)
				}
				return
			}
		}
	}
	allPPT := []string{"publisher.payload_passthru_mode", "subscriber.payload_passthru_mode", "caller.payload_passthru_mode", "callee.payload_passthru_mode"}

	r := newRealm(t, realm.Config{Name: "realm1"})
	p, _ := joinAs(t, r, anon("user", nil))
	if err := p.sendErr(&wamp.Message{Type: wamp.PUBLISH, Request: 1, Details: ppt, URI: "com.t", Args: bin}); err != nil {
		t.Fatal(err)
	}
	wantAbort(p, "PUBLISH")

	callee, _ := joinAs(t, r, anon("user", nil), allPPT...)
	if m := callee.request(&wamp.Message{Type: wamp.REGISTER, Details: wamp.Dict{}, URI: "com.p"}); m.Type != wamp.REGISTERED {
		t.Fatalf("REGISTER: %v", m)
	}
	p, _ = joinAs(t, r, anon("user", nil))
	if err := p.sendErr(&wamp.Message{Type: wamp.CALL, Request: 1, Details: ppt, URI: "com.p", Args: bin}); err != nil {
		t.Fatal(err)
	}
	wantAbort(p, "CALL")

	for _, typ := range []wamp.Type{wamp.YIELD, wamp.ERROR} {
		plain, _ := joinAs(t, r, anon("user", nil))
		proc := wamp.URI("com.plain." + typ.String())
		if m := plain.request(&wamp.Message{Type: wamp.REGISTER, Details: wamp.Dict{}, URI: proc}); m.Type != wamp.REGISTERED {
			t.Fatalf("REGISTER: %v", m)
		}
		caller, _ := joinAs(t, r, anon("user", nil), allPPT...)
		if err := caller.sendErr(&wamp.Message{Type: wamp.CALL, Request: 1, Details: wamp.Dict{}, URI: proc}); err != nil {
			t.Fatal(err)
		}
		inv := plain.recv()
		answer := &wamp.Message{Type: typ, Request: inv.Request, Details: ppt, Args: bin}
		if typ == wamp.ERROR {
			answer.ErrType, answer.URI = wamp.INVOCATION, "com.error"
		}
		if err := plain.sendErr(answer); err != nil {
			t.Fatal(err)
		}
		wantAbort(plain, typ.String())
		// The caller learns that its callee is gone.
		if m := caller.recv(); m.Type != wamp.ERROR || m.URI != wamp.ErrCanceled {
			t.Errorf("caller after its callee's %v: %v %s, want ERROR canceled", typ, m, m.URI)
		}
	}
}
