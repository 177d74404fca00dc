package router_test

import (
	"context"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/gammazero/nexus/v3/client"
	nexuswamp "github.com/gammazero/nexus/v3/wamp"
	"go.uber.org/goleak"

	"github.com/switchboard/switchboard/config"
	"github.com/switchboard/switchboard/internal/testutil"
	"github.com/switchboard/switchboard/router"
	"github.com/switchboard/switchboard/router/routertest"
	"github.com/switchboard/switchboard/transport"
)

// TestTLS runs a call over wss:// and over RawSocket with TLS, each with
// the nexus client, and checks that a plain client cannot talk to them.
func TestTLS(t *testing.T) {
	srvTLS, cliTLS := testutil.TLSConfigs(t)
	cfg := routertest.Config()
	for i := range cfg.Transports {
		cfg.Transports[i].TLS = &config.TLS{Config: srvTLS}
	}
	r := routertest.Run(t, cfg)
	for _, typ := range []string{"websocket", "rawsocket"} {
		url := r.URL(typ)
		t.Run(typ, func(t *testing.T) {
			if url[:3] != "wss" && url[:4] != "tcps" {
				t.Fatalf("URL %q does not name a TLS scheme", url)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			callee, err := client.ConnectNet(ctx, url, client.Config{Realm: "realm1", TlsCfg: cliTLS})
			if err != nil {
				t.Fatalf("connect %s: %v", url, err)
			}
			defer callee.Close()
			err = callee.Register("com.example.tls", func(_ context.Context, inv *nexuswamp.Invocation) client.InvokeResult {
				return client.InvokeResult{Args: nexuswamp.List{"secure", inv.Arguments[0]}}
			}, nil)
			if err != nil {
				t.Fatalf("register: %v", err)
			}
			caller, err := client.ConnectNet(ctx, url, client.Config{Realm: "realm1", TlsCfg: cliTLS})
			if err != nil {
				t.Fatalf("connect %s: %v", url, err)
			}
			defer caller.Close()
			res, err := caller.Call(ctx, "com.example.tls", nil, nexuswamp.List{7}, nil, nil)
			if err != nil {
				t.Fatalf("call: %v", err)
			}
			if len(res.Arguments) != 2 || res.Arguments[0] != "secure" {
				t.Fatalf("result %v, want [secure 7]", res.Arguments)
			}
			if n, ok := nexuswamp.AsInt64(res.Arguments[1]); !ok || n != 7 {
				t.Fatalf("result %v, want [secure 7]", res.Arguments)
			}

			// Without TLS the upgrade must fail rather than reach a realm.
			// (A plain RawSocket client would sit in the TLS handshake until
			// the handshake timeout; the WebSocket case shows the point.)
			if typ != "websocket" {
				return
			}
			plain := "ws" + url[3:]
			if c, err := client.ConnectNet(ctx, plain, client.Config{Realm: "realm1"}); err == nil {
				c.Close()
				t.Fatalf("plain client joined through the TLS listener %s", plain)
			}
		})
	}
}

// The config documents the origins a websocket listener allows by default;
// the transport applies its own copy of them.
func TestDefaultAllowedOrigins(t *testing.T) {
	if !slices.Equal(config.DefaultAllowedOrigins, transport.DefaultAllowedOrigins) {
		t.Errorf("config.DefaultAllowedOrigins %v != transport.DefaultAllowedOrigins %v", config.DefaultAllowedOrigins, transport.DefaultAllowedOrigins)
	}
}

// A Start that fails on its last step (the metrics listener's port is
// taken) stops what it had started, listeners and the bridge's sessions,
// without a Shutdown.
func TestStartFailsOnMetricsListener(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	cfg := routertest.Config()
	cfg.Transports[0].Bridge = &config.Bridge{Realm: "realm1", Publish: "/publish", Unsigned: config.UnsignedLoopback}
	cfg.Metrics.Listen = busy.Addr().String()
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	r, err := router.New(cfg, router.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Start(); err == nil {
		t.Fatal("Start succeeded with the metrics port taken")
	}
}
