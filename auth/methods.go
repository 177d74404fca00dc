package auth

import (
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/switchboard/switchboard/wamp"
)

// Principal is one identity a static method knows.
type Principal struct {
	AuthID string
	Role   string
	// Ticket is the ticket of the ticket method: plain or hashed.
	Ticket Secret
	// Secret is the WAMP-CRA secret, which must be plain: the router signs
	// with it. With Salt set it is the derived key, as the client computes
	// it: base64(PBKDF2-HMAC-SHA256(password, Salt, Iterations, KeyLen)),
	// so that the password itself is stored nowhere (as in Crossbar.io).
	Secret     Secret
	Salt       string
	Iterations int // zero value: 1000, the specification's default
	KeyLen     int // zero value: 32
	// PubKeys are the Ed25519 public keys of the cryptosign method.
	PubKeys []ed25519.PublicKey
	// Fingerprints are SHA-256 digests of client certificates (DER) for
	// the tls method. None means the certificate's common name must equal
	// AuthID.
	Fingerprints [][]byte
	// Scram are the stored keys of the wamp-scram method (scram.go).
	Scram *ScramKeys
}

// WAMP-CRA defaults for PBKDF2 (advanced/authentication_cra.md).
const (
	DefaultIterations = 1000
	DefaultKeyLen     = 32
)

func identity(p principal, method, provider string) Identity {
	return Identity{AuthID: p.authID, AuthRole: p.role, AuthMethod: method, AuthProvider: provider, AuthExtra: p.authExtra}
}

// staticIndex maps authid to principal, checking what every method needs.
func staticIndex(method string, ps []Principal, check func(*Principal) error) (map[string]*Principal, error) {
	m := make(map[string]*Principal, len(ps))
	for i := range ps {
		p := &ps[i]
		if p.AuthID == "" || p.Role == "" {
			return nil, fmt.Errorf("%s principal %d: authid and role are required", method, i)
		}
		if m[p.AuthID] != nil {
			return nil, fmt.Errorf("%s principal %q listed twice", method, p.AuthID)
		}
		if err := check(p); err != nil {
			return nil, fmt.Errorf("%s principal %q: %w", method, p.AuthID, err)
		}
		m[p.AuthID] = p
	}
	return m, nil
}

// Ticket is the ticket method (advanced/authentication_ticket.md): the
// client sends a shared secret in AUTHENTICATE. Static principals are
// looked up by authid; a dynamic authenticator gets the ticket in
// details.ticket and answers with the principal; a JWT ticket (jwt.go) is
// verified as a token that names the principal.
type Ticket struct {
	static  map[string]*Principal
	dynamic *Dynamic
	jwt     *JWTVerifier
}

// NewTicket returns a ticket method over static principals, or (dyn not
// nil) a dynamic authenticator.
func NewTicket(principals []Principal, dyn *Dynamic) (*Ticket, error) {
	m, err := staticIndex(MethodTicket, principals, func(p *Principal) error {
		if p.Ticket.Kind() == "" {
			return errors.New("no ticket")
		}
		return nil
	})
	return &Ticket{static: m, dynamic: dyn}, err
}

// Method implements Authenticator.
func (*Ticket) Method() string { return MethodTicket }

// Accepts implements Authenticator.
func (t *Ticket) Accepts(req *Request) bool {
	return t.dynamic != nil || t.jwt != nil || t.static[req.AuthID()] != nil
}

// Authenticate implements Authenticator.
func (t *Ticket) Authenticate(ctx context.Context, req *Request, ch Challenger) (Identity, error) {
	ticket, _, err := ch.Challenge(MethodTicket, wamp.Dict{})
	if err != nil {
		return Identity{}, err
	}
	if t.jwt != nil {
		return t.jwt.Verify(ticket, req.Realm, req.AuthID())
	}
	if t.dynamic != nil {
		p, err := t.dynamic.authenticate(ctx, req, MethodTicket, wamp.Dict{"ticket": ticket})
		if err != nil {
			return Identity{}, err
		}
		return identity(p, MethodTicket, ProviderDynamic), nil
	}
	p := t.static[req.AuthID()]
	if p == nil || !p.Ticket.Verify(ticket) {
		return Identity{}, fmt.Errorf("%w: wrong ticket for authid %q", ErrInvalidCredentials, req.AuthID())
	}
	return Identity{AuthID: p.AuthID, AuthRole: p.Role, AuthMethod: MethodTicket, AuthProvider: ProviderStatic}, nil
}

