package dealer

import (
	"fmt"
	"reflect"
	"slices"
	"testing"

	"github.com/switchboard/switchboard/internal/fakepeer"
	"github.com/switchboard/switchboard/wamp"
)

func TestFeaturesAnnounced(t *testing.T) {
	got := Features()["features"].(map[string]any)
	want := []string{
		"call_canceling", "call_timeout", "call_trustlevels", "caller_identification", "pattern_based_registration",
		"payload_passthru_mode", "payload_transparency",
		"progressive_call_invocations", "progressive_call_results", "shared_registration",
	}
	var keys []string
	for k, v := range got {
		if v != true {
			t.Errorf("feature %s = %v, want true", k, v)
		}
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if !reflect.DeepEqual(keys, want) {
		t.Errorf("features %v, want %v", keys, want)
	}
}

// calleeOf makes a call to proc and returns which of callees got the
// INVOCATION; it answers it so that nothing stays pending.
func calleeOf(t *testing.T, d *Dealer, caller *fakepeer.Peer, req int, proc string, callees ...*fakepeer.Peer) int {
	t.Helper()
	callOpts(t, d, caller, req, `{}`, proc)
	got := -1
	for i, c := range callees {
		for _, m := range c.Messages() {
			if m.Type != wamp.INVOCATION {
				t.Fatalf("callee %d got %v", i, m)
			}
			if got >= 0 {
				t.Fatalf("call %d invoked callees %d and %d", req, got, i)
			}
			got = i
			if err := yield(t, d, c, m.Request, `{}`); err != nil {
				t.Fatal(err)
			}
		}
	}
	if got < 0 {
		t.Fatalf("call %d reached no callee; caller got %v", req, describe(caller.Messages()))
	}
	one(t, caller, wamp.RESULT)
	return got
}

func TestSharedRegistrationPolicies(t *testing.T) {
	for _, tc := range []struct {
		invoke string
		want   []int // callee index per call, callee 0 leaving after the 4th call
	}{
		{"roundrobin", []int{0, 1, 2, 0, 1, 2, 1}},
		{"first", []int{0, 0, 0, 0, 1, 1, 1}},
		{"last", []int{2, 2, 2, 2, 2, 2, 2}},
	} {
		t.Run(tc.invoke, func(t *testing.T) {
			d := New(Config{})
			callees := []*fakepeer.Peer{peer(1), peer(2), peer(3)}
			opts := fmt.Sprintf(`{"invoke":%q}`, tc.invoke)
			var ids []wamp.ID
			for i, c := range callees {
				ids = append(ids, registerOpts(t, d, c, i+1, opts, "com.example.shared"))
			}
			if ids[0] != ids[1] || ids[1] != ids[2] {
				t.Fatalf("registration ids %v: a shared registration has one id", ids)
			}
			if n, _ := d.CountCallees(ids[0]); n != 3 || d.RegistrationCount() != 1 {
				t.Fatalf("%d callees, %d registrations; want 3, 1", n, d.RegistrationCount())
			}
			caller := peer(9)
			var got []int
			for i := range tc.want {
				if i == 4 {
					d.RemoveSession(callees[0].ID)
				}
				got = append(got, calleeOf(t, d, caller, i+1, "com.example.shared", callees...))
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("callees picked %v, want %v", got, tc.want)
			}
		})
	}
	t.Run("random", func(t *testing.T) {
		d := New(Config{})
		callees := []*fakepeer.Peer{peer(1), peer(2)}
		for i, c := range callees {
			registerOpts(t, d, c, i+1, `{"invoke":"random"}`, "com.example.random")
		}
		caller := peer(9)
		var hits [2]int
		// 200 calls: the chance that one callee gets none is 2^-199.
		for i := range 200 {
			hits[calleeOf(t, d, caller, i+1, "com.example.random", callees...)]++
		}
		if hits[0] == 0 || hits[1] == 0 {
			t.Errorf("random picked %v", hits)
		}
	})
}

func TestSharedRegistrationConflicts(t *testing.T) {
	d := New(Config{})
	a, b := peer(1), peer(2)
	registerOpts(t, d, a, 1, `{}`, "com.example.single")
	registerOpts(t, d, a, 2, `{"invoke":"roundrobin"}`, "com.example.rr")
	for _, tc := range []struct {
		opts, proc string
		p          *fakepeer.Peer
		want       wamp.URI
	}{
		{`{}`, "com.example.single", b, wamp.ErrProcedureAlreadyExists},
		{`{"invoke":"single"}`, "com.example.single", b, wamp.ErrProcedureAlreadyExists},
		{`{"invoke":"roundrobin"}`, "com.example.single", b, wamp.ErrProcedureAlreadyExists},
		{`{"invoke":"first"}`, "com.example.rr", b, ErrDifferentInvocationPolicy},
		{`{}`, "com.example.rr", b, ErrDifferentInvocationPolicy},
		{`{"invoke":"roundrobin"}`, "com.example.rr", a, wamp.ErrProcedureAlreadyExists},
	} {
		d.Register(tc.p, fakepeer.Decode(t, fmt.Sprintf(`[64,7,%s,%q]`, tc.opts, tc.proc)))
		wantError(t, tc.p, wamp.REGISTER, 7, tc.want)
	}
	// The same URI under another match policy is another registration.
	registerOpts(t, d, b, 8, `{"match":"prefix"}`, "com.example.single")
	registerOpts(t, d, b, 9, `{"match":"wildcard"}`, "com.example.single")
}

func TestSharedUnregister(t *testing.T) {
	d := New(Config{})
	a, b, caller := peer(1), peer(2), peer(3)
	id := registerOpts(t, d, a, 1, `{"invoke":"first"}`, "com.example.p")
	registerOpts(t, d, b, 1, `{"invoke":"first"}`, "com.example.p")
	d.Unregister(a, fakepeer.Decode(t, fmt.Sprintf(`[66,2,%d]`, id)))
	one(t, a, wamp.UNREGISTERED)
	if ids, ok := d.ListCallees(id); !ok || !reflect.DeepEqual(ids, []wamp.ID{2}) {
		t.Fatalf("callees %v %v after one left, want [2]", ids, ok)
	}
	if got := calleeOf(t, d, caller, 1, "com.example.p", a, b); got != 1 {
		t.Fatalf("call went to callee %d, want the one left", got)
	}
	// a is no callee any more: UNREGISTER again is an error.
	d.Unregister(a, fakepeer.Decode(t, fmt.Sprintf(`[66,3,%d]`, id)))
	wantError(t, a, wamp.UNREGISTER, 3, wamp.ErrNoSuchRegistration)
	d.Unregister(b, fakepeer.Decode(t, fmt.Sprintf(`[66,4,%d]`, id)))
	one(t, b, wamp.UNREGISTERED)
	if _, ok := d.Get(id); ok || d.RegistrationCount() != 0 {
		t.Fatal("registration outlived its last callee")
	}
}

// TestPatternPrecedence runs the examples of
// advanced/rpc_pattern_based_registration.md, plus prefix and wildcard
// cases of our own.
func TestPatternPrecedence(t *testing.T) {
	d := New(Config{})
	regs := []struct{ match, uri string }{
		{"exact", "a1.b2.c3.d4.e55"},
		{"prefix", "a1.b2.c3"},
		{"prefix", "a1.b2.c3.d4"},
		{"wildcard", "a1.b2..d4.e5"},
		{"wildcard", "a1.b2.c33..e5"},
		{"wildcard", "a1.b2..d4.e5..g7"},
		{"wildcard", "a1.b2..d4..f6.g7"},
		// Ours.
		{"prefix", "x.y"},
		{"prefix", "x.y.z."},
		{"wildcard", "..m"},
		{"wildcard", "w..m"},
		{"wildcard", "w.v."},
	}
	peers := make([]*fakepeer.Peer, len(regs))
	ids := make([]wamp.ID, len(regs))
	for i, r := range regs {
		peers[i] = peer(wamp.ID(i + 1))
		ids[i] = registerOpts(t, d, peers[i], 1, fmt.Sprintf(`{"match":%q}`, r.match), r.uri)
	}
	caller := peer(100)
	for req, tc := range []struct {
		uri  string
		want int // index into regs, -1 for no_such_procedure
	}{
		{"a1.b2.c3.d4.e55", 0},
		{"a1.b2.c3.d98.e74", 1},
		{"a1.b2.c3.d4.e325", 2},
		{"a1.b2.c55.d4.e5", 3},
		// The specification lists this one as a wildcard match (4 and 5,
		// 5 winning), but its prefix section, like this router, takes a
		// prefix as a string prefix (com.myapp.myobject1 matches
		// com.myapp.myobject1-mysubobject1), so prefix a1.b2.c3 matches
		// a1.b2.c33... and wins. TestWildcardPrecedence checks the
		// wildcard rule of the example without the prefixes.
		{"a1.b2.c33.d4.e5", 1},
		{"a1.b2.c88.d4.e5.f6.g7", 5},
		{"a2.b2.c2.d2.e2", -1},
		{"x.y", 7},          // a prefix matches itself
		{"x.yz", 7},         // string prefix, not component prefix
		{"x.y.z", 7},        // x.y.z. needs the dot
		{"x.y.z.q", 8},      // longest prefix
		{"q.r.m", 9},        // wildcards match one component each
		{"w.r.m", 10},       // more concrete components first
		{"w.v.m", 11},       // w.v. (first run of 2) beats w..m (1) and ..m (0)
		{"w.v.q", 11},       // w.v. is the only match
		{"q.m", -1},         // ..m wants three components
		{"q.r.s.m", -1},     // and not four
		{"a1.b2.c3x", 1},    // prefix a1.b2.c3 is a string prefix
		{"wamp.r.m", -1},    // the router's namespace never matches patterns
		{"x.y.z.q.r", 8},    //
		{"a1.b2.c33.d4", 1}, // prefix beats the wildcards
	} {
		d.Match(wamp.URI(tc.uri)) // exercised below through Call as well
		callOpts(t, d, caller, req+1, `{}`, tc.uri)
		if tc.want < 0 {
			wantCallError(t, caller, req+1, wamp.ErrNoSuchProcedure, "")
			if id, ok := d.Match(wamp.URI(tc.uri)); ok {
				t.Errorf("Match(%s) = %d, want none", tc.uri, id)
			}
			continue
		}
		if id, ok := d.Match(wamp.URI(tc.uri)); !ok || id != ids[tc.want] {
			t.Errorf("Match(%s) = %d, want %d (%s %s)", tc.uri, id, ids[tc.want], regs[tc.want].match, regs[tc.want].uri)
		}
		for i, p := range peers {
			for _, m := range p.Messages() {
				if i != tc.want {
					t.Errorf("call %s went to %s %s, want %s %s", tc.uri, regs[i].match, regs[i].uri, regs[tc.want].match, regs[tc.want].uri)
					continue
				}
				proc, has := m.Details["procedure"]
				if regs[i].match == "exact" && has {
					t.Errorf("exact INVOCATION carries procedure %v", proc)
				}
				if regs[i].match != "exact" && proc != tc.uri {
					t.Errorf("INVOCATION details %v, want procedure %s", m.Details, tc.uri)
				}
				if m.ID != ids[i] {
					t.Errorf("INVOCATION registration %d, want %d", m.ID, ids[i])
				}
				if err := yield(t, d, p, m.Request, `{}`); err != nil {
					t.Fatal(err)
				}
			}
		}
		one(t, caller, wamp.RESULT)
	}
	// Removing patterns removes their routes and prunes the indexes.
	for i := range regs {
		d.RemoveSession(peers[i].ID)
	}
	if d.RegistrationCount() != 0 || len(d.prefix.lens) != 0 || len(d.wild.root.kids) != 0 {
		t.Fatalf("indexes not empty: %d registrations, prefix lengths %v, wildcard trie %v",
			d.RegistrationCount(), d.prefix.lens, d.wild.root.kids)
	}
	checkEmpty(t, d)
}

func TestWildcardPrecedence(t *testing.T) {
	d := New(Config{})
	p := peer(1)
	ids := map[string]wamp.ID{}
	for i, uri := range []string{"a1.b2..d4.e5", "a1.b2.c33..e5", "a1.b2..d4.e5..g7", "a1.b2..d4..f6.g7", "a1...d4.e5", "...."} {
		ids[uri] = registerOpts(t, d, p, i+1, `{"match":"wildcard"}`, uri)
	}
	for _, tc := range []struct{ call, want string }{
		{"a1.b2.c55.d4.e5", "a1.b2..d4.e5"},
		{"a1.b2.c33.d4.e5", "a1.b2.c33..e5"},
		{"a1.b2.c88.d4.e5.f6.g7", "a1.b2..d4.e5..g7"},
		{"a1.b9.c33.d4.e5", "a1...d4.e5"},
		{"z.z.z.z.z", "...."},
	} {
		if id, ok := d.Match(wamp.URI(tc.call)); !ok || id != ids[tc.want] {
			t.Errorf("Match(%s) = %d %v, want %d (%s)", tc.call, id, ok, ids[tc.want], tc.want)
		}
	}
}

func TestPatternRegisterErrors(t *testing.T) {
	d := New(Config{StrictURIs: true})
	p := peer(1)
	for i, tc := range []struct{ opts, uri string }{
		{`{"match":"prefix"}`, "com..x"},
		{`{"match":"prefix"}`, "."},
		{`{"match":"exact"}`, "com..x"},
		{`{"match":"wildcard"}`, "com.X."},
		{`{"match":"prefix"}`, "wamp.session."},
		{`{"match":"wildcard"}`, "wamp..count"},
	} {
		d.Register(p, fakepeer.Decode(t, fmt.Sprintf(`[64,%d,%s,%q]`, i+1, tc.opts, tc.uri)))
		wantError(t, p, wamp.REGISTER, wamp.ID(i+1), wamp.ErrInvalidURI)
	}
	registerOpts(t, d, p, 10, `{"match":"wildcard"}`, "com..x")
	registerOpts(t, d, p, 11, `{"match":"wildcard"}`, ".")
	registerOpts(t, d, p, 12, `{"match":"prefix"}`, "com.")
}

func TestExactCallSkipsPatterns(t *testing.T) {
	// Patterns registered in bulk do not change where an exact call goes,
	// nor what its INVOCATION carries.
	d := New(Config{})
	p := peer(1)
	for i := range 100 {
		registerOpts(t, d, p, i+1, `{"match":"prefix"}`, fmt.Sprintf("com.example.%d", i))
		registerOpts(t, d, p, i+1001, `{"match":"wildcard"}`, fmt.Sprintf("com..%d", i))
	}
	callee, caller := peer(2), peer(3)
	id := registerOpts(t, d, callee, 1, `{}`, "com.example.1")
	callOpts(t, d, caller, 1, `{}`, "com.example.1")
	inv := one(t, callee, wamp.INVOCATION)
	if inv.ID != id || len(inv.Details) != 0 {
		t.Fatalf("INVOCATION %v %v, want registration %d with no details", inv, inv.Details, id)
	}
	none(t, p)
}
