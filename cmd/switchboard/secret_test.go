package main

import (
	"crypto/ed25519"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/switchboard/switchboard/auth"
)

func withStdin(t *testing.T, s string) {
	t.Helper()
	old := stdin
	stdin = strings.NewReader(s)
	t.Cleanup(func() { stdin = old })
}

func TestSecretHashes(t *testing.T) {
	for _, kind := range []string{auth.SecretBcrypt, auth.SecretArgon2id} {
		withStdin(t, "alice-ticket\n")
		code, out, errOut := call("secret", kind)
		if code != 0 || errOut != "" {
			t.Fatalf("secret %s: code %d, stderr %q", kind, code, errOut)
		}
		s, err := auth.HashedSecret(kind, strings.TrimSpace(out))
		if err != nil {
			t.Fatalf("secret %s printed %q: %v", kind, out, err)
		}
		if !s.Verify("alice-ticket") || s.Verify("alice-ticket\n") {
			t.Errorf("secret %s: the hash does not verify the ticket alone", kind)
		}
	}
}

func TestSecretWAMPCRA(t *testing.T) {
	withStdin(t, "secret1")
	code, out, errOut := call("secret", "wampcra", "-salt", "salt123", "-iterations", "100", "-keylen", "16")
	if code != 0 || errOut != "" || out != "prq7+YkJ1/KlW1X0YczMHw==\n" {
		t.Errorf("code %d, stdout %q, stderr %q; want Crossbar.io's example key", code, out, errOut)
	}
	code, _, errOut = call("secret", "wampcra")
	if code != 2 || !strings.Contains(errOut, "-salt") {
		t.Errorf("without -salt: code %d, stderr %q", code, errOut)
	}
}

func TestSecretCryptosign(t *testing.T) {
	code, out, errOut := call("secret", "cryptosign")
	lines := strings.Fields(out)
	if code != 0 || errOut != "" || len(lines) != 2 {
		t.Fatalf("code %d, stdout %q, stderr %q", code, out, errOut)
	}
	seed, err1 := hex.DecodeString(lines[0])
	pub, err2 := hex.DecodeString(lines[1])
	if err1 != nil || err2 != nil || len(seed) != ed25519.SeedSize {
		t.Fatalf("output %q is not a seed and a key in hex", out)
	}
	if got := ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey); !got.Equal(ed25519.PublicKey(pub)) {
		t.Error("the public key is not the seed's")
	}
}

func TestSecretErrors(t *testing.T) {
	withStdin(t, "\n")
	if code, _, errOut := call("secret", "bcrypt"); code != 1 || !strings.Contains(errOut, "no secret") {
		t.Errorf("empty stdin: code %d, stderr %q", code, errOut)
	}
	if code, _, errOut := call("secret", "md5"); code != 2 || !strings.Contains(errOut, "unknown kind") {
		t.Errorf("unknown kind: code %d, stderr %q", code, errOut)
	}
	if code, out, _ := call("secret"); code != 0 || !strings.Contains(out, "switchboard secret bcrypt") {
		t.Errorf("secret without a kind: code %d, stdout %q", code, out)
	}
}
