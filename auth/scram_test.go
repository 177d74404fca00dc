package auth

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/argon2"

	"github.com/switchboard/switchboard/wamp"
)

// RFC 7677 section 3's SCRAM-SHA-256 exchange, which the specification's
// examples reuse (its AUTHENTICATE carries this proof).
const (
	rfcUser        = "user"
	rfcPassword    = "pencil"
	rfcClientNonce = "rOprNGfwEbeRWgbNEkqO"
	rfcServerPart  = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
	rfcSalt        = "W22ZaJ0SNY7soEsUEjb6gQ=="
	rfcIterations  = 4096
	rfcProof       = "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
	rfcVerifier    = "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
)

func rfcKeys(t testing.TB) *ScramKeys {
	t.Helper()
	salt, _ := base64.StdEncoding.DecodeString(rfcSalt)
	k, err := DeriveScramKeys(rfcPassword, KDFPBKDF2, salt, rfcIterations, 0)
	if err != nil {
		t.Fatal(err)
	}
	return &k
}

// scramHello is a HELLO offering method with a client nonce.
func scramHello(authid, method, nonce string) *Request {
	req := hello(authid, method)
	if nonce != "" {
		req.Details["authextra"] = map[string]any{"nonce": nonce, "channel_binding": nil}
	}
	return req
}

// scramClient is the client side of WAMP-SCRAM, in either dialect, written
// from the specification (and from Autobahn|Python for "scram").
type scramClient struct {
	authid, password, nonce string
	binding                 string // "" or tls-unique
	cbind                   []byte
	// tamper, when set, changes AUTHENTICATE before it is sent.
	tamper func(proof *string, extra wamp.Dict)

	method      string
	challenge   wamp.Dict
	authMessage string
	salted      []byte
}

func (c *scramClient) Challenge(method string, extra wamp.Dict) (string, wamp.Dict, error) {
	c.method, c.challenge = method, extra
	nonce, _ := extra["nonce"].(string)
	salt, _ := extra["salt"].(string)
	iters, _ := wamp.AsInt(extra["iterations"])
	rawSalt, err := base64.StdEncoding.DecodeString(salt)
	if err != nil {
		return "", nil, err
	}
	switch extra["kdf"] {
	case KDFPBKDF2:
		c.salted = pbkdf2Key(c.password, rawSalt, int(iters))
	case KDFArgon2id:
		mem, _ := wamp.AsInt(extra["memory"])
		c.salted = argon2.IDKey([]byte(c.password), rawSalt, uint32(iters), uint32(mem), 1, 32)
	case KDFArgon2idCrossbar:
		// Autobahn|Python's _hash_argon2id13_secret: the hash as the PHC
		// string writes it.
		mem, _ := wamp.AsInt(extra["memory"])
		raw := argon2.IDKey([]byte(c.password), rawSalt, uint32(iters), uint32(mem), 1, 32)
		c.salted = []byte(base64.RawStdEncoding.EncodeToString(raw))
	default:
		return "", nil, errors.New("unknown kdf")
	}
	cb := ""
	if method == MethodScram {
		gs2 := "n,,"
		if c.binding != "" {
			gs2 = "p=" + c.binding + ",,"
		}
		cb = base64.StdEncoding.EncodeToString(append([]byte(gs2), c.cbind...))
	}
	c.authMessage = "n=" + c.authid + ",r=" + c.nonce + ",r=" + nonce + ",s=" + salt + ",i=" + strconv.Itoa(int(iters)) + ",c=" + cb + ",r=" + nonce
	clientKey := scramHMAC(c.salted, "Client Key")
	stored := sha256.Sum256(clientKey)
	sig := scramHMAC(stored[:], c.authMessage)
	for i := range clientKey {
		clientKey[i] ^= sig[i]
	}
	proof := base64.StdEncoding.EncodeToString(clientKey)
	out := wamp.Dict{}
	if method == MethodScram {
		out["nonce"] = nonce
		out["channel_binding"] = nil
		out["cbind_data"] = nil
		if c.binding != "" {
			out["channel_binding"] = c.binding
			out["cbind_data"] = base64.StdEncoding.EncodeToString(c.cbind)
		}
	}
	if c.tamper != nil {
		c.tamper(&proof, out)
	}
	return proof, out, nil
}

