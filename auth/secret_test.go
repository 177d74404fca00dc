package auth

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPlainSecret(t *testing.T) {
	s := PlainSecret("alice-ticket")
	if !s.Verify("alice-ticket") {
		t.Error("the right secret does not verify")
	}
	for _, wrong := range []string{"", "alice-ticke", "alice-ticket ", "ALICE-TICKET"} {
		if s.Verify(wrong) {
			t.Errorf("Verify(%q) = true", wrong)
		}
	}
	if k, ok := s.Key(); !ok || string(k) != "alice-ticket" {
		t.Errorf("Key() = %q, %v", k, ok)
	}
	if (Secret{}).Verify("") {
		t.Error("the zero Secret verifies the empty string")
	}
}

func TestHashedSecrets(t *testing.T) {
	bc, err := HashBcrypt("s3cret")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ kind, hash string }{
		{SecretBcrypt, bc},
		{SecretArgon2id, HashArgon2id("s3cret")},
	} {
		s, err := HashedSecret(tc.kind, tc.hash)
		if err != nil {
			t.Fatalf("HashedSecret(%s, %s): %v", tc.kind, tc.hash, err)
		}
		if s.Kind() != tc.kind {
			t.Errorf("Kind() = %q, want %q", s.Kind(), tc.kind)
		}
		if _, ok := s.Key(); ok {
			t.Errorf("%s: Key() ok for a hashed secret", tc.kind)
		}
		if !s.Verify("s3cret") {
			t.Errorf("%s %s: the right secret does not verify", tc.kind, tc.hash)
		}
		if s.Verify("s3cret!") || s.Verify("") {
			t.Errorf("%s: a wrong secret verifies", tc.kind)
		}
	}
}

func TestBadHashes(t *testing.T) {
	for _, tc := range []struct{ kind, hash, want string }{
		{SecretBcrypt, "s3cret", "bcrypt hash"},
		{SecretBcrypt, "$2a$10$short", "bcrypt hash"},
		{SecretArgon2id, "s3cret", "not a PHC string"},
		{SecretArgon2id, "$argon2i$v=19$m=1024,t=2,p=1$c29tZXNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", "not a PHC string"},
		{SecretArgon2id, "$argon2id$v=16$m=1024,t=2,p=1$c29tZXNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", "version"},
		{SecretArgon2id, "$argon2id$v=19$m=1024,t=2$c29tZXNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", "must all be given"},
		{SecretArgon2id, "$argon2id$v=19$m=1024,t=2,p=x$c29tZXNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", "not a number"},
		{SecretArgon2id, "$argon2id$v=19$m=99999999,t=2,p=1$c29tZXNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", "above"},
		{SecretArgon2id, "$argon2id$v=19$m=1024,t=2,p=1$!!$aGFzaGhhc2hoYXNoaGFzaA", "salt"},
		{SecretArgon2id, "$argon2id$v=19$m=1024,t=2,p=1$c29tZXNhbHQ$aGFzaA", "hash must be"},
		{"md5", "x", "unknown hash kind"},
	} {
		_, err := HashedSecret(tc.kind, tc.hash)
		if !errors.Is(err, ErrBadSecret) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("HashedSecret(%s, %q) = %v, want ErrBadSecret with %q", tc.kind, tc.hash, err, tc.want)
		}
	}
}

func TestSecretFromEnv(t *testing.T) {
	t.Setenv("SWITCHBOARD_TEST_TICKET", "from-env")
	t.Setenv("SWITCHBOARD_TEST_EMPTY", "")
	if v, err := SecretFromEnv("SWITCHBOARD_TEST_TICKET"); err != nil || v != "from-env" {
		t.Errorf("SecretFromEnv = %q, %v", v, err)
	}
	for _, name := range []string{"SWITCHBOARD_TEST_EMPTY", "SWITCHBOARD_TEST_UNSET_VARIABLE"} {
		if v, err := SecretFromEnv(name); !errors.Is(err, ErrBadSecret) {
			t.Errorf("SecretFromEnv(%s) = %q, %v; want ErrBadSecret", name, v, err)
		}
	}
}

func TestSecretFromFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct{ content, want string }{
		{"bob-secret", "bob-secret"},
		{"bob-secret\n", "bob-secret"},
		{"bob-secret\r\n", "bob-secret"},
		{" spaces kept \n", " spaces kept "},
	} {
		if v, err := SecretFromFile(write("s", tc.content)); err != nil || v != tc.want {
			t.Errorf("SecretFromFile(%q) = %q, %v; want %q", tc.content, v, err, tc.want)
		}
	}
	for _, p := range []string{write("empty", "\n"), filepath.Join(dir, "missing"), dir, write("big", strings.Repeat("x", maxSecretFile+1))} {
		if v, err := SecretFromFile(p); !errors.Is(err, ErrBadSecret) {
			t.Errorf("SecretFromFile(%s) = %q, %v; want ErrBadSecret", p, v, err)
		}
	}
}
