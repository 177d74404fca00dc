package router_test

import (
	"context"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strconv"
	"testing"

	"github.com/gammazero/nexus/v3/client"
	"github.com/gammazero/nexus/v3/transport/serialize"
	nexuswamp "github.com/gammazero/nexus/v3/wamp"

	"github.com/switchboard/switchboard/auth"
	"github.com/switchboard/switchboard/router/routertest"
)

// scramLogin returns nexus client options that log in with wamp-scram (the
// specification's dialect, PBKDF2 only) and record the verifier the client
// expects in WELCOME.
func scramLogin(authid, password string, verifier *string) func(*client.Config) {
	nonce := make([]byte, 16)
	_, _ = rand.Read(nonce)
	cnonce := base64.StdEncoding.EncodeToString(nonce)
	return func(c *client.Config) {
		c.HelloDetails = nexuswamp.Dict{"authid": authid, "authextra": nexuswamp.Dict{"nonce": cnonce, "channel_binding": nil}}
		c.AuthHandlers = map[string]client.AuthFunc{
			auth.MethodScram: func(ch *nexuswamp.Challenge) (string, nexuswamp.Dict) {
				n, _ := ch.Extra["nonce"].(string)
				s, _ := ch.Extra["salt"].(string)
				it, _ := nexuswamp.AsInt64(ch.Extra["iterations"])
				salt, _ := base64.StdEncoding.DecodeString(s)
				salted, _ := pbkdf2.Key(sha256.New, password, salt, int(it), 32)
				am := "n=" + authid + ",r=" + cnonce + ",r=" + n + ",s=" + s + ",i=" + strconv.FormatInt(it, 10) + ",c=biws,r=" + n
				mac := func(k []byte, m string) []byte { h := hmac.New(sha256.New, k); h.Write([]byte(m)); return h.Sum(nil) }
				ck := mac(salted, "Client Key")
				sk := sha256.Sum256(ck)
				sig := mac(sk[:], am)
				for i := range ck {
					ck[i] ^= sig[i]
				}
				*verifier = "v=" + base64.StdEncoding.EncodeToString(mac(mac(salted, "Server Key"), am))
				return base64.StdEncoding.EncodeToString(ck), nexuswamp.Dict{"nonce": n, "channel_binding": nil, "cbind_data": nil}
			},
		}
	}
}

// TestScramStaticAndDynamic joins with wamp-scram through the router's
// config: a static principal, and a dynamic authenticator (a procedure in
// another realm) that answers with the principal's keys.
func TestScramStaticAndDynamic(t *testing.T) {
	k, err := auth.DeriveScramKeys("sam-password", auth.KDFPBKDF2, []byte("0123456789abcdef"), 4096, 0)
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.StdEncoding.EncodeToString
	r := routertest.Run(t, parseConfig(t, fmt.Sprintf(`
transports:
  - type: websocket
    listen: 127.0.0.1:0
realms:
  - name: realm1
    auth:
      - method: wamp-scram
        principals:
          - {authid: sam, role: user, kdf: pbkdf2, iterations: 4096, salt: %[1]s, stored_key: %[2]s, server_key: %[3]s}
      - method: wamp-scram
        dynamic: {realm: mgmt, procedure: com.example.scram}
  - name: mgmt
`, b64(k.Salt), b64(k.StoredKey), b64(k.ServerKey))))
	url := r.URL("websocket")

	backend := mustDial(t, url, "mgmt", serialize.JSON)
	err = backend.Register("com.example.scram", func(_ context.Context, inv *nexuswamp.Invocation) client.InvokeResult {
		if len(inv.Arguments) < 2 || inv.Arguments[1] != "dyn" {
			return client.InvokeResult{Err: "wamp.error.authentication_failed"}
		}
		return client.InvokeResult{Args: nexuswamp.List{map[string]any{
			"role": "dynuser", "kdf": "pbkdf2", "iterations": 4096, "salt": b64(k.Salt),
			"stored_key": b64(k.StoredKey), "server_key": b64(k.ServerKey),
		}}}
	}, nil)
	if err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct{ authid, role, provider string }{{"sam", "user", "static"}, {"dyn", "dynuser", "dynamic"}} {
		for _, ser := range []serialize.Serialization{serialize.JSON, serialize.MSGPACK, serialize.CBOR} {
			var verifier string
			c := mustDial(t, url, "realm1", ser, scramLogin(tc.authid, "sam-password", &verifier))
			d := c.RealmDetails()
			ae, _ := nexuswamp.AsDict(d["authextra"])
			if d["authid"] != tc.authid || d["authrole"] != tc.role || d["authmethod"] != auth.MethodScram || d["authprovider"] != tc.provider || ae["verifier"] != verifier {
				t.Errorf("%s over %v: WELCOME %v, want verifier %s", tc.authid, ser, d, verifier)
			}
			_ = c.Close()
		}
		var verifier string
		if c, err := dialRealm(t, url, "realm1", serialize.JSON, scramLogin(tc.authid, "wrong", &verifier)); err == nil {
			_ = c.Close()
			t.Errorf("%s: joined with a wrong password", tc.authid)
		}
	}
}
