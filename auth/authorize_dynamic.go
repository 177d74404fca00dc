package auth

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/switchboard/switchboard/wamp"
)

// DefaultMaxCached bounds the answers a DynamicAuthorizer keeps.
const DefaultMaxCached = 10000

// DynamicAuthorizer asks a procedure whether a session may act: the router
// calls it with (session, uri, action, options), where session is the
// session's details (session, realm, authid, authrole, authmethod,
// authprovider), action one of "call", "register", "publish", "subscribe"
// and options {"match": ...}; it answers true, false, or a dict {"allow":
// bool, "disclose": bool, "cache": bool}. With Cache set, answers are kept
// that long per (session, action, uri, match), unless the answer says
// "cache": false. A failure or timeout refuses the action and is not
// cached.
type DynamicAuthorizer struct {
	Caller    Caller
	Procedure wamp.URI
	// Timeout bounds a call. Zero value: DefaultDynamicTimeout.
	Timeout time.Duration
	// Cache is how long an answer is reused. Zero value: not cached.
	Cache time.Duration
	// MaxCached bounds the cache. Zero value: DefaultMaxCached.
	MaxCached int
	// Now is the clock. Nil means time.Now.
	Now func() time.Time

	mu    sync.Mutex
	cache map[cacheKey]cached
}

type cacheKey struct {
	session wamp.ID
	action  Action
	uri     wamp.URI
	match   string
}

type cached struct {
	d       Decision
	expires time.Time
}

func (z *DynamicAuthorizer) now() time.Time {
	if z.Now != nil {
		return z.Now()
	}
	return time.Now()
}

// Authorize implements Authorizer.
func (z *DynamicAuthorizer) Authorize(ctx context.Context, s Subject, a Access) (Decision, error) {
	k := cacheKey{s.Session, a.Action, a.URI, a.Match}
	if z.Cache > 0 {
		z.mu.Lock()
		c, ok := z.cache[k]
		if ok && z.now().Before(c.expires) {
			z.mu.Unlock()
			return c.d, nil
		}
		if ok {
			delete(z.cache, k)
		}
		z.mu.Unlock()
	}
	timeout := z.Timeout
	if timeout <= 0 {
		timeout = DefaultDynamicTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	session := map[string]any{
		"session": uint64(s.Session), "realm": string(s.Realm), "authid": s.AuthID,
		"authrole": s.AuthRole, "authmethod": s.AuthMethod, "authprovider": s.AuthProvider,
	}
	opts := map[string]any{}
	if a.Match != "" {
		opts["match"] = a.Match
	}
	args, kwargs, err := z.Caller.Call(ctx, z.Procedure, []any{session, string(a.URI), a.Action.String(), opts}, nil)
	if err != nil {
		return Decision{}, fmt.Errorf("%w: %s: %w", ErrAuthorizer, z.Procedure, err)
	}
	d, cache, err := parseDecision(args, kwargs)
	if err != nil {
		return Decision{}, fmt.Errorf("%w: %s: %v", ErrAuthorizer, z.Procedure, err)
	}
	if z.Cache > 0 && cache {
		z.mu.Lock()
		if z.cache == nil {
			z.cache = make(map[cacheKey]cached)
		}
		max := z.MaxCached
		if max <= 0 {
			max = DefaultMaxCached
		}
		if len(z.cache) >= max {
			z.evictLocked(max)
		}
		z.cache[k] = cached{d, z.now().Add(z.Cache)}
		z.mu.Unlock()
	}
	return d, nil
}

// evictLocked makes room: expired answers go first; if none had expired,
// arbitrary ones (map order) until a tenth of the bound is free, so that
// eviction is rare. z.mu must be held.
func (z *DynamicAuthorizer) evictLocked(max int) {
	now := z.now()
	for k, c := range z.cache {
		if !now.Before(c.expires) {
			delete(z.cache, k)
		}
	}
	for k := range z.cache {
		if len(z.cache) < max-max/10 {
			break
		}
		delete(z.cache, k)
	}
}

// Forget drops the cached answers of a session that left.
func (z *DynamicAuthorizer) Forget(session wamp.ID) {
	z.mu.Lock()
	defer z.mu.Unlock()
	for k := range z.cache {
		if k.session == session {
			delete(z.cache, k)
		}
	}
}

// Cached returns how many answers are cached.
func (z *DynamicAuthorizer) Cached() int {
	z.mu.Lock()
	defer z.mu.Unlock()
	return len(z.cache)
}

func parseDecision(args []any, kwargs map[string]any) (d Decision, cache bool, err error) {
	var v any
	if len(args) > 0 {
		v = args[0]
	} else if kwargs != nil {
		v = kwargs
	}
	switch x := v.(type) {
	case bool:
		return Decision{Allow: x}, true, nil
	case map[string]any:
		allow, ok := x["allow"].(bool)
		if !ok {
			return d, false, fmt.Errorf("answer has no boolean allow")
		}
		d.Allow = allow
		if v, ok := x["disclose"]; ok && v != nil {
			if d.Disclose, ok = v.(bool); !ok {
				return Decision{}, false, fmt.Errorf("disclose must be a boolean")
			}
		}
		cache = true
		if v, ok := x["cache"]; ok && v != nil {
			if cache, ok = v.(bool); !ok {
				return Decision{}, false, fmt.Errorf("cache must be a boolean")
			}
		}
		d.Disclose = d.Disclose && d.Allow
		return d, cache, nil
	}
	return d, false, fmt.Errorf("answer must be a boolean or a dict with allow, got %T", v)
}
