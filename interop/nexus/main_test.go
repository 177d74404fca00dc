// Package nexus_test runs the router against real WAMP peers: the nexus v3
// Go client over every transport and serializer, and a small raw client that
// sends exact frames for the protocol-violation tests.
package nexus_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gammazero/nexus/v3/client"
	"github.com/gammazero/nexus/v3/transport/serialize"
	"github.com/gammazero/nexus/v3/wamp"
	"go.uber.org/goleak"

	"github.com/switchboard/switchboard/config"
	"github.com/switchboard/switchboard/router"
	"github.com/switchboard/switchboard/router/routertest"
)

// TestMain fails the package when any goroutine outlives the tests: every
// router is shut down by t.Cleanup and every client is closed, so nothing of
// either may remain.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// bound is the generous limit for anything that should happen promptly. It
// is a deadline for a failure report, never a measurement.
const bound = 10 * time.Second

// quiet is the nexus client logger: the client logs expected events (an
// INTERRUPT, a GOODBYE) that would only clutter the test output.
var quiet = log.New(io.Discard, "", 0)

// Transport kinds of the matrix.
const (
	kindWS   = "websocket"
	kindTCP  = "rawsocket-tcp"
	kindUnix = "rawsocket-unix"
)

var transportKinds = []string{kindWS, kindTCP, kindUnix}

// serializer describes one serializer as each side names it.
type serializer struct {
	name  string
	nexus serialize.Serialization
	id    byte // RawSocket serializer id
	codec serialize.Serializer
}

var (
	serJSON    = serializer{"json", client.JSON, 1, &serialize.JSONSerializer{}}
	serMsgpack = serializer{"msgpack", client.MSGPACK, 2, &serialize.MessagePackSerializer{}}
	serCBOR    = serializer{"cbor", client.CBOR, 3, &serialize.CBORSerializer{}}
)

var serializers = []serializer{serJSON, serMsgpack, serCBOR}

func (s serializer) subprotocol() string { return "wamp.2." + s.name }

// testConfig is routertest.Config plus a RawSocket listener on a Unix socket
// in a temporary directory, so that one router serves all three transports.
func testConfig(t testing.TB) *config.Config {
	t.Helper()
	cfg := routertest.Config()
	cfg.Transports = append(cfg.Transports, config.Transport{
		Type:   config.RawSocket,
		Listen: config.UnixPrefix + filepath.Join(shortTempDir(t), "wamp.sock"),
	})
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("config: %v", err)
	}
	return cfg
}

// shortTempDir returns a temporary directory whose path is short enough for
// a Unix socket (108 bytes) even under long subtest names.
func shortTempDir(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	if len(dir) > 80 {
		t.Fatalf("temp dir %q too long for a unix socket path", dir)
	}
	return dir
}

// startRouter runs a router on testConfig (or cfg when non-nil).
func startRouter(t testing.TB, cfg *config.Config) *router.Router {
	t.Helper()
	if cfg == nil {
		cfg = testConfig(t)
	}
	return routertest.Run(t, cfg)
}

// urlOf returns the URL of the listener of the given kind.
func urlOf(t testing.TB, r *router.Router, kind string) string {
	t.Helper()
	for _, l := range r.Listeners() {
		switch {
		case kind == kindWS && l.Type == config.WebSocket,
			kind == kindTCP && l.Type == config.RawSocket && strings.HasPrefix(l.URL, "tcp://"),
			kind == kindUnix && l.Type == config.RawSocket && strings.HasPrefix(l.URL, "unix://"):
			return l.URL
		}
	}
	t.Fatalf("router has no %s listener: %+v", kind, r.Listeners())
	return ""
}

// connect joins realm1 with the nexus client and closes it at cleanup.
func connect(t testing.TB, url string, ser serializer) *client.Client {
	t.Helper()
	c, err := dial(url, ser, "realm1")
	if err != nil {
		t.Fatalf("connect %s %s: %v", url, ser.name, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// dial joins realm with the nexus client; opts adjust its config.
func dial(url string, ser serializer, realm string, opts ...func(*client.Config)) (*client.Client, error) {
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	cfg := client.Config{
		Realm:           realm,
		Serialization:   ser.nexus,
		Logger:          quiet,
		ResponseTimeout: bound,
	}
	for _, o := range opts {
		o(&cfg)
	}
	return client.ConnectNet(ctx, url, cfg)
}

// receive waits for one value on ch, failing the test after bound.
func receive[T any](t testing.TB, ch <-chan T, what string) T {
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

// eventChan subscribes c to topic and returns the channel its events go to.
// The channel is large so that the client's receive loop never blocks on it.
func eventChan(t testing.TB, c *client.Client, topic string, opts wamp.Dict) <-chan *wamp.Event {
	t.Helper()
	ch := make(chan *wamp.Event, 4096)
	if err := c.Subscribe(topic, func(e *wamp.Event) { ch <- e }, opts); err != nil {
		t.Fatalf("subscribe %s: %v", topic, err)
	}
	return ch
}

// call runs c.Call in its own goroutine so that a router that never answers
// fails the test after bound instead of hanging it. A Call context is never
// canceled: nexus would send CANCEL, which this router does not announce.
func call(t testing.TB, c *client.Client, proc string, args wamp.List, kwargs wamp.Dict) (*wamp.Result, error) {
	t.Helper()
	type reply struct {
		res *wamp.Result
		err error
	}
	ch := make(chan reply, 1)
	go func() {
		res, err := c.Call(context.Background(), proc, nil, args, kwargs, nil)
		ch <- reply{res, err}
	}()
	r := receive(t, ch, "reply to CALL "+proc)
	return r.res, r.err
}

// uniq makes URIs unique per test so that tests sharing a router cannot see
// each other's events.
func uniq(t testing.TB, suffix string) string {
	name := strings.NewReplacer("/", ".", " ", "_", "#", "_").Replace(strings.ToLower(t.Name()))
	return fmt.Sprintf("com.example.%s.%s", name, suffix)
}
