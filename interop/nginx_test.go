package interop_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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
	nexustransport "github.com/gammazero/nexus/v3/transport"
	nexuswamp "github.com/gammazero/nexus/v3/wamp"

	"github.com/switchboard/switchboard/internal/testutil"
)

// fenced returns the first fenced code block of the given language in a
// Markdown document.
func fenced(t *testing.T, doc, lang string) string {
	t.Helper()
	_, rest, ok := strings.Cut(doc, "```"+lang+"\n")
	if !ok {
		t.Fatalf("no ```%s block", lang)
	}
	block, _, ok := strings.Cut(rest, "```")
	if !ok {
		t.Fatalf("unterminated ```%s block", lang)
	}
	return block
}

// replaceOnce replaces old by new in s, failing unless old occurs exactly
// once: the test must notice when the document it runs changes shape.
func replaceOnce(t *testing.T, s, old, new string) string {
	t.Helper()
	if n := strings.Count(s, old); n != 1 {
		t.Fatalf("%d occurrences of %q, want 1", n, old)
	}
	return strings.Replace(s, old, new, 1)
}

// startNginx runs nginx in the foreground (no daemon, no worker
// processes, everything under prefix) with the given http{} contents, and
// stops it when the test ends.
func startNginx(t *testing.T, nginx, prefix, httpBlock, addr string) {
	t.Helper()
	for _, d := range []string{"logs", "tmp"} {
		if err := os.MkdirAll(filepath.Join(prefix, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	conf := fmt.Sprintf(`daemon off;
master_process off;
pid %[1]s/nginx.pid;
error_log stderr notice;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path %[1]s/tmp/body;
    proxy_temp_path %[1]s/tmp/proxy;
    fastcgi_temp_path %[1]s/tmp/fastcgi;
    uwsgi_temp_path %[1]s/tmp/uwsgi;
    scgi_temp_path %[1]s/tmp/scgi;
%[2]s
}
`, prefix, httpBlock)
	file := filepath.Join(prefix, "nginx.conf")
	if err := os.WriteFile(file, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	out := new(testutil.Buffer)
	cmd := exec.Command(nginx, "-p", prefix+"/", "-c", file, "-e", "stderr")
	cmd.Stdout, cmd.Stderr = out, out
	var p proc
	p.start(t, "nginx", cmd)
	t.Cleanup(func() {
		// SIGQUIT: nginx's graceful stop.
		if !p.stop(syscall.SIGQUIT) {
			t.Errorf("nginx still running %v after SIGQUIT; killed", shutdownTimeout)
		}
		if t.Failed() {
			t.Logf("nginx.conf:\n%s\nnginx output:\n%s", conf, out.String())
		}
	})
	if err := waitListening(addr, p.exited, startTimeout); errors.Is(err, errExited) {
		t.Fatalf("nginx exited during startup: %v\n%s", p.err, out.String())
	} else if err != nil {
		t.Fatalf("nginx not accepting on %s after %v: %v\n%s", addr, startTimeout, err, out.String())
	}
}

// clientIP is the loopback address the test's clients connect from, so
// that the router can tell them from nginx (127.0.0.1).
var clientIP = net.IPv4(127, 0, 0, 3)

func dialFromClient(network, addr string) (net.Conn, error) {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: clientIP}, Timeout: 10 * time.Second}
	return d.Dial(network, addr)
}

// TestNginx runs docs/deploy.md: the router on its YAML block behind
// Debian's nginx on its nginx block (TLS at the proxy), and drives
// AutobahnJS, the demo page, the HTTP bridge and a nexus client through
// it; and checks the client address the router sees, through the proxy
// and around it.
func TestNginx(t *testing.T) {
	if testing.Short() {
		t.Skip("interop test: builds the router and runs nginx and Node.js")
	}
	nginx := lookFor(t, "nginx", "apt install nginx-light", "/usr/sbin/nginx")
	node := lookTool(t, "node")
	root := moduleRoot(t)
	dir := filepath.Join(root, "interop", "autobahn")
	npmCI(t, dir)
	doc, err := os.ReadFile(filepath.Join(root, "docs", "deploy.md"))
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	routerAddr, proxyAddr := freeAddr(t), freeAddr(t)

	// The router, on the document's YAML.
	cfg := fenced(t, string(doc), "yaml")
	cfg = replaceOnce(t, cfg, "listen: 127.0.0.1:8080", "listen: "+routerAddr)
	cfg = replaceOnce(t, cfg, "static: web", "static: "+filepath.Join(root, "web"))
	// The browser's origin is the proxy's address here.
	cfg = replaceOnce(t, cfg, `allowed_origins: ["https://wamp.example.com"]`, `allowed_origins: ["https://127.0.0.1:*"]`)
	cfgFile := filepath.Join(tmp, "switchboard.yaml")
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	bin := buildSwitchboard(t, root, tmp)
	runRouter(t, tmp, []string{bin, "-c", cfgFile}, routerAddr, "", false)

	// nginx, on the document's nginx block.
	// A CA certificate so that it is its own root for nginx's OpenSSL.
	cert := testutil.NewCert(t, testutil.CertSpec{
		CommonName: "switchboard nginx test",
		Hosts:      []string{"127.0.0.1"},
		Usage:      []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		CA:         true,
	})
	certFile, keyFile, pool := cert.WriteCert(t, tmp, "server.crt"), cert.WriteKey(t, tmp, "server.key"), cert.Pool()
	conf := fenced(t, string(doc), "nginx")
	conf = replaceOnce(t, conf, "server 127.0.0.1:8080;", "server "+routerAddr+";")
	conf = replaceOnce(t, conf, "listen 443 ssl;", "listen "+proxyAddr+" ssl;")
	conf = replaceOnce(t, conf, "/etc/ssl/switchboard/fullchain.pem", certFile)
	conf = replaceOnce(t, conf, "/etc/ssl/switchboard/privkey.pem", keyFile)
	startNginx(t, nginx, filepath.Join(tmp, "nginx"), conf, proxyAddr)

	base, wss := "https://"+proxyAddr, "wss://"+proxyAddr+"/ws"
	tlsCfg := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	httpc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		TLSClientConfig: tlsCfg,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			d := net.Dialer{LocalAddr: &net.TCPAddr{IP: clientIP}}
			return d.DialContext(ctx, network, addr)
		},
	}}
	t.Cleanup(httpc.CloseIdleConnections)

	t.Run("demo page", func(t *testing.T) {
		resp, err := httpc.Get(base + "/")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "vendor/autobahn/autobahn.min.js") {
			t.Fatalf("GET / through nginx: %d\n%s", resp.StatusCode, body)
		}
	})

	t.Run("autobahn-wss-json", func(t *testing.T) {
		runNode(t, node, dir, "basic.test.mjs",
			"SWITCHBOARD_URL="+wss,
			"SWITCHBOARD_SERIALIZER=json",
			"NODE_EXTRA_CA_CERTS="+certFile)
	})

	t.Run("demo in chromium", func(t *testing.T) {
		chromium := lookFor(t, "chromium", "apt install chromium", "/usr/bin/chromium")
		python := lookPython(t)
		startBackend(t, python, root, "ws://"+routerAddr+"/ws")
		artifacts := filepath.Join(root, ArtifactsDir)
		if err := os.MkdirAll(artifacts, 0o755); err != nil {
			t.Fatal(err)
		}
		runNode(t, node, dir, "demo.test.mjs",
			"SWITCHBOARD_HTTP="+base,
			"SWITCHBOARD_CHROMIUM="+chromium,
			"SWITCHBOARD_SCREENSHOT="+filepath.Join(artifacts, "demo-nginx.png"),
			"SWITCHBOARD_PUBLISH=bridge",
			"NODE_EXTRA_CA_CERTS="+certFile)
	})

	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	viaProxy := client.Config{Realm: "realm1", TlsCfg: tlsCfg,
		WsCfg: nexustransport.WebsocketConfig{Dial: dialFromClient}}

	t.Run("bridge publish", func(t *testing.T) {
		sub, err := client.ConnectNet(ctx, wss, viaProxy)
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Close()
		events := make(chan nexuswamp.List, 1)
		topic := "com.example.nginx.bridge"
		if err := sub.Subscribe(topic, func(ev *nexuswamp.Event) {
			select {
			case events <- ev.Arguments:
			default:
			}
		}, nil); err != nil {
			t.Fatal(err)
		}
		resp, err := httpc.Post(base+"/publish", "application/json",
			strings.NewReader(`{"topic": "`+topic+`", "args": ["through nginx"]}`))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var ans struct{ ID *uint64 }
		if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &ans) != nil || ans.ID == nil {
			t.Fatalf("POST /publish through nginx: %d %s, want 200 {\"id\": ...}", resp.StatusCode, body)
		}
		select {
		case args := <-events:
			if len(args) != 1 || args[0] != "through nginx" {
				t.Fatalf("event args %v", args)
			}
		case <-ctx.Done():
			t.Fatal("no event from POST /publish")
		}
	})

	t.Run("client address", func(t *testing.T) {
		peer := func(url string, cfg client.Config) string {
			t.Helper()
			c, err := client.ConnectNet(ctx, url, cfg)
			if err != nil {
				t.Fatalf("connect %s: %v", url, err)
			}
			defer c.Close()
			res, err := c.Call(ctx, "wamp.session.get", nil, nexuswamp.List{c.ID()}, nil, nil)
			if err != nil {
				t.Fatalf("wamp.session.get: %v", err)
			}
			details, _ := nexuswamp.AsDict(res.Arguments[0])
			tr, _ := nexuswamp.AsDict(details["transport"])
			s, _ := tr["peer"].(string)
			return s
		}
		// Through nginx (127.0.0.1, trusted): the client's own address.
		if got, want := peer(wss, viaProxy), clientIP.String()+":0"; got != want {
			t.Errorf("through nginx: peer %q, want %q (from X-Forwarded-For)", got, want)
		}
		// Around it, from an address not trusted, a forged header is
		// ignored.
		forged := client.Config{Realm: "realm1", WsCfg: nexustransport.WebsocketConfig{
			Dial: func(network, addr string) (net.Conn, error) {
				nc, err := dialFromClient(network, addr)
				if err != nil {
					return nil, err
				}
				return &forgeConn{Conn: nc, header: "X-Forwarded-For: 203.0.113.66\r\nX-Real-IP: 203.0.113.66\r\n"}, nil
			},
		}}
		got := peer("ws://"+routerAddr+"/ws", forged)
		if host, port, _ := net.SplitHostPort(got); host != clientIP.String() || port == "0" {
			t.Errorf("direct with forged headers: peer %q, want %s:port", got, clientIP)
		}
	})
}

// forgeConn adds header lines to the HTTP request written first on it.
type forgeConn struct {
	net.Conn
	header string
	done   bool
}

func (c *forgeConn) Write(p []byte) (int, error) {
	n := len(p)
	if !c.done {
		c.done = true
		if i := strings.Index(string(p), "\r\n"); i >= 0 {
			p = []byte(string(p[:i+2]) + c.header + string(p[i+2:]))
		}
	}
	if _, err := c.Conn.Write(p); err != nil {
		return 0, err
	}
	return n, nil
}
