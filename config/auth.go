package config

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/goccy/go-yaml/ast"

	"github.com/switchboard/switchboard/auth"
	"github.com/switchboard/switchboard/wamp"
)

// The authentication and authorization part of the schema: realms[].auth,
// realms[].roles, realms[].authorizer. Its decoding and validation live
// here rather than in load.go and validate.go, which only dispatch to it.

// AuthMethod is one authentication method of a realm. A realm tries its
// methods in list order, taking the first that the client offers in
// HELLO.Details.authmethods and that can take the client (a static method
// knows its authid or key); the same method may be listed twice, static
// first and dynamic as the fallback.
type AuthMethod struct {
	// Method is one of auth.Methods: anonymous, ticket, wampcra,
	// cryptosign, tls, wamp-scram.
	Method string
	// Role is the authrole of anonymous sessions; anonymous only. Zero
	// value: "anonymous".
	Role string
	// Principals are the identities a static method knows. Not for
	// anonymous; exclusive with Dynamic and JWT.
	Principals []Principal
	// Dynamic asks a procedure instead of a list of principals.
	Dynamic *Dynamic
	// JWT verifies tickets as JSON Web Tokens instead (ticket only; see
	// jwt.go).
	JWT *JWT
}

// Principal is one identity of a static method.
type Principal struct {
	// AuthID and Role are required.
	AuthID string
	Role   string
	// Ticket is the ticket of the ticket method.
	Ticket *Secret
	// Secret is the secret of the wampcra method: plain, or from an
	// environment variable or file (not a hash: the router signs with it).
	// With Salt it is the derived key (see auth.DeriveCRAKey).
	Secret *Secret
	// Salt, Iterations and KeyLen are the PBKDF2 parameters of a salted
	// wampcra secret. Zero values of the last two: 1000 and 32. Salt and
	// Iterations are also wamp-scram's (see scram.go), with no default.
	Salt       string
	Iterations int
	KeyLen     int
	// KDF, Memory, StoredKey and ServerKey are the rest of a wamp-scram
	// principal's keys (scram.go); `switchboard secret scram` prints them.
	KDF       string
	Memory    int
	StoredKey string
	ServerKey string
	// PubKeys are the cryptosign Ed25519 public keys, 64 hex digits each.
	PubKeys []string
	// Fingerprints are the SHA-256 digests of the client certificates of
	// the tls method, hex, colons allowed. None: the certificate's common
	// name must equal AuthID.
	Fingerprints []string
}

// Secret is a ticket or secret: given in the clear (Plain), as a hash
// (Bcrypt, Argon2id; tickets only), or read when the config is loaded from
// an environment variable (Env) or a file (File, relative to the config's
// directory, without its trailing line ending). Exactly one is set.
type Secret struct {
	Plain, Bcrypt, Argon2id, Env, File string
}

// Resolve reads the secret: from the environment or its file where it
// comes from there, checking a hash's format.
func (s *Secret) Resolve() (auth.Secret, error) {
	switch {
	case s.Bcrypt != "":
		return auth.HashedSecret(auth.SecretBcrypt, s.Bcrypt)
	case s.Argon2id != "":
		return auth.HashedSecret(auth.SecretArgon2id, s.Argon2id)
	case s.Env != "":
		v, err := auth.SecretFromEnv(s.Env)
		return auth.PlainSecret(v), err
	case s.File != "":
		v, err := auth.SecretFromFile(s.File)
		return auth.PlainSecret(v), err
	case s.Plain != "":
		return auth.PlainSecret(s.Plain), nil
	}
	return auth.Secret{}, fmt.Errorf("%w: empty secret", auth.ErrBadSecret)
}

