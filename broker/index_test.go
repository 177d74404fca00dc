package broker

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/switchboard/switchboard/wamp"
)

// cacheModes runs an index test with the match cache and without, as
// nats-server runs its sublist tests: a cache that returns stale or wrong
// results must fail the same assertions as a broken tree.
var cacheModes = []struct {
	name  string
	slots int
}{
	{"cache", 0},
	{"nocache", -1},
	{"tinycache", 2}, // constant collisions
}

func TestPatternMatchesSpecExamples(t *testing.T) {
	cases := []struct {
		uri, match, topic string
		want              bool
	}{
		// Pattern-based Subscription, Prefix Matching.
		{"com.myapp.topic.emergency", "prefix", "com.myapp.topic.emergency.11", true},
		{"com.myapp.topic.emergency", "prefix", "com.myapp.topic.emergency-low", true},
		{"com.myapp.topic.emergency", "prefix", "com.myapp.topic.emergency.category.severe", true},
		{"com.myapp.topic.emergency", "prefix", "com.myapp.topic.emergency", true},
		{"com.myapp.topic.emergency", "prefix", "com.myapp.topic.emerge", false},
		{"a.b", "prefix", "a.bc", true},
		{"a.b.", "prefix", "a.bc", false},
		{"a.b.", "prefix", "a.b.c", true},
		{"", "prefix", "anything.at.all", true},
		// Wildcard Matching.
		{"com.myapp..userevent", "wildcard", "com.myapp.foo.userevent", true},
		{"com.myapp..userevent", "wildcard", "com.myapp.bar.userevent", true},
		{"com.myapp..userevent", "wildcard", "com.myapp.a12.userevent", true},
		{"com.myapp..userevent", "wildcard", "com.myapp.foo.userevent.bar", false},
		{"com.myapp..userevent", "wildcard", "com.myapp.foo.user", false},
		{"com.myapp..userevent", "wildcard", "com.myapp2.foo.userevent", false},
		{"com.myapp..userevent", "wildcard", "com.myapp.userevent", false},
		{"..", "wildcard", "a.b.c", true},
		{"..", "wildcard", "a.b", false},
		{"a.b", "wildcard", "a.b", true},
		// Exact.
		{"a.b", "exact", "a.b", true},
		{"a.b", "exact", "a.bc", false},
	}
	for _, mode := range cacheModes {
		for _, c := range cases {
			if got := patternMatches(wamp.URI(c.uri), c.match, wamp.URI(c.topic)); got != c.want {
				t.Errorf("patternMatches(%q, %s, %q) = %v, want %v", c.uri, c.match, c.topic, got, c.want)
			}
			// The index must agree with the reference.
			x := newIndex(mode.slots)
			sub := &subscription{id: 1, uri: wamp.URI(c.uri), match: c.match}
			x.add(sub)
			got := x.exact[wamp.URI(c.topic)] != nil || len(x.matchPatterns(wamp.URI(c.topic), nil)) > 0
			if got != c.want {
				t.Errorf("%s: index with %s %q matches %q: %v, want %v", mode.name, c.match, c.uri, c.topic, got, c.want)
			}
		}
	}
}

func TestValidPattern(t *testing.T) {
	cases := []struct {
		uri, match string
		strict     bool
		want       bool
	}{
		{"com.a", "exact", false, true},
		{"com..a", "exact", false, false},
		{"com.a.", "exact", false, false},
		{"com.a.", "prefix", false, true},
		{"com..a", "prefix", false, false},
		{"com.a..", "prefix", false, false},
		{"", "prefix", false, true},
		{"", "exact", false, false},
		{"com..a", "wildcard", false, true},
		{"..", "wildcard", false, true},
		{"com.a b", "wildcard", false, false},
		{"com.A.", "prefix", true, false},
		{"com.a.", "prefix", true, true},
		{"com..Ab", "wildcard", true, false},
		{"com#x", "prefix", false, false},
	}
	for _, c := range cases {
		if got := validPattern(wamp.URI(c.uri), c.match, c.strict); got != c.want {
			t.Errorf("validPattern(%q, %s, strict=%v) = %v, want %v", c.uri, c.match, c.strict, got, c.want)
		}
	}
}

