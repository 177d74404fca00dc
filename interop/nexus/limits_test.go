package nexus_test

import (
	"bytes"
	"context"
	"fmt"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gammazero/nexus/v3/client"
	"github.com/gammazero/nexus/v3/wamp"

	"github.com/switchboard/switchboard/config"
)

// TestLargePayloads sends payloads far bigger than the transports' read and
// write buffers through every transport, converted between serializers on
// the way, for pub/sub and RPC.
func TestLargePayloads(t *testing.T) {
	r := startRouter(t, nil)
	for _, kind := range transportKinds {
		for _, size := range []int{200 << 10, 3 << 20} {
			t.Run(fmt.Sprintf("%s/%dKiB", kind, size>>10), func(t *testing.T) {
				url := urlOf(t, r, kind)
				text := strings.Repeat("0123456789abcdef", size/16)
				bin := bytes.Repeat([]byte{0, 1, 2, 0xff}, size/4)
				topic, proc := uniq(t, "topic"), uniq(t, "echo")

				pub := connect(t, url, serMsgpack)
				sub := connect(t, url, serCBOR)
				subJSON := connect(t, url, serJSON)
				events := eventChan(t, sub, topic, nil)
				eventsJSON := eventChan(t, subJSON, topic, nil)
				if err := pub.Publish(topic, wamp.Dict{"acknowledge": true}, wamp.List{text, bin}, nil); err != nil {
					t.Fatalf("publish: %v", err)
				}
				if ev := receive(t, events, "cbor EVENT"); !reflect.DeepEqual(ev.Arguments, wamp.List{text, bin}) {
					t.Fatalf("cbor subscriber got a different payload (%d args)", len(ev.Arguments))
				}
				ev := receive(t, eventsJSON, "json EVENT")
				if len(ev.Arguments) != 2 || ev.Arguments[0] != text || ev.Arguments[1] != "\x00"+b64(bin) {
					t.Fatalf("json subscriber got a different payload (%d args)", len(ev.Arguments))
				}

				callee := connect(t, url, serJSON)
				if err := callee.Register(proc, func(_ context.Context, inv *wamp.Invocation) client.InvokeResult {
					return client.InvokeResult{Args: inv.Arguments}
				}, nil); err != nil {
					t.Fatalf("register: %v", err)
				}
				res, err := call(t, pub, proc, wamp.List{text}, nil)
				if err != nil {
					t.Fatalf("call: %v", err)
				}
				if !reflect.DeepEqual(res.Arguments, wamp.List{text}) {
					t.Fatalf("RESULT differs from the arguments (%d args)", len(res.Arguments))
				}
			})
		}
	}
}

// TestPayloadSizeExceeded: a RawSocket peer announces how much it takes. A
// RESULT, an ERROR or an INVOCATION bigger than that is not sent; the caller
// gets wamp.error.payload_size_exceeded instead, and both sessions go on.
func TestPayloadSizeExceeded(t *testing.T) {
	r := startRouter(t, nil)
	url := urlOf(t, r, kindTCP)
	small := func(c *client.Config) { c.RecvLimit = 1024 }
	big := strings.Repeat("b", 4096)
	const exceeded = "wamp.error.payload_size_exceeded"

	t.Run("result too big for the caller", func(t *testing.T) {
		proc, fails := uniq(t, "big"), uniq(t, "fails")
		callee := connect(t, url, serJSON)
		handler := func(_ context.Context, inv *wamp.Invocation) client.InvokeResult {
			if len(inv.Arguments) > 0 && inv.Arguments[0] == "small" {
				return client.InvokeResult{Args: wamp.List{"ok"}}
			}
			return client.InvokeResult{Args: wamp.List{big}}
		}
		if err := callee.Register(proc, handler, nil); err != nil {
			t.Fatalf("register: %v", err)
		}
		if err := callee.Register(fails, func(context.Context, *wamp.Invocation) client.InvokeResult {
			return client.InvokeResult{Err: "com.example.error.big", Args: wamp.List{big}}
		}, nil); err != nil {
			t.Fatalf("register: %v", err)
		}
		caller, err := dial(url, serMsgpack, "realm1", small)
		if err != nil {
			t.Fatalf("connect: %v", err)
		}
		t.Cleanup(func() { _ = caller.Close() })
		_, err = call(t, caller, proc, nil, nil)
		wantRPCError(t, err, exceeded)
		_, err = call(t, caller, fails, nil, nil)
		wantRPCError(t, err, exceeded)
		res, err := call(t, caller, proc, wamp.List{"small"}, nil)
		if err != nil || !reflect.DeepEqual(res.Arguments, wamp.List{"ok"}) {
			t.Fatalf("small call after the big ones: %v %v", res, err)
		}
	})

	t.Run("invocation too big for the callee", func(t *testing.T) {
		proc := uniq(t, "proc")
		var invoked atomic.Int32
		callee, err := dial(url, serCBOR, "realm1", small)
		if err != nil {
			t.Fatalf("connect: %v", err)
		}
		t.Cleanup(func() { _ = callee.Close() })
		if err := callee.Register(proc, func(context.Context, *wamp.Invocation) client.InvokeResult {
			invoked.Add(1)
			return client.InvokeResult{Args: wamp.List{"ok"}}
		}, nil); err != nil {
			t.Fatalf("register: %v", err)
		}
		caller := connect(t, urlOf(t, r, kindWS), serJSON)
		_, err = call(t, caller, proc, wamp.List{big}, nil)
		wantRPCError(t, err, exceeded)
		res, err := call(t, caller, proc, wamp.List{"small"}, nil)
		if err != nil || !reflect.DeepEqual(res.Arguments, wamp.List{"ok"}) {
			t.Fatalf("small call after the big one: %v %v", res, err)
		}
		if n := invoked.Load(); n != 1 {
			t.Fatalf("callee invoked %d times, want only for the small call", n)
		}
	})
}

