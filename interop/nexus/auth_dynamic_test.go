package nexus_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gammazero/nexus/v3/client"
	"github.com/gammazero/nexus/v3/wamp"

	"github.com/switchboard/switchboard/config"
	"github.com/switchboard/switchboard/router"
)

// Dynamic authentication and authorization: procedures that a backend
// registers on a management realm, called by the router for realm1.

const (
	authenticateProc = "com.example.authenticate"
	authorizeProc    = "com.example.authorize"
)

// dynamicConfig serves realm1, whose ticket sessions are authenticated and
// authorized by procedures on the realm "mgmt", which only the ticket
// principal "backend" may join.
func dynamicConfig(t testing.TB, timeout time.Duration) *config.Config {
	t.Helper()
	cfg := testConfig(t)
	cfg.Realms = []config.Realm{
		{
			Name: "realm1",
			Auth: []config.AuthMethod{
				{Method: "ticket", Dynamic: &config.Dynamic{Realm: "mgmt", Procedure: authenticateProc, Timeout: timeout}},
				{Method: "anonymous"},
			},
			Authorizer: &config.Dynamic{Realm: "mgmt", Procedure: authorizeProc, Timeout: timeout, Cache: time.Hour},
		},
		{
			Name: "mgmt",
			Auth: []config.AuthMethod{{Method: "ticket", Principals: []config.Principal{
				{AuthID: "backend", Role: "backend", Ticket: &config.Secret{Plain: "backend-ticket"}},
			}}},
			Roles: []config.Role{{Name: "backend", Permissions: []config.Permission{
				{URI: "com.example.", Match: "prefix", Allow: []string{"register"}},
			}}},
		},
	}
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("config: %v", err)
	}
	return cfg
}

// backend joins mgmt and registers the authenticator and the authorizer.
// The authenticator admits ticket "t-<role>" as that role, refuses
// "deny" with wamp.error.not_authorized, stalls on "stall" until canceled,
// and fails on anything else. The authorizer allows URIs under app. and
// asks for disclosure of publishers; it fails for app.broken. It counts
// its calls.
type backend struct {
	c          *client.Client
	authorized atomic.Int64
}

