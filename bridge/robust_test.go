package bridge_test

import (
	"context"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/gammazero/nexus/v3/wamp"

	"github.com/switchboard/switchboard/bridge"
	"github.com/switchboard/switchboard/config"
	"github.com/switchboard/switchboard/router"
)

// TestPayloadRouterRejects: payloads that encoding/json accepts but the
// router's JSON does not (invalid UTF-8, a lone surrogate) are refused as
// bad payloads, and the bridge's session survives them.
func TestPayloadRouterRejects(t *testing.T) {
	n := start(t, loopback(), nil)
	for _, body := range []string{
		"{\"topic\": \"com.example.t\", \"args\": [\"\xff\xfe\"]}",
		"{\"topic\": \"com.example.t\", \"kwargs\": {\"s\": \"\xc3\"}}",
		"{\"procedure\": \"com.example.p\", \"args\": [\"\xff\"]}",
	} {
		path := "/publish"
		if body[2] == 'p' {
			path = "/call"
		}
		if a := n.post(t, path, body); a.Status != http.StatusBadRequest || a.Error != "switchboard.bridge.bad_payload" {
			t.Fatalf("%q: %d %s", body, a.Status, a.Raw)
		}
	}
	if a := n.post(t, "/publish", `{"topic": "com.example.t"}`); a.Status != http.StatusOK {
		t.Fatalf("the bridge did not survive: %d %s", a.Status, a.Raw)
	}
}

// TestRejoin: a bridge session that ends (here killed through the meta
// API) is replaced, and requests work again; a call option that would be
// a protocol violation of the bridge's session is refused up front.
func TestRejoin(t *testing.T) {
	n := start(t, loopback(), nil)
	if a := n.post(t, "/call", `{"procedure": "com.example.p", "options": {"progress": true}}`); a.Status != http.StatusBadRequest || a.Error != "switchboard.bridge.bad_payload" {
		t.Fatalf("progress: %d %s", a.Status, a.Raw)
	}
	c := n.connect(t)
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	if _, err := c.Call(ctx, "wamp.session.kill_by_authid", nil, wamp.List{bridge.DefaultAuthID}, nil, nil); err != nil {
		t.Fatal(err)
	}
	for {
		a := n.post(t, "/publish", `{"topic": "com.example.t"}`)
		if a.Status == http.StatusOK {
			break
		}
		if a.Status != http.StatusServiceUnavailable {
			t.Fatalf("while rejoining: %d %s", a.Status, a.Raw)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the bridge did not rejoin: %d %s", a.Status, a.Raw)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// TestStartFails: when a later listener cannot open, the bridge already
// started on an earlier one is stopped with it (goleak checks that its
// sessions and goroutines are gone).
func TestStartFails(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	cfg := routertestConfig(loopback())
	cfg.Transports[0].Bridge.Realm = "realm1"
	cfg.Transports = append(cfg.Transports, config.Transport{Type: config.WebSocket, Listen: busy.Addr().String()})
	cfg.SetDefaults()
	r, err := router.New(cfg, router.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Start(); err == nil {
		t.Fatal("Start succeeded on a busy port")
	}
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	if err := r.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
}
