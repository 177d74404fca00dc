package config

import (
	"encoding/base64"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/switchboard/switchboard/auth"
)

// scramYAML is a wamp-scram principal's keys as `switchboard secret scram`
// prints them, in flow style.
func scramYAML(t *testing.T, kdf string, memory int) (string, auth.ScramKeys) {
	t.Helper()
	k, err := auth.DeriveScramKeys("pw", kdf, []byte("0123456789abcdef"), 2, memory)
	if err != nil {
		t.Fatal(err)
	}
	b := base64.StdEncoding.EncodeToString
	s := "kdf: " + k.KDF + ", iterations: 2, salt: " + b(k.Salt) + ", stored_key: " + b(k.StoredKey) + ", server_key: " + b(k.ServerKey)
	if memory != 0 {
		s += ", memory: 64"
	}
	return s, k
}

func TestScramGood(t *testing.T) {
	argon, ka := scramYAML(t, auth.KDFArgon2id, 64)
	pbkdf2, kp := scramYAML(t, auth.KDFPBKDF2, 0)
	src := `realms:
  - name: realm1
    auth:
      - method: wamp-scram
        principals:
          - {authid: ann, role: frontend, ` + argon + `}
          - {authid: pete, role: backend, ` + strings.Replace(pbkdf2, "kdf: pbkdf2", "kdf: pbkdf2", 1) + `}
      - method: wamp-scram
        dynamic: {procedure: com.example.authenticate}
`
	c, err := Parse("scram.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	b := base64.StdEncoding.EncodeToString
	want := []Principal{
		{AuthID: "ann", Role: "frontend", KDF: "argon2id13", Iterations: 2, Memory: 64, Salt: b(ka.Salt), StoredKey: b(ka.StoredKey), ServerKey: b(ka.ServerKey)},
		{AuthID: "pete", Role: "backend", KDF: "pbkdf2", Iterations: 2, Salt: b(kp.Salt), StoredKey: b(kp.StoredKey), ServerKey: b(kp.ServerKey)},
	}
	if got := c.Realms[0].Auth[0].Principals; !reflect.DeepEqual(got, want) {
		t.Errorf("principals =\n%+v\nwant\n%+v", got, want)
	}
	if d := c.Realms[0].Auth[1].Dynamic; d == nil || d.Procedure != "com.example.authenticate" {
		t.Errorf("dynamic = %+v", d)
	}
	// Crossbar.io's (Autobahn|Python's) variant of Argon2id.
	src = strings.Replace(src, "kdf: argon2id13", "kdf: argon2id-13", 1)
	if _, err := Parse("scram.yaml", []byte(src)); err != nil {
		t.Errorf("argon2id-13: %v", err)
	}
}

func TestScramErrors(t *testing.T) {
	argon, _ := scramYAML(t, auth.KDFArgon2id, 64)
	pbkdf2, _ := scramYAML(t, auth.KDFPBKDF2, 0)
	head := "realms:\n  - name: realm1\n    auth:\n      - method: wamp-scram\n        principals:\n"
	principal := func(fields string) string { return head + "          - {authid: a, role: r, " + fields + "}\n" }
	field := func(s, key string) string {
		for _, f := range strings.Split(s, ", ") {
			if strings.HasPrefix(f, key+": ") {
				return f
			}
		}
		t.Fatalf("no %s in %s", key, s)
		return ""
	}
	without := func(s, key string) string { return strings.Replace(s, ", "+field(s, key), "", 1) }
	replace := func(s, key, val string) string { return strings.Replace(s, field(s, key), key+": "+val, 1) }
	for _, tc := range []struct {
		name, src, want string
		is              error
	}{
		{"no principals", head[:len(head)-len("        principals:\n")],
			`bad.yaml:4:9: realms[0].auth[0]: wamp-scram needs principals or dynamic`, ErrAuth},
		{"missing stored_key", principal(without(pbkdf2, "stored_key")),
			`bad.yaml:6:13: realms[0].auth[0].principals[0].stored_key: missing stored_key: wamp-scram principals need one`, ErrMissing},
		{"missing kdf", principal(strings.TrimPrefix(pbkdf2, "kdf: pbkdf2, ")),
			`bad.yaml:6:13: realms[0].auth[0].principals[0].kdf: missing kdf: wamp-scram principals need one`, ErrMissing},
		{"missing memory", principal(without(argon, "memory")),
			`bad.yaml:6:13: realms[0].auth[0].principals[0].memory: missing memory: argon2id13 principals need one (KiB)`, ErrMissing},
		{"memory on pbkdf2", principal(pbkdf2 + ", memory: 64"),
			`bad.yaml:6:`, ErrNotAllowed},
		{"unknown kdf", principal(replace(pbkdf2, "kdf", "scrypt")),
			`bad.yaml:6:39: realms[0].auth[0].principals[0].kdf: unknown kdf "scrypt": want argon2id13, argon2id-13, pbkdf2`, ErrAuth},
		{"salt not base64", principal(replace(pbkdf2, "salt", "not-base64")),
			`bad.yaml:6:`, ErrSecret},
		{"short salt", principal(replace(pbkdf2, "salt", "AAAA")),
			`bad.yaml:6:`, ErrSecret},
		{"short server_key", principal(replace(pbkdf2, "server_key", "AAAA")),
			`bad.yaml:6:`, ErrSecret},
		{"argon memory too large", principal(replace(argon, "memory", "99999999")),
			`bad.yaml:6:`, ErrBadNumber},
		{"iterations too many", principal(replace(pbkdf2, "iterations", "20000000")),
			`bad.yaml:6:`, ErrBadNumber},
		{"scram keys on wampcra", "realms:\n  - name: realm1\n    auth:\n      - method: wampcra\n        principals:\n          - {authid: a, role: r, secret: s, stored_key: x}\n",
			`bad.yaml:6:`, ErrNotAllowed},
		{"keylen on scram", principal(pbkdf2 + ", keylen: 32"),
			`bad.yaml:6:`, ErrNotAllowed},
		{"secret on scram", principal(pbkdf2 + ", secret: pw"),
			`bad.yaml:6:`, ErrNotAllowed},
		{"unknown key", principal(pbkdf2 + ", storedkey: x"),
			`bad.yaml:6:`, ErrUnknownKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("bad.yaml", []byte(tc.src))
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Fatalf("error\n %v\nwant one starting\n %s", err, tc.want)
			}
			if !errors.Is(err, tc.is) {
				t.Errorf("error %v is not %v", err, tc.is)
			}
			t.Log(err)
		})
	}
}
