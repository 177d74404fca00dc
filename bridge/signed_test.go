package bridge_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gammazero/nexus/v3/wamp"

	"github.com/switchboard/switchboard/bridge"
	"github.com/switchboard/switchboard/config"
	"github.com/switchboard/switchboard/internal/testutil"
)

// TestSignedRoles: each key acts as its own session with its role, whose
// permissions apply; unsigned requests from loopback act as the bridge's
// role.
func TestSignedRoles(t *testing.T) {
	b := &config.Bridge{
		Publish: "/publish", Call: "/call", Unsigned: config.UnsignedLoopback, Role: "anonymous",
		Keys: []config.BridgeKey{
			{Key: "backend-key", Secret: &config.Secret{Plain: "backend-secret"}, Role: "backend"},
			{Key: "reader-key", Secret: &config.Secret{Plain: "reader-secret"}, Role: "reader"},
		},
	}
	n := start(t, b, func(c *config.Config) {
		c.Realms[0].Roles = []config.Role{
			{Name: "anonymous", Permissions: []config.Permission{{URI: "com.example.", Match: "prefix", Allow: []string{"subscribe"}}}},
			{Name: "backend", Permissions: []config.Permission{{URI: "com.example.", Match: "prefix", Allow: []string{"publish", "call"}, DisclosePublisher: true}}},
			{Name: "reader", Permissions: []config.Permission{{URI: "com.example.", Match: "prefix", Allow: []string{"call"}}}},
		}
	})
	sub := n.connect(t)
	ch := events(t, sub, "com.example.", wamp.Dict{"match": "prefix"})
	body := []byte(`{"topic": "com.example.orders", "args": ["signed"]}`)

	sign := func(key, secret string, nonce uint64) string {
		return "/publish?" + bridge.SignQuery(key, secret, nonce, nonce, time.Now(), body)
	}
	if a := n.post(t, sign("reader-key", "reader-secret", 1), string(body)); a.Status != http.StatusForbidden || a.Error != string(wamp.ErrNotAuthorized) {
		t.Fatalf("reader publishes: %d %s", a.Status, a.Raw)
	}
	if a := n.post(t, "/publish", string(body)); a.Status != http.StatusForbidden || a.Error != string(wamp.ErrNotAuthorized) {
		t.Fatalf("anonymous publishes: %d %s", a.Status, a.Raw)
	}
	a := n.post(t, sign("backend-key", "backend-secret", 2), string(body))
	if a.Status != http.StatusOK {
		t.Fatalf("backend publishes: %d %s", a.Status, a.Raw)
	}
	e := receive(t, ch, "event")
	if e.Details["publisher_authid"] != "backend-key" || e.Details["publisher_authrole"] != "backend" {
		t.Fatalf("event details %v: want the key's identity disclosed by its permission", e.Details)
	}
}

// TestUnsignedRefused: with unsigned none, an unsigned request is refused
// even from loopback; with loopback, a request that a trusted proxy says
// comes from elsewhere is refused too.
func TestUnsignedRefused(t *testing.T) {
	b := &config.Bridge{Publish: "/publish", Unsigned: config.UnsignedNone,
		Keys: []config.BridgeKey{{Key: "k", Secret: &config.Secret{Plain: "s"}}}}
	n := start(t, b, nil)
	if a := n.post(t, "/publish", `{"topic": "com.example.t"}`); a.Status != http.StatusUnauthorized || a.Error != string(bridge.ErrSignatureRequired) {
		t.Fatalf("unsigned: %d %s", a.Status, a.Raw)
	}

	n = start(t, loopback(), func(c *config.Config) {
		p, _ := config.ParseProxy("127.0.0.1")
		c.Transports[0].TrustedProxies = append(c.Transports[0].TrustedProxies, p)
	})
	if a := n.post(t, "/publish", `{"topic": "com.example.t"}`, "X-Forwarded-For", "203.0.113.9"); a.Status != http.StatusUnauthorized || a.Error != string(bridge.ErrSignatureRequired) {
		t.Fatalf("unsigned through a proxy: %d %s", a.Status, a.Raw)
	}
}

func TestWebhook(t *testing.T) {
	b := &config.Bridge{MaxBody: 64, Webhooks: []config.BridgeWebhook{{Path: "/hooks/github", Topic: "com.example.github", Headers: []string{"X-GitHub-Event"}}}}
	n := start(t, b, nil)
	sub := n.connect(t)
	ch := events(t, sub, "com.example.github", nil)
	if a := n.do(t, http.MethodGet, "/hooks/github", nil); a.Status != http.StatusMethodNotAllowed || a.Error != string(bridge.ErrMethodNotAllowed) {
		t.Fatalf("GET: %d %s", a.Status, a.Raw)
	}
	if a := n.post(t, "/hooks/github", strings.Repeat("x", 65)); a.Status != http.StatusRequestEntityTooLarge || a.Error != string(bridge.ErrBodyTooLarge) {
		t.Fatalf("oversized: %d %s", a.Status, a.Raw)
	}
	// Any content type: services post form data too. The first event
	// is this one: the refused posts published nothing.
	if a := n.post(t, "/hooks/github", "a=1", "Content-Type", "application/x-www-form-urlencoded"); a.Status != http.StatusOK {
		t.Fatalf("form post: %d %s", a.Status, a.Raw)
	}
	if e := receive(t, ch, "event"); !strings.Contains(fmt.Sprint(e.Arguments), "body:a=1") {
		t.Fatalf("first event %v", e.Arguments)
	}
	a := n.post(t, "/hooks/github", `{"action": "opened"}`, "X-GitHub-Event", "issues", "X-Other", "secret")
	if a.Status != http.StatusOK || a.ID == 0 {
		t.Fatalf("webhook: %d %s", a.Status, a.Raw)
	}
	e := receive(t, ch, "event")
	if len(e.Arguments) != 1 {
		t.Fatalf("event args %v", e.Arguments)
	}
	d, _ := wamp.AsDict(e.Arguments[0])
	h, _ := wamp.AsDict(d["headers"])
	if d["body"] != `{"action": "opened"}` || fmt.Sprint(h) != "map[X-GitHub-Event:issues]" {
		t.Fatalf("event %v", d)
	}
}