// WAMPCRA is the wampcra method (advanced/authentication_cra.md): the
// router sends a challenge (a JSON object with a random nonce and the
// session id) and the client answers with its HMAC-SHA256 under the shared
// secret, or under the PBKDF2-derived key when the principal has a salt. A
// dynamic authenticator is asked for the principal (with its secret)
// before the challenge.
type WAMPCRA struct {
	static  map[string]*Principal
	dynamic *Dynamic
	now     func() time.Time
}

// NewWAMPCRA returns a wampcra method over static principals, or (dyn not
// nil) a dynamic authenticator.
func NewWAMPCRA(principals []Principal, dyn *Dynamic) (*WAMPCRA, error) {
	m, err := staticIndex(MethodWAMPCRA, principals, func(p *Principal) error {
		if p.Secret.Kind() == "" {
			return errors.New("no secret")
		}
		if _, ok := p.Secret.Key(); !ok {
			return fmt.Errorf("%w: wampcra signs with the secret itself; hashes are for tickets", ErrHashedSecret)
		}
		return nil
	})
	return &WAMPCRA{static: m, dynamic: dyn, now: time.Now}, err
}

// Method implements Authenticator.
func (*WAMPCRA) Method() string { return MethodWAMPCRA }

// Accepts implements Authenticator.
func (w *WAMPCRA) Accepts(req *Request) bool {
	return w.dynamic != nil && req.AuthID() != "" || w.static[req.AuthID()] != nil
}

// Authenticate implements Authenticator.
func (w *WAMPCRA) Authenticate(ctx context.Context, req *Request, ch Challenger) (Identity, error) {
	var p principal
	var key []byte
	provider := ProviderStatic
	if w.dynamic != nil {
		var err error
		if p, err = w.dynamic.authenticate(ctx, req, MethodWAMPCRA, nil); err != nil {
			return Identity{}, err
		}
		if p.secret == "" {
			return Identity{}, fmt.Errorf("%w: %s gave no secret", ErrAuthenticator, w.dynamic.Procedure)
		}
		key, provider = []byte(p.secret), ProviderDynamic
	} else {
		sp := w.static[req.AuthID()]
		if sp == nil {
			return Identity{}, fmt.Errorf("%w: unknown authid %q", ErrInvalidCredentials, req.AuthID())
		}
		key, _ = sp.Secret.Key()
		p = principal{authID: sp.AuthID, role: sp.Role, salt: sp.Salt, iterations: sp.Iterations, keyLen: sp.KeyLen}
	}
	c, err := newCRAChallenge(req.Session, p, provider, key, w.now())
	if err != nil {
		return Identity{}, err
	}
	sig, _, err := ch.Challenge(MethodWAMPCRA, c.extra)
	if err != nil {
		return Identity{}, err
	}
	if err := c.verify(sig); err != nil {
		return Identity{}, err
	}
	return identity(p, MethodWAMPCRA, provider), nil
}

// craChallenge is one pending WAMP-CRA challenge. It can be answered once.
type craChallenge struct {
	challenge string
	key       []byte
	extra     wamp.Dict
	used      bool
}

// craChallengeBody is the challenge string's object, in the order of the
// specification's example.
type craChallengeBody struct {
	Nonce        string `json:"nonce"`
	AuthProvider string `json:"authprovider"`
	AuthID       string `json:"authid"`
	Timestamp    string `json:"timestamp"`
	AuthRole     string `json:"authrole"`
	AuthMethod   string `json:"authmethod"`
	Session      uint64 `json:"session"`
}

