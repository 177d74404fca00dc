package router_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gammazero/nexus/v3/client"
	"github.com/gammazero/nexus/v3/transport/serialize"
	nexuswamp "github.com/gammazero/nexus/v3/wamp"

	"github.com/switchboard/switchboard/config"
	"github.com/switchboard/switchboard/internal/testutil"
	"github.com/switchboard/switchboard/router"
	"github.com/switchboard/switchboard/router/routertest"
)

// bound stops a hang; nothing here measures time with it.
const bound = 10 * time.Second

var quiet = log.New(io.Discard, "", 0)

// parseConfig loads a YAML config as config.Load would from a file.
func parseConfig(t *testing.T, yaml string) *config.Config {
	t.Helper()
	file := filepath.Join(t.TempDir(), "switchboard.yaml")
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

const opsConfig = `
transports:
  - type: websocket
    listen: 127.0.0.1:0
  - type: rawsocket
    listen: 127.0.0.1:0
realms:
  - name: realm1
  - name: secure
    auth:
      - method: ticket
        principals:
          - {authid: alice, role: user, ticket: alice-ticket}
`

// dialRealm joins realm at url with the nexus client.
func dialRealm(t *testing.T, url, realm string, ser serialize.Serialization, opts ...func(*client.Config)) (*client.Client, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	cfg := client.Config{Realm: realm, Serialization: ser, Logger: quiet, ResponseTimeout: bound}
	for _, o := range opts {
		o(&cfg)
	}
	return client.ConnectNet(ctx, url, cfg)
}

func mustDial(t *testing.T, url, realm string, ser serialize.Serialization, opts ...func(*client.Config)) *client.Client {
	t.Helper()
	c, err := dialRealm(t, url, realm, ser, opts...)
	if err != nil {
		t.Fatalf("join %s at %s: %v", realm, url, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func ticket(authid, tk string) func(*client.Config) {
	return func(c *client.Config) {
		c.HelloDetails = nexuswamp.Dict{"authid": authid}
		c.AuthHandlers = map[string]client.AuthFunc{
			"ticket": func(*nexuswamp.Challenge) (string, nexuswamp.Dict) { return tk, nexuswamp.Dict{} },
		}
	}
}

// httpBase is the http:// base of the router's websocket listener.
func httpBase(r *router.Router) string {
	u := r.URL("websocket")
	u = strings.TrimPrefix(u, "ws://")
	return "http://" + strings.TrimSuffix(u, "/ws")
}

func get(t *testing.T, url string) (int, string, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
}

// TestMetricsAfterTraffic drives publish/subscribe, calls with every
// outcome, a refused call and a failed authentication through nexus
// clients over WebSocket (JSON) and RawSocket (msgpack), then scrapes
// /metrics and checks the counters exactly.
func TestMetricsAfterTraffic(t *testing.T) {
	r := routertest.Run(t, parseConfig(t, opsConfig))
	ws, rs := r.URL("websocket"), r.URL("rawsocket")
	metricsURL := httpBase(r) + "/metrics"

	sub := mustDial(t, ws, "realm1", client.JSON)
	events := make(chan *nexuswamp.Event, 10)
	if err := sub.SubscribeChan("com.example.topic", events, nil); err != nil {
		t.Fatal(err)
	}
	pub := mustDial(t, ws, "realm1", client.JSON)
	for i := range 3 {
		if err := pub.Publish("com.example.topic", nil, nexuswamp.List{i}, nil); err != nil {
			t.Fatal(err)
		}
	}
	for range 3 {
		select {
		case <-events:
		case <-time.After(bound):
			t.Fatal("no event")
		}
	}

	callee := mustDial(t, rs, "realm1", client.MSGPACK)
	entered := make(chan struct{}, 2)
	must(t, callee.Register("com.example.ok", func(context.Context, *nexuswamp.Invocation) client.InvokeResult {
		return client.InvokeResult{Args: nexuswamp.List{"ok"}}
	}, nil))
	must(t, callee.Register("com.example.fail", func(context.Context, *nexuswamp.Invocation) client.InvokeResult {
		return client.InvokeResult{Err: "com.example.oops"}
	}, nil))
	must(t, callee.Register("com.example.slow", func(ctx context.Context, _ *nexuswamp.Invocation) client.InvokeResult {
		entered <- struct{}{}
		<-ctx.Done() // INTERRUPT
		return client.InvokeResult{Err: nexuswamp.ErrCanceled}
	}, nil))
	caller := mustDial(t, ws, "realm1", client.JSON)
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	for range 2 {
		if _, err := caller.Call(ctx, "com.example.ok", nil, nil, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	var re client.RPCError
	if _, err := caller.Call(ctx, "com.example.fail", nil, nil, nil, nil); !errors.As(err, &re) || re.Err.Error != "com.example.oops" {
		t.Fatalf("fail: %v", err)
	}
	if _, err := caller.Call(ctx, "com.example.none", nil, nil, nil, nil); !errors.As(err, &re) || re.Err.Error != nexuswamp.ErrNoSuchProcedure {
		t.Fatalf("none: %v", err)
	}
	if _, err := caller.Call(ctx, "com.example.slow", nexuswamp.Dict{"timeout": 50}, nil, nil, nil); !errors.As(err, &re) || re.Err.Error != "wamp.error.timeout" {
		t.Fatalf("timeout: %v", err)
	}
	<-entered
	cctx, ccancel := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() {
		_, err := caller.Call(cctx, "com.example.slow", nil, nil, nil, nil)
		errc <- err
	}()
	<-entered
	ccancel()
	if err := <-errc; err == nil {
		t.Fatal("canceled call succeeded")
	}

	if _, err := dialRealm(t, ws, "secure", client.JSON, ticket("alice", "wrong")); err == nil {
		t.Fatal("joined with a wrong ticket")
	}

	// The timed-out and the canceled call (killnowait) were answered at
	// once; the callee's ERRORs after its INTERRUPTs are still on their
	// way, and a GOODBYE from the callee would overtake them: nexus
	// drops an invocation's answer once it is closing. Wait until the
	// dealer has them (no tombstone left) before closing.
	testutil.CheckFor(t, bound, func() error {
		if n := r.Realm("realm1").Stats().PendingCalls; n != 0 {
			return fmt.Errorf("%d calls still pending: the callee did not answer its INTERRUPTs", n)
		}
		return nil
	})
	for _, c := range []*client.Client{sub, pub, callee, caller} {
		_ = c.Close()
	}
	var m map[string]float64
	settled := func() bool {
		return m[`switchboard_sessions_closed_total{realm="realm1",reason="goodbye"}`] == 4 &&
			m[`switchboard_call_duration_seconds_count{realm="realm1"}`] == 5 &&
			m[`switchboard_messages_received_total{type="ERROR"}`] == 3
	}
	testutil.CheckFor(t, bound, func() error {
		if m = testutil.Scrape(t, metricsURL); settled() {
			return nil
		}
		return fmt.Errorf("no sessions closed and calls ended: closed by goodbye %v, calls ended %v, ERRORs received %v",
			m[`switchboard_sessions_closed_total{realm="realm1",reason="goodbye"}`],
			m[`switchboard_call_duration_seconds_count{realm="realm1"}`], m[`switchboard_messages_received_total{type="ERROR"}`])
	})
	want := map[string]float64{
		`switchboard_sessions_opened_total{realm="realm1",serializer="json",transport="websocket"}`:    3,
		`switchboard_sessions_opened_total{realm="realm1",serializer="msgpack",transport="rawsocket"}`: 1,
		`switchboard_sessions_open{realm="realm1",serializer="json",transport="websocket"}`:            0,
		`switchboard_sessions_open{realm="realm1",serializer="msgpack",transport="rawsocket"}`:         0,
		`switchboard_sessions_closed_total{realm="realm1",reason="goodbye"}`:                           4,
		`switchboard_sessions_closed_total{realm="realm1",reason="slow_consumer"}`:                     0,
		`switchboard_sessions_closed_total{realm="secure",reason="goodbye"}`:                           0,
		`switchboard_events_published_total{realm="realm1"}`:                                           3,
		`switchboard_events_delivered_total{realm="realm1"}`:                                           3,
		`switchboard_events_dropped_total{realm="realm1"}`:                                             0,
		`switchboard_calls_started_total{realm="realm1"}`:                                              5,
		`switchboard_calls_total{outcome="completed",realm="realm1"}`:                                  2,
		`switchboard_calls_total{outcome="failed",realm="realm1"}`:                                     1,
		`switchboard_calls_total{outcome="timed_out",realm="realm1"}`:                                  1,
		`switchboard_calls_total{outcome="canceled",realm="realm1"}`:                                   1,
		`switchboard_call_duration_seconds_count{realm="realm1"}`:                                      5,
		`switchboard_auth_failures_total{method="ticket",realm="secure"}`:                              1,
		`switchboard_messages_received_total{type="HELLO"}`:                                            5,
		`switchboard_messages_received_total{type="AUTHENTICATE"}`:                                     1,
		`switchboard_messages_received_total{type="PUBLISH"}`:                                          3,
		`switchboard_messages_received_total{type="SUBSCRIBE"}`:                                        1,
		`switchboard_messages_received_total{type="REGISTER"}`:                                         3,
		`switchboard_messages_received_total{type="CALL"}`:                                             6,
		`switchboard_messages_received_total{type="CANCEL"}`:                                           1,
		`switchboard_messages_received_total{type="YIELD"}`:                                            2,
		// the callee's com.example.oops and its two canceled answers
		`switchboard_messages_received_total{type="ERROR"}`:   3,
		`switchboard_messages_received_total{type="GOODBYE"}`: 4,
		`switchboard_messages_sent_total{type="WELCOME"}`:     4,
		`switchboard_messages_sent_total{type="CHALLENGE"}`:   1,
		`switchboard_messages_sent_total{type="ABORT"}`:       1,
		`switchboard_messages_sent_total{type="EVENT"}`:       3,
		`switchboard_messages_sent_total{type="SUBSCRIBED"}`:  1,
		`switchboard_messages_sent_total{type="REGISTERED"}`:  3,
		`switchboard_messages_sent_total{type="INVOCATION"}`:  5,
		`switchboard_messages_sent_total{type="INTERRUPT"}`:   2,
		`switchboard_messages_sent_total{type="RESULT"}`:      2,
		// fail, none, timeout, cancel
		`switchboard_messages_sent_total{type="ERROR"}`:   4,
		`switchboard_messages_sent_total{type="GOODBYE"}`: 4,
	}
	for k, v := range want {
		got, ok := m[k]
		if !ok {
			t.Errorf("%s: missing", k)
		} else if got != v {
			t.Errorf("%s = %v, want %v", k, got, v)
		}
	}
	for _, k := range []string{"switchboard_received_bytes_total", "switchboard_sent_bytes_total", "switchboard_outbound_queue_depth_count",
		"go_goroutines", "process_resident_memory_bytes"} {
		if m[k] <= 0 {
			t.Errorf("%s = %v, want > 0", k, m[k])
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestHealthAndStatus checks /healthz, /readyz and /status, and that the
// endpoints answer other methods with 405 and a JSON error.
func TestHealthAndStatus(t *testing.T) {
	r := routertest.Run(t, parseConfig(t, opsConfig))
	base := httpBase(r)
	for _, p := range []string{"/healthz", "/readyz"} {
		code, ct, body := get(t, base+p)
		if code != 200 || ct != "application/json" || !strings.Contains(body, `"status"`) {
			t.Errorf("GET %s: %d %s %s", p, code, ct, body)
		}
	}
	resp, err := http.Post(base+"/status", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 405 || !strings.Contains(string(b), `"error"`) {
		t.Errorf("POST /status: %d %s", resp.StatusCode, b)
	}

	c := mustDial(t, r.URL("websocket"), "realm1", client.JSON)
	must(t, c.Subscribe("com.example.a", func(*nexuswamp.Event) {}, nil))
	must(t, c.Register("com.example.p", func(context.Context, *nexuswamp.Invocation) client.InvokeResult { return client.InvokeResult{} }, nil))
	_, _, body := get(t, base+"/status")
	var st router.Status
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatalf("/status: %v\n%s", err, body)
	}
	if !st.Ready || len(st.Listeners) != 2 || st.Cluster != nil || st.Metrics == nil {
		t.Errorf("/status: %+v", st)
	}
	want := []router.RealmStatus{
		{Name: "realm1", Sessions: 1, Subscriptions: 1, Registrations: 1},
		{Name: "secure"},
	}
	if fmt.Sprint(st.Realms) != fmt.Sprint(want) {
		t.Errorf("/status realms = %+v, want %+v", st.Realms, want)
	}
	if got := st.Metrics.Realms["realm1"].SessionsOpen; got != 1 {
		t.Errorf("/status metrics realm1 sessions_open = %d, want 1", got)
	}

	errc := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), bound)
		defer cancel()
		errc <- r.Shutdown(ctx)
	}()
	testutil.Eventually(t, bound, func() bool { return r.Ready() != nil }, "not ready during shutdown")
	if err := r.Ready(); err.Error() != "shutting down" {
		t.Errorf("Ready during shutdown = %v", err)
	}
	<-c.Done()
	if g := c.RouterGoodbye(); g == nil || g.Reason != "wamp.close.system_shutdown" {
		t.Errorf("GOODBYE = %+v, want wamp.close.system_shutdown", g)
	}
	_ = c.Close() // nexus does not echo GOODBYE; closing ends the drain
	if err := <-errc; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
}

// TestMetricsListen serves the operations endpoints on their own address:
// /metrics and /status move there, /healthz and /readyz stay on the
// websocket listener too.
func TestMetricsListen(t *testing.T) {
	cfg := parseConfig(t, opsConfig+"metrics:\n  listen: 127.0.0.1:0\n  path: /prom\n")
	r := routertest.Run(t, cfg)
	var own string
	for _, l := range r.Listeners() {
		if l.Type == "metrics" {
			own = l.URL
		}
	}
	if own == "" {
		t.Fatalf("no metrics listener in %+v", r.Listeners())
	}
	for _, tc := range []struct {
		url  string
		code int
	}{
		{own + "/prom", 200}, {own + "/status", 200}, {own + "/healthz", 200}, {own + "/readyz", 200},
		{httpBase(r) + "/prom", 404}, {httpBase(r) + "/metrics", 404}, {httpBase(r) + "/status", 404}, {httpBase(r) + "/healthz", 200},
	} {
		if code, _, body := get(t, tc.url); code != tc.code {
			t.Errorf("GET %s: %d, want %d (%s)", tc.url, code, tc.code, body)
		}
	}
}

// TestMetricsDisabled: no /metrics, and sessions count nothing.
func TestMetricsDisabled(t *testing.T) {
	r := routertest.Run(t, parseConfig(t, opsConfig+"metrics:\n  enabled: false\n"))
	if r.Metrics() != nil {
		t.Fatal("metrics on")
	}
	mustDial(t, r.URL("websocket"), "realm1", client.JSON)
	if code, _, _ := get(t, httpBase(r)+"/metrics"); code != 404 {
		t.Errorf("GET /metrics: %d, want 404", code)
	}
	_, _, body := get(t, httpBase(r)+"/status")
	var st router.Status
	if err := json.Unmarshal([]byte(body), &st); err != nil || st.Metrics != nil || st.Realms[0].Sessions != 1 {
		t.Errorf("/status = %s (%v)", body, err)
	}
}

const reloadBefore = `
transports:
  - type: websocket
    listen: 127.0.0.1:0
realms:
  - name: realm1
    auth:
      - method: ticket
        principals:
          - {authid: alice, role: user, ticket: alice-ticket}
    roles:
      user:
        - {uri: app., match: prefix, allow: [publish, subscribe]}
  - name: old
`

const reloadAfter = `
transports:
  - type: websocket
    listen: 127.0.0.1:0
realms:
  - name: realm1
    auth:
      - method: ticket
        principals:
          - {authid: alice, role: user, ticket: alice-ticket}
          - {authid: bob, role: user, ticket: bob-ticket}
    roles:
      user:
        - {uri: app., match: prefix, allow: [subscribe]}
  - name: added
`

// TestReload: a reload keeps sessions, lets a new principal in, refuses a
// permission it removed, closes a removed realm and opens an added one.
func TestReload(t *testing.T) {
	r := routertest.Run(t, parseConfig(t, reloadBefore))
	ws := r.URL("websocket")
	alice := mustDial(t, ws, "realm1", client.JSON, ticket("alice", "alice-ticket"))
	events := make(chan *nexuswamp.Event, 10)
	must(t, alice.SubscribeChan("app.news", events, nil))
	ack := nexuswamp.Dict{"acknowledge": true}
	must(t, alice.Publish("app.news", ack, nexuswamp.List{"before"}, nil))
	if _, err := dialRealm(t, ws, "realm1", client.JSON, ticket("bob", "bob-ticket")); err == nil {
		t.Fatal("bob joined before the reload")
	}
	old := mustDial(t, ws, "old", client.JSON)

	if err := r.Reload(parseConfig(t, reloadAfter)); err != nil {
		t.Fatalf("Reload: %v", err)
	}

	err := alice.Publish("app.news", ack, nexuswamp.List{"after"}, nil)
	if err == nil || !strings.Contains(err.Error(), string(nexuswamp.ErrNotAuthorized)) {
		t.Errorf("publish after reload: %v, want wamp.error.not_authorized", err)
	}
	bob := mustDial(t, ws, "realm1", client.JSON, ticket("bob", "bob-ticket"))
	must(t, bob.Subscribe("app.other", func(*nexuswamp.Event) {}, nil))
	// alice's session lived through it: still subscribed, still allowed to
	// subscribe.
	must(t, alice.Subscribe("app.more", func(*nexuswamp.Event) {}, nil))
	select {
	case <-alice.Done():
		t.Fatal("alice's session ended")
	default:
	}
	if got := r.Realm("realm1").Stats(); got.Sessions != 2 || got.Subscriptions != 3 {
		t.Errorf("realm1 after reload: %+v, want 2 sessions and 3 subscriptions", got)
	}

	select {
	case <-old.Done():
	case <-time.After(bound):
		t.Fatal("session of the removed realm not closed")
	}
	if g := old.RouterGoodbye(); g == nil || g.Reason != "wamp.close.close_realm" {
		t.Errorf("removed realm: GOODBYE %+v, want wamp.close.close_realm", g)
	}
	_ = old.Close()
	if _, err := dialRealm(t, ws, "old", client.JSON); err == nil || !strings.Contains(err.Error(), "no_such_realm") {
		t.Errorf("join removed realm: %v, want wamp.error.no_such_realm", err)
	}
	mustDial(t, ws, "added", client.JSON)
}

// TestReloadRestartNeeded: what a reload cannot apply is logged and left
// as it runs; after Shutdown a reload is refused.
func TestReloadRestartNeeded(t *testing.T) {
	var buf testutil.Buffer
	cfg := parseConfig(t, reloadBefore)
	r, err := router.New(cfg, router.Options{Logger: slog.New(slog.NewTextHandler(&buf, nil))})
	if err != nil {
		t.Fatal(err)
	}
	must(t, r.Start())
	next := parseConfig(t, strings.Replace(reloadBefore, "  - name: old\n", "  - name: old\n    strict_uris: true\nlimits:\n  outbound_queue:\n    messages: 10\n", 1))
	if err := r.Reload(next); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`key=limits`, `key="realms[1] (old)"`} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("log lacks %s:\n%s", want, buf.String())
		}
	}
	if strings.Contains(buf.String(), "key=transports") {
		t.Errorf("transports reported changed:\n%s", buf.String())
	}
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	must(t, r.Shutdown(ctx))
	if err := r.Reload(next); err == nil {
		t.Error("Reload after Shutdown succeeded")
	}
}