// serverSignature is what the client expects in WELCOME.
func (c *scramClient) serverSignature() string {
	return base64.StdEncoding.EncodeToString(scramHMAC(scramHMAC(c.salted, "Server Key"), c.authMessage))
}

func pbkdf2Key(password string, salt []byte, iters int) []byte {
	// The client's own PBKDF2-HMAC-SHA256, written out so that the test
	// does not check DeriveScramKeys against itself.
	u := func(b []byte) []byte { m := hmac.New(sha256.New, []byte(password)); m.Write(b); return m.Sum(nil) }
	prev := u(append(append([]byte{}, salt...), 0, 0, 0, 1))
	out := append([]byte{}, prev...)
	for i := 1; i < iters; i++ {
		prev = u(prev)
		for j := range out {
			out[j] ^= prev[j]
		}
	}
	return out
}

func mustScram(t testing.TB, ps []Principal, dyn *Dynamic) *Scram {
	t.Helper()
	s, err := NewScram(ps, dyn)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestScramRFC7677Vector(t *testing.T) {
	k := rfcKeys(t)
	s := mustScram(t, []Principal{{AuthID: rfcUser, Role: "frontend", Scram: k}}, nil)
	s.nonce = func() string { return rfcServerPart }
	req := scramHello(rfcUser, MethodScram, rfcClientNonce)
	ch := &challenger{}
	var extra wamp.Dict
	ch.respond = func(_ string, e wamp.Dict) string { extra = e; return rfcProof }
	full := rfcClientNonce + rfcServerPart
	a := &fixedExtra{ch: ch, extra: wamp.Dict{"nonce": full, "channel_binding": nil, "cbind_data": nil}}
	id, err := s.Authenticate(context.Background(), req, a)
	if err != nil {
		t.Fatal(err)
	}
	if extra["nonce"] != full || extra["salt"] != rfcSalt || extra["kdf"] != KDFPBKDF2 || extra["iterations"] != int64(rfcIterations) {
		t.Errorf("CHALLENGE = %v", extra)
	}
	if m, ok := extra["memory"]; !ok || m != nil {
		t.Errorf("CHALLENGE memory = %v, %v; want null as in the specification's example", m, ok)
	}
	if got := id.AuthExtra["verifier"]; got != "v="+rfcVerifier {
		t.Errorf("verifier = %v, want v=%s", got, rfcVerifier)
	}
	if got := id.AuthExtra["scram_server_signature"]; got != rfcVerifier {
		t.Errorf("scram_server_signature = %v", got)
	}
	if id.AuthID != rfcUser || id.AuthRole != "frontend" || id.AuthMethod != MethodScram || id.AuthProvider != ProviderStatic {
		t.Errorf("identity = %+v", id)
	}

	// The test client computes the same proof.
	c := &scramClient{authid: rfcUser, password: rfcPassword, nonce: rfcClientNonce}
	proof, _, err := c.Challenge(MethodScram, extra)
	if err != nil || proof != rfcProof || c.serverSignature() != rfcVerifier {
		t.Errorf("test client: proof %q (err %v), server signature %q", proof, err, c.serverSignature())
	}
}

// TestScramAutobahnVector: Autobahn|Python 22.7.1's AuthScram.on_challenge,
// run on this CHALLENGE (its client nonce set to testNonce), answered with
// this proof and expects this server signature. Its kdf argon2id-13 keys
// are not argon2id13's.
func TestScramAutobahnVector(t *testing.T) {
	const (
		serverPart = "c2VydmVyLW5vbmNlLTE2Yg=="
		proof      = "NHnQm1WCEabOpg272GNhstuSn5GJYnBXqKWk1oTl+CU="
		sig        = "b5fW7lhwBeiIyjtAtTxLklFam/89T/peFQ0bQ8kNsd4="
	)
	salt := []byte("0123456789abcdef")
	k, err := DeriveScramKeys("secret123", KDFArgon2idCrossbar, salt, 2, 64)
	if err != nil {
		t.Fatal(err)
	}
	spec, _ := DeriveScramKeys("secret123", KDFArgon2id, salt, 2, 64)
	if hmac.Equal(spec.StoredKey, k.StoredKey) {
		t.Error("argon2id13 and argon2id-13 keys are the same")
	}
	s := mustScram(t, []Principal{{AuthID: "alice", Role: "r", Scram: &k}}, nil)
	s.nonce = func() string { return serverPart }
	var challenge wamp.Dict
	ch := &challenger{respond: func(method string, extra wamp.Dict) string {
		challenge = extra
		return proof
	}}
	id, err := s.Authenticate(context.Background(), scramHello("alice", MethodScramAutobahn, testNonce), ch)
	if err != nil {
		t.Fatal(err)
	}
	want := wamp.Dict{"nonce": testNonce + serverPart, "kdf": "argon2id-13", "salt": "MDEyMzQ1Njc4OWFiY2RlZg==", "iterations": int64(2), "memory": int64(64)}
	if !reflect.DeepEqual(challenge, want) || ch.methods[0] != "scram" {
		t.Errorf("CHALLENGE %s %v, want scram %v", ch.methods[0], challenge, want)
	}
	if id.AuthMethod != "scram" || id.AuthExtra["scram_server_signature"] != sig {
		t.Errorf("identity %+v, want scram_server_signature %s", id, sig)
	}
}

// fixedExtra answers with ch's signature and a fixed AUTHENTICATE.Extra.
type fixedExtra struct {
	ch    *challenger
	extra wamp.Dict
}

func (f *fixedExtra) Challenge(method string, extra wamp.Dict) (string, wamp.Dict, error) {
	sig, _, err := f.ch.Challenge(method, extra)
	return sig, f.extra, err
}

const testNonce = "AAECAwQFBgcICQoLDA0ODw==" // 16 bytes

func testPrincipals(t testing.TB) []Principal {
	t.Helper()
	salt := []byte("0123456789abcdef")
	ka, err := DeriveScramKeys("argon-pw", KDFArgon2id, salt, 1, 64)
	if err != nil {
		t.Fatal(err)
	}
	kp, err := DeriveScramKeys("pbkdf2-pw", KDFPBKDF2, salt, 1000, 0)
	if err != nil {
		t.Fatal(err)
	}
	kc, err := DeriveScramKeys("crossbar-pw", KDFArgon2idCrossbar, salt, 1, 64)
	if err != nil {
		t.Fatal(err)
	}
	return []Principal{
		{AuthID: "ann", Role: "frontend", Scram: &ka},
		{AuthID: "pete", Role: "backend", Scram: &kp},
		{AuthID: "cara", Role: "frontend", Scram: &kc},
	}
}

func TestScramRoundTrip(t *testing.T) {
	s := mustScram(t, testPrincipals(t), nil)
	for _, tc := range []struct {
		authid, password, method, role, kdf string
	}{
		{"ann", "argon-pw", MethodScram, "frontend", KDFArgon2id},
		{"pete", "pbkdf2-pw", MethodScram, "backend", KDFPBKDF2},
		{"cara", "crossbar-pw", MethodScramAutobahn, "frontend", KDFArgon2idCrossbar},
		{"cara", "crossbar-pw", MethodScram, "frontend", KDFArgon2idCrossbar},
		{"ann", "argon-pw", MethodScramAutobahn, "frontend", KDFArgon2id},
		{"pete", "pbkdf2-pw", MethodScramAutobahn, "backend", KDFPBKDF2},
	} {
		name := tc.authid + "/" + tc.method
		req := scramHello(tc.authid, tc.method, testNonce)
		c := &scramClient{authid: tc.authid, password: tc.password, nonce: testNonce}
		id, err := s.Authenticate(context.Background(), req, c)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if c.method != tc.method || id.AuthMethod != tc.method || id.AuthRole != tc.role || id.AuthID != tc.authid {
			t.Errorf("%s: CHALLENGE method %q, identity %+v", name, c.method, id)
		}
		if c.challenge["kdf"] != tc.kdf {
			t.Errorf("%s: kdf %v, want %s", name, c.challenge["kdf"], tc.kdf)
		}
		if n, _ := c.challenge["nonce"].(string); !strings.HasPrefix(n, testNonce) || len(n) <= len(testNonce) {
			t.Errorf("%s: CHALLENGE nonce %q does not extend the client's", name, n)
		}
		if _, has := c.challenge["memory"]; tc.method == MethodScramAutobahn && tc.kdf == KDFPBKDF2 && has {
			t.Errorf("%s: memory sent to Autobahn with pbkdf2 (it would take int(None))", name)
		}
		want := c.serverSignature()
		if id.AuthExtra["verifier"] != "v="+want || id.AuthExtra["scram_server_signature"] != want {
			t.Errorf("%s: authextra %v, want server signature %s", name, id.AuthExtra, want)
		}
	}
}

// TestScramBareAuthenticate: a client that sends the proof alone (Autobahn|Python's
// session sends no AUTHENTICATE.Extra, whatever the method) still logs in,
// channel binding included: the proof covers the router's own nonce and
// binding data.
func TestScramBareAuthenticate(t *testing.T) {
	s := mustScram(t, testPrincipals(t), nil)
	cs := &tls.ConnectionState{Version: tls.VersionTLS12, TLSUnique: []byte("finished-message")}
	for _, binding := range []string{"", BindingTLSUnique} {
		req := scramHello("pete", MethodScram, testNonce)
		c := &scramClient{authid: "pete", password: "pbkdf2-pw", nonce: testNonce}
		if binding != "" {
			req.Details["authextra"] = map[string]any{"nonce": testNonce, "channel_binding": binding}
			req.Transport.TLS = cs
			c.binding, c.cbind = binding, cs.TLSUnique
		}
		c.tamper = func(_ *string, e wamp.Dict) { clear(e) }
		if _, err := s.Authenticate(context.Background(), req, c); err != nil {
			t.Errorf("binding %q: %v", binding, err)
		}
	}
}

func TestScramWrongPassword(t *testing.T) {
	s := mustScram(t, testPrincipals(t), nil)
	for _, m := range []string{MethodScram, MethodScramAutobahn} {
		c := &scramClient{authid: "pete", password: "guess", nonce: testNonce}
		_, err := s.Authenticate(context.Background(), scramHello("pete", m, testNonce), c)
		if !errors.Is(err, ErrInvalidCredentials) {
			t.Errorf("%s: err = %v, want invalid credentials", m, err)
		}
		if we := WAMPError(err); we.URI != wamp.ErrAuthenticationFailed {
			t.Errorf("%s: ABORT %s", m, we.URI)
		}
		if err != nil && strings.Contains(err.Error(), c.challenge["salt"].(string)) {
			t.Errorf("error names the salt: %v", err)
		}
	}
	if s.Accepts(scramHello("nobody", MethodScram, testNonce)) {
		t.Error("unknown authid accepted")
	}
}

func TestScramMalformed(t *testing.T) {
	s := mustScram(t, testPrincipals(t), nil)
	tlsUnique := &tls.ConnectionState{Version: tls.VersionTLS12, TLSUnique: []byte("0123456789ab")}
	for _, tc := range []struct {
		name   string
		method string
		ae     map[string]any // HELLO authextra; nil: none
		tls    *tls.ConnectionState
		tamper func(proof *string, extra wamp.Dict)
		want   error
		msg    string
	}{
		{name: "no authextra", ae: nil, want: ErrBadAuthenticate, msg: "nonce is missing"},
		{name: "no nonce", ae: map[string]any{"channel_binding": nil}, want: ErrBadAuthenticate, msg: "nonce is missing"},
		{name: "nonce not string", ae: map[string]any{"nonce": int64(5)}, want: ErrBadAuthenticate, msg: "must be a string"},
		{name: "nonce not base64", ae: map[string]any{"nonce": "not base64!"}, want: ErrBadAuthenticate, msg: "base64"},
		{name: "nonce short", ae: map[string]any{"nonce": "AAEC"}, want: ErrBadAuthenticate, msg: "at least"},
		{name: "nonce not canonical", ae: map[string]any{"nonce": "AAECAwQFBgcICQoLDA0ODx=="}, want: ErrBadAuthenticate, msg: "base64"},
		{name: "binding unknown", ae: map[string]any{"nonce": testNonce, "channel_binding": "tls-server-end-point"}, want: ErrBadAuthenticate, msg: "not supported"},
		{name: "binding not string", ae: map[string]any{"nonce": testNonce, "channel_binding": true}, want: ErrBadAuthenticate, msg: "string or null"},
		{name: "tls-unique without TLS", ae: map[string]any{"nonce": testNonce, "channel_binding": "tls-unique"}, want: ErrBadAuthenticate, msg: "TLS 1.2"},
		{name: "tls-unique on TLS 1.3", ae: map[string]any{"nonce": testNonce, "channel_binding": "tls-unique"}, tls: &tls.ConnectionState{Version: tls.VersionTLS13}, want: ErrBadAuthenticate, msg: "TLS 1.2"},
		{name: "tls-unique autobahn", method: MethodScramAutobahn, ae: map[string]any{"nonce": testNonce, "channel_binding": "tls-unique"}, tls: tlsUnique, want: ErrBadAuthenticate, msg: "needs authmethod"},
		{name: "proof not base64", tamper: func(p *string, _ wamp.Dict) { *p = "%%%" }, want: ErrBadAuthenticate, msg: "base64"},
		{name: "proof short", tamper: func(p *string, _ wamp.Dict) { *p = (*p)[:20] + "==" }, want: ErrBadAuthenticate, msg: "base64 of 32"},
		{name: "proof empty", tamper: func(p *string, _ wamp.Dict) { *p = "" }, want: ErrBadAuthenticate, msg: "base64 of 32"},
		{name: "proof flipped", tamper: func(p *string, _ wamp.Dict) {
			b, _ := base64.StdEncoding.DecodeString(*p)
			b[0] ^= 1
			*p = base64.StdEncoding.EncodeToString(b)
		}, want: ErrInvalidCredentials, msg: "wrong proof"},
		{name: "authenticate other nonce", tamper: func(_ *string, e wamp.Dict) { e["nonce"] = testNonce + "AAAA" }, want: ErrBadAuthenticate, msg: "not the nonce"},
		{name: "authenticate nonce of other client", tamper: func(_ *string, e wamp.Dict) {
			n := e["nonce"].(string)
			e["nonce"] = "BBECAwQFBgcICQoLDA0ODw==" + n[len(testNonce):]
		}, want: ErrBadAuthenticate, msg: "not the nonce"},
		{name: "authenticate nonce not string", tamper: func(_ *string, e wamp.Dict) { e["nonce"] = []any{} }, want: ErrBadAuthenticate, msg: "must be a string"},
		{name: "authenticate other binding", tamper: func(_ *string, e wamp.Dict) { e["channel_binding"] = "tls-unique" }, want: ErrBadAuthenticate, msg: "channel_binding"},
		{name: "cbind_data without binding", tamper: func(_ *string, e wamp.Dict) { e["cbind_data"] = "AAAA" }, want: ErrBadAuthenticate, msg: "cbind_data"},
		{name: "autobahn other nonce", method: MethodScramAutobahn, tamper: func(_ *string, e wamp.Dict) { e["nonce"] = "x" }, want: ErrBadAuthenticate, msg: "not the nonce"},
		{name: "tls-unique wrong data", ae: map[string]any{"nonce": testNonce, "channel_binding": "tls-unique"}, tls: tlsUnique,
			tamper: func(_ *string, e wamp.Dict) {
				e["cbind_data"] = base64.StdEncoding.EncodeToString([]byte("another conn"))
			}, want: ErrInvalidCredentials, msg: "channel binding data"},
		{name: "tls-unique data not string", ae: map[string]any{"nonce": testNonce, "channel_binding": "tls-unique"}, tls: tlsUnique,
			tamper: func(_ *string, e wamp.Dict) { e["cbind_data"] = int64(1) }, want: ErrBadAuthenticate, msg: "must be a string"},
		{name: "tls-unique data not base64", ae: map[string]any{"nonce": testNonce, "channel_binding": "tls-unique"}, tls: tlsUnique,
			tamper: func(_ *string, e wamp.Dict) { e["cbind_data"] = "!" }, want: ErrBadAuthenticate, msg: "not base64"},
	} {
		method := tc.method
		if method == "" {
			method = MethodScram
		}
		req := hello("pete", method)
		if tc.ae == nil && tc.tamper != nil {
			tc.ae = map[string]any{"nonce": testNonce}
		}
		if tc.ae != nil {
			req.Details["authextra"] = tc.ae
		}
		req.Transport.TLS = tc.tls
		c := &scramClient{authid: "pete", password: "pbkdf2-pw", nonce: testNonce, tamper: tc.tamper}
		if b, _ := tc.ae["channel_binding"].(string); b != "" && tc.tls != nil {
			c.binding, c.cbind = b, tc.tls.TLSUnique
		}
		_, err := s.Authenticate(context.Background(), req, c)
		if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: err = %v, want %v with %q", tc.name, err, tc.want, tc.msg)
			continue
		}
		if we := WAMPError(err); we.URI != wamp.ErrAuthenticationFailed {
			t.Errorf("%s: ABORT %s", tc.name, we.URI)
		}
	}
}

