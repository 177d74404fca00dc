package auth

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	nxwamp "github.com/gammazero/nexus/v3/wamp"
	"github.com/gammazero/nexus/v3/wamp/crsign"

	"github.com/switchboard/switchboard/wamp"
)

func mustTicket(t *testing.T, ps []Principal, dyn *Dynamic) *Ticket {
	t.Helper()
	a, err := NewTicket(ps, dyn)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestTicket(t *testing.T) {
	bc, _ := HashBcrypt("carol-ticket")
	carol, err := HashedSecret(SecretBcrypt, bc)
	if err != nil {
		t.Fatal(err)
	}
	a := mustTicket(t, []Principal{
		{AuthID: "alice", Role: "frontend", Ticket: PlainSecret("alice-ticket")},
		{AuthID: "carol", Role: "ops", Ticket: carol},
	}, nil)
	for _, tc := range []struct {
		authid, ticket, role string
		ok                   bool
	}{
		{"alice", "alice-ticket", "frontend", true},
		{"alice", "wrong", "", false},
		{"alice", "", "", false},
		{"carol", "carol-ticket", "ops", true},
		{"carol", bc, "", false}, // the hash itself is no ticket
	} {
		req := hello(tc.authid, MethodTicket)
		if !a.Accepts(req) {
			t.Fatalf("%s: not accepted", tc.authid)
		}
		ch := answer(tc.ticket)
		id, err := a.Authenticate(context.Background(), req, ch)
		if tc.ok != (err == nil) {
			t.Errorf("%s with %q: err = %v, want ok %v", tc.authid, tc.ticket, err, tc.ok)
			continue
		}
		if len(ch.methods) != 1 || ch.methods[0] != MethodTicket || len(ch.challenges[0]) != 0 {
			t.Errorf("CHALLENGE = %v %v, want one ticket challenge with empty extra", ch.methods, ch.challenges)
		}
		if tc.ok {
			want := Identity{AuthID: tc.authid, AuthRole: tc.role, AuthMethod: MethodTicket, AuthProvider: ProviderStatic}
			if !identityEqual(id, want) {
				t.Errorf("identity = %+v, want %+v", id, want)
			}
		} else if !errors.Is(err, ErrInvalidCredentials) {
			t.Errorf("err = %v, want ErrInvalidCredentials", err)
		}
	}
	if a.Accepts(hello("mallory", MethodTicket)) || a.Accepts(hello("", MethodTicket)) {
		t.Error("an unknown authid is accepted")
	}
}

func identityEqual(a, b Identity) bool {
	ea, _ := json.Marshal(a.AuthExtra)
	eb, _ := json.Marshal(b.AuthExtra)
	return a.AuthID == b.AuthID && a.AuthRole == b.AuthRole && a.AuthMethod == b.AuthMethod &&
		a.AuthProvider == b.AuthProvider && string(ea) == string(eb)
}

func mustCRA(t *testing.T, ps []Principal, dyn *Dynamic) *WAMPCRA {
	t.Helper()
	a, err := NewWAMPCRA(ps, dyn)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// nexusCRA answers a wampcra challenge with the nexus client's own code.
func nexusCRA(password string) *challenger {
	return &challenger{respond: func(method string, extra wamp.Dict) string {
		return crsign.RespondChallenge(password, &nxwamp.Challenge{AuthMethod: method, Extra: nxwamp.Dict(extra)}, nil)
	}}
}

func TestWAMPCRA(t *testing.T) {
	a := mustCRA(t, []Principal{{AuthID: "bob", Role: "backend", Secret: PlainSecret("bob-secret")}}, nil)
	req := hello("bob", MethodWAMPCRA)
	ch := nexusCRA("bob-secret")
	id, err := a.Authenticate(context.Background(), req, ch)
	if err != nil {
		t.Fatal(err)
	}
	want := Identity{AuthID: "bob", AuthRole: "backend", AuthMethod: MethodWAMPCRA, AuthProvider: ProviderStatic}
	if !identityEqual(id, want) {
		t.Errorf("identity = %+v, want %+v", id, want)
	}
	// The challenge is the JSON object of the specification.
	extra := ch.challenges[0]
	if _, salted := extra["salt"]; salted {
		t.Errorf("unsalted principal got salt in %v", extra)
	}
	var body map[string]any
	if err := json.Unmarshal([]byte(extra["challenge"].(string)), &body); err != nil {
		t.Fatalf("challenge %q is not JSON: %v", extra["challenge"], err)
	}
	for k, v := range map[string]any{"authid": "bob", "authrole": "backend", "authmethod": "wampcra", "authprovider": "static", "session": 4242.0} {
		if body[k] != v {
			t.Errorf("challenge %s = %v, want %v", k, body[k], v)
		}
	}
	if n, _ := body["nonce"].(string); len(n) < 16 {
		t.Errorf("challenge nonce %q too short", n)
	}
	if ts, _ := body["timestamp"].(string); !strings.HasSuffix(ts, "Z") {
		t.Errorf("challenge timestamp %q is not UTC ISO 8601", ts)
	}

	if _, err := a.Authenticate(context.Background(), req, nexusCRA("bob-secret!")); !errors.Is(err, ErrInvalidCredentials) {
		t.Errorf("wrong secret: err = %v, want ErrInvalidCredentials", err)
	}
	if _, err := a.Authenticate(context.Background(), req, answer("not base64!")); !errors.Is(err, ErrBadAuthenticate) {
		t.Errorf("garbage signature: err = %v, want ErrBadAuthenticate", err)
	}
}

// Crossbar.io's documented example: password secret1, salt salt123, 100
// iterations, key length 16 give the derived key prq7+YkJ1/KlW1X0YczMHw==.
func TestWAMPCRASalted(t *testing.T) {
	dk := DeriveCRAKey("secret1", "salt123", 100, 16)
	if dk != "prq7+YkJ1/KlW1X0YczMHw==" {
		t.Fatalf("DeriveCRAKey = %q, want Crossbar.io's prq7+YkJ1/KlW1X0YczMHw==", dk)
	}
	a := mustCRA(t, []Principal{{AuthID: "peter", Role: "frontend", Secret: PlainSecret(dk), Salt: "salt123", Iterations: 100, KeyLen: 16}}, nil)
	req := hello("peter", MethodWAMPCRA)
	ch := nexusCRA("secret1") // the client knows the password only
	if _, err := a.Authenticate(context.Background(), req, ch); err != nil {
		t.Fatalf("salted wampcra: %v", err)
	}
	extra := ch.challenges[0]
	if extra["salt"] != "salt123" || extra["iterations"] != int64(100) || extra["keylen"] != int64(16) {
		t.Errorf("CHALLENGE extra = %v, want salt, iterations and keylen", extra)
	}
	if _, err := a.Authenticate(context.Background(), req, nexusCRA("secret2")); !errors.Is(err, ErrInvalidCredentials) {
		t.Errorf("wrong password: err = %v", err)
	}
	// Defaults of the specification when the principal gives none.
	b := mustCRA(t, []Principal{{AuthID: "p", Role: "r", Secret: PlainSecret(DeriveCRAKey("pw", "s", 0, 0)), Salt: "s"}}, nil)
	ch = nexusCRA("pw")
	if _, err := b.Authenticate(context.Background(), hello("p", MethodWAMPCRA), ch); err != nil {
		t.Fatalf("default PBKDF2 parameters: %v", err)
	}
	if ch.challenges[0]["iterations"] != int64(1000) || ch.challenges[0]["keylen"] != int64(32) {
		t.Errorf("CHALLENGE extra = %v, want iterations 1000 and keylen 32", ch.challenges[0])
	}
}

func TestWAMPCRAHashedSecretRefused(t *testing.T) {
	bc, _ := HashBcrypt("x")
	h, _ := HashedSecret(SecretBcrypt, bc)
	if _, err := NewWAMPCRA([]Principal{{AuthID: "bob", Role: "r", Secret: h}}, nil); !errors.Is(err, ErrHashedSecret) {
		t.Errorf("NewWAMPCRA with a bcrypt secret: err = %v, want ErrHashedSecret", err)
	}
}

// A signature is good for the one challenge it was computed for: replayed
// on another challenge (another session, another nonce) it fails, and a
// challenge cannot be answered twice.
func TestChallengeReplay(t *testing.T) {
	key := []byte("bob-secret")
	p := principal{authID: "bob", role: "backend"}
	now := time.Now()
	c1, _ := newCRAChallenge(1, p, ProviderStatic, key, now)
	c2, _ := newCRAChallenge(1, p, ProviderStatic, key, now)
	if c1.challenge == c2.challenge {
		t.Fatal("two challenges are equal: the nonce is not random")
	}
	sig1 := base64.StdEncoding.EncodeToString(SignCRA(key, c1.challenge))
	if err := c2.verify(sig1); !errors.Is(err, ErrInvalidCredentials) {
		t.Errorf("signature of challenge 1 on challenge 2: err = %v, want ErrInvalidCredentials", err)
	}
	if err := c1.verify(sig1); err != nil {
		t.Fatalf("signature of challenge 1 on challenge 1: %v", err)
	}
	if err := c1.verify(sig1); !errors.Is(err, ErrChallengeUsed) {
		t.Errorf("second answer to challenge 1: err = %v, want ErrChallengeUsed", err)
	}

	pub, priv, _ := ed25519.GenerateKey(nil)
	s1, _ := newSignChallenge("", Transport{})
	s2, _ := newSignChallenge("", Transport{})
	sig := hex.EncodeToString(append(ed25519.Sign(priv, s1.message), s1.message...))
	if err := s2.verify(pub, sig); !errors.Is(err, ErrInvalidCredentials) {
		t.Errorf("cryptosign signature replayed on another challenge: err = %v", err)
	}
	if err := s1.verify(pub, sig); err != nil {
		t.Fatalf("cryptosign signature on its challenge: %v", err)
	}
	if err := s1.verify(pub, sig); !errors.Is(err, ErrChallengeUsed) {
		t.Errorf("second answer to a cryptosign challenge: err = %v, want ErrChallengeUsed", err)
	}
}

// signer answers cryptosign challenges with priv, XORing the channel id in
// when the CHALLENGE names a binding.
func signer(priv ed25519.PrivateKey, channelID []byte, withMessage bool) *challenger {
	return &challenger{respond: func(_ string, extra wamp.Dict) string {
		msg, _ := hex.DecodeString(extra["challenge"].(string))
		if extra["channel_binding"] != nil {
			for i := range msg {
				msg[i] ^= channelID[i]
			}
		}
		sig := ed25519.Sign(priv, msg)
		if withMessage {
			sig = append(sig, msg...)
		}
		return hex.EncodeToString(sig)
	}}
}

func cryptosignHello(authid string, pub ed25519.PublicKey, extra map[string]any) *Request {
	req := hello(authid, MethodCryptosign)
	ae := map[string]any{"pubkey": hex.EncodeToString(pub), "trustroot": nil, "challenge": nil, "channel_binding": nil}
	for k, v := range extra {
		ae[k] = v
	}
	req.Details["authextra"] = ae
	return req
}

func TestCryptosign(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	pub2, priv2, _ := ed25519.GenerateKey(nil)
	a, err := NewCryptosign([]Principal{{AuthID: "carol", Role: "backend", PubKeys: []ed25519.PublicKey{pub}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, authid := range []string{"carol", ""} {
		req := cryptosignHello(authid, pub, nil)
		if !a.Accepts(req) {
			t.Fatalf("authid %q with carol's key: not accepted", authid)
		}
		for _, withMessage := range []bool{true, false} {
			ch := signer(priv, nil, withMessage)
			id, err := a.Authenticate(context.Background(), req, ch)
			if err != nil {
				t.Fatalf("authid %q: %v", authid, err)
			}
			want := Identity{AuthID: "carol", AuthRole: "backend", AuthMethod: MethodCryptosign, AuthProvider: ProviderStatic,
				AuthExtra: wamp.Dict{"pubkey": hex.EncodeToString(pub)}}
			if !identityEqual(id, want) {
				t.Errorf("identity = %+v, want %+v", id, want)
			}
			c := ch.challenges[0]
			if b, _ := hex.DecodeString(c["challenge"].(string)); len(b) != 32 {
				t.Errorf("challenge %v is not 32 bytes in hex", c["challenge"])
			}
			if v, ok := c["channel_binding"]; !ok || v != nil {
				t.Errorf("channel_binding = %v (present %v), want null without TLS", v, ok)
			}
		}
	}
	// Someone else's key, or carol's key under another authid, is not
	// accepted; a wrong signature is refused.
	if a.Accepts(cryptosignHello("", pub2, nil)) || a.Accepts(cryptosignHello("dave", pub, nil)) || a.Accepts(hello("carol", MethodCryptosign)) {
		t.Error("an unknown key, a mismatched authid or no key is accepted")
	}
	if _, err := a.Authenticate(context.Background(), cryptosignHello("", pub, nil), signer(priv2, nil, true)); !errors.Is(err, ErrInvalidCredentials) {
		t.Errorf("signed with another key: err = %v, want ErrInvalidCredentials", err)
	}
	if _, err := a.Authenticate(context.Background(), cryptosignHello("", pub, nil), answer("abcd")); !errors.Is(err, ErrBadAuthenticate) {
		t.Errorf("short signature: err = %v, want ErrBadAuthenticate", err)
	}
}

// The test vectors of advanced/authentication_cryptosign.md: the signature
// the router expects for a challenge, with and without a channel id.
func TestCryptosignVectors(t *testing.T) {
	for _, v := range []struct{ channelID, privateKey, challenge, signature string }{
		{"", "4d57d97a68f555696620a6d849c0ce582568518d729eb753dc7c732de2804510", "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
			"b32675b221f08593213737bef8240e7c15228b07028e19595294678c90d11c0cae80a357331bfc5cc9fb71081464e6e75013517c2cf067ad566a6b7b728e5d03ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"},
		{"", "d511fe78e23934b3dadb52fcd022974b80bd92bccc7c5cf404e46cc0a8a2f5cd", "b26c1f87c13fc1da14997f1b5a71995dff8fbe0a62fae8473c7bdbd05bfb607d",
			"d4209ad10d5aff6bfbc009d7e924795de138a63515efc7afc6b01b7fe5201372190374886a70207b042294af5bd64ce725cd8dceb344e6d11c09d1aaaf4d660fb26c1f87c13fc1da14997f1b5a71995dff8fbe0a62fae8473c7bdbd05bfb607d"},
		{"62e935ae755f3d48f80d4d59f6121358c435722a67e859cc0caa8b539027f2ff", "4d57d97a68f555696620a6d849c0ce582568518d729eb753dc7c732de2804510", "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
			"9b6f41540c9b95b4b7b281c3042fa9c54cef43c842d62ea3fd6030fcb66e70b3e80d49d44c29d1635da9348d02ec93f3ed1ef227dfb59a07b580095c2b82f80f9d16ca518aa0c2b707f2b2a609edeca73bca8dd59817a633f35574ac6fd80d00"},
		{"62e935ae755f3d48f80d4d59f6121358c435722a67e859cc0caa8b539027f2ff", "6e1fde9cf9e2359a87420b65a87dc0c66136e66945196ba2475990d8a0c3a25b", "b05e6b8ad4d69abf74aa3be3c0ee40ae07d66e1895b9ab09285a2f1192d562d2",
			"ee3c7644fd8070532bc1fde3d70d742267da545d8c8f03e63bda63f1ad4214f4d2c4bfdb4eb9526def42deeb7e31602a6ff99eba893e0a4ad4d45892ca75e608d2b75e24a189a7f78ca776ba36fc53f6c3e31c32f251f2c524f0a44202f2902d"},
	} {
		seed, _ := hex.DecodeString(v.privateKey)
		pub := ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey)
		challenge, _ := hex.DecodeString(v.challenge)
		c := &signChallenge{message: challenge}
		if v.channelID != "" {
			id, _ := hex.DecodeString(v.channelID)
			c.message = make([]byte, 32)
			for i := range c.message {
				c.message[i] = challenge[i] ^ id[i]
			}
		}
		if err := c.verify(pub, v.signature); err != nil {
			t.Errorf("vector key %s.. channel %q: %v", v.privateKey[:8], v.channelID, err)
		}
		if got := hex.EncodeToString(append(ed25519.Sign(ed25519.NewKeyFromSeed(seed), c.message), c.message...)); got != v.signature {
			t.Errorf("vector key %s..: signature\n%s, want\n%s", v.privateKey[:8], got, v.signature)
		}
	}
}

func TestCryptosignChannelBinding(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	a, _ := NewCryptosign([]Principal{{AuthID: "carol", Role: "backend", PubKeys: []ed25519.PublicKey{pub}}}, nil)
	unique := []byte("twelve bytes")
	state := &tls.ConnectionState{Version: tls.VersionTLS12, TLSUnique: unique}
	sum := sha256.Sum256(unique)

	req := cryptosignHello("", pub, map[string]any{"channel_binding": BindingTLSUnique})
	req.Transport.TLS = state
	ch := signer(priv, sum[:], true)
	if _, err := a.Authenticate(context.Background(), req, ch); err != nil {
		t.Fatalf("tls-unique: %v", err)
	}
	if ch.challenges[0]["channel_binding"] != BindingTLSUnique {
		t.Errorf("CHALLENGE channel_binding = %v, want tls-unique", ch.challenges[0]["channel_binding"])
	}
	// A signature without the channel id is refused once binding is on.
	if _, err := a.Authenticate(context.Background(), req, signer(priv, make([]byte, 32), false)); !errors.Is(err, ErrInvalidCredentials) {
		t.Errorf("unbound signature under tls-unique: err = %v, want ErrInvalidCredentials", err)
	}
	// Without TLS the router cannot bind and says so by leaving it out.
	req.Transport.TLS = nil
	ch = signer(priv, nil, true)
	if _, err := a.Authenticate(context.Background(), req, ch); err != nil {
		t.Fatalf("tls-unique requested without TLS: %v", err)
	}
	if ch.challenges[0]["channel_binding"] != nil {
		t.Errorf("CHALLENGE channel_binding = %v without TLS, want null", ch.challenges[0]["channel_binding"])
	}
}

func TestTLSCert(t *testing.T) {
	dev := clientCertState(t, "device-1", true)
	other := clientCertState(t, "device-2", true)
	sum := sha256.Sum256(other.PeerCertificates[0].Raw)
	a, err := NewTLSCert([]Principal{
		{AuthID: "device-1", Role: "device"},
		{AuthID: "pinned", Role: "ops", Fingerprints: [][]byte{sum[:]}},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		state        *tls.ConnectionState
		authid, want string
	}{
		{dev, "", "device-1"},
		{dev, "device-1", "device-1"},
		{other, "", "pinned"},
		{other, "pinned", "pinned"},
	} {
		req := hello(tc.authid, MethodTLS)
		req.Transport.TLS = tc.state
		if !a.Accepts(req) {
			t.Errorf("%s as %q: not accepted", tc.state.PeerCertificates[0].Subject.CommonName, tc.authid)
			continue
		}
		ch := &challenger{}
		id, err := a.Authenticate(context.Background(), req, ch)
		if err != nil || id.AuthID != tc.want || id.AuthMethod != MethodTLS {
			t.Errorf("identity = %+v, %v; want authid %s", id, err, tc.want)
		}
		if len(ch.methods) != 0 {
			t.Errorf("tls sent CHALLENGE %v", ch.methods)
		}
	}
	for _, tc := range []struct {
		state  *tls.ConnectionState
		authid string
	}{
		{nil, ""},
		{clientCertState(t, "device-1", false), ""}, // unverified
		{clientCertState(t, "stranger", true), ""},
		{dev, "pinned"},
		{&tls.ConnectionState{}, ""},
	} {
		req := hello(tc.authid, MethodTLS)
		req.Transport.TLS = tc.state
		if a.Accepts(req) {
			t.Errorf("accepted %+v as %q", tc.state, tc.authid)
		}
		if _, err := a.Authenticate(context.Background(), req, &challenger{}); err == nil {
			t.Errorf("authenticated %+v as %q", tc.state, tc.authid)
		}
	}
}
