package auth

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/switchboard/switchboard/wamp"
)

// Authentication methods.
const (
	MethodAnonymous  = "anonymous"
	MethodTicket     = "ticket"
	MethodWAMPCRA    = "wampcra"
	MethodCryptosign = "cryptosign"
	MethodTLS        = "tls"
	// MethodScram ("wamp-scram") is in scram.go, with its alias.
)

// Methods lists every method this package implements.
var Methods = []string{MethodAnonymous, MethodTicket, MethodWAMPCRA, MethodCryptosign, MethodTLS, MethodScram}

// Providers, as WELCOME.Details.authprovider names them.
const (
	ProviderStatic  = "static"
	ProviderDynamic = "dynamic"
)

// Identity is who a session authenticated as: what WELCOME announces.
type Identity struct {
	AuthID       string
	AuthRole     string
	AuthMethod   string
	AuthProvider string
	// AuthExtra is WELCOME.Details.authextra; nil for none.
	AuthExtra wamp.Dict
	// Expires, when not zero, is when the session must end because its
	// credentials do (a JWT ticket's exp with expire_sessions): the realm
	// then closes it with GOODBYE switchboard.close.token_expired.
	Expires time.Time
}

// Transport describes the connection a HELLO came on.
type Transport struct {
	// Type is "websocket" or "rawsocket".
	Type string
	// Peer is the remote address, "ip:port" (empty for a Unix socket).
	Peer string
	// TLS is the connection's TLS state; nil without TLS.
	TLS *tls.ConnectionState
}

// Request is one HELLO to authenticate.
type Request struct {
	Realm   wamp.URI
	Session wamp.ID // the id the session gets once admitted
	// Details is HELLO.Details.
	Details   wamp.Dict
	Transport Transport
	// Allowed, when not nil, restricts the methods to those the listener
	// permits.
	Allowed []string
}

// AuthID returns HELLO.Details.authid, or "".
func (r *Request) AuthID() string { return wamp.String(r.Details, "authid") }

// AuthExtra returns HELLO.Details.authextra, or nil.
func (r *Request) AuthExtra() wamp.Dict {
	d, _ := r.Details["authextra"].(map[string]any)
	return d
}

