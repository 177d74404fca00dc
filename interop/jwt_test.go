package interop_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gammazero/nexus/v3/client"
	nexuswamp "github.com/gammazero/nexus/v3/wamp"
	"github.com/golang-jwt/jwt/v5"
)

// JWT tickets (realms[].auth[].jwt) with real clients against the binary:
// a token of each algorithm family admits its user with the role and
// authextra it names, the realm's permissions for that role apply, the
// refusals say which check failed, expire_sessions closes a session when
// its token expires, and SIGHUP rereads the JWKS file.
//
// The router slows down an address after a few failed logins
// (auth.Limiter), and these tests fail many on purpose: each refused
// client connects from an address of its own in 127.0.0.0/8, which Linux
// routes to the loopback interface.

// jwtFixture is a node with one realm per key family, and the private keys
// that sign its tokens (written to dir for the Node.js tests too).
type jwtFixture struct {
	n      *node
	dir    string
	secret []byte
	rsa    *rsa.PrivateKey
	ec     *ecdsa.PrivateKey
	ed     ed25519.PrivateKey // in jwks.json, kid ed1
}

const (
	jwtIssuer   = "https://app.example.com"
	jwtAudience = "switchboard"
	// jwtBound bounds waits for a session to close; no check depends on it.
	jwtBound = 30 * time.Second
)

// The realms: hs (HMAC secret, issuer, audience, authextra), rs and es
// (PEM public keys), ed (a JWKS file, tokens without a role get viewer,
// sessions end with their tokens).
const jwtRealms = `  - name: hs
    auth:
      - method: ticket
        jwt:
          secret: {env: SWITCHBOARD_TEST_JWT_SECRET}
          issuer: https://app.example.com
          audience: switchboard
          authextra_claims: [name, email]
    roles: &roles
      user:
        - {uri: com.example., match: prefix, allow: [call, register, publish, subscribe]}
      viewer:
        - {uri: com.example., match: prefix, allow: [subscribe]}
  - name: rs
    auth:
      - method: ticket
        jwt: {public_keys: [rsa.pem], issuer: https://app.example.com, audience: switchboard}
    roles: *roles
  - name: es
    auth:
      - method: ticket
        jwt: {public_keys: [ec.pem], issuer: https://app.example.com, audience: switchboard}
    roles: *roles
  - name: ed
    auth:
      - method: ticket
        jwt: {jwks: jwks.json, role: viewer, expire_sessions: true}
    roles: *roles
`

func startJWTNode(t *testing.T) *jwtFixture {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the router binary")
	}
	f := &jwtFixture{dir: t.TempDir(), secret: make([]byte, 48)}
	_, _ = rand.Read(f.secret)
	var err error
	if f.rsa, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		t.Fatal(err)
	}
	if f.ec, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		t.Fatal(err)
	}
	if _, f.ed, err = ed25519.GenerateKey(rand.Reader); err != nil {
		t.Fatal(err)
	}
	f.writePEM(t, "rsa", f.rsa)
	f.writePEM(t, "ec", f.ec)
	f.writePEM(t, "ed1", f.ed)
	f.writeJWKS(t, "ed1", f.ed)
	// The node reads the secret from its environment, as an operator's
	// would; Node.js gets it from the same variable.
	t.Setenv("SWITCHBOARD_TEST_JWT_SECRET", base64.RawURLEncoding.EncodeToString(f.secret))
	f.n = startNode(t, strings.NewReplacer("[rsa.pem]", "["+filepath.Join(f.dir, "rsa.pem")+"]",
		"[ec.pem]", "["+filepath.Join(f.dir, "ec.pem")+"]",
		"jwks: jwks.json", "jwks: "+filepath.Join(f.dir, "jwks.json")).Replace(jwtRealms))
	return f
}

// hmacKey is the secret as the router holds it: the variable's text.
func (f *jwtFixture) hmacKey() []byte {
	return []byte(base64.RawURLEncoding.EncodeToString(f.secret))
}

