package nexus_test

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gammazero/nexus/v3/client"
	"github.com/gammazero/nexus/v3/wamp"

	"github.com/switchboard/switchboard/config"
	"github.com/switchboard/switchboard/internal/testutil"
)

// TLS client certificates as the tls authentication method, and cryptosign
// with TLS channel binding.

// pki is a test certificate authority with a server certificate for
// 127.0.0.1 and client certificates, all written as PEM files.
type pki struct {
	dir  string
	ca   *testutil.Cert
	pool *x509.CertPool
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	ca := testutil.NewCA(t, "switchboard test CA")
	p := &pki{dir: t.TempDir(), ca: ca, pool: ca.Pool()}
	ca.WriteCert(t, p.dir, "ca.crt")
	return p
}

// issue makes a certificate for cn signed by the CA (or self-signed with
// selfSigned) and returns it as a tls.Certificate; a server certificate
// is also written as server.crt and server.key.
func (p *pki) issue(t *testing.T, cn string, server, selfSigned bool) tls.Certificate {
	t.Helper()
	spec := testutil.CertSpec{CommonName: cn, Usage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	if server {
		spec.Usage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		spec.Hosts = []string{"127.0.0.1"}
	}
	if !selfSigned {
		spec.Parent = p.ca
	}
	c := testutil.NewCert(t, spec)
	if server {
		c.WriteCert(t, p.dir, "server.crt")
		c.WriteKey(t, p.dir, "server.key")
	}
	return c.TLS()
}

func fingerprint(c tls.Certificate) string {
	sum := sha256.Sum256(c.Certificate[0])
	return hex.EncodeToString(sum[:])
}

// tlsConfig writes and loads a config with a wss:// and a TLS RawSocket
// listener that ask for client certificates, and a realm with the tls
// method (device-1 by name, "pinned" by fingerprint), cryptosign (carol),
// and anonymous.
func tlsConfig(t *testing.T, p *pki, pinned tls.Certificate) *config.Config {
	t.Helper()
	pub := hex.EncodeToString(carolKey(t).Public().(ed25519.PublicKey))
	src := fmt.Sprintf(`transports:
  - type: websocket
    listen: 127.0.0.1:0
    tls: {cert: server.crt, key: server.key, client_ca: ca.crt}
  - type: rawsocket
    listen: 127.0.0.1:0
    tls: {cert: server.crt, key: server.key, client_ca: ca.crt}
realms:
  - name: realm1
    auth:
      - method: tls
        principals:
          - {authid: device-1, role: device}
          - {authid: pinned, role: ops, fingerprints: ["%s"]}
      - method: cryptosign
        principals:
          - {authid: carol, role: admin, pubkeys: [%s]}
      - method: anonymous
`, strings.ToUpper(fingerprint(pinned)), pub)
	path := filepath.Join(p.dir, "config.yaml")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	return cfg
}

// tlsURL returns the wss:// or tcps:// URL of the router's listener.
func tlsURLs(t *testing.T, cfg *config.Config) []string {
	t.Helper()
	r := startRouter(t, cfg)
	var urls []string
	for _, l := range r.Listeners() {
		urls = append(urls, l.URL)
	}
	if len(urls) != 2 || !strings.HasPrefix(urls[0], "wss://") || !strings.HasPrefix(urls[1], "tcps://") {
		t.Fatalf("listeners %v, want wss:// and tcps://", urls)
	}
	return urls
}

func dialTLS(url string, tlsCfg *tls.Config, methods ...string) (*client.Client, error) {
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	cfg := client.Config{Realm: "realm1", Logger: quiet, ResponseTimeout: bound, TlsCfg: tlsCfg}
	if methods != nil {
		list := wamp.List{}
		for _, m := range methods {
			list = append(list, m)
		}
		cfg.HelloDetails = wamp.Dict{"authmethods": list}
	}
	return client.ConnectNet(ctx, url, cfg)
}

func TestTLSClientCertAuth(t *testing.T) {
	p := newPKI(t)
	p.issue(t, "127.0.0.1", true, false)
	device := p.issue(t, "device-1", false, false)
	pinned := p.issue(t, "anything", false, false)
	stranger := p.issue(t, "stranger", false, false)
	rogue := p.issue(t, "device-1", false, true) // right name, wrong issuer
	cfg := tlsConfig(t, p, pinned)
	for _, url := range tlsURLs(t, cfg) {
		t.Run(strings.SplitN(url, ":", 2)[0], func(t *testing.T) {
			withCert := func(c tls.Certificate) *tls.Config {
				return &tls.Config{RootCAs: p.pool, Certificates: []tls.Certificate{c}, MinVersion: tls.VersionTLS12}
			}
			for _, tc := range []struct {
				cert         tls.Certificate
				authid, role string
			}{{device, "device-1", "device"}, {pinned, "pinned", "ops"}} {
				c, err := dialTLS(url, withCert(tc.cert), "tls")
				if err != nil {
					t.Fatalf("%s joins with its certificate: %v", tc.authid, err)
				}
				wantWelcome(t, c, tc.authid, tc.role, "tls", "static")
				_ = c.Close()
			}
			// A verified certificate that names no principal, or none at
			// all, is refused for tls; anonymous still works without one.
			for name, tlsCfg := range map[string]*tls.Config{
				"stranger":       withCert(stranger),
				"no certificate": {RootCAs: p.pool, MinVersion: tls.VersionTLS12},
			} {
				if c, err := dialTLS(url, tlsCfg, "tls"); err == nil {
					_ = c.Close()
					t.Errorf("%s admitted by tls", name)
				} else if !strings.Contains(err.Error(), "invalid credentials") {
					t.Errorf("%s: error %q, want the authentication failure", name, err)
				}
			}
			c, err := dialTLS(url, &tls.Config{RootCAs: p.pool, MinVersion: tls.VersionTLS12})
			if err != nil {
				t.Fatalf("anonymous over TLS: %v", err)
			}
			wantWelcome(t, c, "*", "anonymous", "anonymous", "static")
			_ = c.Close()
			// A certificate the CA did not sign does not get through TLS.
			if c, err := dialTLS(url, withCert(rogue), "tls"); err == nil {
				_ = c.Close()
				t.Error("a self-signed client certificate was accepted")
			}
		})
	}
}

// dialRawTLS is dialRaw over TLS RawSocket (tcps://host:port).
func dialRawTLS(t *testing.T, url string, tlsCfg *tls.Config) (*rawClient, tls.ConnectionState) {
	t.Helper()
	addr := strings.TrimPrefix(url, "tcps://")
	nc, err := tls.DialWithDialer(&net.Dialer{Timeout: bound}, "tcp", addr, tlsCfg)
	if err != nil {
		t.Fatalf("TLS dial %s: %v", addr, err)
	}
	c := &rawClient{t: t, nc: nc, rd: nc, ser: serJSON}
	t.Cleanup(func() { _ = nc.Close() })
	reply, err := c.rawHandshake([4]byte{0x7f, 0xf0 | serJSON.id, 0, 0})
	if err != nil || reply[1]&0x0f != serJSON.id {
		t.Fatalf("rawsocket handshake: % x, %v", reply, err)
	}
	return c, nc.ConnectionState()
}

// Cryptosign with channel binding: the client signs the challenge XOR the
// TLS channel id, so a signature is bound to its TLS connection.
func TestCryptosignChannelBinding(t *testing.T) {
	p := newPKI(t)
	p.issue(t, "127.0.0.1", true, false)
	cfg := tlsConfig(t, p, p.issue(t, "x", false, false))
	url := tlsURLs(t, cfg)[1]
	key := carolKey(t)
	pub := hex.EncodeToString(key.Public().(ed25519.PublicKey))

	for _, tc := range []struct {
		binding string
		version uint16
		id      func(cs tls.ConnectionState) []byte
	}{
		{"tls-exporter", tls.VersionTLS13, func(cs tls.ConnectionState) []byte {
			b, err := cs.ExportKeyingMaterial("EXPORTER-Channel-Binding", nil, 32)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}},
		{"tls-unique", tls.VersionTLS12, func(cs tls.ConnectionState) []byte {
			sum := sha256.Sum256(cs.TLSUnique)
			return sum[:]
		}},
	} {
		t.Run(tc.binding, func(t *testing.T) {
			tlsCfg := &tls.Config{RootCAs: p.pool, MinVersion: tc.version, MaxVersion: tc.version}
			for _, bound := range []bool{true, false} {
				c, cs := dialRawTLS(t, url, tlsCfg)
				d := helloDetails()
				d["authmethods"] = wamp.List{"cryptosign"}
				d["authextra"] = wamp.Dict{"pubkey": pub, "channel_binding": tc.binding}
				c.send(&wamp.Hello{Realm: "realm1", Details: d})
				ch := c.expectChallenge("cryptosign")
				if ch.Extra["channel_binding"] != tc.binding {
					t.Fatalf("CHALLENGE channel_binding = %v, want %s", ch.Extra["channel_binding"], tc.binding)
				}
				s, _ := wamp.AsString(ch.Extra["challenge"])
				msg, _ := hex.DecodeString(s)
				if bound {
					id := tc.id(cs)
					for i := range msg {
						msg[i] ^= id[i]
					}
				}
				c.send(&wamp.Authenticate{Signature: hex.EncodeToString(append(ed25519.Sign(key, msg), msg...)), Extra: wamp.Dict{}})
				if !bound {
					// Signed without the channel id: what a relayed
					// challenge from another connection would give.
					c.expectAbort("wamp.error.authentication_failed")
					continue
				}
				if w, ok := c.recv().(*wamp.Welcome); !ok || w.Details["authid"] != "carol" {
					t.Fatalf("after a bound signature got %+v, want WELCOME for carol", w)
				}
			}
		})
	}
}