func TestScramChannelBindingTLSUnique(t *testing.T) {
	s := mustScram(t, testPrincipals(t), nil)
	cs := &tls.ConnectionState{Version: tls.VersionTLS12, TLSUnique: []byte("finished-message")}
	req := hello("ann", MethodScram)
	req.Details["authextra"] = map[string]any{"nonce": testNonce, "channel_binding": "tls-unique"}
	req.Transport.TLS = cs
	c := &scramClient{authid: "ann", password: "argon-pw", nonce: testNonce, binding: "tls-unique", cbind: cs.TLSUnique}
	id, err := s.Authenticate(context.Background(), req, c)
	if err != nil {
		t.Fatal(err)
	}
	if id.AuthExtra["verifier"] != "v="+c.serverSignature() {
		t.Errorf("verifier %v", id.AuthExtra["verifier"])
	}
	// A client that binds another connection's data into its proof fails.
	c = &scramClient{authid: "ann", password: "argon-pw", nonce: testNonce, binding: "tls-unique", cbind: []byte("another-message!")}
	c.tamper = func(_ *string, e wamp.Dict) { e["cbind_data"] = base64.StdEncoding.EncodeToString(cs.TLSUnique) }
	if _, err := s.Authenticate(context.Background(), req, c); !errors.Is(err, ErrInvalidCredentials) {
		t.Errorf("proof over other binding data: err = %v", err)
	}
}

