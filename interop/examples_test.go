package interop_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
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

// TestDjangoExample runs examples/django against the router binary with
// the example's config (signed requests only): its view publishes through
// the bridge and a nexus subscriber gets the event; its other view calls a
// procedure that a nexus callee registered.
func TestDjangoExample(t *testing.T) {
	if testing.Short() {
		t.Skip("interop test: builds the router and runs Django")
	}
	python := lookDjango(t)
	root := moduleRoot(t)
	dir := filepath.Join(root, "examples", "django")
	const secret = "django-test-secret"
	t.Setenv("DJANGO_BRIDGE_SECRET", secret)
	t.Setenv("DJANGO_JWT_SECRET", "django-test-jwt-secret-of-32-bytes-or-more") // the users' tokens (TestDjangoJWT)

	tmp := t.TempDir()
	wsAddr, rsAddr := freeAddr(t), freeAddr(t)
	cfg := writeExampleConfig(t, filepath.Join(dir, "config.yaml"), tmp, wsAddr, rsAddr)
	r := runRouter(t, tmp, []string{buildSwitchboard(t, root, tmp), "-c", cfg}, wsAddr, rsAddr, false)

	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	c, err := client.ConnectNet(ctx, r.wsURL, client.Config{Realm: "realm1"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	orders := make(chan *nexuswamp.Event, 16)
	if err := c.Subscribe("com.example.orders.created", func(e *nexuswamp.Event) { orders <- e }, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Register("com.example.add2", func(_ context.Context, inv *nexuswamp.Invocation) client.InvokeResult {
		a, _ := nexuswamp.AsInt64(inv.Arguments[0])
		b, _ := nexuswamp.AsInt64(inv.Arguments[1])
		return client.InvokeResult{Args: nexuswamp.List{a + b}}
	}, nil); err != nil {
		t.Fatal(err)
	}

	base := startDjango(t, python, dir, "http://"+wsAddr, secret)

	resp, err := http.Post(base+"/orders", "application/json", strings.NewReader(`{"item": "book", "qty": 2}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST /orders: %s %s", resp.Status, body)
	}
	select {
	case e := <-orders:
		order, _ := nexuswamp.AsDict(e.Arguments[0])
		if order["item"] != "book" || fmt.Sprint(order["qty"]) != "2" {
			t.Fatalf("event %v", e.Arguments)
		}
		// The key's role discloses the publisher: the signed request
		// acted as the key, not as an anonymous bridge.
		if e.Details["publisher_authid"] != "django" || e.Details["publisher_authrole"] != "backend" {
			t.Fatalf("event details %v", e.Details)
		}
	case <-ctx.Done():
		t.Fatal("no order event")
	}

	resp, err = http.Get(base + "/add?a=2&b=3")
	if err != nil {
		t.Fatal(err)
	}
	var sum struct{ Sum int }
	err = json.NewDecoder(resp.Body).Decode(&sum)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || sum.Sum != 5 {
		t.Fatalf("GET /add: %s %+v %v", resp.Status, sum, err)
	}

	// Unsigned, the same publication is refused: the example's bridge
	// takes signed requests only.
	resp, err = http.Post("http://"+wsAddr+"/publish", "application/json", strings.NewReader(`{"topic": "com.example.orders.created"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("unsigned publish: %s", resp.Status)
	}
}

// startDjango serves examples/django (serve.py, Django's WSGI application
// on the standard library's server) on a free port until the test ends.
func startDjango(t *testing.T, python, dir, bridgeURL, secret string) string {
	t.Helper()
	cmd := exec.Command(python, filepath.Join(dir, "serve.py"), "0")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PYTHONUNBUFFERED=1", "PYTHONDONTWRITEBYTECODE=1",
		"SWITCHBOARD_URL="+bridgeURL, "SWITCHBOARD_KEY=django", "SWITCHBOARD_SECRET="+secret)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := new(testutil.Buffer)
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start Django: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("Django output:\n%s", stderr.String())
		}
	})
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if l, ok := strings.CutPrefix(sc.Text(), "listening on "); ok {
				lines <- strings.TrimSuffix(l, "/")
			}
		}
		close(lines)
	}()
	select {
	case base, ok := <-lines:
		if !ok {
			t.Fatalf("Django exited before it listened:\n%s", stderr.String())
		}
		return base
	case <-time.After(backendTimeout):
		t.Fatalf("Django not listening after %v:\n%s", backendTimeout, stderr.String())
	}
	return ""
}
