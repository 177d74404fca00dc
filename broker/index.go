package broker

import (
	"bytes"
	"hash/maphash"
	"math/bits"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/switchboard/switchboard/wamp"
)

// parseMatch maps SUBSCRIBE.Options.match to a policy; absent means exact.
func parseMatch(s string) (string, error) {
	switch s {
	case "", wamp.MatchExact:
		return wamp.MatchExact, nil
	case wamp.MatchPrefix, wamp.MatchWildcard:
		return s, nil
	}
	return "", wamp.NewError(wamp.ErrInvalidArgument, "option match must be \"exact\", \"prefix\" or \"wildcard\", not "+quote(s))
}

// validPattern checks a subscription URI under its match policy, as
// AutobahnPython (Crossbar.io) does: exact topics have no empty component;
// a prefix may end with a dot ("com.myapp." matches only below com.myapp)
// and may be empty (it then matches every topic); a wildcard pattern may
// have empty components anywhere, each matching one component.
func validPattern(u wamp.URI, match string, strict bool) bool {
	switch match {
	case wamp.MatchPrefix:
		if u == "" {
			return true
		}
		if u[len(u)-1] == '.' {
			u = u[:len(u)-1]
		}
		return wamp.ValidURI(u, strict, false)
	case wamp.MatchWildcard:
		return wamp.ValidURI(u, strict, true)
	}
	return wamp.ValidURI(u, strict, false)
}

// index finds the subscriptions that match a topic. Exact subscriptions are
// a map, so that publishing to an exact topic costs one map lookup as it did
// before patterns existed. Prefix subscriptions are a radix tree over the
// URI's bytes (WAMP prefixes are string prefixes: a.b matches a.bc), walked
// once along the topic; wildcard subscriptions are a trie by URI component.
// Neither walk looks at subscriptions that share no prefix with the topic,
// so the cost of a match does not grow with unrelated subscriptions (the
// scan that nexus's syncPublish does). Pattern results are cached by topic
// (see matchCache).
//
// The index has no lock of its own: the broker's mu guards it, read-locked
// for matching, write-locked for changes.
type index struct {
	exact    map[wamp.URI]*subscription
	prefix   map[wamp.URI]*subscription // by pattern, for lookups and removal
	wildcard map[wamp.URI]*subscription
	ptree    pnode
	wtree    wnode

	// gen counts changes to the pattern subscriptions; cache entries of an
	// older generation are stale. Atomic so that a lock-free reader (a
	// per-session cache, later) can check it too.
	gen   atomic.Uint64
	cache *matchCache // nil when disabled
}

func newIndex(cacheSlots int) *index {
	x := &index{
		exact:    make(map[wamp.URI]*subscription),
		prefix:   make(map[wamp.URI]*subscription),
		wildcard: make(map[wamp.URI]*subscription),
	}
	if cacheSlots >= 0 {
		if cacheSlots == 0 {
			cacheSlots = DefaultMatchCache
		}
		x.cache = newMatchCache(cacheSlots)
	}
	return x
}

func (x *index) byPolicy(match string) map[wamp.URI]*subscription {
	switch match {
	case wamp.MatchPrefix:
		return x.prefix
	case wamp.MatchWildcard:
		return x.wildcard
	}
	return x.exact
}

// get returns the subscription for (uri, match), or nil.
func (x *index) get(uri wamp.URI, match string) *subscription {
	return x.byPolicy(match)[uri]
}

// patterns reports whether any pattern subscription exists, so that a
// publication to an exact topic skips the pattern walk entirely.
func (x *index) patterns() bool { return len(x.prefix)+len(x.wildcard) > 0 }

// add inserts sub, which must not be there yet.
func (x *index) add(sub *subscription) {
	x.byPolicy(sub.match)[sub.uri] = sub
	switch sub.match {
	case wamp.MatchPrefix:
		x.ptree.insert(string(sub.uri), sub)
	case wamp.MatchWildcard:
		x.wtree.insert(string(sub.uri), sub)
	default:
		return
	}
	x.gen.Add(1)
}

// remove takes sub out.
func (x *index) remove(sub *subscription) {
	delete(x.byPolicy(sub.match), sub.uri)
	switch sub.match {
	case wamp.MatchPrefix:
		x.ptree.remove(string(sub.uri))
	case wamp.MatchWildcard:
		x.wtree.remove(string(sub.uri))
	default:
		return
	}
	x.gen.Add(1)
}

