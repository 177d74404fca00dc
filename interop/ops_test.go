package interop_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log"
	"net"
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

// The switchboard binary's life cycle: SIGTERM says GOODBYE
// wamp.close.system_shutdown to every session and exits 0, a second signal
// exits at once, SIGHUP reloads the config file, and `switchboard status`
// reads a running node.

// node is a switchboard process started by a test.
type node struct {
	proc
	out  *testutil.Buffer
	ws   string
	http string
	rs   string
	bin  string
	file string
}

const opsBound = 20 * time.Second // stops a hang; no check depends on it

func writeOpsConfig(t *testing.T, file, wsAddr, rsAddr, realms string) {
	t.Helper()
	cfg := fmt.Sprintf(`log:
  level: debug
transports:
  - type: websocket
    listen: %s
  - type: rawsocket
    listen: %s
realms:
%s`, wsAddr, rsAddr, realms)
	if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
}

const aliceRealm = `  - name: realm1
    auth:
      - method: ticket
        principals:
          - {authid: alice, role: user, ticket: alice-ticket}
`

// startNode builds and starts switchboard on a config of realms, and waits
// until it is ready. Cleanup kills it if a test left it running.
func startNode(t *testing.T, realms string) *node {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the router binary")
	}
	tmp := t.TempDir()
	n := &node{out: new(testutil.Buffer), file: filepath.Join(tmp, "switchboard.yaml")}
	wsAddr, rsAddr := freeAddr(t), freeAddr(t)
	writeOpsConfig(t, n.file, wsAddr, rsAddr, realms)
	n.bin = buildSwitchboard(t, moduleRoot(t), tmp)
	n.ws, n.http, n.rs = "ws://"+wsAddr+"/ws", "http://"+wsAddr, "tcp://"+rsAddr
	cmd := exec.Command(n.bin, "-c", n.file)
	cmd.Stdout, cmd.Stderr = n.out, n.out
	n.start(t, "switchboard", cmd)
	t.Cleanup(func() {
		if !n.hasExited() {
			n.stop(syscall.SIGKILL)
		}
		if t.Failed() {
			t.Logf("router output:\n%s", n.out.String())
		}
	})
	n.waitFor(t, "ready", func() bool {
		resp, err := http.Get(n.http + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return n
}

// waitFor polls cond until it holds, failing if the router exits first.
func (n *node) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	var exited bool
	held := testutil.Poll(opsBound, func() bool {
		if cond() {
			return true
		}
		select {
		case <-n.exited:
			exited = true
		default:
		}
		return exited
	})
	switch {
	case exited:
		t.Fatalf("router exited (%v) while waiting for %s", n.err, what)
	case !held:
		t.Fatalf("no %s within %v", what, opsBound)
	}
}

// waitLog waits until the router has logged text n times.
func (n *node) waitLog(t *testing.T, text string, count int) {
	t.Helper()
	n.waitFor(t, fmt.Sprintf("log %q ×%d", text, count), func() bool { return strings.Count(n.out.String(), text) >= count })
}

func (n *node) signal(t *testing.T, sig os.Signal) {
	t.Helper()
	if err := n.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
}

// wait returns the exit code once the router exited.
func (n *node) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-n.exited:
	case <-time.After(opsBound):
		t.Fatalf("router still running %v after the signal", opsBound)
	}
	if n.err == nil {
		return 0
	}
	if ee, ok := n.err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	t.Fatalf("wait: %v", n.err)
	return -1
}

var quietLog = log.New(io.Discard, "", 0)

func join(t *testing.T, url, realm string, opts ...func(*client.Config)) (*client.Client, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), opsBound)
	defer cancel()
	cfg := client.Config{Realm: realm, Logger: quietLog, ResponseTimeout: opsBound}
	for _, o := range opts {
		o(&cfg)
	}
	return client.ConnectNet(ctx, url, cfg)
}

func withTicket(authid, tk string) func(*client.Config) {
	return func(c *client.Config) {
		c.HelloDetails = nexuswamp.Dict{"authid": authid}
		c.AuthHandlers = map[string]client.AuthFunc{
			"ticket": func(*nexuswamp.Challenge) (string, nexuswamp.Dict) { return tk, nexuswamp.Dict{} },
		}
	}
}

// rawPeer is a RawSocket JSON client that joins and then answers nothing,
// as a stuck client would.
type rawPeer struct{ c net.Conn }

