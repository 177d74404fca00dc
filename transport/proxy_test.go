package transport

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/gobwas/ws"
)

func TestProxyClient(t *testing.T) {
	p := proxies{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	for _, tc := range []struct {
		name, remote, xff, realIP string
		want                      string // "" = not replaced
	}{
		{"untrusted peer, headers ignored", "192.0.2.9:4000", "203.0.113.1", "203.0.113.2", ""},
		{"trusted, one hop", "127.0.0.1:4000", "203.0.113.1", "", "203.0.113.1"},
		{"trusted, X-Real-IP only", "127.0.0.1:4000", "", "203.0.113.2", "203.0.113.2"},
		{"X-Forwarded-For wins over X-Real-IP", "127.0.0.1:4000", "203.0.113.1", "203.0.113.2", "203.0.113.1"},
		{"spoofed left part skipped", "127.0.0.1:4000", "6.6.6.6, 203.0.113.1", "", "203.0.113.1"},
		{"chain of trusted proxies", "127.0.0.1:4000", "203.0.113.1, 10.1.2.3, 10.0.0.1", "", "203.0.113.1"},
		{"all hops trusted: leftmost", "127.0.0.1:4000", "10.9.9.9, 10.0.0.1", "", "10.9.9.9"},
		{"hop with a port", "127.0.0.1:4000", "203.0.113.1:5555", "", "203.0.113.1"},
		{"IPv6 hop", "127.0.0.1:4000", "2001:db8::7", "", "2001:db8::7"},
		{"IPv6 hop with port", "127.0.0.1:4000", "[2001:db8::7]:80", "", "2001:db8::7"},
		{"IPv6 proxy", "[fd00::1]:4000", "203.0.113.1", "", "203.0.113.1"},
		{"garbage hop stops the walk", "127.0.0.1:4000", "203.0.113.1, unknown", "", ""},
		{"garbage hop falls back to X-Real-IP", "127.0.0.1:4000", "203.0.113.1, unknown", "203.0.113.2", "203.0.113.2"},
		{"trusted, no headers", "127.0.0.1:4000", "", "", ""},
		{"trusted, bad X-Real-IP", "127.0.0.1:4000", "", "not-an-ip", ""},
		{"unparseable peer", "@", "203.0.113.1", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/ws", nil)
			r.RemoteAddr = tc.remote
			if tc.xff != "" {
				// Two header lines read as one list.
				first, rest, two := strings.Cut(tc.xff, ", ")
				r.Header.Add("X-Forwarded-For", first)
				if two {
					r.Header.Add("X-Forwarded-For", rest)
				}
			}
			if tc.realIP != "" {
				r.Header.Set("X-Real-IP", tc.realIP)
			}
			got, ok := p.client(r)
			switch {
			case tc.want == "" && ok:
				t.Errorf("client = %v, want the peer kept", got)
			case tc.want != "" && (!ok || got.String() != tc.want):
				t.Errorf("client = %v, %v; want %s", got, ok, tc.want)
			}
			// The middleware's view: RemoteAddr replaced or kept.
			var seen string
			TrustProxies(p, http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { seen = r.RemoteAddr })).
				ServeHTTP(httptest.NewRecorder(), r)
			want := tc.remote
			if tc.want != "" {
				want = netip.AddrPortFrom(netip.MustParseAddr(tc.want), 0).String()
			}
			if seen != want {
				t.Errorf("RemoteAddr seen by the handler = %q, want %q", seen, want)
			}
			if r.RemoteAddr != tc.remote {
				t.Errorf("caller's request changed: RemoteAddr %q", r.RemoteAddr)
			}
		})
	}
}

// dialFrom opens a WebSocket as a proxied client would arrive: with
// X-Forwarded-For naming xff.
func dialFrom(url, xff string) (*wsClient, error) {
	d := ws.Dialer{Protocols: []string{"wamp.2.json"}, Timeout: wait,
		Header: ws.HandshakeHeaderHTTP(http.Header{"X-Forwarded-For": {xff}})}
	nc, _, _, err := d.Dial(context.Background(), url)
	if err != nil {
		return nil, err
	}
	return &wsClient{Conn: nc, rd: nc}, nil
}

// Behind a trusted proxy each client is its own address: it is what the
// session sees, and what the per-address limit counts. From an untrusted
// peer the header changes nothing.
func TestWebSocketBehindProxy(t *testing.T) {
	serve, peers := recorder()
	start := func(trusted string) string {
		h := TrustProxies([]netip.Prefix{netip.MustParsePrefix(trusted)},
			WebSocketHandler(Config{MaxConnsPerAddr: 1}, serve))
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		return "ws" + strings.TrimPrefix(srv.URL, "http")
	}

	t.Run("trusted", func(t *testing.T) {
		url := start("127.0.0.0/8")
		for _, client := range []string{"203.0.113.1", "203.0.113.2"} {
			c, err := dialFrom(url, client)
			if err != nil {
				t.Fatalf("client %s: %v", client, err)
			}
			t.Cleanup(func() { c.Close() })
			p := recv(t, peers)
			if got := p.conn.RemoteAddr().String(); got != client+":0" {
				t.Errorf("RemoteAddr = %s, want %s:0", got, client)
			}
		}
		// The limit (1) is per client, not per proxy.
		_, err := dialFrom(url, "203.0.113.1")
		var status ws.StatusError
		if !errors.As(err, &status) || int(status) != http.StatusServiceUnavailable {
			t.Fatalf("second connection of 203.0.113.1: %v, want status 503", err)
		}
	})

	t.Run("untrusted", func(t *testing.T) {
		url := start("10.0.0.0/8")
		c, err := dialFrom(url, "203.0.113.1")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		p := recv(t, peers)
		if got := p.conn.RemoteAddr().String(); !strings.HasPrefix(got, "127.0.0.1:") || got == "127.0.0.1:0" {
			t.Errorf("RemoteAddr = %s, want the TCP peer 127.0.0.1:port", got)
		}
		// Another claimed address does not get past the limit.
		_, err = dialFrom(url, "203.0.113.2")
		var status ws.StatusError
		if !errors.As(err, &status) || int(status) != http.StatusServiceUnavailable {
			t.Fatalf("second connection from 127.0.0.1: %v, want status 503", err)
		}
	})
}