func newCRAChallenge(session wamp.ID, p principal, provider string, key []byte, now time.Time) (*craChallenge, error) {
	nonce := make([]byte, 16)
	_, _ = rand.Read(nonce)
	b, err := json.Marshal(craChallengeBody{
		Nonce:        base64.RawURLEncoding.EncodeToString(nonce),
		AuthProvider: provider,
		AuthID:       p.authID,
		Timestamp:    now.UTC().Format("2006-01-02T15:04:05.000Z"),
		AuthRole:     p.role,
		AuthMethod:   MethodWAMPCRA,
		Session:      uint64(session),
	})
	if err != nil {
		return nil, err
	}
	c := &craChallenge{challenge: string(b), key: key, extra: wamp.Dict{"challenge": string(b)}}
	if p.salt != "" {
		iters, keyLen := p.iterations, p.keyLen
		if iters == 0 {
			iters = DefaultIterations
		}
		if keyLen == 0 {
			keyLen = DefaultKeyLen
		}
		c.extra["salt"] = p.salt
		c.extra["iterations"] = int64(iters)
		c.extra["keylen"] = int64(keyLen)
	}
	return c, nil
}

// verify checks a signature: base64 of HMAC-SHA256 under the key. It
// consumes the challenge, whatever the outcome.
func (c *craChallenge) verify(signature string) error {
	if c.used {
		return ErrChallengeUsed
	}
	c.used = true
	got, err := base64.StdEncoding.DecodeString(signature)
	if err != nil {
		return fmt.Errorf("%w: signature is not base64", ErrBadAuthenticate)
	}
	if !hmac.Equal(got, SignCRA(c.key, c.challenge)) {
		return fmt.Errorf("%w: wrong signature", ErrInvalidCredentials)
	}
	return nil
}

// SignCRA returns HMAC-SHA256(key, challenge): the WAMP-CRA signature
// before base64.
func SignCRA(key []byte, challenge string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(challenge))
	return m.Sum(nil)
}

// DeriveCRAKey returns the salted WAMP-CRA key of a password as clients
// compute it (AutobahnJS auth_cra.derive_key, nexus crsign): the base64 of
// PBKDF2-HMAC-SHA256(password, salt, iterations, keyLen). It is what a
// principal with a salt keeps as its Secret.
func DeriveCRAKey(password, salt string, iterations, keyLen int) string {
	if iterations == 0 {
		iterations = DefaultIterations
	}
	if keyLen == 0 {
		keyLen = DefaultKeyLen
	}
	dk, err := pbkdf2.Key(sha256.New, password, []byte(salt), iterations, keyLen)
	if err != nil {
		panic("auth: DeriveCRAKey: " + err.Error()) // only for absurd key lengths, a programmer error
	}
	return base64.StdEncoding.EncodeToString(dk)
}

// Channel binding types of cryptosign.
const (
	BindingTLSUnique   = "tls-unique"
	BindingTLSExporter = "tls-exporter"
)

// Cryptosign is the cryptosign method (advanced/authentication_cryptosign.md
// "Client Authentication"): the client announces its Ed25519 public key in
// HELLO.Details.authextra.pubkey, the router sends 32 random bytes, and the
// client returns its signature over them (XORed with the TLS channel id
// when it asked for channel binding) followed by the message signed. Router
// authentication and certificates are not implemented.
type Cryptosign struct {
	byKey   map[string]*Principal // hex public key
	dynamic *Dynamic
}

// NewCryptosign returns a cryptosign method over static principals, or (dyn
// not nil) a dynamic authenticator, which gets the public key in
// details.authextra.pubkey.
func NewCryptosign(principals []Principal, dyn *Dynamic) (*Cryptosign, error) {
	byKey := make(map[string]*Principal)
	_, err := staticIndex(MethodCryptosign, principals, func(p *Principal) error {
		if len(p.PubKeys) == 0 {
			return errors.New("no public key")
		}
		for _, k := range p.PubKeys {
			if len(k) != ed25519.PublicKeySize {
				return fmt.Errorf("public key of %d bytes, want %d", len(k), ed25519.PublicKeySize)
			}
			h := hex.EncodeToString(k)
			if q := byKey[h]; q != nil {
				return fmt.Errorf("public key %s also belongs to %q", h, q.AuthID)
			}
			byKey[h] = p
		}
		return nil
	})
	return &Cryptosign{byKey: byKey, dynamic: dyn}, err
}

// Method implements Authenticator.
func (*Cryptosign) Method() string { return MethodCryptosign }

// pubKey returns the client's public key from HELLO, lower-case hex.
func pubKey(req *Request) (string, ed25519.PublicKey, bool) {
	s, _ := req.AuthExtra()["pubkey"].(string)
	k, err := hex.DecodeString(s)
	if err != nil || len(k) != ed25519.PublicKeySize {
		return "", nil, false
	}
	return strings.ToLower(s), k, true
}

