package dealer

import (
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/switchboard/switchboard/internal/fakepeer"
	"github.com/switchboard/switchboard/wamp"
)

func TestCancelModes(t *testing.T) {
	for _, tc := range []struct {
		mode      string // CANCEL options
		canceling bool   // the callee announced call_canceling
		interrupt string // INTERRUPT mode, "" for none
		errorNow  bool   // the caller is answered at once
	}{
		{`{"mode":"skip"}`, true, "", true},
		{`{"mode":"skip"}`, false, "", true},
		{`{"mode":"killnowait"}`, true, "killnowait", true},
		{`{"mode":"killnowait"}`, false, "", true},
		{`{}`, true, "killnowait", true},
		{`{"mode":"kill"}`, true, "kill", false},
		{`{"mode":"kill"}`, false, "", true},
	} {
		for _, answer := range []string{"yield", "error"} {
			t.Run(fmt.Sprintf("%s/canceling=%v/%s", tc.mode, tc.canceling, answer), func(t *testing.T) {
				d := New(Config{})
				var callee *fakepeer.Peer
				if tc.canceling {
					callee = peer(1, canceling...)
				} else {
					callee = peer(1)
				}
				caller := peer(2)
				registerOpts(t, d, callee, 1, `{}`, "com.example.slow")
				callOpts(t, d, caller, 9, `{}`, "com.example.slow")
				inv := one(t, callee, wamp.INVOCATION)

				cancel(t, d, caller, 9, tc.mode)
				if tc.interrupt == "" {
					none(t, callee)
				} else {
					in := one(t, callee, wamp.INTERRUPT)
					if in.Request != inv.Request || in.Details["mode"] != tc.interrupt {
						t.Fatalf("INTERRUPT %v %v, want request %d mode %s", in, in.Details, inv.Request, tc.interrupt)
					}
				}
				if tc.errorNow {
					wantCallError(t, caller, 9, wamp.ErrCanceled, "canceled")
				} else {
					none(t, caller)
				}
				// The callee answers anyway: swallowed after skip and
				// killnowait, passed on after kill.
				var err error
				if answer == "yield" {
					err = yield(t, d, callee, inv.Request, `{}`, `["late"]`)
				} else {
					err = d.Error(callee, fakepeer.Decode(t, fmt.Sprintf(`[8,68,%d,{},"wamp.error.canceled"]`, inv.Request)))
				}
				if err != nil {
					t.Fatalf("answer after CANCEL: %v, want it accepted", err)
				}
				if tc.errorNow {
					none(t, caller)
				} else if m := caller.Last(); m == nil || m.Request != 9 || (m.Type != wamp.RESULT && m.Type != wamp.ERROR) {
					t.Fatalf("after kill the caller got %v, want the callee's answer", m)
				}
				checkEmpty(t, d)
				// A CANCEL for a call that is over is ignored.
				cancel(t, d, caller, 9, tc.mode)
				none(t, caller)
				none(t, callee)
			})
		}
	}
}

func TestCancelRepeatedAndForeign(t *testing.T) {
	d := New(Config{})
	callee, caller, other := peer(1, canceling...), peer(2), peer(3)
	registerOpts(t, d, callee, 1, `{}`, "com.example.slow")
	callOpts(t, d, caller, 1, `{}`, "com.example.slow")
	inv := one(t, callee, wamp.INVOCATION)

	// Another session's CANCEL with the same request id is not this call's.
	cancel(t, d, other, 1, `{"mode":"killnowait"}`)
	none(t, callee)
	none(t, other)

	cancel(t, d, caller, 1, `{"mode":"kill"}`)
	one(t, callee, wamp.INTERRUPT)
	cancel(t, d, caller, 1, `{"mode":"kill"}`) // pressed twice: one INTERRUPT
	none(t, callee)
	none(t, caller)
	// Tired of waiting: killnowait after kill answers now, without a second
	// INTERRUPT.
	cancel(t, d, caller, 1, `{"mode":"killnowait"}`)
	none(t, callee)
	wantCallError(t, caller, 1, wamp.ErrCanceled, "")
	if err := yield(t, d, callee, inv.Request, `{}`); err != nil {
		t.Fatal(err)
	}
	none(t, caller)
	checkEmpty(t, d)
}