// randomURI builds URIs from a small alphabet of components so that
// random patterns and topics overlap often, including string prefixes
// that cut a component ("a.b" of "a.bc").
func randomURI(r *rand.Rand, wild bool) string {
	comps := []string{"a", "b", "bc", "c", "cd", "d"}
	n := 1 + r.IntN(4)
	u := ""
	for i := range n {
		if i > 0 {
			u += "."
		}
		if wild && r.IntN(3) == 0 {
			continue // empty component: wildcard
		}
		u += comps[r.IntN(len(comps))]
	}
	return u
}

// TestIndexAgainstReference checks the trees and the cache against a
// brute-force scan with patternMatches, through random adds and removes,
// with every topic matched after every change (so stale cache entries
// would show).
func TestIndexAgainstReference(t *testing.T) {
	for _, mode := range cacheModes {
		t.Run(mode.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, 2))
			x := newIndex(mode.slots)
			live := map[patternKey]*subscription{}
			var topics []string
			for range 200 {
				topics = append(topics, randomURI(r, false))
			}
			nextID := wamp.ID(1)
			for step := range 600 {
				match := []string{wamp.MatchExact, wamp.MatchPrefix, wamp.MatchWildcard}[r.IntN(3)]
				uri := randomURI(r, match == wamp.MatchWildcard)
				if match == wamp.MatchPrefix {
					uri = uri[:r.IntN(len(uri))+1] // any string prefix, even mid-component
				}
				k := patternKey{wamp.URI(uri), match}
				if s := live[k]; s != nil {
					x.remove(s)
					delete(live, k)
				} else {
					s := &subscription{id: nextID, uri: wamp.URI(uri), match: match}
					nextID++
					x.add(s)
					live[k] = s
				}
				if err := checkCompressed(&x.ptree, true); err != nil {
					t.Fatalf("step %d: %v", step, err)
				}
				for _, topic := range topics {
					var want []wamp.ID
					for _, s := range live {
						if patternMatches(s.uri, s.match, wamp.URI(topic)) {
							want = append(want, s.id)
						}
					}
					var got []wamp.ID
					if s := x.exact[wamp.URI(topic)]; s != nil {
						got = append(got, s.id)
					}
					for _, s := range x.matchPatterns(wamp.URI(topic), nil) {
						got = append(got, s.id)
					}
					slices.Sort(want)
					slices.Sort(got)
					if !slices.Equal(got, want) {
						t.Fatalf("step %d: match %q = %v, want %v", step, topic, got, want)
					}
				}
			}
			for _, s := range live {
				x.remove(s)
			}
			if n := x.ptree.size(); n != 1 || x.ptree.sub != nil {
				t.Errorf("prefix tree has %d nodes after removing everything, want only the root", n)
			}
			if len(x.wtree.kids) != 0 {
				t.Errorf("wildcard trie keeps %d children of the root after removing everything", len(x.wtree.kids))
			}
			if x.patterns() {
				t.Error("patterns() true with no pattern subscription")
			}
		})
	}
}

// checkCompressed checks the radix tree's invariants: every node but the
// root has a label and either a subscription or two children, and first
// mirrors the children's first bytes.
func checkCompressed(n *pnode, root bool) error {
	if !root && (n.label == "" || n.sub == nil && len(n.kids) < 2) {
		return fmt.Errorf("node %q (sub %v) with %d children breaks compression", n.label, n.sub != nil, len(n.kids))
	}
	if len(n.first) != len(n.kids) {
		return fmt.Errorf("node %q: %d first bytes for %d children", n.label, len(n.first), len(n.kids))
	}
	for i, k := range n.kids {
		if k.label == "" || n.first[i] != k.label[0] {
			return fmt.Errorf("node %q: child %q indexed under %q", n.label, k.label, n.first[i])
		}
		if err := checkCompressed(k, false); err != nil {
			return err
		}
	}
	return nil
}

