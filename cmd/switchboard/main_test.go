package main

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchboard/switchboard/config"
)

const repoConfig = "../../config.yaml"

// call runs the command line and returns its exit status and output.
func call(args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"help"}, {"-h"}, {"--help"}, {"run", "-h"}, {"check", "-h"}, {"version", "-h"}} {
		code, out, errOut := call(args...)
		if code != 0 || errOut != "" {
			t.Errorf("%q: code %d, stderr %q", args, code, errOut)
		}
		for _, want := range []string{"switchboard [run] [-c FILE]", "switchboard check", "switchboard version", "switchboard help", "-c, --config FILE"} {
			if !strings.Contains(out, want) {
				t.Errorf("%q: usage lacks %q:\n%s", args, want, out)
			}
		}
	}
}

func TestVersion(t *testing.T) {
	code, out, errOut := call("version")
	if code != 0 || errOut != "" {
		t.Fatalf("code %d, stderr %q", code, errOut)
	}
	if !strings.HasPrefix(out, "switchboard dev\ngo") {
		t.Errorf("version output:\n%s", out)
	}
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"-x"}, "switchboard run: flag provided but not defined: -x\n"},
		{[]string{"check", "--nope"}, "switchboard check: flag provided but not defined: -nope\n"},
		{[]string{"check", "a.yaml", "b.yaml"}, "switchboard check: unexpected argument \"b.yaml\"\n"},
		{[]string{"check", "-c", "a.yaml", "b.yaml"}, "switchboard check: give the file either with -c or as an argument\n"},
		{[]string{"run", "extra"}, "switchboard run: unexpected argument \"extra\"\n"},
		{[]string{"version", "extra"}, "switchboard version: unexpected argument \"extra\"\n"},
		{[]string{"frob"}, "switchboard: unknown command \"frob\"\n"},
		{[]string{"-c"}, "switchboard run: flag needs an argument: -c\n"},
	}
	for _, tt := range tests {
		code, out, errOut := call(tt.args...)
		if code != 2 || out != "" || !strings.HasPrefix(errOut, tt.want) {
			t.Errorf("%q: code %d, stdout %q, stderr %q; want 2 and stderr %q", tt.args, code, out, errOut, tt.want)
		}
	}
}

func TestCheck(t *testing.T) {
	for _, args := range [][]string{
		{"check", "-c", repoConfig},
		{"check", "--config", repoConfig},
		{"check", "-config=" + repoConfig},
		{"check", repoConfig},
	} {
		code, out, errOut := call(args...)
		if code != 0 || out != repoConfig+": ok\n" || errOut != "" {
			t.Errorf("%q: code %d, stdout %q, stderr %q", args, code, out, errOut)
		}
	}
}

func TestCheckBad(t *testing.T) {
	bad := writeFile(t, "bad.yaml", "log:\n  level: info\nrealmz:\n  - name: realm1\n")
	code, out, errOut := call("check", "-c", bad)
	want := bad + `:3:1: unknown key "realmz" (did you mean "realms"?)` + "\n"
	if code != 1 || out != "" || errOut != want {
		t.Errorf("code %d, stdout %q, stderr %q; want 1 and %q", code, out, errOut, want)
	}

	// Every problem, one per line.
	bad = writeFile(t, "bad.yaml", "realms:\n  - name: a\n  - name: a\nlimits:\n  max_message_size: 2GiB\n")
	code, _, errOut = call("check", bad)
	if lines := strings.Split(strings.TrimSpace(errOut), "\n"); code != 1 || len(lines) != 2 {
		t.Errorf("code %d, stderr %q; want 1 and two errors", code, errOut)
	}

	missing := filepath.Join(t.TempDir(), "none.yaml")
	code, _, errOut = call("check", missing)
	if code != 1 || errOut != missing+": no such file or directory\n" {
		t.Errorf("missing file: code %d, stderr %q", code, errOut)
	}
}

// A bad config must stop run before it builds a router, with the same
// message check gives.
func TestRunBadConfig(t *testing.T) {
	bad := writeFile(t, "bad.yaml", "transports:\n  - type: websocket\n    listen: \"127.0.0.1:99999\"\n")
	for _, args := range [][]string{{"-c", bad}, {"run", "-c", bad}, {"run", "--config", bad}} {
		code, out, errOut := call(args...)
		want := bad + `:3:13: transports[0].listen: bad address "127.0.0.1:99999": port out of range` + "\n"
		if code != 1 || out != "" || errOut != want {
			t.Errorf("%q: code %d, stdout %q, stderr %q; want 1 and %q", args, code, out, errOut, want)
		}
	}

	// A file named explicitly must exist; only the default may be absent.
	missing := filepath.Join(t.TempDir(), "none.yaml")
	if code, _, errOut := call("-c", missing); code != 1 || errOut != missing+": no such file or directory\n" {
		t.Errorf("missing -c file: code %d, stderr %q", code, errOut)
	}
}

func TestNewLogger(t *testing.T) {
	var buf bytes.Buffer
	newLogger(config.Log{Level: slog.LevelWarn, Format: config.FormatJSON}, &buf).Info("hidden")
	newLogger(config.Log{Level: slog.LevelWarn, Format: config.FormatJSON}, &buf).Warn("shown", "k", 1)
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil || rec["msg"] != "shown" {
		t.Errorf("json log = %q (%v)", buf.String(), err)
	}

	buf.Reset()
	newLogger(config.Log{Format: config.FormatText}, &buf).Info("hello", "k", 1)
	if got := buf.String(); !strings.Contains(got, "level=INFO msg=hello k=1") {
		t.Errorf("text log = %q", got)
	}
}
