package auth

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/switchboard/switchboard/wamp"
)

// Action is what a session asks to do with a URI.
type Action uint8

// Actions of authorization.md.
const (
	ActionCall Action = iota + 1
	ActionRegister
	ActionPublish
	ActionSubscribe
)

var actionNames = [...]string{ActionCall: "call", ActionRegister: "register", ActionPublish: "publish", ActionSubscribe: "subscribe"}

func (a Action) String() string {
	if int(a) < len(actionNames) && actionNames[a] != "" {
		return actionNames[a]
	}
	return fmt.Sprintf("Action(%d)", uint8(a))
}

// ParseAction maps "call", "register", "publish" or "subscribe" to its
// Action.
func ParseAction(s string) (Action, bool) {
	for a, n := range actionNames {
		if n != "" && n == s {
			return Action(a), true
		}
	}
	return 0, false
}

// Subject is the session an authorization is for.
type Subject struct {
	Session      wamp.ID
	Realm        wamp.URI
	AuthID       string
	AuthRole     string
	AuthMethod   string
	AuthProvider string
}

// Access is one request to authorize: the action on a URI, which is a
// pattern when Match is "prefix" or "wildcard" (SUBSCRIBE, REGISTER).
type Access struct {
	Action Action
	URI    wamp.URI
	Match  string // "" or wamp.MatchExact, wamp.MatchPrefix, wamp.MatchWildcard
}

// Decision is an authorizer's answer.
type Decision struct {
	Allow bool
	// Disclose asks the router to disclose the caller (call) or publisher
	// (publish) to the receivers, whatever the client asked.
	Disclose bool
}

// Authorizer decides whether a session may perform an action. An error
// means the authorizer could not decide; the router refuses the action.
type Authorizer interface {
	Authorize(ctx context.Context, s Subject, a Access) (Decision, error)
}

// RoleChecker is an Authorizer that knows which roles exist, so that a
// session authenticated under any other is refused at join with
// wamp.error.no_such_role.
type RoleChecker interface {
	HasRole(role string) bool
}

// Permission allows some actions on the URIs that match a pattern.
type Permission struct {
	URI   wamp.URI
	Match string // wamp.MatchExact (zero value), wamp.MatchPrefix or wamp.MatchWildcard
	Allow []Action
	// DiscloseCaller and DisclosePublisher make the router disclose the
	// session's identity on calls and publications allowed by this
	// permission.
	DiscloseCaller, DisclosePublisher bool
}

// Role is a named set of permissions.
type Role struct {
	Name        string
	Permissions []Permission
}

// rule is a permission ready for matching.
type rule struct {
	allow             [5]bool // by Action
	discloseCaller    bool
	disclosePublisher bool
	pattern           []string // wildcard components, "" matching any
}

func (r *rule) decide(a Action) Decision {
	d := Decision{Allow: r.allow[a]}
	switch a {
	case ActionCall:
		d.Disclose = d.Allow && r.discloseCaller
	case ActionPublish:
		d.Disclose = d.Allow && r.disclosePublisher
	}
	return d
}

type prefixRule struct {
	prefix string
	rule
}

type wildRule struct {
	uri string
	rule
}

// roleRules are one role's permissions, indexed so that a check costs a
// map lookup plus a scan of the role's (few) patterns and allocates
// nothing.
type roleRules struct {
	exact  map[wamp.URI]*rule
	prefix []prefixRule // longest first
	wild   []wildRule   // most specific (most literal components) first
}

// Static is Crossbar.io's static authorizer: each role has permissions on
// URI patterns. For a URI the most specific permission decides: an exact
// one, else the longest prefix, else the wildcard pattern with the most
// literal components (the first listed among equals); with no permission
// matching, the action is denied. A pattern subscription or registration
// is checked with its pattern as the URI, so a prefix permission on
// "app." allows subscribing to the prefix "app.x" but not to "ap".
type Static struct {
	roles map[string]*roleRules
}

