package cluster

import (
	"testing"

	"github.com/switchboard/switchboard/config"
	"github.com/switchboard/switchboard/realm"
)

// TestInterestUnsubscribesByAnnouncedID: another node may number a
// subscription differently from this one (a ClusterID collision resolved
// there); its unsub names its own id, which must still remove what its
// sub added here. Its interest is one stand-in for the node, whatever
// number of sessions it has.
func TestInterestUnsubscribesByAnnouncedID(t *testing.T) {
	n := New(config.Cluster{Name: "t", Node: "a"}, nil)
	l := n.Link("realm1")
	r, err := realm.New(realm.Config{Name: "realm1", Link: l})
	if err != nil {
		t.Fatal(err)
	}
	l.Attach(r)
	const node = 7
	// An id that is not ClusterID's, as after a collision on that node.
	const subID = 12345
	l.applyOp(node, &op{K: "sub", Realm: "realm1", ID: subID, URI: "com.topic", Match: "exact"})
	l.applyOp(node, &op{K: "sub", Realm: "realm1", ID: subID, URI: "com.topic", Match: "exact"})
	id := r.Broker().Lookup("com.topic", "exact")
	if got := r.Broker().SubscriptionNodes(id); len(got) != 1 || got[0] != node {
		t.Fatalf("nodes with interest in com.topic: %v, want [%d]", got, node)
	}
	if n, _ := r.Broker().CountSubscribers(id); n != 0 {
		t.Fatalf("another node's interest counted as %d local subscribers", n)
	}
	l.applyOp(node, &op{K: "unsub", Realm: "realm1", ID: subID})
	if got := r.Broker().SubscriptionNodes(id); len(got) != 0 {
		t.Fatalf("after unsub %d: nodes %v", subID, got)
	}
}
