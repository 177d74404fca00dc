package interop_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A private network of Linux network namespaces for tests that cut links
// between router processes (partition_test.go):
//
//	          hub namespace: bridge br0
//	         /          |           \
//	   veth h1      veth h2       veth h3
//	      |            |             |
//	  eth0 10.213.0.1  eth0 10.213.0.2  eth0 10.213.0.3
//	  namespace n1     namespace n2     namespace n3
//
// Nothing is added to the test's own namespace: the addresses exist only
// inside the namespaces, and the namespaces only while the test runs
// (their names carry the test's pid, so parallel runs do not clash). A
// link is cut by dropping, in the sending namespace, the packets to the
// other side's addresses: an htb root qdisc whose u32 filter sends them
// to a class holding a blackhole qdisc. The drop is silent, as in a real
// partition: established TCP connections stall and new ones time out
// (blackhole routes would fail connect at once with EINVAL; netem and
// tc's drop action are not in every kernel, the blackhole qdisc is).

// netnsBound stops an ip or tc command from hanging a run.
const netnsBound = 30 * time.Second

// netnsPrefix starts the names of the namespaces the tests create; what
// follows is the creating process's pid and "-".
const netnsPrefix = "sbp"

// netTopo is the network of one test.
type netTopo struct {
	ip, tc string
	hub    string   // namespace of the bridge
	nodes  []string // node namespaces; nodes[i] has nodeIP(i)
}

// nodeIP is the address of node namespace i (from 0).
func nodeIP(i int) string { return fmt.Sprintf("10.213.0.%d", i+1) }

// requireNetAdmin returns the ip and tc programs, skipping the test on a
// developer machine (failing it in CI) when they are missing or the test
// does not run as root.
func requireNetAdmin(t *testing.T) (ip, tc string) {
	t.Helper()
	if os.Geteuid() != 0 {
		const why = "not root: network namespaces need CAP_SYS_ADMIN and CAP_NET_ADMIN"
		if os.Getenv("CI") == "" {
			t.Skip(why)
		}
		t.Fatalf("%s; run CI as root", why)
	}
	if _, ok := sysSetns[runtime.GOARCH]; !ok {
		why := "setns(2) number unknown on " + runtime.GOARCH + ": add it to sysSetns"
		if os.Getenv("CI") == "" {
			t.Skip(why)
		}
		t.Fatal(why)
	}
	ip = lookFor(t, "ip", "apt install iproute2", "/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip")
	tc = lookFor(t, "tc", "apt install iproute2", "/usr/sbin/tc", "/sbin/tc", "/usr/bin/tc")
	return ip, tc
}

// newNetTopo builds the network above with n node namespaces, and removes
// it (namespaces, and with them the bridge and veths) in t.Cleanup.
// Register it before starting processes inside it, so that their cleanups,
// which run first, stop them before their namespace goes.
func newNetTopo(t *testing.T, n int) *netTopo {
	t.Helper()
	ip, tc := requireNetAdmin(t)
	sweepStaleNetns(t, ip)
	p := fmt.Sprintf("%s%d-", netnsPrefix, os.Getpid())
	nt := &netTopo{ip: ip, tc: tc, hub: p + "hub"}
	for i := range n {
		nt.nodes = append(nt.nodes, fmt.Sprintf("%sn%d", p, i+1))
	}
	// The first namespace tells whether this machine lets us make them
	// at all (a container without CAP_SYS_ADMIN does not).
	if out, err := nt.cmd(ip, "netns", "add", nt.hub); err != nil {
		why := fmt.Sprintf("cannot create a network namespace: ip netns add: %v\n%s", err, out)
		if os.Getenv("CI") == "" {
			t.Skip(why)
		}
		t.Fatal(why)
	}
	made := []string{nt.hub}
	t.Cleanup(func() {
		for _, ns := range made {
			if out, err := nt.cmd(ip, "netns", "del", ns); err != nil {
				t.Errorf("ip netns del %s: %v\n%s", ns, err, out)
			}
		}
	})
	for _, ns := range nt.nodes {
		nt.run(t, ip, "netns", "add", ns)
		made = append(made, ns)
	}
	nt.run(t, ip, "-n", nt.hub, "link", "add", "br0", "type", "bridge")
	nt.run(t, ip, "-n", nt.hub, "link", "set", "br0", "up")
	for i, ns := range nt.nodes {
		h := fmt.Sprintf("h%d", i+1)
		// Created in the hub with its peer straight in the node's
		// namespace: no link ever appears in the test's own namespace.
		nt.run(t, ip, "-n", nt.hub, "link", "add", h, "type", "veth", "peer", "name", "eth0", "netns", ns)
		nt.run(t, ip, "-n", nt.hub, "link", "set", h, "master", "br0", "up")
		nt.run(t, ip, "-n", ns, "addr", "add", nodeIP(i)+"/24", "dev", "eth0")
		nt.run(t, ip, "-n", ns, "link", "set", "eth0", "up")
		nt.run(t, ip, "-n", ns, "link", "set", "lo", "up")
	}
	return nt
}

var staleNetns = regexp.MustCompile(`^` + netnsPrefix + `([0-9]+)-(hub|n[0-9]+)$`)