// matchPatterns returns the pattern subscriptions matching topic. buf is
// scratch space the caller may keep on its stack: without the cache the
// result is built in it, so a publication allocates nothing for matches
// that fit. With the cache the result may be shared with it: callers must
// not modify it.
func (x *index) matchPatterns(topic wamp.URI, buf []*subscription) []*subscription {
	if x.cache == nil {
		return x.walk(topic, buf)
	}
	gen := x.gen.Load()
	if subs, ok := x.cache.get(string(topic), gen); ok {
		return subs
	}
	found := x.walk(topic, buf)
	// The cached copy must not alias buf (two variables, so that escape
	// analysis sees that buf does not reach the heap); no match stays nil.
	var keep []*subscription
	if len(found) > 0 {
		keep = slices.Clone(found)
	}
	x.cache.put(string(topic), gen, keep)
	return found
}

// walk appends the pattern subscriptions matching topic to dst.
func (x *index) walk(topic wamp.URI, dst []*subscription) []*subscription {
	dst = x.ptree.match(string(topic), dst)
	if len(x.wildcard) > 0 {
		dst = x.wtree.match(string(topic), dst)
	}
	return dst
}

// pnode is a node of the prefix radix tree: the bytes of the edge from its
// parent, the prefix subscription whose URI ends here, and its children,
// with the first byte of each child's label kept apart so that choosing a
// child is one bytes.IndexByte.
type pnode struct {
	label string
	sub   *subscription
	first []byte
	kids  []*pnode
}

func (n *pnode) kid(c byte) int { return bytes.IndexByte(n.first, c) }

func (n *pnode) addKid(k *pnode) {
	n.first = append(n.first, k.label[0])
	n.kids = append(n.kids, k)
}

func (n *pnode) dropKid(i int) {
	last := len(n.kids) - 1
	n.first[i], n.kids[i] = n.first[last], n.kids[last]
	n.kids[last] = nil
	n.first, n.kids = n.first[:last], n.kids[:last]
}

// absorb merges n's only child into n, keeping the tree compressed. n's
// first byte does not change, so its parent's index stays right.
func (n *pnode) absorb() {
	k := n.kids[0]
	n.label += k.label
	n.sub, n.first, n.kids = k.sub, k.first, k.kids
}

func commonPrefix(a, b string) int {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}

// insert sets the subscription of key. n is the root.
func (n *pnode) insert(key string, sub *subscription) {
	for key != "" {
		i := n.kid(key[0])
		if i < 0 {
			n.addKid(&pnode{label: key, sub: sub})
			return
		}
		c := n.kids[i]
		l := commonPrefix(key, c.label)
		if l < len(c.label) {
			// Split the edge where key leaves it.
			mid := &pnode{label: c.label[:l]}
			c.label = c.label[l:]
			mid.addKid(c)
			n.kids[i] = mid // same first byte: n.first stays right
			c = mid
		}
		key = key[l:]
		n = c
	}
	n.sub = sub
}

// remove clears the subscription of key and compresses the tree again. n
// is the root.
func (n *pnode) remove(key string) {
	var parent *pnode
	idx := -1
	for key != "" {
		i := n.kid(key[0])
		if i < 0 || !strings.HasPrefix(key, n.kids[i].label) {
			return
		}
		parent, idx = n, i
		key = key[len(n.kids[i].label):]
		n = n.kids[i]
	}
	n.sub = nil
	if parent == nil {
		return // the root ("" prefix) is never compressed away
	}
	switch len(n.kids) {
	case 0:
		parent.dropKid(idx)
		// parent may now be a pass-through node: merge it with its kid.
		if parent.label != "" && parent.sub == nil && len(parent.kids) == 1 {
			parent.absorb()
		}
	case 1:
		n.absorb()
	}
}

// match appends the subscriptions of every prefix of topic. n is the root.
func (n *pnode) match(topic string, dst []*subscription) []*subscription {
	for {
		if n.sub != nil {
			dst = append(dst, n.sub)
		}
		if topic == "" {
			return dst
		}
		i := n.kid(topic[0])
		if i < 0 {
			return dst
		}
		c := n.kids[i]
		if !strings.HasPrefix(topic, c.label) {
			return dst
		}
		topic = topic[len(c.label):]
		n = c
	}
}

// size counts the nodes under n, for tests of compression.
func (n *pnode) size() int {
	s := 1
	for _, k := range n.kids {
		s += k.size()
	}
	return s
}

// wnode is a node of the wildcard trie: one level per URI component, with
// the empty component standing for "any one component".
type wnode struct {
	kids map[string]*wnode
	sub  *subscription
}

