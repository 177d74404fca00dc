package realm_test

import (
	"log/slog"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/switchboard/switchboard/auth"
	"github.com/switchboard/switchboard/internal/testutil"
	"github.com/switchboard/switchboard/realm"
	"github.com/switchboard/switchboard/session"
	"github.com/switchboard/switchboard/transport"
	"github.com/switchboard/switchboard/wamp"
)

// JWT tickets at the realm: what the auth package cannot see. The role a
// token names must be one of the realm's, and with expire_sessions the
// realm closes a session when its token expires. Each test runs in a
// synctest bubble, so that expiry takes no wall-clock time.

var jwtSecret = []byte("realm-test-secret-of-32-bytes-or-more")

// jwtRealm is a realm whose only method is ticket with JWTs, and whose
// static roles are frontend.
func jwtRealm(t *testing.T, expire bool, log ...*slog.Logger) *realm.Realm {
	t.Helper()
	key, err := auth.HMACKey(jwtSecret)
	if err != nil {
		t.Fatal(err)
	}
	tk, err := auth.NewJWTTicket(auth.JWTConfig{Keys: []auth.JWTKey{key}, AuthExtraClaims: []string{"name"}, ExpireSessions: expire})
	if err != nil {
		t.Fatal(err)
	}
	st, err := auth.NewStatic([]auth.Role{{Name: "frontend", Permissions: []auth.Permission{
		{URI: "app.", Match: wamp.MatchPrefix, Allow: []auth.Action{auth.ActionSubscribe}},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	cfg := realm.Config{Name: "realm1", Auth: auth.NewSet(auth.SetConfig{Methods: []auth.Authenticator{tk}}), Authorizer: st}
	if len(log) > 0 {
		cfg.Logger = log[0]
	}
	return newRealm(t, cfg)
}

func jwtToken(t *testing.T, role string, exp time.Time) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": "alice", "role": role, "name": "Alice", "exp": exp.Unix(), "iat": time.Now().Unix(),
	}).SignedString(jwtSecret)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// authJoiner authenticates and attaches, as the router does.
type authJoiner struct{ r *realm.Realm }

func (j authJoiner) Join(s *session.Session, _ wamp.URI, details wamp.Dict) (session.Handler, wamp.Dict, error) {
	id := wamp.GlobalID()
	who, err := j.r.Authenticate(s, id, details, nil)
	if err != nil {
		return nil, nil, err
	}
	welcome, err := j.r.AttachAs(s, id, who)
	return j.r, welcome, err
}

// jwtJoin runs a session that joins r with token, and returns the
// router's answer to its AUTHENTICATE (WELCOME or ABORT) and the peer.
func jwtJoin(t *testing.T, r *realm.Realm, token string) (*wamp.Message, *peer) {
	t.Helper()
	c := newTestConn(wamp.JSON, true)
	done := make(chan struct{})
	go func() {
		defer close(done)
		session.Serve(c, session.Config{}, authJoiner{r})
	}()
	t.Cleanup(func() {
		_ = c.Close(transport.CloseNormal, "")
		<-done
	})
	p := &peer{tb: t, c: c, done: done}
	if err := p.sendErr(&wamp.Message{Type: wamp.HELLO, URI: "realm1", Details: wamp.Dict{
		"authmethods": []any{"ticket"},
		"roles":       map[string]any{"subscriber": map[string]any{}},
	}}); err != nil {
		t.Fatal(err)
	}
	if m := p.recv(); m.Type != wamp.CHALLENGE || m.Text != "ticket" {
		t.Fatalf("got %v %q, want CHALLENGE ticket", m, m.Text)
	}
	if err := p.sendErr(&wamp.Message{Type: wamp.AUTHENTICATE, Text: token, Details: wamp.Dict{}}); err != nil {
		t.Fatal(err)
	}
	return p.recv(), p
}

func TestJWTJoin(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := jwtRealm(t, false)
		m, _ := jwtJoin(t, r, jwtToken(t, "frontend", time.Now().Add(time.Hour)))
		if m.Type != wamp.WELCOME {
			t.Fatalf("got %v %q %v, want WELCOME", m, m.URI, m.Details)
		}
		d := m.Details
		extra, _ := d["authextra"].(map[string]any)
		if d["authid"] != "alice" || d["authrole"] != "frontend" || d["authmethod"] != "ticket" || d["authprovider"] != "jwt" || extra["name"] != "Alice" {
			t.Errorf("WELCOME details %v", d)
		}
	})
}

