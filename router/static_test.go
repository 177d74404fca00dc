package router_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gammazero/nexus/v3/client"

	"github.com/switchboard/switchboard/router/routertest"
)

// staticRouter starts a router whose websocket listener serves a fresh
// directory, and returns the listener's http:// base URL and the
// directory. Beside the directory lies a secret file that must never be
// served.
func staticRouter(t *testing.T) (base, dir string) {
	t.Helper()
	top := t.TempDir()
	dir = filepath.Join(top, "web")
	files := map[string]string{
		"index.html":        "<!doctype html><title>demo</title>",
		"app.js":            "console.log('hi')",
		"style.css":         "body{}",
		"data.json":         "{}",
		"blob.xyz123":       "??",
		"sub/index.html":    "<p>sub</p>",
		"empty/.keep":       "",
		".env":              "SECRET=1",
		".git/config":       "[core]",
		"inner/page.html":   "<p>inner</p>",
		"../secret.txt":     "top secret",
		"../outside/a.html": "outside",
	}
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// A link inside the directory is served; one that leads out is not.
	if err := os.Symlink("inner/page.html", filepath.Join(dir, "link.html")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../secret.txt", filepath.Join(dir, "escape.txt")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../outside", filepath.Join(dir, "outdir")); err != nil {
		t.Fatal(err)
	}
	cfg := routertest.Config()
	cfg.Transports[0].Static = dir
	r := routertest.Run(t, cfg)
	return "http" + strings.TrimSuffix(strings.TrimPrefix(r.URL("websocket"), "ws"), "/ws"), dir
}

func fetch(t *testing.T, req *http.Request) (*http.Response, string) {
	t.Helper()
	c := &http.Client{
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(body)
}

func newReq(t *testing.T, method, url string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func TestStaticFiles(t *testing.T) {
	base, _ := staticRouter(t)

	for _, tc := range []struct {
		path, ctype, body string
	}{
		{"/", "text/html; charset=utf-8", "<!doctype html><title>demo</title>"},
		{"/index.html", "text/html; charset=utf-8", "<!doctype html><title>demo</title>"},
		{"/app.js", "text/javascript; charset=utf-8", "console.log('hi')"},
		{"/style.css", "text/css; charset=utf-8", "body{}"},
		{"/data.json", "application/json", "{}"},
		{"/blob.xyz123", "application/octet-stream", "??"},
		{"/sub/", "text/html; charset=utf-8", "<p>sub</p>"},
		{"/link.html", "text/html; charset=utf-8", "<p>inner</p>"},
		{"/app.js?v=2", "text/javascript; charset=utf-8", "console.log('hi')"},
	} {
		resp, body := fetch(t, newReq(t, http.MethodGet, base+tc.path))
		h := resp.Header
		if resp.StatusCode != http.StatusOK || body != tc.body || h.Get("Content-Type") != tc.ctype {
			t.Errorf("GET %s: %d %q %q, want 200 %q %q", tc.path, resp.StatusCode, h.Get("Content-Type"), body, tc.ctype, tc.body)
			continue
		}
		if h.Get("ETag") == "" || h.Get("Last-Modified") == "" || h.Get("Cache-Control") != "no-cache" || h.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: caching headers %v", tc.path, h)
		}
	}

	// Revalidation: an unchanged file costs a 304 and no body.
	resp, _ := fetch(t, newReq(t, http.MethodGet, base+"/app.js"))
	etag, modified := resp.Header.Get("ETag"), resp.Header.Get("Last-Modified")
	req := newReq(t, http.MethodGet, base+"/app.js")
	req.Header.Set("If-None-Match", etag)
	if resp, body := fetch(t, req); resp.StatusCode != http.StatusNotModified || body != "" {
		t.Errorf("If-None-Match %s: %d %q, want 304", etag, resp.StatusCode, body)
	}
	req = newReq(t, http.MethodGet, base+"/app.js")
	req.Header.Set("If-Modified-Since", modified)
	if resp, _ := fetch(t, req); resp.StatusCode != http.StatusNotModified {
		t.Errorf("If-Modified-Since %s: %d, want 304", modified, resp.StatusCode)
	}
	req = newReq(t, http.MethodGet, base+"/app.js")
	req.Header.Set("If-None-Match", `"other"`)
	if resp, _ := fetch(t, req); resp.StatusCode != http.StatusOK {
		t.Errorf("If-None-Match with another tag: %d, want 200", resp.StatusCode)
	}
	req = newReq(t, http.MethodGet, base+"/app.js")
	req.Header.Set("Range", "bytes=0-6")
	if resp, body := fetch(t, req); resp.StatusCode != http.StatusPartialContent || body != "console" {
		t.Errorf("Range: %d %q, want 206 \"console\"", resp.StatusCode, body)
	}
	if resp, body := fetch(t, newReq(t, http.MethodHead, base+"/app.js")); resp.StatusCode != http.StatusOK || body != "" || resp.ContentLength != int64(len("console.log('hi')")) {
		t.Errorf("HEAD: %d %q length %d", resp.StatusCode, body, resp.ContentLength)
	}

	// A directory without its slash is redirected, relatively.
	if resp, _ := fetch(t, newReq(t, http.MethodGet, base+"/sub")); resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != "sub/" {
		t.Errorf("GET /sub: %d Location %q, want 301 sub/", resp.StatusCode, resp.Header.Get("Location"))
	}

	// Never served: listings, dotfiles, anything outside, other methods.
	for _, path := range []string{"/empty/", "/empty", "/inner/", "/.env", "/.git/config", "/sub/.hidden",
		"/escape.txt", "/outdir/a.html", "/nope.html", "/index.html/"} {
		resp, body := fetch(t, newReq(t, http.MethodGet, base+path))
		if resp.StatusCode != http.StatusNotFound || resp.Header.Get("Content-Type") != "application/json" {
			t.Errorf("GET %s: %d %q %q, want a 404 JSON error", path, resp.StatusCode, resp.Header.Get("Content-Type"), body)
			continue
		}
		var e struct{ Error string }
		if err := json.Unmarshal([]byte(body), &e); err != nil || !strings.Contains(e.Error, "not found") {
			t.Errorf("GET %s: body %q, want {\"error\": \"not found...\"}", path, body)
		}
		if strings.Contains(body, "secret") || strings.Contains(body, "outside") {
			t.Errorf("GET %s leaked %q", path, body)
		}
	}
	resp, body := fetch(t, newReq(t, http.MethodPost, base+"/index.html"))
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" || !strings.Contains(body, `"error"`) {
		t.Errorf("POST: %d Allow %q %q, want 405", resp.StatusCode, resp.Header.Get("Allow"), body)
	}
}

