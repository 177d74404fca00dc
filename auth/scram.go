package auth

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"

	"github.com/switchboard/switchboard/wamp"
)

// WAMP-SCRAM (advanced/authentication_scram.md): SCRAM-SHA-256 (RFC 5802,
// RFC 7677) over HELLO, CHALLENGE, AUTHENTICATE and WELCOME, with Argon2id
// or PBKDF2 as the key derivation function. The router keeps only what the
// specification's "Data Stored on the Server" lists (salt, kdf and its
// parameters, StoredKey, ServerKey); it never sees the password and never
// runs the KDF during a login, so a costly KDF costs the client only.
//
// Two dialects are spoken, told apart by the method name the client offers:
//
//   - "wamp-scram", the specification's: kdf "argon2id13" or "pbkdf2",
//     ClientFinalNoProof "c=" + Base64(gs2 header) (c=biws without channel
//     binding, which makes RFC 7677's test vector apply), AUTHENTICATE.Extra
//     echoes the nonce and channel binding, and WELCOME.Details.authextra
//     carries verifier "v=" + Base64(ServerSignature), as in the
//     specification's example.
//   - "scram", what Autobahn|Python's AuthScram (22.x) and Crossbar.io
//     speak: CHALLENGE and WELCOME name the method "scram",
//     ClientFinalNoProof is "c=,r=" + nonce (an empty channel binding),
//     AUTHENTICATE carries the proof only, and the client checks
//     authextra.scram_server_signature. No channel binding.
//
// WELCOME carries both verifier and scram_server_signature, whatever the
// dialect, for clients that read the other one.
//
// The KDF is the principal's, named in CHALLENGE as stored; there is no
// negotiation. Autobahn|Python and Crossbar.io know "argon2id-13", which is
// not the specification's "argon2id13": their SaltedPassword is the
// unpadded base64 text of the Argon2id output (as the PHC string writes
// it), not the output itself, so its stored keys differ. Both are
// supported, as distinct KDFs: a principal for Autobahn's AuthScram takes
// argon2id-13, one for clients of the specification argon2id13. (Autobahn
// 22.x cannot do pbkdf2: it hands the base64 salt, a str, to a pbkdf2()
// that wants bytes.)

// Method names of WAMP-SCRAM.
const (
	// MethodScram is the specification's method name, the one config.yaml
	// lists.
	MethodScram = "wamp-scram"
	// MethodScramAutobahn is the name Autobahn|Python's AuthScram and
	// Crossbar.io use for the same method; the wamp-scram authenticator
	// answers to it too.
	MethodScramAutobahn = "scram"
)

// Key derivation functions of WAMP-SCRAM, as CHALLENGE.Details.kdf names
// them.
const (
	// KDFArgon2id is the specification's: SaltedPassword is the Argon2id
	// (v1.3, p=1) output.
	KDFArgon2id = "argon2id13"
	// KDFArgon2idCrossbar is Autobahn|Python's and Crossbar.io's: the same
	// Argon2id, but SaltedPassword is its output in unpadded base64 text.
	KDFArgon2idCrossbar = "argon2id-13"
	// KDFPBKDF2 is PBKDF2-HMAC-SHA256.
	KDFPBKDF2 = "pbkdf2"
)

// KDFs lists the key derivation functions ScramKeys takes.
var KDFs = []string{KDFArgon2id, KDFArgon2idCrossbar, KDFPBKDF2}

// KDFHasMemory reports whether kdf takes a memory cost: the Argon2id ones.
func KDFHasMemory(kdf string) bool { return kdf == KDFArgon2id || kdf == KDFArgon2idCrossbar }

// Defaults of `switchboard secret scram`: Argon2id as the specification
// recommends, with parameters a phone can afford (64 MiB, 3 passes: RFC
// 9106's second recommended option at p=1); PBKDF2 with RFC 7677's
// recommended minimum of iterations times four.
const (
	DefaultScramArgonIterations  = 3
	DefaultScramArgonMemory      = 64 * 1024 // KiB
	DefaultScramPBKDF2Iterations = 16384
	DefaultScramSaltLen          = 16
)

// Bounds on the stored SCRAM parameters. The router never runs the KDF at
// login; the bounds keep `switchboard secret scram` and clients from being
// asked for absurd work, and reject typos.
const (
	maxScramIterations = 10_000_000
	maxScramMemory     = 4 * 1024 * 1024 // KiB: 4 GiB
	minScramMemory     = 8               // KiB, Argon2's minimum at p=1
	minScramSalt       = 8               // bytes, RFC 2898's minimum
	maxScramSalt       = 1024
	minScramNonce      = 8 // bytes of the client nonce
	maxScramNonceChars = 256
)

