package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"

	"github.com/go-jose/go-jose/v4"
)

// The keys of JWT tickets and the algorithms each verifies. A key's type
// fixes its algorithms (RFC 7518 section 3.1), never the token's header:
// an HMAC secret verifies HS256/384/512 only, an RSA public key RS* and
// PS*, an ECDSA key the one ES* of its curve, an Ed25519 key EdDSA. That is
// what makes algorithm confusion impossible: an HS256 token "signed" with
// the bytes of an RSA public key is refused because no HMAC key is
// configured, before any signature is computed.

// Algorithms by key type.
var (
	hmacAlgs    = []string{"HS256", "HS384", "HS512"}
	rsaAlgs     = []string{"PS256", "PS384", "PS512", "RS256", "RS384", "RS512"}
	ed25519Algs = []string{"EdDSA"}
)

// MinHMACSecret is the shortest HMAC secret taken, in bytes: RFC 7518
// section 3.2 wants a key at least as long as the hash, 32 bytes for
// HS256. A shorter one could be guessed offline from any token.
const MinHMACSecret = 32

// maxKeyFile bounds a PEM or JWKS file: a few keys are a few kilobytes,
// and a path such as /dev/zero must not be read forever.
const maxKeyFile = 1 << 20

// JWTKey is one key that may verify a JWT's signature, with the algorithms
// it verifies.
type JWTKey struct {
	// ID is the key's kid (from a JWKS), which a token's header may name;
	// "" for a key without one, which any token may use.
	ID   string
	key  any // []byte, *rsa.PublicKey, *ecdsa.PublicKey or ed25519.PublicKey
	algs []string
}

// Algs returns the algorithms the key verifies.
func (k JWTKey) Algs() []string { return slices.Clone(k.algs) }

// HMACKey returns the key of a shared secret: HS256, HS384 and HS512. The
// secret must have at least MinHMACSecret bytes.
func HMACKey(secret []byte) (JWTKey, error) {
	if len(secret) < MinHMACSecret {
		return JWTKey{}, fmt.Errorf("%w: an HMAC secret of %d bytes is too short for JWTs (at least %d: RFC 7518 section 3.2)", ErrBadKey, len(secret), MinHMACSecret)
	}
	return JWTKey{key: slices.Clone(secret), algs: hmacAlgs}, nil
}

// PublicKey returns the key of an RSA (at least 2048 bits), ECDSA (P-256,
// P-384, P-521) or Ed25519 public key.
func PublicKey(pub crypto.PublicKey) (JWTKey, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return JWTKey{}, fmt.Errorf("%w: RSA key of %d bits; want at least 2048", ErrBadKey, k.N.BitLen())
		}
		return JWTKey{key: k, algs: rsaAlgs}, nil
	case *ecdsa.PublicKey:
		alg, ok := map[elliptic.Curve]string{elliptic.P256(): "ES256", elliptic.P384(): "ES384", elliptic.P521(): "ES512"}[k.Curve]
		if !ok {
			return JWTKey{}, fmt.Errorf("%w: ECDSA key on curve %s; want P-256, P-384 or P-521", ErrBadKey, k.Curve.Params().Name)
		}
		return JWTKey{key: k, algs: []string{alg}}, nil
	case ed25519.PublicKey:
		if len(k) != ed25519.PublicKeySize {
			return JWTKey{}, fmt.Errorf("%w: Ed25519 key of %d bytes", ErrBadKey, len(k))
		}
		return JWTKey{key: k, algs: ed25519Algs}, nil
	}
	return JWTKey{}, fmt.Errorf("%w: unsupported public key type %T; want RSA, ECDSA or Ed25519", ErrBadKey, pub)
}

