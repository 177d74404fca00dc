package interop_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gammazero/nexus/v3/client"
	"github.com/gammazero/nexus/v3/transport/serialize"
	nwamp "github.com/gammazero/nexus/v3/wamp"

	"github.com/switchboard/switchboard/config"
	"github.com/switchboard/switchboard/router/routertest"
)

// cryptoboxTimeout bounds one run of interop/python/cryptobox_client.py (a
// hang guard; a run takes well under a second).
const cryptoboxTimeout = 60 * time.Second

// TestCryptoboxAutobahnPython: Autobahn|Python's WAMP-cryptobox end-to-end
// encryption (its payload transparency: enc_algo, enc_serializer and the
// encrypted payload as one binary in place of Arguments) works through
// the router, for a publication and a call, with sessions on one
// serializer and across JSON and MsgPack (whose binaries the router
// converts without decrypting anything); a subscriber without the key
// gets the event still encrypted.
func TestCryptoboxAutobahnPython(t *testing.T) {
	if testing.Short() {
		t.Skip("interop test: runs Python")
	}
	python := lookPython(t)
	if err := exec.Command(python, "-c", "from autobahn.wamp import cryptobox; assert cryptobox.HAS_CRYPTOBOX").Run(); err != nil {
		const install = "Autobahn|Python's cryptobox needs PyNaCl and pytrie (apt install python3-nacl python3-trie; python3-autobahn depends on both)"
		if os.Getenv("CI") == "" {
			t.Skip(install)
		}
		t.Fatalf("in CI: %s", install)
	}
	r := routertest.Run(t, routertest.Config())
	script := filepath.Join(moduleRoot(t), "interop", "python", "cryptobox_client.py")
	for _, sers := range []string{"json", "msgpack", "msgpack,json,json", "json,msgpack,msgpack"} {
		t.Run(sers, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), cryptoboxTimeout)
			defer cancel()
			cmd := exec.CommandContext(ctx, python, script, "--url", r.URL("websocket"), "--realm", "realm1", "--serializer", sers)
			cmd.Env = append(os.Environ(), "PYTHONUNBUFFERED=1")
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%s: %v\n%s", script, err, out)
			}
			for _, want := range []string{"event decrypted by the subscriber", "still encrypted", "call and result decrypted", "ok"} {
				if !strings.Contains(string(out), want) {
					t.Fatalf("output lacks %q:\n%s", want, out)
				}
			}
		})
	}
}

// TestTrustLevelDynamicAuthenticator: a dynamic authenticator that answers
// authextra.trustlevel gives the session that trust level, which its
// publications' EVENTs and its calls' INVOCATIONs carry to nexus clients;
// an anonymous session's carry none.
func TestTrustLevelDynamicAuthenticator(t *testing.T) {
	cfg := routertest.Config()
	cfg.Realms = []config.Realm{
		{Name: "realm1", Auth: []config.AuthMethod{
			{Method: "ticket", Dynamic: &config.Dynamic{Realm: "mgmt", Procedure: "com.example.authenticate"}},
			{Method: "anonymous"},
		}},
		{Name: "mgmt"},
	}
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	r := routertest.Run(t, cfg)
	url := r.URL("websocket")
	join := func(realm string, opts ...func(*client.Config)) *client.Client {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		c := client.Config{Realm: realm, ResponseTimeout: 10 * time.Second}
		for _, o := range opts {
			o(&c)
		}
		cl, err := client.ConnectNet(ctx, url, c)
		if err != nil {
			t.Fatalf("join %s: %v", realm, err)
		}
		t.Cleanup(func() { _ = cl.Close() })
		return cl
	}
	backend := join("mgmt")
	if err := backend.Register("com.example.authenticate", func(context.Context, *nwamp.Invocation) client.InvokeResult {
		return client.InvokeResult{Args: nwamp.List{nwamp.Dict{"role": "user", "authextra": nwamp.Dict{"trustlevel": 6}}}}
	}, nil); err != nil {
		t.Fatal(err)
	}
	trusted := join("realm1", func(c *client.Config) {
		c.HelloDetails = nwamp.Dict{"authid": "ann"}
		c.AuthHandlers = map[string]client.AuthFunc{"ticket": func(*nwamp.Challenge) (string, nwamp.Dict) { return "t", nwamp.Dict{} }}
	})
	anonymous := join("realm1")
	watcher := join("realm1")

	events := make(chan nwamp.Dict, 2)
	if err := watcher.Subscribe("com.t", func(ev *nwamp.Event) { events <- ev.Details }, nil); err != nil {
		t.Fatal(err)
	}
	invs := make(chan nwamp.Dict, 2)
	if err := watcher.Register("com.p", func(_ context.Context, inv *nwamp.Invocation) client.InvokeResult {
		invs <- inv.Details
		return client.InvokeResult{}
	}, nil); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		cl   *client.Client
		want any
	}{{"authenticator's", trusted, int64(6)}, {"anonymous", anonymous, nil}} {
		if err := c.cl.Publish("com.t", nwamp.Dict{"acknowledge": true}, nwamp.List{1}, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := c.cl.Call(t.Context(), "com.p", nil, nil, nil, nil); err != nil {
			t.Fatal(err)
		}
		for what, ch := range map[string]chan nwamp.Dict{"EVENT": events, "INVOCATION": invs} {
			select {
			case d := <-ch:
				got := d["trustlevel"]
				if n, ok := nwamp.AsInt64(got); ok {
					got = n
				}
				if got != c.want {
					t.Errorf("%s session: %s trustlevel %v, want %v (%v)", c.name, what, d["trustlevel"], c.want, d)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("%s session: no %s", c.name, what)
			}
		}
	}
}

// TestPassthruNexus: a binary ppt payload published over MsgPack reaches
// MsgPack and CBOR subscribers (nexus unpacks it itself) with its ppt_*
// attributes. (JSON is not here: the nexus client's own ppt unpacking
// takes the binary for a string on JSON and panics; the JSON path is the
// codecs', tested in broker and dealer.)
func TestPassthruNexus(t *testing.T) {
	r := routertest.Run(t, routertest.Config())
	url := r.URL("websocket")
	dial := func(ser serialize.Serialization) *client.Client {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		cl, err := client.ConnectNet(ctx, url, client.Config{Realm: "realm1", Serialization: ser, ResponseTimeout: 10 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cl.Close() })
		return cl
	}
	secret := make([]byte, 1000)
	for i := range secret {
		secret[i] = byte(i * 31)
	}
	ppt := nwamp.Dict{"ppt_scheme": "x_app", "ppt_serializer": "cbor", "ppt_keyid": "k1"}
	got := make(chan *nwamp.Event, 2)
	for _, ser := range []serialize.Serialization{serialize.MSGPACK, serialize.CBOR} {
		if err := dial(ser).Subscribe("com.secret", func(ev *nwamp.Event) { got <- ev }, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := dial(serialize.MSGPACK).Publish("com.secret", ppt, nwamp.List{secret}, nil); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		select {
		case ev := <-got:
			for k, v := range ppt {
				if ev.Details[k] != v {
					t.Errorf("details[%s] = %v, want %v", k, ev.Details[k], v)
				}
			}
			if len(ev.Arguments) != 1 || !bytes.Equal(asBytes(ev.Arguments[0]), secret) {
				t.Errorf("arguments %T, want the publisher's bytes", ev.Arguments)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no EVENT")
		}
	}
}

func asBytes(v any) []byte {
	b, _ := v.([]byte)
	return b
}