func TestTombstonesBounded(t *testing.T) {
	d := New(Config{MaxTombstones: 2})
	callee, caller := peer(1), peer(2)
	registerOpts(t, d, callee, 1, `{}`, "com.example.slow")
	var invs []wamp.ID
	for req := 1; req <= 3; req++ {
		callOpts(t, d, caller, req, `{}`, "com.example.slow")
		invs = append(invs, one(t, callee, wamp.INVOCATION).Request)
		cancel(t, d, caller, req, `{"mode":"skip"}`)
		wantCallError(t, caller, req, wamp.ErrCanceled, "")
	}
	if n := d.PendingCount(); n != 2 {
		t.Fatalf("PendingCount %d with a bound of 2 tombstones", n)
	}
	// The oldest was forgotten: its answer is unknown now.
	if err := yield(t, d, callee, invs[0], `{}`); err == nil {
		t.Error("YIELD for a forgotten tombstone accepted")
	}
	for _, req := range invs[1:] {
		if err := yield(t, d, callee, req, `{}`); err != nil {
			t.Errorf("YIELD for a tombstone: %v", err)
		}
	}
	none(t, caller)
	if n := d.PendingCount(); n != 0 {
		t.Fatalf("PendingCount %d", n)
	}
	d.RemoveSession(callee.ID)
	if len(d.tombs) != 0 {
		t.Fatalf("tombstone lists left: %v", d.tombs)
	}
}

func TestCallerLeavesInterruptsCallee(t *testing.T) {
	d := New(Config{})
	withCancel, without, caller := peer(1, canceling...), peer(2), peer(3)
	registerOpts(t, d, withCancel, 1, `{}`, "com.example.a")
	registerOpts(t, d, without, 1, `{}`, "com.example.b")
	callOpts(t, d, caller, 1, `{}`, "com.example.a")
	callOpts(t, d, caller, 2, `{}`, "com.example.b")
	ia := one(t, withCancel, wamp.INVOCATION)
	ib := one(t, without, wamp.INVOCATION)
	d.RemoveSession(caller.ID)
	in := one(t, withCancel, wamp.INTERRUPT)
	if in.Request != ia.Request || in.Details["mode"] != "killnowait" {
		t.Fatalf("INTERRUPT %v %v", in, in.Details)
	}
	none(t, without)
	if err := d.Error(withCancel, fakepeer.Decode(t, fmt.Sprintf(`[8,68,%d,{},"wamp.error.canceled"]`, ia.Request))); err != nil {
		t.Fatal(err)
	}
	if err := yield(t, d, without, ib.Request, `{}`); err != nil {
		t.Fatal(err)
	}
	none(t, caller)
	checkEmpty(t, d)
}

func TestCallTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		for _, canceling := range []bool{true, false} {
			d := New(Config{})
			callee, caller := peer(1), peer(2)
			if canceling {
				callee.Features["callee.call_canceling"] = true
			}
			registerOpts(t, d, callee, 1, `{}`, "com.example.slow")
			callOpts(t, d, caller, 1, `{"timeout":100}`, "com.example.slow")
			inv := one(t, callee, wamp.INVOCATION)
			if _, ok := inv.Details["timeout"]; ok {
				t.Fatalf("INVOCATION details %v: the dealer enforces the timeout itself", inv.Details)
			}
			time.Sleep(99 * time.Millisecond)
			synctest.Wait()
			none(t, caller)
			time.Sleep(time.Millisecond)
			synctest.Wait()
			wantCallError(t, caller, 1, wamp.ErrTimeout, "100 ms")
			if canceling {
				in := one(t, callee, wamp.INTERRUPT)
				if in.Request != inv.Request || in.Details["mode"] != "killnowait" || in.Details["reason"] != string(wamp.ErrTimeout) {
					t.Fatalf("INTERRUPT %v %v", in, in.Details)
				}
			} else {
				none(t, callee)
			}
			if err := yield(t, d, callee, inv.Request, `{}`); err != nil {
				t.Fatalf("late YIELD after the timeout: %v", err)
			}
			none(t, caller)
			checkEmpty(t, d)
		}
	})
}

