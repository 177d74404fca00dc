package auth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"

	"github.com/switchboard/switchboard/wamp"
)

// jwtNow is the time every test token is checked at.
var jwtNow = time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)

// testKeys are one key pair of each family, made once per test binary:
// RSA key generation takes a while under -race.
type testKeys struct {
	hmac             []byte
	rsa, rsa2        *rsa.PrivateKey
	ec256, ec384     *ecdsa.PrivateKey
	ed               ed25519.PrivateKey
	rsaPEM, ec256PEM []byte
}

var (
	keysOnce sync.Once
	keysVal  testKeys
)

func jwtKeys(t testing.TB) testKeys {
	t.Helper()
	keysOnce.Do(func() {
		k := &keysVal
		k.hmac = []byte("0123456789abcdef0123456789abcdef-hmac-secret")
		var err error
		must := func(e error) {
			if e != nil && err == nil {
				err = e
			}
		}
		k.rsa, err = rsa.GenerateKey(rand.Reader, 2048)
		var e error
		k.rsa2, e = rsa.GenerateKey(rand.Reader, 2048)
		must(e)
		k.ec256, e = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		must(e)
		k.ec384, e = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		must(e)
		_, k.ed, e = ed25519.GenerateKey(rand.Reader)
		must(e)
		if err != nil {
			panic(err)
		}
		k.rsaPEM = pemPublic(k.rsa.Public())
		k.ec256PEM = pemPublic(k.ec256.Public())
	})
	return keysVal
}

