package nexus_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/switchboard/switchboard/config"
	"github.com/switchboard/switchboard/internal/testutil"
)

// Transport security through the router and its config: the WebSocket
// Origin allow-list and the per-address connection limit.

func parseConfig(t *testing.T, src string) *config.Config {
	t.Helper()
	cfg, err := config.Parse("test.yaml", []byte(src))
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	return cfg
}

func TestOriginAllowList(t *testing.T) {
	// The default: pages from this machine, and clients that are no
	// browser (no Origin header), which is every client of these tests.
	def := urlOf(t, startRouter(t, nil), kindWS)
	for origin, want := range map[string]int{
		"":                        http.StatusSwitchingProtocols,
		"http://localhost:8000":   http.StatusSwitchingProtocols,
		"http://127.0.0.1:5173":   http.StatusSwitchingProtocols,
		"https://[::1]":           http.StatusSwitchingProtocols,
		"https://evil.example":    http.StatusForbidden,
		"http://localhost.evil":   http.StatusForbidden,
		"null":                    http.StatusForbidden,
		"https://app.example.com": http.StatusForbidden,
	} {
		if got := testutil.WebSocketUpgrade(t, def, origin); got != want {
			t.Errorf("default config, Origin %q: HTTP %d, want %d", origin, got, want)
		}
	}
	connect(t, def, serJSON) // the nexus client sends no Origin

	listed := urlOf(t, startRouter(t, parseConfig(t, `transports:
  - type: websocket
    listen: 127.0.0.1:0
    allowed_origins: ["https://app.example.com", "https://*.example.org"]
`)), kindWS)
	for origin, want := range map[string]int{
		"https://app.example.com": http.StatusSwitchingProtocols,
		"https://a.b.example.org": http.StatusSwitchingProtocols,
		"http://app.example.com":  http.StatusForbidden,
		"https://example.org":     http.StatusForbidden,
		"http://localhost:8000":   http.StatusForbidden,
		"":                        http.StatusSwitchingProtocols,
	} {
		if got := testutil.WebSocketUpgrade(t, listed, origin); got != want {
			t.Errorf("allowed_origins list, Origin %q: HTTP %d, want %d", origin, got, want)
		}
	}

	open := urlOf(t, startRouter(t, parseConfig(t, `transports:
  - type: websocket
    listen: 127.0.0.1:0
    allowed_origins: ["*"]
`)), kindWS)
	if got := testutil.WebSocketUpgrade(t, open, "https://anywhere.example"); got != http.StatusSwitchingProtocols {
		t.Errorf(`allowed_origins ["*"]: HTTP %d, want 101`, got)
	}
}

func TestConnectionLimitPerAddress(t *testing.T) {
	r := startRouter(t, parseConfig(t, `transports:
  - type: websocket
    listen: 127.0.0.1:0
    max_connections_per_address: 2
  - type: rawsocket
    listen: 127.0.0.1:0
    max_connections_per_address: 2
`))
	ws, tcp := urlOf(t, r, kindWS), urlOf(t, r, kindTCP)
	for _, u := range []string{ws, tcp} {
		a, err := dial(u, serJSON, "realm1")
		if err != nil {
			t.Fatalf("first client on %s: %v", u, err)
		}
		connect(t, u, serJSON)
		if _, err := dial(u, serJSON, "realm1"); err == nil {
			t.Fatalf("third client from 127.0.0.1 joined %s", u)
		}
		if strings.HasPrefix(u, "ws") {
			if got := testutil.WebSocketUpgrade(t, u, ""); got != http.StatusServiceUnavailable {
				t.Errorf("third WebSocket: HTTP %d, want 503", got)
			}
		} else {
			c, err := tryDialRaw(t, u, serJSON, nil)
			if err == nil || !strings.Contains(err.Error(), "7f 40 00 00") {
				t.Errorf("third RawSocket: %v, want handshake reply 7f 40 00 00 (error 4: maximum connection count reached)", err)
			}
			if c != nil {
				_ = c.nc.Close()
			}
		}
		// A client that leaves frees its place.
		_ = a.Close()
		testutil.CheckFor(t, bound, func() error {
			c, err := dial(u, serJSON, "realm1")
			if err != nil {
				return err
			}
			return c.Close()
		})
	}
}

// A listener's auth_methods restrict how its sessions may authenticate:
// here the RawSocket listener takes tickets only, while the WebSocket one
// keeps anonymous access too.
func TestListenerAuthMethods(t *testing.T) {
	r := startRouter(t, parseConfig(t, `transports:
  - type: websocket
    listen: 127.0.0.1:0
  - type: rawsocket
    listen: 127.0.0.1:0
    auth_methods: [ticket]
realms:
  - name: realm1
    auth:
      - method: ticket
        principals: [{authid: alice, role: user, ticket: alice-ticket}]
      - method: anonymous
`))
	ws, tcp := urlOf(t, r, kindWS), urlOf(t, r, kindTCP)
	wantWelcome(t, join(t, ws, serJSON), "*", "anonymous", "anonymous", "static")
	wantWelcome(t, join(t, tcp, serJSON, asTicket("alice", "alice-ticket")), "alice", "user", "ticket", "static")
	c, err := dial(tcp, serJSON, "realm1")
	if err == nil {
		_ = c.Close()
		t.Fatal("anonymous session admitted on a ticket-only listener")
	}
	wantErrorURI(t, err, "wamp.error.no_auth_method")
}
