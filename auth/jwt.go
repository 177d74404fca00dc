package auth

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/switchboard/switchboard/wamp"
)

// JWT tickets: the ticket method can verify the ticket as a JSON Web Token
// (RFC 7519) that a web backend signed for its logged-in user, instead of
// comparing it with a stored secret, so that the user joins as themselves
// without a dynamic authenticator. Signatures are checked by
// github.com/golang-jwt/jwt/v5; each key verifies only the algorithms of
// its type (jwtkey.go), so that a token can never choose how it is checked
// (no "alg: none", no HS256 token verified with an RSA public key's bytes
// as the HMAC secret).

// ProviderJWT is WELCOME.Details.authprovider of a session admitted by a
// JWT ticket.
const ProviderJWT = "jwt"

// DefaultRoleClaim is the claim that names a token's authrole unless the
// config names another.
const DefaultRoleClaim = "role"

// maxTokenLen bounds a ticket taken as a JWT: a token of a few claims is a
// few hundred bytes, and nothing larger needs decoding or verifying.
const maxTokenLen = 16 << 10

// JWTConfig configures JWT verification.
type JWTConfig struct {
	// Keys verify signatures: HMACKey, ParsePublicKeysPEM, ParseJWKS. At
	// least one.
	Keys []JWTKey
	// Issuer, when set, is the iss the token must carry. Zero value: not
	// checked.
	Issuer string
	// Audience, when set, must be in the token's aud. Zero value: not
	// checked.
	Audience string
	// RoleClaim names the claim that gives the authrole. Zero value:
	// DefaultRoleClaim ("role").
	RoleClaim string
	// Role is the authrole of a token without the role claim. Zero value:
	// such a token is refused.
	Role string
	// Leeway is how far exp, nbf and iat may be off, for clocks that
	// disagree. Zero value: none.
	Leeway time.Duration
	// AuthExtraClaims are the claims copied, when the token has them, into
	// WELCOME.Details.authextra.
	AuthExtraClaims []string
	// ExpireSessions closes a session when its token expires (exp plus the
	// leeway): Identity.Expires is set. Zero value: a session outlives its
	// token.
	ExpireSessions bool
	// Now returns the time tokens are checked against. Nil means time.Now;
	// tests fix it.
	Now func() time.Time
}

// JWTVerifier checks JWT tickets. It is safe for concurrent use.
type JWTVerifier struct {
	keys            []JWTKey
	algs            []string // every algorithm of keys, sorted
	parser          *jwt.Parser
	issuer          string
	audience        string
	roleClaim, role string
	leeway          time.Duration
	extra           []string
	expire          bool
	now             func() time.Time
}

// NewJWTVerifier returns a verifier for cfg.
func NewJWTVerifier(cfg JWTConfig) (*JWTVerifier, error) {
	if len(cfg.Keys) == 0 {
		return nil, fmt.Errorf("%w: JWT verification needs at least one key", ErrBadKey)
	}
	if cfg.Leeway < 0 {
		return nil, fmt.Errorf("jwt: negative leeway %v", cfg.Leeway)
	}
	v := &JWTVerifier{
		keys:      slices.Clone(cfg.Keys),
		issuer:    cfg.Issuer,
		audience:  cfg.Audience,
		roleClaim: cfg.RoleClaim,
		role:      cfg.Role,
		leeway:    cfg.Leeway,
		extra:     slices.Clone(cfg.AuthExtraClaims),
		expire:    cfg.ExpireSessions,
		now:       cfg.Now,
	}
	if v.roleClaim == "" {
		v.roleClaim = DefaultRoleClaim
	}
	if v.now == nil {
		v.now = time.Now
	}
	for _, k := range v.keys {
		if len(k.algs) == 0 {
			return nil, fmt.Errorf("%w: a key without algorithms (build keys with HMACKey, ParsePublicKeysPEM or ParseJWKS)", ErrBadKey)
		}
		v.algs = append(v.algs, k.algs...)
	}
	slices.Sort(v.algs)
	v.algs = slices.Compact(v.algs)
	opts := []jwt.ParserOption{
		// Only the algorithms of the configured keys, whatever the token's
		// header says; keyFor then pairs each with keys of its own type.
		jwt.WithValidMethods(v.algs),
		jwt.WithLeeway(v.leeway),
		jwt.WithTimeFunc(v.now),
		// A token that never expires would admit whoever obtains it,
		// forever: a web app's tokens are short-lived.
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
	}
	if v.issuer != "" {
		opts = append(opts, jwt.WithIssuer(v.issuer))
	}
	if v.audience != "" {
		opts = append(opts, jwt.WithAudience(v.audience))
	}
	v.parser = jwt.NewParser(opts...)
	return v, nil
}