// A role the realm does not have is refused as any method's would be:
// no_such_role, whose message names the role.
func TestJWTRoleNotInRealm(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := jwtRealm(t, false)
		m, _ := jwtJoin(t, r, jwtToken(t, "admin", time.Now().Add(time.Hour)))
		if m.Type != wamp.ABORT || m.URI != wamp.ErrNoSuchRole || !strings.Contains(wamp.String(m.Details, "message"), `"admin"`) {
			t.Fatalf("got %v %q %v, want ABORT no_such_role naming the role", m, m.URI, m.Details)
		}
		if n := r.Stats().Sessions; n != 0 {
			t.Errorf("%d sessions after the refusal", n)
		}
	})
}

// With expire_sessions the session gets GOODBYE switchboard.close.token_expired
// when its token expires, and leaves once it answers.
func TestJWTExpireSession(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := jwtRealm(t, true)
		exp := time.Now().Add(5 * time.Second) // within bound, recv's limit
		m, p := jwtJoin(t, r, jwtToken(t, "frontend", exp))
		if m.Type != wamp.WELCOME {
			t.Fatalf("got %v %q %v, want WELCOME", m, m.URI, m.Details)
		}
		start := time.Now()
		m = p.recv()
		if m.Type != wamp.GOODBYE || m.URI != wamp.CloseTokenExpired {
			t.Fatalf("got %v %q, want GOODBYE %s", m, m.URI, wamp.CloseTokenExpired)
		}
		// exp has whole seconds: the GOODBYE comes within a second before
		// the exp asked for, never after it.
		if at := time.Now(); at.Before(exp.Truncate(time.Second)) || at.After(exp) {
			t.Errorf("GOODBYE at %v after joining, want at exp (%v)", at.Sub(start), exp.Sub(start))
		}
		if err := p.sendErr(&wamp.Message{Type: wamp.GOODBYE, Details: wamp.Dict{}, URI: wamp.ErrGoodbyeAndOut}); err != nil {
			t.Fatal(err)
		}
		<-p.done
		if n := r.Stats().Sessions; n != 0 {
			t.Errorf("%d sessions after the GOODBYE", n)
		}
	})
}

// A session that leaves before its token expires is not closed later (its
// timer is stopped: the realm logs one expiry, of the other session), and
// another session keeps its own timer.
func TestJWTExpiryStoppedOnLeave(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var logs testutil.Buffer
		r := jwtRealm(t, true, slog.New(slog.NewTextHandler(&logs, nil)))
		m, early := jwtJoin(t, r, jwtToken(t, "frontend", time.Now().Add(3*time.Second)))
		if m.Type != wamp.WELCOME {
			t.Fatalf("got %v, want WELCOME", m)
		}
		m, late := jwtJoin(t, r, jwtToken(t, "frontend", time.Now().Add(6*time.Second)))
		if m.Type != wamp.WELCOME {
			t.Fatalf("got %v, want WELCOME", m)
		}
		if err := early.sendErr(&wamp.Message{Type: wamp.GOODBYE, Details: wamp.Dict{}, URI: wamp.ErrCloseRealm}); err != nil {
			t.Fatal(err)
		}
		if m := early.recv(); m.Type != wamp.GOODBYE || m.URI != wamp.ErrGoodbyeAndOut {
			t.Fatalf("got %v %q, want the GOODBYE reply", m, m.URI)
		}
		<-early.done
		if m := late.recv(); m.Type != wamp.GOODBYE || m.URI != wamp.CloseTokenExpired {
			t.Fatalf("got %v %q, want GOODBYE %s", m, m.URI, wamp.CloseTokenExpired)
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		if n := strings.Count(logs.String(), "its token expired"); n != 1 {
			t.Errorf("%d expiries logged, want 1 (the session still joined):\n%s", n, logs.String())
		}
	})
}
