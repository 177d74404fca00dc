package config

import (
	"errors"
	"os"
	"strings"
	"testing"
)

func TestCompression(t *testing.T) {
	src := `transports:
  - type: websocket
    listen: 127.0.0.1:0
    compression: {enabled: true, threshold: 1KiB, server_no_context_takeover: false, client_no_context_takeover: true, server_max_window_bits: 12, client_max_window_bits: 9}
  - type: websocket
    listen: 127.0.0.1:0
    path: /other
    compression:
      enabled: false
  - type: websocket
    listen: 127.0.0.1:0
    path: /third
`
	c, err := Parse("z.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	want := Compression{Threshold: 1 << 10, ServerContextTakeover: true, ServerMaxWindowBits: 12, ClientMaxWindowBits: 9}
	if z := c.Transports[0].Compression; z == nil || *z != want {
		t.Fatalf("compression %+v, want %+v", z, want)
	}
	if z := c.Transports[1].Compression; z == nil || *z != (Compression{Disabled: true}) {
		t.Fatalf("compression %+v, want disabled", z)
	}
	// No block: compression on with the defaults, which nil stands for.
	if z := c.Transports[2].Compression; z != nil {
		t.Fatalf("compression %+v without a block", z)
	}

	head := "transports:\n  - type: websocket\n    listen: 127.0.0.1:0\n    compression:\n"
	for _, tc := range []struct {
		name, src string
		line      int
		want      string
		is        error
	}{
		{"unknown key", head + "      level: 9\n", 5, `unknown key "level"`, ErrUnknownKey},
		{"typo", head + "      server_no_context_takeovr: true\n", 5, `did you mean "server_no_context_takeover"`, ErrUnknownKey},
		{"bad threshold", head + "      threshold: small\n", 5, `bad size "small"`, ErrBadSize},
		{"threshold too large", head + "      threshold: 2GiB\n", 5, "2GiB is too large", ErrBadSize},
		{"not a boolean", head + "      enabled: sometimes\n", 5, "expected true or false", ErrType},
		{"window 8", head + "      server_max_window_bits: 8\n", 5, "server_max_window_bits 8: want 9 to 15", ErrCompression},
		{"window 16", head + "      client_max_window_bits: 16\n", 5, "client_max_window_bits 16: want 9 to 15", ErrCompression},
		{"negative window", head + "      client_max_window_bits: -1\n", 5, "must not be negative", ErrBadNumber},
		{"not a mapping", "transports:\n  - type: websocket\n    listen: 127.0.0.1:0\n    compression: yes\n", 4, "expected a mapping", ErrType},
		{"rawsocket", "transports:\n  - type: rawsocket\n    listen: 127.0.0.1:0\n    compression:\n      enabled: true\n", 4,
			"compression is for websocket transports only", ErrNotAllowed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("bad.yaml", []byte(tc.src))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error\n %v\nwant one with\n %s", err, tc.want)
			}
			var e *Error
			if !errors.As(err, &e) || e.Line != tc.line {
				t.Errorf("error %v: want it on line %d", err, tc.line)
			}
			if !errors.Is(err, tc.is) {
				t.Errorf("error %v is not %v", err, tc.is)
			}
		})
	}
}

// The shipped config.yaml leaves compression on, with the defaults, and
// the block it shows commented out is valid and spells those defaults.
func TestRepoConfigCompression(t *testing.T) {
	c, err := Load("../config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for i, tr := range c.Transports {
		if z := tr.Compression; z != nil && (z.Disabled || *z != (Compression{})) {
			t.Errorf("transports[%d]: compression %+v, want the defaults", i, z)
		}
	}
	data, err := os.ReadFile("../config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var block []string
	for line := range strings.SplitSeq(string(data), "\n") {
		if line == "    # compression:" {
			block = append(block, "    compression:")
		} else if len(block) > 0 && strings.HasPrefix(line, "    #   ") {
			block = append(block, "    "+strings.TrimPrefix(line, "    # "))
		} else if len(block) > 0 {
			break
		}
	}
	if len(block) < 2 {
		t.Fatal("no commented compression block in config.yaml")
	}
	src := "transports:\n  - type: websocket\n    listen: 127.0.0.1:0\n" + strings.Join(block, "\n") + "\n"
	c, err = Parse("example.yaml", []byte(src))
	if err != nil {
		t.Fatalf("the commented block does not parse: %v\n%s", err, src)
	}
	want := Compression{Threshold: 256, ServerMaxWindowBits: 15, ClientMaxWindowBits: 15}
	if z := c.Transports[0].Compression; z == nil || *z != want {
		t.Fatalf("commented block reads %+v, want %+v", z, want)
	}
}
