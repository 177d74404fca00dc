package cluster_test

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/switchboard/switchboard/cluster"
	"github.com/switchboard/switchboard/config"
	"github.com/switchboard/switchboard/internal/testutil"
)

// TestCleanStopIsNoLoss: a node that stops cleanly closes its NATS
// connection on purpose; that is neither logged as a lost connection nor
// counted as a disconnect.
func TestCleanStopIsNoLoss(t *testing.T) {
	var logs testutil.Buffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg := config.Cluster{Name: "stop", Node: "n0", FailureTimeout: 3 * time.Second,
		Embedded: &config.EmbeddedNATS{Listen: "127.0.0.1:0", ClusterListen: "127.0.0.1:0"}}
	n := cluster.New(cfg, log)
	if err := n.Start(); err != nil {
		t.Fatal(err)
	}
	if !n.Stats().Connected {
		t.Fatal("not connected to the embedded server after Start")
	}
	n.Close()
	// Close waits for the node's goroutines; NATS calls its disconnect
	// handler before Close returns.
	if st := n.Stats(); st.Disconnects != 0 {
		t.Errorf("a clean stop counted %d NATS disconnects, want 0", st.Disconnects)
	}
	if strings.Contains(logs.String(), "NATS connection lost") {
		t.Errorf("a clean stop logged a lost NATS connection:\n%s", logs.String())
	}
}
