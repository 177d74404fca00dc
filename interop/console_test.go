package interop_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gammazero/nexus/v3/client"
	nexuswamp "github.com/gammazero/nexus/v3/wamp"

	"github.com/switchboard/switchboard/auth"
)

// TestConsoleInChromium runs the admin console in headless Chromium
// (interop/autobahn/console.test.mjs) against the built router with
// console: on: a wrong password is refused, the admin logs in, sees the
// session of a client of this test and the event rate of a publisher of
// this test, and kills the session, which the client sees end. The
// screenshot goes to interop/artifacts/console.png.
func TestConsoleInChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("interop test: builds the router and runs Chromium")
	}
	node := lookTool(t, "node")
	chromium := lookFor(t, "chromium", "apt install chromium", "/usr/bin/chromium")
	root := moduleRoot(t)
	dir := filepath.Join(root, "interop", "autobahn")
	npmCI(t, dir)

	tmp := t.TempDir()
	wsAddr, rsAddr := freeAddr(t), freeAddr(t)
	const password = "console test password"
	// An argon2id hash, as the docs recommend, so that the test logs in
	// through the same verification a production config uses.
	cfg := fmt.Sprintf(`transports:
  - type: websocket
    listen: %s
  - type: rawsocket
    listen: %s
realms:
  - name: realm1
console:
  users:
    - {name: admin, password: {argon2id: %q}}
`, wsAddr, rsAddr, auth.HashArgon2id(password))
	file := filepath.Join(tmp, "switchboard.yaml")
	if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	bin := buildSwitchboard(t, root, tmp)
	r := runRouter(t, tmp, []string{bin, "-c", file}, wsAddr, rsAddr, false)

	ctx, cancel := context.WithTimeout(t.Context(), startTimeout)
	defer cancel()
	join := func() *client.Client {
		c, err := client.ConnectNet(ctx, r.wsURL, client.Config{Realm: "realm1", ResponseTimeout: startTimeout})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		return c
	}
	const topic = "com.switchboard.console.tick"
	victim := join()
	if err := victim.Subscribe(topic, func(*nexuswamp.Event) {}, nil); err != nil {
		t.Fatal(err)
	}
	// The publisher runs until the browser test is done, so that the page
	// sees the rate move however long Chromium takes to start.
	pub := join()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-tick.C:
				_ = pub.Publish(topic, nil, nexuswamp.List{i}, nil)
			}
		}
	}()
	defer func() {
		close(stop)
		wg.Wait()
	}()

	artifacts := filepath.Join(root, ArtifactsDir)
	if err := os.MkdirAll(artifacts, 0o755); err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(artifacts, "console.png")
	_ = os.Remove(shot)
	runNode(t, node, dir, "console.test.mjs",
		"SWITCHBOARD_HTTP=http://"+wsAddr,
		"SWITCHBOARD_CHROMIUM="+chromium,
		"SWITCHBOARD_SCREENSHOT="+shot,
		"SWITCHBOARD_CONSOLE_USER=admin",
		"SWITCHBOARD_CONSOLE_PASSWORD="+password,
		"SWITCHBOARD_KILL_SESSION="+strconv.FormatUint(uint64(victim.ID()), 10))

	select {
	case <-victim.Done():
	case <-time.After(startTimeout):
		t.Fatalf("the client's session did not end within %v of the kill", startTimeout)
	}
	b, err := os.ReadFile(shot)
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if !bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) {
		t.Fatalf("screenshot %s is no PNG", shot)
	}
	t.Logf("screenshot: %s (%d bytes)", shot, len(b))
}
