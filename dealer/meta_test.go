package dealer

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/switchboard/switchboard/internal/fakepeer"
	"github.com/switchboard/switchboard/wamp"
	"github.com/switchboard/switchboard/wamp/codec"
)

// recorder is Hooks that writes down what it is told.
type recorder struct {
	events []string
	infos  []RegistrationInfo
}

func (r *recorder) OnCreate(s wamp.ID, info RegistrationInfo) {
	r.events = append(r.events, fmt.Sprintf("create %d %d", s, info.ID))
	r.infos = append(r.infos, info)
}
func (r *recorder) OnRegister(s, reg wamp.ID) {
	r.events = append(r.events, fmt.Sprintf("register %d %d", s, reg))
}
func (r *recorder) OnUnregister(s, reg wamp.ID) {
	r.events = append(r.events, fmt.Sprintf("unregister %d %d", s, reg))
}
func (r *recorder) OnDelete(s, reg wamp.ID) {
	r.events = append(r.events, fmt.Sprintf("delete %d %d", s, reg))
}

func TestHooks(t *testing.T) {
	rec := new(recorder)
	d := New(Config{Hooks: rec})
	a, b := peer(1), peer(2)
	before := time.Now()
	id := registerOpts(t, d, a, 1, `{"invoke":"last","match":"prefix"}`, "com.example.")
	registerOpts(t, d, b, 1, `{"invoke":"last","match":"prefix"}`, "com.example.")
	other := registerOpts(t, d, a, 2, `{}`, "com.example.x")
	d.Register(b, fakepeer.Decode(t, `[64,3,{},"com.example.x"]`)) // refused: no hook
	d.Unregister(a, fakepeer.Decode(t, fmt.Sprintf(`[66,4,%d]`, id)))
	d.RemoveSession(b.ID)
	d.Unregister(a, fakepeer.Decode(t, fmt.Sprintf(`[66,5,%d]`, other)))
	want := []string{
		fmt.Sprintf("create 1 %d", id), fmt.Sprintf("register 1 %d", id),
		fmt.Sprintf("register 2 %d", id),
		fmt.Sprintf("create 1 %d", other), fmt.Sprintf("register 1 %d", other),
		fmt.Sprintf("unregister 1 %d", id),
		fmt.Sprintf("unregister 2 %d", id), fmt.Sprintf("delete 2 %d", id),
		fmt.Sprintf("unregister 1 %d", other), fmt.Sprintf("delete 1 %d", other),
	}
	if !reflect.DeepEqual(rec.events, want) {
		t.Fatalf("hooks:\n%s\nwant\n%s", strings.Join(rec.events, "\n"), strings.Join(want, "\n"))
	}
	info := rec.infos[0]
	if info.ID != id || info.URI != "com.example." || info.Match != "prefix" || info.Invoke != "last" || info.Created.Before(before) {
		t.Fatalf("OnCreate info %+v", info)
	}
}

// callingBack is Hooks that calls the dealer from each hook, as a meta
// event subscriber's procedure might: under the dealer's lock that would
// deadlock, and the race detector sees the lock taken in order.
type callingBack struct {
	d      *Dealer
	counts []int
}

func (c *callingBack) OnCreate(wamp.ID, RegistrationInfo) {}
func (c *callingBack) OnRegister(wamp.ID, wamp.ID) {
	c.counts = append(c.counts, c.d.RegistrationCount())
}
func (c *callingBack) OnUnregister(wamp.ID, wamp.ID) {}
func (c *callingBack) OnDelete(wamp.ID, wamp.ID) {
	c.counts = append(c.counts, c.d.RegistrationCount())
}

// TestHooksOutsideLock checks that hooks run once the dealer's lock is
// released: a hook may call the dealer, and sees the change made.
func TestHooksOutsideLock(t *testing.T) {
	cb := new(callingBack)
	d := New(Config{Hooks: cb})
	cb.d = d
	a := peer(1)
	id := registerOpts(t, d, a, 1, `{}`, "com.example.a")
	registerOpts(t, d, a, 2, `{}`, "com.example.b")
	d.Unregister(a, fakepeer.Decode(t, fmt.Sprintf(`[66,3,%d]`, id)))
	d.RemoveSession(a.ID)
	if want := []int{1, 2, 1, 0}; !reflect.DeepEqual(cb.counts, want) {
		t.Fatalf("registration counts seen by hooks %v, want %v", cb.counts, want)
	}
}

