package nexus_test

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gammazero/nexus/v3/client"
	"github.com/gammazero/nexus/v3/wamp"
	"github.com/gammazero/nexus/v3/wamp/crsign"

	"github.com/switchboard/switchboard/config"
	"github.com/switchboard/switchboard/router"
)

// The tests of this file run examples/auth/config.yaml, the node the README
// of that directory describes, with the nexus client: each principal gets in
// with its credentials and role, wrong credentials are refused, and each
// role's permissions hold both ways.

const exampleDir = "../../examples/auth"

// exampleConfig loads examples/auth/config.yaml with its listeners moved to
// free loopback ports, plus a RawSocket on a Unix socket, so that it runs
// beside anything on 8080/8081.
func exampleConfig(t testing.TB) *config.Config {
	t.Helper()
	cfg, err := config.Load(filepath.Join(exampleDir, "config.yaml"))
	if err != nil {
		t.Fatalf("load the example: %v", err)
	}
	for i := range cfg.Transports {
		cfg.Transports[i].Listen = "127.0.0.1:0"
	}
	cfg.Transports = append(cfg.Transports, config.Transport{
		Type:   config.RawSocket,
		Listen: config.UnixPrefix + filepath.Join(shortTempDir(t), "wamp.sock"),
	})
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("config: %v", err)
	}
	return cfg
}

// carolKey is the example's cryptosign key pair, from the fixture files.
func carolKey(t testing.TB) ed25519.PrivateKey {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(exampleDir, "cryptosign.key"))
	if err != nil {
		t.Fatal(err)
	}
	seed, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(seed) != ed25519.SeedSize {
		t.Fatalf("cryptosign.key: want %d bytes in hex: %v", ed25519.SeedSize, err)
	}
	key := ed25519.NewKeyFromSeed(seed)
	pub, err := os.ReadFile(filepath.Join(exampleDir, "cryptosign.pub"))
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(key.Public().(ed25519.PublicKey)); got != strings.TrimSpace(string(pub)) {
		t.Fatalf("cryptosign.pub %s is not the public key of cryptosign.key (%s)", pub, got)
	}
	return key
}

// Client options for each way in.
func asTicket(authid, ticket string) func(*client.Config) {
	return func(c *client.Config) {
		c.HelloDetails = wamp.Dict{"authid": authid}
		c.AuthHandlers = map[string]client.AuthFunc{
			"ticket": func(*wamp.Challenge) (string, wamp.Dict) { return ticket, wamp.Dict{} },
		}
	}
}

func asCRA(authid, secret string) func(*client.Config) {
	return func(c *client.Config) {
		c.HelloDetails = wamp.Dict{"authid": authid}
		c.AuthHandlers = map[string]client.AuthFunc{
			"wampcra": func(ch *wamp.Challenge) (string, wamp.Dict) {
				return crsign.RespondChallenge(secret, ch, nil), wamp.Dict{}
			},
		}
	}
}

// asCryptosign signs the challenge as the specification asks: the Ed25519
// signature of the 32 challenge bytes, followed by those bytes, in hex.
func asCryptosign(authid string, key ed25519.PrivateKey) func(*client.Config) {
	return func(c *client.Config) {
		c.HelloDetails = wamp.Dict{"authextra": wamp.Dict{"pubkey": hex.EncodeToString(key.Public().(ed25519.PublicKey))}}
		if authid != "" {
			c.HelloDetails["authid"] = authid
		}
		c.AuthHandlers = map[string]client.AuthFunc{
			"cryptosign": func(ch *wamp.Challenge) (string, wamp.Dict) {
				s, _ := wamp.AsString(ch.Extra["challenge"])
				msg, err := hex.DecodeString(s)
				if err != nil {
					return "", wamp.Dict{}
				}
				return hex.EncodeToString(append(ed25519.Sign(key, msg), msg...)), wamp.Dict{}
			},
		}
	}
}