// Verify checks token for a session joining realm, whose HELLO gave authid
// ("" for none), and returns the identity it names: sub as the authid, the
// role claim (or the configured role) as the authrole, the chosen claims as
// authextra. An error wraps ErrInvalidToken and its text starts with the
// check that failed (malformed, alg, kid, crit, signature, exp, nbf, iat,
// iss, aud, sub, authid, realm, role); it never carries a key.
func (v *JWTVerifier) Verify(token string, realm wamp.URI, authid string) (Identity, error) {
	if len(token) > maxTokenLen {
		return Identity{}, invalidToken("malformed", "ticket of %d bytes is too long for a JWT (at most %d)", len(token), maxTokenLen)
	}
	claims := jwt.MapClaims{}
	tok, err := v.parser.ParseWithClaims(token, claims, v.keyFor)
	if err != nil {
		return Identity{}, v.refusal(tok, claims, err)
	}
	sub, err := claims.GetSubject()
	switch {
	case err != nil:
		return Identity{}, invalidToken("sub", "the sub claim must be a string")
	case sub == "":
		return Identity{}, invalidToken("sub", "no sub claim: the token names no user")
	case authid != "" && authid != sub:
		return Identity{}, invalidToken("authid", "HELLO authid %q is not the token's sub %q", authid, sub)
	}
	if r, ok := claims["realm"]; ok {
		s, isStr := r.(string)
		if !isStr {
			return Identity{}, invalidToken("realm", "the realm claim must be a string")
		}
		if wamp.URI(s) != realm {
			return Identity{}, invalidToken("realm", "the token is for realm %q, not %q", s, realm)
		}
	}
	role := v.role
	if r, ok := claims[v.roleClaim]; ok {
		s, isStr := r.(string)
		if !isStr || s == "" {
			return Identity{}, invalidToken("role", "the %s claim must be a non-empty string", v.roleClaim)
		}
		role = s
	} else if role == "" {
		return Identity{}, invalidToken("role", "no %s claim, and no role is configured for tokens without one", v.roleClaim)
	}
	id := Identity{AuthID: sub, AuthRole: role, AuthMethod: MethodTicket, AuthProvider: ProviderJWT}
	for _, c := range v.extra {
		if val, ok := claims[c]; ok {
			if id.AuthExtra == nil {
				id.AuthExtra = wamp.Dict{}
			}
			id.AuthExtra[c] = claimValue(val)
		}
	}
	if v.expire {
		exp, _ := claims.GetExpirationTime() // required and checked by the parser
		id.Expires = exp.Add(v.leeway)
	}
	return id, nil
}

// keyError is a refusal found while choosing the keys for a token.
type keyError struct{ check, msg string }

func (e *keyError) Error() string { return e.check + ": " + e.msg }

// keyFor returns the keys that may verify tok: those whose type takes its
// algorithm and, when the token names a kid that some key has, that key.
// The parser has already refused an algorithm no key takes.
func (v *JWTVerifier) keyFor(tok *jwt.Token) (any, error) {
	if _, ok := tok.Header["crit"]; ok {
		// RFC 7515 section 4.1.11: a token that needs header extensions
		// the verifier does not know (such as unencoded payloads) must be
		// refused; this one knows none.
		return nil, &keyError{"crit", "critical header extensions are not supported"}
	}
	alg := tok.Method.Alg()
	kid, _ := tok.Header["kid"].(string)
	var byKid, anyKid jwt.VerificationKeySet
	for _, k := range v.keys {
		if !slices.Contains(k.algs, alg) {
			continue
		}
		switch {
		case kid != "" && k.ID == kid:
			byKid.Keys = append(byKid.Keys, k.key)
		case k.ID == "" || kid == "":
			anyKid.Keys = append(anyKid.Keys, k.key)
		}
	}
	switch {
	case len(byKid.Keys) > 0:
		return byKid, nil
	case len(anyKid.Keys) > 0:
		return anyKid, nil
	case kid != "":
		return nil, &keyError{"kid", fmt.Sprintf("no %s key with kid %q", alg, kid)}
	}
	return nil, &keyError{"alg", fmt.Sprintf("no key takes %s", alg)}
}