func TestMetaQueries(t *testing.T) {
	d := New(Config{})
	a, b := peer(1), peer(2)
	e1 := registerOpts(t, d, a, 1, `{}`, "com.example.e1")
	e2 := registerOpts(t, d, a, 2, `{"invoke":"roundrobin"}`, "com.example.e2")
	registerOpts(t, d, b, 1, `{"invoke":"roundrobin"}`, "com.example.e2")
	p := registerOpts(t, d, a, 3, `{"match":"prefix"}`, "com.example")
	w := registerOpts(t, d, b, 2, `{"match":"wildcard"}`, "com..e9")
	if err := d.RegisterLocal("wamp.registration.list", func(Peer, *wamp.Message) (wamp.Payload, wamp.Payload, error) {
		return wamp.Payload{}, wamp.Payload{}, nil
	}); err != nil {
		t.Fatal(err)
	}
	got := d.List()
	want := RegistrationLists{Exact: []wamp.ID{e1, e2}, Prefix: []wamp.ID{p}, Wildcard: []wamp.ID{w}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("List %+v, want %+v", got, want)
	}
	for _, tc := range []struct {
		uri, match string
		want       wamp.ID
	}{
		{"com.example.e1", "", e1},
		{"com.example.e1", "exact", e1},
		{"com.example.e1", "prefix", 0},
		{"com.example", "prefix", p},
		{"com.example", "exact", 0},
		{"com..e9", "wildcard", w},
		{"com.x.e9", "wildcard", 0},
		{"wamp.registration.list", "", 0}, // local: invisible
	} {
		if id, ok := d.Lookup(wamp.URI(tc.uri), tc.match); id != tc.want || ok != (tc.want != 0) {
			t.Errorf("Lookup(%s, %q) = %d %v, want %d", tc.uri, tc.match, id, ok, tc.want)
		}
	}
	for _, tc := range []struct {
		uri  string
		want wamp.ID
	}{
		{"com.example.e1", e1},
		{"com.example.e3", p},
		{"com.x.e9", w},
		{"org.x", 0},
		{"wamp.registration.list", 0},
	} {
		if id, ok := d.Match(wamp.URI(tc.uri)); id != tc.want || ok != (tc.want != 0) {
			t.Errorf("Match(%s) = %d %v, want %d", tc.uri, id, ok, tc.want)
		}
	}
	info, ok := d.Get(e2)
	if !ok || info.ID != e2 || info.URI != "com.example.e2" || info.Match != "exact" || info.Invoke != "roundrobin" || info.Created.IsZero() {
		t.Fatalf("Get(%d) = %+v %v", e2, info, ok)
	}
	if ids, ok := d.ListCallees(e2); !ok || !reflect.DeepEqual(ids, []wamp.ID{1, 2}) {
		t.Fatalf("ListCallees = %v %v", ids, ok)
	}
	if n, ok := d.CountCallees(e2); !ok || n != 2 {
		t.Fatalf("CountCallees = %d %v", n, ok)
	}
	if _, ok := d.Get(999); ok {
		t.Error("Get of an unknown id succeeded")
	}
	if _, ok := d.ListCallees(999); ok {
		t.Error("ListCallees of an unknown id succeeded")
	}
	if _, ok := d.CountCallees(999); ok {
		t.Error("CountCallees of an unknown id succeeded")
	}
}