func pemPublic(pub crypto.PublicKey) []byte {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		panic(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

func mustPEMKeys(t testing.TB, b []byte) []JWTKey {
	t.Helper()
	ks, err := ParsePublicKeysPEM(b)
	if err != nil {
		t.Fatal(err)
	}
	return ks
}

func mustHMACKey(t testing.TB, secret []byte) JWTKey {
	t.Helper()
	k, err := HMACKey(secret)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// claims returns valid claims for alice, role frontend, expiring in an
// hour, with changes applied (a nil value deletes the claim).
func claims(changes map[string]any) jwt.MapClaims {
	c := jwt.MapClaims{
		"sub":  "alice",
		"role": "frontend",
		"iss":  "https://app.example.com",
		"aud":  "switchboard",
		"iat":  jwtNow.Add(-time.Minute).Unix(),
		"exp":  jwtNow.Add(time.Hour).Unix(),
	}
	for k, v := range changes {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

func sign(t testing.TB, m jwt.SigningMethod, key any, c jwt.MapClaims, header map[string]any) string {
	t.Helper()
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

func verifier(t testing.TB, cfg JWTConfig) *JWTVerifier {
	t.Helper()
	if cfg.Issuer == "" {
		cfg.Issuer = "https://app.example.com"
	}
	if cfg.Audience == "" {
		cfg.Audience = "switchboard"
	}
	cfg.Now = func() time.Time { return jwtNow }
	v, err := NewJWTVerifier(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// refused checks a refusal: it is an invalid token for ABORT
// wamp.error.authentication_failed, the message names check, and no
// secret of the test is in it.
func refused(t *testing.T, err error, check string) {
	t.Helper()
	if err == nil {
		t.Fatalf("admitted; want a refusal by %s", check)
	}
	if !errors.Is(err, ErrInvalidToken) {
		t.Errorf("error %v is not ErrInvalidToken", err)
	}
	if we := WAMPError(err); we.URI != wamp.ErrAuthenticationFailed {
		t.Errorf("ABORT %s, want %s", we.URI, wamp.ErrAuthenticationFailed)
	}
	msg := err.Error()
	t.Log(msg)
	if !strings.Contains(msg, check+":") {
		t.Errorf("message %q does not name the check %q", msg, check)
	}
	k := jwtKeys(t)
	for _, secret := range []string{string(k.hmac), pemBody(k.rsaPEM), pemBody(k.ec256PEM)} {
		if strings.Contains(msg, secret) {
			t.Errorf("message %q carries a key", msg)
		}
	}
}

// pemBody returns the first base64 line of a PEM block: enough of the key
// to tell whether a message carries it.
func pemBody(b []byte) string { return strings.Split(string(b), "\n")[1] }

func TestJWTAlgorithms(t *testing.T) {
	k := jwtKeys(t)
	_, ed2, _ := ed25519.GenerateKey(rand.Reader)
	for _, tc := range []struct {
		name   string
		keys   []JWTKey
		method jwt.SigningMethod
		key    any
	}{
		{"HS256", []JWTKey{mustHMACKey(t, k.hmac)}, jwt.SigningMethodHS256, k.hmac},
		{"HS384", []JWTKey{mustHMACKey(t, k.hmac)}, jwt.SigningMethodHS384, k.hmac},
		{"HS512", []JWTKey{mustHMACKey(t, k.hmac)}, jwt.SigningMethodHS512, k.hmac},
		{"RS256", mustPEMKeys(t, k.rsaPEM), jwt.SigningMethodRS256, k.rsa},
		{"RS512", mustPEMKeys(t, k.rsaPEM), jwt.SigningMethodRS512, k.rsa},
		{"PS256", mustPEMKeys(t, k.rsaPEM), jwt.SigningMethodPS256, k.rsa},
		{"ES256", mustPEMKeys(t, k.ec256PEM), jwt.SigningMethodES256, k.ec256},
		{"ES384", mustPEMKeys(t, pemPublic(k.ec384.Public())), jwt.SigningMethodES384, k.ec384},
		{"EdDSA", mustPEMKeys(t, pemPublic(k.ed.Public())), jwt.SigningMethodEdDSA, k.ed},
		// Several keys: the token verifies with the one that signed it.
		{"EdDSA of two", mustPEMKeys(t, append(pemPublic(ed2.Public()), pemPublic(k.ed.Public())...)), jwt.SigningMethodEdDSA, k.ed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := verifier(t, JWTConfig{Keys: tc.keys})
			id, err := v.Verify(sign(t, tc.method, tc.key, claims(nil), nil), "realm1", "")
			if err != nil {
				t.Fatal(err)
			}
			want := Identity{AuthID: "alice", AuthRole: "frontend", AuthMethod: MethodTicket, AuthProvider: ProviderJWT}
			if !reflect.DeepEqual(id, want) {
				t.Errorf("identity %+v, want %+v", id, want)
			}
		})
	}
}

func TestJWTRefused(t *testing.T) {
	k := jwtKeys(t)
	hs := []JWTKey{mustHMACKey(t, k.hmac)}
	rs := mustPEMKeys(t, k.rsaPEM)
	es := mustPEMKeys(t, pemPublic(k.ec384.Public()))
	other := []byte("another-secret-of-more-than-32-bytes!!")
	unsigned := func(c jwt.MapClaims) string {
		s, err := jwt.NewWithClaims(jwt.SigningMethodNone, c).SignedString(jwt.UnsafeAllowNoneSignatureType)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	for _, tc := range []struct {
		name   string
		keys   []JWTKey
		token  string
		authid string
		check  string
	}{
		{"expired", hs, sign(t, jwt.SigningMethodHS256, k.hmac, claims(map[string]any{"exp": jwtNow.Add(-time.Second).Unix()}), nil), "", "exp"},
		{"no exp", hs, sign(t, jwt.SigningMethodHS256, k.hmac, claims(map[string]any{"exp": nil}), nil), "", "exp"},
		{"future nbf", hs, sign(t, jwt.SigningMethodHS256, k.hmac, claims(map[string]any{"nbf": jwtNow.Add(time.Minute).Unix()}), nil), "", "nbf"},
		{"future iat", hs, sign(t, jwt.SigningMethodHS256, k.hmac, claims(map[string]any{"iat": jwtNow.Add(time.Minute).Unix()}), nil), "", "iat"},
		{"wrong HMAC signature", hs, sign(t, jwt.SigningMethodHS256, other, claims(nil), nil), "", "signature"},
		{"wrong RSA signature", rs, sign(t, jwt.SigningMethodRS256, k.rsa2, claims(nil), nil), "", "signature"},
		{"tampered claims", hs, tamper(t, sign(t, jwt.SigningMethodHS256, k.hmac, claims(nil), nil)), "", "signature"},
		{"alg none", hs, unsigned(claims(nil)), "", "alg"},
		{"alg none against RSA", rs, unsigned(claims(nil)), "", "alg"},
		// Algorithm confusion: the RSA public key, which anyone may have,
		// used as an HMAC secret. The RSA key takes no HS256.
		{"HS256 with the RSA public key", rs, sign(t, jwt.SigningMethodHS256, k.rsaPEM, claims(nil), nil), "", "alg"},
		{"RS256 against an HMAC secret", hs, sign(t, jwt.SigningMethodRS256, k.rsa, claims(nil), nil), "", "alg"},
		{"ES256 against a P-384 key", es, sign(t, jwt.SigningMethodES256, k.ec256, claims(nil), nil), "", "alg"},
		{"EdDSA against RSA", rs, sign(t, jwt.SigningMethodEdDSA, k.ed, claims(nil), nil), "", "alg"},
		{"crit header", hs, sign(t, jwt.SigningMethodHS256, k.hmac, claims(nil), map[string]any{"crit": []string{"b64"}, "b64": false}), "", "crit"},
		{"unknown alg", hs, withHeader(t, sign(t, jwt.SigningMethodHS256, k.hmac, claims(nil), nil), `{"alg":"HS1024","typ":"JWT"}`), "", "alg"},
		{"wrong issuer", hs, sign(t, jwt.SigningMethodHS256, k.hmac, claims(map[string]any{"iss": "https://evil.example.com"}), nil), "", "iss"},
		{"no issuer", hs, sign(t, jwt.SigningMethodHS256, k.hmac, claims(map[string]any{"iss": nil}), nil), "", "iss"},
		{"wrong audience", hs, sign(t, jwt.SigningMethodHS256, k.hmac, claims(map[string]any{"aud": []string{"other", "api"}}), nil), "", "aud"},
		{"no audience", hs, sign(t, jwt.SigningMethodHS256, k.hmac, claims(map[string]any{"aud": nil}), nil), "", "aud"},
		{"realm claim for another realm", hs, sign(t, jwt.SigningMethodHS256, k.hmac, claims(map[string]any{"realm": "realm2"}), nil), "", "realm"},
		{"realm claim not a string", hs, sign(t, jwt.SigningMethodHS256, k.hmac, claims(map[string]any{"realm": 7}), nil), "", "realm"},
		{"HELLO authid is not sub", hs, sign(t, jwt.SigningMethodHS256, k.hmac, claims(nil), nil), "mallory", "authid"},
		{"no sub", hs, sign(t, jwt.SigningMethodHS256, k.hmac, claims(map[string]any{"sub": nil}), nil), "", "sub"},
		{"sub not a string", hs, sign(t, jwt.SigningMethodHS256, k.hmac, claims(map[string]any{"sub": 42}), nil), "", "sub"},
		{"role not a string", hs, sign(t, jwt.SigningMethodHS256, k.hmac, claims(map[string]any{"role": []string{"a", "b"}}), nil), "", "role"},
		{"no role, no default", hs, sign(t, jwt.SigningMethodHS256, k.hmac, claims(map[string]any{"role": nil}), nil), "", "role"},
		{"exp not a number", hs, sign(t, jwt.SigningMethodHS256, k.hmac, claims(map[string]any{"exp": "tomorrow"}), nil), "", "malformed"},
		{"not a JWT", hs, "alice-ticket", "", "malformed"},
		{"two parts", hs, "eyJhbGciOiJIUzI1NiJ9.e30", "", "malformed"},
		{"too long", hs, strings.Repeat("a", maxTokenLen+1), "", "malformed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := verifier(t, JWTConfig{Keys: tc.keys})
			_, err := v.Verify(tc.token, "realm1", tc.authid)
			refused(t, err, tc.check)
		})
	}
}

// tamper changes the token's sub to "admin", keeping header and signature.
func tamper(t *testing.T, tok string) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	b, _ := json.Marshal(claims(map[string]any{"sub": "admin"}))
	parts[1] = b64(b)
	return strings.Join(parts, ".")
}

// withHeader replaces the token's header with the JSON h.
func withHeader(t *testing.T, tok, h string) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	parts[0] = b64([]byte(h))
	return strings.Join(parts, ".")
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func TestJWTLeeway(t *testing.T) {
	k := jwtKeys(t)
	v := verifier(t, JWTConfig{Keys: []JWTKey{mustHMACKey(t, k.hmac)}, Leeway: 30 * time.Second})
	for _, tc := range []struct {
		name  string
		c     map[string]any
		check string // "" admitted
	}{
		{"expired within the leeway", map[string]any{"exp": jwtNow.Add(-20 * time.Second).Unix()}, ""},
		{"expired past the leeway", map[string]any{"exp": jwtNow.Add(-40 * time.Second).Unix()}, "exp"},
		{"nbf within the leeway", map[string]any{"nbf": jwtNow.Add(20 * time.Second).Unix()}, ""},
		{"nbf past the leeway", map[string]any{"nbf": jwtNow.Add(40 * time.Second).Unix()}, "nbf"},
		{"iat within the leeway", map[string]any{"iat": jwtNow.Add(20 * time.Second).Unix()}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := v.Verify(sign(t, jwt.SigningMethodHS256, k.hmac, claims(tc.c), nil), "realm1", "")
			if tc.check == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			refused(t, err, tc.check)
		})
	}
}

func TestJWTIdentity(t *testing.T) {
	k := jwtKeys(t)
	key := []JWTKey{mustHMACKey(t, k.hmac)}
	tok := sign(t, jwt.SigningMethodHS256, k.hmac, claims(map[string]any{
		"realm": "realm1",
		"name":  "Alice Liddell",
		"email": "alice@example.com",
		"uid":   42,
		"teams": []any{"red", 7},
		"ssn":   "not for WELCOME",
	}), nil)

	// Chosen claims go to authextra, whole numbers as integers; others
	// stay out. The HELLO authid may repeat sub.
	v := verifier(t, JWTConfig{Keys: key, AuthExtraClaims: []string{"name", "email", "uid", "teams", "missing"}})
	id, err := v.Verify(tok, "realm1", "alice")
	if err != nil {
		t.Fatal(err)
	}
	want := wamp.Dict{"name": "Alice Liddell", "email": "alice@example.com", "uid": int64(42), "teams": []any{"red", int64(7)}}
	if !reflect.DeepEqual(id.AuthExtra, want) {
		t.Errorf("authextra %#v, want %#v", id.AuthExtra, want)
	}
	if !id.Expires.IsZero() {
		t.Errorf("Expires %v without expire_sessions", id.Expires)
	}

	// expire_sessions: the session ends at exp plus the leeway.
	v = verifier(t, JWTConfig{Keys: key, ExpireSessions: true, Leeway: 5 * time.Second})
	id, err = v.Verify(tok, "realm1", "")
	if err != nil {
		t.Fatal(err)
	}
	if want := jwtNow.Add(time.Hour + 5*time.Second); !id.Expires.Equal(want) {
		t.Errorf("Expires %v, want %v", id.Expires, want)
	}
	if id.AuthExtra != nil {
		t.Errorf("authextra %v without authextra_claims", id.AuthExtra)
	}

	// A token without the role claim gets the configured role; another
	// claim may name the role.
	noRole := sign(t, jwt.SigningMethodHS256, k.hmac, claims(map[string]any{"role": nil, "groups": "staff"}), nil)
	v = verifier(t, JWTConfig{Keys: key, Role: "customer"})
	if id, err = v.Verify(noRole, "realm1", ""); err != nil || id.AuthRole != "customer" {
		t.Errorf("default role: %+v, %v", id, err)
	}
	v = verifier(t, JWTConfig{Keys: key, RoleClaim: "groups"})
	if id, err = v.Verify(noRole, "realm1", ""); err != nil || id.AuthRole != "staff" {
		t.Errorf("role_claim groups: %+v, %v", id, err)
	}

	// Without issuer and audience configured, neither is checked.
	v, err = NewJWTVerifier(JWTConfig{Keys: key, Now: func() time.Time { return jwtNow }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(sign(t, jwt.SigningMethodHS256, k.hmac, claims(map[string]any{"iss": nil, "aud": "x"}), nil), "realm1", ""); err != nil {
		t.Errorf("no issuer or audience configured: %v", err)
	}
}

// The ticket method with a JWT: every HELLO that offers ticket is taken,
// the token comes in AUTHENTICATE, and a refusal reaches the client as
// authentication_failed with the check named.
func TestJWTTicket(t *testing.T) {
	k := jwtKeys(t)
	a, err := NewJWTTicket(JWTConfig{Keys: []JWTKey{mustHMACKey(t, k.hmac)}, Now: func() time.Time { return jwtNow }})
	if err != nil {
		t.Fatal(err)
	}
	set := NewSet(SetConfig{Methods: []Authenticator{a}})
	tok := sign(t, jwt.SigningMethodHS256, k.hmac, claims(nil), nil)
	ch := answer(tok)
	id, err := set.Authenticate(context.Background(), hello("", MethodTicket), ch)
	if err != nil {
		t.Fatal(err)
	}
	if id.AuthID != "alice" || id.AuthRole != "frontend" || id.AuthProvider != ProviderJWT || id.AuthMethod != MethodTicket {
		t.Errorf("identity %+v", id)
	}
	if len(ch.methods) != 1 || ch.methods[0] != MethodTicket {
		t.Errorf("challenges %v, want one ticket challenge", ch.methods)
	}
	_, err = set.Authenticate(context.Background(), hello("bob", MethodTicket), answer(tok))
	refused(t, err, "authid")
	if msg := WAMPError(err).Msg; !strings.HasPrefix(msg, "ticket: invalid token: authid:") {
		t.Errorf("ABORT message %q", msg)
	}
}

func TestJWTKeyIDs(t *testing.T) {
	k := jwtKeys(t)
	set := jwksOf(t, jose.JSONWebKey{Key: k.rsa2.Public(), KeyID: "old", Use: "sig"}, jose.JSONWebKey{Key: k.rsa.Public(), KeyID: "new", Algorithm: "RS256"})
	keys, err := ParseJWKS(set)
	if err != nil {
		t.Fatal(err)
	}
	v := verifier(t, JWTConfig{Keys: keys})
	for _, tc := range []struct {
		name  string
		m     jwt.SigningMethod
		key   any
		kid   any
		check string
	}{
		{"kid of the signing key", jwt.SigningMethodRS256, k.rsa, "new", ""},
		{"kid of the other key", jwt.SigningMethodRS256, k.rsa2, "old", ""},
		{"no kid: every key is tried", jwt.SigningMethodRS256, k.rsa, nil, ""},
		{"kid of another key than the signer", jwt.SigningMethodRS256, k.rsa, "old", "signature"},
		{"unknown kid", jwt.SigningMethodRS256, k.rsa, "gone", "kid"},
		// "new" takes RS256 only (its alg); "old" takes every RSA alg.
		{"alg narrowed by the JWKS", jwt.SigningMethodPS256, k.rsa, "new", "kid"},
		{"PS256 with the other key", jwt.SigningMethodPS256, k.rsa2, "old", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var h map[string]any
			if tc.kid != nil {
				h = map[string]any{"kid": tc.kid}
			}
			_, err := v.Verify(sign(t, tc.m, tc.key, claims(nil), h), "realm1", "")
			if tc.check == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			refused(t, err, tc.check)
		})
	}
}

func jwksOf(t *testing.T, keys ...jose.JSONWebKey) []byte {
	t.Helper()
	b, err := json.Marshal(jose.JSONWebKeySet{Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestJWTKeyParsing(t *testing.T) {
	k := jwtKeys(t)
	if _, err := HMACKey([]byte("short")); !errors.Is(err, ErrBadKey) {
		t.Errorf("short HMAC secret: %v", err)
	}
	if _, err := NewJWTVerifier(JWTConfig{}); !errors.Is(err, ErrBadKey) {
		t.Errorf("no keys: %v", err)
	}

	// PEM: PKIX, PKCS #1 and certificates, several in a file.
	pkcs1 := pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&k.rsa.PublicKey)})
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "app"}, NotBefore: jwtNow, NotAfter: jwtNow.Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.ec256.Public(), k.ec256)
	if err != nil {
		t.Fatal(err)
	}
	cert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keys := mustPEMKeys(t, append(append(pkcs1, cert...), pemPublic(k.ed.Public())...))
	var algs [][]string
	for _, key := range keys {
		algs = append(algs, key.Algs())
	}
	if want := [][]string{rsaAlgs, {"ES256"}, {"EdDSA"}}; !reflect.DeepEqual(algs, want) {
		t.Errorf("algorithms %v, want %v", algs, want)
	}

	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	p224, err := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	privDER, _ := x509.MarshalPKCS8PrivateKey(k.ed)
	for name, b := range map[string][]byte{
		"private key": pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: privDER}),
		"RSA 1024":    pemPublic(small.Public()),
		"P-224":       pemPublic(p224.Public()),
		"no PEM":      []byte("not a key"),
		"bad DER":     pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte{1, 2, 3}}),
		"other block": pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: []byte{1}}),
	} {
		if _, err := ParsePublicKeysPEM(b); !errors.Is(err, ErrBadKey) {
			t.Errorf("%s: %v, want ErrBadKey", name, err)
		}
	}

	// JWKS: RSA, EC and OKP keys; encryption keys and unknown key types
	// skipped; shared secrets and private keys refused.
	set := []byte(`{"keys": [
		{"kty": "RSA", "use": "enc", "n": "AQAB", "e": "AQAB"},
		{"kty": "XYZ", "kid": "future"},
		` + string(jwkJSON(t, jose.JSONWebKey{Key: k.ec256.Public(), KeyID: "ec"})) + `,
		` + string(jwkJSON(t, jose.JSONWebKey{Key: k.ed.Public(), KeyID: "ed"})) + `]}`)
	keys, err = ParseJWKS(set)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 || keys[0].ID != "ec" || keys[1].ID != "ed" {
		t.Errorf("JWKS keys %+v", keys)
	}
	for name, b := range map[string][]byte{
		"oct":         jwksOf(t, jose.JSONWebKey{Key: k.hmac, KeyID: "s"}),
		"private":     jwksOf(t, jose.JSONWebKey{Key: k.ed, KeyID: "p"}),
		"alg misfit":  jwksOf(t, jose.JSONWebKey{Key: k.ed.Public(), Algorithm: "RS256"}),
		"empty":       []byte(`{"keys": []}`),
		"not JSON":    []byte(`keys`),
		"bad RSA key": []byte(`{"keys": [{"kty": "RSA", "n": "", "e": ""}]}`),
	} {
		if _, err := ParseJWKS(b); !errors.Is(err, ErrBadKey) {
			t.Errorf("%s: %v, want ErrBadKey", name, err)
		}
	}
}

