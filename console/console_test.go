package console

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard/switchboard/auth"
)

// fakeBackend is a node with one realm and one session.
type fakeBackend struct {
	mu       sync.Mutex
	counters Counters
	killed   []string
	reloads  int
	reload   error
	config   any
}

func (b *fakeBackend) Counters() Counters {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.counters
}

func (b *fakeBackend) State(int) State {
	return State{Realms: []Realm{{
		Name: "realm1", SessionCount: 1,
		Sessions: []Session{{ID: 42, AuthID: "alice", AuthRole: "user", Transport: "websocket",
			Serializer: "json", Remote: "127.0.0.1:5000", Joined: time.Unix(1700000000, 0), Queue: 3, Dropped: 7}},
		Subscriptions: []Subscription{{ID: 1, URI: "com.example.topic", Match: "exact", Subscribers: 2}},
		Registrations: []Registration{{ID: 2, URI: "com.example.add", Match: "exact", Invoke: "single", Callees: 1}},
	}}}
}

func (b *fakeBackend) Kill(realm string, id uint64, reason string) error {
	if realm != "realm1" || id != 42 {
		return ErrNotFound
	}
	b.mu.Lock()
	b.killed = append(b.killed, reason)
	b.mu.Unlock()
	return nil
}

func (b *fakeBackend) Reload() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.reloads++
	return b.reload
}

func (b *fakeBackend) Config() any { return b.config }

func (b *fakeBackend) Started() time.Time { return time.Time{} }

// clock is a settable time for rates and logins.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

