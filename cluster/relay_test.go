package cluster_test

import (
	"context"
	"testing"
	"time"

	"github.com/gammazero/nexus/v3/client"
	nwamp "github.com/gammazero/nexus/v3/wamp"
)

// TestCallerNodeDeathInterruptsCallee: when the caller's node dies, a
// call relayed to a callee on another node is interrupted there (and its
// relay entry goes), rather than left running with nobody to answer.
func TestCallerNodeDeathInterruptsCallee(t *testing.T) {
	rs := startCluster(t, 2, time.Second)
	callee := connect(t, rs[1])
	started := make(chan struct{}, 1)
	interrupted := make(chan struct{}, 1)
	must(t, callee.Register("com.hang", func(ctx context.Context, _ *nwamp.Invocation) client.InvokeResult {
		started <- struct{}{}
		<-ctx.Done()
		interrupted <- struct{}{}
		return client.InvokeResult{Err: nwamp.ErrCanceled}
	}, nil))
	waitCallees(t, rs, "com.hang", "exact", 1)
	caller := connect(t, rs[0])
	go func() { _, _ = caller.Call(context.Background(), "com.hang", nil, nil, nil, nil) }()
	select {
	case <-started:
	case <-time.After(bound):
		t.Fatal("the call did not reach the callee")
	}
	rs[0].Cluster().Kill()
	select {
	case <-interrupted:
	case <-time.After(bound):
		t.Fatal("the callee was not interrupted after the caller's node died")
	}
}