func rawJoin(t *testing.T, url string) *rawPeer {
	t.Helper()
	c, err := net.DialTimeout("tcp", strings.TrimPrefix(url, "tcp://"), opsBound)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(opsBound))
	if _, err := c.Write([]byte{0x7f, 0xf1, 0, 0}); err != nil { // 16 MiB, JSON
		t.Fatal(err)
	}
	var hs [4]byte
	if _, err := io.ReadFull(c, hs[:]); err != nil || hs[0] != 0x7f || hs[1]&0x0f != 1 {
		t.Fatalf("rawsocket handshake: % x, %v", hs, err)
	}
	p := &rawPeer{c}
	p.send(t, `[1,"realm1",{"roles":{"subscriber":{}}}]`)
	if m := p.recv(t); !strings.HasPrefix(m, "[2,") {
		t.Fatalf("got %s, want WELCOME", m)
	}
	return p
}

func (p *rawPeer) send(t *testing.T, msg string) {
	t.Helper()
	var h [4]byte
	binary.BigEndian.PutUint32(h[:], uint32(len(msg)))
	h[0] = 0 // a regular message
	if _, err := p.c.Write(append(h[:], msg...)); err != nil {
		t.Fatal(err)
	}
}

func (p *rawPeer) recv(t *testing.T) string {
	t.Helper()
	for {
		var h [4]byte
		if _, err := io.ReadFull(p.c, h[:]); err != nil {
			t.Fatalf("read: %v", err)
		}
		n := int(h[1])<<16 | int(h[2])<<8 | int(h[3])
		b := make([]byte, n)
		if _, err := io.ReadFull(p.c, b); err != nil {
			t.Fatalf("read: %v", err)
		}
		if h[0]&0x07 == 0 { // skip pings
			return string(b)
		}
	}
}

// TestBinaryShutdown: on SIGTERM a nexus client and a raw client both get
// GOODBYE wamp.close.system_shutdown, the node takes no new session, and
// it exits 0 once they have gone.
func TestBinaryShutdown(t *testing.T) {
	n := startNode(t, "  - name: realm1\n")
	c, err := join(t, n.ws, "realm1")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Subscribe("com.example.t", func(*nexuswamp.Event) {}, nil); err != nil {
		t.Fatal(err)
	}
	raw := rawJoin(t, n.rs)

	n.signal(t, syscall.SIGTERM)
	select {
	case <-c.Done():
	case <-time.After(opsBound):
		t.Fatal("nexus session not ended")
	}
	if g := c.RouterGoodbye(); g == nil || g.Reason != "wamp.close.system_shutdown" {
		t.Errorf("nexus got GOODBYE %+v, want wamp.close.system_shutdown", g)
	}
	if m := raw.recv(t); !strings.HasPrefix(m, "[6,") || !strings.Contains(m, `"wamp.close.system_shutdown"`) {
		t.Errorf("raw client got %s, want GOODBYE wamp.close.system_shutdown", m)
	}
	if _, err := join(t, n.ws, "realm1"); err == nil {
		t.Error("joined during shutdown")
	}
	_ = c.Close()
	raw.send(t, `[6,{},"wamp.close.goodbye_and_out"]`)
	if code := n.wait(t); code != 0 {
		t.Errorf("exit code %d, want 0", code)
	}
	out := n.out.String()
	for _, want := range []string{`msg="shutting down" signal=terminated`, "reason=system_shutdown", `msg=stopped`} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q", want)
		}
	}
}

// TestBinarySecondSignal: while the drain waits for a peer that does not
// answer GOODBYE, a second signal ends the process at once.
func TestBinarySecondSignal(t *testing.T) {
	n := startNode(t, "  - name: realm1\n")
	raw := rawJoin(t, n.rs)
	n.signal(t, syscall.SIGTERM)
	if m := raw.recv(t); !strings.HasPrefix(m, "[6,") {
		t.Fatalf("raw client got %s, want GOODBYE", m)
	}
	// The peer keeps quiet, so the drain lasts the router's GOODBYE
	// timeout (5s); the second signal comes well inside it.
	n.signal(t, syscall.SIGINT)
	if code := n.wait(t); code != 1 {
		t.Errorf("exit code %d, want 1", code)
	}
	if out := n.out.String(); !strings.Contains(out, "second signal; exiting at once") {
		t.Errorf("log lacks the second signal:\n%s", out)
	}
}

