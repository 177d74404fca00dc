package auth

import (
	"context"
	"encoding/hex"
	"errors"
	"testing"
	"time"

	"crypto/ed25519"

	"github.com/switchboard/switchboard/wamp"
)

func testSet(t *testing.T, lim *Limiter, sleeps *[]time.Duration) *Set {
	t.Helper()
	ticket := mustTicket(t, []Principal{{AuthID: "alice", Role: "frontend", Ticket: PlainSecret("alice-ticket")}}, nil)
	cra := mustCRA(t, []Principal{{AuthID: "bob", Role: "backend", Secret: PlainSecret("bob-secret")}}, nil)
	return NewSet(SetConfig{
		Methods: []Authenticator{ticket, cra, Anonymous{Role: "guest"}},
		Limiter: lim,
		Sleep: func(_ context.Context, d time.Duration) error {
			*sleeps = append(*sleeps, d)
			return nil
		},
	})
}

func TestSetChoosesInRealmOrder(t *testing.T) {
	var sleeps []time.Duration
	s := testSet(t, nil, &sleeps)
	for _, tc := range []struct {
		name    string
		req     *Request
		ch      *challenger
		method  string
		role    string
		wantErr error
		uri     wamp.URI
	}{
		{"no authmethods is anonymous", hello(""), &challenger{}, MethodAnonymous, "guest", nil, ""},
		{"ticket", hello("alice", MethodAnonymous, MethodTicket), answer("alice-ticket"), MethodTicket, "frontend", nil, ""},
		{"realm order wins over client order", hello("alice", MethodWAMPCRA, MethodTicket), answer("alice-ticket"), MethodTicket, "frontend", nil, ""},
		{"skips a method without the principal", hello("bob", MethodTicket, MethodWAMPCRA), nexusCRA("bob-secret"), MethodWAMPCRA, "backend", nil, ""},
		{"unknown authid falls back to anonymous", hello("mallory", MethodTicket, MethodAnonymous), &challenger{}, MethodAnonymous, "guest", nil, ""},
		{"unknown authid", hello("mallory", MethodTicket), &challenger{}, "", "", ErrInvalidCredentials, wamp.ErrAuthenticationFailed},
		{"wrong ticket", hello("alice", MethodTicket), answer("nope"), "", "", ErrInvalidCredentials, wamp.ErrAuthenticationFailed},
		{"method the realm lacks", hello("carol", MethodCryptosign), &challenger{}, "", "", ErrNoAuthMethod, wamp.ErrNoAuthMethod},
		{"unknown method", hello("", "kerberos"), &challenger{}, "", "", ErrNoAuthMethod, wamp.ErrNoAuthMethod},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, err := s.Authenticate(context.Background(), tc.req, tc.ch)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				if we := WAMPError(err); we.URI != tc.uri || we.Msg == "" {
					t.Errorf("WAMPError = %v, want %s with a message", we, tc.uri)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if id.AuthMethod != tc.method || id.AuthRole != tc.role {
				t.Errorf("identity = %+v, want method %s role %s", id, tc.method, tc.role)
			}
		})
	}
	if len(sleeps) != 0 {
		t.Errorf("slept %v without a limiter", sleeps)
	}
}

func TestSetAnonymousDefault(t *testing.T) {
	s := NewSet(SetConfig{})
	id, err := s.Authenticate(context.Background(), hello(""), &challenger{})
	if err != nil {
		t.Fatal(err)
	}
	want := Identity{AuthID: "4242", AuthRole: "anonymous", AuthMethod: MethodAnonymous, AuthProvider: ProviderStatic}
	if !identityEqual(id, want) {
		t.Errorf("identity = %+v, want %+v", id, want)
	}
	if _, err := s.Authenticate(context.Background(), hello("alice", MethodTicket), &challenger{}); !errors.Is(err, ErrNoAuthMethod) {
		t.Errorf("ticket on an anonymous realm: err = %v, want ErrNoAuthMethod", err)
	}
}

func TestSetListenerRestriction(t *testing.T) {
	var sleeps []time.Duration
	s := testSet(t, nil, &sleeps)
	req := hello("alice", MethodTicket, MethodAnonymous)
	req.Allowed = []string{MethodTicket}
	if id, err := s.Authenticate(context.Background(), req, answer("alice-ticket")); err != nil || id.AuthMethod != MethodTicket {
		t.Errorf("ticket allowed on the listener: %+v, %v", id, err)
	}
	req = hello("", MethodAnonymous)
	req.Allowed = []string{MethodTicket}
	if _, err := s.Authenticate(context.Background(), req, &challenger{}); !errors.Is(err, ErrNoAuthMethod) {
		t.Errorf("anonymous on a ticket-only listener: err = %v, want ErrNoAuthMethod", err)
	}
}