// Dynamic names a procedure the router calls: a dynamic authenticator
// (AuthMethod.Dynamic) or authorizer (Realm.Authorizer).
type Dynamic struct {
	// Realm is where the procedure is registered; it must be one of the
	// config's realms. Zero value: the realm itself.
	Realm wamp.URI
	// Procedure is the procedure's URI.
	Procedure wamp.URI
	// Timeout bounds one call; a call that takes longer refuses the
	// session or action. Zero value: DefaultDynamicTimeout.
	Timeout time.Duration
	// Cache, for an authorizer, is how long an answer is reused for the
	// same session, action and URI. Zero value: not cached.
	Cache time.Duration
}

// DefaultDynamicTimeout bounds calls to dynamic authenticators and
// authorizers.
const DefaultDynamicTimeout = auth.DefaultDynamicTimeout

// Role is a set of permissions. YAML: the key of realms[].roles, whose
// value is the list of permissions, or a mapping {permissions: [...],
// trust_level: N} for a role with a trust level.
type Role struct {
	Name        string
	Permissions []Permission
	// TrustLevel, when HasTrustLevel, is the trust level the router gives
	// the publications and calls of the role's sessions (EVENT and
	// INVOCATION details trustlevel); a dynamic authenticator's
	// authextra.trustlevel takes precedence. Zero value: none.
	TrustLevel    int
	HasTrustLevel bool
}

// TrustLevels returns the trust level of each role of r that has one
// (realm.Config.TrustLevels), nil for none.
func (r *Realm) TrustLevels() map[string]int64 {
	var m map[string]int64
	for _, role := range r.Roles {
		if role.HasTrustLevel {
			if m == nil {
				m = make(map[string]int64)
			}
			m[role.Name] = int64(role.TrustLevel)
		}
	}
	return m
}

// Permission allows actions on the URIs a pattern matches.
type Permission struct {
	URI wamp.URI
	// Match is exact (zero value), prefix or wildcard.
	Match string
	// Allow lists actions: call, register, publish, subscribe.
	Allow []string
	// DiscloseCaller and DisclosePublisher make the router disclose the
	// session on calls and publications this permission allows. YAML:
	// disclose: {caller: true, publisher: true}.
	DiscloseCaller, DisclosePublisher bool
}

// Actions of Permission.Allow.
var Actions = []string{"call", "register", "publish", "subscribe"}

var (
	authMethodKeys = []string{"method", "role", "principals", "dynamic", "jwt"}
	principalKeys  = []string{"authid", "role", "ticket", "secret", "salt", "iterations", "keylen", "pubkeys", "fingerprints", "kdf", "memory", "stored_key", "server_key"}
	secretKeys     = []string{"bcrypt", "argon2id", "env", "file"}
	dynamicKeys    = []string{"realm", "procedure", "timeout", "cache"}
	permissionKeys = []string{"uri", "match", "allow", "disclose"}
	roleKeys       = []string{"permissions", "trust_level"}
	discloseKeys   = []string{"caller", "publisher"}
)

func (d *decoder) authMethods(me entry) []AuthMethod {
	items, ok := d.list(me.val, me.path)
	if ok && len(items) == 0 {
		d.failf(me.val, me.path, ErrAuth, "no authentication methods: give at least one, or drop the key for anonymous access")
	}
	ms := make([]AuthMethod, len(items))
	for i, item := range items {
		path := fmt.Sprintf("%s[%d]", me.path, i)
		es, _ := d.mapping(item, path)
		for _, e := range es {
			switch e.name {
			case "method":
				ms[i].Method, _ = d.str(e.val, e.path)
			case "role":
				ms[i].Role, _ = d.str(e.val, e.path)
			case "principals":
				ms[i].Principals = d.principals(e)
			case "dynamic":
				ms[i].Dynamic = d.dynamic(e, false)
			case "jwt":
				ms[i].JWT = d.jwt(e)
			default:
				d.unknown(e, path, authMethodKeys)
			}
		}
	}
	return ms
}