func TestScramChallengeAnsweredOnce(t *testing.T) {
	c, err := newScramExchange(scramHello(rfcUser, MethodScram, rfcClientNonce))
	if err != nil {
		t.Fatal(err)
	}
	c.challenge(rfcKeys(t), rfcServerPart)
	extra := wamp.Dict{"nonce": rfcClientNonce + rfcServerPart}
	if _, err := c.verify(rfcProof, extra); err != nil {
		t.Fatal(err)
	}
	if _, err := c.verify(rfcProof, extra); !errors.Is(err, ErrChallengeUsed) {
		t.Errorf("second answer: %v", err)
	}
}

func TestScramDynamic(t *testing.T) {
	k := testPrincipals(t)[1].Scram
	good := map[string]any{
		"role": "backend", "kdf": "pbkdf2", "salt": base64.StdEncoding.EncodeToString(k.Salt), "iterations": int64(k.Iterations),
		"stored_key": base64.StdEncoding.EncodeToString(k.StoredKey), "server_key": base64.StdEncoding.EncodeToString(k.ServerKey),
		"authextra": map[string]any{"tier": "gold"},
	}
	cl := returns(good)
	s := mustScram(t, nil, &Dynamic{Caller: cl, Procedure: "com.example.auth", Timeout: time.Second})
	req := scramHello("pete", MethodScram, testNonce)
	if !s.Accepts(req) || s.Accepts(scramHello("", MethodScram, testNonce)) {
		t.Fatal("dynamic Accepts: want an authid")
	}
	c := &scramClient{authid: "pete", password: "pbkdf2-pw", nonce: testNonce}
	id, err := s.Authenticate(context.Background(), req, c)
	if err != nil {
		t.Fatal(err)
	}
	if id.AuthProvider != ProviderDynamic || id.AuthRole != "backend" || id.AuthExtra["tier"] != "gold" || id.AuthExtra["verifier"] != "v="+c.serverSignature() {
		t.Errorf("identity %+v", id)
	}
	details := cl.calls[0][2].(wamp.Dict)
	if details["authmethod"] != MethodScram || details["authextra"].(map[string]any)["nonce"] != testNonce {
		t.Errorf("details %v", details)
	}
	c = &scramClient{authid: "pete", password: "wrong", nonce: testNonce}
	if _, err := s.Authenticate(context.Background(), req, c); !errors.Is(err, ErrInvalidCredentials) {
		t.Errorf("wrong password: %v", err)
	}

	for _, bad := range []map[string]any{
		{"role": "backend"},
		{"role": "backend", "kdf": "scrypt", "salt": good["salt"], "iterations": int64(1), "stored_key": good["stored_key"], "server_key": good["server_key"]},
		{"role": "backend", "kdf": "argon2id13", "salt": good["salt"], "iterations": int64(1), "stored_key": good["stored_key"], "server_key": good["server_key"]},
		{"role": "backend", "kdf": "pbkdf2", "salt": good["salt"], "iterations": int64(1), "stored_key": "AAAA", "server_key": good["server_key"]},
		{"role": "backend", "kdf": "argon2id13", "memory": "lots", "salt": good["salt"], "iterations": int64(1), "stored_key": good["stored_key"], "server_key": good["server_key"]},
	} {
		s := mustScram(t, nil, &Dynamic{Caller: returns(bad), Procedure: "com.example.auth"})
		c := &scramClient{authid: "pete", password: "pbkdf2-pw", nonce: testNonce}
		_, err := s.Authenticate(context.Background(), req, c)
		if !errors.Is(err, ErrAuthenticator) {
			t.Errorf("answer %v: err = %v, want authenticator failed", bad, err)
		}
		if c.challenge != nil {
			t.Errorf("answer %v: challenged anyway", bad)
		}
	}
}