// TestRealms: realms are separate name spaces, and a realm's StrictURIs
// setting applies to it alone.
func TestRealms(t *testing.T) {
	const strict = "com.example.strict"
	cfg := testConfig(t)
	cfg.Realms = append(cfg.Realms, config.Realm{Name: strict, StrictURIs: true})
	r := startRouter(t, cfg)
	url := urlOf(t, r, kindWS)
	join := func(realm string) *client.Client {
		c, err := dial(url, serJSON, realm)
		if err != nil {
			t.Fatalf("join %s: %v", realm, err)
		}
		t.Cleanup(func() { _ = c.Close() })
		return c
	}
	a, b := join("realm1"), join(strict)
	if got := b.RealmDetails()["realm"]; got != nil && got != strict {
		t.Fatalf("WELCOME names realm %v, want %s", got, strict)
	}

	t.Run("events stay in their realm", func(t *testing.T) {
		topic, marker := "com.example.iso.topic", "com.example.iso.marker"
		evA := eventChan(t, a, topic, nil)
		evB := eventChan(t, b, topic, nil)
		markers := eventChan(t, b, marker, nil)
		pubA, pubB := join("realm1"), join(strict)
		if err := pubA.Publish(topic, wamp.Dict{"acknowledge": true}, wamp.List{"realm1"}, nil); err != nil {
			t.Fatalf("publish: %v", err)
		}
		if ev := receive(t, evA, "realm1 EVENT"); !reflect.DeepEqual(ev.Arguments, wamp.List{"realm1"}) {
			t.Fatalf("realm1 event %v", ev.Arguments)
		}
		if err := pubB.Publish(marker, wamp.Dict{"acknowledge": true}, wamp.List{"marker"}, nil); err != nil {
			t.Fatalf("publish marker: %v", err)
		}
		receive(t, markers, "marker EVENT")
		select {
		case ev := <-evB:
			t.Fatalf("realm1's event %v reached the other realm", ev.Arguments)
		default:
		}
	})

	t.Run("procedures stay in their realm", func(t *testing.T) {
		proc := "com.example.iso.proc"
		for _, c := range []*client.Client{a, b} {
			name := fmt.Sprint(c.RealmDetails()["realm"])
			if err := c.Register(proc, func(context.Context, *wamp.Invocation) client.InvokeResult {
				return client.InvokeResult{Args: wamp.List{name}}
			}, nil); err != nil {
				t.Fatalf("register in %s: %v", name, err)
			}
		}
		for realm, caller := range map[string]*client.Client{"realm1": join("realm1"), strict: join(strict)} {
			res, err := call(t, caller, proc, nil, nil)
			if err != nil {
				t.Fatalf("call in %s: %v", realm, err)
			}
			if want := (wamp.List{realm}); !reflect.DeepEqual(res.Arguments, want) {
				t.Fatalf("call in %s answered by %v", realm, res.Arguments)
			}
		}
	})

	t.Run("strict uris", func(t *testing.T) {
		noop := func(*wamp.Event) {}
		for _, topic := range []string{"com.example.Upper", "com.example.with-dash", "com.example.ünï"} {
			wantErrorURI(t, b.Subscribe(topic, noop, nil), "wamp.error.invalid_uri")
			if err := a.Subscribe(topic, noop, nil); err != nil {
				t.Fatalf("loose realm refused %q: %v", topic, err)
			}
		}
	})
}
