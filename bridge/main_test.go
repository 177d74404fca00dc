package bridge_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gammazero/nexus/v3/client"
	"github.com/gammazero/nexus/v3/wamp"
	"go.uber.org/goleak"

	"github.com/switchboard/switchboard/config"
	"github.com/switchboard/switchboard/router"
	"github.com/switchboard/switchboard/router/routertest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// bound stops a test that would hang; it is never a measurement.
const bound = 10 * time.Second

var quiet = log.New(io.Discard, "", 0)

// node is a router with a bridge on its websocket listener.
type node struct {
	r    *router.Router
	base string // http://127.0.0.1:port
	ws   string
}

// start runs a router whose first transport has bridge b (realm1 unless it
// says otherwise); edit, if set, changes the config before it starts.
func start(t testing.TB, b *config.Bridge, edit func(*config.Config)) *node {
	t.Helper()
	cfg := routertest.Config()
	if b.Realm == "" {
		b.Realm = "realm1"
	}
	cfg.Transports[0].Bridge = b
	if edit != nil {
		edit(cfg)
	}
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("config: %v", err)
	}
	r := routertest.Run(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	if err := r.BridgesReady(ctx); err != nil {
		t.Fatalf("bridge not ready: %v", err)
	}
	ws := r.URL(config.WebSocket)
	base := "http://" + strings.TrimSuffix(strings.TrimPrefix(ws, "ws://"), "/ws")
	return &node{r: r, base: base, ws: ws}
}

// connect joins realm1 with the nexus client (msgpack, so that the JSON
// the bridge takes is converted on the way).
func (n *node) connect(t *testing.T, opts ...func(*client.Config)) *client.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	cfg := client.Config{Realm: "realm1", Serialization: client.MSGPACK, Logger: quiet, ResponseTimeout: bound}
	for _, o := range opts {
		o(&cfg)
	}
	c, err := client.ConnectNet(ctx, n.ws, cfg)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func events(t *testing.T, c *client.Client, topic string, opts wamp.Dict) <-chan *wamp.Event {
	t.Helper()
	ch := make(chan *wamp.Event, 1024)
	if err := c.Subscribe(topic, func(e *wamp.Event) { ch <- e }, opts); err != nil {
		t.Fatalf("subscribe %s: %v", topic, err)
	}
	return ch
}

func receive[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(bound):
		t.Fatalf("no %s within %v", what, bound)
		var zero T
		return zero
	}
}

// answer is a decoded bridge response.
type answer struct {
	Status  int
	ID      uint64         `json:"id"`
	Error   string         `json:"error"`
	Message string         `json:"message"`
	Args    []any          `json:"args"`
	Kwargs  map[string]any `json:"kwargs"`
	Raw     string
}

// post sends body to path (with query) and decodes the JSON answer.
func (n *node) post(t *testing.T, path, body string, hdr ...string) answer {
	t.Helper()
	return n.do(t, http.MethodPost, path, []byte(body), hdr...)
}

func (n *node) do(t *testing.T, method, path string, body []byte, hdr ...string) answer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, n.base+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	a := answer{Status: resp.StatusCode, Raw: string(raw)}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("%s %s: content type %q, body %s", method, path, ct, raw)
	}
	if err := json.Unmarshal(raw, &a); err != nil {
		t.Fatalf("%s %s: answer %q is not JSON: %v", method, path, raw, err)
	}
	return a
}

func routertestConfig(b *config.Bridge) *config.Config {
	cfg := routertest.Config()
	cfg.Transports[0].Bridge = b
	return cfg
}

func routertestRun(t testing.TB, cfg *config.Config) *router.Router { return routertest.Run(t, cfg) }
