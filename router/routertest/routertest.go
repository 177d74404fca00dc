// Package routertest starts in-process routers for tests, on random
// loopback ports, and stops them when the test ends.
package routertest

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/switchboard/switchboard/config"
	"github.com/switchboard/switchboard/router"
)

// Config returns the default node config with every listener moved to a
// random loopback port.
func Config() *config.Config {
	cfg := config.Default()
	for i := range cfg.Transports {
		cfg.Transports[i].Listen = "127.0.0.1:0"
	}
	return cfg
}

// Run starts a router on cfg (Config() if nil) and registers its shutdown
// with t.Cleanup. Logs go to t.Log when testing -v is set, else nowhere.
func Run(t testing.TB, cfg *config.Config) *router.Router {
	t.Helper()
	if cfg == nil {
		cfg = Config()
	}
	logger := slog.New(slog.DiscardHandler)
	if testing.Verbose() {
		logger = slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	r, err := router.New(cfg, router.Options{Logger: logger})
	if err != nil {
		t.Fatalf("router.New: %v", err)
	}
	if err := r.Start(); err != nil {
		t.Fatalf("router.Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := r.Shutdown(ctx); err != nil {
			t.Errorf("router.Shutdown: %v", err)
		}
	})
	return r
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}
