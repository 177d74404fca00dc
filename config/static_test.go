package config

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestStaticAndProxies(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "web"), 0o755); err != nil {
		t.Fatal(err)
	}
	src := `transports:
  - type: websocket
    listen: 127.0.0.1:0
    static: web
    trusted_proxies: [127.0.0.1, "10.0.0.0/8", "::1", "fd00::/8", "::ffff:192.0.2.1"]
`
	file := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(file, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(file)
	if err != nil {
		t.Fatal(err)
	}
	ws := c.Transports[0]
	if want := filepath.Join(dir, "web"); ws.Static != want {
		t.Errorf("Static = %q, want %q (relative to the file)", ws.Static, want)
	}
	want := []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("10.0.0.0/8"),
		netip.MustParsePrefix("::1/128"), netip.MustParsePrefix("fd00::/8"), netip.MustParsePrefix("192.0.2.1/32")}
	if !reflect.DeepEqual(ws.TrustedProxies, want) {
		t.Errorf("TrustedProxies = %v, want %v", ws.TrustedProxies, want)
	}

	base := "transports:\n  - type: websocket\n    listen: 127.0.0.1:0\n"
	notDir := file
	for _, tc := range []struct {
		name, src, want string
		is              error
	}{
		{"missing directory", base + "    static: " + filepath.Join(dir, "nope") + "\n",
			`transports[0].static: directory "` + filepath.Join(dir, "nope") + `": no such file or directory`, ErrStatic},
		{"not a directory", base + "    static: " + notDir + "\n",
			`transports[0].static: "` + notDir + `" is not a directory`, ErrStatic},
		{"static on rawsocket", "transports:\n  - type: rawsocket\n    listen: 127.0.0.1:0\n    static: " + dir + "\n",
			`transports[0].static: static is for websocket transports only`, ErrNotAllowed},
		{"static where the endpoint is", "transports:\n  - type: websocket\n    listen: 127.0.0.1:0\n    static: " + dir + "\n    path: /\n",
			`transports[0].static: the WebSocket endpoint is at "/"`, ErrStatic},
		{"static not a string", base + "    static: [web]\n",
			`transports[0].static: expected a string, got a list`, ErrType},
		{"bad proxy", base + "    trusted_proxies: [proxy.example.com]\n",
			`transports[0].trusted_proxies[0]: bad address "proxy.example.com"`, ErrProxy},
		{"bad prefix", base + "    trusted_proxies: [\"10.0.0.0/33\"]\n",
			`transports[0].trusted_proxies[0]: bad prefix "10.0.0.0/33"`, ErrProxy},
		{"host bits", base + "    trusted_proxies: [\"10.0.0.1/8\"]\n",
			`transports[0].trusted_proxies[0]: bad prefix "10.0.0.1/8": host bits set (did you mean 10.0.0.0/8?)`, ErrProxy},
		{"zone", base + "    trusted_proxies: [\"fe80::1%eth0\"]\n",
			`transports[0].trusted_proxies[0]: bad address "fe80::1%eth0"`, ErrProxy},
		{"no proxies", base + "    trusted_proxies: []\n",
			`transports[0].trusted_proxies: no proxies: drop the key to trust none`, ErrProxy},
		{"proxies on rawsocket", "transports:\n  - type: rawsocket\n    listen: 127.0.0.1:0\n    trusted_proxies: [127.0.0.1]\n",
			`transports[0].trusted_proxies: trusted_proxies is for websocket transports only`, ErrNotAllowed},
		{"proxies not a list", base + "    trusted_proxies: 127.0.0.1\n",
			`transports[0].trusted_proxies: expected a list`, ErrType},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("bad.yaml", []byte(tc.src))
			if err == nil || !strings.HasPrefix(err.Error(), "bad.yaml:4:") || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error\n %v\nwant one on line 4 with\n %s", err, tc.want)
			}
			if !errors.Is(err, tc.is) {
				t.Errorf("error %v is not %v", err, tc.is)
			}
		})
	}
}

// The shipped config.yaml serves the demo in web/, beside it.
func TestRepoConfigServesDemo(t *testing.T) {
	c, err := Load("../config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.Transports[0].Static, filepath.Join("..", "web"); got != want {
		t.Errorf("static = %q, want %q", got, want)
	}
	if _, err := os.Stat(filepath.Join("..", "web", "index.html")); err != nil {
		t.Errorf("the demo's page: %v", err)
	}
}