func (d *decoder) principals(me entry) []Principal {
	return records(d, me, func(p *Principal, e entry, path string) {
		switch e.name {
		case "authid":
			p.AuthID, _ = d.str(e.val, e.path)
		case "role":
			p.Role, _ = d.str(e.val, e.path)
		case "ticket":
			p.Ticket = d.secret(e)
		case "secret":
			p.Secret = d.secret(e)
		case "salt":
			p.Salt, _ = d.str(e.val, e.path)
		case "iterations":
			p.Iterations = d.integer(e.val, e.path)
		case "keylen":
			p.KeyLen = d.integer(e.val, e.path)
		case "pubkeys":
			p.PubKeys = d.strings(e)
		case "fingerprints":
			p.Fingerprints = d.strings(e)
		case "kdf":
			p.KDF, _ = d.str(e.val, e.path)
		case "memory":
			p.Memory = d.integer(e.val, e.path)
		case "stored_key":
			p.StoredKey, _ = d.str(e.val, e.path)
		case "server_key":
			p.ServerKey, _ = d.str(e.val, e.path)
		default:
			d.unknown(e, path, principalKeys)
		}
	})
}

// strings reads a list of strings.
func (d *decoder) strings(me entry) []string {
	items, _ := d.list(me.val, me.path)
	out := make([]string, 0, len(items))
	for i, item := range items {
		s, _ := d.str(item, fmt.Sprintf("%s[%d]", me.path, i))
		out = append(out, s)
	}
	return out
}

// secret reads a secret: a string, or a mapping with one of bcrypt,
// argon2id, env, file.
func (d *decoder) secret(me entry) *Secret {
	d.mark(me.path, me.val)
	r, ok := d.resolve(me.val, me.path)
	if !ok || r == nil {
		return nil
	}
	s := &Secret{}
	if _, isMap := r.(*ast.MappingNode); !isMap {
		if _, isMV := r.(*ast.MappingValueNode); !isMV {
			s.Plain, _ = d.str(me.val, me.path)
			return s
		}
	}
	es, _ := d.mapping(me.val, me.path)
	for _, e := range es {
		v, _ := d.str(e.val, e.path)
		switch e.name {
		case "bcrypt":
			s.Bcrypt = v
		case "argon2id":
			s.Argon2id = v
		case "env":
			s.Env = v
		case "file":
			s.File = d.localPath(v)
		default:
			d.unknown(e, me.path, secretKeys)
		}
	}
	if len(es) != 1 {
		d.failf(me.val, me.path, ErrSecret, "give exactly one of bcrypt, argon2id, env, file (or the secret as a string)")
	}
	return s
}

func (d *decoder) dynamic(me entry, authorizer bool) *Dynamic {
	r, ok := d.resolve(me.val, me.path)
	d.mark(me.path, me.val)
	if !ok || r == nil {
		return nil
	}
	dy := &Dynamic{}
	es, _ := d.mapping(me.val, me.path)
	for _, e := range es {
		switch e.name {
		case "realm":
			s, _ := d.str(e.val, e.path)
			dy.Realm = wamp.URI(s)
		case "procedure":
			s, _ := d.str(e.val, e.path)
			dy.Procedure = wamp.URI(s)
		case "timeout":
			dy.Timeout = d.duration(e.val, e.path)
		case "cache":
			if !authorizer {
				d.failf(e.key, e.path, ErrNotAllowed, "cache is for authorizers only")
				continue
			}
			dy.Cache = d.duration(e.val, e.path)
		default:
			d.unknown(e, me.path, dynamicKeys)
		}
	}
	return dy
}

