// Package interop_test runs third-party WAMP clients against the switchboard
// binary, the way a user runs it: built from ./cmd/switchboard, started with
// a config file, reached over loopback.
package interop_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/switchboard/switchboard/internal/testutil"
)

// TestMain fails the package if a goroutine outlives the tests: the router's
// waiter ends when the process is reaped in t.Cleanup.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// Bounds that only stop a broken run from hanging; no check depends on them.
const (
	startTimeout    = 30 * time.Second // router accepting connections
	npmTimeout      = 5 * time.Minute  // npm ci
	nodeTimeout     = 5 * time.Minute  // one node --test run
	shutdownTimeout = 30 * time.Second // router exit after SIGTERM
)

// nexusdEnv names an environment variable that, when set to the path of a
// nexusd binary (github.com/gammazero/nexus/v3/nexusd), makes the tests run
// against that reference router instead of switchboard. It exists to check
// the tests themselves; CI does not set it.
const nexusdEnv = "SWITCHBOARD_INTEROP_NEXUSD"

// serializers are the WebSocket serializers AutobahnJS and switchboard share.
var serializers = []string{"json", "msgpack", "cbor"}

// TestAutobahnJS runs the AutobahnJS (Node.js) tests in interop/autobahn
// against a switchboard router: the basic-profile suite over WebSocket once
// per serializer, the cross-serializer suite, the basic-profile suite over
// RawSocket, the advanced and meta suites, and the authentication suite
// against routers on examples/auth/config.yaml.
func TestAutobahnJS(t *testing.T) {
	if testing.Short() {
		t.Skip("interop test: builds the router and runs Node.js")
	}
	node := lookTool(t, "node")
	root := moduleRoot(t)
	dir := filepath.Join(root, "interop", "autobahn")
	npmCI(t, dir)

	r := startRouter(t, root)
	for _, s := range serializers {
		t.Run("websocket-"+s, func(t *testing.T) {
			runNode(t, node, dir, "basic.test.mjs",
				"SWITCHBOARD_URL="+r.wsURL,
				"SWITCHBOARD_SERIALIZER="+s)
		})
	}
	t.Run("websocket-cross", func(t *testing.T) {
		runNode(t, node, dir, "cross.test.mjs",
			"SWITCHBOARD_URL="+r.wsURL,
			"SWITCHBOARD_SERIALIZERS="+strings.Join(serializers, ","))
	})
	// AutobahnJS for Node.js speaks only JSON over RawSocket.
	t.Run("rawsocket-json", func(t *testing.T) {
		runNode(t, node, dir, "basic.test.mjs",
			"SWITCHBOARD_URL="+r.rsURL,
			"SWITCHBOARD_SERIALIZER=json")
	})
	t.Run("websocket-advanced-pubsub", func(t *testing.T) {
		runNode(t, node, dir, "advanced_pubsub.test.mjs",
			"SWITCHBOARD_URL="+r.wsURL,
			"SWITCHBOARD_SERIALIZERS="+strings.Join(serializers, ","))
	})
	t.Run("websocket-advanced-rpc", func(t *testing.T) {
		runNode(t, node, dir, "advanced_rpc.test.mjs",
			"SWITCHBOARD_URL="+r.wsURL,
			"SWITCHBOARD_SERIALIZER=json")
	})
	t.Run("websocket-meta", func(t *testing.T) {
		runNode(t, node, dir, "meta.test.mjs",
			"SWITCHBOARD_URL="+r.wsURL,
			"SWITCHBOARD_SERIALIZER=json")
	})
	// examples/auth/config.yaml, as shipped but on free ports. Each run
	// gets a router of its own: the router slows down an address after a
	// few failed logins, and each run fails a few on purpose.
	authDir := filepath.Join(root, "examples", "auth")
	startExample := func(t *testing.T) *router {
		if r.bin == "" {
			t.Skipf("%s set: the example is a switchboard config", nexusdEnv)
		}
		wsAddr, rsAddr := freeAddr(t), freeAddr(t)
		tmp := t.TempDir()
		cfg := writeExampleConfig(t, filepath.Join(authDir, "config.yaml"), tmp, wsAddr, rsAddr)
		return runRouter(t, tmp, []string{r.bin, "-c", cfg}, wsAddr, rsAddr, false)
	}
	for _, s := range serializers {
		t.Run("auth-example-websocket-"+s, func(t *testing.T) {
			runNode(t, node, dir, "auth.test.mjs",
				"SWITCHBOARD_URL="+startExample(t).wsURL,
				"SWITCHBOARD_SERIALIZER="+s,
				"SWITCHBOARD_AUTH_DIR="+authDir)
		})
	}
	t.Run("auth-example-rawsocket-json", func(t *testing.T) {
		runNode(t, node, dir, "auth.test.mjs",
			"SWITCHBOARD_URL="+startExample(t).rsURL,
			"SWITCHBOARD_SERIALIZER=json",
			"SWITCHBOARD_AUTH_DIR="+authDir)
	})
}