func jwkJSON(t *testing.T, k jose.JSONWebKey) []byte {
	t.Helper()
	b, err := k.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fuzzSeed is the Ed25519 key of FuzzJWT, fixed so that the seed corpus
// in testdata/fuzz/FuzzJWT holds tokens that verify.
var fuzzSeed = []byte("switchboard FuzzJWT ed25519 seed")

// FuzzJWT feeds tickets to the verifier of a realm with an HMAC secret and
// an Ed25519 key (checked at the fixed jwtNow): whatever the input, it
// must not panic, a refusal must be an invalid token that names no key,
// and an admission must name a user and a role. The corpus seeds valid
// HS256 and EdDSA tokens, alg none, a confused algorithm and garbage.
func FuzzJWT(f *testing.F) {
	hmacSecret := []byte("0123456789abcdef0123456789abcdef-fuzz")
	edKey := ed25519.NewKeyFromSeed(fuzzSeed)
	hk, err := HMACKey(hmacSecret)
	if err != nil {
		f.Fatal(err)
	}
	ek, err := PublicKey(edKey.Public())
	if err != nil {
		f.Fatal(err)
	}
	v, err := NewJWTVerifier(JWTConfig{
		Keys: []JWTKey{hk, ek}, Issuer: "https://app.example.com", Audience: "switchboard",
		AuthExtraClaims: []string{"name"}, ExpireSessions: true, Leeway: time.Second,
		Now: func() time.Time { return jwtNow },
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(sign(f, jwt.SigningMethodHS256, hmacSecret, claims(map[string]any{"name": "Alice"}), nil))
	f.Add(sign(f, jwt.SigningMethodEdDSA, edKey, claims(nil), map[string]any{"kid": "k1"}))
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Add("a.b.c")
	f.Fuzz(func(t *testing.T, token string) {
		id, err := v.Verify(token, "realm1", "")
		if err != nil {
			if !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("refusal %v is not ErrInvalidToken", err)
			}
			if strings.Contains(err.Error(), string(hmacSecret)) {
				t.Fatalf("refusal %q carries the secret", err)
			}
			return
		}
		if id.AuthID == "" || id.AuthRole == "" || id.Expires.IsZero() || id.AuthProvider != ProviderJWT {
			t.Fatalf("admitted as %+v", id)
		}
	})
}

func TestJWTKeyFiles(t *testing.T) {
	k := jwtKeys(t)
	dir := t.TempDir()
	pemFile := dir + "/app.pem"
	if err := os.WriteFile(pemFile, k.rsaPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if keys, err := PublicKeysFromFile(pemFile); err != nil || len(keys) != 1 {
		t.Errorf("PEM file: %v, %v", keys, err)
	}
	set := jwksOf(t, jose.JSONWebKey{Key: k.ed.Public(), KeyID: "k"})
	if err := os.WriteFile(dir+"/jwks.json", set, 0o600); err != nil {
		t.Fatal(err)
	}
	if keys, err := JWKSFromFile(dir + "/jwks.json"); err != nil || len(keys) != 1 || keys[0].ID != "k" {
		t.Errorf("JWKS file: %v, %v", keys, err)
	}
	// Not read: missing, a directory, a device (which could block or never
	// end), too large.
	big := dir + "/big.pem"
	if err := os.WriteFile(big, make([]byte, maxKeyFile+1), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{dir + "/nope.pem", dir, "/dev/zero", big} {
		if _, err := PublicKeysFromFile(p); !errors.Is(err, ErrBadKey) {
			t.Errorf("%s: %v, want ErrBadKey", p, err)
		}
	}
}