// Raw request targets that a browser would never send, which net/http's
// client would clean up: none reaches outside the directory.
func TestStaticTraversal(t *testing.T) {
	base, _ := staticRouter(t)
	addr := strings.TrimPrefix(base, "http://")
	for _, target := range []string{"/../secret.txt", "/%2e%2e/secret.txt", "/sub/../../secret.txt",
		"/..%2fsecret.txt", "/sub/%2e%2e/%2e%2e/secret.txt", "/..\\secret.txt", "/%5c..%5csecret.txt", "/%00"} {
		nc, err := net.DialTimeout("tcp", addr, 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
		fmt.Fprintf(nc, "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", target, addr)
		resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
		if err != nil {
			nc.Close()
			t.Fatalf("GET %s: %v", target, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		nc.Close()
		// net/http's mux redirects a path with ".." to its clean form,
		// which lies inside the directory; the handler refuses the rest.
		switch resp.StatusCode {
		case http.StatusNotFound, http.StatusBadRequest, http.StatusMovedPermanently, http.StatusTemporaryRedirect:
		default:
			t.Errorf("GET %s: status %d", target, resp.StatusCode)
		}
		if strings.Contains(string(body), "top secret") {
			t.Errorf("GET %s served the file outside the directory", target)
		}
	}
}

// The WebSocket endpoint and the files share the port; the endpoint's
// path wins over the directory's root.
func TestStaticBesideWebSocket(t *testing.T) {
	base, dir := staticRouter(t)
	if err := os.WriteFile(filepath.Join(dir, "ws"), []byte("a file named ws"), 0o644); err != nil {
		t.Fatal(err)
	}
	if resp, _ := fetch(t, newReq(t, http.MethodGet, base+"/ws")); resp.StatusCode != http.StatusUpgradeRequired {
		t.Errorf("GET /ws without upgrade: %d, want 426 from the WebSocket endpoint", resp.StatusCode)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.ConnectNet(ctx, "ws"+strings.TrimPrefix(base, "http")+"/ws", client.Config{Realm: "realm1"})
	if err != nil {
		t.Fatalf("WebSocket beside the files: %v", err)
	}
	c.Close()
}
