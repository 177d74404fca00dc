package main

import (
	"context"
	"errors"
	"io"
	"log"
	"testing"
	"time"

	"github.com/gammazero/nexus/v3/client"
	"github.com/gammazero/nexus/v3/wamp"
	"go.uber.org/goleak"

	"github.com/switchboard/switchboard/config"
	"github.com/switchboard/switchboard/router/routertest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestBackend runs the backend against a router and checks, with a nexus
// client, that add2 answers and heartbeats arrive.
func TestBackend(t *testing.T) {
	r := routertest.Run(t, nil)
	url := r.URL(config.WebSocket)

	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() { done <- run(ctx, url, "realm1", 10*time.Millisecond, ready) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("run: %v", err)
		}
	})
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("backend ended: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("backend not ready in 10s")
	}

	cctx, ccancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer ccancel()
	c, err := client.ConnectNet(cctx, url, client.Config{Realm: "realm1", Logger: log.New(io.Discard, "", 0)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	res, err := c.Call(cctx, procAdd2, nil, wamp.List{2, 3}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := wamp.AsInt64(res.Arguments[0]); n != 5 {
		t.Fatalf("add2(2, 3) = %v", res.Arguments)
	}
	if _, err := c.Call(cctx, procAdd2, nil, wamp.List{"x"}, nil, nil); err == nil {
		t.Fatal("add2(x) succeeded")
	}
	beats := make(chan int64, 64)
	if err := c.Subscribe(topicBeat, func(e *wamp.Event) {
		n, _ := wamp.AsInt64(e.Arguments[0])
		select {
		case beats <- n:
		default:
		}
	}, nil); err != nil {
		t.Fatal(err)
	}
	select {
	case n := <-beats:
		if n < 1 {
			t.Fatalf("heartbeat %d", n)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no heartbeat in 10s")
	}
}
