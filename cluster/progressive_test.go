package cluster_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/switchboard/switchboard/internal/testutil"
	"github.com/switchboard/switchboard/router"
	bclient "github.com/switchboard/switchboard/tools/bench/client"
	"github.com/switchboard/switchboard/wamp"
)

// rawJoin connects a raw WAMP client (the nexus client has no progressive
// call invocations) announcing features for role, and joins realm1.
func rawJoin(t *testing.T, r *router.Router, role string, features ...string) *bclient.Conn {
	t.Helper()
	c, err := bclient.Dial(r.URL("websocket"), bclient.Options{Timeout: bound})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	fs := map[string]any{}
	for _, f := range features {
		fs[f] = true
	}
	roles := map[string]any{"caller": map[string]any{}, "callee": map[string]any{}}
	roles[role] = map[string]any{"features": fs}
	if err := c.Send(&wamp.Message{Type: wamp.HELLO, URI: "realm1", Details: wamp.Dict{"roles": roles}}); err != nil {
		t.Fatalf("hello: %v", err)
	}
	var m wamp.Message
	if err := c.Recv(&m); err != nil || m.Type != wamp.WELCOME {
		t.Fatalf("join: %v %v", m.Type, err)
	}
	c.ID = m.ID
	return c
}

// recvRaw reads the next message, failing on a hang.
func recvRaw(t *testing.T, c *bclient.Conn) *wamp.Message {
	t.Helper()
	type got struct {
		m   *wamp.Message
		err error
	}
	ch := make(chan got, 1)
	go func() {
		var m wamp.Message
		err := c.Recv(&m)
		ch <- got{m.Clone(), err}
	}()
	select {
	case g := <-ch:
		if g.err != nil {
			t.Fatalf("recv: %v", g.err)
		}
		return g.m
	case <-time.After(bound):
		_ = c.Close()
		t.Fatal("no message within the bound")
		return nil
	}
}

func rawArgs(t *testing.T, p wamp.Payload) []any {
	t.Helper()
	var v []any
	if p.Raw == nil {
		v, _ = p.Value.([]any)
		return v
	}
	if err := json.Unmarshal(p.Raw, &v); err != nil {
		t.Fatalf("args %q: %v", p.Raw, err)
	}
	return v
}