type fixture struct {
	h   *Handler
	b   *fakeBackend
	clk *clock
	lim *auth.Limiter
	srv *httptest.Server
	// slept records the login delays asked for, instead of sleeping.
	mu    sync.Mutex
	slept []time.Duration
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{b: &fakeBackend{}, clk: &clock{now: time.Unix(1800000000, 0)}}
	f.lim = auth.NewLimiter(auth.LimiterConfig{FreeFailures: 2, Now: f.clk.Now})
	h, err := New(Config{
		Path:    "/console",
		Users:   []User{{Name: "admin", Secret: auth.PlainSecret("s3cret")}},
		Backend: f.b,
		Limiter: f.lim,
		Logger:  slog.New(slog.DiscardHandler),
		Version: "v-test",
		Now:     f.clk.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	h.sleep = func(_ context.Context, d time.Duration) error {
		f.mu.Lock()
		f.slept = append(f.slept, d)
		f.mu.Unlock()
		return nil
	}
	f.h = h
	mux := http.NewServeMux()
	h.Mount(mux)
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

// noRedirect is a client that shows redirects rather than following them.
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

type reply struct {
	code int
	hdr  http.Header
	body string
}

func (f *fixture) do(t *testing.T, method, path string, body io.Reader, hdr map[string]string) reply {
	t.Helper()
	req, err := http.NewRequest(method, f.srv.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return reply{resp.StatusCode, resp.Header, string(b)}
}

func basic(name, pw string) map[string]string {
	r := &http.Request{Header: http.Header{}}
	r.SetBasicAuth(name, pw)
	return map[string]string{"Authorization": r.Header.Get("Authorization")}
}

func with(h map[string]string, kv ...string) map[string]string {
	out := map[string]string{}
	for k, v := range h {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

func TestRefusedWithoutCredential(t *testing.T) {
	f := newFixture(t)
	for _, tt := range []struct {
		method, path string
		hdr          map[string]string
		code         int
	}{
		{"GET", "/console/api/state", nil, http.StatusUnauthorized},
		{"GET", "/console/api/state", basic("admin", "wrong"), http.StatusUnauthorized},
		{"GET", "/console/api/state", basic("nobody", "s3cret"), http.StatusUnauthorized},
		{"GET", "/console/assets/app.js", nil, http.StatusUnauthorized},
		{"GET", "/console/assets/index.html", nil, http.StatusUnauthorized},
		{"POST", "/console/api/kill", map[string]string{CSRFHeader: "1"}, http.StatusUnauthorized},
		{"POST", "/console/api/reload", map[string]string{CSRFHeader: "1"}, http.StatusUnauthorized},
		{"GET", "/console/api/state", map[string]string{"Cookie": CookieName + "=forged"}, http.StatusUnauthorized},
		{"GET", "/console/", nil, http.StatusSeeOther},
	} {
		r := f.do(t, tt.method, tt.path, strings.NewReader("{}"), tt.hdr)
		if r.code != tt.code {
			t.Errorf("%s %s: %d, want %d (%s)", tt.method, tt.path, r.code, tt.code, r.body)
		}
		if r.code == http.StatusUnauthorized && !strings.HasPrefix(r.hdr.Get("WWW-Authenticate"), "Basic ") {
			t.Errorf("%s %s: WWW-Authenticate %q", tt.method, tt.path, r.hdr.Get("WWW-Authenticate"))
		}
		if strings.Contains(r.body, "alice") || strings.Contains(r.body, "realm1") {
			t.Errorf("%s %s: refused answer shows data: %s", tt.method, tt.path, r.body)
		}
	}
	if r := f.do(t, "GET", "/console/", nil, nil); r.hdr.Get("Location") != "/console/login" {
		t.Errorf("page without login goes to %q, want /console/login", r.hdr.Get("Location"))
	}
	if f.b.reloads != 0 || len(f.b.killed) != 0 {
		t.Errorf("refused actions ran: %d reloads, kills %v", f.b.reloads, f.b.killed)
	}
	// The login form and its style are what is public.
	if r := f.do(t, "GET", "/console/login", nil, nil); r.code != http.StatusOK || !strings.Contains(r.body, `name="password"`) {
		t.Errorf("login page: %d %s", r.code, r.body)
	}
	if r := f.do(t, "GET", "/console/assets/style.css", nil, nil); r.code != http.StatusOK {
		t.Errorf("style.css: %d", r.code)
	}
}

func TestDataWithBasic(t *testing.T) {
	f := newFixture(t)
	f.b.config = struct {
		Name     string
		Password string
		Ticket   struct{ Plain, Env string }
	}{Name: "node1", Password: "hunter2"}
	auth := basic("admin", "s3cret")
	state := func() Data {
		t.Helper()
		r := f.do(t, "GET", "/console/api/state", nil, auth)
		if r.code != http.StatusOK {
			t.Fatalf("api/state: %d %s", r.code, r.body)
		}
		if strings.Contains(r.body, "hunter2") || strings.Contains(r.body, "s3cret") {
			t.Errorf("api/state shows a secret: %s", r.body)
		}
		var d Data
		if err := json.Unmarshal([]byte(r.body), &d); err != nil {
			t.Fatal(err)
		}
		return d
	}
	d := state()
	if d.User != "admin" || d.Version != "v-test" || len(d.Realms) != 1 || d.Uptime != 0 {
		t.Fatalf("data: %+v", d)
	}
	rl := d.Realms[0]
	s := rl.Sessions[0]
	if rl.Name != "realm1" || s.ID != 42 || s.AuthID != "alice" || s.AuthRole != "user" || s.Transport != "websocket" ||
		s.Serializer != "json" || s.Remote != "127.0.0.1:5000" || s.Queue != 3 || s.Dropped != 7 || !s.Joined.Equal(time.Unix(1700000000, 0)) {
		t.Errorf("session: %+v", s)
	}
	if rl.Subscriptions[0].Subscribers != 2 || rl.Registrations[0].Callees != 1 {
		t.Errorf("subscriptions %+v, registrations %+v", rl.Subscriptions, rl.Registrations)
	}
	if cfg := d.Config.(map[string]any); cfg["name"] != "node1" || cfg["password"] != Masked {
		t.Errorf("config: %v", cfg)
	}
	if len(d.Rates.Times) != 0 {
		t.Errorf("first reading has rates: %+v", d.Rates)
	}

	// Two seconds and 10 publications later, the rate is 5 per second.
	f.clk.add(2 * time.Second)
	f.b.mu.Lock()
	f.b.counters = Counters{EventsPublished: 10, BytesIn: 4000}
	f.b.mu.Unlock()
	d = state()
	if got := d.Rates.Series["events_published"]; len(got) != 1 || got[0] != 5 {
		t.Errorf("events_published rates %v, want [5]", got)
	}
	if got := d.Rates.Series["bytes_in"]; len(got) != 1 || got[0] != 2000 {
		t.Errorf("bytes_in rates %v, want [2000]", got)
	}
	if d.Totals.EventsPublished != 10 {
		t.Errorf("totals %+v", d.Totals)
	}
	// A second page asking within the interval adds no sample.
	d = state()
	if len(d.Rates.Times) != 1 {
		t.Errorf("%d samples after a poll within the interval, want 1", len(d.Rates.Times))
	}
}

func TestFormLogin(t *testing.T) {
	f := newFixture(t)
	form := func(name, pw string, hdr map[string]string) reply {
		v := url.Values{"name": {name}, "password": {pw}}
		return f.do(t, "POST", "/console/login", strings.NewReader(v.Encode()),
			with(hdr, "Content-Type", "application/x-www-form-urlencoded"))
	}
	r := form("admin", "wrong", nil)
	if r.code != http.StatusUnauthorized || !strings.Contains(r.body, "Wrong name or password") || r.hdr.Get("Set-Cookie") != "" {
		t.Fatalf("wrong password: %d %q %s", r.code, r.hdr.Get("Set-Cookie"), r.body)
	}
	if r := form("admin", "s3cret", map[string]string{"Origin": "http://evil.example"}); r.code != http.StatusForbidden {
		t.Errorf("login from another origin: %d", r.code)
	}
	r = form("admin", "s3cret", map[string]string{"Origin": f.srv.URL})
	if r.code != http.StatusSeeOther || r.hdr.Get("Location") != "/console/" {
		t.Fatalf("login: %d %v", r.code, r.hdr)
	}
	resp := http.Response{Header: r.hdr}
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == CookieName {
			cookie = c
		}
	}
	if cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode || cookie.Path != "/console" {
		t.Fatalf("login cookie: %+v", cookie)
	}
	withCookie := map[string]string{"Cookie": CookieName + "=" + cookie.Value}
	if r := f.do(t, "GET", "/console/", nil, withCookie); r.code != http.StatusOK || !strings.Contains(r.body, "assets/app.js") {
		t.Errorf("page after login: %d", r.code)
	}
	if r := f.do(t, "GET", "/console/api/state", nil, withCookie); r.code != http.StatusOK || !strings.Contains(r.body, `"user":"admin"`) {
		t.Errorf("data after login: %d %s", r.code, r.body)
	}
	// The login ends when it expires, and when its user is removed.
	f.clk.add(DefaultLoginTTL)
	if r := f.do(t, "GET", "/console/api/state", nil, withCookie); r.code != http.StatusUnauthorized {
		t.Errorf("expired login: %d", r.code)
	}
	r = form("admin", "s3cret", nil)
	withCookie = map[string]string{"Cookie": r.hdr.Get("Set-Cookie")}
	f.h.SetUsers([]User{{Name: "other", Secret: auth.PlainSecret("x")}})
	if r := f.do(t, "GET", "/console/api/state", nil, withCookie); r.code != http.StatusUnauthorized {
		t.Errorf("login of a removed user: %d", r.code)
	}
}

func TestKill(t *testing.T) {
	f := newFixture(t)
	a := basic("admin", "s3cret")
	body := func(s string) io.Reader { return strings.NewReader(s) }
	for _, tt := range []struct {
		name   string
		method string
		body   string
		hdr    map[string]string
		code   int
	}{
		{"GET", "GET", "", with(a, CSRFHeader, "1"), http.StatusMethodNotAllowed},
		{"no CSRF header", "POST", `{"realm":"realm1","session":42}`, a, http.StatusForbidden},
		{"other origin", "POST", `{"realm":"realm1","session":42}`, with(a, CSRFHeader, "1", "Origin", "http://evil.example"), http.StatusForbidden},
		{"bad JSON", "POST", `{"realm":`, with(a, CSRFHeader, "1"), http.StatusBadRequest},
		{"unknown field", "POST", `{"realm":"realm1","session":42,"all":true}`, with(a, CSRFHeader, "1"), http.StatusBadRequest},
		{"no session", "POST", `{"realm":"realm1"}`, with(a, CSRFHeader, "1"), http.StatusBadRequest},
		{"unknown session", "POST", `{"realm":"realm1","session":7}`, with(a, CSRFHeader, "1"), http.StatusNotFound},
		{"ok", "POST", `{"realm":"realm1","session":42,"reason":"flooding"}`, with(a, CSRFHeader, "1", "Origin", f.srv.URL), http.StatusOK},
	} {
		r := f.do(t, tt.method, "/console/api/kill", body(tt.body), tt.hdr)
		if r.code != tt.code {
			t.Errorf("%s: %d, want %d (%s)", tt.name, r.code, tt.code, r.body)
		}
	}
	if len(f.b.killed) != 1 || f.b.killed[0] != "flooding" {
		t.Errorf("kills %q, want [flooding]", f.b.killed)
	}
}

func TestReload(t *testing.T) {
	f := newFixture(t)
	a := with(basic("admin", "s3cret"), CSRFHeader, "1")
	if r := f.do(t, "POST", "/console/api/reload", nil, basic("admin", "s3cret")); r.code != http.StatusForbidden {
		t.Errorf("reload without CSRF header: %d", r.code)
	}
	if r := f.do(t, "POST", "/console/api/reload", nil, a); r.code != http.StatusOK {
		t.Errorf("reload: %d %s", r.code, r.body)
	}
	f.b.reload = errors.New("config.yaml:3:5: realms: unknown key")
	if r := f.do(t, "POST", "/console/api/reload", nil, a); r.code != http.StatusUnprocessableEntity || !strings.Contains(r.body, "config.yaml:3:5") {
		t.Errorf("refused reload: %d %s", r.code, r.body)
	}
	if f.b.reloads != 2 {
		t.Errorf("%d reloads, want 2", f.b.reloads)
	}
}

// TestLoginRateLimited: failed logins, by form or HTTP Basic, count in the
// router's auth.Limiter, and past its free failures each attempt waits
// the delay it says, even with the right password.
func TestLoginRateLimited(t *testing.T) {
	f := newFixture(t)
	for range 3 {
		if r := f.do(t, "GET", "/console/api/state", nil, basic("admin", "guess")); r.code != http.StatusUnauthorized {
			t.Fatalf("wrong password: %d", r.code)
		}
	}
	v := url.Values{"name": {"admin"}, "password": {"guess"}}
	f.do(t, "POST", "/console/login", strings.NewReader(v.Encode()), map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
	addr := "127.0.0.1:1"
	want := f.lim.Delay(addr)
	if want <= 0 {
		t.Fatalf("limiter delay %v after 4 failures (2 free)", want)
	}
	if r := f.do(t, "GET", "/console/api/state", nil, basic("admin", "s3cret")); r.code != http.StatusOK {
		t.Fatalf("right password after failures: %d", r.code)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	// Past the two free failures and the third that made the count, the
	// fourth attempt and the fifth (right) one waited.
	if len(f.slept) != 2 || f.slept[1] != want {
		t.Errorf("delays %v, want 2 ending in %v", f.slept, want)
	}
}

func TestNotFound(t *testing.T) {
	f := newFixture(t)
	a := basic("admin", "s3cret")
	for _, p := range []string{"/console/nothing", "/console/assets/login.html", "/console/assets/nothing.js", "/consolex"} {
		if r := f.do(t, "GET", p, nil, a); r.code != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", p, r.code)
		}
	}
	if r := f.do(t, "GET", "/console", nil, nil); r.code != http.StatusMovedPermanently || r.hdr.Get("Location") != "/console/" {
		t.Errorf("GET /console: %d %v", r.code, r.hdr.Get("Location"))
	}
}

func TestMask(t *testing.T) {
	type Secret struct{ Plain, Bcrypt, Argon2id, Env, File string }
	type TLS struct{ Cert, Key string }
	cfg := struct {
		MaxMessageSize int
		Timeout        time.Duration
		Ticket         *Secret
		Hashed         *Secret
		FromEnv        *Secret
		User, Password string
		Token          string
		URLs           []string
		Headers        []string
		TLS            *TLS
		Nothing        *TLS
		hidden         string
	}{
		MaxMessageSize: 16, Timeout: 3 * time.Second,
		Ticket: &Secret{Plain: "tk-plain"}, Hashed: &Secret{Argon2id: "$argon2id$v=19$x"}, FromEnv: &Secret{Env: "SB_PW"},
		User: "nats", Password: "pw-plain", Token: "tok-plain",
		URLs:    []string{"nats://u:urlpw@10.0.0.1:4222", "nats://10.0.0.2:4222"},
		Headers: []string{"Authorization: Bearer hdr-secret"},
		TLS:     &TLS{Cert: "c.pem", Key: "k.pem"},
		hidden:  "unexported",
	}
	b, err := json.Marshal(Mask(cfg))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, secret := range []string{"tk-plain", "argon2id$", "pw-plain", "tok-plain", "urlpw", "hdr-secret", "unexported"} {
		if strings.Contains(s, secret) {
			t.Errorf("masked config shows %q: %s", secret, s)
		}
	}
	for _, shown := range []string{`"max_message_size":16`, `"timeout":"3s"`, `"from_env":{"env":"SB_PW"}`, `"user":"nats"`,
		`"nats://u:********@10.0.0.1:4222"`, `"Authorization: ********"`, `"tls":{"cert":"c.pem","key":"k.pem"}`, `"hashed":{"argon2id":"********"}`} {
		if !strings.Contains(s, shown) {
			t.Errorf("masked config lacks %s: %s", shown, s)
		}
	}
	if strings.Contains(s, "nothing") {
		t.Errorf("nil pointer shown: %s", s)
	}
}
