package config

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/switchboard/switchboard/auth"
)

const jwtSecret = "a-jwt-secret-of-at-least-32-bytes-long"

// writeJWTKeys writes app.pem (an ECDSA P-256 and an Ed25519 public key)
// and jwks.json (the Ed25519 key, kid k1) into dir.
func writeJWTKeys(t *testing.T, dir string) {
	t.Helper()
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ed, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	var pems []byte
	for _, pub := range []any{ec.Public(), ed} {
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		pems = append(pems, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})...)
	}
	jwks := `{"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": "k1", "x": "` + base64.RawURLEncoding.EncodeToString(ed) + `"}]}`
	for name, b := range map[string][]byte{"app.pem": pems, "jwks.json": []byte(jwks), "hmac.secret": []byte(jwtSecret + "\n")} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func TestJWTGood(t *testing.T) {
	dir := t.TempDir()
	writeJWTKeys(t, dir)
	t.Setenv("JWT_SECRET", jwtSecret)
	src := `realms:
  - name: realm1
    auth:
      - method: ticket
        principals:
          - {authid: svc, role: backend, ticket: svc-ticket}
      - method: ticket
        jwt:
          secret: {env: JWT_SECRET}
          issuer: https://app.example.com
          audience: switchboard
          role_claim: groups
          role: user
          leeway: 30s
          authextra_claims: [name, email]
          expire_sessions: true
      - method: anonymous
    roles:
      anonymous: [{uri: public., match: prefix, allow: [subscribe]}]
      user: [{uri: app., match: prefix, allow: [call, subscribe]}]
      backend: [{uri: app., match: prefix, allow: [register, publish]}]
  - name: keys
    auth:
      - method: ticket
        jwt: {public_keys: [app.pem]}
  - name: jwks
    auth:
      - method: ticket
        jwt: {jwks: jwks.json, secret: null}
  - name: file
    auth:
      - method: ticket
        jwt: {secret: {file: hmac.secret}}
`
	file := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(file, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(file)
	if err != nil {
		t.Fatal(err)
	}
	want := &JWT{
		Secret: &Secret{Env: "JWT_SECRET"}, Issuer: "https://app.example.com", Audience: "switchboard",
		RoleClaim: "groups", Role: "user", Leeway: 30 * time.Second, AuthExtraClaims: []string{"name", "email"}, ExpireSessions: true,
	}
	if got := c.Realms[0].Auth[1].JWT; !reflect.DeepEqual(got, want) {
		t.Errorf("jwt =\n%+v\nwant\n%+v", got, want)
	}
	if c.Realms[0].Auth[0].JWT != nil || c.Realms[0].Auth[0].Principals == nil {
		t.Errorf("the static ticket method: %+v", c.Realms[0].Auth[0])
	}
	ac, err := c.Realms[0].Auth[1].JWT.AuthConfig()
	if err != nil {
		t.Fatal(err)
	}
	if len(ac.Keys) != 1 || !reflect.DeepEqual(ac.Keys[0].Algs(), []string{"HS256", "HS384", "HS512"}) || ac.RoleClaim != "groups" || ac.Role != "user" ||
		ac.Leeway != 30*time.Second || !ac.ExpireSessions || !reflect.DeepEqual(ac.AuthExtraClaims, []string{"name", "email"}) {
		t.Errorf("auth config %+v", ac)
	}

	// Key files are relative to the config's directory.
	if got := c.Realms[1].Auth[0].JWT.PublicKeys; !reflect.DeepEqual(got, []string{filepath.Join(dir, "app.pem")}) {
		t.Errorf("public_keys %v", got)
	}
	for i, want := range [][]string{{"ES256"}, {"EdDSA"}} {
		keys, err := c.Realms[1+i].Auth[0].JWT.Keys()
		if err != nil {
			t.Fatal(err)
		}
		if got := keys[len(keys)-1].Algs(); !reflect.DeepEqual(got, []string{"EdDSA"}) || !reflect.DeepEqual(keys[0].Algs(), want) {
			t.Errorf("realm %s keys %v", c.Realms[1+i].Name, keys)
		}
	}
	if keys, err := c.Realms[2].Auth[0].JWT.Keys(); err != nil || keys[0].ID != "k1" {
		t.Errorf("jwks keys %+v, %v", keys, err)
	}
	if keys, err := c.Realms[3].Auth[0].JWT.Keys(); err != nil || len(keys) != 1 {
		t.Errorf("secret file keys %+v, %v", keys, err)
	}

	// The keys are read again each time: a rotated file is what a reload
	// (SIGHUP) takes.
	if err := os.WriteFile(filepath.Join(dir, "jwks.json"), []byte(`{"keys": []}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Realms[2].Auth[0].JWT.Keys(); !errors.Is(err, auth.ErrBadKey) {
		t.Errorf("emptied JWKS: %v", err)
	}
}

func TestJWTErrors(t *testing.T) {
	dir := t.TempDir()
	writeJWTKeys(t, dir)
	privPEM := filepath.Join(dir, "private.pem")
	ed, priv, _ := ed25519.GenerateKey(rand.Reader)
	_ = ed
	der, _ := x509.MarshalPKCS8PrivateKey(priv)
	if err := os.WriteFile(privPEM, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SHORT_SECRET", "short")
	pemFile := filepath.Join(dir, "app.pem")
	head := "realms:\n  - name: realm1\n    auth:\n      - method: ticket\n"
	for _, tc := range []struct {
		name, src, want string
		is              error
	}{
		{"unknown key", head + "        jwt: {secret: " + jwtSecret + ", issuers: [x]}\n",
			`bad.yaml:5:63: realms[0].auth[0].jwt: unknown key "issuers" (did you mean "issuer"?)`, ErrUnknownKey},
		{"no key", head + "        jwt: {issuer: x}\n",
			`bad.yaml:5:14: realms[0].auth[0].jwt: missing key: give secret (HS256), public_keys (PEM files) or jwks (a JWKS file)`, ErrMissing},
		{"secret and public_keys", head + "        jwt: {secret: " + jwtSecret + ", public_keys: [" + pemFile + "]}\n",
			`bad.yaml:5:14: realms[0].auth[0].jwt: give one of secret, public_keys and jwks, not several`, ErrAuth},
		{"short secret", head + "        jwt: {secret: {env: SHORT_SECRET}}\n",
			`bad.yaml:5:23: realms[0].auth[0].jwt.secret: a secret of 5 bytes is too short to sign JWTs: at least 32`, ErrSecret},
		{"hashed secret", head + "        jwt: {secret: {bcrypt: x}}\n",
			`bad.yaml:5:23: realms[0].auth[0].jwt.secret: the router computes HMACs with the secret itself, so it cannot be a hash`, ErrSecret},
		{"unset secret env", head + "        jwt: {secret: {env: SWITCHBOARD_NO_SUCH_VARIABLE}}\n",
			`bad.yaml:5:29: realms[0].auth[0].jwt.secret.env: environment variable SWITCHBOARD_NO_SUCH_VARIABLE is not set`, ErrSecret},
		{"missing key file", head + "        jwt: {public_keys: [app.pem, nope.pem]}\n",
			`bad.yaml:5:38: realms[0].auth[0].jwt.public_keys[1]: key file ` + filepath.Join(dir, "nope.pem") + `: no such file or directory`, ErrAuth},
		{"private key file", head + "        jwt: {public_keys: [" + privPEM + "]}\n",
			`bad.yaml:5:29: realms[0].auth[0].jwt.public_keys[0]: ` + privPEM + `: PEM block 1 is a private key; give the public key (openssl pkey -pubout)`, ErrAuth},
		{"no public keys", head + "        jwt: {public_keys: []}\n",
			`bad.yaml:5:28: realms[0].auth[0].jwt.public_keys: no public key files`, ErrAuth},
		{"PEM as JWKS", head + "        jwt: {jwks: " + pemFile + "}\n",
			`bad.yaml:5:21: realms[0].auth[0].jwt.jwks: ` + pemFile + `: JWKS: invalid character`, ErrAuth},
		{"negative leeway", head + "        jwt: {secret: " + jwtSecret + ", leeway: -1s}\n",
			`bad.yaml:5:71: realms[0].auth[0].jwt.leeway: must not be negative`, ErrBadDuration},
		{"bad leeway", head + "        jwt: {secret: " + jwtSecret + ", leeway: soon}\n",
			`bad.yaml:5:71: realms[0].auth[0].jwt.leeway: bad duration "soon"`, ErrBadDuration},
		{"role not in roles", head + "        jwt: {secret: " + jwtSecret + ", role: guest}\n    roles:\n      user: [{uri: x, allow: [call]}]\n",
			`bad.yaml:5:69: realms[0].auth[0].jwt.role: role "guest" is not in realms[0].roles`, ErrRole},
		{"claim twice", head + "        jwt: {secret: " + jwtSecret + ", authextra_claims: [name, name]}\n",
			`bad.yaml:5:88: realms[0].auth[0].jwt.authextra_claims[1]: claim "name" is listed twice`, ErrAuth},
		{"jwt and principals", head + "        jwt: {secret: " + jwtSecret + "}\n        principals: [{authid: a, role: r, ticket: t}]\n",
			`bad.yaml:4:9: realms[0].auth[0]: give one of principals, dynamic or jwt (list the method again for another)`, ErrAuth},
		{"jwt on wampcra", "realms:\n  - name: realm1\n    auth:\n      - method: wampcra\n        jwt: {secret: " + jwtSecret + "}\n",
			`bad.yaml:5:14: realms[0].auth[0].jwt: jwt is for the ticket method only`, ErrNotAllowed},
		{"jwt on anonymous", "realms:\n  - name: realm1\n    auth:\n      - method: anonymous\n        jwt: {secret: " + jwtSecret + "}\n",
			`bad.yaml:4:9: realms[0].auth[0]: anonymous takes a role only, no principals, dynamic or jwt`, ErrNotAllowed},
		{"method role", head + "        role: user\n        jwt: {secret: " + jwtSecret + "}\n",
			`bad.yaml:5:15: realms[0].auth[0].role: role is for anonymous; for tokens without a role claim, set jwt.role`, ErrNotAllowed},
		{"jwt listed twice", head + "        jwt: {secret: " + jwtSecret + "}\n      - method: ticket\n        jwt: {jwks: jwks.json}\n",
			`bad.yaml:6:9: realms[0].auth[1]: ticket is listed twice (first at line 4)`, ErrAuth},
		{"public_keys not a list", head + "        jwt: {public_keys: app.pem}\n",
			`bad.yaml:5:28: realms[0].auth[0].jwt.public_keys: expected a list`, ErrType},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(dir, "bad.yaml")
			if err := os.WriteFile(file, []byte(tc.src), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := Load(file)
			want := strings.Replace(tc.want, "bad.yaml", file, 1)
			if err == nil || !strings.HasPrefix(err.Error(), want) {
				t.Fatalf("error\n %v\nwant one starting\n %s", err, want)
			}
			if !errors.Is(err, tc.is) {
				t.Errorf("error %v is not %v", err, tc.is)
			}
			if strings.Contains(err.Error(), jwtSecret) {
				t.Errorf("error %v shows the secret", err)
			}
		})
	}
}