// TestPrefixTreeCompressed checks that removal merges pass-through nodes:
// without that, churn would leave the tree growing.
func TestPrefixTreeCompressed(t *testing.T) {
	x := newIndex(-1)
	a := &subscription{id: 1, uri: "com.example.alpha", match: wamp.MatchPrefix}
	b := &subscription{id: 2, uri: "com.example.beta", match: wamp.MatchPrefix}
	c := &subscription{id: 3, uri: "com.example", match: wamp.MatchPrefix}
	x.add(a)
	x.add(b)
	x.add(c)
	// root -> "com.example" (c) -> {"alpha", "beta"}... with "." shared.
	x.remove(c)
	x.remove(a)
	if n := x.ptree.size(); n != 2 {
		t.Errorf("tree has %d nodes with one prefix left, want 2 (root and one leaf)", n)
	}
	if got := x.matchPatterns("com.example.beta.x", nil); len(got) != 1 || got[0] != b {
		t.Errorf("match after compression = %v, want the beta subscription", got)
	}
}

func TestMatchCacheInvalidated(t *testing.T) {
	x := newIndex(0)
	p := &subscription{id: 1, uri: "com.a", match: wamp.MatchPrefix}
	if got := x.matchPatterns("com.a.b", nil); len(got) != 0 {
		t.Fatalf("empty index matched %v", got)
	}
	x.add(p)
	if got := x.matchPatterns("com.a.b", nil); len(got) != 1 {
		t.Fatalf("after add: %v, want the prefix subscription (stale cache?)", got)
	}
	x.remove(p)
	if got := x.matchPatterns("com.a.b", nil); len(got) != 0 {
		t.Fatalf("after remove: %v, want none (stale cache?)", got)
	}
	// Exact subscriptions do not touch the pattern generation.
	g := x.gen.Load()
	x.add(&subscription{id: 2, uri: "com.a.b", match: wamp.MatchExact})
	if x.gen.Load() != g {
		t.Error("an exact subscription invalidated the pattern cache")
	}
}

// benchIndex builds n subscriptions in groups of ten that share nothing
// across groups: per group six exact topics, two prefixes and two wildcard
// patterns, all matching the group's topics. A topic therefore matches the
// same few subscriptions whatever n is; the rest are unrelated.
func benchIndex(n, cacheSlots int) (*index, []wamp.URI) {
	x := newIndex(cacheSlots)
	id := wamp.ID(1)
	add := func(uri, match string) {
		x.add(&subscription{id: id, uri: wamp.URI(uri), match: match})
		id++
	}
	groups := max(n/10, 1)
	var topics []wamp.URI
	for g := range groups {
		for k := range 6 {
			add(fmt.Sprintf("com.g%d.dev%d.temp", g, k), wamp.MatchExact)
		}
		add(fmt.Sprintf("com.g%d.dev", g), wamp.MatchPrefix)
		add(fmt.Sprintf("com.g%d.dev1", g), wamp.MatchPrefix)
		add(fmt.Sprintf("com.g%d..temp", g), wamp.MatchWildcard)
		add(fmt.Sprintf("com..dev%d.temp", g), wamp.MatchWildcard)
	}
	// 256 distinct topics whatever n is (a publisher's working set), each
	// matching its group's prefix com.gG.dev and wildcard com.gG..temp.
	for i := range 256 {
		topics = append(topics, wamp.URI(fmt.Sprintf("com.g%d.dev%d.temp", i*7919%groups, i)))
	}
	return x, topics
}

// BenchmarkMatch measures finding the subscriptions of one topic (the exact
// map, then the pattern trees or cache) among 10, 10k and 100k mixed
// subscriptions; ns/op should stay flat as n grows. Both cycle over 256
// topics: "cache" finds them in the match cache (two-way, 1024 slots, so a
// few collide and miss), "nocache" walks the trees every time.
func BenchmarkMatch(b *testing.B) {
	for _, mode := range []struct {
		name  string
		slots int
	}{{"cache", 0}, {"nocache", -1}} {
		for _, n := range []int{10, 10_000, 100_000} {
			b.Run(fmt.Sprintf("%s/%d", mode.name, n), func(b *testing.B) {
				x, topics := benchIndex(n, mode.slots)
				matched := 0
				var buf [8]*subscription // as Publish does
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					t := topics[i%len(topics)]
					if x.exact[t] != nil {
						matched++
					}
					matched += len(x.matchPatterns(t, buf[:0]))
				}
				b.StopTimer()
				if matched < b.N {
					b.Fatalf("%d matches in %d lookups: the benchmark topics must match", matched, b.N)
				}
			})
		}
	}
}
