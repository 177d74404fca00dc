package dealer

import (
	"fmt"
	"strconv"
	"testing"

	"github.com/switchboard/switchboard/internal/fakepeer"
	"github.com/switchboard/switchboard/wamp"
	"github.com/switchboard/switchboard/wamp/codec"
)

func register(t *testing.T, d *Dealer, p *fakepeer.Peer, req int, proc string) wamp.ID {
	t.Helper()
	d.Register(p, fakepeer.Decode(t, fmt.Sprintf(`[64,%d,{},%q]`, req, proc)))
	m := p.Last()
	if m == nil || m.Type != wamp.REGISTERED || m.Request != wamp.ID(req) {
		t.Fatalf("register %s: got %v, want REGISTERED", proc, m)
	}
	return m.ID
}

func wantError(t *testing.T, p *fakepeer.Peer, reqType wamp.Type, req wamp.ID, uri wamp.URI) {
	t.Helper()
	m := p.Last()
	if m == nil || m.Type != wamp.ERROR || m.ErrType != reqType || m.Request != req || m.URI != uri {
		t.Fatalf("got %v, want ERROR %v %d %s", m, reqType, req, uri)
	}
}

func TestCallYieldRoundTrip(t *testing.T) {
	d := New(Config{})
	callee, caller := fakepeer.New(1), fakepeer.New(2)
	regID := register(t, d, callee, 1, "com.example.add")

	d.Call(caller, fakepeer.Decode(t, `[48,77,{},"com.example.add",[2,3],{"x":"y"}]`))
	inv := callee.Last()
	if inv == nil || inv.Type != wamp.INVOCATION || inv.ID != regID {
		t.Fatalf("callee got %v, want INVOCATION for registration %d", inv, regID)
	}
	if string(inv.Args.Raw) != `[2,3]` || string(inv.Kwargs.Raw) != `{"x":"y"}` {
		t.Errorf("INVOCATION payload %s %s, want the CALL's passed through", inv.Args.Raw, inv.Kwargs.Raw)
	}
	if d.PendingCount() != 1 {
		t.Errorf("PendingCount = %d, want 1", d.PendingCount())
	}
	if err := d.Yield(callee, fakepeer.Decode(t, fmt.Sprintf(`[70,%d,{},[5]]`, inv.Request))); err != nil {
		t.Fatalf("Yield: %v", err)
	}
	res := caller.Last()
	if res == nil || res.Type != wamp.RESULT || res.Request != 77 || string(res.Args.Raw) != `[5]` {
		t.Fatalf("caller got %v, want RESULT 77 [5]", res)
	}
	if d.PendingCount() != 0 {
		t.Errorf("PendingCount = %d after RESULT, want 0", d.PendingCount())
	}
	// A second YIELD for the same request is unknown: a protocol violation.
	err := d.Yield(callee, fakepeer.Decode(t, fmt.Sprintf(`[70,%d,{},[5]]`, inv.Request)))
	if we, ok := err.(*wamp.Error); !ok || we.URI != wamp.ErrProtocolViolation {
		t.Errorf("duplicate YIELD: err = %v, want protocol_violation", err)
	}
}

func TestCalleeError(t *testing.T) {
	d := New(Config{})
	callee, caller := fakepeer.New(1), fakepeer.New(2)
	register(t, d, callee, 1, "com.example.fail")
	d.Call(caller, fakepeer.Decode(t, `[48,9,{},"com.example.fail"]`))
	inv := callee.Last()
	if err := d.Error(callee, fakepeer.Decode(t, fmt.Sprintf(`[8,68,%d,{"x":1},"com.example.error.bad",["why"],{"code":7}]`, inv.Request))); err != nil {
		t.Fatal(err)
	}
	m := caller.Last()
	if m == nil || m.Type != wamp.ERROR || m.ErrType != wamp.CALL || m.Request != 9 || m.URI != "com.example.error.bad" {
		t.Fatalf("caller got %v, want ERROR CALL 9 com.example.error.bad", m)
	}
	if string(m.Args.Raw) != `["why"]` || string(m.Kwargs.Raw) != `{"code":7}` {
		t.Errorf("error payload %s %s not passed through", m.Args.Raw, m.Kwargs.Raw)
	}
	if err := d.Error(callee, fakepeer.Decode(t, `[8,68,999,{},"com.example.error.bad"]`)); err == nil {
		t.Error("ERROR for an unknown invocation was accepted")
	}
}

func TestRegisterErrors(t *testing.T) {
	d := New(Config{StrictURIs: true})
	p, q := fakepeer.New(1), fakepeer.New(2)
	register(t, d, p, 1, "com.example.proc")
	d.Register(q, fakepeer.Decode(t, `[64,2,{},"com.example.proc"]`))
	wantError(t, q, wamp.REGISTER, 2, wamp.ErrProcedureAlreadyExists)
	d.Register(q, fakepeer.Decode(t, `[64,3,{},"com.Example.proc"]`))
	wantError(t, q, wamp.REGISTER, 3, wamp.ErrInvalidURI)
	d.Register(q, fakepeer.Decode(t, `[64,4,{},"wamp.session.count"]`))
	wantError(t, q, wamp.REGISTER, 4, wamp.ErrInvalidURI)
	d.Register(q, fakepeer.Decode(t, `[64,5,{"invoke":"bogus"},"com.example.rr"]`))
	wantError(t, q, wamp.REGISTER, 5, wamp.ErrInvalidArgument)
	d.Register(q, fakepeer.Decode(t, `[64,8,{"match":true},"com.example.m"]`))
	wantError(t, q, wamp.REGISTER, 8, wamp.ErrInvalidArgument)
	d.Call(q, fakepeer.Decode(t, `[48,6,{},"com.example.none"]`))
	wantError(t, q, wamp.CALL, 6, wamp.ErrNoSuchProcedure)
	d.Call(q, fakepeer.Decode(t, `[48,7,{},"com..x"]`))
	wantError(t, q, wamp.CALL, 7, wamp.ErrInvalidURI)
}

