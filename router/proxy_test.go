package router_test

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gammazero/nexus/v3/client"
	"github.com/gammazero/nexus/v3/transport"
	nexuswamp "github.com/gammazero/nexus/v3/wamp"

	"github.com/switchboard/switchboard/internal/testutil"
	"github.com/switchboard/switchboard/router"
	"github.com/switchboard/switchboard/router/routertest"
)

// headerConn adds header lines to the HTTP request that the client writes
// first, as a proxy in front of the router would.
type headerConn struct {
	net.Conn
	once  sync.Once
	extra string
}

func (c *headerConn) Write(p []byte) (int, error) {
	n := len(p)
	c.once.Do(func() {
		if i := bytes.Index(p, []byte("\r\n")); i >= 0 {
			p = append(append(append([]byte{}, p[:i+2]...), c.extra...), p[i+2:]...)
		}
	})
	if _, err := c.Conn.Write(p); err != nil {
		return 0, err
	}
	return n, nil
}

// peerSeen joins with the given extra request headers and returns the
// transport peer the meta API reports for the session.
func peerSeen(t *testing.T, url, headers string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cfg := client.Config{Realm: "realm1", WsCfg: transport.WebsocketConfig{
		Dial: func(network, addr string) (net.Conn, error) {
			nc, err := net.DialTimeout(network, addr, 10*time.Second)
			if err != nil {
				return nil, err
			}
			return &headerConn{Conn: nc, extra: headers}, nil
		},
	}}
	c, err := client.ConnectNet(ctx, url, cfg)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer c.Close()
	res, err := c.Call(ctx, "wamp.session.get", nil, nexuswamp.List{c.ID()}, nil, nil)
	if err != nil {
		t.Fatalf("wamp.session.get: %v", err)
	}
	details, _ := nexuswamp.AsDict(res.Arguments[0])
	tr, _ := nexuswamp.AsDict(details["transport"])
	peer, _ := tr["peer"].(string)
	return peer
}

// From a trusted proxy the session's address is the forwarded client;
// from anyone else X-Forwarded-For and X-Real-IP are ignored.
func TestTrustedProxies(t *testing.T) {
	const forged = "X-Forwarded-For: 203.0.113.7\r\nX-Real-IP: 203.0.113.8\r\n"
	trusted := routertest.Config()
	trusted.Transports[0].TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	untrusted := routertest.Config()
	untrusted.Transports[0].TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	tURL := routertest.Run(t, trusted).URL("websocket")
	uURL := routertest.Run(t, untrusted).URL("websocket")

	if got := peerSeen(t, tURL, forged); got != "203.0.113.7:0" {
		t.Errorf("through a trusted proxy: peer %q, want 203.0.113.7:0 (X-Forwarded-For)", got)
	}
	if got := peerSeen(t, tURL, "X-Real-IP: 203.0.113.8\r\n"); got != "203.0.113.8:0" {
		t.Errorf("X-Real-IP from a trusted proxy: peer %q, want 203.0.113.8:0", got)
	}
	if got := peerSeen(t, uURL, forged); !strings.HasPrefix(got, "127.0.0.1:") || got == "127.0.0.1:0" {
		t.Errorf("from an untrusted peer: peer %q, want the TCP peer 127.0.0.1:port", got)
	}
	if got := peerSeen(t, tURL, ""); !strings.HasPrefix(got, "127.0.0.1:") || got == "127.0.0.1:0" {
		t.Errorf("trusted peer without headers: peer %q, want the TCP peer 127.0.0.1:port", got)
	}
}

// The session's log lines name the client a trusted proxy reports.
func TestTrustedProxyLogs(t *testing.T) {
	cfg := routertest.Config()
	cfg.Transports[0].TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	logs := new(testutil.Buffer)
	r, err := router.New(cfg, router.Options{Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = r.Shutdown(ctx)
	})
	peerSeen(t, r.URL("websocket"), "X-Forwarded-For: 198.51.100.4\r\n")
	if !strings.Contains(logs.String(), `msg="session joined" remote=198.51.100.4:0`) {
		t.Errorf("log does not name the forwarded client:\n%s", logs.String())
	}
}
