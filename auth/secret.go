package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// Kinds of Secret.
const (
	SecretPlain    = "plain"
	SecretBcrypt   = "bcrypt"
	SecretArgon2id = "argon2id"
)

// Secret is a ticket or a WAMP-CRA secret as the router holds it: the value
// itself, or (for tickets) a bcrypt or argon2id hash of it. The zero Secret
// matches nothing.
type Secret struct {
	kind  string
	plain []byte
	hash  string
	argon argonHash
}

// PlainSecret returns a secret held in the clear.
func PlainSecret(s string) Secret { return Secret{kind: SecretPlain, plain: []byte(s)} }

// HashedSecret parses a hash of kind SecretBcrypt ("$2a$10$...") or
// SecretArgon2id (the PHC string "$argon2id$v=19$m=65536,t=3,p=4$salt$hash"
// with unpadded base64, as the argon2 CLI and most libraries write it).
func HashedSecret(kind, encoded string) (Secret, error) {
	switch kind {
	case SecretBcrypt:
		if _, err := bcrypt.Cost([]byte(encoded)); err != nil {
			return Secret{}, fmt.Errorf("%w: bcrypt hash: %v", ErrBadSecret, err)
		}
		return Secret{kind: kind, hash: encoded}, nil
	case SecretArgon2id:
		h, err := parseArgon2id(encoded)
		if err != nil {
			return Secret{}, err
		}
		return Secret{kind: kind, hash: encoded, argon: h}, nil
	}
	return Secret{}, fmt.Errorf("%w: unknown hash kind %q: want bcrypt or argon2id", ErrBadSecret, kind)
}

// Kind returns SecretPlain, SecretBcrypt, SecretArgon2id, or "" for the
// zero Secret.
func (s Secret) Kind() string { return s.kind }

// Key returns the secret itself, which WAMP-CRA signs with; ok is false for
// a hashed secret, which cannot serve.
func (s Secret) Key() (key []byte, ok bool) {
	return s.plain, s.kind == SecretPlain
}

// Verify reports whether given is the secret. A plain secret is compared in
// constant time (over SHA-256 digests, so that not even its length leaks);
// bcrypt and argon2id compare in constant time by construction.
func (s Secret) Verify(given string) bool {
	switch s.kind {
	case SecretPlain:
		a, b := sha256.Sum256([]byte(given)), sha256.Sum256(s.plain)
		return subtle.ConstantTimeCompare(a[:], b[:]) == 1
	case SecretBcrypt:
		return bcrypt.CompareHashAndPassword([]byte(s.hash), []byte(given)) == nil
	case SecretArgon2id:
		h := s.argon
		got := argon2.IDKey([]byte(given), h.salt, h.time, h.memory, h.threads, uint32(len(h.key)))
		return subtle.ConstantTimeCompare(got, h.key) == 1
	}
	return false
}

// SecretFromEnv reads a secret from the environment variable name. An unset
// or empty variable is an error: a principal without a secret must not be
// one that any empty ticket opens.
func SecretFromEnv(name string) (string, error) {
	v, ok := os.LookupEnv(name)
	switch {
	case !ok:
		return "", fmt.Errorf("%w: environment variable %s is not set", ErrBadSecret, name)
	case v == "":
		return "", fmt.Errorf("%w: environment variable %s is empty", ErrBadSecret, name)
	}
	return v, nil
}

// maxSecretFile bounds a secret file: a secret is short, and a path such as
// /dev/zero must not be read forever.
const maxSecretFile = 64 << 10

// SecretFromFile reads a secret from a file, without the line ending(s) at
// its end (echo writes one). An empty file is an error.
func SecretFromFile(path string) (string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return "", fmt.Errorf("%w: secret file %s: %v", ErrBadSecret, path, err)
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("%w: secret file %s: not a regular file", ErrBadSecret, path)
	}
	if fi.Size() > maxSecretFile {
		return "", fmt.Errorf("%w: secret file %s: larger than %d bytes", ErrBadSecret, path, maxSecretFile)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("%w: secret file %s: %v", ErrBadSecret, path, err)
	}
	v := strings.TrimRight(string(b), "\r\n")
	if v == "" {
		return "", fmt.Errorf("%w: secret file %s is empty", ErrBadSecret, path)
	}
	return v, nil
}

// argonHash is a parsed argon2id PHC string.
type argonHash struct {
	time, memory uint32
	threads      uint8
	salt, key    []byte
}

// Bounds on argon2id parameters, so that a config cannot make every ticket
// check cost seconds or gigabytes.
const (
	maxArgonMemory = 1 << 20 // KiB: 1 GiB
	maxArgonTime   = 64
)

func parseArgon2id(s string) (argonHash, error) {
	bad := func(why string) (argonHash, error) {
		return argonHash{}, fmt.Errorf("%w: argon2id hash: %s (want $argon2id$v=19$m=65536,t=3,p=4$<salt>$<hash>)", ErrBadSecret, why)
	}
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return bad("not a PHC string of argon2id")
	}
	if parts[2] != "v=19" {
		return bad("version " + parts[2] + " unsupported")
	}
	var h argonHash
	var seen int
	for kv := range strings.SplitSeq(parts[3], ",") {
		k, v, _ := strings.Cut(kv, "=")
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return bad("parameter " + kv + " is not a number")
		}
		switch k {
		case "m":
			h.memory = uint32(n)
		case "t":
			h.time = uint32(n)
		case "p":
			if n > 255 {
				return bad("p must be at most 255")
			}
			h.threads = uint8(n)
		default:
			return bad("unknown parameter " + k)
		}
		seen++
	}
	switch {
	case seen != 3 || h.memory == 0 || h.time == 0 || h.threads == 0:
		return bad("m, t and p must all be given and positive")
	case h.memory > maxArgonMemory:
		return bad("m above 1048576 KiB")
	case h.time > maxArgonTime:
		return bad("t above 64")
	}
	var err error
	if h.salt, err = base64.RawStdEncoding.DecodeString(parts[4]); err != nil || len(h.salt) < 8 {
		return bad("salt must be unpadded base64 of at least 8 bytes")
	}
	if h.key, err = base64.RawStdEncoding.DecodeString(parts[5]); err != nil || len(h.key) < 16 {
		return bad("hash must be unpadded base64 of at least 16 bytes")
	}
	return h, nil
}

// HashArgon2id returns the argon2id PHC string of secret with a random salt
// and the RFC 9106 second recommended parameters (t=3, m=64 MiB, p=4).
func HashArgon2id(secret string) string {
	salt := make([]byte, 16)
	_, _ = rand.Read(salt)
	const t, m, p = 3, 64 << 10, 4
	key := argon2.IDKey([]byte(secret), salt, t, m, p, 32)
	return fmt.Sprintf("$argon2id$v=19$m=%d,t=%d,p=%d$%s$%s", m, t, p,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

// HashBcrypt returns the bcrypt hash of secret at bcrypt's default cost.
func HashBcrypt(secret string) (string, error) {
	h, err := bcrypt.GenerateFromPassword([]byte(secret), bcrypt.DefaultCost)
	return string(h), err
}
