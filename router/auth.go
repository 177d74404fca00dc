package router

import (
	"context"
	"crypto/ed25519"
	"fmt"

	"github.com/switchboard/switchboard/auth"
	"github.com/switchboard/switchboard/config"
	"github.com/switchboard/switchboard/wamp"
)

// realmCaller calls a procedure registered in one of the router's realms,
// for the dynamic authenticators and authorizers of another (or the same)
// realm. The realm is looked up per call: realms are all built before any
// session joins, and may refer to each other in any order.
type realmCaller struct {
	r     *Router
	realm wamp.URI
}

func (c realmCaller) Call(ctx context.Context, proc wamp.URI, args []any, kwargs map[string]any) ([]any, map[string]any, error) {
	rl := c.r.Realm(c.realm)
	if rl == nil {
		return nil, nil, fmt.Errorf("router: no realm %q for %s", c.realm, proc)
	}
	return rl.Call(ctx, proc, args, kwargs)
}

// dynamicRealm is where a dynamic procedure of realm own is registered:
// its own realm unless the config names another (config.SetDefaults fills
// it in; a Config built in Go may leave it empty).
func dynamicRealm(d *config.Dynamic, own wamp.URI) wamp.URI {
	if d.Realm == "" {
		return own
	}
	return d.Realm
}

// buildAuth turns a realm's config into its authentication methods and its
// authorizer (nil when the realm has neither roles nor an authorizer:
// everything is allowed).
func (r *Router) buildAuth(rc *config.Realm, lim *auth.Limiter) (*auth.Set, auth.Authorizer, error) {
	var methods []auth.Authenticator
	for i := range rc.Auth {
		m, err := r.authenticator(&rc.Auth[i], rc.Name)
		if err != nil {
			return nil, nil, fmt.Errorf("realm %s: auth[%d] %s: %w", rc.Name, i, rc.Auth[i].Method, err)
		}
		methods = append(methods, m)
	}
	set := auth.NewSet(auth.SetConfig{Methods: methods, Limiter: lim, Logger: r.log.With("realm", string(rc.Name))})

	var static *auth.Static
	if rc.Roles != nil {
		roles := make([]auth.Role, len(rc.Roles))
		for i, role := range rc.Roles {
			roles[i].Name = role.Name
			for _, p := range role.Permissions {
				ap := auth.Permission{URI: p.URI, Match: p.Match, DiscloseCaller: p.DiscloseCaller, DisclosePublisher: p.DisclosePublisher}
				for _, a := range p.Allow {
					act, ok := auth.ParseAction(a)
					if !ok {
						return nil, nil, fmt.Errorf("realm %s: role %s: unknown action %q", rc.Name, role.Name, a)
					}
					ap.Allow = append(ap.Allow, act)
				}
				roles[i].Permissions = append(roles[i].Permissions, ap)
			}
		}
		var err error
		if static, err = auth.NewStatic(roles); err != nil {
			return nil, nil, fmt.Errorf("realm %s: %w", rc.Name, err)
		}
	}
	switch {
	case rc.Authorizer != nil:
		a := rc.Authorizer
		dyn := &auth.DynamicAuthorizer{Caller: realmCaller{r, dynamicRealm(a, rc.Name)}, Procedure: a.Procedure, Timeout: a.Timeout, Cache: a.Cache}
		return set, auth.Chain{Static: static, Dynamic: dyn}, nil
	case static != nil:
		return set, static, nil
	}
	return set, nil, nil
}

func (r *Router) authenticator(m *config.AuthMethod, realm wamp.URI) (auth.Authenticator, error) {
	if m.JWT != nil {
		if m.Method != auth.MethodTicket {
			return nil, fmt.Errorf("jwt is for the ticket method only")
		}
		// The keys are read here, so that a reload rereads the secret,
		// PEM or JWKS files.
		c, err := m.JWT.AuthConfig()
		if err != nil {
			return nil, fmt.Errorf("jwt: %w", err)
		}
		return auth.NewJWTTicket(c)
	}
	var dyn *auth.Dynamic
	if d := m.Dynamic; d != nil {
		dyn = &auth.Dynamic{Caller: realmCaller{r, dynamicRealm(d, realm)}, Procedure: d.Procedure, Timeout: d.Timeout}
	}
	ps := make([]auth.Principal, len(m.Principals))
	for i, p := range m.Principals {
		ap := auth.Principal{AuthID: p.AuthID, Role: p.Role, Salt: p.Salt, Iterations: p.Iterations, KeyLen: p.KeyLen}
		var err error
		if p.Ticket != nil {
			if ap.Ticket, err = p.Ticket.Resolve(); err != nil {
				return nil, fmt.Errorf("principal %q: ticket: %w", p.AuthID, err)
			}
		}
		if p.Secret != nil {
			if ap.Secret, err = p.Secret.Resolve(); err != nil {
				return nil, fmt.Errorf("principal %q: secret: %w", p.AuthID, err)
			}
		}
		for _, k := range p.PubKeys {
			key, err := config.ParsePubKey(k)
			if err != nil {
				return nil, fmt.Errorf("principal %q: public key %q: %w", p.AuthID, k, err)
			}
			ap.PubKeys = append(ap.PubKeys, ed25519.PublicKey(key))
		}
		for _, f := range p.Fingerprints {
			b, err := config.ParseFingerprint(f)
			if err != nil {
				return nil, fmt.Errorf("principal %q: fingerprint %q: %w", p.AuthID, f, err)
			}
			ap.Fingerprints = append(ap.Fingerprints, b)
		}
		if m.Method == auth.MethodScram {
			k, err := auth.ParseScramKeys(p.KDF, p.Salt, p.Iterations, p.Memory, p.StoredKey, p.ServerKey)
			if err != nil {
				return nil, fmt.Errorf("principal %q: %w", p.AuthID, err)
			}
			ap.Scram, ap.Salt, ap.Iterations = &k, "", 0
		}
		ps[i] = ap
	}
	switch m.Method {
	case auth.MethodAnonymous:
		return auth.Anonymous{Role: m.Role}, nil
	case auth.MethodTicket:
		return auth.NewTicket(ps, dyn)
	case auth.MethodWAMPCRA:
		return auth.NewWAMPCRA(ps, dyn)
	case auth.MethodCryptosign:
		return auth.NewCryptosign(ps, dyn)
	case auth.MethodTLS:
		return auth.NewTLSCert(ps, dyn)
	case auth.MethodScram:
		return auth.NewScram(ps, dyn)
	}
	return nil, fmt.Errorf("unknown method %q", m.Method)
}
