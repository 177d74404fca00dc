package cluster_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gammazero/nexus/v3/client"
	nwamp "github.com/gammazero/nexus/v3/wamp"
	"github.com/nats-io/nats-server/v2/server"

	"github.com/switchboard/switchboard/config"
	"github.com/switchboard/switchboard/router"
	"github.com/switchboard/switchboard/router/routertest"
)

// TestYieldOverMaxPayloadFailsCall: a YIELD larger than NATS's
// max_payload cannot cross; the caller gets payload_size_exceeded instead
// of waiting forever.
func TestYieldOverMaxPayloadFailsCall(t *testing.T) {
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true, MaxPayload: 32 << 10, JetStream: true, StoreDir: t.TempDir()})
	must(t, err)
	go srv.Start()
	if !srv.ReadyForConnections(bound) {
		t.Fatal("NATS server did not start")
	}
	defer srv.Shutdown()
	mk := func(name string) *config.Config {
		cfg := routertest.Config()
		cfg.Cluster = &config.Cluster{Name: "test", Node: name, FailureTimeout: 2 * time.Second,
			NATS: &config.ExternalNATS{URLs: []string{srv.ClientURL()}}}
		cfg.SetDefaults()
		must(t, cfg.Validate())
		return cfg
	}
	a := routertest.Run(t, mk("a"))
	b := routertest.Run(t, mk("b"))
	waitMesh(t, []*router.Router{a, b})
	callee := connect(t, b)
	must(t, callee.Register("com.big", func(context.Context, *nwamp.Invocation) client.InvokeResult {
		return client.InvokeResult{Args: nwamp.List{strings.Repeat("x", 64<<10)}}
	}, nil))
	waitCallees(t, []*router.Router{a, b}, "com.big", "exact", 1)
	caller := connect(t, a)
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	_, err = caller.Call(ctx, "com.big", nil, nil, nil, nil)
	if re, ok := err.(client.RPCError); !ok || re.Err.Error != "wamp.error.payload_size_exceeded" {
		t.Fatalf("CALL with a YIELD over max_payload: %v, want wamp.error.payload_size_exceeded", err)
	}
}
