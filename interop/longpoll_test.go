package interop_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gammazero/nexus/v3/client"
	nexuswamp "github.com/gammazero/nexus/v3/wamp"
)

// WAMP over HTTP long-poll (transport/longpoll.go), which a websocket
// listener serves at /lp unless its config turns it off: AutobahnJS in
// Chromium against the router, from the router's own origin, from
// another allowed one and from a refused one
// (interop/autobahn/longpoll.test.mjs on interop/testdata/longpoll), and
// a long-poll client behind nginx.

// lpBound stops a hang; no check depends on it.
const lpBound = 30 * time.Second

// TestLongPollInChromium runs AutobahnJS's long-poll transport in
// headless Chromium: a session over long-poll only (own event, a call to
// a nexus client over WebSocket, a 100-event burst in order, a clean
// close), and a Connection falling back from WebSocket to long-poll in a
// page without WebSocket, both from the router's origin and from another
// one the router allows (the CORS preflight, with credentials); and a page
// from an origin the router does not allow, which gets no session.
func TestLongPollInChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("interop test: builds the router and runs Chromium")
	}
	node := lookTool(t, "node")
	chromium := lookFor(t, "chromium", "apt install chromium", "/usr/bin/chromium")
	root := moduleRoot(t)
	dir := filepath.Join(root, "interop", "autobahn")
	npmCI(t, dir)
	tmp := t.TempDir()
	page := longPollPage(t, root, tmp)

	// The other origin: a server of the test's own, serving the same page.
	other := httptest.NewServer(http.FileServer(http.Dir(page)))
	t.Cleanup(other.Close)

	// The router serves the page itself and allows its own origin and
	// the other one.
	bin := buildSwitchboard(t, root, tmp)
	addr := freeAddr(t)
	cfg := writeLongPollConfig(t, filepath.Join(tmp, "allowed"), addr, fmt.Sprintf(
		"    static: %s\n    allowed_origins: [%q, %q]\n", page, "http://"+addr, other.URL))
	runRouter(t, tmp, []string{bin, "-c", cfg}, addr, "", false)
	base := "http://" + addr
	callee := longPollCallee(t, "ws://"+addr+"/ws")

	run := func(t *testing.T, which, pageURL, router string) {
		runNode(t, node, dir, "longpoll.test.mjs",
			"SWITCHBOARD_LONGPOLL_CASE="+which,
			"SWITCHBOARD_LONGPOLL_PAGE="+pageURL,
			"SWITCHBOARD_LONGPOLL_URL="+router+"/lp",
			"SWITCHBOARD_URL="+strings.Replace(router, "http://", "ws://", 1)+"/ws",
			"SWITCHBOARD_CHROMIUM="+chromium)
	}

	t.Run("same-origin", func(t *testing.T) {
		run(t, "session", base+"/", base)
		waitAlone(t, callee)
	})

	t.Run("cross-origin", func(t *testing.T) {
		// What the browser's preflight gets: the origin echoed, with
		// credentials (AutobahnJS sets withCredentials).
		resp := preflight(t, base+"/lp/open", other.URL)
		if resp.StatusCode != http.StatusNoContent ||
			resp.Header.Get("Access-Control-Allow-Origin") != other.URL ||
			resp.Header.Get("Access-Control-Allow-Credentials") != "true" ||
			!strings.Contains(resp.Header.Get("Access-Control-Allow-Methods"), "POST") ||
			!strings.EqualFold(resp.Header.Get("Access-Control-Allow-Headers"), "content-type") {
			t.Fatalf("preflight from %s: %d %v", other.URL, resp.StatusCode, resp.Header)
		}
		run(t, "session", other.URL+"/", base)
		waitAlone(t, callee)
	})

	t.Run("refused-origin", func(t *testing.T) {
		// A router that allows its own origin only.
		addr := freeAddr(t)
		cfg := writeLongPollConfig(t, filepath.Join(tmp, "refusing"), addr,
			fmt.Sprintf("    allowed_origins: [%q]\n", "http://"+addr))
		runRouter(t, tmp, []string{bin, "-c", cfg}, addr, "", false)
		refusing := "http://" + addr
		if resp := preflight(t, refusing+"/lp/open", other.URL); resp.StatusCode != http.StatusForbidden ||
			resp.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Fatalf("preflight from %s: %d %v, want 403 without CORS headers", other.URL, resp.StatusCode, resp.Header)
		}
		run(t, "refused", other.URL+"/", refusing)
		// The browser gave up; the router has no session but the probe's.
		probe := nexusClient(t, "ws://"+addr+"/ws")
		if ids := sessionList(t, probe); !slices.Equal(ids, []uint64{uint64(probe.ID())}) {
			t.Fatalf("sessions after the refused page: %v, want only the probe's %d", ids, probe.ID())
		}
	})
}

