package dealer

import (
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/switchboard/switchboard/wamp"
)

// Invocation policies of shared registrations (advanced/rpc_shared_registration.md).
const (
	InvokeSingle     = "single"
	InvokeRoundRobin = "roundrobin"
	InvokeRandom     = "random"
	InvokeFirst      = "first"
	InvokeLast       = "last"
)

// registration is one (procedure, match policy) with its callees in the
// order they registered, which the policies first, last and roundrobin use.
type registration struct {
	id        wamp.ID
	procedure wamp.URI
	match     string // wamp.MatchExact, MatchPrefix or MatchWildcard
	invoke    string
	created   time.Time
	callees   []Peer
	next      int // the callee roundrobin picks next

	// discloseTo holds the callees that registered with
	// REGISTER.Options.disclose_caller (advanced/rpc_caller_identification.md):
	// their invocations name the caller. Nil when none did, so that plain
	// calls keep their fast path.
	discloseTo map[wamp.ID]struct{}

	// local, when set, is a procedure the router implements itself
	// (RegisterLocal): it has no callees, no id and is invisible to the
	// meta API.
	local LocalFunc
}

// pick chooses the callee of one call. d.mu must be held (roundrobin
// advances). reg has at least one callee.
func (r *registration) pick() Peer {
	n := len(r.callees)
	if n == 1 {
		return r.callees[0]
	}
	switch r.invoke {
	case InvokeRoundRobin:
		if r.next >= n { // callees left since the last pick
			r.next = 0
		}
		p := r.callees[r.next]
		r.next++
		return p
	case InvokeRandom:
		return r.callees[rand.IntN(n)]
	case InvokeLast:
		return r.callees[n-1]
	default: // first; single never has more than one callee
		return r.callees[0]
	}
}

// hasCallee reports whether the session sid is a callee of r.
func (r *registration) hasCallee(sid wamp.ID) bool {
	for _, p := range r.callees {
		if p.SessionID() == sid {
			return true
		}
	}
	return false
}

// removeCallee drops the session sid from r's callees. Roundrobin's cursor
// moves with the callees after it, so that the rotation goes on where it
// was rather than skipping one.
func (r *registration) removeCallee(sid wamp.ID) {
	i := slices.IndexFunc(r.callees, func(p Peer) bool { return p.SessionID() == sid })
	if i < 0 {
		return
	}
	r.callees = slices.Delete(r.callees, i, i+1)
	if r.discloseTo != nil {
		delete(r.discloseTo, sid)
		if len(r.discloseTo) == 0 {
			r.discloseTo = nil
		}
	}
	if i < r.next {
		r.next--
	}
}

func (r *registration) info() RegistrationInfo {
	return RegistrationInfo{ID: r.id, Created: r.created, URI: r.procedure, Match: r.match, Invoke: r.invoke}
}

// prefixIndex finds the longest registered prefix of a URI. It probes the
// URI's prefixes only at the lengths some registration has, longest first,
// so a lookup costs one map probe per distinct prefix length in use, however
// many registrations there are.
type prefixIndex struct {
	regs  map[wamp.URI]*registration
	count map[int]int // registrations per prefix length
	lens  []int       // distinct lengths, longest first
}

func newPrefixIndex() prefixIndex {
	return prefixIndex{regs: make(map[wamp.URI]*registration), count: make(map[int]int)}
}

func (x *prefixIndex) add(r *registration) {
	x.regs[r.procedure] = r
	n := len(r.procedure)
	if x.count[n]++; x.count[n] == 1 {
		x.lens = append(x.lens, n)
		slices.SortFunc(x.lens, func(a, b int) int { return b - a })
	}
}

func (x *prefixIndex) remove(r *registration) {
	delete(x.regs, r.procedure)
	n := len(r.procedure)
	if x.count[n]--; x.count[n] == 0 {
		delete(x.count, n)
		x.lens = slices.DeleteFunc(x.lens, func(l int) bool { return l == n })
	}
}

// match returns the registration with the longest prefix of uri. All the
// candidates are prefixes of the same string, so the longest string also has
// the most URI components, as the specification's rule asks.
func (x *prefixIndex) match(uri wamp.URI) *registration {
	for _, n := range x.lens {
		if n > len(uri) {
			continue
		}
		if r := x.regs[uri[:n]]; r != nil {
			return r
		}
	}
	return nil
}

// wildIndex holds wildcard registrations in a trie of URI components, the
// empty component standing for the wildcard. A lookup walks only the
// branches the called URI can take.
type wildIndex struct {
	regs map[wamp.URI]*registration
	root wildNode
}

type wildNode struct {
	kids map[string]*wildNode // by component; "" is the wildcard
	reg  *registration        // a pattern ends here
}

func newWildIndex() wildIndex { return wildIndex{regs: make(map[wamp.URI]*registration)} }

func (x *wildIndex) add(r *registration) {
	x.regs[r.procedure] = r
	n := &x.root
	for comp := range strings.SplitSeq(string(r.procedure), ".") {
		if n.kids == nil {
			n.kids = make(map[string]*wildNode)
		}
		k := n.kids[comp]
		if k == nil {
			k = new(wildNode)
			n.kids[comp] = k
		}
		n = k
	}
	n.reg = r
}

func (x *wildIndex) remove(r *registration) {
	delete(x.regs, r.procedure)
	x.root.remove(string(r.procedure))
}

// remove clears the pattern rest below n and prunes nodes left empty; it
// reports whether n itself is now empty.
func (n *wildNode) remove(rest string) bool {
	comp, tail, more := strings.Cut(rest, ".")
	if k := n.kids[comp]; k != nil {
		var empty bool
		if more {
			empty = k.remove(tail)
		} else {
			k.reg = nil
			empty = len(k.kids) == 0
		}
		if empty {
			delete(n.kids, comp)
		}
	}
	return n.reg == nil && len(n.kids) == 0
}

// match returns the best wildcard registration for uri, by the rule of
// advanced/rpc_pattern_based_registration.md: the longest run of matching
// components before the first wildcard wins, ties go to the longest run
// before the second, and so on. That order is the lexicographic order of
// the patterns read component by component with "concrete" ranking above
// "wildcard", which is the order in which this depth-first walk, trying the
// concrete child before the wildcard child, reaches complete matches: the
// first match found is the best. Two patterns that tie all the way are the
// same pattern, so the best is unique.
func (x *wildIndex) match(uri wamp.URI) *registration {
	if len(x.regs) == 0 {
		return nil
	}
	return x.root.match(string(uri))
}

func (n *wildNode) match(rest string) *registration {
	comp, tail, more := strings.Cut(rest, ".")
	for _, key := range [2]string{comp, ""} {
		k := n.kids[key]
		if k == nil {
			continue
		}
		if !more {
			if k.reg != nil {
				return k.reg
			}
		} else if r := k.match(tail); r != nil {
			return r
		}
		if comp == "" { // never in a valid CALL URI; do not try "" twice
			break
		}
	}
	return nil
}

// validPattern checks a REGISTER URI under its match policy: prefixes may
// end with a dot ("com.myapp." covers com.myapp.*), wildcard patterns may
// have empty components.
func validPattern(u wamp.URI, match string, strict bool) bool {
	switch match {
	case wamp.MatchPrefix:
		if n := len(u); n > 1 && u[n-1] == '.' {
			u = u[:n-1]
		}
		return wamp.ValidURI(u, strict, false)
	case wamp.MatchWildcard:
		return wamp.ValidURI(u, strict, true)
	default:
		return wamp.ValidURI(u, strict, false)
	}
}
