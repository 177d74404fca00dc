package config

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/switchboard/switchboard/auth"
)

// JWT tickets: realms[].auth[].jwt on a ticket method verifies the ticket
// as a JSON Web Token that a web backend signed for its user (auth/jwt.go),
// instead of comparing it with a principal's ticket. The keys are read
// when the config is loaded and again on each reload (SIGHUP), so that a
// rotated secret or JWKS file takes effect without a restart.

// JWT configures the JWT verification of a ticket method. Exactly one of
// Secret, PublicKeys and JWKS gives the keys.
type JWT struct {
	// Secret is the HMAC secret (HS256, HS384, HS512): plain, or from an
	// environment variable or a file, as ticket secrets; not a hash, since
	// the router computes HMACs with it. At least auth.MinHMACSecret (32)
	// bytes.
	Secret *Secret
	// PublicKeys are PEM files (relative to the config's directory) of
	// RSA (RS*, PS*), ECDSA (ES256/384/512 by curve) or Ed25519 (EdDSA)
	// public keys or certificates.
	PublicKeys []string
	// JWKS is a JWK Set file (relative to the config's directory), such as
	// an identity provider publishes at its jwks_uri.
	JWKS string
	// Issuer, when set, is the iss every token must carry. Zero value: not
	// checked.
	Issuer string
	// Audience, when set, must be in every token's aud. Zero value: not
	// checked.
	Audience string
	// RoleClaim names the claim that gives the authrole. Zero value:
	// "role".
	RoleClaim string
	// Role is the authrole of a token without the role claim. Zero value:
	// such tokens are refused.
	Role string
	// Leeway is how far exp, nbf and iat may be off, for clocks that
	// disagree. Zero value: none.
	Leeway time.Duration
	// AuthExtraClaims are the claims copied into WELCOME authextra when a
	// token has them.
	AuthExtraClaims []string
	// ExpireSessions closes a session with GOODBYE
	// switchboard.close.token_expired when its token expires (exp plus the
	// leeway). Zero value: sessions outlive their tokens.
	ExpireSessions bool
}

var jwtKeys = []string{"secret", "public_keys", "jwks", "issuer", "audience", "role_claim", "role", "leeway",
	"authextra_claims", "expire_sessions"}

func (d *decoder) jwt(me entry) *JWT {
	r, ok := d.resolve(me.val, me.path)
	d.mark(me.path, me.val)
	if !ok || r == nil {
		return nil
	}
	j := &JWT{}
	es, _ := d.mapping(me.val, me.path)
	for _, e := range es {
		switch e.name {
		case "secret":
			j.Secret = d.secret(e)
		case "public_keys":
			files := d.strings(e)
			for i := range files {
				files[i] = d.localPath(files[i])
			}
			j.PublicKeys = files
		case "jwks":
			s, _ := d.str(e.val, e.path)
			j.JWKS = d.localPath(s)
		case "issuer":
			j.Issuer, _ = d.str(e.val, e.path)
		case "audience":
			j.Audience, _ = d.str(e.val, e.path)
		case "role_claim":
			j.RoleClaim, _ = d.str(e.val, e.path)
		case "role":
			j.Role, _ = d.str(e.val, e.path)
		case "leeway":
			j.Leeway = d.duration(e.val, e.path)
		case "authextra_claims":
			j.AuthExtraClaims = d.strings(e)
		case "expire_sessions":
			j.ExpireSessions = d.boolean(e.val, e.path)
		default:
			d.unknown(e, me.path, jwtKeys)
		}
	}
	return j
}

// Keys reads the verification keys: the secret from the environment or
// its file, the PEM or JWKS files. The router calls it at start and on
// each reload.
func (j *JWT) Keys() ([]auth.JWTKey, error) {
	switch {
	case j.Secret != nil:
		s, err := j.Secret.Resolve()
		if err != nil {
			return nil, err
		}
		key, ok := s.Key()
		if !ok {
			return nil, fmt.Errorf("%w: the router computes HMACs with the secret itself, so it cannot be a hash", auth.ErrBadSecret)
		}
		k, err := auth.HMACKey(key)
		if err != nil {
			return nil, err
		}
		return []auth.JWTKey{k}, nil
	case j.PublicKeys != nil:
		var keys []auth.JWTKey
		for _, f := range j.PublicKeys {
			ks, err := auth.PublicKeysFromFile(f)
			if err != nil {
				return nil, err
			}
			keys = append(keys, ks...)
		}
		return keys, nil
	case j.JWKS != "":
		return auth.JWKSFromFile(j.JWKS)
	}
	return nil, fmt.Errorf("%w: no secret, public_keys or jwks", auth.ErrBadKey)
}

