package cluster_test

import (
	"context"
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/gammazero/nexus/v3/client"
	"github.com/nats-io/nats.go"

	"github.com/switchboard/switchboard/router"
)

// leaderOf returns the node that decides registrations (smallest id)
// and the other.
func leaderOf(rs []*router.Router) (leader, other *router.Router) {
	leader, other = rs[0], rs[1]
	if other.Cluster().ID() < leader.Cluster().ID() {
		leader, other = other, leader
	}
	return leader, other
}

// rawClaim sends a claim to the leader as a node would, and returns the
// leader's answer.
func rawClaim(t *testing.T, leader *router.Router, req map[string]any) map[string]any {
	t.Helper()
	nc, err := nats.Connect(leader.Cluster().ClientURL())
	must(t, err)
	defer nc.Close()
	b, err := json.Marshal(req)
	must(t, err)
	msg, err := nc.Request("sb.test.claim."+strconv.FormatUint(leader.Cluster().ID(), 16), b, bound)
	must(t, err)
	var resp map[string]any
	must(t, json.Unmarshal(msg.Data, &resp))
	return resp
}

func callErr(t *testing.T, c *client.Client, proc string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	_, err := c.Call(ctx, proc, nil, nil, nil, nil)
	if re, ok := err.(client.RPCError); ok {
		return string(re.Err.Error)
	}
	if err != nil {
		t.Fatalf("CALL %s: %v", proc, err)
	}
	return ""
}

// TestClaimFromUnknownNodeRefused: a claim naming a node the leader does
// not know alive is refused; it once left a ghost registration that no
// leave or death of that node would ever remove.
func TestClaimFromUnknownNodeRefused(t *testing.T) {
	rs := startCluster(t, 2, 2*time.Second)
	leader, _ := leaderOf(rs)
	resp := rawClaim(t, leader, map[string]any{"r": "realm1", "node": uint64(0xdead), "s": 1,
		"i": map[string]any{"authid": "x"}, "u": "com.ghost", "m": "exact", "v": "single"})
	if resp["ok"] == true || resp["uri"] != "switchboard.error.cluster_unavailable" {
		t.Fatalf("claim of an unknown node answered %v, want cluster_unavailable", resp)
	}
	if got := callErr(t, connect(t, leader), "com.ghost"); got != "wamp.error.no_such_procedure" {
		t.Fatalf("CALL com.ghost on the leader: %q, want wamp.error.no_such_procedure", got)
	}
}