// TestProgressiveInvocationsAcrossNodes streams a call's arguments from a
// caller on one node to a callee on another (progressive call
// invocations), with progressive results back.
func TestProgressiveInvocationsAcrossNodes(t *testing.T) {
	rs := startCluster(t, 2, 3*time.Second)
	callee := rawJoin(t, rs[1], "callee", "progressive_call_invocations", "progressive_call_results", "call_canceling")
	if _, err := callee.Register("com.stream", nil); err != nil {
		t.Fatalf("register: %v", err)
	}
	waitCallees(t, rs, "com.stream", "exact", 1)
	caller := rawJoin(t, rs[0], "caller", "progressive_call_invocations", "progressive_call_results")

	const chunks = 4
	const req = 7
	for i := range chunks {
		opts := wamp.Dict{"progress": i < chunks-1}
		if i == 0 {
			opts["receive_progress"] = true
		}
		must(t, caller.Send(&wamp.Message{Type: wamp.CALL, Request: req, URI: "com.stream", Details: opts, Args: wamp.List(i)}))
	}
	var inv wamp.ID
	var sum float64
	for i := range chunks {
		m := recvRaw(t, callee)
		if m.Type != wamp.INVOCATION {
			t.Fatalf("callee got %v, want INVOCATION %d", m, i)
		}
		if i == 0 {
			inv = m.Request
		} else if m.Request != inv {
			t.Fatalf("INVOCATION %d has request %d, want %d: a continuation must keep the invocation's id", i, m.Request, inv)
		}
		if p := wamp.Bool(m.Details, "progress", false); p != (i < chunks-1) {
			t.Fatalf("INVOCATION %d progress=%v, want %v", i, p, i < chunks-1)
		}
		a := rawArgs(t, m.Args)
		if len(a) != 1 || a[0] != float64(i) {
			t.Fatalf("INVOCATION %d args %v, want [%d]: chunks out of order", i, a, i)
		}
		sum += a[0].(float64)
		if i < chunks-1 {
			must(t, callee.Send(&wamp.Message{Type: wamp.YIELD, Request: inv, Details: wamp.Dict{"progress": true}, Args: wamp.List(fmt.Sprint("ack", i))}))
		}
	}
	must(t, callee.Send(&wamp.Message{Type: wamp.YIELD, Request: inv, Args: wamp.List(sum)}))
	for i := range chunks {
		m := recvRaw(t, caller)
		if m.Type != wamp.RESULT || m.Request != req {
			t.Fatalf("caller got %v, want RESULT %d", m, i)
		}
		a := rawArgs(t, m.Args)
		progress := wamp.Bool(m.Details, "progress", false)
		if i < chunks-1 {
			if !progress || len(a) != 1 || a[0] != fmt.Sprint("ack", i) {
				t.Fatalf("progressive RESULT %d: progress=%v %v", i, progress, a)
			}
			continue
		}
		if progress || len(a) != 1 || a[0] != float64(0+1+2+3) {
			t.Fatalf("final RESULT: progress=%v %v, want [6]", progress, a)
		}
	}
	testutil.Eventually(t, bound, func() bool { return rs[0].Realm("realm1").Stats().PendingCalls == 0 }, "no call pending")

	// A progressive call canceled by the caller mid-stream: the callee on
	// the other node gets the INTERRUPT under its own request id, and the
	// caller its ERROR.
	must(t, caller.Send(&wamp.Message{Type: wamp.CALL, Request: req + 1, URI: "com.stream", Details: wamp.Dict{"progress": true}, Args: wamp.List(0)}))
	m := recvRaw(t, callee)
	if m.Type != wamp.INVOCATION || !wamp.Bool(m.Details, "progress", false) {
		t.Fatalf("callee got %v, want a progressive INVOCATION", m)
	}
	inv = m.Request
	must(t, caller.Send(&wamp.Message{Type: wamp.CANCEL, Request: req + 1, Details: wamp.Dict{"mode": "kill"}}))
	m = recvRaw(t, callee)
	if m.Type != wamp.INTERRUPT || m.Request != inv {
		t.Fatalf("callee got %v, want INTERRUPT for %d", m, inv)
	}
	must(t, callee.Send(&wamp.Message{Type: wamp.ERROR, ErrType: wamp.INVOCATION, Request: inv, URI: wamp.ErrCanceled}))
	m = recvRaw(t, caller)
	if m.Type != wamp.ERROR || m.Request != req+1 || !strings.Contains(string(m.URI), "canceled") {
		t.Fatalf("caller got %v, want ERROR canceled", m)
	}
	testutil.Eventually(t, bound, func() bool { return rs[0].Realm("realm1").Stats().PendingCalls == 0 }, "no call pending after the cancel")

	// A remote callee that did not announce progressive call invocations
	// is refused on the caller's node, which knows its features.
	plain := rawJoin(t, rs[1], "callee")
	if _, err := plain.Register("com.plain", nil); err != nil {
		t.Fatalf("register: %v", err)
	}
	waitCallees(t, rs, "com.plain", "exact", 1)
	must(t, caller.Send(&wamp.Message{Type: wamp.CALL, Request: req + 2, URI: "com.plain", Details: wamp.Dict{"progress": true}, Args: wamp.List(0)}))
	m = recvRaw(t, caller)
	if m.Type != wamp.ERROR || m.Request != req+2 || m.URI != wamp.ErrFeatureNotSupported {
		t.Fatalf("caller got %v, want ERROR %s", m, wamp.ErrFeatureNotSupported)
	}
}
