package nexus_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gammazero/nexus/v3/client"
	"github.com/gammazero/nexus/v3/wamp"

	"github.com/switchboard/switchboard/config"
)

// TLS client certificates as the tls authentication method, and cryptosign
// with TLS channel binding.

// pki is a test certificate authority with a server certificate for
// 127.0.0.1 and client certificates, all written as PEM files.
type pki struct {
	dir  string
	ca   *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "switchboard test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(der)
	p := &pki{dir: t.TempDir(), ca: ca, key: key, pool: x509.NewCertPool()}
	p.pool.AddCert(ca)
	p.write(t, "ca.crt", "CERTIFICATE", der)
	return p
}

func (p *pki) write(t *testing.T, name, typ string, der []byte) string {
	t.Helper()
	path := filepath.Join(p.dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// issue makes a certificate for cn signed by the CA (or self-signed with
// selfSigned) and returns it as a tls.Certificate; a server certificate
// is also written as server.crt and server.key.
func (p *pki) issue(t *testing.T, cn string, server, selfSigned bool) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
	}
	parent, signer := p.ca, p.key
	if selfSigned {
		parent, signer = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, signer)
	if err != nil {
		t.Fatal(err)
	}
	if server {
		kder, _ := x509.MarshalECPrivateKey(key)
		p.write(t, "server.crt", "CERTIFICATE", der)
		p.write(t, "server.key", "EC PRIVATE KEY", kder)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
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