// AuthConfig returns the auth package's configuration, with the keys read
// (Keys).
func (j *JWT) AuthConfig() (auth.JWTConfig, error) {
	keys, err := j.Keys()
	if err != nil {
		return auth.JWTConfig{}, err
	}
	return auth.JWTConfig{
		Keys:            keys,
		Issuer:          j.Issuer,
		Audience:        j.Audience,
		RoleClaim:       j.RoleClaim,
		Role:            j.Role,
		Leeway:          j.Leeway,
		AuthExtraClaims: slices.Clone(j.AuthExtraClaims),
		ExpireSessions:  j.ExpireSessions,
	}, nil
}

// jwtMethod validates a method with jwt: a ticket method without
// principals or dynamic.
func (v *validator) jwtMethod(path string, m *AuthMethod, r *Realm, base string) {
	if m.Method != auth.MethodTicket {
		v.failf(path+".jwt", ErrNotAllowed, "jwt is for the ticket method only")
		return
	}
	if m.Principals != nil || m.Dynamic != nil {
		v.failf(path, ErrAuth, "give one of principals, dynamic or jwt (list the method again for another)")
	}
	v.jwt(path+".jwt", m.JWT, r, base)
}

func (v *validator) jwt(path string, j *JWT, r *Realm, base string) {
	n := 0
	for _, given := range []bool{j.Secret != nil, j.PublicKeys != nil, j.JWKS != ""} {
		if given {
			n++
		}
	}
	switch {
	case n == 0:
		v.failf(path, ErrMissing, "missing key: give secret (HS256), public_keys (PEM files) or jwks (a JWKS file)")
	case n > 1:
		v.failf(path, ErrAuth, "give one of secret, public_keys and jwks, not several (one method verifies with one kind of key)")
	case j.Secret != nil:
		v.jwtSecret(path+".secret", j.Secret)
	case j.PublicKeys != nil:
		if len(j.PublicKeys) == 0 {
			v.failf(path+".public_keys", ErrAuth, "no public key files")
		}
		for i, f := range j.PublicKeys {
			if _, err := auth.PublicKeysFromFile(f); err != nil {
				v.failf(fmt.Sprintf("%s.public_keys[%d]", path, i), ErrAuth, "%s", keyError(err))
			}
		}
	default:
		if _, err := auth.JWKSFromFile(j.JWKS); err != nil {
			v.failf(path+".jwks", ErrAuth, "%s", keyError(err))
		}
	}
	if j.Leeway < 0 {
		v.failf(path+".leeway", ErrBadDuration, "must not be negative")
	}
	if j.Role != "" && r.Roles != nil && r.Authorizer == nil && !r.HasRole(j.Role) {
		v.failf(path+".role", ErrRole, "role %q is not in %s.roles", j.Role, base)
	}
	for i, c := range j.AuthExtraClaims {
		p := fmt.Sprintf("%s.authextra_claims[%d]", path, i)
		switch {
		case c == "":
			v.failf(p, ErrAuth, "empty claim name")
		case slices.Index(j.AuthExtraClaims, c) < i:
			v.failf(p, ErrAuth, "claim %q is listed twice", c)
		}
	}
}

// jwtSecret checks an HMAC secret: one source, no hash, long enough. The
// message never shows the secret.
func (v *validator) jwtSecret(path string, s *Secret) {
	if s.Bcrypt != "" || s.Argon2id != "" {
		v.failf(path, ErrSecret, "the router computes HMACs with the secret itself, so it cannot be a hash")
		return
	}
	before := len(v.errs)
	v.secret(path, s, true)
	if len(v.errs) > before {
		return
	}
	sec, err := s.Resolve()
	if err != nil {
		return // reported by v.secret
	}
	if key, _ := sec.Key(); len(key) < auth.MinHMACSecret {
		v.failf(path, ErrSecret, "a secret of %d bytes is too short to sign JWTs: at least %d (RFC 7518 section 3.2; openssl rand -base64 48 makes one)", len(key), auth.MinHMACSecret)
	}
}

// keyError is the text of a key file error without the sentinel's words.
func keyError(err error) string {
	return strings.Replace(err.Error(), auth.ErrBadKey.Error()+": ", "", 1)
}
