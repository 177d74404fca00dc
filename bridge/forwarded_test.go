package bridge_test

import (
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/switchboard/switchboard/config"
)

// TestLoopbackForwarded: with unsigned: loopback and no trusted proxy, an
// unsigned request from loopback that carries forwarding headers came
// through a proxy on this machine and is refused (403, naming
// trusted_proxies), so that a proxy does not open the bridge to the
// world; without them it is accepted as before. Through a trusted proxy,
// the client's own address decides.
func TestLoopbackForwarded(t *testing.T) {
	body := `{"topic": "com.example.t", "args": [1]}`
	n := start(t, loopback(), nil)
	for _, h := range [][]string{
		{"X-Forwarded-For", "203.0.113.9"},
		{"X-Real-IP", "203.0.113.9"},
		{"Forwarded", "for=203.0.113.9"},
		{"X-Forwarded-For", "127.0.0.1"},
	} {
		a := n.post(t, "/publish", body, h...)
		if a.Status != http.StatusForbidden || a.Error != "switchboard.bridge.signature_required" {
			t.Fatalf("unsigned from loopback with %s: %d %s, want 403 signature_required", h[0], a.Status, a.Raw)
		}
		if want := "trusted_proxies"; !strings.Contains(a.Message, want) {
			t.Fatalf("refusal %q does not name %s", a.Message, want)
		}
	}
	if a := n.post(t, "/publish", body); a.Status != http.StatusOK {
		t.Fatalf("unsigned from loopback without forwarding headers: %d %s", a.Status, a.Raw)
	}

	trusted := start(t, loopback(), func(c *config.Config) {
		c.Transports[0].TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	})
	if a := trusted.post(t, "/publish", body, "X-Forwarded-For", "203.0.113.9"); a.Status != http.StatusUnauthorized {
		t.Fatalf("unsigned from a remote client through a trusted proxy: %d %s, want 401", a.Status, a.Raw)
	}
	if a := trusted.post(t, "/publish", body, "X-Forwarded-For", "127.0.0.1"); a.Status != http.StatusOK {
		t.Fatalf("unsigned from this machine through a trusted proxy: %d %s, want 200", a.Status, a.Raw)
	}
}