func TestLocalProcedure(t *testing.T) {
	d := New(Config{Disclosure: DiscloseNever})
	var gotCaller wamp.ID
	err := d.RegisterLocal("wamp.session.count", func(caller Peer, m *wamp.Message) (wamp.Payload, wamp.Payload, error) {
		gotCaller = caller.SessionID()
		v, err := codec.For(m.Args.Ser).DecodeValue(m.Args.Raw)
		if err != nil {
			return wamp.Payload{}, wamp.Payload{}, err
		}
		switch args := v.([]any); args[0] {
		case "fail":
			return wamp.Payload{}, wamp.Payload{}, wamp.NewError(wamp.ErrNoSuchRegistration, "nope")
		case "crash":
			return wamp.Payload{}, wamp.Payload{}, errors.New("boom")
		}
		return wamp.List(int64(3)), wamp.KW(map[string]any{"k": "v"}), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.RegisterLocal("wamp.session.count", func(Peer, *wamp.Message) (wamp.Payload, wamp.Payload, error) {
		return wamp.Payload{}, wamp.Payload{}, nil
	}); !errors.Is(err, ErrLocalExists) {
		t.Fatalf("second RegisterLocal: %v", err)
	}
	if err := d.RegisterLocal("wamp..x", func(Peer, *wamp.Message) (wamp.Payload, wamp.Payload, error) {
		return wamp.Payload{}, wamp.Payload{}, nil
	}); !errors.Is(err, ErrLocalURI) {
		t.Fatalf("RegisterLocal with a bad URI: %v", err)
	}
	caller, pattern := peer(7), peer(8)
	// A client's catch-all pattern does not capture the router's procedures.
	registerOpts(t, d, pattern, 1, `{"match":"prefix"}`, "w")
	registerOpts(t, d, pattern, 2, `{"match":"wildcard"}`, "..")

	callOpts(t, d, caller, 1, `{}`, "wamp.session.count", `["ok"]`)
	res := one(t, caller, wamp.RESULT)
	if gotCaller != 7 || string(res.Args.Raw) != `[3]` || string(res.Kwargs.Raw) != `{"k":"v"}` {
		t.Fatalf("RESULT %v %s %s (caller seen %d)", res, res.Args.Raw, res.Kwargs.Raw, gotCaller)
	}
	callOpts(t, d, caller, 2, `{}`, "wamp.session.count", `["fail"]`)
	wantCallError(t, caller, 2, wamp.ErrNoSuchRegistration, "nope")
	callOpts(t, d, caller, 3, `{}`, "wamp.session.count", `["crash"]`)
	wantCallError(t, caller, 3, ErrRuntime, "boom")
	callOpts(t, d, caller, 4, `{"timeout":"x"}`, "wamp.session.count", `["ok"]`)
	wantCallError(t, caller, 4, wamp.ErrInvalidArgument, "timeout")
	callOpts(t, d, caller, 5, `{"disclose_me":true}`, "wamp.session.count", `["ok"]`)
	wantCallError(t, caller, 5, ErrDiscloseMeDisallowed, "")
	callOpts(t, d, caller, 6, `{"receive_progress":true,"timeout":10}`, "wamp.session.count", `["ok"]`)
	one(t, caller, wamp.RESULT)
	callOpts(t, d, caller, 7, `{}`, "wamp.other")
	wantCallError(t, caller, 7, wamp.ErrNoSuchProcedure, "")
	none(t, pattern)
	checkEmpty(t, d)

	// Clients cannot take a local procedure's URI, even outside wamp.
	if err := d.RegisterLocal("com.example.local", func(Peer, *wamp.Message) (wamp.Payload, wamp.Payload, error) {
		return wamp.Payload{}, wamp.Payload{}, nil
	}); err != nil {
		t.Fatal(err)
	}
	d.Register(caller, fakepeer.Decode(t, `[64,9,{"invoke":"roundrobin"},"com.example.local"]`))
	wantError(t, caller, wamp.REGISTER, 9, wamp.ErrProcedureAlreadyExists)
	if d.RegistrationCount() != 2 {
		t.Fatalf("RegistrationCount %d counts local procedures", d.RegistrationCount())
	}
}

// TestRemoveSessionLeavesNothing builds every kind of call state a session
// can have — plain, progressive results, progressive invocations, killed,
// canceled, timed out, shared and pattern registrations — and checks that
// the sessions leaving clears all of it.
func TestRemoveSessionLeavesNothing(t *testing.T) {
	for _, first := range []string{"callee", "caller"} {
		t.Run(first+" first", func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				d := New(Config{})
				callee, caller := peer(1, fullCallee...), peer(2, progInvoker...)
				registerOpts(t, d, callee, 1, `{"invoke":"roundrobin"}`, "com.example.a")
				registerOpts(t, d, callee, 2, `{"match":"prefix"}`, "com.example.b")
				registerOpts(t, d, callee, 3, `{"match":"wildcard"}`, "com..c")
				calls := []string{
					`{}`,
					`{"receive_progress":true}`,
					`{"progress":true}`,
					`{"progress":true,"receive_progress":true,"timeout":50}`,
					`{"timeout":50}`,
					`{"timeout":5000}`,
					`{}`, // to be killed
					`{}`, // to be canceled
				}
				procs := []string{"com.example.a", "com.example.b.x", "com.x.c"}
				var invs []wamp.ID
				for i, opts := range calls {
					callOpts(t, d, caller, i+1, opts, procs[i%len(procs)])
					invs = append(invs, one(t, callee, wamp.INVOCATION).Request)
				}
				if err := yield(t, d, callee, invs[1], `{"progress":true}`); err != nil {
					t.Fatal(err)
				}
				callOpts(t, d, caller, 3, `{"progress":true}`, procs[2]) // a continuation
				cancel(t, d, caller, 7, `{"mode":"kill"}`)
				cancel(t, d, caller, 8, `{"mode":"killnowait"}`)
				time.Sleep(100 * time.Millisecond) // two calls time out
				synctest.Wait()
				if n := d.PendingCount(); n != len(calls) {
					t.Fatalf("PendingCount %d, want %d (live calls and tombstones)", n, len(calls))
				}
				if first == "callee" {
					d.RemoveSession(callee.ID)
					d.RemoveSession(caller.ID)
				} else {
					d.RemoveSession(caller.ID)
					d.RemoveSession(callee.ID)
				}
				if d.PendingCount() != 0 || d.RegistrationCount() != 0 || len(d.bySession) != 0 || len(d.tombs) != 0 {
					t.Fatalf("left: %d pending, %d registrations, %d sessions, %d tombstone lists",
						d.PendingCount(), d.RegistrationCount(), len(d.bySession), len(d.tombs))
				}
				checkEmpty(t, d)
				// No timer outlives the sessions: synctest.Test fails on a
				// goroutine left blocked, and nothing is sent after this.
				caller.Messages()
				callee.Messages()
				time.Sleep(10 * time.Second)
				synctest.Wait()
				none(t, caller)
				none(t, callee)
			})
		})
	}
}