// TestBinaryReload: SIGHUP with a broken file is refused with its
// file:line and the running config stays; SIGHUP with a good one lets a
// new principal in, and the sessions of before stay connected throughout.
func TestBinaryReload(t *testing.T) {
	n := startNode(t, aliceRealm)
	alice, err := join(t, n.ws, "realm1", withTicket("alice", "alice-ticket"))
	if err != nil {
		t.Fatal(err)
	}
	defer alice.Close()
	if err := alice.Subscribe("com.example.t", func(*nexuswamp.Event) {}, nil); err != nil {
		t.Fatal(err)
	}
	wsAddr, rsAddr := strings.TrimPrefix(strings.TrimSuffix(n.ws, "/ws"), "ws://"), strings.TrimPrefix(n.rs, "tcp://")

	// A typo: refused, named by file and line.
	writeOpsConfig(t, n.file, wsAddr, rsAddr, aliceRealm+"    rolez: {}\n")
	n.signal(t, syscall.SIGHUP)
	n.waitLog(t, "reload refused", 1)
	if want := n.file + `:14:5: realms[0]: unknown key \"rolez\"`; !strings.Contains(n.out.String(), want) {
		t.Errorf("log lacks %s:\n%s", want, n.out.String())
	}
	if c, err := join(t, n.ws, "realm1", withTicket("alice", "alice-ticket")); err != nil {
		t.Errorf("alice cannot join after a refused reload: %v", err)
	} else {
		c.Close()
	}
	if c, err := join(t, n.ws, "realm1", withTicket("bob", "bob-ticket")); err == nil {
		c.Close()
		t.Fatal("bob joined before the reload")
	}

	writeOpsConfig(t, n.file, wsAddr, rsAddr, aliceRealm+"          - {authid: bob, role: user, ticket: bob-ticket}\n")
	n.signal(t, syscall.SIGHUP)
	n.waitLog(t, `msg=reloaded`, 1)
	bob, err := join(t, n.ws, "realm1", withTicket("bob", "bob-ticket"))
	if err != nil {
		t.Fatalf("bob cannot join after the reload: %v", err)
	}
	bob.Close()
	select {
	case <-alice.Done():
		t.Fatal("alice's session ended")
	default:
	}
	if err := alice.Publish("com.example.t", nexuswamp.Dict{"acknowledge": true}, nil, nil); err != nil {
		t.Errorf("alice after the reload: %v", err)
	}
	alice.Close()
	n.signal(t, syscall.SIGTERM)
	if code := n.wait(t); code != 0 {
		t.Errorf("exit code %d, want 0", code)
	}
}

// TestStatusCommand runs `switchboard status` against a running node, by
// its config file and by URL.
func TestStatusCommand(t *testing.T) {
	n := startNode(t, "  - name: realm1\n  - name: realm2\n")
	c, err := join(t, n.ws, "realm1")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Subscribe("com.example.t", func(*nexuswamp.Event) {}, nil); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"status", "-c", n.file}, {"status", "-url", n.http + "/status"}, {"status", "-url", n.http}} {
		out, err := exec.Command(n.bin, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("%q: %v\n%s", args, err, out)
		}
		lines := strings.Split(string(out), "\n")
		if !strings.HasPrefix(lines[0], "ready, up ") || !strings.Contains(string(out), "listener  websocket "+n.ws) {
			t.Errorf("%q:\n%s", args, out)
		}
		if !strings.Contains(string(out), fmt.Sprintf("%-30s %9d %13d %13d %8d", "realm1", 1, 1, 0, 0)) ||
			!strings.Contains(string(out), fmt.Sprintf("%-30s %9d %13d %13d %8d", "realm2", 0, 0, 0, 0)) {
			t.Errorf("%q: realm lines wrong:\n%s", args, out)
		}
	}
	out, err := exec.Command(n.bin, "status", "-json", "-url", n.http+"/status").Output()
	if err != nil || !strings.Contains(string(out), `"subscriptions": 1`) {
		t.Errorf("status -json: %v\n%s", err, out)
	}
	out, err = exec.Command(n.bin, "status", "-url", n.http+"/nope").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "404") {
		t.Errorf("status of a bad URL: %v\n%s", err, out)
	}
}