// Accepts implements Authenticator.
func (c *Cryptosign) Accepts(req *Request) bool {
	h, _, ok := pubKey(req)
	if !ok {
		return false
	}
	if c.dynamic != nil {
		return true
	}
	p := c.byKey[h]
	return p != nil && (req.AuthID() == "" || req.AuthID() == p.AuthID)
}

// Authenticate implements Authenticator.
func (c *Cryptosign) Authenticate(ctx context.Context, req *Request, ch Challenger) (Identity, error) {
	h, key, ok := pubKey(req)
	if !ok {
		return Identity{}, fmt.Errorf("%w: HELLO.Details.authextra.pubkey must be 32 bytes in hex", ErrBadAuthenticate)
	}
	var p principal
	provider := ProviderStatic
	if c.dynamic != nil {
		var err error
		if p, err = c.dynamic.authenticate(ctx, req, MethodCryptosign, nil); err != nil {
			return Identity{}, err
		}
		if p.pubKey != "" && !strings.EqualFold(p.pubKey, h) {
			return Identity{}, fmt.Errorf("%w: %s vouched for another public key", ErrInvalidCredentials, c.dynamic.Procedure)
		}
		provider = ProviderDynamic
	} else {
		sp := c.byKey[h]
		if sp == nil {
			return Identity{}, fmt.Errorf("%w: unknown public key", ErrInvalidCredentials)
		}
		p = principal{authID: sp.AuthID, role: sp.Role}
	}
	if p.authExtra == nil {
		p.authExtra = wamp.Dict{}
	}
	p.authExtra["pubkey"] = h

	binding, _ := req.AuthExtra()["channel_binding"].(string)
	cs, err := newSignChallenge(binding, req.Transport)
	if err != nil {
		return Identity{}, err
	}
	sig, _, err := ch.Challenge(MethodCryptosign, cs.extra)
	if err != nil {
		return Identity{}, err
	}
	if err := cs.verify(key, sig); err != nil {
		return Identity{}, err
	}
	return identity(p, MethodCryptosign, provider), nil
}

// signChallenge is one pending cryptosign challenge. It can be answered
// once.
type signChallenge struct {
	message []byte // what the client must sign: challenge XOR channel id
	extra   wamp.Dict
	used    bool
}

// newSignChallenge draws 32 random bytes. With a channel binding the client
// asked for and the connection has, the message to sign is the challenge
// XOR the channel id; a binding the connection cannot give is left out of
// CHALLENGE, which the specification allows and the client must notice.
func newSignChallenge(binding string, t Transport) (*signChallenge, error) {
	challenge := make([]byte, 32)
	_, _ = rand.Read(challenge)
	c := &signChallenge{message: challenge, extra: wamp.Dict{"challenge": hex.EncodeToString(challenge), "channel_binding": nil}}
	if binding == "" {
		return c, nil
	}
	id, ok := ChannelID(t, binding)
	if !ok {
		return c, nil
	}
	c.message = make([]byte, 32)
	for i := range c.message {
		c.message[i] = challenge[i] ^ id[i]
	}
	c.extra["channel_binding"] = binding
	return c, nil
}

// verify checks the client's signature over the challenge message: 96 bytes
// in hex, the Ed25519 signature followed by the message signed (the
// specification's form), or the 64-byte signature alone. It consumes the
// challenge, whatever the outcome.
func (c *signChallenge) verify(key ed25519.PublicKey, signature string) error {
	if c.used {
		return ErrChallengeUsed
	}
	c.used = true
	b, err := hex.DecodeString(signature)
	if err != nil {
		return fmt.Errorf("%w: signature is not hex", ErrBadAuthenticate)
	}
	switch len(b) {
	case ed25519.SignatureSize + 32:
		if !hmac.Equal(b[ed25519.SignatureSize:], c.message) {
			return fmt.Errorf("%w: the signed message is not the challenge", ErrInvalidCredentials)
		}
		b = b[:ed25519.SignatureSize]
	case ed25519.SignatureSize:
	default:
		return fmt.Errorf("%w: signature of %d bytes, want 96", ErrBadAuthenticate, len(b))
	}
	if !ed25519.Verify(key, c.message, b) {
		return fmt.Errorf("%w: wrong signature", ErrInvalidCredentials)
	}
	return nil
}

