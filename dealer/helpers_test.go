package dealer

import (
	"fmt"
	"strings"
	"testing"

	"github.com/switchboard/switchboard/internal/fakepeer"
	"github.com/switchboard/switchboard/wamp"
)

// Feature sets that peers announce in tests, as fakepeer keys them.
var (
	canceling    = []string{"callee.call_canceling"}
	progResults  = []string{"callee.progressive_call_results", "callee.call_canceling"}
	progInvoker  = []string{"caller.progressive_call_invocations"}
	progCallee   = []string{"callee.progressive_call_invocations", "callee.call_canceling"}
	fullCallee   = []string{"callee.progressive_call_invocations", "callee.progressive_call_results", "callee.call_canceling"}
	noFeatures   []string
	everyFeature = append(append([]string{}, fullCallee...), progInvoker...)
)

// peer returns a JSON fake peer that announces features.
func peer(id wamp.ID, features ...string) *fakepeer.Peer {
	p := fakepeer.New(id)
	p.AuthID, p.AuthRole = fmt.Sprintf("user%d", id), "role"
	p.Features = make(map[string]bool, len(features))
	for _, f := range features {
		p.Features[f] = true
	}
	return p
}

// registerOpts registers proc for p with REGISTER options (JSON) and
// returns the registration id.
func registerOpts(t *testing.T, d *Dealer, p *fakepeer.Peer, req int, opts, proc string) wamp.ID {
	t.Helper()
	d.Register(p, fakepeer.Decode(t, fmt.Sprintf(`[64,%d,%s,%q]`, req, opts, proc)))
	m := p.Last()
	if m == nil || m.Type != wamp.REGISTERED || m.Request != wamp.ID(req) {
		t.Fatalf("register %s %s: got %v %v, want REGISTERED", opts, proc, m, details(m))
	}
	return m.ID
}

// callOpts sends CALL req with options (JSON) to proc, and fails on a
// protocol violation.
func callOpts(t *testing.T, d *Dealer, caller *fakepeer.Peer, req int, opts, proc string, payload ...string) {
	t.Helper()
	frame := fmt.Sprintf(`[48,%d,%s,%q%s]`, req, opts, proc, strings.Join(append([]string{""}, payload...), ","))
	if err := d.Call(caller, fakepeer.Decode(t, frame)); err != nil {
		t.Fatalf("CALL %s: %v", frame, err)
	}
}

// yield sends YIELD for invocation req with options (JSON).
func yield(t *testing.T, d *Dealer, callee *fakepeer.Peer, req wamp.ID, opts string, payload ...string) error {
	t.Helper()
	return d.Yield(callee, fakepeer.Decode(t, fmt.Sprintf(`[70,%d,%s%s]`, req, opts, strings.Join(append([]string{""}, payload...), ","))))
}

// cancel sends CANCEL for call req with options (JSON).
func cancel(t *testing.T, d *Dealer, caller *fakepeer.Peer, req int, opts string) {
	t.Helper()
	if err := d.Cancel(caller, fakepeer.Decode(t, fmt.Sprintf(`[49,%d,%s]`, req, opts))); err != nil {
		t.Fatalf("CANCEL: %v", err)
	}
}

// one expects exactly one message of type typ on p and returns it.
func one(t *testing.T, p *fakepeer.Peer, typ wamp.Type) *wamp.Message {
	t.Helper()
	msgs := p.Messages()
	if len(msgs) != 1 || msgs[0].Type != typ {
		t.Fatalf("session %d got %v, want one %v", p.ID, describe(msgs), typ)
	}
	return msgs[0]
}

// none expects no message on p.
func none(t *testing.T, p *fakepeer.Peer) {
	t.Helper()
	if msgs := p.Messages(); len(msgs) != 0 {
		t.Fatalf("session %d got %v, want nothing", p.ID, describe(msgs))
	}
}

// wantCallError expects one ERROR for CALL req with uri on p, whose message
// contains text, and returns it.
func wantCallError(t *testing.T, p *fakepeer.Peer, req int, uri wamp.URI, text string) *wamp.Message {
	t.Helper()
	m := one(t, p, wamp.ERROR)
	if m.ErrType != wamp.CALL || m.Request != wamp.ID(req) || m.URI != uri {
		t.Fatalf("got ERROR %v %d %s %v, want ERROR CALL %d %s", m.ErrType, m.Request, m.URI, details(m), req, uri)
	}
	if msg := wamp.String(m.Details, "message"); !strings.Contains(msg, text) {
		t.Fatalf("ERROR message %q does not mention %q", msg, text)
	}
	return m
}

func details(m *wamp.Message) wamp.Dict {
	if m == nil {
		return nil
	}
	return m.Details
}

func describe(msgs []*wamp.Message) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, m := range msgs {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%v %v %s", m, m.Details, m.Args.Raw)
	}
	b.WriteByte(']')
	return b.String()
}

// checkEmpty asserts that the dealer holds no call state at all: nothing
// pending, no tombstone, no caller index, no stream bookkeeping.
func checkEmpty(t *testing.T, d *Dealer) {
	t.Helper()
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.calls) != 0 || len(d.byCaller) != 0 || d.streams != 0 || len(d.doneStreams) != 0 {
		t.Fatalf("dealer state left: %d calls, %d by caller, %d streams, %d done-stream callers",
			len(d.calls), len(d.byCaller), d.streams, len(d.doneStreams))
	}
}
