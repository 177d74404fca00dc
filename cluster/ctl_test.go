package cluster

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/switchboard/switchboard/config"
)

// TestStateBatchSplitToMaxPayload: a batch of state changes larger than
// NATS's max_payload reaches the others in several messages, numbered in
// order; a single change too large for any message is counted as a
// failure, not dropped in silence.
func TestStateBatchSplitToMaxPayload(t *testing.T) {
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true, MaxPayload: 8 << 10})
	if err != nil {
		t.Fatal(err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(15 * time.Second) {
		t.Fatal("NATS server did not start")
	}
	defer srv.Shutdown()
	// A node with a connection and no goroutines: the test is its
	// announcer's only caller.
	n := New(config.Cluster{Name: "t", Node: "a"}, nil)
	n.nc, err = nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer n.nc.Close()
	rx, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer rx.Close()
	sub, err := rx.SubscribeSync("sb.t.ctl")
	if err != nil {
		t.Fatal(err)
	}
	if err := rx.Flush(); err != nil {
		t.Fatal(err)
	}
	const ops = 1000
	uri := "com.example." + strings.Repeat("x", 100)
	for i := range ops {
		n.ann.add(op{K: "sub", Realm: "realm1", ID: uint64(i + 1), URI: uri, Match: "exact"})
	}
	n.ann.flush()
	var got, msgs int
	for got < ops {
		msg, err := sub.NextMsg(15 * time.Second)
		if err != nil {
			t.Fatalf("after %d of %d changes in %d messages: %v", got, ops, msgs, err)
		}
		var m ctlMsg
		if err := json.Unmarshal(msg.Data, &m); err != nil {
			t.Fatal(err)
		}
		msgs++
		if m.Seq != uint64(msgs) {
			t.Fatalf("message %d numbered %d", msgs, m.Seq)
		}
		for _, o := range m.Ops {
			got++
			if o.ID != uint64(got) {
				t.Fatalf("change %d has id %d: out of order", got, o.ID)
			}
		}
	}
	if msgs < 2 {
		t.Fatalf("%d changes in %d message(s) under an 8 KiB max_payload", ops, msgs)
	}
	if f := n.stats.ctlFailures.Load(); f != 0 {
		t.Fatalf("%d control send failures, want 0", f)
	}
	n.ann.add(op{K: "sub", Realm: "realm1", ID: 1, URI: strings.Repeat("y", 16<<10), Match: "exact"})
	n.ann.flush()
	if f := n.stats.ctlFailures.Load(); f != 1 {
		t.Fatalf("%d control send failures after a change over max_payload, want 1", f)
	}
}