// insert sets the subscription of pattern. n is the root.
func (n *wnode) insert(pattern string, sub *subscription) {
	for {
		comp, rest, more := strings.Cut(pattern, ".")
		k := n.kids[comp]
		if k == nil {
			if n.kids == nil {
				n.kids = make(map[string]*wnode)
			}
			k = new(wnode)
			n.kids[comp] = k // comp is part of sub.uri, which the broker owns
		}
		n = k
		if !more {
			n.sub = sub
			return
		}
		pattern = rest
	}
}

// remove clears the subscription of pattern and drops the nodes left
// empty. n is the root.
func (n *wnode) remove(pattern string) {
	type step struct {
		n    *wnode
		comp string
	}
	var path []step
	for {
		comp, rest, more := strings.Cut(pattern, ".")
		k := n.kids[comp]
		if k == nil {
			return
		}
		path = append(path, step{n, comp})
		n = k
		if !more {
			break
		}
		pattern = rest
	}
	n.sub = nil
	for i := len(path) - 1; i >= 0; i-- {
		k := path[i].n.kids[path[i].comp]
		if k.sub != nil || len(k.kids) > 0 {
			return
		}
		delete(path[i].n.kids, path[i].comp)
	}
}

// match appends the subscriptions whose pattern matches topic, component by
// component: each level follows the topic's own component and the
// wildcard, so only patterns that agree with the topic so far are visited.
// It walks with an explicit stack rather than recursion so that escape
// analysis can keep the caller's dst buffer on its stack.
func (n *wnode) match(topic string, dst []*subscription) []*subscription {
	type frame struct {
		n    *wnode
		rest string
	}
	var stackBuf [16]frame
	stack := append(stackBuf[:0], frame{n, topic})
	for len(stack) > 0 {
		f := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		comp, rest, more := strings.Cut(f.rest, ".")
		for i, key := range [2]string{comp, ""} {
			if i == 1 && comp == "" {
				break // an empty topic component was matched once, above
			}
			k := f.n.kids[key]
			switch {
			case k == nil:
			case !more:
				if k.sub != nil {
					dst = append(dst, k.sub)
				}
			case len(k.kids) > 0:
				stack = append(stack, frame{k, rest})
			}
		}
	}
	return dst
}

// matchCache maps topics to their pattern subscriptions, as nats-server's
// sublist caches subject matches: a publisher that keeps publishing to the
// same topics skips both tree walks. It is a two-way set-associative table
// of atomic pointers, so that the many publishers that hold the broker's
// read lock at once read and fill it without a lock of their own; it is
// bounded by construction (a new entry replaces one of its set), and an
// entry from an older generation of the index (any pattern subscription
// added or removed since) is a miss. Two ways rather than one keep two hot
// topics that hash alike from evicting each other on every publication.
type matchCache struct {
	seed  maphash.Seed
	mask  uint64 // of the set index; a set is two adjacent slots
	slots []atomic.Pointer[cacheEntry]
}

type cacheEntry struct {
	topic string
	gen   uint64
	subs  []*subscription
}

func newMatchCache(n int) *matchCache {
	size := max(2, 1<<bits.Len(uint(n-1))) // a power of two, at least one set
	return &matchCache{
		seed:  maphash.MakeSeed(),
		mask:  uint64(size/2 - 1),
		slots: make([]atomic.Pointer[cacheEntry], size),
	}
}

func (c *matchCache) set(topic string) (h uint64, way0, way1 *atomic.Pointer[cacheEntry]) {
	h = maphash.String(c.seed, topic)
	i := (h & c.mask) * 2
	return h, &c.slots[i], &c.slots[i+1]
}

func (c *matchCache) get(topic string, gen uint64) ([]*subscription, bool) {
	_, w0, w1 := c.set(topic)
	for _, w := range [2]*atomic.Pointer[cacheEntry]{w0, w1} {
		if e := w.Load(); e != nil && e.gen == gen && e.topic == topic {
			return e.subs, true
		}
	}
	return nil, false
}

// put stores a result, in a free or stale way of the topic's set if there
// is one, else in the way a bit of the topic's hash picks. A
// race between two puts loses one entry, which only costs a miss. topic
// is a string the broker may keep: decoded topics are immutable strings,
// never views of the frame.
func (c *matchCache) put(topic string, gen uint64, subs []*subscription) {
	h, w0, w1 := c.set(topic)
	w := w0
	if e := w0.Load(); e != nil && e.gen == gen {
		w = w1
		if e := w1.Load(); e != nil && e.gen == gen && h&(1<<63) != 0 {
			w = w0
		}
	}
	w.Store(&cacheEntry{topic: topic, gen: gen, subs: subs})
}

// quote quotes a peer's value for an error message, cut short so that a
// hostile client cannot make the router echo a megabyte back.
func quote(s string) string {
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	return strconv.Quote(s)
}
