package cluster

import (
	"errors"
	"log/slog"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/switchboard/switchboard/config"
)

// A taken port of the embedded server is a start error naming the key and
// the cause, not a start that never completes.
func TestEmbeddedPortTaken(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	for _, c := range []struct{ key, listen, cluster string }{
		{"listen", busy.Addr().String(), "127.0.0.1:0"},
		{"cluster_listen", "127.0.0.1:0", busy.Addr().String()},
	} {
		n := New(config.Cluster{Name: "t", Node: "n", FailureTimeout: time.Second,
			Embedded: &config.EmbeddedNATS{Listen: c.listen, ClusterListen: c.cluster}}, slog.New(slog.DiscardHandler))
		err := n.Start()
		if err == nil {
			n.Close()
			t.Fatalf("%s on a taken port: started", c.key)
		}
		if !strings.Contains(err.Error(), "embedded "+c.key) || !errors.Is(err, syscall.EADDRINUSE) {
			t.Errorf("%s on a taken port: %v", c.key, err)
		}
	}
}