func startBackend(t *testing.T, r *router.Router) *backend {
	t.Helper()
	b := &backend{}
	url := urlOf(t, r, kindWS)
	c, err := dial(url, serJSON, "mgmt", asTicket("backend", "backend-ticket"))
	if err != nil {
		t.Fatalf("backend joins mgmt: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	b.c = c
	if err := c.Register(authenticateProc, func(ctx context.Context, inv *wamp.Invocation) client.InvokeResult {
		if len(inv.Arguments) != 3 {
			return client.InvokeResult{Err: "com.example.bad_call"}
		}
		realm, _ := wamp.AsString(inv.Arguments[0])
		authid, _ := wamp.AsString(inv.Arguments[1])
		details, _ := wamp.AsDict(inv.Arguments[2])
		ticket, _ := wamp.AsString(details["ticket"])
		if realm != "realm1" || authid == "" {
			return client.InvokeResult{Err: "com.example.bad_call"}
		}
		switch {
		case strings.HasPrefix(ticket, "t-"):
			return client.InvokeResult{Args: wamp.List{wamp.Dict{"role": strings.TrimPrefix(ticket, "t-"), "authextra": wamp.Dict{"via": "backend"}}}}
		case ticket == "deny":
			return client.InvokeResult{Err: "wamp.error.not_authorized", Args: wamp.List{"you shall not pass"}}
		case ticket == "stall":
			<-ctx.Done() // until the router gives up and interrupts
			return client.InvokeResult{Err: "wamp.error.canceled"}
		}
		return client.InvokeResult{Err: "com.example.unknown_ticket"}
	}, nil); err != nil {
		t.Fatalf("register the authenticator: %v", err)
	}
	if err := c.Register(authorizeProc, func(_ context.Context, inv *wamp.Invocation) client.InvokeResult {
		b.authorized.Add(1)
		uri, _ := wamp.AsString(inv.Arguments[1])
		action, _ := wamp.AsString(inv.Arguments[2])
		switch {
		case uri == "app.broken":
			return client.InvokeResult{Err: "com.example.oops"}
		case strings.HasPrefix(uri, "app."):
			return client.InvokeResult{Args: wamp.List{wamp.Dict{"allow": true, "disclose": action == "publish"}}}
		}
		return client.InvokeResult{Args: wamp.List{false}}
	}, nil); err != nil {
		t.Fatalf("register the authorizer: %v", err)
	}
	return b
}

func TestDynamicAuthentication(t *testing.T) {
	r := startRouter(t, dynamicConfig(t, 0))
	startBackend(t, r)
	for _, kind := range []string{kindWS, kindTCP} {
		url := urlOf(t, r, kind)
		c := join(t, url, serJSON, asTicket("dora", "t-editor"))
		wantWelcome(t, c, "dora", "editor", "ticket", "dynamic")
		if extra, _ := wamp.AsDict(c.RealmDetails()["authextra"]); extra["via"] != "backend" {
			t.Errorf("WELCOME authextra = %v, want the authenticator's", c.RealmDetails()["authextra"])
		}
		for ticket, text := range map[string]string{
			"deny":  "you shall not pass",
			"other": "com.example.unknown_ticket",
		} {
			c, err := dial(url, serJSON, "realm1", asTicket("dora", ticket))
			if err == nil {
				_ = c.Close()
				t.Fatalf("ticket %q admitted", ticket)
			}
			if !strings.Contains(err.Error(), text) {
				t.Errorf("ticket %q: error %q does not say %q", ticket, err, text)
			}
		}
	}
	// The exact ABORT reasons: the authenticator's own URI where it is an
	// authentication one, authentication_failed otherwise.
	url := urlOf(t, r, kindWS)
	for ticket, reason := range map[string]wamp.URI{"deny": "wamp.error.not_authorized", "other": "wamp.error.authentication_failed"} {
		c := rawHello(t, url, wamp.Dict{"authid": "dora", "authmethods": wamp.List{"ticket"}})
		c.expectChallenge("ticket")
		c.send(&wamp.Authenticate{Signature: ticket, Extra: wamp.Dict{}})
		c.expectAbort(reason)
	}
}

// An authenticator that is not there, or does not answer in time, refuses
// the session: nothing is admitted on a failure of the backend.
func TestDynamicAuthenticationUnavailable(t *testing.T) {
	r := startRouter(t, dynamicConfig(t, 300*time.Millisecond))
	url := urlOf(t, r, kindWS)
	c := rawHello(t, url, wamp.Dict{"authid": "dora", "authmethods": wamp.List{"ticket"}})
	c.expectChallenge("ticket")
	c.send(&wamp.Authenticate{Signature: "t-editor", Extra: wamp.Dict{}})
	c.expectAbort("wamp.error.authentication_failed")

	startBackend(t, r)
	c = rawHello(t, url, wamp.Dict{"authid": "dora", "authmethods": wamp.List{"ticket"}})
	c.expectChallenge("ticket")
	c.send(&wamp.Authenticate{Signature: "stall", Extra: wamp.Dict{}})
	c.expectAbort("wamp.error.authentication_failed")

	// The realm still works for the next client.
	wantWelcome(t, join(t, url, serJSON, asTicket("dora", "t-editor")), "dora", "editor", "ticket", "dynamic")
}

func TestDynamicAuthorization(t *testing.T) {
	r := startRouter(t, dynamicConfig(t, 0))
	b := startBackend(t, r)
	url := urlOf(t, r, kindWS)
	pub := join(t, url, serJSON, asTicket("dora", "t-editor"))
	sub := join(t, url, serJSON)
	events := eventChan(t, sub, "app.news", nil)
	ack := wamp.Dict{"acknowledge": true}
	for range 3 {
		if err := pub.Publish("app.news", ack, wamp.List{"hello"}, nil); err != nil {
			t.Fatalf("publish app.news: %v", err)
		}
		ev := receive(t, events, "the event")
		if ev.Details["publisher_authid"] != "dora" || ev.Details["publisher_authrole"] != "editor" {
			t.Errorf("EVENT details %v: the authorizer asked for disclosure", ev.Details)
		}
	}
	// subscribe (sub), publish (pub): two questions, each asked once,
	// then answered from the cache.
	if n := b.authorized.Load(); n != 2 {
		t.Errorf("authorizer called %d times, want 2 (answers are cached)", n)
	}
	wantErrorURI(t, pub.Publish("other.news", ack, nil, nil), "wamp.error.not_authorized")
	wantErrorURI(t, pub.Publish("app.broken", ack, nil, nil), "wamp.error.authorization_failed")
	wantErrorURI(t, pub.Publish("app.broken", ack, nil, nil), "wamp.error.authorization_failed")
	if n := b.authorized.Load(); n != 5 {
		t.Errorf("authorizer called %d times, want 5 (failures are not cached)", n)
	}
}
