package cluster_test

import (
	"context"
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/gammazero/nexus/v3/client"
	nwamp "github.com/gammazero/nexus/v3/wamp"
	"github.com/nats-io/nats.go"

	"github.com/switchboard/switchboard/realm"
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
		"i": map[string]any{"authid": "x"}, "u": "com.ghost", "m": "exact", "v": "single",
		"dl": time.Now().Add(bound).UnixNano()})
	if resp["ok"] == true || resp["uri"] != "switchboard.error.cluster_unavailable" {
		t.Fatalf("claim of an unknown node answered %v, want cluster_unavailable", resp)
	}
	if got := callErr(t, connect(t, leader), "com.ghost"); got != "wamp.error.no_such_procedure" {
		t.Fatalf("CALL com.ghost on the leader: %q, want wamp.error.no_such_procedure", got)
	}
}

// claimOf is a claim of session sid of node other for proc, due by dl.
func claimOf(other *router.Router, sid nwamp.ID, proc string, dl time.Time) map[string]any {
	return map[string]any{"r": "realm1", "node": other.Cluster().ID(), "s": uint64(sid),
		"i": map[string]any{"authid": "x"}, "u": proc, "m": "exact", "v": "single", "dl": dl.UnixNano()}
}

// TestLateClaimRefused: a claim that reaches the leader after its
// deadline (the claimant gave up on it) is refused; it once left a
// registration on the leader that no session held.
func TestLateClaimRefused(t *testing.T) {
	rs := startCluster(t, 2, 2*time.Second)
	leader, other := leaderOf(rs)
	c := connect(t, other)
	resp := rawClaim(t, leader, claimOf(other, c.ID(), "com.orphan", time.Now().Add(-time.Second)))
	if resp["ok"] == true || resp["uri"] != "switchboard.error.cluster_unavailable" {
		t.Fatalf("late claim answered %v, want cluster_unavailable", resp)
	}
	if got := callErr(t, connect(t, leader), "com.orphan"); got != "wamp.error.no_such_procedure" {
		t.Fatalf("CALL com.orphan on the leader: %q, want wamp.error.no_such_procedure", got)
	}
}

// TestRetriedClaimAdmitted: the same session claiming a registration it
// already holds (a retry after a lost answer) is admitted again, while
// another session is refused.
func TestRetriedClaimAdmitted(t *testing.T) {
	rs := startCluster(t, 2, 2*time.Second)
	leader, other := leaderOf(rs)
	c, c2 := connect(t, other), connect(t, other)
	for i := range 2 {
		resp := rawClaim(t, leader, claimOf(other, c.ID(), "com.retried", time.Now().Add(bound)))
		if resp["ok"] != true {
			t.Fatalf("claim %d answered %v, want ok", i+1, resp)
		}
	}
	resp := rawClaim(t, leader, claimOf(other, c2.ID(), "com.retried", time.Now().Add(bound)))
	if resp["uri"] != "wamp.error.procedure_already_exists" {
		t.Fatalf("claim of another session answered %v, want procedure_already_exists", resp)
	}
}

// TestTimedOutClaimWithdrawn: a REGISTER whose claim the leader never
// answers fails, and the claimant announces an unreg of it, in case the
// leader admitted it after all.
func TestTimedOutClaimWithdrawn(t *testing.T) {
	srv := runNATS(t, -1)
	defer srv.Shutdown()
	ft := time.Second
	n := externalNode(t, "a", srv.ClientURL(), ft, nil)
	nc, err := nats.Connect(srv.ClientURL())
	must(t, err)
	defer nc.Close()
	// A mute leader: id 1 is the smallest, it heartbeats and takes claims
	// but never answers them.
	claims, err := nc.SubscribeSync("sb.ext.claim.1")
	must(t, err)
	ctl, err := nc.SubscribeSync("sb.ext.ctl")
	must(t, err)
	hb, err := json.Marshal(map[string]any{"t": "hb", "node": 1, "name": "mute"})
	must(t, err)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(ft / 10)
		defer tick.Stop()
		for {
			_ = nc.Publish("sb.ext.ctl", hb)
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	defer func() { close(stop); <-done }()
	waitFor(t, "the mute leader is known", func() bool { return n.Cluster().Peers() == 1 })
	c := connect(t, n)
	err = c.Register("com.withdrawn", func(context.Context, *nwamp.Invocation) client.InvokeResult { return client.InvokeResult{} }, nil)
	if err == nil {
		t.Fatal("REGISTER admitted without an answer from the leader")
	}
	if _, err := claims.NextMsg(bound); err != nil {
		t.Fatalf("no claim reached the mute leader: %v", err)
	}
	want := uint64(realm.ClusterID("realm1", "com.withdrawn", "exact"))
	deadline := time.Now().Add(bound)
	for time.Now().Before(deadline) {
		msg, err := ctl.NextMsg(time.Until(deadline))
		if err != nil {
			break
		}
		var m struct {
			T   string `json:"t"`
			Ops []struct {
				K  string `json:"k"`
				S  uint64 `json:"s"`
				ID uint64 `json:"id"`
			} `json:"ops"`
		}
		must(t, json.Unmarshal(msg.Data, &m))
		for _, o := range m.Ops {
			if m.T == "state" && o.K == "unreg" && o.S == uint64(c.ID()) && o.ID == want {
				return
			}
		}
	}
	t.Fatal("no unreg announced for the claim that timed out")
}
