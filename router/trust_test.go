package router_test

import (
	"context"
	"testing"
	"time"

	"github.com/gammazero/nexus/v3/client"
	nwamp "github.com/gammazero/nexus/v3/wamp"

	"github.com/switchboard/switchboard/config"
	"github.com/switchboard/switchboard/router/routertest"
)

// TestRoleTrustLevel: a role's trust_level in the config reaches the
// EVENT details of its sessions' publications (trustlevel), and a reload
// that changes it takes effect for the next publication.
func TestRoleTrustLevel(t *testing.T) {
	cfg := routertest.Config()
	all := []config.Permission{{URI: "", Match: "prefix", Allow: []string{"call", "register", "publish", "subscribe"}}}
	cfg.Realms[0].Roles = []config.Role{{Name: "anonymous", Permissions: all, TrustLevel: 3, HasTrustLevel: true}}
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	r := routertest.Run(t, cfg)
	dial := func() *client.Client {
		c, err := client.ConnectNet(context.Background(), r.URL(config.WebSocket), client.Config{Realm: "realm1"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	sub, pub := dial(), dial()
	events := make(chan *nwamp.Event, 4)
	if err := sub.Subscribe("com.example.t", func(e *nwamp.Event) { events <- e }, nil); err != nil {
		t.Fatal(err)
	}
	next := func() *nwamp.Event {
		if err := pub.Publish("com.example.t", nwamp.Dict{"acknowledge": true}, nil, nil); err != nil {
			t.Fatal(err)
		}
		select {
		case e := <-events:
			return e
		case <-time.After(10 * time.Second):
			t.Fatal("no event")
			return nil
		}
	}
	if got, ok := nwamp.AsInt64(next().Details["trustlevel"]); !ok || got != 3 {
		t.Fatalf("trustlevel %v, want 3", got)
	}
	cfg2 := *cfg
	cfg2.Realms = []config.Realm{cfg.Realms[0]}
	cfg2.Realms[0].Roles = []config.Role{{Name: "anonymous", Permissions: all, TrustLevel: 5, HasTrustLevel: true}}
	if err := r.Reload(&cfg2); err != nil {
		t.Fatal(err)
	}
	if got, ok := nwamp.AsInt64(next().Details["trustlevel"]); !ok || got != 5 {
		t.Fatalf("trustlevel after reload %v, want 5", got)
	}
}