// Failures from one address slow its next attempts down (the injected
// sleep records by how much); a success clears them; other addresses are
// not affected.
func TestSetSlowsDownFailures(t *testing.T) {
	clk := newClock()
	lim := NewLimiter(LimiterConfig{FreeFailures: 2, BaseDelay: time.Second, MaxDelay: 4 * time.Second, Now: clk.Now})
	var sleeps []time.Duration
	s := testSet(t, lim, &sleeps)
	for range 5 {
		if _, err := s.Authenticate(context.Background(), hello("alice", MethodTicket), answer("guess")); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatalf("err = %v", err)
		}
	}
	want := []time.Duration{time.Second, 2 * time.Second}
	if len(sleeps) != len(want) || sleeps[0] != want[0] || sleeps[1] != want[1] {
		t.Fatalf("delays after 5 failures = %v, want %v", sleeps, want)
	}
	other := hello("alice", MethodTicket)
	other.Transport.Peer = "203.0.113.9:1"
	if _, err := s.Authenticate(context.Background(), other, answer("alice-ticket")); err != nil {
		t.Fatal(err)
	}
	if len(sleeps) != 2 {
		t.Errorf("another address was slowed down: %v", sleeps)
	}
	// The right ticket still gets in, after the delay. A success does not
	// clear the count (else one valid account would reset it between
	// guesses); time does.
	for range 2 {
		if _, err := s.Authenticate(context.Background(), hello("alice", MethodTicket), answer("alice-ticket")); err != nil {
			t.Fatal(err)
		}
	}
	if len(sleeps) != 4 || sleeps[2] != 4*time.Second || sleeps[3] != 4*time.Second {
		t.Errorf("delays = %v, want two more of 4s", sleeps)
	}
	clk.Advance(DefaultForgetAfter)
	if _, err := s.Authenticate(context.Background(), hello("alice", MethodTicket), answer("alice-ticket")); err != nil {
		t.Fatal(err)
	}
	if len(sleeps) != 4 {
		t.Errorf("slowed down after the failures were forgotten: %v", sleeps)
	}
	// Unknown authids count as failures too, so they cannot be probed at
	// full speed.
	for range 3 {
		_, _ = s.Authenticate(context.Background(), hello("nobody", MethodTicket), &challenger{})
	}
	if lim.Delay("192.0.2.1:1") == 0 {
		t.Error("probing unknown authids is not slowed down")
	}
}

func TestDynamicTicket(t *testing.T) {
	c := &caller{fn: func(_ context.Context, args []any) ([]any, error) {
		details := args[2].(wamp.Dict)
		switch details["ticket"] {
		case "t1":
			return []any{"frontend"}, nil
		case "t2":
			return []any{map[string]any{"role": "admin", "authid": "root", "authextra": map[string]any{"x": "y"}}}, nil
		case "deny":
			return nil, wamp.NewError(wamp.ErrNotAuthorized, "go away")
		case "broken":
			return nil, wamp.NewError("com.example.oops", "boom")
		case "bad":
			return []any{42}, nil
		}
		return nil, wamp.NewError(wamp.ErrAuthenticationFailed, "unknown ticket")
	}}
	a := mustTicket(t, nil, &Dynamic{Caller: c, Procedure: "com.example.authenticate"})
	req := hello("alice", MethodTicket)
	req.Transport.Peer = "192.0.2.7:9"
	if !a.Accepts(req) {
		t.Fatal("dynamic ticket does not accept")
	}
	id, err := a.Authenticate(context.Background(), req, answer("t1"))
	if err != nil {
		t.Fatal(err)
	}
	if want := (Identity{AuthID: "alice", AuthRole: "frontend", AuthMethod: MethodTicket, AuthProvider: ProviderDynamic}); !identityEqual(id, want) {
		t.Errorf("identity = %+v, want %+v", id, want)
	}
	args := c.calls[0]
	if args[0] != "realm1" || args[1] != "alice" || c.procs[0] != "com.example.authenticate" {
		t.Errorf("called %s with %v", c.procs[0], args)
	}
	d := args[2].(wamp.Dict)
	if d["session"] != uint64(4242) || d["authmethod"] != MethodTicket || wamp.Dig(d, "transport", "peer") != "192.0.2.7:9" {
		t.Errorf("details = %v", d)
	}
	id, err = a.Authenticate(context.Background(), req, answer("t2"))
	if err != nil || id.AuthID != "root" || id.AuthRole != "admin" || id.AuthExtra["x"] != "y" {
		t.Errorf("dict answer: %+v, %v", id, err)
	}
	for ticket, uri := range map[string]wamp.URI{
		"deny":   wamp.ErrNotAuthorized,
		"nope":   wamp.ErrAuthenticationFailed,
		"broken": wamp.ErrAuthenticationFailed,
		"bad":    wamp.ErrAuthenticationFailed,
	} {
		_, err := a.Authenticate(context.Background(), req, answer(ticket))
		if err == nil {
			t.Errorf("ticket %s admitted", ticket)
			continue
		}
		if we := WAMPError(err); we.URI != uri {
			t.Errorf("ticket %s: ABORT %v, want %s", ticket, we, uri)
		}
	}
}