// ChannelID returns the 32-byte TLS channel id of a channel binding type:
// for tls-unique the SHA-256 of the tls-unique value (RFC 5929; what
// Autobahn|Python computes; TLS 1.2 only), for tls-exporter the RFC 9266
// exporter value (TLS 1.3, or 1.2 with extended master secret).
func ChannelID(t Transport, binding string) ([]byte, bool) {
	if t.TLS == nil {
		return nil, false
	}
	switch binding {
	case BindingTLSUnique:
		if len(t.TLS.TLSUnique) == 0 {
			return nil, false
		}
		sum := sha256.Sum256(t.TLS.TLSUnique)
		return sum[:], true
	case BindingTLSExporter:
		b, err := t.TLS.ExportKeyingMaterial("EXPORTER-Channel-Binding", nil, 32)
		if err != nil {
			return nil, false
		}
		return b, true
	}
	return nil, false
}

// TLSCert is the tls method: a client certificate that the listener
// verified against its client_ca identifies the client, with no CHALLENGE.
// A static principal matches by fingerprint, or, without fingerprints, by
// the certificate's common name equal to its authid; a dynamic
// authenticator gets the certificate in details.transport.client_cert.
type TLSCert struct {
	static  []*Principal
	dynamic *Dynamic
}

// NewTLSCert returns a tls method over static principals, or (dyn not nil)
// a dynamic authenticator.
func NewTLSCert(principals []Principal, dyn *Dynamic) (*TLSCert, error) {
	m, err := staticIndex(MethodTLS, principals, func(p *Principal) error {
		for _, f := range p.Fingerprints {
			if len(f) != sha256.Size {
				return fmt.Errorf("fingerprint of %d bytes, want a SHA-256 digest", len(f))
			}
		}
		return nil
	})
	t := &TLSCert{dynamic: dyn}
	for i := range principals {
		if m[principals[i].AuthID] != nil {
			t.static = append(t.static, &principals[i])
		}
	}
	return t, err
}

// Method implements Authenticator.
func (*TLSCert) Method() string { return MethodTLS }

func (t *TLSCert) match(req *Request) *Principal {
	c := clientCert(req.Transport.TLS)
	if c == nil {
		return nil
	}
	sum := sha256.Sum256(c.Raw)
	for _, p := range t.static {
		if req.AuthID() != "" && req.AuthID() != p.AuthID {
			continue
		}
		if len(p.Fingerprints) == 0 {
			if c.Subject.CommonName == p.AuthID {
				return p
			}
			continue
		}
		for _, f := range p.Fingerprints {
			if hmac.Equal(f, sum[:]) {
				return p
			}
		}
	}
	return nil
}

// Accepts implements Authenticator.
func (t *TLSCert) Accepts(req *Request) bool {
	if t.dynamic != nil {
		return clientCert(req.Transport.TLS) != nil
	}
	return t.match(req) != nil
}

// Authenticate implements Authenticator.
func (t *TLSCert) Authenticate(ctx context.Context, req *Request, _ Challenger) (Identity, error) {
	if clientCert(req.Transport.TLS) == nil {
		return Identity{}, fmt.Errorf("%w: no verified client certificate", ErrInvalidCredentials)
	}
	if t.dynamic != nil {
		r := *req
		if r.AuthID() == "" {
			// The certificate names the client: its common name is the
			// authid unless the authenticator says otherwise.
			r.Details = wamp.Dict{}
			for k, v := range req.Details {
				r.Details[k] = v
			}
			r.Details["authid"] = clientCert(req.Transport.TLS).Subject.CommonName
		}
		p, err := t.dynamic.authenticate(ctx, &r, MethodTLS, nil)
		if err != nil {
			return Identity{}, err
		}
		return identity(p, MethodTLS, ProviderDynamic), nil
	}
	p := t.match(req)
	if p == nil {
		return Identity{}, fmt.Errorf("%w: no principal for this client certificate", ErrInvalidCredentials)
	}
	return Identity{AuthID: p.AuthID, AuthRole: p.Role, AuthMethod: MethodTLS, AuthProvider: ProviderStatic}, nil
}