// refusal explains why the parser refused a token, naming the checks that
// failed.
func (v *JWTVerifier) refusal(tok *jwt.Token, claims jwt.MapClaims, err error) error {
	var ke *keyError
	switch {
	case errors.As(err, &ke):
		return invalidToken(ke.check, "%s", ke.msg)
	case errors.Is(err, jwt.ErrTokenMalformed):
		return invalidToken("malformed", "not a JWT in compact form (base64url header.payload.signature)")
	case tok == nil:
		return invalidToken("malformed", "not a JWT")
	case tok.Method == nil:
		alg, _ := tok.Header["alg"].(string)
		if alg == "" {
			return invalidToken("alg", "the header names no algorithm")
		}
		return invalidToken("alg", "unknown algorithm %q", alg)
	case tok.Method.Alg() == "none":
		return invalidToken("alg", "unsigned token (alg none) refused")
	case !slices.Contains(v.algs, tok.Method.Alg()):
		return invalidToken("alg", "%s fits none of the configured keys, which take %s", tok.Method.Alg(), strings.Join(v.algs, ", "))
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return invalidToken("signature", "the %s signature does not verify", tok.Method.Alg())
	}
	// The signature holds: what remains are the claims, of which several
	// may fail at once.
	exp, _ := claims.GetExpirationTime()
	nbf, _ := claims.GetNotBefore()
	iat, _ := claims.GetIssuedAt()
	iss, _ := claims.GetIssuer()
	aud, _ := claims.GetAudience()
	aud = slices.DeleteFunc(aud, func(s string) bool { return s == "" })
	var why []string
	if errors.Is(err, jwt.ErrInvalidType) {
		why = append(why, "malformed: a registered claim (exp, nbf, iat, iss, aud, sub) has the wrong type")
	}
	if errors.Is(err, jwt.ErrTokenRequiredClaimMissing) {
		if exp == nil {
			why = append(why, "exp: no exp claim (tokens must expire)")
		}
		if v.issuer != "" && iss == "" {
			why = append(why, fmt.Sprintf("iss: no iss claim, want %q", v.issuer))
		}
		if v.audience != "" && len(aud) == 0 {
			why = append(why, fmt.Sprintf("aud: no aud claim, want %q", v.audience))
		}
	}
	if errors.Is(err, jwt.ErrTokenExpired) {
		why = append(why, fmt.Sprintf("exp: the token expired at %s (leeway %v)", date(exp), v.leeway))
	}
	if errors.Is(err, jwt.ErrTokenNotValidYet) {
		why = append(why, fmt.Sprintf("nbf: the token is not valid before %s (leeway %v)", date(nbf), v.leeway))
	}
	if errors.Is(err, jwt.ErrTokenUsedBeforeIssued) {
		why = append(why, fmt.Sprintf("iat: the token is issued in the future, at %s (leeway %v)", date(iat), v.leeway))
	}
	if errors.Is(err, jwt.ErrTokenInvalidIssuer) {
		why = append(why, fmt.Sprintf("iss: wrong issuer %q, want %q", iss, v.issuer))
	}
	if errors.Is(err, jwt.ErrTokenInvalidAudience) {
		why = append(why, fmt.Sprintf("aud: wrong audience %q, want %q", []string(aud), v.audience))
	}
	if len(why) == 0 {
		// Not reached with golang-jwt v5's errors; refuse all the same.
		why = append(why, "unverifiable token")
	}
	return invalidToken("", "%s", strings.Join(why, "; "))
}

func date(d *jwt.NumericDate) string {
	if d == nil {
		return "?"
	}
	return d.UTC().Format(time.RFC3339)
}

// invalidToken returns an error wrapping ErrInvalidToken whose text starts
// with the check that failed.
func invalidToken(check, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	if check != "" {
		msg = check + ": " + msg
	}
	return fmt.Errorf("%w: %s", ErrInvalidToken, msg)
}

// claimValue converts a claim decoded from JSON for WELCOME.Details: whole
// numbers become integers, so that every serializer sends 42 and not 42.0.
func claimValue(v any) any {
	switch x := v.(type) {
	case float64:
		if x == math.Trunc(x) && math.Abs(x) <= 1<<53 {
			return int64(x)
		}
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = claimValue(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = claimValue(e)
		}
		return out
	}
	return v
}

// NewJWTTicket returns a ticket method that verifies the ticket as a JWT.
// It accepts every HELLO that offers ticket: the token, not the authid,
// says who the client is.
func NewJWTTicket(cfg JWTConfig) (*Ticket, error) {
	v, err := NewJWTVerifier(cfg)
	if err != nil {
		return nil, err
	}
	return &Ticket{jwt: v}, nil
}