func (d *decoder) roles(me entry) []Role {
	es, ok := d.mapping(me.val, me.path)
	if ok && len(es) == 0 {
		d.failf(me.val, me.path, ErrRole, "no roles: give at least one, or drop the key to let every session do everything")
	}
	rs := make([]Role, len(es))
	for i, e := range es {
		rs[i].Name = e.name
		perms, ppath := e.val, e.path
		if r, ok := d.resolve(e.val, e.path); ok && isMapping(r) {
			// {permissions: [...], trust_level: N}
			fields, _ := d.mapping(e.val, e.path)
			perms = nil
			for _, fe := range fields {
				switch fe.name {
				case "permissions":
					// Marked under the role's own path: the validator
					// names a permission realms[].roles.<role>[i].
					perms = fe.val
				case "trust_level":
					rs[i].TrustLevel, rs[i].HasTrustLevel = d.integer(fe.val, fe.path), true
				default:
					d.unknown(fe, e.path, roleKeys)
				}
			}
		}
		e := entry{name: e.name, key: e.key, val: perms, path: ppath}
		items, _ := d.list(e.val, e.path)
		rs[i].Permissions = make([]Permission, len(items))
		for j, item := range items {
			path := fmt.Sprintf("%s[%d]", e.path, j)
			pes, _ := d.mapping(item, path)
			p := &rs[i].Permissions[j]
			for _, pe := range pes {
				switch pe.name {
				case "uri":
					s, _ := d.str(pe.val, pe.path)
					p.URI = wamp.URI(s)
				case "match":
					p.Match, _ = d.str(pe.val, pe.path)
				case "allow":
					p.Allow = d.strings(pe)
				case "disclose":
					des, _ := d.mapping(pe.val, pe.path)
					for _, de := range des {
						switch de.name {
						case "caller":
							p.DiscloseCaller = d.boolean(de.val, de.path)
						case "publisher":
							p.DisclosePublisher = d.boolean(de.val, de.path)
						default:
							d.unknown(de, pe.path, discloseKeys)
						}
					}
				default:
					d.unknown(pe, path, permissionKeys)
				}
			}
		}
	}
	return rs
}

// isMapping reports whether a resolved node is a YAML mapping.
func isMapping(n ast.Node) bool {
	switch n.(type) {
	case *ast.MappingNode, *ast.MappingValueNode:
		return true
	}
	return false
}

// SetAuthDefaults fills in the defaults of a realm's dynamic procedures.
func (r *Realm) setAuthDefaults() {
	for i := range r.Auth {
		if dy := r.Auth[i].Dynamic; dy != nil {
			dy.setDefaults(r.Name)
		}
	}
	if r.Authorizer != nil {
		r.Authorizer.setDefaults(r.Name)
	}
}

func (dy *Dynamic) setDefaults(realm wamp.URI) {
	if dy.Realm == "" {
		dy.Realm = realm
	}
	if dy.Timeout == 0 {
		dy.Timeout = DefaultDynamicTimeout
	}
}

// HasRole reports whether the realm defines role in Roles.
func (r *Realm) HasRole(role string) bool {
	return slices.ContainsFunc(r.Roles, func(x Role) bool { return x.Name == role })
}

// ParsePubKey decodes a cryptosign public key: 64 hex digits.
func ParsePubKey(s string) (ed25519.PublicKey, error) {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("want %d bytes as %d hex digits", ed25519.PublicKeySize, 2*ed25519.PublicKeySize)
	}
	return ed25519.PublicKey(b), nil
}

// ParseFingerprint decodes a certificate's SHA-256 fingerprint: 64 hex
// digits, optionally in pairs separated by colons (as openssl prints it).
func ParseFingerprint(s string) ([]byte, error) {
	b, err := hex.DecodeString(strings.ReplaceAll(s, ":", ""))
	if err != nil || len(b) != sha256.Size {
		return nil, fmt.Errorf("want a SHA-256 digest: %d hex digits", 2*sha256.Size)
	}
	return b, nil
}