// sweepStaleNetns deletes the namespaces of earlier runs whose process is
// gone: a run killed by go test's -timeout panics without its cleanups.
// (Their routers died with it: startPartNode sets Pdeathsig.)
func sweepStaleNetns(t *testing.T, ip string) {
	t.Helper()
	ents, err := os.ReadDir("/run/netns")
	if err != nil {
		return
	}
	for _, e := range ents {
		m := staleNetns.FindStringSubmatch(e.Name())
		if m == nil {
			continue
		}
		pid, _ := strconv.Atoi(m[1])
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err == nil {
			continue // alive (or its pid reused): leave it
		}
		if out, err := exec.Command(ip, "netns", "del", e.Name()).CombinedOutput(); err != nil {
			t.Logf("stale namespace %s of a dead run: ip netns del: %v\n%s", e.Name(), err, out)
		} else {
			t.Logf("deleted stale namespace %s of a dead run", e.Name())
		}
	}
}

// cmd runs a command with the hang guard and returns its output.
func (nt *netTopo) cmd(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), netnsBound)
	defer cancel()
	out, err := exec.CommandContext(ctx, args[0], args[1:]...).CombinedOutput()
	return string(out), err
}

// run is cmd, failing the test on error.
func (nt *netTopo) run(t *testing.T, args ...string) {
	t.Helper()
	if out, err := nt.cmd(args...); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// isolate cuts node i from every other node, both ways, and returns the
// heal, which may be called more than once.
func (nt *netTopo) isolate(t *testing.T, i int) (heal func()) {
	t.Helper()
	drop := map[int][]string{} // namespace index -> destinations to drop
	for j := range nt.nodes {
		if j != i {
			drop[i] = append(drop[i], nodeIP(j))
			drop[j] = append(drop[j], nodeIP(i))
		}
	}
	cut := map[int]bool{}
	heal = func() {
		for j := range cut {
			if out, err := nt.cmd(nt.tc, "-n", nt.nodes[j], "qdisc", "del", "dev", "eth0", "root"); err != nil {
				t.Errorf("heal %s: tc qdisc del: %v\n%s", nt.nodes[j], err, out)
			}
			delete(cut, j)
		}
	}
	for j, dsts := range drop {
		ns := nt.nodes[j]
		cut[j] = true
		nt.run(t, nt.tc, "-n", ns, "qdisc", "add", "dev", "eth0", "root", "handle", "1:", "htb", "default", "1")
		nt.run(t, nt.tc, "-n", ns, "class", "add", "dev", "eth0", "parent", "1:", "classid", "1:1", "htb", "rate", "10gbit", "quantum", "60000")
		nt.run(t, nt.tc, "-n", ns, "class", "add", "dev", "eth0", "parent", "1:", "classid", "1:2", "htb", "rate", "10gbit", "quantum", "60000")
		nt.run(t, nt.tc, "-n", ns, "qdisc", "add", "dev", "eth0", "parent", "1:2", "handle", "2:", "blackhole")
		for _, d := range dsts {
			nt.run(t, nt.tc, "-n", ns, "filter", "add", "dev", "eth0", "parent", "1:", "protocol", "ip", "prio", "1",
				"u32", "match", "ip", "dst", d+"/32", "flowid", "1:2")
		}
	}
	return heal
}

// inNetns runs fn on an OS thread moved into the named namespace; the
// sockets fn opens belong to that namespace for their whole life. The
// thread goes back to its own namespace afterwards, or, if it cannot, is
// never unlocked, so that the runtime ends it with the goroutine.
func inNetns(ns string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		self, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer self.Close()
		target, err := os.Open("/run/netns/" + ns)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer target.Close()
		if err := setns(target); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("setns %s: %w", ns, err)
			return
		}
		ferr := fn()
		if setns(self) == nil {
			runtime.UnlockOSThread()
		}
		errc <- ferr
	}()
	return <-errc
}

// sysSetns is setns(2)'s number per GOARCH: the syscall package predates
// it, and golang.org/x/sys/unix (which has unix.Setns) is only an indirect
// dependency of the module.
var sysSetns = map[string]uintptr{
	"amd64": 308, "386": 346, "arm64": 268, "arm": 375,
	"riscv64": 268, "loong64": 268, "ppc64le": 350, "s390x": 339,
}

func setns(f *os.File) error {
	nr, ok := sysSetns[runtime.GOARCH]
	if !ok {
		return fmt.Errorf("setns: syscall number unknown on %s", runtime.GOARCH)
	}
	if _, _, e := syscall.RawSyscall(nr, f.Fd(), syscall.CLONE_NEWNET, 0); e != 0 {
		return e
	}
	return nil
}

// dialIn opens a TCP connection from inside namespace ns. The connect
// itself runs in the namespace's thread, bounded by ctx.
func dialIn(ctx context.Context, ns, addr string) (net.Conn, error) {
	var c net.Conn
	err := inNetns(ns, func() error {
		var d net.Dialer
		var err error
		c, err = d.DialContext(ctx, "tcp4", addr)
		return err
	})
	return c, err
}

// httpIn returns an HTTP client whose connections start in namespace ns.
func httpIn(ns string) *http.Client {
	return &http.Client{
		Timeout: 5 * time.Second,
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
				return dialIn(ctx, ns, addr)
			},
			DisableKeepAlives: true,
		},
	}
}