// AuthMethods returns HELLO.Details.authmethods; a HELLO without any asks
// for anonymous access, as the specification has it.
func (r *Request) AuthMethods() []string {
	list, ok := r.Details["authmethods"].([]any)
	if !ok || len(list) == 0 {
		return []string{MethodAnonymous}
	}
	out := make([]string, 0, len(list))
	for _, v := range list {
		if s, ok := v.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// Challenger sends CHALLENGE to the client and returns its AUTHENTICATE:
// the signature and extra. *session.Session implements it.
type Challenger interface {
	Challenge(method string, extra wamp.Dict) (signature string, authExtra wamp.Dict, err error)
}

// Authenticator is one configured authentication method of a realm.
type Authenticator interface {
	// Method is the method name, one of Methods.
	Method() string
	// Accepts reports whether this authenticator takes req: a static
	// ticket authenticator only an authid it knows, cryptosign only a
	// HELLO with a public key it knows. Set skips one that does not, so
	// that the next method the client offered is tried.
	Accepts(req *Request) bool
	// Authenticate runs the method's exchange and returns the identity.
	Authenticate(ctx context.Context, req *Request, ch Challenger) (Identity, error)
}

// Set is the authentication of one realm: its methods in order.
type Set struct {
	methods []Authenticator
	limiter *Limiter
	sleep   func(context.Context, time.Duration) error
	log     *slog.Logger
}

// SetConfig configures a Set.
type SetConfig struct {
	// Methods in the order they are tried. Nil means anonymous access only,
	// under the role "anonymous".
	Methods []Authenticator
	// Limiter slows down addresses with recent failures. Nil means none.
	Limiter *Limiter
	// Sleep waits d or until ctx is done. Nil means a timer; tests inject
	// one that records the delays.
	Sleep func(ctx context.Context, d time.Duration) error
	// Logger. Nil means discard.
	Logger *slog.Logger
}

// NewSet returns the authentication of a realm.
func NewSet(cfg SetConfig) *Set {
	s := &Set{methods: cfg.Methods, limiter: cfg.Limiter, sleep: cfg.Sleep, log: cfg.Logger}
	if s.methods == nil {
		s.methods = []Authenticator{Anonymous{}}
	}
	if s.sleep == nil {
		s.sleep = sleep
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Methods returns the method names in the order they are tried.
func (s *Set) Methods() []string {
	out := make([]string, len(s.methods))
	for i, a := range s.methods {
		out[i] = a.Method()
	}
	return out
}

// Authenticate picks a method for req and runs it. The error wraps one of
// the package's sentinels (or a *wamp.Error from a dynamic authenticator);
// WAMPError gives the ABORT reason.
func (s *Set) Authenticate(ctx context.Context, req *Request, ch Challenger) (Identity, error) {
	offered := req.AuthMethods()
	var chosen Authenticator
	configured := false
	for _, a := range s.methods {
		m := a.Method()
		if !offers(offered, a) || req.Allowed != nil && !slices.Contains(req.Allowed, m) {
			continue
		}
		configured = true
		if a.Accepts(req) {
			chosen = a
			break
		}
	}
	if chosen == nil && !configured {
		return Identity{}, fmt.Errorf("%w: the client offers %v, this realm takes %v", ErrNoAuthMethod, offered, s.allowed(req))
	}
	if d := s.limiter.Delay(req.Transport.Peer); d > 0 {
		s.log.Info("auth: slowing down an address with recent failures", "remote", req.Transport.Peer, "delay", d)
		if err := s.sleep(ctx, d); err != nil {
			return Identity{}, fmt.Errorf("%w: %w", ErrInvalidCredentials, err)
		}
	}
	if chosen == nil {
		s.limiter.Failure(req.Transport.Peer)
		return Identity{}, fmt.Errorf("%w: no principal for authid %q by %v", ErrInvalidCredentials, req.AuthID(), offered)
	}
	id, err := chosen.Authenticate(ctx, req, ch)
	if err != nil {
		s.limiter.Failure(req.Transport.Peer)
		return Identity{}, fmt.Errorf("%s: %w", chosen.Method(), err)
	}
	return id, nil
}

// aliaser is an Authenticator that clients also offer under other names
// (Scram: Autobahn|Python's "scram"). A listener's or realm's list names
// the method by Method() alone.
type aliaser interface {
	Aliases() []string
}

// offers reports whether the client's authmethods name a, by its name or
// an alias.
func offers(offered []string, a Authenticator) bool {
	if slices.Contains(offered, a.Method()) {
		return true
	}
	if al, ok := a.(aliaser); ok {
		for _, n := range al.Aliases() {
			if slices.Contains(offered, n) {
				return true
			}
		}
	}
	return false
}

func (s *Set) allowed(req *Request) []string {
	var out []string
	for _, m := range s.Methods() {
		if (req.Allowed == nil || slices.Contains(req.Allowed, m)) && !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	return out
}

// Anonymous admits anyone who asks for anonymous access, under Role, with
// the session id as authid (what Crossbar.io does).
type Anonymous struct {
	// Role is the authrole. Zero value: "anonymous".
	Role string
}

// Method implements Authenticator.
func (Anonymous) Method() string { return MethodAnonymous }

// Accepts implements Authenticator.
func (Anonymous) Accepts(*Request) bool { return true }

// Authenticate implements Authenticator.
func (a Anonymous) Authenticate(_ context.Context, req *Request, _ Challenger) (Identity, error) {
	role := a.Role
	if role == "" {
		role = "anonymous"
	}
	return Identity{
		AuthID:       fmt.Sprint(uint64(req.Session)),
		AuthRole:     role,
		AuthMethod:   MethodAnonymous,
		AuthProvider: ProviderStatic,
	}, nil
}