// ScramKeys is what the router stores of one WAMP-SCRAM principal.
type ScramKeys struct {
	// KDF is KDFArgon2id or KDFPBKDF2.
	KDF  string
	Salt []byte
	// Iterations is Argon2's time cost or PBKDF2's iteration count.
	Iterations int
	// Memory is Argon2's memory cost in KiB; zero for PBKDF2.
	Memory int
	// StoredKey is SHA256(HMAC(SaltedPassword, "Client Key")), ServerKey
	// HMAC(SaltedPassword, "Server Key"); 32 bytes each.
	StoredKey, ServerKey []byte
}

// ScramKeyError is a problem with one field of ScramKeys, named as
// config.yaml and dynamic authenticators name it (kdf, salt, iterations,
// memory, stored_key, server_key). It wraps ErrBadSecret.
type ScramKeyError struct {
	Field string
	err   error
}

func (e *ScramKeyError) Error() string { return e.err.Error() }
func (e *ScramKeyError) Unwrap() error { return e.err }

func scramKeyErr(field, format string, args ...any) error {
	return &ScramKeyError{Field: field, err: fmt.Errorf("%w: "+format, append([]any{ErrBadSecret}, args...)...)}
}

// Check reports whether k is usable, naming the first problem in a
// *ScramKeyError.
func (k *ScramKeys) Check() error {
	switch k.KDF {
	case KDFArgon2id, KDFArgon2idCrossbar:
		if k.Memory < minScramMemory || k.Memory > maxScramMemory {
			return scramKeyErr("memory", "argon2id memory must be %d to %d KiB, got %d", minScramMemory, maxScramMemory, k.Memory)
		}
	case KDFPBKDF2:
		if k.Memory != 0 {
			return scramKeyErr("memory", "memory is for argon2id only")
		}
	case "":
		return scramKeyErr("kdf", "no kdf: want %s", strings.Join(KDFs, ", "))
	default:
		return scramKeyErr("kdf", "unknown kdf %q: want %s", k.KDF, strings.Join(KDFs, ", "))
	}
	if k.Iterations < 1 || k.Iterations > maxScramIterations {
		return scramKeyErr("iterations", "iterations must be 1 to %d, got %d", maxScramIterations, k.Iterations)
	}
	if len(k.Salt) < minScramSalt || len(k.Salt) > maxScramSalt {
		return scramKeyErr("salt", "salt of %d bytes, want %d to %d", len(k.Salt), minScramSalt, maxScramSalt)
	}
	if len(k.StoredKey) != sha256.Size {
		return scramKeyErr("stored_key", "stored_key must be %d bytes, got %d", sha256.Size, len(k.StoredKey))
	}
	if len(k.ServerKey) != sha256.Size {
		return scramKeyErr("server_key", "server_key must be %d bytes, got %d", sha256.Size, len(k.ServerKey))
	}
	return nil
}

// ParseScramKeys decodes stored SCRAM keys as config.yaml and dynamic
// authenticators give them: salt, stored_key and server_key in standard
// base64 (padded, as the specification's examples).
func ParseScramKeys(kdf, salt string, iterations, memory int, storedKey, serverKey string) (ScramKeys, error) {
	k := ScramKeys{KDF: kdf, Iterations: iterations, Memory: memory}
	var err error
	for _, f := range []struct {
		name, in string
		out      *[]byte
	}{{"salt", salt, &k.Salt}, {"stored_key", storedKey, &k.StoredKey}, {"server_key", serverKey, &k.ServerKey}} {
		if f.in == "" {
			return k, scramKeyErr(f.name, "no %s", f.name)
		}
		if *f.out, err = base64.StdEncoding.Strict().DecodeString(f.in); err != nil {
			return k, scramKeyErr(f.name, "%s is not base64", f.name)
		}
	}
	return k, k.Check()
}

