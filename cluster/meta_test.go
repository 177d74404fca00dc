package cluster_test

import (
	"context"
	"slices"
	"testing"
	"time"

	nwamp "github.com/gammazero/nexus/v3/wamp"

	"github.com/switchboard/switchboard/realm"
)

// TestSubscriptionMetaAcrossNodes asks the subscription meta procedures
// on one node about subscriptions made on two others: they answer for the
// whole cluster.
func TestSubscriptionMetaAcrossNodes(t *testing.T) {
	rs := startCluster(t, 3, 3*time.Second)
	nothing := func(*nwamp.Event) {}
	a, b := connect(t, rs[1]), connect(t, rs[2])
	must(t, a.Subscribe("com.meta.topic", nothing, nil))
	must(t, b.Subscribe("com.meta.topic", nothing, nil))
	must(t, b.Subscribe("com.meta", nothing, nwamp.Dict{"match": "prefix"}))
	waitSubscribers(t, rs, "com.meta.topic", "exact", 2)
	waitSubscribers(t, rs, "com.meta", "prefix", 1)
	exact := uint64(realm.ClusterID("realm1", "com.meta.topic", "exact"))
	prefix := uint64(realm.ClusterID("realm1", "com.meta", "prefix"))

	q := connect(t, rs[0])
	call := func(proc string, args ...any) nwamp.List {
		t.Helper()
		res, err := q.Call(context.Background(), proc, nil, args, nil, nil)
		if err != nil {
			t.Fatalf("%s: %v", proc, err)
		}
		return res.Arguments
	}
	ids := func(v any) []uint64 {
		l, _ := nwamp.AsList(v)
		var out []uint64
		for _, x := range l {
			id, _ := nwamp.AsID(x)
			out = append(out, uint64(id))
		}
		slices.Sort(out)
		return out
	}

	lists, _ := nwamp.AsDict(call("wamp.subscription.list")[0])
	if got := ids(lists["exact"]); !slices.Contains(got, exact) {
		t.Errorf("wamp.subscription.list exact = %v, want it to hold %d", got, exact)
	}
	if got := ids(lists["prefix"]); !slices.Contains(got, prefix) {
		t.Errorf("wamp.subscription.list prefix = %v, want it to hold %d", got, prefix)
	}
	if id, _ := nwamp.AsID(call("wamp.subscription.lookup", "com.meta.topic")[0]); uint64(id) != exact {
		t.Errorf("wamp.subscription.lookup = %d, want %d", id, exact)
	}
	if got, want := ids(call("wamp.subscription.match", "com.meta.topic")[0]), []uint64{exact, prefix}; !equalSorted(got, want) {
		t.Errorf("wamp.subscription.match = %v, want %v", got, want)
	}
	d, _ := nwamp.AsDict(call("wamp.subscription.get", exact)[0])
	if d["uri"] != "com.meta.topic" || d["match"] != "exact" {
		t.Errorf("wamp.subscription.get = %v", d)
	}
	want := []uint64{uint64(a.ID()), uint64(b.ID())}
	slices.Sort(want)
	if got := ids(call("wamp.subscription.list_subscribers", exact)[0]); !slices.Equal(got, want) {
		t.Errorf("wamp.subscription.list_subscribers = %v, want %v (sessions of two other nodes)", got, want)
	}
	if n, _ := nwamp.AsInt64(call("wamp.subscription.count_subscribers", exact)[0]); n != 2 {
		t.Errorf("wamp.subscription.count_subscribers = %d, want 2", n)
	}

	// A subscriber leaving on its node leaves the others' answers too.
	_ = a.Close()
	waitSubscribers(t, rs, "com.meta.topic", "exact", 1)
	if got := ids(call("wamp.subscription.list_subscribers", exact)[0]); !slices.Equal(got, []uint64{uint64(b.ID())}) {
		t.Errorf("wamp.subscription.list_subscribers after a left = %v, want [%d]", got, b.ID())
	}
}

func equalSorted(got, want []uint64) bool {
	w := slices.Clone(want)
	slices.Sort(w)
	return slices.Equal(got, w)
}
