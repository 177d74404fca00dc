// Command go is a backend service on the nexus WAMP client: it registers
// com.example.add2, which browsers and web backends (through the HTTP
// bridge's POST /call) call, and publishes com.example.heartbeat with a
// counter, retained, so that a page that opens late gets the last one.
//
//	go run ./examples/go -url ws://127.0.0.1:8080/ws -realm realm1
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/gammazero/nexus/v3/client"
	"github.com/gammazero/nexus/v3/wamp"
)

const (
	procAdd2  = "com.example.add2"
	topicBeat = "com.example.heartbeat"
)

func main() {
	url := flag.String("url", "ws://127.0.0.1:8080/ws", "router WebSocket URL")
	realm := flag.String("realm", "realm1", "realm to join")
	interval := flag.Duration("interval", time.Second, "heartbeat interval")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *url, *realm, *interval, nil); err != nil && !errors.Is(err, context.Canceled) {
		slog.Error("backend failed", "error", err)
		os.Exit(1)
	}
}

// run serves until ctx ends or the router goes away. ready, if not nil, is
// closed once the procedure is registered.
func run(ctx context.Context, url, realm string, interval time.Duration, ready chan<- struct{}) error {
	cfg := client.Config{Realm: realm, Logger: log.New(os.Stderr, "nexus: ", log.LstdFlags)}
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	c, err := client.ConnectNet(dctx, url, cfg)
	if err != nil {
		return fmt.Errorf("connect %s: %w", url, err)
	}
	defer c.Close()

	err = c.Register(procAdd2, func(_ context.Context, inv *wamp.Invocation) client.InvokeResult {
		if len(inv.Arguments) != 2 {
			return client.InvokeResult{Err: wamp.ErrInvalidArgument, Args: wamp.List{"add2 takes two integers"}}
		}
		a, ok1 := wamp.AsInt64(inv.Arguments[0])
		b, ok2 := wamp.AsInt64(inv.Arguments[1])
		if !ok1 || !ok2 {
			return client.InvokeResult{Err: wamp.ErrInvalidArgument, Args: wamp.List{"add2 takes two integers"}}
		}
		return client.InvokeResult{Args: wamp.List{a + b}}
	}, nil)
	if err != nil {
		return fmt.Errorf("register %s: %w", procAdd2, err)
	}
	slog.Info("registered", "procedure", procAdd2, "url", url)
	if ready != nil {
		close(ready)
	}

	tick := time.NewTicker(interval)
	defer tick.Stop()
	for n := 1; ; n++ {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-c.Done():
			return errors.New("the router closed the session")
		case <-tick.C:
		}
		if err := c.Publish(topicBeat, wamp.Dict{"retain": true}, wamp.List{n}, nil); err != nil {
			return fmt.Errorf("publish %s: %w", topicBeat, err)
		}
	}
}