// writeExampleConfig copies an example config into dir with its listeners
// moved from the default 127.0.0.1:8080 and 127.0.0.1:8081 to wsAddr and
// rsAddr, so that the tests never collide with a router running there.
func writeExampleConfig(t *testing.T, example, dir, wsAddr, rsAddr string) string {
	t.Helper()
	b, err := os.ReadFile(example)
	if err != nil {
		t.Fatal(err)
	}
	src := string(b)
	for from, to := range map[string]string{"127.0.0.1:8080": wsAddr, "127.0.0.1:8081": rsAddr} {
		if n := strings.Count(src, "listen: "+from); n != 1 {
			t.Fatalf("%s: %d listeners on %s, want 1", example, n, from)
		}
		src = strings.ReplaceAll(src, "listen: "+from, "listen: "+to)
	}
	path := filepath.Join(dir, filepath.Base(example))
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// missing skips the test on a developer machine but fails it in CI (CI
// set) for a tool it cannot find: there a missing tool means the CI image
// is broken, and a skip would hide it.
func missing(t *testing.T, what, install string) {
	t.Helper()
	if os.Getenv("CI") == "" {
		t.Skipf("%s not found; %s", what, install)
	}
	t.Fatalf("%s not found in CI; .ci/run should have installed it (%s)", what, install)
}

// lookTool finds a Node.js program (node, npm) on PATH, or calls missing.
func lookTool(t *testing.T, name string) string {
	t.Helper()
	return lookFor(t, name, "install Node.js to run the AutobahnJS interop tests")
}

// lookFor finds a program: the first of paths that exists, else name on
// PATH, else it calls missing.
func lookFor(t *testing.T, name, install string, paths ...string) string {
	t.Helper()
	for _, p := range paths {
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	missing(t, name, install)
	return ""
}

// lookPythonWith finds a Python 3 that runs "import "+imports:
// $SWITCHBOARD_PYTHON, Debian's /usr/bin/python3, or python3 on PATH; or
// it calls missing.
func lookPythonWith(t *testing.T, imports, install string) string {
	t.Helper()
	cands := []string{os.Getenv("SWITCHBOARD_PYTHON"), "/usr/bin/python3"}
	if p, err := exec.LookPath("python3"); err == nil {
		cands = append(cands, p)
	}
	for _, p := range cands {
		if p != "" && exec.Command(p, "-c", "import "+imports).Run() == nil {
			return p
		}
	}
	missing(t, "python3 that imports "+imports, install+" or set SWITCHBOARD_PYTHON")
	return ""
}

// lookPython finds a Python 3 that imports autobahn.
func lookPython(t *testing.T) string {
	t.Helper()
	return lookPythonWith(t, "autobahn", "install Autobahn|Python (apt install python3-autobahn)")
}

// lookDjango finds a Python 3 that imports Django and PyJWT (the example
// signs its users' tokens with it).
func lookDjango(t *testing.T) string {
	t.Helper()
	return lookPythonWith(t, "django, jwt", "install Django and PyJWT (apt install python3-django python3-jwt)")
}

// moduleRoot returns the directory holding switchboard's go.mod.
func moduleRoot(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		t.Fatalf("go env GOMOD = %q: not inside the switchboard module", gomod)
	}
	return filepath.Dir(gomod)
}

// npmCI installs the locked Node.js dependencies unless node_modules already
// holds an install (npm writes node_modules/.package-lock.json).
func npmCI(t *testing.T, dir string) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(dir, "node_modules", ".package-lock.json")); err == nil {
		return
	}
	npm := lookTool(t, "npm")
	ctx, cancel := context.WithTimeout(t.Context(), npmTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("npm ci in %s: %v\n%s", dir, err, out)
	}
	t.Logf("npm ci in %s:\n%s", dir, out)
}

// router is a running router process.
type router struct {
	wsURL string // WebSocket endpoint, ws://host:port/ws
	rsURL string // RawSocket endpoint, tcp://host:port
	bin   string // the switchboard binary; "" for nexusd
}