// authRealm validates the auth settings of realm i.
func (v *validator) authRealm(i int, r *Realm, realms map[wamp.URI]bool) {
	base := fmt.Sprintf("realms[%d]", i)
	type kind struct {
		method       string
		dynamic, jwt bool
	}
	seen := map[kind]string{}
	for j := range r.Auth {
		m := &r.Auth[j]
		path := fmt.Sprintf("%s.auth[%d]", base, j)
		if !slices.Contains(auth.Methods, m.Method) {
			if m.Method == "" {
				v.failf(path+".method", ErrMissing, "missing method: want one of %s", strings.Join(auth.Methods, ", "))
			} else {
				v.failf(path+".method", ErrAuth, "unknown method %q: want one of %s", m.Method, strings.Join(auth.Methods, ", "))
			}
			continue
		}
		k := kind{m.Method, m.Dynamic != nil, m.JWT != nil}
		if first, dup := seen[k]; dup {
			v.failf(path, ErrAuth, "%s is listed twice (%s)", m.Method, v.first(first))
		}
		seen[k] = path
		if m.Method == auth.MethodAnonymous {
			switch {
			case m.Principals != nil || m.Dynamic != nil || m.JWT != nil:
				v.failf(path, ErrNotAllowed, "anonymous takes a role only, no principals, dynamic or jwt")
			case m.Role != "" && r.Roles != nil && r.Authorizer == nil && !r.HasRole(m.Role):
				v.failf(path+".role", ErrRole, "role %q is not in %s.roles", m.Role, base)
			case m.Role == "" && r.Roles != nil && r.Authorizer == nil && !r.HasRole("anonymous"):
				v.failf(path, ErrRole, "anonymous sessions get the role \"anonymous\", which is not in %s.roles (add it, or set role)", base)
			}
			continue
		}
		if m.Role != "" {
			hint := "give each principal its role"
			if m.JWT != nil {
				hint = "for tokens without a role claim, set jwt.role"
			}
			v.failf(path+".role", ErrNotAllowed, "role is for anonymous; %s", hint)
		}
		if m.JWT != nil {
			v.jwtMethod(path, m, r, base)
			continue
		}
		switch {
		case m.Dynamic != nil && m.Principals != nil:
			v.failf(path, ErrAuth, "give principals or dynamic, not both (list the method twice for both)")
		case m.Dynamic != nil:
			v.dynamic(path+".dynamic", m.Dynamic, realms)
		case len(m.Principals) == 0 && m.Method == auth.MethodTicket:
			v.failf(path, ErrAuth, "%s needs principals or dynamic (or jwt)", m.Method)
		case len(m.Principals) == 0:
			v.failf(path, ErrAuth, "%s needs principals or dynamic", m.Method)
		default:
			v.principals(path+".principals", m.Method, m.Principals, r, base)
		}
	}
	v.roles(base, r)
	if r.Authorizer != nil {
		v.dynamic(base+".authorizer", r.Authorizer, realms)
	}
}

func (v *validator) dynamic(path string, dy *Dynamic, realms map[wamp.URI]bool) {
	if dy.Realm != "" && !realms[dy.Realm] {
		v.failf(path+".realm", ErrAuth, "no realm %q in this config", dy.Realm)
	}
	if !wamp.ValidURI(dy.Procedure, false, false) {
		v.failf(path+".procedure", ErrAuth, "bad procedure %q: want a URI such as com.example.authenticate", dy.Procedure)
	} else if dy.Procedure.Reserved() {
		v.failf(path+".procedure", ErrAuth, "procedure %q: URIs under wamp. are the router's", dy.Procedure)
	}
	if dy.Timeout < 0 {
		v.failf(path+".timeout", ErrBadDuration, "must not be negative")
	}
	if dy.Cache < 0 {
		v.failf(path+".cache", ErrBadDuration, "must not be negative")
	}
}

