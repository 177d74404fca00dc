package cluster

import (
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/switchboard/switchboard/config"
	"github.com/switchboard/switchboard/internal/fakepeer"
	"github.com/switchboard/switchboard/realm"
	"github.com/switchboard/switchboard/wamp"
)

// TestDeadNodeFailsCallsOfDroppedStandIn: when a node dies, another node
// may write its loss to the directory before this one takes it for dead,
// so the callee's stand-in is dropped here first. A call pending on that
// callee must still fail with wamp.error.canceled once the node is taken
// for dead, instead of waiting for an answer that will never come.
func TestDeadNodeFailsCallsOfDroppedStandIn(t *testing.T) {
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go srv.Start()
	t.Cleanup(srv.Shutdown)
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("NATS server did not start")
	}
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)

	n := New(config.Cluster{Name: "t", Node: "a"}, nil)
	n.nc = nc
	l := n.Link("realm1")
	r, err := realm.New(realm.Config{Name: "realm1", Link: l})
	if err != nil {
		t.Fatal(err)
	}
	l.Attach(r)
	const node, calleeSID = 7, 99
	n.mu.Lock()
	n.peers[node] = &peer{name: "b", lastSeen: time.Now()}
	n.mu.Unlock()

	e := &dirEntry{Realm: "realm1", URI: "com.hang", Match: "exact", Invoke: "single",
		Callees: []dirCallee{{Node: node, Session: calleeSID}}}
	l.syncRegs("k", e, e)
	if !r.Dealer().HasCallee("com.hang", "exact", calleeSID) {
		t.Fatal("the stand-in of the other node's callee was not registered")
	}
	caller := fakepeer.New(1)
	if err := r.Dealer().Call(caller, &wamp.Message{Type: wamp.CALL, Request: 5, URI: "com.hang"}); err != nil {
		t.Fatal(err)
	}
	if got := r.Dealer().PendingCount(); got != 1 {
		t.Fatalf("pending calls: %d, want 1", got)
	}
	if msgs := caller.Messages(); len(msgs) != 0 {
		t.Fatalf("caller got %v before the callee answered", msgs)
	}

	// Another node wrote the loss first: the directory drops the callee.
	l.syncRegs("k", e, nil)
	if r.Dealer().HasCallee("com.hang", "exact", calleeSID) {
		t.Fatal("the stand-in is still registered after the directory dropped it")
	}
	// Then this node takes the callee's node for dead.
	l.dropNode(node)

	msgs := caller.Messages()
	if len(msgs) != 1 || msgs[0].Type != wamp.ERROR || msgs[0].Request != 5 || msgs[0].URI != wamp.ErrCanceled {
		t.Fatalf("caller got %v, want one ERROR %s for request 5", msgs, wamp.ErrCanceled)
	}
	if got := r.Dealer().PendingCount(); got != 0 {
		t.Fatalf("pending calls after the node was taken for dead: %d, want 0", got)
	}
}
