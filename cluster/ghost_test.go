package cluster

import (
	"testing"

	"github.com/switchboard/switchboard/config"
	"github.com/switchboard/switchboard/realm"
	"github.com/switchboard/switchboard/wamp"
)

// TestGhostUnsubscribesByAnnouncedID: another node may number a
// subscription differently from this one (a ClusterID collision resolved
// there); its unsub names its own id, which must still remove what its
// sub added here.
func TestGhostUnsubscribesByAnnouncedID(t *testing.T) {
	n := New(config.Cluster{Name: "t", Node: "a"}, nil)
	l := n.Link("realm1")
	r, err := realm.New(realm.Config{Name: "realm1", Link: l})
	if err != nil {
		t.Fatal(err)
	}
	l.Attach(r)
	const node, sid = 7, wamp.ID(42)
	// An id that is not ClusterID's, as after a collision on that node.
	const subID = 12345
	l.applyOp(node, &op{K: "join", Realm: "realm1", S: uint64(sid), Info: &sessInfo{AuthID: "x"}})
	l.applyOp(node, &op{K: "sub", Realm: "realm1", S: uint64(sid), ID: subID, URI: "com.topic", Match: "exact"})
	if len(r.Broker().SessionSubscriptions(sid)) != 1 {
		t.Fatal("the ghost's subscription was not applied")
	}
	l.applyOp(node, &op{K: "unsub", Realm: "realm1", S: uint64(sid), ID: subID})
	if got := r.Broker().SessionSubscriptions(sid); len(got) != 0 {
		t.Fatalf("after unsub %d: %v", subID, got)
	}
	l.applyOp(node, &op{K: "leave", Realm: "realm1", S: uint64(sid)})
}