// longPollPage copies interop/testdata/longpoll and AutobahnJS's browser
// build (web/vendor/autobahn) into a directory of dir, which it returns.
func longPollPage(t *testing.T, root, dir string) string {
	t.Helper()
	page := filepath.Join(dir, "page")
	if err := os.MkdirAll(page, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, src := range []string{
		filepath.Join(root, "interop", "testdata", "longpoll", "index.html"),
		filepath.Join(root, "web", "vendor", "autobahn", "autobahn.min.js"),
	} {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(page, filepath.Base(src)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return page
}

// writeLongPollConfig writes, in a new directory dir, a config serving
// realm1 on a websocket listener at addr with the given extra lines of
// that transport.
func writeLongPollConfig(t *testing.T, dir, addr, transport string) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf("transports:\n  - type: websocket\n    listen: %s\n    path: /ws\n%srealms:\n  - name: realm1\n", addr, transport)
	path := filepath.Join(dir, "switchboard.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// longPollCallee joins over WebSocket and registers the procedures the
// page calls: add2, and burst, which publishes 0..n-1 on a topic,
// acknowledged, and then answers n.
func longPollCallee(t *testing.T, url string) *client.Client {
	t.Helper()
	c := nexusClient(t, url)
	add2 := func(_ context.Context, inv *nexuswamp.Invocation) client.InvokeResult {
		a, ok1 := nexuswamp.AsInt64(arg(inv, 0))
		b, ok2 := nexuswamp.AsInt64(arg(inv, 1))
		if !ok1 || !ok2 {
			return client.InvokeResult{Err: nexuswamp.ErrInvalidArgument}
		}
		return client.InvokeResult{Args: nexuswamp.List{a + b}}
	}
	burst := func(_ context.Context, inv *nexuswamp.Invocation) client.InvokeResult {
		topic, ok1 := nexuswamp.AsString(arg(inv, 0))
		n, ok2 := nexuswamp.AsInt64(arg(inv, 1))
		if !ok1 || !ok2 {
			return client.InvokeResult{Err: nexuswamp.ErrInvalidArgument}
		}
		for i := range n {
			if err := c.Publish(topic, nexuswamp.Dict{nexuswamp.OptAcknowledge: true}, nexuswamp.List{i}, nil); err != nil {
				return client.InvokeResult{Err: "com.example.longpoll.error", Args: nexuswamp.List{err.Error()}}
			}
		}
		return client.InvokeResult{Args: nexuswamp.List{n}}
	}
	for proc, fn := range map[string]client.InvocationHandler{
		"com.example.longpoll.add2":  add2,
		"com.example.longpoll.burst": burst,
	} {
		if err := c.Register(proc, fn, nil); err != nil {
			t.Fatalf("register %s: %v", proc, err)
		}
	}
	return c
}

func arg(inv *nexuswamp.Invocation, i int) any {
	if i < len(inv.Arguments) {
		return inv.Arguments[i]
	}
	return nil
}

// sessionList returns the sessions of c's realm (wamp.session.list).
func sessionList(t *testing.T, c *client.Client) []uint64 {
	t.Helper()
	res, err := call(c, "wamp.session.list")
	if err != nil || len(res) != 1 {
		t.Fatalf("wamp.session.list: %v %v", res, err)
	}
	list, _ := nexuswamp.AsList(res[0])
	ids := make([]uint64, 0, len(list))
	for _, v := range list {
		id, _ := nexuswamp.AsID(v)
		ids = append(ids, uint64(id))
	}
	slices.Sort(ids)
	return ids
}

// waitAlone waits until c's session is the only one of its realm: the
// long-poll sessions have left.
func waitAlone(t *testing.T, c *client.Client) {
	t.Helper()
	ok, _, last := eventually(lpBound, func() (bool, string) {
		ids := sessionList(t, c)
		return slices.Equal(ids, []uint64{uint64(c.ID())}), fmt.Sprint(ids)
	})
	if !ok {
		t.Fatalf("sessions %s after %v, want only %d", last, lpBound, c.ID())
	}
}

// preflight sends the CORS preflight of AutobahnJS's POSTs to url from
// origin.
func preflight(t *testing.T, url, origin string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodOptions, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Origin", origin)
	req.Header.Set("Access-Control-Request-Method", "POST")
	req.Header.Set("Access-Control-Request-Headers", "content-type")
	c := &http.Client{Timeout: lpBound}
	defer c.CloseIdleConnections()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// lpNginx is the http{} block of TestLongPollNginx: the router's
// listener behind nginx, with a location of its own for long-poll.
const lpNginx = `upstream switchboard {
    server %s;
    keepalive 16;
}

server {
    listen %s;

    location / {
        proxy_pass http://switchboard;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Host $host;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    }

    # WAMP over HTTP long-poll. The router holds each receive until it
    # has a message for the client or its longpoll.request_timeout
    # (default 10s) has passed, so nginx must wait longer than that for
    # an answer, and pass each answer on at once. A send carries one
    # WAMP message: allow bodies up to the router's max_message_size
    # (default 16MiB).
    location /lp/ {
        proxy_pass http://switchboard;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Host $host;
        proxy_set_header X-Real-IP $remote_addr;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto $scheme;
        proxy_read_timeout 60s;
        proxy_buffering off;
        client_max_body_size 16m;
    }
}
`

// TestLongPollNginx drives a long-poll session through nginx: open,
// HELLO/WELCOME, the router's view of the session (long-poll, the
// client's address from X-Forwarded-For), a receive the router holds
// for its whole request_timeout and answers 204, an event that arrives
// for a held receive, a message larger than nginx's default body limit,
// GOODBYE and close; and AutobahnJS in Chromium through nginx.
func TestLongPollNginx(t *testing.T) {
	if testing.Short() {
		t.Skip("interop test: builds the router and runs nginx")
	}
	nginx := lookFor(t, "nginx", "apt install nginx-light", "/usr/sbin/nginx")
	root := moduleRoot(t)
	tmp := t.TempDir()
	routerAddr, proxyAddr := freeAddr(t), freeAddr(t)
	page := longPollPage(t, root, tmp)
	cfg := writeLongPollConfig(t, tmp, routerAddr, fmt.Sprintf(`    static: %s
    trusted_proxies: [127.0.0.1]
    longpoll:
      path: /lp
      request_timeout: 2s
      session_timeout: 30s
`, page))
	bin := buildSwitchboard(t, root, tmp)
	runRouter(t, tmp, []string{bin, "-c", cfg}, routerAddr, "", false)
	startNginx(t, nginx, filepath.Join(tmp, "nginx"), fmt.Sprintf(lpNginx, routerAddr, proxyAddr), proxyAddr)
	probe := nexusClient(t, "ws://"+routerAddr+"/ws")

	t.Run("go client", func(t *testing.T) {
		httpc := &http.Client{Timeout: lpBound, Transport: &http.Transport{
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				d := net.Dialer{LocalAddr: &net.TCPAddr{IP: clientIP}}
				return d.DialContext(ctx, network, addr)
			},
		}}
		t.Cleanup(httpc.CloseIdleConnections)
		c := openLongPoll(t, httpc, "http://"+proxyAddr+"/lp")

		c.send(t, `[1, "realm1", {"roles": {"subscriber": {}, "publisher": {}, "caller": {}}}]`)
		welcome := c.receive(t)
		if kind(welcome) != 2 || len(welcome) != 3 {
			t.Fatalf("got %v, want WELCOME", welcome)
		}
		id, ok := welcome[1].(json.Number)
		if !ok {
			t.Fatalf("WELCOME %v: no session ID", welcome)
		}

		// The router's view: a long-poll session from the client's own
		// address, which nginx reports.
		c.send(t, fmt.Sprintf(`[48, 1, {}, "wamp.session.get", [%s]]`, id))
		res := c.receive(t)
		if kind(res) != 50 || len(res) < 4 {
			t.Fatalf("got %v, want RESULT of wamp.session.get", res)
		}
		var details struct {
			Transport struct{ Type, Peer string }
		}
		if args, _ := res[3].([]any); len(args) == 1 {
			remarshal(t, args[0], &details)
		}
		if want := clientIP.String() + ":0"; details.Transport.Type != "longpoll" || details.Transport.Peer != want {
			t.Errorf("session transport %+v, want type longpoll, peer %s", details.Transport, want)
		}

		topic := "com.example.longpoll.nginx"
		c.send(t, fmt.Sprintf(`[32, 2, {}, %q]`, topic))
		if m := c.receive(t); kind(m) != 33 {
			t.Fatalf("got %v, want SUBSCRIBED", m)
		}

		// Nothing queued: the router holds the receive for its
		// request_timeout, nginx waits, and the client gets 204.
		t0 := time.Now()
		if status, body := c.must(t, "receive", ""); status != http.StatusNoContent {
			t.Fatalf("idle receive: %d %q, want 204", status, body)
		}
		t.Logf("idle receive answered 204 after %v (request_timeout 2s)", time.Since(t0).Round(time.Millisecond))

		// An event for a receive held (or about to be): it is answered
		// with the event.
		type received struct {
			m   []any
			err error
		}
		got := make(chan received, 1)
		go func() {
			m, err := c.next()
			got <- received{m, err}
		}()
		if err := probe.Publish(topic, nexuswamp.Dict{nexuswamp.OptAcknowledge: true}, nexuswamp.List{"through nginx"}, nil); err != nil {
			t.Fatal(err)
		}
		if ev := <-got; ev.err != nil || kind(ev.m) != 36 || len(ev.m) != 5 || fmt.Sprint(ev.m[4]) != "[through nginx]" {
			t.Fatalf("got %v %v, want EVENT [through nginx]", ev.m, ev.err)
		}

		// A send over nginx's default client_max_body_size of 1MiB; its
		// event comes back with the acknowledgement, in either order.
		big := strings.Repeat("x", 2<<20)
		c.send(t, fmt.Sprintf(`[16, 3, {"acknowledge": true, "exclude_me": false}, %q, [%q]]`, topic, big))
		var kinds []int
		for range 2 {
			m := c.receive(t)
			kinds = append(kinds, kind(m))
			if kind(m) == 36 && (len(m) != 5 || fmt.Sprint(m[4]) != "["+big+"]") {
				t.Fatalf("EVENT of the big publication: %d elements, not the payload sent", len(m))
			}
		}
		if slices.Sort(kinds); !slices.Equal(kinds, []int{17, 36}) {
			t.Fatalf("got messages %v, want PUBLISHED (17) and EVENT (36)", kinds)
		}

		c.send(t, `[6, {}, "wamp.close.close_realm"]`)
		if m := c.receive(t); kind(m) != 6 || fmt.Sprint(m[2]) != "wamp.close.goodbye_and_out" {
			t.Fatalf("got %v, want GOODBYE wamp.close.goodbye_and_out", m)
		}
		if status, body := c.must(t, "close", ""); status != http.StatusNoContent {
			t.Fatalf("close: %d %q, want 204", status, body)
		}
		if status, _ := c.must(t, "receive", ""); status != http.StatusNotFound {
			t.Fatalf("receive after close: %d, want 404", status)
		}
		waitAlone(t, probe)
	})

	t.Run("autobahn in chromium", func(t *testing.T) {
		node := lookTool(t, "node")
		chromium := lookFor(t, "chromium", "apt install chromium", "/usr/bin/chromium")
		dir := filepath.Join(root, "interop", "autobahn")
		npmCI(t, dir)
		callee := longPollCallee(t, "ws://"+routerAddr+"/ws")
		base := "http://" + proxyAddr
		runNode(t, node, dir, "longpoll.test.mjs",
			"SWITCHBOARD_LONGPOLL_CASE=session",
			"SWITCHBOARD_LONGPOLL_PAGE="+base+"/",
			"SWITCHBOARD_LONGPOLL_URL="+base+"/lp",
			"SWITCHBOARD_URL=ws://"+proxyAddr+"/ws",
			"SWITCHBOARD_CHROMIUM="+chromium,
			"SWITCHBOARD_LONGPOLL_IDLE=1")
		_ = callee.Close()
		waitAlone(t, probe)
	})
}

// lpClient is a long-poll transport opened by hand, JSON unbatched.
type lpClient struct {
	http *http.Client
	base string // .../lp/<transport>
}

func openLongPoll(t *testing.T, httpc *http.Client, base string) *lpClient {
	t.Helper()
	resp, err := httpc.Post(base+"/open", "application/json", strings.NewReader(`{"protocols": ["wamp.2.json"]}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var ans struct{ Transport, Protocol string }
	if resp.StatusCode != http.StatusOK || json.Unmarshal(b, &ans) != nil || ans.Transport == "" || ans.Protocol != "wamp.2.json" {
		t.Fatalf("POST %s/open: %d %s, want 200 {\"transport\": ..., \"protocol\": \"wamp.2.json\"}", base, resp.StatusCode, b)
	}
	return &lpClient{http: httpc, base: base + "/" + ans.Transport}
}

// post sends one request of the transport and returns its answer.
func (c *lpClient) post(action, body string) (int, []byte, error) {
	resp, err := c.http.Post(c.base+"/"+action, "application/json; charset=utf-8", strings.NewReader(body))
	if err != nil {
		return 0, nil, fmt.Errorf("POST %s: %w", action, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, fmt.Errorf("POST %s: %w", action, err)
	}
	return resp.StatusCode, b, nil
}

// must is post for the test's goroutine.
func (c *lpClient) must(t *testing.T, action, body string) (int, []byte) {
	t.Helper()
	status, b, err := c.post(action, body)
	if err != nil {
		t.Fatal(err)
	}
	return status, b
}

func (c *lpClient) send(t *testing.T, msg string) {
	t.Helper()
	if status, body := c.must(t, "send", msg); status != http.StatusNoContent {
		t.Fatalf("send %.80s: %d %q, want 204", msg, status, body)
	}
}

// receive polls until a message comes, and decodes it.
func (c *lpClient) receive(t *testing.T) []any {
	t.Helper()
	m, err := c.next()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// next polls until a message comes, and decodes it. Each receive is
// answered 200 with a message, or 204 once the router's request_timeout
// has passed with none.
func (c *lpClient) next() ([]any, error) {
	deadline := time.Now().Add(lpBound)
	for {
		status, body, err := c.post("receive", "")
		switch {
		case err != nil:
			return nil, err
		case status == http.StatusOK:
			d := json.NewDecoder(bytes.NewReader(body))
			d.UseNumber()
			var m []any
			if err := d.Decode(&m); err != nil {
				return nil, fmt.Errorf("receive: bad message %.200q: %w", body, err)
			}
			return m, nil
		case status != http.StatusNoContent:
			return nil, fmt.Errorf("receive: %d %q, want 200 or 204", status, body)
		case time.Now().After(deadline):
			return nil, fmt.Errorf("receive: no message within %v", lpBound)
		}
	}
}

// remarshal decodes v, a decoded JSON value, into out.
func remarshal(t *testing.T, v, out any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
}