func TestCallTimeoutStopped(t *testing.T) {
	// Whatever ends a call first stops its timer: nothing happens when the
	// timeout would have passed. synctest.Test also fails if a timer's
	// goroutine were left behind.
	for _, tc := range []struct {
		name string
		end  func(t *testing.T, d *Dealer, callee, caller *fakepeer.Peer, inv wamp.ID)
	}{
		{"yield", func(t *testing.T, d *Dealer, callee, _ *fakepeer.Peer, inv wamp.ID) {
			if err := yield(t, d, callee, inv, `{}`); err != nil {
				t.Fatal(err)
			}
		}},
		{"error", func(t *testing.T, d *Dealer, callee, _ *fakepeer.Peer, inv wamp.ID) {
			if err := d.Error(callee, fakepeer.Decode(t, fmt.Sprintf(`[8,68,%d,{},"com.example.error"]`, inv))); err != nil {
				t.Fatal(err)
			}
		}},
		{"cancel", func(t *testing.T, d *Dealer, _, caller *fakepeer.Peer, _ wamp.ID) {
			cancel(t, d, caller, 1, `{"mode":"skip"}`)
		}},
		{"caller leaves", func(t *testing.T, d *Dealer, _, caller *fakepeer.Peer, _ wamp.ID) {
			d.RemoveSession(caller.ID)
		}},
		{"callee leaves", func(t *testing.T, d *Dealer, callee, _ *fakepeer.Peer, _ wamp.ID) {
			d.RemoveSession(callee.ID)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				d := New(Config{})
				callee, caller := peer(1, canceling...), peer(2)
				registerOpts(t, d, callee, 1, `{}`, "com.example.slow")
				callOpts(t, d, caller, 1, `{"timeout":50}`, "com.example.slow")
				inv := one(t, callee, wamp.INVOCATION)
				tc.end(t, d, callee, caller, inv.Request)
				caller.Messages()
				callee.Messages()
				time.Sleep(time.Second)
				synctest.Wait()
				for _, p := range []*fakepeer.Peer{caller, callee} {
					for _, m := range p.Messages() {
						if m.Type == wamp.ERROR && m.URI == wamp.ErrTimeout || m.Type == wamp.INTERRUPT {
							t.Fatalf("%v %s after the call ended", m, m.URI)
						}
					}
				}
				d.RemoveSession(callee.ID)
				d.RemoveSession(caller.ID)
				checkEmpty(t, d)
			})
		})
	}
}

func TestCallTimeoutProgressive(t *testing.T) {
	// With progressive results the timeout runs between results
	// (advanced/rpc_progressive_call_results.md "Timeouts").
	synctest.Test(t, func(t *testing.T) {
		d := New(Config{})
		callee, caller := peer(1, progResults...), peer(2)
		registerOpts(t, d, callee, 1, `{}`, "com.example.stream")
		callOpts(t, d, caller, 1, `{"timeout":100,"receive_progress":true}`, "com.example.stream")
		inv := one(t, callee, wamp.INVOCATION)
		for range 3 {
			time.Sleep(80 * time.Millisecond)
			if err := yield(t, d, callee, inv.Request, `{"progress":true}`); err != nil {
				t.Fatal(err)
			}
			one(t, caller, wamp.RESULT)
		}
		time.Sleep(99 * time.Millisecond)
		synctest.Wait()
		none(t, caller)
		time.Sleep(time.Millisecond)
		synctest.Wait()
		wantCallError(t, caller, 1, wamp.ErrTimeout, "")
		one(t, callee, wamp.INTERRUPT)
		// The stream goes on regardless: swallowed, then the final YIELD
		// clears the tombstone.
		if err := yield(t, d, callee, inv.Request, `{"progress":true}`); err != nil {
			t.Fatal(err)
		}
		if err := yield(t, d, callee, inv.Request, `{}`); err != nil {
			t.Fatal(err)
		}
		none(t, caller)
		checkEmpty(t, d)
	})
}

func TestCallTimeoutZero(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := New(Config{})
		callee, caller := peer(1, canceling...), peer(2)
		registerOpts(t, d, callee, 1, `{}`, "com.example.slow")
		callOpts(t, d, caller, 1, `{"timeout":0}`, "com.example.slow")
		one(t, callee, wamp.INVOCATION)
		time.Sleep(time.Hour)
		synctest.Wait()
		none(t, caller)
		if d.PendingCount() != 1 {
			t.Fatal("timeout 0 ended the call")
		}
		d.RemoveSession(callee.ID)
		wantCallError(t, caller, 1, wamp.ErrCanceled, "")
	})
}