// join connects to realm1 with opts and closes the client at cleanup.
func join(t testing.TB, url string, ser serializer, opts ...func(*client.Config)) *client.Client {
	t.Helper()
	c, err := dial(url, ser, "realm1", opts...)
	if err != nil {
		t.Fatalf("join %s %s: %v", url, ser.name, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func wantWelcome(t testing.TB, c *client.Client, authid, role, method, provider string) {
	t.Helper()
	d := c.RealmDetails()
	for k, want := range map[string]string{"authid": authid, "authrole": role, "authmethod": method, "authprovider": provider} {
		if want == "*" {
			continue
		}
		if got, _ := wamp.AsString(d[k]); got != want {
			t.Errorf("WELCOME %s = %q, want %q (details %v)", k, got, want, d)
		}
	}
}

func TestAuthExamplePrincipals(t *testing.T) {
	r := startRouter(t, exampleConfig(t))
	key := carolKey(t)
	for _, kind := range transportKinds {
		for _, ser := range serializers {
			t.Run(kind+"/"+ser.name, func(t *testing.T) {
				url := urlOf(t, r, kind)
				wantWelcome(t, join(t, url, ser, asTicket("alice", "alice-ticket")), "alice", "frontend", "ticket", "static")
				wantWelcome(t, join(t, url, ser, asCRA("bob", "bob-secret")), "bob", "backend", "wampcra", "static")
				carol := join(t, url, ser, asCryptosign("carol", key))
				wantWelcome(t, carol, "carol", "admin", "cryptosign", "static")
				extra, _ := wamp.AsDict(carol.RealmDetails()["authextra"])
				if pk := extra["pubkey"]; pk != hex.EncodeToString(key.Public().(ed25519.PublicKey)) {
					t.Errorf("WELCOME authextra.pubkey = %v", pk)
				}
				// The public key alone names carol.
				wantWelcome(t, join(t, url, ser, asCryptosign("", key)), "carol", "admin", "cryptosign", "static")
				anon := join(t, url, ser)
				wantWelcome(t, anon, "*", "anonymous", "anonymous", "static")
				if id, _ := wamp.AsString(anon.RealmDetails()["authid"]); id == "" {
					t.Error("anonymous session without an authid")
				}
			})
		}
	}
}

func TestAuthExampleRefused(t *testing.T) {
	r := startRouter(t, exampleConfig(t))
	_, stranger, _ := ed25519.GenerateKey(nil)
	url := urlOf(t, r, kindWS)
	for _, tc := range []struct {
		name string
		opt  func(*client.Config)
		text string // in the error nexus returns
	}{
		{"wrong ticket", asTicket("alice", "alice-ticket!"), "invalid credentials"},
		{"ticket of another", asTicket("bob", "alice-ticket"), "invalid credentials"},
		{"wrong wampcra secret", asCRA("bob", "alice-ticket"), "invalid credentials"},
		{"wampcra for a ticket principal", asCRA("alice", "alice-ticket"), "invalid credentials"},
		{"unknown key", asCryptosign("", stranger), "invalid credentials"},
		{"carol's authid, another key", asCryptosign("carol", stranger), "invalid credentials"},
		{"unknown method", func(c *client.Config) {
			c.AuthHandlers = map[string]client.AuthFunc{"kerberos": func(*wamp.Challenge) (string, wamp.Dict) { return "", nil }}
		}, "wamp.error.no_auth_method"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := dial(url, serJSON, "realm1", tc.opt)
			if err == nil {
				wantWelcome(t, c, "refused", "", "", "")
				_ = c.Close()
				t.Fatal("admitted")
			}
			if !strings.Contains(err.Error(), tc.text) {
				t.Errorf("error %q does not say %q", err, tc.text)
			}
		})
	}
}

// rawHello sends HELLO with details (roles added) on a raw JSON WebSocket.
func rawHello(t *testing.T, url string, details wamp.Dict) *rawClient {
	t.Helper()
	c := dialRaw(t, url, serJSON)
	d := helloDetails()
	for k, v := range details {
		d[k] = v
	}
	c.send(&wamp.Hello{Realm: "realm1", Details: d})
	return c
}

func (c *rawClient) expectChallenge(method string) *wamp.Challenge {
	c.t.Helper()
	m := c.recv()
	ch, ok := m.(*wamp.Challenge)
	if !ok || ch.AuthMethod != method {
		c.t.Fatalf("got %v %+v, want CHALLENGE %s", m.MessageType(), m, method)
	}
	return ch
}

// The exact ABORT reasons, which the nexus client does not pass on, and
// the handshake rules: a signature cannot be replayed on another session,
// anything but AUTHENTICATE after CHALLENGE is a protocol violation.
func TestAuthExampleAbortReasons(t *testing.T) {
	r := startRouter(t, exampleConfig(t))
	url := urlOf(t, r, kindWS)

	c := rawHello(t, url, wamp.Dict{"authid": "alice", "authmethods": wamp.List{"ticket"}})
	c.expectChallenge("ticket")
	c.send(&wamp.Authenticate{Signature: "guess", Extra: wamp.Dict{}})
	c.expectAbort("wamp.error.authentication_failed")

	c = rawHello(t, url, wamp.Dict{"authid": "mallory", "authmethods": wamp.List{"ticket", "wampcra"}})
	c.expectAbort("wamp.error.authentication_failed")

	c = rawHello(t, url, wamp.Dict{"authmethods": wamp.List{"scram"}})
	c.expectAbort("wamp.error.no_auth_method")

	c = rawHello(t, url, wamp.Dict{"authid": "alice", "authmethods": wamp.List{"ticket"}})
	c.expectChallenge("ticket")
	c.send(&wamp.Subscribe{Request: 1, Options: wamp.Dict{}, Topic: "public.news"})
	c.expectAbort("wamp.error.protocol_violation")

	// bob signs his challenge; the same signature on a second session (a
	// new nonce and session id) is refused.
	c = rawHello(t, url, wamp.Dict{"authid": "bob", "authmethods": wamp.List{"wampcra"}})
	sig := crsign.RespondChallenge("bob-secret", c.expectChallenge("wampcra"), nil)
	c.send(&wamp.Authenticate{Signature: sig, Extra: wamp.Dict{}})
	if w, ok := c.recv().(*wamp.Welcome); !ok || w.Details["authid"] != "bob" {
		t.Fatalf("bob's first session: %+v", w)
	}
	c2 := rawHello(t, url, wamp.Dict{"authid": "bob", "authmethods": wamp.List{"wampcra"}})
	ch2 := c2.expectChallenge("wampcra")
	if ch2.Extra["challenge"] == nil {
		t.Fatalf("CHALLENGE without challenge: %v", ch2.Extra)
	}
	c2.send(&wamp.Authenticate{Signature: sig, Extra: wamp.Dict{}})
	c2.expectAbort("wamp.error.authentication_failed")
}

// parties are the example's four kinds of session, joined.
type parties struct {
	anon, alice, bob, carol *client.Client
}

func joinAll(t *testing.T, r *router.Router, kind string, ser serializer) parties {
	url := urlOf(t, r, kind)
	return parties{
		anon:  join(t, url, ser),
		alice: join(t, url, ser, asTicket("alice", "alice-ticket")),
		bob:   join(t, url, ser, asCRA("bob", "bob-secret")),
		carol: join(t, url, ser, asCryptosign("carol", carolKey(t))),
	}
}

const notAuthorized = "wamp.error.not_authorized"

func TestAuthExamplePermissions(t *testing.T) {
	r := startRouter(t, exampleConfig(t))
	for _, kind := range []string{kindWS, kindTCP} {
		for _, ser := range serializers {
			t.Run(kind+"/"+ser.name, func(t *testing.T) {
				testExamplePermissions(t, joinAll(t, r, kind, ser))
			})
		}
	}
}

func testExamplePermissions(t *testing.T, p parties) {
	suffix := strings.NewReplacer("/", ".", "-", "_").Replace(strings.ToLower(t.Name()))
	proc := "app.add." + suffix
	events := "app.events." + suffix
	news := "public.news." + suffix
	ack := wamp.Dict{"acknowledge": true}
	noop := func(*wamp.Event) {}

	// bob (backend): register and publish under app., nothing else.
	invocations := make(chan *wamp.Invocation, 16)
	if err := p.bob.Register(proc, func(_ context.Context, inv *wamp.Invocation) client.InvokeResult {
		invocations <- inv
		return client.InvokeResult{Args: wamp.List{"sum"}}
	}, nil); err != nil {
		t.Fatalf("bob registers %s: %v", proc, err)
	}
	wantErrorURI(t, p.bob.Register("public.add."+suffix, func(context.Context, *wamp.Invocation) client.InvokeResult { return client.InvokeResult{} }, nil), notAuthorized)
	_, err := call(t, p.bob, proc, nil, nil)
	wantRPCError(t, err, notAuthorized)
	wantErrorURI(t, p.bob.Subscribe(events, noop, nil), notAuthorized)
	wantErrorURI(t, p.bob.Publish(news, ack, nil, nil), notAuthorized)

	// alice (frontend): call and subscribe under app., subscribe under
	// public.; bob, as callee, learns who called.
	aliceEvents := eventChan(t, p.alice, events, nil)
	res, err := call(t, p.alice, proc, wamp.List{1, 2}, nil)
	if err != nil || len(res.Arguments) != 1 || res.Arguments[0] != "sum" {
		t.Fatalf("alice calls %s: %v %v", proc, res, err)
	}
	inv := receive(t, invocations, "bob's INVOCATION")
	if inv.Details["caller_authid"] != "alice" || inv.Details["caller_authrole"] != "frontend" {
		t.Errorf("INVOCATION details %v: alice's permission discloses her", inv.Details)
	}
	wantErrorURI(t, p.alice.Register("app.other."+suffix, func(context.Context, *wamp.Invocation) client.InvokeResult { return client.InvokeResult{} }, nil), notAuthorized)
	wantErrorURI(t, p.alice.Publish(events, ack, nil, nil), notAuthorized)
	_, err = call(t, p.alice, "wamp.session.count", nil, nil)
	wantRPCError(t, err, notAuthorized)
	if err := p.bob.Publish(events, ack, wamp.List{"from bob"}, nil); err != nil {
		t.Fatalf("bob publishes %s: %v", events, err)
	}
	if ev := receive(t, aliceEvents, "bob's event"); len(ev.Arguments) != 1 || ev.Arguments[0] != "from bob" {
		t.Errorf("alice got %v", ev.Arguments)
	}

	// The anonymous session: subscribe under public., and nothing else;
	// not even the meta events.
	anonNews := eventChan(t, p.anon, news, nil)
	aliceNews := eventChan(t, p.alice, news, nil)
	if err := p.anon.Subscribe("public.", noop, wamp.Dict{"match": "prefix"}); err != nil {
		t.Errorf("anonymous prefix subscription public.: %v", err)
	}
	wantErrorURI(t, p.anon.Subscribe("", noop, wamp.Dict{"match": "prefix"}), notAuthorized)
	wantErrorURI(t, p.anon.Subscribe(events, noop, nil), notAuthorized)
	wantErrorURI(t, p.anon.Subscribe("wamp.session.on_join", noop, nil), notAuthorized)
	wantErrorURI(t, p.anon.Publish(news, ack, nil, nil), notAuthorized)
	_, err = call(t, p.anon, proc, nil, nil)
	wantRPCError(t, err, notAuthorized)
	// A publication without acknowledge that is not allowed gets no ERROR
	// (the client asked for no answer) and reaches nobody; the session
	// stays.
	if err := p.anon.Publish(news, nil, wamp.List{"from anonymous"}, nil); err != nil {
		t.Fatal(err)
	}
	if err := p.anon.Subscribe("public.sync."+suffix, noop, nil); err != nil { // a round trip after the publication
		t.Fatalf("anonymous session after a refused publication: %v", err)
	}

	// carol (admin): everything, the meta API included.
	if err := p.carol.Publish(news, wamp.Dict{"acknowledge": true}, wamp.List{"from carol"}, nil); err != nil {
		t.Fatalf("carol publishes: %v", err)
	}
	if ev := receive(t, aliceNews, "carol's event"); len(ev.Arguments) != 1 || ev.Arguments[0] != "from carol" {
		t.Errorf("alice got %v first, want carol's event (the refused publication must not arrive)", ev.Arguments)
	}
	if ev := receive(t, anonNews, "carol's event"); len(ev.Arguments) != 1 || ev.Arguments[0] != "from carol" {
		t.Errorf("the anonymous subscriber got %v, want carol's event", ev.Arguments)
	}
	res, err = call(t, p.carol, "wamp.session.count", nil, nil)
	if err != nil {
		t.Fatalf("carol calls wamp.session.count: %v", err)
	}
	if n, _ := wamp.AsInt64(res.Arguments[0]); n < 4 {
		t.Errorf("wamp.session.count = %v, want at least 4", res.Arguments)
	}
	// Only the admin may kill a session.
	victim := p.anon.ID()
	_, err = call(t, p.alice, "wamp.session.kill", wamp.List{victim}, nil)
	wantRPCError(t, err, notAuthorized)
	if _, err := call(t, p.carol, "wamp.session.kill", wamp.List{victim}, nil); err != nil {
		t.Fatalf("carol kills the anonymous session: %v", err)
	}
	receive(t, p.anon.Done(), "the killed session's end")
}