// DeriveScramKeys derives the stored keys of a password: SaltedPassword =
// KDF(password, salt, params), then StoredKey and ServerKey as RFC 5802
// has them. The password is taken as given (its UTF-8 bytes), as
// Autobahn|Python takes it; a client that applies SASLprep derives the same
// keys for any ASCII password. memory is ignored for PBKDF2.
func DeriveScramKeys(password, kdf string, salt []byte, iterations, memory int) (ScramKeys, error) {
	k := ScramKeys{KDF: kdf, Salt: salt, Iterations: iterations}
	if KDFHasMemory(kdf) {
		k.Memory = memory
	}
	// Check all but the keys, which are not made yet.
	k.StoredKey, k.ServerKey = make([]byte, sha256.Size), make([]byte, sha256.Size)
	if err := k.Check(); err != nil {
		return ScramKeys{}, err
	}
	var salted []byte
	switch k.KDF {
	case KDFArgon2id:
		salted = argon2.IDKey([]byte(password), salt, uint32(iterations), uint32(k.Memory), 1, sha256.Size)
	case KDFArgon2idCrossbar:
		raw := argon2.IDKey([]byte(password), salt, uint32(iterations), uint32(k.Memory), 1, sha256.Size)
		salted = []byte(base64.RawStdEncoding.EncodeToString(raw))
	case KDFPBKDF2:
		var err error
		if salted, err = pbkdf2.Key(sha256.New, password, salt, iterations, sha256.Size); err != nil {
			return ScramKeys{}, fmt.Errorf("%w: pbkdf2: %v", ErrBadSecret, err)
		}
	}
	clientKey := scramHMAC(salted, "Client Key")
	stored := sha256.Sum256(clientKey)
	k.StoredKey, k.ServerKey = stored[:], scramHMAC(salted, "Server Key")
	return k, nil
}