// principals validates the static principals of one method.
func (v *validator) principals(path, method string, ps []Principal, r *Realm, base string) {
	ids := map[string]string{}
	keys := map[string]string{}
	for k := range ps {
		p := &ps[k]
		pp := fmt.Sprintf("%s[%d]", path, k)
		if p.AuthID == "" {
			v.failf(pp+".authid", ErrMissing, "missing authid")
		} else if first, dup := ids[p.AuthID]; dup {
			v.failf(pp+".authid", ErrAuth, "authid %q is listed twice (%s)", p.AuthID, v.first(first))
		} else {
			ids[p.AuthID] = pp + ".authid"
		}
		switch {
		case p.Role == "":
			v.failf(pp+".role", ErrMissing, "missing role")
		case r.Roles != nil && r.Authorizer == nil && !r.HasRole(p.Role):
			v.failf(pp+".role", ErrRole, "role %q is not in %s.roles", p.Role, base)
		}
		// What each method needs, and what it must not be given.
		scram := method == auth.MethodScram
		needs := map[string]bool{
			"ticket":  method == auth.MethodTicket,
			"secret":  method == auth.MethodWAMPCRA,
			"pubkeys": method == auth.MethodCryptosign,
			"kdf":     scram, "salt": scram, "iterations": scram, "stored_key": scram, "server_key": scram,
		}
		given := map[string]bool{
			"ticket": p.Ticket != nil, "secret": p.Secret != nil, "salt": p.Salt != "",
			"iterations": p.Iterations != 0, "keylen": p.KeyLen != 0,
			"pubkeys": p.PubKeys != nil, "fingerprints": p.Fingerprints != nil,
			"kdf": p.KDF != "", "memory": p.Memory != 0, "stored_key": p.StoredKey != "", "server_key": p.ServerKey != "",
		}
		allowed := map[string]bool{
			"ticket": method == auth.MethodTicket, "secret": method == auth.MethodWAMPCRA,
			"salt": method == auth.MethodWAMPCRA || scram, "iterations": method == auth.MethodWAMPCRA || scram, "keylen": method == auth.MethodWAMPCRA,
			"pubkeys": method == auth.MethodCryptosign, "fingerprints": method == auth.MethodTLS,
			"kdf": scram, "memory": scram, "stored_key": scram, "server_key": scram,
		}
		for _, key := range principalKeys[2:] {
			switch {
			case needs[key] && !given[key]:
				v.failf(pp+"."+key, ErrMissing, "missing %s: %s principals need one", key, method)
			case given[key] && !allowed[key]:
				v.failf(pp+"."+key, ErrNotAllowed, "%s is not for %s principals", key, method)
			}
		}
		if p.Ticket != nil && method == auth.MethodTicket {
			v.secret(pp+".ticket", p.Ticket, true)
		}
		if p.Secret != nil && method == auth.MethodWAMPCRA {
			v.secret(pp+".secret", p.Secret, false)
			if (p.Iterations != 0 || p.KeyLen != 0) && p.Salt == "" {
				v.failf(pp+".salt", ErrMissing, "iterations and keylen need a salt")
			}
			if p.KeyLen > 1024 {
				v.failf(pp+".keylen", ErrBadNumber, "keylen %d is too large (at most 1024)", p.KeyLen)
			}
			if p.Iterations > 10_000_000 {
				v.failf(pp+".iterations", ErrBadNumber, "%d iterations is too many (at most 10000000)", p.Iterations)
			}
		}
		if scram {
			v.scramPrincipal(pp, p)
		}
		if method == auth.MethodCryptosign {
			if p.PubKeys != nil && len(p.PubKeys) == 0 {
				v.failf(pp+".pubkeys", ErrAuth, "no public keys")
			}
			for n, s := range p.PubKeys {
				kp := fmt.Sprintf("%s.pubkeys[%d]", pp, n)
				if _, err := ParsePubKey(s); err != nil {
					v.failf(kp, ErrAuth, "bad public key %q: %v", s, err)
					continue
				}
				h := strings.ToLower(s)
				if first, dup := keys[h]; dup {
					v.failf(kp, ErrAuth, "public key listed twice (%s)", v.first(first))
				}
				keys[h] = kp
			}
		}
		for n, s := range p.Fingerprints {
			if _, err := ParseFingerprint(s); err != nil && method == auth.MethodTLS {
				v.failf(fmt.Sprintf("%s.fingerprints[%d]", pp, n), ErrAuth, "bad fingerprint %q: %v", s, err)
			}
		}
	}
}

