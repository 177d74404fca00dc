package bridge_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gammazero/nexus/v3/client"
	"github.com/gammazero/nexus/v3/wamp"

	"github.com/switchboard/switchboard/bridge"
	"github.com/switchboard/switchboard/config"
)

func loopback() *config.Bridge {
	return &config.Bridge{Publish: "/publish", Call: "/call", Unsigned: config.UnsignedLoopback}
}

func TestPublish(t *testing.T) {
	n := start(t, loopback(), nil)
	sub := n.connect(t)
	ch := events(t, sub, "com.example.news", nil)

	a := n.post(t, "/publish", `{"topic": "com.example.news", "args": ["hello", 42], "kwargs": {"x": 1.5}}`)
	if a.Status != http.StatusOK || a.ID == 0 {
		t.Fatalf("publish: %d %s", a.Status, a.Raw)
	}
	e := receive(t, ch, "event")
	if fmt.Sprint(e.Arguments) != "[hello 42]" || fmt.Sprint(e.ArgumentsKw) != "map[x:1.5]" {
		t.Fatalf("event args %v kwargs %v", e.Arguments, e.ArgumentsKw)
	}
	if uint64(e.Publication) != a.ID {
		t.Fatalf("publication %d, the bridge answered id %d", e.Publication, a.ID)
	}
	if st := n.r.BridgeStats()[0]; st.Published != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// TestPublishOptions: options pass to the broker (exclude, disclose_me) and
// the bridge's identity is the configured one.
func TestPublishOptions(t *testing.T) {
	b := loopback()
	b.AuthID = "django-app"
	n := start(t, b, nil)
	sub := n.connect(t)
	other := n.connect(t)
	ch := events(t, sub, "com.example.t", nil)
	och := events(t, other, "com.example.t", nil)

	a := n.post(t, "/publish", fmt.Sprintf(`{"topic": "com.example.t", "args": [1], "options": {"exclude": [%d], "disclose_me": true}}`, other.ID()))
	if a.Status != http.StatusOK {
		t.Fatalf("publish: %d %s", a.Status, a.Raw)
	}
	e := receive(t, ch, "event")
	if got, _ := wamp.AsString(e.Details["publisher_authid"]); got != "django-app" {
		t.Fatalf("publisher_authid %v, want django-app (details %v)", e.Details["publisher_authid"], e.Details)
	}
	// The excluded subscriber gets nothing: a second publication that it
	// does get comes first.
	if a := n.post(t, "/publish", `{"topic": "com.example.t", "args": [2]}`); a.Status != http.StatusOK {
		t.Fatalf("publish: %d %s", a.Status, a.Raw)
	}
	if e := receive(t, och, "event"); fmt.Sprint(e.Arguments) != "[2]" {
		t.Fatalf("excluded subscriber got %v", e.Arguments)
	}
}

// TestNullOptionsAbsent: an option whose value is null counts as absent,
// as in a WAMP message's Options, rather than as a bad value.
func TestNullOptionsAbsent(t *testing.T) {
	n := start(t, loopback(), nil)
	sub := n.connect(t)
	ch := events(t, sub, "com.example.t", nil)
	a := n.post(t, "/publish", `{"topic": "com.example.t", "args": [1], "options": {"exclude": null, "eligible": null, "disclose_me": null, "retain": null}}`)
	if a.Status != http.StatusOK {
		t.Fatalf("publish with null options: %d %s", a.Status, a.Raw)
	}
	if e := receive(t, ch, "event"); fmt.Sprint(e.Arguments) != "[1]" {
		t.Fatalf("event %v, want [1]", e.Arguments)
	}
	if a := n.post(t, "/call", `{"procedure": "wamp.session.count", "options": {"timeout": null, "disclose_me": null}}`); a.Status != http.StatusOK {
		t.Fatalf("call with null options: %d %s", a.Status, a.Raw)
	}
}

func TestCall(t *testing.T) {
	n := start(t, loopback(), nil)
	callee := n.connect(t, func(c *client.Config) { c.Serialization = client.JSON })
	must(t, callee.Register("com.example.add2", func(_ context.Context, inv *wamp.Invocation) client.InvokeResult {
		x, _ := wamp.AsInt64(inv.Arguments[0])
		y, _ := wamp.AsInt64(inv.Arguments[1])
		return client.InvokeResult{Args: wamp.List{x + y}, Kwargs: wamp.Dict{"op": "add"}}
	}, nil))
	must(t, callee.Register("com.example.fail", func(context.Context, *wamp.Invocation) client.InvokeResult {
		return client.InvokeResult{Err: "com.example.error.too_big", Args: wamp.List{"too big"}, Kwargs: wamp.Dict{"limit": 10}}
	}, nil))
	must(t, callee.Register("com.example.slow", func(ctx context.Context, _ *wamp.Invocation) client.InvokeResult {
		<-ctx.Done() // until the router interrupts the call
		return client.InvokeResult{Err: wamp.ErrCanceled}
	}, nil))

	a := n.post(t, "/call", `{"procedure": "com.example.add2", "args": [1, 2]}`)
	if a.Status != http.StatusOK || fmt.Sprint(a.Args) != "[3]" || fmt.Sprint(a.Kwargs) != "map[op:add]" {
		t.Fatalf("call: %d %s", a.Status, a.Raw)
	}

	a = n.post(t, "/call", `{"procedure": "com.example.fail"}`)
	if a.Status != http.StatusBadGateway || a.Error != "com.example.error.too_big" || fmt.Sprint(a.Args) != "[too big]" || fmt.Sprint(a.Kwargs) != "map[limit:10]" {
		t.Fatalf("failing call: %d %s", a.Status, a.Raw)
	}

	a = n.post(t, "/call", `{"procedure": "com.example.nothing"}`)
	if a.Status != http.StatusNotFound || a.Error != string(wamp.ErrNoSuchProcedure) {
		t.Fatalf("call of no procedure: %d %s", a.Status, a.Raw)
	}

	a = n.post(t, "/call", `{"procedure": "com.example.slow", "options": {"timeout": 50}}`)
	if a.Status != http.StatusGatewayTimeout || a.Error != string(wamp.ErrTimeout) {
		t.Fatalf("call that times out: %d %s", a.Status, a.Raw)
	}
}

// TestBadInput: each bad request gets a 4xx JSON error naming the problem,
// and nothing is published. The subscriber's first event is the good
// publication sent after all the bad ones.
func TestBadInput(t *testing.T) {
	b := loopback()
	b.MaxBody = 256
	b.Keys = []config.BridgeKey{{Key: "k1", Secret: &config.Secret{Plain: "s3cret"}}}
	n := start(t, b, nil)
	sub := n.connect(t)
	ch := events(t, sub, "com.", wamp.Dict{"match": "prefix"})

	good := `{"topic": "com.example.t", "args": [1]}`
	now := time.Now()
	signed := func(secret string, nonce uint64, ts time.Time, body string) string {
		return "/publish?" + bridge.SignQuery("k1", secret, 1, nonce, ts, []byte(body))
	}
	replayed := signed("s3cret", 77, now, good)
	if a := n.post(t, replayed, good); a.Status != http.StatusOK {
		t.Fatalf("signed publish: %d %s", a.Status, a.Raw)
	}
	receive(t, ch, "signed event")

	cases := []struct {
		name, path, body string
		status           int
		uri              string
		hdr              []string
	}{
		{"malformed JSON", "/publish", `{"topic": "com.example.t", "args": [1}`, 400, "switchboard.bridge.malformed_json", nil},
		{"not an object", "/publish", `["com.example.t"]`, 400, "switchboard.bridge.malformed_json", nil},
		{"empty body", "/publish", ``, 400, "switchboard.bridge.malformed_json", nil},
		{"missing topic", "/publish", `{"args": [1]}`, 400, "switchboard.bridge.missing_topic", nil},
		{"topic not a string", "/publish", `{"topic": 5}`, 400, "switchboard.bridge.bad_payload", nil},
		{"bad URI", "/publish", `{"topic": "com.example..t"}`, 400, "wamp.error.invalid_uri", nil},
		{"URI with space", "/publish", `{"topic": "com.example t"}`, 400, "wamp.error.invalid_uri", nil},
		{"args not a list", "/publish", `{"topic": "com.example.t", "args": {"a": 1}}`, 400, "switchboard.bridge.bad_payload", nil},
		{"kwargs not a dict", "/publish", `{"topic": "com.example.t", "kwargs": [1]}`, 400, "switchboard.bridge.bad_payload", nil},
		{"options not a dict", "/publish", `{"topic": "com.example.t", "options": 3}`, 400, "switchboard.bridge.bad_payload", nil},
		{"bad option", "/publish", `{"topic": "com.example.t", "options": {"exclude": "x"}}`, 400, "wamp.error.invalid_argument", nil},
		{"oversized body", "/publish", `{"topic": "com.example.t", "args": ["` + strings.Repeat("x", 300) + `"]}`, 413, "switchboard.bridge.body_too_large", nil},
		{"wrong content type", "/publish", good, 415, "switchboard.bridge.unsupported_media_type", []string{"Content-Type", "text/plain"}},
		{"wrong signature", signed("wrong", 1, now, good), good, 401, "switchboard.bridge.bad_signature", nil},
		{"body changed after signing", signed("s3cret", 2, now, `{"topic": "com.example.other"}`), good, 401, "switchboard.bridge.bad_signature", nil},
		{"unknown key", "/publish?" + strings.Replace(bridge.SignQuery("k1", "s3cret", 1, 3, now, []byte(good)), "key=k1", "key=k2", 1), good, 401, "switchboard.bridge.unknown_key", nil},
		{"stale timestamp", signed("s3cret", 4, now.Add(-time.Hour), good), good, 401, "switchboard.bridge.stale_timestamp", nil},
		{"future timestamp", signed("s3cret", 5, now.Add(time.Hour), good), good, 401, "switchboard.bridge.stale_timestamp", nil},
		{"replayed nonce", replayed, good, 401, "switchboard.bridge.replayed_nonce", nil},
		{"bad timestamp", "/publish?key=k1&timestamp=yesterday&seq=1&nonce=1&signature=x", good, 400, "switchboard.bridge.bad_timestamp", nil},
		{"bad nonce", "/publish?key=k1&timestamp=" + now.UTC().Format(time.RFC3339) + "&seq=1&nonce=abc&signature=x", good, 400, "switchboard.bridge.bad_nonce", nil},
		{"missing procedure", "/call", `{"args": [1]}`, 400, "switchboard.bridge.missing_procedure", nil},
		{"bad call timeout", "/call", `{"procedure": "com.example.p", "options": {"timeout": "soon"}}`, 400, "switchboard.bridge.bad_payload", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := n.post(t, c.path, c.body, c.hdr...)
			if a.Status != c.status || a.Error != c.uri || a.Message == "" {
				t.Fatalf("got %d %s, want %d %s with a message", a.Status, a.Raw, c.status, c.uri)
			}
		})
	}
	if a := n.do(t, http.MethodGet, "/publish", nil); a.Status != http.StatusMethodNotAllowed || a.Error != "switchboard.bridge.method_not_allowed" {
		t.Fatalf("GET: %d %s", a.Status, a.Raw)
	}

	if a := n.post(t, "/publish", `{"topic": "com.example.sentinel"}`); a.Status != http.StatusOK {
		t.Fatalf("publish: %d %s", a.Status, a.Raw)
	}
	if e := receive(t, ch, "event"); e.Details["topic"] != "com.example.sentinel" {
		t.Fatalf("a bad request was published: %v %v", e.Details, e.Arguments)
	}
	if st := n.r.BridgeStats()[0]; st.Rejected < uint64(len(cases)) {
		t.Fatalf("rejected %d, want at least %d", st.Rejected, len(cases))
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