// startRouter builds (from the module at root) and starts the router on free loopback ports, waits
// until its WebSocket port accepts connections, and registers a cleanup that
// stops it with SIGTERM. The router's output is logged if the test fails.
func startRouter(t *testing.T, root string) *router {
	t.Helper()
	tmp := t.TempDir()
	wsAddr, rsAddr := freeAddr(t), freeAddr(t)

	var args []string
	var bin string
	nexusd := os.Getenv(nexusdEnv)
	if nexusd != "" {
		t.Logf("%s set: testing nexusd %s, not switchboard", nexusdEnv, nexusd)
		args = []string{nexusd, "-c", writeNexusConfig(t, tmp, wsAddr, rsAddr)}
	} else {
		bin = buildSwitchboard(t, root, tmp)
		args = []string{bin, "-c", writeConfig(t, tmp, wsAddr, rsAddr)}
	}
	r := runRouter(t, tmp, args, wsAddr, rsAddr, nexusd != "")
	r.bin = bin
	return r
}

// runRouter starts the router command args in dir, waits until its
// WebSocket port accepts connections, and registers a cleanup that stops it
// with SIGTERM. The router's output is logged if the test fails.
func runRouter(t *testing.T, tmp string, args []string, wsAddr, rsAddr string, nexusd bool) *router {
	t.Helper()
	out := new(testutil.Buffer)
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir = tmp
	cmd.Stdout = out
	cmd.Stderr = out
	var p proc
	p.start(t, args[0], cmd)
	t.Cleanup(func() {
		switch {
		case p.hasExited():
			t.Errorf("router exited before the tests ended: %v", p.err)
		case !p.stop(syscall.SIGTERM):
			t.Errorf("router still running %v after SIGTERM; killed", shutdownTimeout)
		case p.err != nil && !nexusd: // nexusd stops only on SIGINT, so SIGTERM kills it.
			t.Errorf("router did not exit cleanly on SIGTERM: %v", p.err)
		}
		if t.Failed() {
			t.Logf("router command: %s\nrouter output:\n%s", strings.Join(args, " "), out.String())
		}
	})

	if err := waitListening(wsAddr, p.exited, startTimeout); errors.Is(err, errExited) {
		t.Fatalf("router exited during startup: %v", p.err)
	} else if err != nil {
		t.Fatalf("router not accepting connections on %s after %v: %v", wsAddr, startTimeout, err)
	}
	return &router{wsURL: "ws://" + wsAddr + "/ws", rsURL: "tcp://" + rsAddr}
}

// buildSwitchboard builds ./cmd/switchboard of the module at root into dir
// and returns the binary.
func buildSwitchboard(t *testing.T, root, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "switchboard")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/switchboard")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/switchboard: %v\n%s", err, out)
	}
	return bin
}

// writeConfig writes a switchboard config serving realm1 on the given
// WebSocket and RawSocket addresses.
func writeConfig(t *testing.T, dir, wsAddr, rsAddr string) string {
	t.Helper()
	cfg := fmt.Sprintf(`transports:
  - type: websocket
    listen: %s
    path: /ws
  - type: rawsocket
    listen: %s
realms:
  - name: realm1
`, wsAddr, rsAddr)
	path := filepath.Join(dir, "switchboard.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// writeNexusConfig writes the nexusd equivalent of writeConfig. nexusd serves
// WebSocket on every HTTP path, so the same /ws URL works.
func writeNexusConfig(t *testing.T, dir, wsAddr, rsAddr string) string {
	t.Helper()
	cfg := map[string]any{
		"websocket": map[string]any{"address": wsAddr},
		"rawsocket": map[string]any{"tcp_address": rsAddr},
		"router": map[string]any{
			"realms": []map[string]any{{"uri": "realm1", "anonymous_auth": true, "allow_disclose": true}},
		},
	}
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "nexus.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// runNode runs one node:test file in dir with env added, and fails t with
// node's output if any of its tests fail.
func runNode(t *testing.T, node, dir, file string, env ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), nodeTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "--test", "--test-reporter=spec", file)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), append([]string{"NO_COLOR=1"}, env...)...)
	cmd.WaitDelay = 10 * time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			t.Fatalf("node --test %s (%s) still running after %v\n%s", file, strings.Join(env, " "), nodeTimeout, out)
		}
		t.Fatalf("node --test %s (%s): %v\n%s", file, strings.Join(env, " "), err, out)
	}
	t.Logf("node --test %s (%s):\n%s", file, strings.Join(env, " "), out)
}