// secret checks that a secret resolves: its environment variable is set,
// its file readable, its hash well formed. hashOK is false where the
// router needs the secret itself.
func (v *validator) secret(path string, s *Secret, hashOK bool) {
	n := 0
	for _, x := range []string{s.Plain, s.Bcrypt, s.Argon2id, s.Env, s.File} {
		if x != "" {
			n++
		}
	}
	switch {
	case n == 0:
		v.failf(path, ErrSecret, "empty secret")
		return
	case n > 1:
		v.failf(path, ErrSecret, "give exactly one of bcrypt, argon2id, env, file (or the secret as a string)")
		return
	case !hashOK && (s.Bcrypt != "" || s.Argon2id != ""):
		v.failf(path, ErrSecret, "wampcra signs with the secret itself, so it cannot be a hash (hashes are for tickets)")
		return
	}
	sub := path
	switch {
	case s.Bcrypt != "":
		sub += ".bcrypt"
	case s.Argon2id != "":
		sub += ".argon2id"
	case s.Env != "":
		sub += ".env"
	case s.File != "":
		sub += ".file"
	}
	if _, err := s.Resolve(); err != nil {
		v.failf(sub, ErrSecret, "%v", strings.TrimPrefix(err.Error(), auth.ErrBadSecret.Error()+": "))
	}
}

func (v *validator) roles(base string, r *Realm) {
	if r.Roles != nil && len(r.Roles) == 0 {
		v.failf(base+".roles", ErrRole, "no roles")
	}
	names := map[string]bool{}
	for _, role := range r.Roles {
		rp := base + ".roles." + role.Name
		if role.Name == "" {
			v.failf(base+".roles", ErrRole, "role without a name")
			continue
		}
		if names[role.Name] {
			v.failf(rp, ErrRole, "role %q is listed twice", role.Name)
		}
		names[role.Name] = true
		type pat struct {
			uri   wamp.URI
			match string
		}
		seen := map[pat]string{}
		for j, p := range role.Permissions {
			pp := fmt.Sprintf("%s[%d]", rp, j)
			match := p.Match
			if match == "" {
				match = wamp.MatchExact
			}
			switch {
			case match != wamp.MatchExact && match != wamp.MatchPrefix && match != wamp.MatchWildcard:
				v.failf(pp+".match", ErrRole, "bad match %q: want exact, prefix or wildcard", p.Match)
			case p.URI == "" && match != wamp.MatchPrefix:
				v.failf(pp+".uri", ErrMissing, "missing uri (an empty uri with match: prefix covers every URI)")
			case p.URI != "" && !wamp.ValidURI(p.URI, false, match != wamp.MatchExact):
				v.failf(pp+".uri", ErrRole, "bad uri %q for match %s", p.URI, match)
			case seen[pat{p.URI, match}] != "":
				v.failf(pp, ErrRole, "%s %q is listed twice (%s)", match, p.URI, v.first(seen[pat{p.URI, match}]))
			default:
				seen[pat{p.URI, match}] = pp
			}
			if len(p.Allow) == 0 {
				v.failf(pp+".allow", ErrMissing, "missing allow: list some of %s", strings.Join(Actions, ", "))
			}
			for n, a := range p.Allow {
				if !slices.Contains(Actions, a) {
					v.failf(fmt.Sprintf("%s.allow[%d]", pp, n), ErrRole, "unknown action %q: want %s", a, strings.Join(Actions, ", "))
				} else if slices.Index(p.Allow, a) < n {
					v.failf(fmt.Sprintf("%s.allow[%d]", pp, n), ErrRole, "action %q is listed twice", a)
				}
			}
			if p.DiscloseCaller && r.DiscloseCaller == DiscloseNever {
				v.failf(pp+".disclose.caller", ErrRole, "the realm's disclose_caller is never")
			}
			if p.DisclosePublisher && r.DisclosePublisher == DiscloseNever {
				v.failf(pp+".disclose.publisher", ErrRole, "the realm's disclose_publisher is never")
			}
		}
	}
}
