package interop_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/switchboard/switchboard/tools/bench"
)

// TestSoak runs switchboard-bench's soak (bench.RunSoak) against the
// switchboard binary for 60 seconds (15 with -short): fanout, pubsub, rpc
// and churn together, slow and stalled subscribers, canceled and expiring
// calls and a client breaking the protocol; then the router's goroutines,
// open files and heap must be back within tolerance of their start, its
// session count back, every fanout and pubsub subscriber complete, the
// stalled and misbehaving sessions closed and counted. The router runs as a
// process of its own so that its /metrics figures are its own; the checks
// are on outcomes, the only times are the load's length and the bounds of
// the waits.
func TestSoak(t *testing.T) {
	load, disconnect := 60*time.Second, "10s" // the router's default
	if testing.Short() {
		// Stalled subscribers must still fill their buffers and queue and
		// stay full for disconnect_after within the load.
		load, disconnect = 15*time.Second, "2s"
	}
	tmp := t.TempDir()
	bin := buildSwitchboard(t, moduleRoot(t), tmp)
	wsAddr, rsAddr := freeAddr(t), freeAddr(t)
	// A small max_message_size keeps the oversize messages cheap to send.
	cfg := fmt.Sprintf(`transports:
  - type: websocket
    listen: %s
  - type: rawsocket
    listen: %s
realms:
  - name: realm1
limits:
  max_message_size: 64KiB
  outbound_queue:
    disconnect_after: %s
`, wsAddr, rsAddr, disconnect)
	file := filepath.Join(tmp, "switchboard.yaml")
	if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	r := runRouter(t, tmp, []string{bin, "-c", file}, wsAddr, rsAddr, false)

	// Bounds the soak should it hang; no check depends on it.
	ctx, cancel := context.WithTimeout(context.Background(), load+3*time.Minute)
	defer cancel()
	rep, err := bench.RunSoak(ctx, bench.SoakConfig{
		Load: bench.Config{
			URL:         r.wsURL,
			Duration:    load,
			Subscribers: 20,
			Pairs:       4,
			Callers:     4,
			Parallel:    4,
			Payload:     256,
			RouterPID:   -1,
		},
		MaxMessageSize: 64 << 10,
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range rep.Scenarios {
		if s != nil {
			t.Logf("%s %s: sent %d, received %d, lost %d, errors %d, %.0f %s", s.Scenario, s.Params, s.Sent, s.Received, s.Lost, s.Errors, s.Throughput, s.Unit)
		}
	}
	t.Logf("router before %+v", rep.Before)
	t.Logf("router after  %+v (settled in %.1fs)", rep.After, rep.SettleSeconds)
	t.Logf("calls canceled %d of %d, timed out %d of %d; stalled closed %d of %d; misbehaving closed %d of %d; slow received %d of %d; notes %q",
		rep.Canceled, rep.CancelCalls, rep.TimedOut, rep.TimeoutCalls, rep.StalledClosed, rep.Stalled,
		rep.MisbehaverClosed, rep.Misbehaved, rep.SlowReceived, rep.SlowPublished*int64(rep.Slow), rep.Notes)
	for _, f := range rep.Failures {
		t.Error(f)
	}
}
