package interop_test

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gammazero/nexus/v3/client"
	nexuswamp "github.com/gammazero/nexus/v3/wamp"
	"github.com/switchboard/switchboard/internal/testutil"
)

// ArtifactsDir, relative to the module root, receives what CI keeps of a
// run: the demo's screenshot (demo.png). .gitignore lists it.
const ArtifactsDir = "interop/artifacts"

// backendTimeout bounds the Python backend's start (a hang guard).
const backendTimeout = 60 * time.Second

// demo is a router running the repository's config.yaml (on free ports),
// which serves web/.
type demo struct {
	*router
	http string // http://host:port of the websocket listener
}

// startDemo builds the router and runs the shipped config.yaml with its
// listeners moved to free ports and its static directory made absolute.
func startDemo(t *testing.T, root string) *demo {
	t.Helper()
	tmp := t.TempDir()
	wsAddr, rsAddr := freeAddr(t), freeAddr(t)
	cfg := writeExampleConfig(t, filepath.Join(root, "config.yaml"), tmp, wsAddr, rsAddr)
	b, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	const static = "    static: web\n"
	if n := strings.Count(string(b), static); n != 1 {
		t.Fatalf("config.yaml: %d lines %q, want 1", n, static)
	}
	b = []byte(strings.Replace(string(b), static, "    static: "+filepath.Join(root, "web")+"\n", 1))
	if err := os.WriteFile(cfg, b, 0o600); err != nil {
		t.Fatal(err)
	}
	bin := buildSwitchboard(t, root, tmp)
	r := runRouter(t, tmp, []string{bin, "-c", cfg}, wsAddr, rsAddr, false)
	r.bin = bin
	return &demo{router: r, http: "http://" + wsAddr}
}

// startBackend runs examples/python/service.py against wsURL until the
// test ends, and waits until it has registered its procedure.
func startBackend(t *testing.T, python, root, wsURL string) {
	t.Helper()
	cmd := exec.Command(python, filepath.Join(root, "examples", "python", "service.py"),
		"--url", wsURL, "--interval", "0.2")
	cmd.Env = append(os.Environ(), "PYTHONUNBUFFERED=1")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := new(testutil.Buffer)
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start the Python backend: %v", err)
	}
	ready := make(chan struct{})
	copied := make(chan struct{})
	out := new(testutil.Buffer)
	go func() {
		defer close(copied)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			out.Write(append(sc.Bytes(), '\n'))
			if strings.HasPrefix(sc.Text(), "ready:") {
				close(ready)
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() {
			<-copied
			done <- cmd.Wait()
		}()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Python backend did not exit cleanly on SIGTERM: %v", err)
			}
		case <-time.After(shutdownTimeout):
			_ = cmd.Process.Kill()
			<-done
			t.Errorf("Python backend still running %v after SIGTERM; killed", shutdownTimeout)
		}
		if t.Failed() {
			t.Logf("Python backend output:\n%s%s", out.String(), stderr.String())
		}
	})
	select {
	case <-ready:
	case <-copied:
		t.Fatalf("Python backend exited before it was ready:\n%s%s", out.String(), stderr.String())
	case <-time.After(backendTimeout):
		t.Fatalf("Python backend not ready after %v:\n%s%s", backendTimeout, out.String(), stderr.String())
	}
}

// TestPythonExample runs examples/python/service.py against the default
// node and checks, with the nexus client, what the demo relies on: the
// procedure answers and the counter is published, retained.
func TestPythonExample(t *testing.T) {
	if testing.Short() {
		t.Skip("interop test: builds the router and runs Python")
	}
	python := lookPython(t)
	root := moduleRoot(t)
	d := startDemo(t, root)
	startBackend(t, python, root, d.wsURL)

	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	c, err := client.ConnectNet(ctx, d.wsURL, client.Config{Realm: "realm1"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	res, err := c.Call(ctx, "com.switchboard.demo.add2", nil, nexuswamp.List{2, 3}, nil, nil)
	if err != nil {
		t.Fatalf("call add2: %v", err)
	}
	if n, ok := nexuswamp.AsInt64(res.Arguments[0]); len(res.Arguments) != 1 || !ok || n != 5 {
		t.Fatalf("add2(2, 3) = %v, want [5]", res.Arguments)
	}
	events := make(chan int64, 16)
	err = c.Subscribe("com.switchboard.demo.counter", func(ev *nexuswamp.Event) {
		if len(ev.Arguments) == 1 {
			if n, ok := nexuswamp.AsInt64(ev.Arguments[0]); ok {
				select {
				case events <- n:
				default:
				}
			}
		}
	}, nexuswamp.Dict{"get_retained": true})
	if err != nil {
		t.Fatal(err)
	}
	first := receiveInt(t, events)
	for next := receiveInt(t, events); next <= first; next = receiveInt(t, events) {
	}
}

func receiveInt(t *testing.T, ch <-chan int64) int64 {
	t.Helper()
	select {
	case n := <-ch:
		return n
	case <-time.After(30 * time.Second):
		t.Fatal("no counter event within 30s")
		return 0
	}
}

// bridgeMounted reports whether the listener answers POST /publish itself
// rather than through the static files (405) or not at all (404).
func bridgeMounted(t *testing.T, base string) bool {
	t.Helper()
	resp, err := http.Post(base+"/publish", "application/json", strings.NewReader("{"))
	if err != nil {
		t.Fatalf("POST /publish: %v", err)
	}
	resp.Body.Close()
	return resp.StatusCode != http.StatusNotFound && resp.StatusCode != http.StatusMethodNotAllowed
}

// TestDemoInChromium opens the demo of web/, served by the default
// config, in two headless Chromium pages with the Python backend running
// (interop/autobahn/demo.test.mjs), and saves a screenshot in
// interop/artifacts/demo.png.
func TestDemoInChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("interop test: builds the router and runs Chromium")
	}
	node := lookTool(t, "node")
	chromium := lookFor(t, "chromium", "apt install chromium", "/usr/bin/chromium")
	python := lookPython(t)
	root := moduleRoot(t)
	dir := filepath.Join(root, "interop", "autobahn")
	npmCI(t, dir)

	d := startDemo(t, root)
	startBackend(t, python, root, d.wsURL)
	publish := "bridge"
	if !bridgeMounted(t, d.http) {
		t.Logf("config.yaml mounts no HTTP bridge on %s: the test publishes over WAMP instead of POST /publish", d.http)
		publish = "wamp"
	}
	artifacts := filepath.Join(root, ArtifactsDir)
	if err := os.MkdirAll(artifacts, 0o755); err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(artifacts, "demo.png")
	_ = os.Remove(shot)
	runNode(t, node, dir, "demo.test.mjs",
		"SWITCHBOARD_HTTP="+d.http,
		"SWITCHBOARD_CHROMIUM="+chromium,
		"SWITCHBOARD_SCREENSHOT="+shot,
		"SWITCHBOARD_PUBLISH="+publish)
	b, err := os.ReadFile(shot)
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if !bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) {
		t.Fatalf("screenshot %s is no PNG", shot)
	}
	t.Logf("screenshot: %s (%d bytes)", shot, len(b))
}