func TestScramSet(t *testing.T) {
	var sleeps []time.Duration
	clk := newClock()
	lim := NewLimiter(LimiterConfig{FreeFailures: 1, BaseDelay: time.Second, MaxDelay: 4 * time.Second, Now: clk.Now})
	set := NewSet(SetConfig{
		Methods: []Authenticator{mustTicket(t, []Principal{{AuthID: "t", Role: "r", Ticket: PlainSecret("x")}}, nil), mustScram(t, testPrincipals(t), nil)},
		Limiter: lim,
		Sleep:   func(_ context.Context, d time.Duration) error { sleeps = append(sleeps, d); return nil },
	})
	// Autobahn|Python offers "scram"; a listener lists "wamp-scram".
	req := scramHello("ann", MethodScramAutobahn, testNonce)
	req.Allowed = []string{MethodScram}
	c := &scramClient{authid: "ann", password: "argon-pw", nonce: testNonce}
	id, err := set.Authenticate(context.Background(), req, c)
	if err != nil || id.AuthMethod != MethodScramAutobahn || c.method != MethodScramAutobahn {
		t.Fatalf("alias: %+v, %v (challenge method %q)", id, err, c.method)
	}
	req.Allowed = []string{MethodTicket}
	if _, err := set.Authenticate(context.Background(), req, c); !errors.Is(err, ErrNoAuthMethod) {
		t.Errorf("listener without wamp-scram: %v", err)
	}
	// Failures go through the limiter like any method's.
	req.Allowed = nil
	for range 3 {
		c := &scramClient{authid: "ann", password: "nope", nonce: testNonce}
		if _, err := set.Authenticate(context.Background(), req, c); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatalf("wrong password: %v", err)
		}
	}
	if len(sleeps) == 0 {
		t.Error("failed wamp-scram logins were not slowed down")
	}
}

