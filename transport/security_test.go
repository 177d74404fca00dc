package transport

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/switchboard/switchboard/internal/testutil"
	"github.com/switchboard/switchboard/wamp"
)

func TestGlob(t *testing.T) {
	for _, tc := range []struct {
		pattern, s string
		want       bool
	}{
		{"", "", true},
		{"*", "", true},
		{"*", "anything.at.all", true},
		{"localhost", "localhost", true},
		{"localhost", "localhost2", false},
		{"*.example.com", "app.example.com", true},
		{"*.example.com", "a.b.example.com", true},
		{"*.example.com", "example.com", false},
		{"*.example.com", "evil-example.com", false},
		{"app*.example.com", "app-1.example.com", true},
		{"a*b*c", "aXXbYYc", true},
		{"a*b*c", "aXXbYY", false},
	} {
		if got := glob(tc.pattern, tc.s); got != tc.want {
			t.Errorf("glob(%q, %q) = %v, want %v", tc.pattern, tc.s, got, tc.want)
		}
	}
}

func TestOriginPolicy(t *testing.T) {
	def := compileOrigins(nil)
	custom := compileOrigins([]string{"https://app.example.com", "https://*.example.org:*", "http://10.0.0.1:8000", "HTTP://Upper.Example"})
	all := compileOrigins([]string{"*"})
	for _, tc := range []struct {
		policy originPolicy
		origin []string
		want   bool
	}{
		{def, nil, true}, // no browser
		{def, []string{"http://localhost:3000"}, true},
		{def, []string{"http://localhost"}, true},
		{def, []string{"https://localhost:8443"}, true},
		{def, []string{"http://127.0.0.1:8080"}, true},
		{def, []string{"http://[::1]:8080"}, true},
		{def, []string{"http://LOCALHOST:3000"}, true},
		{def, []string{"http://evil.example"}, false},
		{def, []string{"http://localhost.evil.example"}, false},
		{def, []string{"http://127.0.0.1.evil.example:80"}, false},
		{def, []string{"null"}, false},
		{def, []string{""}, false},
		{def, []string{"file://"}, false},
		{def, []string{"http://localhost:3000", "http://evil.example"}, false},
		{def, []string{"ws://localhost:3000"}, false},
		{custom, []string{"https://app.example.com"}, true},
		{custom, []string{"https://app.example.com:8443"}, false}, // no port in the pattern
		{custom, []string{"http://app.example.com"}, false},
		{custom, []string{"https://x.example.org:1234"}, true},
		{custom, []string{"https://example.org"}, false},
		{custom, []string{"http://10.0.0.1:8000"}, true},
		{custom, []string{"http://10.0.0.1:8001"}, false},
		{custom, []string{"http://upper.example"}, true},
		{custom, []string{"http://localhost:3000"}, false},
		{all, []string{"https://anything.example"}, true},
		{all, []string{"null"}, true},
	} {
		if got := tc.policy.allows(tc.origin); got != tc.want {
			t.Errorf("%+v allows %q = %v, want %v", tc.policy, tc.origin, got, tc.want)
		}
	}
	if len(DefaultAllowedOrigins) == 0 {
		t.Error("no default origins")
	}
}

func TestWebSocketOrigin(t *testing.T) {
	serve, _ := recorder()
	def := startWS(t, Config{}, serve)
	for origin, want := range map[string]int{
		"":                          http.StatusSwitchingProtocols,
		"http://localhost:5173":     http.StatusSwitchingProtocols,
		"https://127.0.0.1":         http.StatusSwitchingProtocols,
		"https://evil.example":      http.StatusForbidden,
		"null":                      http.StatusForbidden,
		"http://localhost.evil.com": http.StatusForbidden,
	} {
		if got := testutil.WebSocketUpgrade(t, def, origin); got != want {
			t.Errorf("default policy, origin %q: status %d, want %d", origin, got, want)
		}
	}
	open := startWS(t, Config{AllowedOrigins: []string{"*"}}, serve)
	if got := testutil.WebSocketUpgrade(t, open, "https://evil.example"); got != http.StatusSwitchingProtocols {
		t.Errorf("allowed_origins *: status %d, want 101", got)
	}
	app := startWS(t, Config{AllowedOrigins: []string{"https://app.example.com"}}, serve)
	if got := testutil.WebSocketUpgrade(t, app, "https://app.example.com"); got != http.StatusSwitchingProtocols {
		t.Errorf("listed origin: status %d, want 101", got)
	}
	if got := testutil.WebSocketUpgrade(t, app, "http://localhost:3000"); got != http.StatusForbidden {
		t.Errorf("localhost on a listener that lists only its app: status %d, want 403", got)
	}
}

