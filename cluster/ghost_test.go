package cluster

import (
	"testing"

	"github.com/switchboard/switchboard/config"
	"github.com/switchboard/switchboard/realm"
	"github.com/switchboard/switchboard/wamp"
)

// TestGhostUnsubscribesByAnnouncedID: another node may number a
// subscription or registration differently from this one (a ClusterID
// collision resolved there); its unsub and unreg name its own id, which
// must still remove what its sub and reg added here.
func TestGhostUnsubscribesByAnnouncedID(t *testing.T) {
	n := New(config.Cluster{Name: "t", Node: "a"}, nil)
	l := n.Link("realm1")
	r, err := realm.New(realm.Config{Name: "realm1", Link: l})
	if err != nil {
		t.Fatal(err)
	}
	l.Attach(r)
	const node, sid = 7, wamp.ID(42)
	// Ids that are not ClusterID's, as after a collision on that node.
	const subID, regID = 12345, 67890
	l.applyOp(node, &op{K: "join", Realm: "realm1", S: uint64(sid), Info: &sessInfo{AuthID: "x"}})
	l.applyOp(node, &op{K: "sub", Realm: "realm1", S: uint64(sid), ID: subID, URI: "com.topic", Match: "exact"})
	l.applyOp(node, &op{K: "reg", Realm: "realm1", S: uint64(sid), ID: regID, URI: "com.proc", Match: "exact", Invoke: "single"})
	if len(r.Broker().SessionSubscriptions(sid)) != 1 || len(r.Dealer().SessionRegistrations(sid)) != 1 {
		t.Fatal("the ghost's subscription or registration was not applied")
	}
	l.applyOp(node, &op{K: "unsub", Realm: "realm1", S: uint64(sid), ID: subID})
	l.applyOp(node, &op{K: "unreg", Realm: "realm1", S: uint64(sid), ID: regID})
	if got := r.Broker().SessionSubscriptions(sid); len(got) != 0 {
		t.Fatalf("after unsub %d: %v", subID, got)
	}
	if got := r.Dealer().SessionRegistrations(sid); len(got) != 0 {
		t.Fatalf("after unreg %d: %v", regID, got)
	}
	l.applyOp(node, &op{K: "leave", Realm: "realm1", S: uint64(sid)})
}