func TestUnregister(t *testing.T) {
	d := New(Config{})
	p, q := fakepeer.New(1), fakepeer.New(2)
	id := register(t, d, p, 1, "com.example.u")
	d.Unregister(q, fakepeer.Decode(t, fmt.Sprintf(`[66,2,%d]`, id)))
	wantError(t, q, wamp.UNREGISTER, 2, wamp.ErrNoSuchRegistration)
	d.Unregister(p, fakepeer.Decode(t, fmt.Sprintf(`[66,3,%d]`, id)))
	if m := p.Last(); m == nil || m.Type != wamp.UNREGISTERED || m.Request != 3 {
		t.Fatalf("got %v, want UNREGISTERED", m)
	}
	d.Call(q, fakepeer.Decode(t, `[48,4,{},"com.example.u"]`))
	wantError(t, q, wamp.CALL, 4, wamp.ErrNoSuchProcedure)
	// The URI is free again for anyone.
	register(t, d, q, 5, "com.example.u")
}

func TestCalleeLeavesWithPendingCalls(t *testing.T) {
	d := New(Config{})
	callee, caller := fakepeer.New(1), fakepeer.New(2)
	register(t, d, callee, 1, "com.example.slow")
	d.Call(caller, fakepeer.Decode(t, `[48,1,{},"com.example.slow"]`))
	d.Call(caller, fakepeer.Decode(t, `[48,2,{},"com.example.slow"]`))
	d.RemoveSession(callee.ID)
	msgs := caller.Messages()
	if len(msgs) != 2 {
		t.Fatalf("caller got %d messages, want 2 errors", len(msgs))
	}
	seen := map[wamp.ID]bool{}
	for _, m := range msgs {
		if m.Type != wamp.ERROR || m.URI != wamp.ErrCanceled || m.ErrType != wamp.CALL {
			t.Errorf("got %v, want ERROR canceled", m)
		}
		seen[m.Request] = true
	}
	if !seen[1] || !seen[2] {
		t.Errorf("errors for requests %v, want 1 and 2", seen)
	}
	if d.RegistrationCount() != 0 || d.PendingCount() != 0 {
		t.Errorf("after leave: %d registrations, %d pending; want 0, 0", d.RegistrationCount(), d.PendingCount())
	}
	d.Call(caller, fakepeer.Decode(t, `[48,3,{},"com.example.slow"]`))
	wantError(t, caller, wamp.CALL, 3, wamp.ErrNoSuchProcedure)
}

func TestCallerLeavesThenYield(t *testing.T) {
	d := New(Config{})
	callee, caller := fakepeer.New(1), fakepeer.New(2)
	register(t, d, callee, 1, "com.example.p")
	d.Call(caller, fakepeer.Decode(t, `[48,1,{},"com.example.p"]`))
	inv := callee.Last()
	d.RemoveSession(caller.ID)
	if err := d.Yield(callee, fakepeer.Decode(t, fmt.Sprintf(`[70,%d,{}]`, inv.Request))); err != nil {
		t.Errorf("late YIELD after the caller left: %v, want it swallowed", err)
	}
	if n := caller.Count(); n != 0 {
		t.Errorf("departed caller was sent %d messages", n)
	}
}

func TestInvocationSendFails(t *testing.T) {
	d := New(Config{})
	callee, caller := fakepeer.New(1), fakepeer.New(2)
	register(t, d, callee, 1, "com.example.big")
	callee.Refuse(fmt.Errorf("queue: %w", ErrTooLarge))
	d.Call(caller, fakepeer.Decode(t, `[48,1,{},"com.example.big"]`))
	wantError(t, caller, wamp.CALL, 1, wamp.ErrPayloadSizeExceeded)
	callee.Refuse(nil)
	d.Call(caller, fakepeer.Decode(t, `[48,2,{},"com.example.big"]`))
	wantError(t, caller, wamp.CALL, 2, wamp.ErrCanceled)
	if d.PendingCount() != 0 {
		t.Errorf("PendingCount = %d, want 0", d.PendingCount())
	}
}

// BenchmarkCallResult measures one CALL -> INVOCATION -> YIELD -> RESULT
// round trip through the dealer with JSON peers.
func BenchmarkCallResult(b *testing.B) {
	d := New(Config{})
	callee := &fakepeer.Peer{ID: 1, Ser: wamp.JSON, Discard: true}
	caller := &fakepeer.Peer{ID: 2, Ser: wamp.JSON, Discard: true}
	d.Register(callee, fakepeer.Decode(b, `[64,1,{},"com.example.echo"]`))
	call := []byte(`[48,1,{},"com.example.echo",["hello",42],{"k":"v"}]`)
	c := codec.For(wamp.JSON)
	var m wamp.Message
	var buf []byte
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := c.Decode(call, &m); err != nil {
			b.Fatal(err)
		}
		d.Call(caller, &m)
		// The callee answers the invocation the dealer just numbered.
		buf = append(strconv.AppendInt(append(buf[:0], "[70,"...), int64(i+1), 10), `,{},["hello",42],{"k":"v"}]`...)
		if err := c.Decode(buf, &m); err != nil {
			b.Fatal(err)
		}
		if err := d.Yield(callee, &m); err != nil {
			b.Fatal(err)
		}
	}
}