func TestWebSocketConnLimit(t *testing.T) {
	serve, peers := recorder()
	url := startWS(t, Config{MaxConnsPerAddr: 2}, serve)
	a := dialWS(t, url, "wamp.2.json")
	dialWS(t, url, "wamp.2.json")
	recv(t, peers)
	recv(t, peers)
	if got := testutil.WebSocketUpgrade(t, url, ""); got != http.StatusServiceUnavailable {
		t.Fatalf("third connection: status %d, want 503", got)
	}
	// A connection that ends frees its place.
	a.Close()
	testutil.CheckFor(t, wait, func() error {
		nc, err := tryUpgrade(url)
		if err != nil {
			return err
		}
		return nc.Close()
	})
}

// tryUpgrade opens a WebSocket without failing the test, for polling.
func tryUpgrade(url string) (net.Conn, error) {
	addr, path, _ := strings.Cut(strings.TrimPrefix(url, "ws://"), "/")
	nc, err := net.DialTimeout("tcp", addr, wait)
	if err != nil {
		return nil, err
	}
	_ = nc.SetDeadline(time.Now().Add(wait))
	req := "GET /" + path + " HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: wamp.2.json\r\n\r\n"
	if _, err := nc.Write([]byte(req)); err != nil {
		nc.Close()
		return nil, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
	if err != nil {
		nc.Close()
		return nil, err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSwitchingProtocols {
		nc.Close()
		return nil, fmt.Errorf("status %d", resp.StatusCode)
	}
	return nc, nil
}

func TestRawSocketConnLimit(t *testing.T) {
	serve, peers := recorder()
	addr := startRaw(t, Config{MaxConnsPerAddr: 2}, serve)
	req := [4]byte{rawMagic, 0xf0 | byte(wamp.JSON), 0, 0}
	a, reply := dialRaw(t, "tcp", addr, req)
	if reply[1]&0x0f != byte(wamp.JSON) {
		t.Fatalf("first connection refused: % x", reply)
	}
	dialRaw(t, "tcp", addr, req)
	recv(t, peers)
	recv(t, peers)
	c, reply := dialRaw(t, "tcp", addr, req)
	if reply != [4]byte{rawMagic, rawErrMaxConns << 4, 0, 0} {
		t.Fatalf("third connection: handshake reply % x, want 7f 40 00 00 (error 4, maximum connection count reached)", reply)
	}
	expectEOF(t, c.br)
	a.Close()
	testutil.CheckFor(t, wait, func() error {
		nc, err := net.DialTimeout("tcp", addr, wait)
		if err != nil {
			return err
		}
		defer nc.Close()
		_ = nc.SetDeadline(time.Now().Add(wait))
		if _, err := nc.Write(req[:]); err != nil {
			return err
		}
		var r [4]byte
		if _, err := nc.Read(r[:]); err != nil {
			return err
		}
		if r[1]>>4 != 0 && r[1]&0x0f == 0 {
			return fmt.Errorf("still refused: % x", r)
		}
		return nil
	})
}

func TestAddrLimiter(t *testing.T) {
	l := newAddrLimiter(1)
	rel, ok := l.acquire("192.0.2.1:1")
	if !ok {
		t.Fatal("first refused")
	}
	if _, ok := l.acquire("192.0.2.1:2"); ok {
		t.Error("second from the same IP admitted")
	}
	if _, ok := l.acquire("192.0.2.2:1"); !ok {
		t.Error("another IP refused")
	}
	for range 3 {
		if _, ok := l.acquire("@"); !ok {
			t.Error("a unix socket peer was limited")
		}
	}
	rel()
	rel() // twice is harmless
	if l.count("192.0.2.1") != 0 {
		t.Errorf("count = %d after release", l.count("192.0.2.1"))
	}
	if _, ok := l.acquire("192.0.2.1:3"); !ok {
		t.Error("refused after release")
	}
	if rel, ok := (*addrLimiter)(nil).acquire("192.0.2.1:1"); !ok || rel == nil {
		t.Error("nil limiter refused")
	}
}