func TestScramKeys(t *testing.T) {
	salt := base64.StdEncoding.EncodeToString([]byte("0123456789abcdef"))
	key := base64.StdEncoding.EncodeToString(make([]byte, 32))
	if _, err := ParseScramKeys("argon2id-13", salt, 2, 1024, key, key); err != nil {
		t.Errorf("Crossbar.io's kdf argon2id-13: %v", err)
	}
	for _, tc := range []struct {
		kdf, salt      string
		iters, mem     int
		stored, server string
		want           string
	}{
		{"", salt, 1, 0, key, key, "no kdf"},
		{"scrypt", salt, 1, 0, key, key, "unknown kdf"},
		{"pbkdf2", salt, 0, 0, key, key, "iterations"},
		{"pbkdf2", salt, 1, 64, key, key, "memory is for argon2id"},
		{"argon2id13", salt, 1, 0, key, key, "memory"},
		{"argon2id13", salt, 1, 1 << 30, key, key, "memory"},
		{"pbkdf2", "AAAA", 1, 0, key, key, "salt of 3 bytes"},
		{"pbkdf2", "not base64", 1, 0, key, key, "salt is not base64"},
		{"pbkdf2", "", 1, 0, key, key, "no salt"},
		{"pbkdf2", salt, 1, 0, "AAAA", key, "stored_key must be 32 bytes"},
		{"pbkdf2", salt, 1, 0, key, "", "no server_key"},
	} {
		_, err := ParseScramKeys(tc.kdf, tc.salt, tc.iters, tc.mem, tc.stored, tc.server)
		if !errors.Is(err, ErrBadSecret) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: err = %v, want %q", tc, err, tc.want)
		}
	}
	if _, err := NewScram([]Principal{{AuthID: "a", Role: "r"}}, nil); err == nil {
		t.Error("principal without keys accepted")
	}
}