// TestHTTPSubscriber: events are POSTed; a failing endpoint is retried
// with backoff, and an event given up is counted.
func TestHTTPSubscriber(t *testing.T) {
	var calls atomic.Int32
	got := make(chan string, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The first event fails twice before it is taken; the third
		// event ("never") always fails.
		body, _ := io.ReadAll(r.Body)
		c := calls.Add(1)
		if c <= 2 || string(body) != "" && contains(body, "never") {
			http.Error(w, "not now", http.StatusServiceUnavailable)
			return
		}
		got <- string(body)
	}))
	defer srv.Close()

	b := &config.Bridge{Publish: "/publish", Unsigned: config.UnsignedLoopback, Subscribers: []config.BridgeSubscriber{
		{Topic: "com.example.orders.", Match: "prefix", URL: srv.URL + "/events", Retries: 2, Backoff: time.Millisecond},
	}}
	n := start(t, b, nil)
	for _, arg := range []string{"first", "second", "never"} {
		if a := n.post(t, "/publish", `{"topic": "com.example.orders.new", "args": ["`+arg+`"], "kwargs": {"n": 1}, "options": {"disclose_me": true}}`); a.Status != http.StatusOK {
			t.Fatalf("publish: %d %s", a.Status, a.Raw)
		}
	}
	first := receive(t, got, "first POST")
	if !contains([]byte(first), `"topic":"com.example.orders.new"`) || !contains([]byte(first), `"args":["first"]`) || !contains([]byte(first), `"kwargs":{"n": 1}`) ||
		!contains([]byte(first), `"publisher_authid":"http-bridge"`) {
		t.Fatalf("POST body %s", first)
	}
	if second := receive(t, got, "second POST"); !contains([]byte(second), `"args":["second"]`) {
		t.Fatalf("POST body %s", second)
	}
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	for {
		st := n.r.BridgeStats()[0].Subscribers[0]
		if st.Failed == 1 {
			if st.Delivered != 2 || st.Retried != 4 || st.Dropped != 0 {
				t.Fatalf("stats %+v, want 2 delivered, 4 retried (2 for the first, 2 for the last)", st)
			}
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the failing event was never given up: %+v", st)
		case <-time.After(time.Millisecond):
		}
	}
}

func contains(b []byte, s string) bool { return len(s) == 0 || indexOf(string(b), s) >= 0 }

func indexOf(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}

// TestHTTPSubscriberQueue: while the endpoint is stuck, events beyond the
// bounded queue are dropped and counted; the publisher never waits.
func TestHTTPSubscriberQueue(t *testing.T) {
	first := make(chan struct{}, 1)
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case first <- struct{}{}:
		default:
		}
		<-release
	}))
	defer srv.Close()
	defer close(release)

	b := loopback()
	b.Subscribers = []config.BridgeSubscriber{{Topic: "com.example.q", URL: srv.URL, Queue: 1, Timeout: time.Minute}}
	n := start(t, b, nil)
	publish := func() {
		t.Helper()
		if a := n.post(t, "/publish", `{"topic": "com.example.q"}`); a.Status != http.StatusOK {
			t.Fatalf("publish: %d %s", a.Status, a.Raw)
		}
	}
	publish()
	receive(t, first, "first POST") // the worker holds it; the queue is empty
	for range 4 {
		publish() // one fits the queue, three do not
	}
	stats := func() bridge.SubscriberStats { return n.r.BridgeStats()[0].Subscribers[0] }
	testutil.CheckFor(t, bound, func() error {
		if st := stats(); st.Dropped < 3 {
			return fmt.Errorf("stats %+v, want 3 dropped", st)
		}
		return nil
	})
	if st := stats(); st.Dropped != 3 || st.Delivered != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// TestHTTPSubscriberNotAllowed: a subscriber whose role may not subscribe
// makes the bridge report the error rather than wait silently.
func TestHTTPSubscriberNotAllowed(t *testing.T) {
	cfg := &config.Bridge{Realm: "realm1", Subscribers: []config.BridgeSubscriber{{Topic: "com.example.q", URL: "http://127.0.0.1:1/"}}}
	c := routertestConfig(cfg)
	c.Realms[0].Roles = []config.Role{{Name: "anonymous", Permissions: []config.Permission{{URI: "com.example.", Match: "prefix", Allow: []string{"publish"}}}}}
	c.SetDefaults()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	r := routertestRun(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	err := r.BridgesReady(ctx)
	if err == nil || !strings.Contains(err.Error(), "wamp.error.not_authorized") {
		t.Fatalf("BridgesReady = %v, want not_authorized", err)
	}
}