// A dynamic authenticator that does not answer in time refuses the
// session: the context it was given ends, and nothing is admitted.
func TestDynamicTimeout(t *testing.T) {
	c := &caller{fn: func(ctx context.Context, _ []any) ([]any, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	}}
	a := mustTicket(t, nil, &Dynamic{Caller: c, Procedure: "com.example.slow", Timeout: time.Millisecond})
	_, err := a.Authenticate(context.Background(), hello("alice", MethodTicket), answer("t"))
	if !errors.Is(err, ErrAuthenticator) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want ErrAuthenticator wrapping the deadline", err)
	}
	if we := WAMPError(err); we.URI != wamp.ErrAuthenticationFailed {
		t.Errorf("ABORT %v, want authentication_failed", we)
	}
}

func TestDynamicWAMPCRAAndCryptosign(t *testing.T) {
	craCaller := returns(map[string]any{"role": "backend", "secret": DeriveCRAKey("pw", "salty", 10, 16), "salt": "salty", "iterations": 10, "keylen": 16})
	cra := mustCRA(t, nil, &Dynamic{Caller: craCaller, Procedure: "com.example.cra"})
	id, err := cra.Authenticate(context.Background(), hello("bob", MethodWAMPCRA), nexusCRA("pw"))
	if err != nil || id.AuthRole != "backend" || id.AuthProvider != ProviderDynamic {
		t.Fatalf("dynamic wampcra: %+v, %v", id, err)
	}
	if _, err := cra.Authenticate(context.Background(), hello("bob", MethodWAMPCRA), nexusCRA("wrong")); !errors.Is(err, ErrInvalidCredentials) {
		t.Errorf("dynamic wampcra, wrong password: %v", err)
	}
	noSecret := mustCRA(t, nil, &Dynamic{Caller: returns("backend"), Procedure: "com.example.cra"})
	if _, err := noSecret.Authenticate(context.Background(), hello("bob", MethodWAMPCRA), nexusCRA("pw")); !errors.Is(err, ErrAuthenticator) {
		t.Errorf("dynamic wampcra without a secret: %v", err)
	}

	pub, priv, _ := ed25519.GenerateKey(nil)
	other, _, _ := ed25519.GenerateKey(nil)
	cs, _ := NewCryptosign(nil, &Dynamic{Caller: returns(map[string]any{"role": "device", "authid": "dev-7"}), Procedure: "com.example.cs"})
	id, err = cs.Authenticate(context.Background(), cryptosignHello("", pub, nil), signer(priv, nil, true))
	if err != nil || id.AuthID != "dev-7" || id.AuthRole != "device" {
		t.Fatalf("dynamic cryptosign: %+v, %v", id, err)
	}
	pinned, _ := NewCryptosign(nil, &Dynamic{Caller: returns(map[string]any{"role": "device", "authid": "dev-7", "pubkey": hex.EncodeToString(other)}), Procedure: "com.example.cs"})
	if _, err := pinned.Authenticate(context.Background(), cryptosignHello("", pub, nil), signer(priv, nil, true)); !errors.Is(err, ErrInvalidCredentials) {
		t.Errorf("dynamic cryptosign vouching for another key: %v", err)
	}
}