// FuzzScram feeds AUTHENTICATE messages (the proof and Extra as JSON) to
// an exchange over RFC 7677's keys. Nothing may panic, every failure must
// wrap one of the package's sentinels and map to authentication_failed,
// and only the right proof may pass. Seeds are in
// testdata/fuzz/FuzzScram.
func FuzzScram(f *testing.F) {
	keys := rfcKeys(f)
	full := rfcClientNonce + rfcServerPart
	f.Add(rfcProof, []byte(`{"nonce":"`+full+`","channel_binding":null,"cbind_data":null}`))
	f.Fuzz(func(t *testing.T, proof string, extraJSON []byte) {
		var extra wamp.Dict
		if json.Unmarshal(extraJSON, &extra) != nil {
			extra = nil
		}
		c, err := newScramExchange(scramHello(rfcUser, MethodScram, rfcClientNonce))
		if err != nil {
			t.Fatal(err)
		}
		c.challenge(keys, rfcServerPart)
		sig, err := c.verify(proof, extra)
		if err == nil {
			if n, given := extra["nonce"]; given && n != full || base64.StdEncoding.EncodeToString(sig) != rfcVerifier {
				t.Fatalf("accepted proof %q with extra %v", proof, extra)
			}
			b, _ := base64.StdEncoding.DecodeString(proof)
			r, _ := base64.StdEncoding.DecodeString(rfcProof)
			if !hmac.Equal(b, r) {
				t.Fatalf("accepted a proof that is not the right one: %q", proof)
			}
			return
		}
		if !errors.Is(err, ErrBadAuthenticate) && !errors.Is(err, ErrInvalidCredentials) {
			t.Fatalf("error wraps no sentinel: %v", err)
		}
		if WAMPError(err).URI != wamp.ErrAuthenticationFailed {
			t.Fatalf("ABORT %s", WAMPError(err).URI)
		}
		if len(proof) >= 40 && strings.Contains(err.Error(), proof) {
			t.Fatalf("error echoes the proof: %v", err)
		}
	})
}