// writePEM writes name.key (PKCS #8, for Node.js) and name.pem (the
// public key, for the router).
func (f *jwtFixture) writePEM(t *testing.T, name string, key crypto.Signer) {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		t.Fatal(err)
	}
	for file, b := range map[string][]byte{
		name + ".key": pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}),
		name + ".pem": pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}),
	} {
		if err := os.WriteFile(filepath.Join(f.dir, file), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// writeJWKS writes jwks.json with the Ed25519 key's public part.
func (f *jwtFixture) writeJWKS(t *testing.T, kid string, key ed25519.PrivateKey) {
	t.Helper()
	set := map[string]any{"keys": []any{map[string]any{
		"kty": "OKP", "crv": "Ed25519", "use": "sig", "alg": "EdDSA", "kid": kid,
		"x": base64.RawURLEncoding.EncodeToString(key.Public().(ed25519.PublicKey)),
	}}}
	b, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	// Written whole and renamed, as an operator's deploy does.
	tmp := filepath.Join(f.dir, "jwks.json.new")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(f.dir, "jwks.json")); err != nil {
		t.Fatal(err)
	}
}

// signJWT signs claims for alice (role user, an hour to live) with changes
// applied; a nil value drops the claim.
func signJWT(t *testing.T, m jwt.SigningMethod, key any, changes map[string]any, header map[string]any) string {
	t.Helper()
	now := time.Now()
	c := jwt.MapClaims{
		"sub": "alice", "role": "user", "iss": jwtIssuer, "aud": jwtAudience,
		"name": "Alice Liddell", "email": "alice@example.com",
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}
	for k, v := range changes {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	tok := jwt.NewWithClaims(m, c)
	for k, v := range header {
		tok.Header[k] = v
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// loopbackSeq numbers the source addresses of refused clients.
var loopbackSeq atomic.Uint32

// freshLoopback returns an address of 127.0.0.0/8 that no client of this
// process has used, so that the router's failure count for it is zero.
func freshLoopback() net.IP {
	n := loopbackSeq.Add(1)
	return net.IPv4(127, 10, byte(n>>8), byte(n))
}

// joinJWT joins realm over WebSocket with token as ticket, from the local
// address from (nil: any).
func joinJWT(url, realm, tk string, from net.IP) (*client.Client, error) {
	ctx, cancel := context.WithTimeout(context.Background(), opsBound)
	defer cancel()
	cfg := client.Config{
		Realm: realm, Logger: quietLog, ResponseTimeout: opsBound,
		AuthHandlers: map[string]client.AuthFunc{
			"ticket": func(*nexuswamp.Challenge) (string, nexuswamp.Dict) { return tk, nexuswamp.Dict{} },
		},
	}
	if from != nil {
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: from}, Timeout: opsBound}
		cfg.WsCfg.Dial = func(network, addr string) (net.Conn, error) { return d.Dial(network, addr) }
	}
	return client.ConnectNet(ctx, url, cfg)
}

func TestJWTNexus(t *testing.T) {
	f := startJWTNode(t)
	url := f.n.ws

	t.Run("families", func(t *testing.T) {
		for _, tc := range []struct {
			realm, role string
			tok         string
		}{
			{"hs", "user", signJWT(t, jwt.SigningMethodHS256, f.hmacKey(), nil, nil)},
			{"hs", "user", signJWT(t, jwt.SigningMethodHS512, f.hmacKey(), nil, nil)},
			{"rs", "user", signJWT(t, jwt.SigningMethodRS256, f.rsa, nil, nil)},
			{"rs", "user", signJWT(t, jwt.SigningMethodPS256, f.rsa, nil, nil)},
			{"es", "user", signJWT(t, jwt.SigningMethodES256, f.ec, nil, nil)},
			// The JWKS realm: no role claim gives its role, viewer.
			{"ed", "viewer", signJWT(t, jwt.SigningMethodEdDSA, f.ed, map[string]any{"role": nil}, map[string]any{"kid": "ed1"})},
		} {
			c, err := joinJWT(url, tc.realm, tc.tok, nil)
			if err != nil {
				t.Fatalf("realm %s: %v", tc.realm, err)
			}
			d := c.RealmDetails()
			if d["authid"] != "alice" || d["authrole"] != tc.role || d["authmethod"] != "ticket" || d["authprovider"] != "jwt" {
				t.Errorf("realm %s: WELCOME %v", tc.realm, d)
			}
			extra, _ := nexuswamp.AsDict(d["authextra"])
			if tc.realm == "hs" && (extra["name"] != "Alice Liddell" || extra["email"] != "alice@example.com") {
				t.Errorf("realm hs: authextra %v", d["authextra"])
			}
			// The role's permissions apply: user may publish under
			// com.example., viewer may only subscribe.
			err = c.Publish("com.example.news", nexuswamp.Dict{"acknowledge": true}, nexuswamp.List{"hi"}, nil)
			if tc.role == "user" && err != nil {
				t.Errorf("realm %s: user cannot publish: %v", tc.realm, err)
			}
			if tc.role == "viewer" && (err == nil || !strings.Contains(err.Error(), "wamp.error.not_authorized")) {
				t.Errorf("realm %s: viewer's publish: %v, want not_authorized", tc.realm, err)
			}
			_ = c.Close()
		}
	})

	t.Run("refused", func(t *testing.T) {
		hour := time.Now().Add(time.Hour).Unix()
		rsaPEM, err := os.ReadFile(filepath.Join(f.dir, "rsa.pem"))
		if err != nil {
			t.Fatal(err)
		}
		other, _ := rsa.GenerateKey(rand.Reader, 2048)
		unsigned, _ := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims{"sub": "alice", "role": "user", "iss": jwtIssuer, "aud": jwtAudience, "exp": hour}).
			SignedString(jwt.UnsafeAllowNoneSignatureType)
		for _, tc := range []struct {
			name, realm, tok, text string
		}{
			{"expired", "hs", signJWT(t, jwt.SigningMethodHS256, f.hmacKey(), map[string]any{"exp": time.Now().Add(-time.Minute).Unix()}, nil), "exp: the token expired"},
			{"future nbf", "hs", signJWT(t, jwt.SigningMethodHS256, f.hmacKey(), map[string]any{"nbf": hour}, nil), "nbf: the token is not valid before"},
			{"wrong secret", "hs", signJWT(t, jwt.SigningMethodHS256, []byte("another secret, of 32 bytes or more"), nil, nil), "signature: the HS256 signature does not verify"},
			{"wrong RSA key", "rs", signJWT(t, jwt.SigningMethodRS256, other, nil, nil), "signature: the RS256 signature does not verify"},
			{"alg none", "hs", unsigned, "alg: unsigned token (alg none) refused"},
			{"HS256 signed with the RSA public key", "rs", signJWT(t, jwt.SigningMethodHS256, rsaPEM, nil, nil), "alg: HS256 fits none of the configured keys"},
			{"wrong issuer", "hs", signJWT(t, jwt.SigningMethodHS256, f.hmacKey(), map[string]any{"iss": "https://evil.example.com"}, nil), "iss: wrong issuer"},
			{"wrong audience", "es", signJWT(t, jwt.SigningMethodES256, f.ec, map[string]any{"aud": "other"}, nil), "aud: wrong audience"},
			{"realm claim for another realm", "hs", signJWT(t, jwt.SigningMethodHS256, f.hmacKey(), map[string]any{"realm": "rs"}, nil), `realm: the token is for realm "rs"`},
			{"role not in the realm", "hs", signJWT(t, jwt.SigningMethodHS256, f.hmacKey(), map[string]any{"role": "admin"}, nil), `no such role: "admin"`},
			{"unknown kid", "ed", signJWT(t, jwt.SigningMethodEdDSA, f.ed, nil, map[string]any{"kid": "ed9"}), `kid: no EdDSA key with kid "ed9"`},
		} {
			t.Run(tc.name, func(t *testing.T) {
				c, err := joinJWT(url, tc.realm, tc.tok, freshLoopback())
				if err == nil {
					_ = c.Close()
					t.Fatalf("admitted with %v", c.RealmDetails())
				}
				if !strings.Contains(err.Error(), tc.text) {
					t.Errorf("error %q does not say %q", err, tc.text)
				}
				if strings.Contains(err.Error(), string(f.hmacKey())) || strings.Contains(err.Error(), strings.Split(string(rsaPEM), "\n")[1]) {
					t.Errorf("error %q carries a key", err)
				}
			})
		}
	})

	t.Run("expire_sessions", func(t *testing.T) {
		c, err := joinJWT(url, "ed", signJWT(t, jwt.SigningMethodEdDSA, f.ed, map[string]any{"exp": time.Now().Add(2 * time.Second).Unix()}, map[string]any{"kid": "ed1"}), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		select {
		case <-c.Done():
		case <-time.After(jwtBound):
			t.Fatalf("session still open %v after its token expired", jwtBound)
		}
		if g := c.RouterGoodbye(); g == nil || g.Reason != "switchboard.close.token_expired" {
			t.Errorf("router GOODBYE %+v, want switchboard.close.token_expired", g)
		}
	})

	// Last: it replaces the JWKS. SIGHUP rereads the file: the new key
	// admits, the old one no longer does, and a session of before stays.
	t.Run("reload", func(t *testing.T) {
		before, err := joinJWT(url, "ed", signJWT(t, jwt.SigningMethodEdDSA, f.ed, nil, map[string]any{"kid": "ed1"}), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer before.Close()
		_, ed2, _ := ed25519.GenerateKey(rand.Reader)
		f.writeJWKS(t, "ed2", ed2)
		reloads := strings.Count(f.n.out.String(), "msg=reloaded")
		f.n.signal(t, syscall.SIGHUP)
		f.n.waitLog(t, "msg=reloaded", reloads+1)
		c, err := joinJWT(url, "ed", signJWT(t, jwt.SigningMethodEdDSA, ed2, nil, map[string]any{"kid": "ed2"}), nil)
		if err != nil {
			t.Fatalf("the new key after SIGHUP: %v", err)
		}
		_ = c.Close()
		if c, err := joinJWT(url, "ed", signJWT(t, jwt.SigningMethodEdDSA, f.ed, nil, map[string]any{"kid": "ed1"}), freshLoopback()); err == nil {
			_ = c.Close()
			t.Fatal("the old key still admits after SIGHUP")
		} else if !strings.Contains(err.Error(), "kid") {
			t.Errorf("old key: %v", err)
		}
		select {
		case <-before.Done():
			t.Error("the session of before the reload ended")
		default:
		}
	})
}

// TestJWTAutobahnJS runs interop/autobahn/jwt.test.mjs: AutobahnJS under
// Node.js signs its tokens with node:crypto (an implementation of JWS of
// its own, not the router's library), joins each realm, and sees its
// authid, authrole and authextra; refusals, and the GOODBYE of an expired
// token, reach it with their reasons. Once per serializer.
func TestJWTAutobahnJS(t *testing.T) {
	if testing.Short() {
		t.Skip("interop test: builds the router and runs Node.js")
	}
	node := lookTool(t, "node")
	dir := filepath.Join(moduleRoot(t), "interop", "autobahn")
	npmCI(t, dir)
	f := startJWTNode(t)
	for i, s := range serializers {
		t.Run(s, func(t *testing.T) {
			runNode(t, node, dir, "jwt.test.mjs",
				"SWITCHBOARD_URL="+f.n.ws,
				"SWITCHBOARD_SERIALIZER="+s,
				"SWITCHBOARD_JWT_DIR="+f.dir,
				// Refused clients connect from 127.<n>.x.y, n apart
				// per run (see freshLoopback).
				fmt.Sprintf("SWITCHBOARD_JWT_SOURCE_NET=%d", 20+i))
		})
	}
}

// TestDjangoJWT runs examples/django as a user sees it, in headless
// Chromium (interop/autobahn/django.test.mjs): log in to the Django site,
// and the page's AutobahnJS joins the router with the JWT Django issues
// for that user, under the role whose permissions the example's
// config.yaml lists. Tokens live 4 seconds here, so that the test also
// sees expire_sessions close a session and the page rejoin with a fresh
// token.
func TestDjangoJWT(t *testing.T) {
	if testing.Short() {
		t.Skip("interop test: builds the router and runs Django and Chromium")
	}
	python := lookDjango(t)
	node := lookTool(t, "node")
	chromium := lookFor(t, "chromium", "apt install chromium", "/usr/bin/chromium")
	root := moduleRoot(t)
	adir := filepath.Join(root, "interop", "autobahn")
	npmCI(t, adir)
	dir := filepath.Join(root, "examples", "django")
	const secret = "django-test-secret"
	t.Setenv("DJANGO_BRIDGE_SECRET", secret)
	t.Setenv("DJANGO_JWT_SECRET", "django-test-jwt-secret-of-32-bytes-or-more")

	tmp := t.TempDir()
	wsAddr, rsAddr := freeAddr(t), freeAddr(t)
	cfg := writeExampleConfig(t, filepath.Join(dir, "config.yaml"), tmp, wsAddr, rsAddr)
	r := runRouter(t, tmp, []string{buildSwitchboard(t, root, tmp), "-c", cfg}, wsAddr, rsAddr, false)

	// Django's settings read these (startDjango passes the environment on).
	t.Setenv("SWITCHBOARD_WS_URL", r.wsURL)
	t.Setenv("DJANGO_WAMP_TOKEN_TTL", "4")
	base := startDjango(t, python, dir, "http://"+wsAddr, secret)
	runNode(t, node, adir, "django.test.mjs",
		"SWITCHBOARD_DJANGO="+base,
		"SWITCHBOARD_CHROMIUM="+chromium)
}
