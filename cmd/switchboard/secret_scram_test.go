package main

import (
	"strings"
	"testing"

	"github.com/switchboard/switchboard/config"
)

func TestSecretScram(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"-memory", "64", "-iterations", "1"}, []string{"kdf: argon2id13\n", "iterations: 1\n", "memory: 64\n"}},
		{[]string{"-kdf", "pbkdf2"}, []string{"kdf: pbkdf2\n", "iterations: 16384\n"}},
		{[]string{"-kdf", "argon2id-13", "-memory", "64", "-authid", "alice", "-role", "frontend"}, []string{"- authid: \"alice\"\n  role: \"frontend\"\n  kdf: argon2id-13\n", "  iterations: 3\n"}},
	} {
		withStdin(t, "correct horse\n")
		code, out, errOut := call(append([]string{"secret", "scram"}, tc.args...)...)
		if code != 0 || errOut != "" {
			t.Fatalf("%v: code %d, stderr %q", tc.args, code, errOut)
		}
		for _, w := range tc.want {
			if !strings.Contains(out, w) {
				t.Errorf("%v: output %q lacks %q", tc.args, out, w)
			}
		}
		if strings.Contains(out, "correct horse") {
			t.Errorf("%v: the password is in the output", tc.args)
		}
		// What it prints is a principal config.yaml takes.
		principal := out
		if !strings.HasPrefix(out, "- ") {
			principal = "- authid: a\n  role: r\n" + indentLines(out, "  ")
		}
		src := "realms:\n  - name: realm1\n    auth:\n      - method: wamp-scram\n        principals:\n" + indentLines(principal, "          ")
		if _, err := config.Parse("scram.yaml", []byte(src)); err != nil {
			t.Errorf("%v: config.yaml does not take\n%s\n%v", tc.args, src, err)
		}
	}
	// A given salt reproduces the keys: RFC 7677's.
	withStdin(t, "pencil")
	code, out, _ := call("secret", "scram", "-kdf", "pbkdf2", "-iterations", "4096", "-salt", "W22ZaJ0SNY7soEsUEjb6gQ==")
	if code != 0 || !strings.Contains(out, "salt: W22ZaJ0SNY7soEsUEjb6gQ==\n") {
		t.Errorf("code %d, out %q", code, out)
	}
}

func TestSecretScramErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"-kdf", "scrypt"}, 2, "unknown kdf"},
		{[]string{"-memory", "1"}, 2, "memory"},
		{[]string{"-salt", "%%"}, 2, "-salt is not base64"},
		{[]string{"-salt", "AAAA"}, 2, "salt of 3 bytes"},
		{[]string{"-authid", "a"}, 2, "-authid and -role together"},
		{[]string{"extra"}, 2, "unexpected argument"},
		{[]string{"-kdf", "pbkdf2"}, 1, "no secret"},
	} {
		withStdin(t, "")
		code, _, errOut := call(append([]string{"secret", "scram"}, tc.args...)...)
		if code != tc.code || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: code %d, stderr %q; want %d with %q", tc.args, code, errOut, tc.code, tc.want)
		}
	}
}

func indentLines(s, prefix string) string {
	lines := strings.SplitAfter(s, "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = prefix + l
		}
	}
	return strings.Join(lines, "")
}
