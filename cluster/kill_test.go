package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/gammazero/nexus/v3/client"
	nwamp "github.com/gammazero/nexus/v3/wamp"

	"github.com/switchboard/switchboard/internal/testutil"
)

// waitKilled waits until c's router closed it with GOODBYE reason.
func waitKilled(t *testing.T, c *client.Client, reason string) {
	t.Helper()
	select {
	case <-c.Done():
	case <-time.After(bound):
		t.Fatalf("session %d not closed", c.ID())
	}
	if g := c.RouterGoodbye(); g == nil || string(g.Reason) != reason {
		t.Fatalf("session %d closed with %v, want GOODBYE %s", c.ID(), g, reason)
	}
}

// TestKillAcrossNodes kills sessions of other nodes with
// wamp.session.kill, kill_by_authid and kill_by_authrole.
func TestKillAcrossNodes(t *testing.T) {
	rs := startCluster(t, 3, 3*time.Second)
	caller := connect(t, rs[0])
	v1, v2 := connect(t, rs[1]), connect(t, rs[1])
	v3, v4 := connect(t, rs[0]), connect(t, rs[2])
	ctx := context.Background()
	count := func() int64 {
		res, err := caller.Call(ctx, "wamp.session.count", nil, nil, nil, nil)
		must(t, err)
		n, _ := nwamp.AsInt64(res.Arguments[0])
		return n
	}
	testutil.Eventually(t, bound, func() bool { return count() == 5 }, "5 sessions seen from node 0")

	_, err := caller.Call(ctx, "wamp.session.kill", nil, nwamp.List{v1.ID()}, nwamp.Dict{"reason": "com.example.bye", "message": "go"}, nil)
	must(t, err)
	// Anonymous sessions have their session id for authid.
	res, err := caller.Call(ctx, "wamp.session.kill_by_authid", nil, nwamp.List{fmt.Sprint(v2.ID())}, nil, nil)
	must(t, err)
	l, _ := nwamp.AsList(res.Arguments[0])
	if id, _ := nwamp.AsID(firstOf(l)); len(l) != 1 || id != v2.ID() {
		t.Fatalf("kill_by_authid answered %v, want [%d]", res.Arguments, v2.ID())
	}
	// nexus does not answer the router's GOODBYE: each waits for the
	// router's goodbye timeout, so the kills are checked together.
	waitKilled(t, v1, "com.example.bye")
	if m := v1.RouterGoodbye().Details["message"]; m != "go" {
		t.Fatalf("GOODBYE message %v, want go", m)
	}
	waitKilled(t, v2, "wamp.close.killed")

	testutil.Eventually(t, bound, func() bool { return count() == 3 }, "the killed sessions leave node 0's view")
	res, err = caller.Call(ctx, "wamp.session.kill_by_authrole", nil, nwamp.List{"anonymous"}, nil, nil)
	must(t, err)
	if n, _ := nwamp.AsInt64(res.Arguments[0]); n != 2 {
		t.Fatalf("kill_by_authrole answered %v, want 2 (one session here, one on node 2)", res.Arguments)
	}
	waitKilled(t, v3, "wamp.close.killed")
	waitKilled(t, v4, "wamp.close.killed")
	testutil.Eventually(t, bound, func() bool { return count() == 1 }, "only the caller left")

	// A session id nobody has is still no_such_session.
	_, err = caller.Call(ctx, "wamp.session.kill", nil, nwamp.List{v1.ID()}, nil, nil)
	var re client.RPCError
	if !errors.As(err, &re) || re.Err.Error != nwamp.ErrNoSuchSession {
		t.Fatalf("kill of a gone session: %v, want no_such_session", err)
	}
}

func firstOf(l nwamp.List) any {
	if len(l) == 0 {
		return nil
	}
	return l[0]
}