func scramHMAC(key []byte, msg string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

// Scram is the wamp-scram method. Static principals are looked up by
// authid; a dynamic authenticator is asked for the principal, which must
// carry its keys (kdf, salt, iterations, memory, stored_key, server_key;
// see ParseScramKeys). Channel binding: none, or tls-unique on a TLS 1.2
// connection; any other is refused in ABORT.
type Scram struct {
	static  map[string]*Principal
	dynamic *Dynamic
	// nonce returns the server's part of the nonce; tests inject it.
	nonce func() string
}

// NewScram returns a wamp-scram method over static principals, or (dyn not
// nil) a dynamic authenticator.
func NewScram(principals []Principal, dyn *Dynamic) (*Scram, error) {
	m, err := staticIndex(MethodScram, principals, func(p *Principal) error {
		if p.Scram == nil {
			return errors.New("no SCRAM keys")
		}
		return p.Scram.Check()
	})
	return &Scram{static: m, dynamic: dyn, nonce: serverNonce}, err
}

func serverNonce() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

// Method implements Authenticator.
func (*Scram) Method() string { return MethodScram }

// Aliases are the other names a client may offer this method under (see
// Set.Authenticate).
func (*Scram) Aliases() []string { return []string{MethodScramAutobahn} }

// Accepts implements Authenticator.
func (s *Scram) Accepts(req *Request) bool {
	return s.dynamic != nil && req.AuthID() != "" || s.static[req.AuthID()] != nil
}

// Authenticate implements Authenticator.
func (s *Scram) Authenticate(ctx context.Context, req *Request, ch Challenger) (Identity, error) {
	c, err := newScramExchange(req)
	if err != nil {
		return Identity{}, err
	}
	var p principal
	var keys *ScramKeys
	provider := ProviderStatic
	if s.dynamic != nil {
		if p, err = s.dynamic.authenticate(ctx, req, MethodScram, nil); err != nil {
			return Identity{}, err
		}
		if keys, err = p.scramKeys(); err != nil {
			return Identity{}, fmt.Errorf("%w: %s: %v", ErrAuthenticator, s.dynamic.Procedure, err)
		}
		provider = ProviderDynamic
	} else {
		sp := s.static[req.AuthID()]
		if sp == nil {
			return Identity{}, fmt.Errorf("%w: unknown authid %q", ErrInvalidCredentials, req.AuthID())
		}
		p, keys = principal{authID: sp.AuthID, role: sp.Role}, sp.Scram
	}
	proof, extra, err := ch.Challenge(c.method, c.challenge(keys, s.nonce()))
	if err != nil {
		return Identity{}, err
	}
	verifier, err := c.verify(proof, extra)
	if err != nil {
		return Identity{}, err
	}
	if p.authExtra == nil {
		p.authExtra = wamp.Dict{}
	}
	sig := base64.StdEncoding.EncodeToString(verifier)
	p.authExtra["verifier"] = "v=" + sig
	p.authExtra["scram_server_signature"] = sig
	return identity(p, c.method, provider), nil
}

// scramExchange is one WAMP-SCRAM login: what HELLO said, then what
// CHALLENGE said. It can be answered once.
type scramExchange struct {
	method      string // MethodScram or MethodScramAutobahn: the dialect
	authID      string
	clientNonce string
	binding     string // "" or BindingTLSUnique
	cbindData   []byte // the connection's tls-unique value
	// Set by challenge:
	nonce      string
	serverLine string // "r=...,s=...,i=..."
	keys       *ScramKeys
	used       bool
}

// newScramExchange reads HELLO: the dialect, the client nonce and the
// channel binding, refusing what cannot go on.
func newScramExchange(req *Request) (*scramExchange, error) {
	c := &scramExchange{method: MethodScram, authID: req.AuthID()}
	offered := req.AuthMethods()
	if !slices.Contains(offered, MethodScram) && slices.Contains(offered, MethodScramAutobahn) {
		c.method = MethodScramAutobahn
	}
	if c.authID == "" {
		return nil, fmt.Errorf("%w: wamp-scram needs HELLO.Details.authid", ErrBadAuthenticate)
	}
	ae := req.AuthExtra()
	n, ok := ae["nonce"].(string)
	switch {
	case ae["nonce"] == nil:
		return nil, fmt.Errorf("%w: HELLO.Details.authextra.nonce is missing: wamp-scram clients send a random base64 nonce", ErrBadAuthenticate)
	case !ok:
		return nil, fmt.Errorf("%w: HELLO.Details.authextra.nonce must be a string", ErrBadAuthenticate)
	case !validNonce(n):
		return nil, fmt.Errorf("%w: HELLO.Details.authextra.nonce must be canonical base64 of at least %d random bytes", ErrBadAuthenticate, minScramNonce)
	}
	c.clientNonce = n
	switch b := ae["channel_binding"].(type) {
	case nil:
	case string:
		if b != BindingTLSUnique {
			return nil, fmt.Errorf("%w: channel binding %q is not supported: want none (null) or %s", ErrBadAuthenticate, b, BindingTLSUnique)
		}
		if c.method == MethodScramAutobahn {
			return nil, fmt.Errorf("%w: channel binding needs authmethod %s", ErrBadAuthenticate, MethodScram)
		}
		// Go leaves TLSUnique nil on TLS 1.3 and on a resumed TLS 1.2
		// session without extended master secret, which is the
		// specification's condition against the triple handshake attack.
		t := req.Transport.TLS
		if t == nil || len(t.TLSUnique) == 0 {
			return nil, fmt.Errorf("%w: channel binding %s needs a TLS 1.2 connection (TLS 1.3 has no tls-unique); connect without channel binding", ErrBadAuthenticate, b)
		}
		c.binding, c.cbindData = b, t.TLSUnique
	default:
		return nil, fmt.Errorf("%w: HELLO.Details.authextra.channel_binding must be a string or null", ErrBadAuthenticate)
	}
	return c, nil
}

// validNonce reports whether n is canonical standard base64 of enough
// bytes. Canonical form also keeps "," and "=" where RFC 5802 allows them.
func validNonce(n string) bool {
	if len(n) > maxScramNonceChars {
		return false
	}
	b, err := base64.StdEncoding.Strict().DecodeString(n)
	return err == nil && len(b) >= minScramNonce
}

// challenge returns CHALLENGE.Details for keys, with serverPart appended to
// the client nonce.
func (c *scramExchange) challenge(keys *ScramKeys, serverPart string) wamp.Dict {
	c.keys = keys
	c.nonce = c.clientNonce + serverPart
	salt := base64.StdEncoding.EncodeToString(keys.Salt)
	c.serverLine = "r=" + c.nonce + ",s=" + salt + ",i=" + strconv.Itoa(keys.Iterations)
	d := wamp.Dict{"nonce": c.nonce, "salt": salt, "kdf": keys.KDF, "iterations": int64(keys.Iterations)}
	switch {
	case KDFHasMemory(keys.KDF):
		d["memory"] = int64(keys.Memory)
	case c.method == MethodScram:
		d["memory"] = nil // as the specification's example; Autobahn's int(None) would fail
	}
	return d
}

// authMessage is RFC 5802's AuthMessage of the exchange, in the dialect's
// form.
func (c *scramExchange) authMessage() []byte {
	var b bytes.Buffer
	b.WriteString("n=")
	if c.method == MethodScram {
		b.WriteString(strings.NewReplacer(",", "=2C", "=", "=3D").Replace(c.authID))
	} else {
		b.WriteString(c.authID) // Autobahn does not escape
	}
	b.WriteString(",r=" + c.clientNonce + "," + c.serverLine + ",c=")
	if c.method == MethodScram {
		gs2 := "n,,"
		if c.binding != "" {
			gs2 = "p=" + c.binding + ",,"
		}
		b.WriteString(base64.StdEncoding.EncodeToString(append([]byte(gs2), c.cbindData...)))
	}
	b.WriteString(",r=" + c.nonce)
	return b.Bytes()
}

// verify checks AUTHENTICATE: its extra (nonce, channel binding) and the
// ClientProof, and returns the ServerSignature. It consumes the exchange,
// whatever the outcome. Neither the proof nor the keys reach an error
// message.
func (c *scramExchange) verify(proof string, extra wamp.Dict) ([]byte, error) {
	if c.used || c.keys == nil {
		return nil, ErrChallengeUsed
	}
	c.used = true
	if err := c.checkExtra(extra); err != nil {
		return nil, err
	}
	got, err := base64.StdEncoding.Strict().DecodeString(proof)
	if err != nil || len(got) != sha256.Size {
		return nil, fmt.Errorf("%w: the proof (AUTHENTICATE.Signature) must be base64 of %d bytes", ErrBadAuthenticate, sha256.Size)
	}
	am := c.authMessage()
	clientSig := scramHMAC(c.keys.StoredKey, string(am))
	for i := range got {
		got[i] ^= clientSig[i]
	}
	recovered := sha256.Sum256(got)
	if !hmac.Equal(recovered[:], c.keys.StoredKey) {
		return nil, fmt.Errorf("%w: wrong proof for authid %q", ErrInvalidCredentials, c.authID)
	}
	return scramHMAC(c.keys.ServerKey, string(am)), nil
}

// checkExtra checks AUTHENTICATE.Extra: the nonce of CHALLENGE, and the
// channel binding of HELLO with its data. Each must match where it is
// given, and may be left out: Autobahn|Python (22.x) sends no Extra in
// AUTHENTICATE at all, and nothing rests on the echo, since the proof is
// checked over an AuthMessage made of the router's own nonce and channel
// binding data.
func (c *scramExchange) checkExtra(extra wamp.Dict) error {
	switch n := extra["nonce"].(type) {
	case nil:
	case string:
		if n != c.nonce {
			return fmt.Errorf("%w: AUTHENTICATE.Extra.nonce is not the nonce of CHALLENGE", ErrBadAuthenticate)
		}
	default:
		return fmt.Errorf("%w: AUTHENTICATE.Extra.nonce must be a string", ErrBadAuthenticate)
	}
	binding, ok := extra["channel_binding"].(string)
	if extra["channel_binding"] != nil && (!ok || binding != c.binding) {
		return fmt.Errorf("%w: AUTHENTICATE.Extra.channel_binding is not the one of HELLO", ErrBadAuthenticate)
	}
	data, ok := extra["cbind_data"].(string)
	switch {
	case extra["cbind_data"] == nil:
		return nil
	case c.binding == "":
		return fmt.Errorf("%w: AUTHENTICATE.Extra.cbind_data without channel binding", ErrBadAuthenticate)
	case !ok:
		return fmt.Errorf("%w: AUTHENTICATE.Extra.cbind_data must be a string", ErrBadAuthenticate)
	}
	b, err := base64.StdEncoding.Strict().DecodeString(data)
	if err != nil {
		return fmt.Errorf("%w: AUTHENTICATE.Extra.cbind_data is not base64", ErrBadAuthenticate)
	}
	if !hmac.Equal(b, c.cbindData) {
		return fmt.Errorf("%w: channel binding data is not this connection's", ErrInvalidCredentials)
	}
	return nil
}

// scramKeys returns the SCRAM keys of a dynamic authenticator's answer:
// kdf, salt, iterations, memory (argon2id), stored_key, server_key, as
// ParseScramKeys takes them.
func (p *principal) scramKeys() (*ScramKeys, error) {
	str := func(k string) string { s, _ := p.raw[k].(string); return s }
	memory := 0
	if v := p.raw["memory"]; v != nil {
		n, ok := wamp.AsInt(v)
		if !ok || n <= 0 || n > maxScramMemory {
			return nil, fmt.Errorf("memory must be a positive integer (KiB)")
		}
		memory = int(n)
	}
	k, err := ParseScramKeys(str("kdf"), p.salt, p.iterations, memory, str("stored_key"), str("server_key"))
	if err != nil {
		return nil, fmt.Errorf("wamp-scram keys: %v", strings.TrimPrefix(err.Error(), ErrBadSecret.Error()+": "))
	}
	return &k, nil
}
