package router_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gammazero/nexus/v3/client"
	nexuswamp "github.com/gammazero/nexus/v3/wamp"

	"github.com/switchboard/switchboard/internal/testutil"
	"github.com/switchboard/switchboard/router/routertest"
)

// TestBridgeMetrics drives the HTTP bridge (a publish, a malformed one, a
// call, a call of no procedure, a webhook, and an HTTP subscriber whose
// first POST fails) and checks every bridge series on /metrics exactly.
func TestBridgeMetrics(t *testing.T) {
	var posts atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if posts.Add(1) == 1 {
			w.WriteHeader(http.StatusInternalServerError) // retried once
		}
	}))
	t.Cleanup(srv.Close)

	r := routertest.Run(t, parseConfig(t, fmt.Sprintf(`
transports:
  - type: websocket
    listen: 127.0.0.1:0
    bridge:
      realm: realm1
      publish: /publish
      call: /call
      unsigned: loopback
      webhooks:
        - {path: /hooks/test, topic: com.example.hook}
      subscribers:
        - {topic: com.example.orders, url: %q, retries: 1, backoff: 1ms}
realms:
  - name: realm1
`, srv.URL)))
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	if err := r.BridgesReady(ctx); err != nil {
		t.Fatal(err)
	}
	base := httpBase(r)
	var listener string
	for _, l := range r.Listeners() {
		if l.Type == "websocket" {
			listener = l.Addr
		}
	}

	callee := mustDial(t, r.URL("websocket"), "realm1", client.JSON)
	must(t, callee.Register("com.example.ok", func(context.Context, *nexuswamp.Invocation) client.InvokeResult {
		return client.InvokeResult{Args: nexuswamp.List{"ok"}}
	}, nil))

	for _, rq := range []struct {
		path, body string
		code       int
	}{
		{"/publish", `{"topic": "com.example.orders", "args": [1]}`, http.StatusOK},
		{"/publish", `{"topic": `, http.StatusBadRequest},
		{"/call", `{"procedure": "com.example.ok"}`, http.StatusOK},
		{"/call", `{"procedure": "com.example.none"}`, http.StatusNotFound},
		{"/hooks/test", `anything`, http.StatusOK},
	} {
		resp, err := http.Post(base+rq.path, "application/json", strings.NewReader(rq.body))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != rq.code {
			t.Fatalf("POST %s %s: %d %s, want %d", rq.path, rq.body, resp.StatusCode, b, rq.code)
		}
	}

	// Labels in name order, as in the exposition.
	req := func(outcome string) string {
		return fmt.Sprintf(`switchboard_bridge_requests_total{listener=%q,outcome=%q}`, listener, outcome)
	}
	events := func(outcome string) string {
		return fmt.Sprintf(`switchboard_bridge_subscriber_events_total{listener=%q,outcome=%q,subscriber="0",topic="com.example.orders"}`, listener, outcome)
	}
	var m map[string]float64
	testutil.Eventually(t, bound, func() bool {
		m = testutil.Scrape(t, base+"/metrics")
		return m[events("delivered")] == 1
	}, "the event delivered to the HTTP subscriber")
	want := map[string]float64{
		req("published"):    1,
		req("called"):       1,
		req("webhook"):      1,
		req("rejected"):     1,
		req("failed"):       1,
		events("delivered"): 1,
		events("failed"):    0,
		events("dropped"):   0,
		fmt.Sprintf(`switchboard_bridge_subscriber_retries_total{listener=%q,subscriber="0",topic="com.example.orders"}`, listener): 1,
	}
	for k, v := range m {
		if !strings.HasPrefix(k, "switchboard_bridge_") {
			continue
		}
		if w, ok := want[k]; !ok {
			t.Errorf("unexpected series %s = %v", k, v)
		} else if v != w {
			t.Errorf("%s = %v, want %v", k, v, w)
		}
	}
	for k := range want {
		if _, ok := m[k]; !ok {
			t.Errorf("%s: missing", k)
		}
	}
	if n := posts.Load(); n != 2 {
		t.Errorf("the subscriber's endpoint got %d POSTs, want 2", n)
	}
}
