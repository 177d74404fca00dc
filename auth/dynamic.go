package auth

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"maps"
	"time"

	"github.com/switchboard/switchboard/wamp"
)

// Caller calls a procedure registered in some realm, as the router itself:
// the seam through which dynamic authenticators and authorizers reach the
// backend that answers for them. The realm implements it on top of the
// dealer. A callee's ERROR is returned as a *wamp.Error.
type Caller interface {
	Call(ctx context.Context, procedure wamp.URI, args []any, kwargs map[string]any) ([]any, map[string]any, error)
}

// DefaultDynamicTimeout bounds a call to a dynamic authenticator or
// authorizer whose config gives no timeout.
const DefaultDynamicTimeout = 5 * time.Second

// Dynamic is a procedure that authenticates: the router calls it with
// (realm, authid, details), as Crossbar.io calls its dynamic
// authenticators, and it answers with the principal (see principal) or an
// ERROR. details is HELLO.Details plus "session" (the id the session will
// get), "authmethod", "transport" ({type, peer, client_cert}) and, for
// ticket, "ticket". Its failure or timeout refuses the session.
type Dynamic struct {
	Caller    Caller
	Procedure wamp.URI
	// Timeout bounds the call. Zero value: DefaultDynamicTimeout.
	Timeout time.Duration
}

// principal is what a dynamic authenticator answers: a string (the role)
// or a dict with "role" (or "authrole") and optionally "authid" (which
// replaces the one of HELLO), "authextra" (for WELCOME), and the method's
// credentials: "secret", "salt", "iterations", "keylen" for wampcra,
// "pubkey" for cryptosign, "kdf", "salt", "iterations", "memory",
// "stored_key", "server_key" for wamp-scram (see principal.scramKeys).
type principal struct {
	authID, role string
	secret       string
	salt         string
	iterations   int
	keyLen       int
	pubKey       string
	authExtra    wamp.Dict
	// raw is the answer's dict, for the credentials of one method only
	// (wamp-scram's); nil for a role alone.
	raw map[string]any
}

func (d *Dynamic) authenticate(ctx context.Context, req *Request, method string, extra wamp.Dict) (principal, error) {
	timeout := d.Timeout
	if timeout <= 0 {
		timeout = DefaultDynamicTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	details := maps.Clone(req.Details)
	if details == nil {
		details = wamp.Dict{}
	}
	details["session"] = uint64(req.Session)
	details["authmethod"] = method
	details["transport"] = transportDetails(req.Transport)
	maps.Copy(details, extra)
	args, kwargs, err := d.Caller.Call(ctx, d.Procedure, []any{string(req.Realm), req.AuthID(), details}, nil)
	if err != nil {
		return principal{}, fmt.Errorf("%w: %s: %w", ErrAuthenticator, d.Procedure, err)
	}
	p, err := parsePrincipal(args, kwargs)
	if err != nil {
		return principal{}, fmt.Errorf("%w: %s: %v", ErrAuthenticator, d.Procedure, err)
	}
	if p.authID == "" {
		p.authID = req.AuthID()
	}
	if p.authID == "" {
		return principal{}, fmt.Errorf("%w: %s gave no authid and the client sent none", ErrAuthenticator, d.Procedure)
	}
	return p, nil
}

// transportDetails describes the connection to a dynamic authenticator or
// authorizer.
func transportDetails(t Transport) map[string]any {
	d := map[string]any{"type": t.Type, "peer": t.Peer}
	if t.TLS != nil {
		d["tls"] = true
		if c := clientCert(t.TLS); c != nil {
			sum := sha256.Sum256(c.Raw)
			d["client_cert"] = map[string]any{
				"subject":     c.Subject.String(),
				"cn":          c.Subject.CommonName,
				"issuer":      c.Issuer.String(),
				"fingerprint": hex.EncodeToString(sum[:]),
			}
		}
	}
	return d
}

func parsePrincipal(args []any, kwargs map[string]any) (principal, error) {
	var v any
	if len(args) > 0 {
		v = args[0]
	} else if kwargs != nil {
		v = kwargs
	}
	var p principal
	switch x := v.(type) {
	case string:
		p.role = x
	case map[string]any:
		p.raw = x
		str := func(k string) (string, error) {
			switch s := x[k].(type) {
			case nil:
				return "", nil
			case string:
				return s, nil
			}
			return "", fmt.Errorf("%s must be a string", k)
		}
		num := func(k string) (int, error) {
			if x[k] == nil {
				return 0, nil
			}
			n, ok := wamp.AsInt(x[k])
			if !ok || n <= 0 || n > 1<<24 {
				return 0, fmt.Errorf("%s must be a positive integer", k)
			}
			return int(n), nil
		}
		var err error
		for _, f := range []struct {
			key string
			dst *string
		}{{"authid", &p.authID}, {"secret", &p.secret}, {"salt", &p.salt}, {"pubkey", &p.pubKey}} {
			if *f.dst, err = str(f.key); err != nil {
				return p, err
			}
		}
		if p.role, err = str("role"); err != nil {
			return p, err
		}
		if p.role == "" {
			if p.role, err = str("authrole"); err != nil {
				return p, err
			}
		}
		if p.iterations, err = num("iterations"); err != nil {
			return p, err
		}
		if p.keyLen, err = num("keylen"); err != nil {
			return p, err
		}
		if ae, ok := x["authextra"]; ok && ae != nil {
			if p.authExtra, ok = ae.(map[string]any); !ok {
				return p, fmt.Errorf("authextra must be a dict")
			}
		}
	default:
		return p, fmt.Errorf("answer must be a role (string) or a dict with role, got %T", v)
	}
	if p.role == "" {
		return p, fmt.Errorf("answer has no role")
	}
	return p, nil
}

// clientCert returns the verified client certificate of a TLS connection,
// or nil.
func clientCert(cs *tls.ConnectionState) *x509.Certificate {
	if cs == nil || len(cs.VerifiedChains) == 0 || len(cs.PeerCertificates) == 0 {
		return nil
	}
	return cs.PeerCertificates[0]
}
