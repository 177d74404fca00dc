package auth

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"sync"
	"testing"
	"time"

	"github.com/switchboard/switchboard/internal/testutil"
	"github.com/switchboard/switchboard/wamp"
)

// challenger is the client side of CHALLENGE/AUTHENTICATE: respond computes
// the signature from the challenge. It records the challenges it got.
type challenger struct {
	respond    func(method string, extra wamp.Dict) string
	challenges []wamp.Dict
	methods    []string
}

func (c *challenger) Challenge(method string, extra wamp.Dict) (string, wamp.Dict, error) {
	c.methods = append(c.methods, method)
	c.challenges = append(c.challenges, extra)
	if c.respond == nil {
		return "", nil, nil
	}
	return c.respond(method, extra), wamp.Dict{}, nil
}

// answer returns a challenger that always answers sig.
func answer(sig string) *challenger {
	return &challenger{respond: func(string, wamp.Dict) string { return sig }}
}

// caller is a fake Caller: fn answers each call; calls are recorded.
type caller struct {
	mu    sync.Mutex
	fn    func(ctx context.Context, args []any) ([]any, error)
	calls [][]any
	procs []wamp.URI
}

func (c *caller) Call(ctx context.Context, proc wamp.URI, args []any, _ map[string]any) ([]any, map[string]any, error) {
	c.mu.Lock()
	c.calls = append(c.calls, args)
	c.procs = append(c.procs, proc)
	c.mu.Unlock()
	res, err := c.fn(ctx, args)
	return res, nil, err
}

func (c *caller) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.calls)
}

func returns(v any) *caller {
	return &caller{fn: func(context.Context, []any) ([]any, error) { return []any{v}, nil }}
}

func hello(authid string, methods ...string) *Request {
	d := wamp.Dict{}
	if authid != "" {
		d["authid"] = authid
	}
	if methods != nil {
		list := make([]any, len(methods))
		for i, m := range methods {
			list[i] = m
		}
		d["authmethods"] = list
	}
	return &Request{Realm: "realm1", Session: 4242, Details: d, Transport: Transport{Type: "websocket", Peer: "192.0.2.1:5555"}}
}

// clock is a manual clock for the limiter and the authorizer cache.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// clientCertState returns the TLS state of a connection whose client
// presented a certificate with common name cn, verified or not.
func clientCertState(t *testing.T, cn string, verified bool) *tls.ConnectionState {
	t.Helper()
	c := testutil.NewCert(t, testutil.CertSpec{CommonName: cn}).Leaf
	cs := &tls.ConnectionState{Version: tls.VersionTLS13, PeerCertificates: []*x509.Certificate{c}}
	if verified {
		cs.VerifiedChains = [][]*x509.Certificate{{c}}
	}
	return cs
}
