//go:build !race

// The race detector makes sync.Pool drop items at random, so allocation
// counts only hold without it.

package dealer

import (
	"strconv"
	"testing"

	"github.com/switchboard/switchboard/internal/fakepeer"
	"github.com/switchboard/switchboard/wamp"
	"github.com/switchboard/switchboard/wamp/codec"
)

// TestPlainCallAllocs guards the plain path: a CALL -> INVOCATION -> YIELD
// -> RESULT round trip with no options to an exact registration allocates
// nothing, with pattern and shared registrations present in the dealer.
func TestPlainCallAllocs(t *testing.T) {
	d := New(Config{})
	callee := &fakepeer.Peer{ID: 1, Ser: wamp.JSON, Discard: true}
	caller := &fakepeer.Peer{ID: 2, Ser: wamp.JSON, Discard: true}
	other := fakepeer.New(3)
	d.Register(callee, fakepeer.Decode(t, `[64,1,{},"com.example.echo"]`))
	d.Register(other, fakepeer.Decode(t, `[64,2,{"match":"prefix"},"com.example"]`))
	d.Register(other, fakepeer.Decode(t, `[64,3,{"match":"wildcard"},"com..echo"]`))
	d.Register(other, fakepeer.Decode(t, `[64,4,{"invoke":"roundrobin"},"com.example.rr"]`))
	c := codec.For(wamp.JSON)
	call := []byte(`[48,1,{},"com.example.echo",["hello",42],{"k":"v"}]`)
	var m wamp.Message
	var buf []byte
	n := int64(0)
	allocs := testing.AllocsPerRun(1000, func() {
		if err := c.Decode(call, &m); err != nil {
			t.Fatal(err)
		}
		if err := d.Call(caller, &m); err != nil {
			t.Fatal(err)
		}
		n++
		buf = append(strconv.AppendInt(append(buf[:0], "[70,"...), n, 10), `,{},["hello",42]]`...)
		if err := c.Decode(buf, &m); err != nil {
			t.Fatal(err)
		}
		if err := d.Yield(callee, &m); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("plain call round trip: %v allocations, want 0", allocs)
	}
	if d.PendingCount() != 0 {
		t.Errorf("PendingCount %d", d.PendingCount())
	}
}

// TestTrustCallAllocs: a trust level costs the plain round trip nothing:
// the INVOCATION's details are a shared dict.
func TestTrustCallAllocs(t *testing.T) {
	d := New(Config{})
	callee := &fakepeer.Peer{ID: 1, Ser: wamp.JSON, Discard: true}
	caller := &fakepeer.Peer{ID: 2, Ser: wamp.JSON, Discard: true}
	d.Register(callee, fakepeer.Decode(t, `[64,1,{},"com.example.echo"]`))
	c := codec.For(wamp.JSON)
	call := []byte(`[48,1,{},"com.example.echo",["hello",42]]`)
	var m wamp.Message
	var buf []byte
	n := int64(0)
	allocs := testing.AllocsPerRun(1000, func() {
		if err := c.Decode(call, &m); err != nil {
			t.Fatal(err)
		}
		if err := d.CallTrust(caller, &m, wamp.Trust(2)); err != nil {
			t.Fatal(err)
		}
		n++
		buf = append(strconv.AppendInt(append(buf[:0], "[70,"...), n, 10), `,{},["hello",42]]`...)
		if err := c.Decode(buf, &m); err != nil {
			t.Fatal(err)
		}
		if err := d.Yield(callee, &m); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("call round trip with a trust level: %v allocations, want 0", allocs)
	}
}
