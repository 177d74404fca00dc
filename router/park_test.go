//go:build linux

package router_test

import (
	"context"
	"testing"
	"time"

	"github.com/gammazero/nexus/v3/client"
	nexuswamp "github.com/gammazero/nexus/v3/wamp"

	"github.com/switchboard/switchboard/internal/testutil"
	"github.com/switchboard/switchboard/router/routertest"
	"github.com/switchboard/switchboard/transport"
)

// Idle sessions park (their reader gives its goroutine up) and lose
// nothing by it: a parked subscriber gets events, a parked callee answers
// calls, a parked session can be killed, and the router stops with
// sessions parked (goleak checks that nothing is left running).
func TestIdleSessionsPark(t *testing.T) {
	r := routertest.Run(t, parseConfig(t, opsConfig))
	ws, rs := r.URL("websocket"), r.URL("rawsocket")
	metricsURL := httpBase(r) + "/metrics"
	const parkBound = 30 * time.Second // parking takes a second or two

	sub := mustDial(t, ws, "realm1", client.JSON)
	events := make(chan *nexuswamp.Event, 10)
	if err := sub.SubscribeChan("com.example.parked", events, nil); err != nil {
		t.Fatal(err)
	}
	callee := mustDial(t, rs, "realm1", client.MSGPACK)
	if err := callee.Register("com.example.parked.echo", func(_ context.Context, inv *nexuswamp.Invocation) client.InvokeResult {
		return client.InvokeResult{Args: inv.Arguments}
	}, nil); err != nil {
		t.Fatal(err)
	}
	victim := mustDial(t, ws, "realm1", client.CBOR)
	testutil.Eventually(t, parkBound, func() bool { return transport.Parked() >= 3 },
		"%d connections parked, want the 3 idle sessions'", transport.Parked())
	if m := testutil.Scrape(t, metricsURL); m["switchboard_connections_parked"] < 3 {
		t.Errorf("switchboard_connections_parked = %v, want at least 3", m["switchboard_connections_parked"])
	}

	other := mustDial(t, ws, "realm1", client.JSON)
	if err := other.Publish("com.example.parked", nexuswamp.Dict{nexuswamp.OptAcknowledge: true}, nexuswamp.List{"to a parked subscriber"}, nil); err != nil {
		t.Fatal(err)
	}
	select {
	case e := <-events:
		if s, _ := nexuswamp.AsString(e.Arguments[0]); s != "to a parked subscriber" {
			t.Fatalf("event %v", e.Arguments)
		}
	case <-time.After(bound):
		t.Fatal("the parked subscriber got no event")
	}
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	res, err := other.Call(ctx, "com.example.parked.echo", nil, nexuswamp.List{"to a parked callee"}, nil, nil)
	if err != nil {
		t.Fatalf("call to the parked callee: %v", err)
	}
	if s, _ := nexuswamp.AsString(res.Arguments[0]); s != "to a parked callee" {
		t.Fatalf("result %v", res.Arguments)
	}

	// The victim has been idle all along: parked.
	if _, err := other.Call(ctx, "wamp.session.kill", nil, nexuswamp.List{victim.ID()}, nexuswamp.Dict{"reason": "wamp.close.killed"}, nil); err != nil {
		t.Fatalf("kill the parked session: %v", err)
	}
	select {
	case <-victim.Done():
	case <-time.After(bound):
		t.Fatal("the killed parked session did not end")
	}

	// The subscriber and callee park again after their traffic; the
	// router's shutdown (the test's cleanup) must end them.
	testutil.Eventually(t, parkBound, func() bool { return transport.Parked() >= 2 },
		"%d connections parked after the traffic, want the subscriber's and the callee's", transport.Parked())
}