// ParsePublicKeysPEM reads the public keys of PEM data: PUBLIC KEY blocks
// (RSA, ECDSA, Ed25519), RSA PUBLIC KEY blocks (PKCS #1) and CERTIFICATE
// blocks (the certificate's key). A private key is refused: the router
// only verifies, and a private key in its config is one copy too many.
func ParsePublicKeysPEM(data []byte) ([]JWTKey, error) {
	var keys []JWTKey
	for n := 1; ; n++ {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		var pub any
		var err error
		switch b.Type {
		case "PUBLIC KEY":
			pub, err = x509.ParsePKIXPublicKey(b.Bytes)
		case "RSA PUBLIC KEY":
			pub, err = x509.ParsePKCS1PublicKey(b.Bytes)
		case "CERTIFICATE":
			var c *x509.Certificate
			if c, err = x509.ParseCertificate(b.Bytes); err == nil {
				pub = c.PublicKey
			}
		case "PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY", "ENCRYPTED PRIVATE KEY", "OPENSSH PRIVATE KEY":
			return nil, fmt.Errorf("%w: PEM block %d is a private key; give the public key (openssl pkey -pubout)", ErrBadKey, n)
		default:
			return nil, fmt.Errorf("%w: PEM block %d is a %s; want PUBLIC KEY or CERTIFICATE", ErrBadKey, n, b.Type)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: PEM block %d (%s): %v", ErrBadKey, n, b.Type, err)
		}
		k, err := PublicKey(pub)
		if err != nil {
			return nil, fmt.Errorf("PEM block %d: %w", n, err)
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%w: no PEM public key", ErrBadKey)
	}
	return keys, nil
}

// ParseJWKS reads the public keys of a JWK Set (RFC 7517 section 5), as an
// identity provider publishes it at its jwks_uri. The keys themselves are
// decoded by go-jose (github.com/go-jose/go-jose/v4), which golang-jwt
// leaves to others: it knows every key type and curve of RFC 7518/8037 and
// checks an x5c chain against its key, which hand-written parsing of n, e,
// x, y would not. Keys with "use" other than "sig", and key types go-jose
// does not know, are skipped, as the RFC asks; a symmetric ("oct") or
// private key is refused (a shared secret goes in the secret setting). A
// key's "alg", when given, narrows it to that algorithm.
func ParseJWKS(data []byte) ([]JWTKey, error) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(data, &set); err != nil {
		return nil, fmt.Errorf("%w: JWKS: %v", ErrBadKey, err)
	}
	var keys []JWTKey
	for i, raw := range set.Keys {
		var jwk jose.JSONWebKey
		err := jwk.UnmarshalJSON(raw)
		switch {
		case errors.Is(err, jose.ErrUnsupportedKeyType):
			continue
		case err != nil:
			return nil, fmt.Errorf("%w: JWKS key %d: %v", ErrBadKey, i, err)
		case jwk.Use != "" && jwk.Use != "sig":
			continue
		}
		if _, sym := jwk.Key.([]byte); sym {
			return nil, fmt.Errorf("%w: JWKS key %d is a shared secret (kty oct); give it as the secret instead", ErrBadKey, i)
		}
		if !jwk.IsPublic() {
			return nil, fmt.Errorf("%w: JWKS key %d holds a private key; publish the public part only", ErrBadKey, i)
		}
		k, err := PublicKey(jwk.Key)
		if err != nil {
			return nil, fmt.Errorf("JWKS key %d: %w", i, err)
		}
		k.ID = jwk.KeyID
		if jwk.Algorithm != "" {
			if !slices.Contains(k.algs, jwk.Algorithm) {
				return nil, fmt.Errorf("%w: JWKS key %d: alg %s does not fit a key that verifies %v", ErrBadKey, i, jwk.Algorithm, k.algs)
			}
			k.algs = []string{jwk.Algorithm}
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%w: JWKS holds no signature key", ErrBadKey)
	}
	return keys, nil
}

// PublicKeysFromFile reads the keys of a PEM file (ParsePublicKeysPEM).
func PublicKeysFromFile(path string) ([]JWTKey, error) {
	b, err := readKeyFile(path)
	if err != nil {
		return nil, err
	}
	keys, err := ParsePublicKeysPEM(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return keys, nil
}

// JWKSFromFile reads the keys of a JWKS file (ParseJWKS).
func JWKSFromFile(path string) ([]JWTKey, error) {
	b, err := readKeyFile(path)
	if err != nil {
		return nil, err
	}
	keys, err := ParseJWKS(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return keys, nil
}

// readKeyFile reads a regular file of at most maxKeyFile bytes: a FIFO
// or device named in a config must not block or flood the loader.
func readKeyFile(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err == nil && !fi.Mode().IsRegular() {
		err = errors.New("not a regular file")
	}
	var f *os.File
	if err == nil {
		f, err = os.Open(path)
	}
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, fmt.Errorf("%w: key file %s: %v", ErrBadKey, path, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	switch {
	case err != nil:
		return nil, fmt.Errorf("%w: key file %s: %v", ErrBadKey, path, err)
	case len(b) > maxKeyFile:
		return nil, fmt.Errorf("%w: key file %s: larger than %d bytes", ErrBadKey, path, maxKeyFile)
	}
	return b, nil
}