// NewStatic indexes roles.
func NewStatic(roles []Role) (*Static, error) {
	s := &Static{roles: make(map[string]*roleRules, len(roles))}
	for _, r := range roles {
		if r.Name == "" {
			return nil, fmt.Errorf("%w: role without a name", ErrBadPermission)
		}
		if s.roles[r.Name] != nil {
			return nil, fmt.Errorf("%w: role %q listed twice", ErrBadPermission, r.Name)
		}
		rr := &roleRules{exact: make(map[wamp.URI]*rule)}
		for i, p := range r.Permissions {
			ru := rule{discloseCaller: p.DiscloseCaller, disclosePublisher: p.DisclosePublisher}
			for _, a := range p.Allow {
				if a < ActionCall || a > ActionSubscribe {
					return nil, fmt.Errorf("%w: role %q permission %d: unknown action %v", ErrBadPermission, r.Name, i, a)
				}
				ru.allow[a] = true
			}
			switch p.Match {
			case "", wamp.MatchExact:
				if rr.exact[p.URI] != nil {
					return nil, fmt.Errorf("%w: role %q: exact %q listed twice", ErrBadPermission, r.Name, p.URI)
				}
				rr.exact[p.URI] = &ru
			case wamp.MatchPrefix:
				if slices.ContainsFunc(rr.prefix, func(x prefixRule) bool { return x.prefix == string(p.URI) }) {
					return nil, fmt.Errorf("%w: role %q: prefix %q listed twice", ErrBadPermission, r.Name, p.URI)
				}
				rr.prefix = append(rr.prefix, prefixRule{string(p.URI), ru})
			case wamp.MatchWildcard:
				if slices.ContainsFunc(rr.wild, func(x wildRule) bool { return x.uri == string(p.URI) }) {
					return nil, fmt.Errorf("%w: role %q: wildcard %q listed twice", ErrBadPermission, r.Name, p.URI)
				}
				ru.pattern = strings.Split(string(p.URI), ".")
				rr.wild = append(rr.wild, wildRule{string(p.URI), ru})
			default:
				return nil, fmt.Errorf("%w: role %q permission %d: match %q", ErrBadPermission, r.Name, i, p.Match)
			}
		}
		slices.SortStableFunc(rr.prefix, func(a, b prefixRule) int { return len(b.prefix) - len(a.prefix) })
		slices.SortStableFunc(rr.wild, func(a, b wildRule) int { return literals(b.pattern) - literals(a.pattern) })
		s.roles[r.Name] = rr
	}
	return s, nil
}

func literals(pattern []string) int {
	n := 0
	for _, c := range pattern {
		if c != "" {
			n++
		}
	}
	return n
}

// HasRole implements RoleChecker.
func (s *Static) HasRole(role string) bool { return s.roles[role] != nil }

// Authorize implements Authorizer. It never blocks and never fails.
func (s *Static) Authorize(_ context.Context, sub Subject, a Access) (Decision, error) {
	rr := s.roles[sub.AuthRole]
	if rr == nil {
		return Decision{}, nil
	}
	if r := rr.exact[a.URI]; r != nil {
		return r.decide(a.Action), nil
	}
	for i := range rr.prefix {
		if strings.HasPrefix(string(a.URI), rr.prefix[i].prefix) {
			return rr.prefix[i].decide(a.Action), nil
		}
	}
	for i := range rr.wild {
		if matchWildcard(rr.wild[i].pattern, string(a.URI)) {
			return rr.wild[i].decide(a.Action), nil
		}
	}
	return Decision{}, nil
}

// matchWildcard reports whether uri has as many components as pattern and
// equals it in each non-empty one. It does not allocate.
func matchWildcard(pattern []string, uri string) bool {
	for i, p := range pattern {
		var c string
		if i == len(pattern)-1 {
			c = uri
			if strings.IndexByte(c, '.') >= 0 {
				return false
			}
		} else {
			j := strings.IndexByte(uri, '.')
			if j < 0 {
				return false
			}
			c, uri = uri[:j], uri[j+1:]
		}
		if p != "" && p != c {
			return false
		}
	}
	return true
}

// Chain asks Static for the roles it has and Dynamic for every other, as
// Crossbar.io lets each role be static or dynamic.
type Chain struct {
	Static  *Static
	Dynamic Authorizer
}

// HasRole implements RoleChecker: with a dynamic authorizer every role
// exists.
func (c Chain) HasRole(role string) bool {
	return c.Dynamic != nil || c.Static != nil && c.Static.HasRole(role)
}

// Authorize implements Authorizer.
func (c Chain) Authorize(ctx context.Context, s Subject, a Access) (Decision, error) {
	if c.Static != nil && (c.Dynamic == nil || c.Static.HasRole(s.AuthRole)) {
		return c.Static.Authorize(ctx, s, a)
	}
	if c.Dynamic != nil {
		return c.Dynamic.Authorize(ctx, s, a)
	}
	return Decision{}, nil
}

// Forget passes a session's departure on to the dynamic authorizer's cache.
func (c Chain) Forget(session wamp.ID) {
	if f, ok := c.Dynamic.(interface{ Forget(wamp.ID) }); ok {
		f.Forget(session)
	}
}
