package dealer

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/switchboard/switchboard/internal/fakepeer"
	"github.com/switchboard/switchboard/wamp"
	"github.com/switchboard/switchboard/wamp/codec"
)

var (
	pptCaller = []string{"caller.payload_passthru_mode"}
	pptCallee = []string{"callee.payload_passthru_mode", "callee.progressive_call_results", "callee.call_canceling"}
)

// sendCall sends CALL req with options (JSON) and returns what Call
// returned.
func sendCall(t *testing.T, d *Dealer, caller *fakepeer.Peer, req int, opts, proc, payload string) error {
	t.Helper()
	return d.Call(caller, fakepeer.Decode(t, fmt.Sprintf(`[48,%d,%s,%q,%s]`, req, opts, proc, payload)))
}

func wantDetails(t *testing.T, m *wamp.Message, want wamp.Dict) {
	t.Helper()
	if len(m.Details) != len(want) {
		t.Errorf("%v details %v, want %v", m.Type, m.Details, want)
	}
	for k, v := range want {
		if fmt.Sprint(m.Details[k]) != fmt.Sprint(v) {
			t.Errorf("%v details[%s] = %v, want %v (%v)", m.Type, k, m.Details[k], v, m.Details)
		}
	}
}

const pptOpts = `{"ppt_scheme":"wamp","ppt_serializer":"cbor","ppt_cipher":"xsalsa20poly1305","ppt_keyid":"0xab"}`

var pptWant = wamp.Dict{"ppt_scheme": "wamp", "ppt_serializer": "cbor", "ppt_cipher": "xsalsa20poly1305", "ppt_keyid": "0xab"}

func withPPT(extra wamp.Dict) wamp.Dict {
	d := wamp.Dict{}
	for k, v := range pptWant {
		d[k] = v
	}
	for k, v := range extra {
		d[k] = v
	}
	return d
}

// TestPassthruRoundTrip: ppt_* of CALL reach INVOCATION.Details (with the
// trust level), those of YIELD reach RESULT.Details (progressive too),
// and those of ERROR the caller's ERROR; the payload passes as it came.
func TestPassthruRoundTrip(t *testing.T) {
	d := New(Config{})
	callee, caller := peer(1, pptCallee...), peer(2, pptCaller...)
	registerOpts(t, d, callee, 1, `{}`, "com.example.secret")

	if err := d.CallTrust(caller, fakepeer.Decode(t, `[48,1,`+pptOpts+`,"com.example.secret",["\u0000AAEC"]]`), wamp.Trust(4)); err != nil {
		t.Fatal(err)
	}
	inv := one(t, callee, wamp.INVOCATION)
	wantDetails(t, inv, withPPT(wamp.Dict{"trustlevel": 4}))
	if string(inv.Args.Raw) != `["\u0000AAEC"]` {
		t.Errorf("INVOCATION payload %s, want the caller's", inv.Args.Raw)
	}
	if err := yield(t, d, callee, inv.Request, `{"ppt_scheme":"x_mine","ppt_keyid":"k2"}`, `["\u0000AQID"]`); err != nil {
		t.Fatal(err)
	}
	res := one(t, caller, wamp.RESULT)
	wantDetails(t, res, wamp.Dict{"ppt_scheme": "x_mine", "ppt_keyid": "k2"})
	if string(res.Args.Raw) != `["\u0000AQID"]` {
		t.Errorf("RESULT payload %s, want the callee's", res.Args.Raw)
	}

	// Progressive results keep theirs.
	if err := sendCall(t, d, caller, 2, `{"receive_progress":true,"ppt_scheme":"mqtt"}`, "com.example.secret", `["\u0000AAEC"]`); err != nil {
		t.Fatal(err)
	}
	inv = one(t, callee, wamp.INVOCATION)
	wantDetails(t, inv, wamp.Dict{"receive_progress": true, "ppt_scheme": "mqtt"})
	if err := yield(t, d, callee, inv.Request, `{"progress":true,"ppt_scheme":"mqtt"}`, `["\u0000AAEC"]`); err != nil {
		t.Fatal(err)
	}
	wantDetails(t, one(t, caller, wamp.RESULT), wamp.Dict{"progress": true, "ppt_scheme": "mqtt"})
	// An ERROR's details go as they are.
	if err := d.Error(callee, fakepeer.Decode(t, fmt.Sprintf(`[8,68,%d,{"ppt_scheme":"mqtt"},"com.example.oops",["\u0000AAEC"]]`, inv.Request))); err != nil {
		t.Fatal(err)
	}
	e := wantCallError(t, caller, 2, "com.example.oops", "")
	wantDetails(t, e, wamp.Dict{"ppt_scheme": "mqtt"})
	checkEmpty(t, d)
}

// TestPassthruCrossSerializer: a MsgPack caller's binary ppt payload
// reaches JSON and CBOR callees byte for byte.
func TestPassthruCrossSerializer(t *testing.T) {
	secret := make([]byte, 256)
	for i := range secret {
		secret[i] = byte(255 - i)
	}
	for _, ser := range []wamp.Serialization{wamp.JSON, wamp.CBOR, wamp.MsgPack} {
		t.Run(ser.String(), func(t *testing.T) {
			d := New(Config{})
			callee, caller := peer(1, pptCallee...), peer(2, pptCaller...)
			callee.Ser, caller.Ser = ser, wamp.MsgPack
			registerOpts(t, d, callee, 1, `{}`, "com.example.secret")
			frame, err := codec.For(wamp.MsgPack).Encode(nil, &wamp.Message{Type: wamp.CALL, Request: 1, URI: "com.example.secret",
				Details: wamp.Dict{"ppt_scheme": "mqtt", "ppt_serializer": "native"}, Args: wamp.List(secret)})
			if err != nil {
				t.Fatal(err)
			}
			var m wamp.Message
			if err := codec.For(wamp.MsgPack).Decode(frame, &m); err != nil {
				t.Fatal(err)
			}
			if err := d.Call(caller, &m); err != nil {
				t.Fatal(err)
			}
			inv := one(t, callee, wamp.INVOCATION)
			wantDetails(t, inv, wamp.Dict{"ppt_scheme": "mqtt", "ppt_serializer": "native"})
			v, err := codec.For(ser).DecodeValue(inv.Args.Raw)
			if err != nil {
				t.Fatal(err)
			}
			if l, ok := v.([]any); !ok || len(l) != 1 || !bytes.Equal(l[0].([]byte), secret) {
				t.Errorf("%v callee got %v, want the caller's bytes", ser, v)
			}
		})
	}
}

func TestPassthruFeatures(t *testing.T) {
	t.Run("caller did not announce", func(t *testing.T) {
		d := New(Config{})
		callee, caller := peer(1, pptCallee...), peer(2)
		registerOpts(t, d, callee, 1, `{}`, "com.example.p")
		err := sendCall(t, d, caller, 1, `{"ppt_scheme":"mqtt"}`, "com.example.p", `["\u0000AAEC"]`)
		if we, ok := err.(*wamp.Error); !ok || we.URI != wamp.ErrProtocolViolation {
			t.Fatalf("Call = %v, want a protocol violation", err)
		}
		none(t, callee)
	})
	t.Run("callee did not announce", func(t *testing.T) {
		d := New(Config{})
		callee, caller := peer(1), peer(2, pptCaller...)
		registerOpts(t, d, callee, 1, `{}`, "com.example.p")
		if err := sendCall(t, d, caller, 1, `{"ppt_scheme":"mqtt"}`, "com.example.p", `["\u0000AAEC"]`); err != nil {
			t.Fatal(err)
		}
		wantCallError(t, caller, 1, wamp.ErrFeatureNotSupported, "payload_passthru_mode")
		none(t, callee)
		checkEmpty(t, d)
	})
	t.Run("router procedure", func(t *testing.T) {
		d := New(Config{})
		caller := peer(2, pptCaller...)
		if err := d.RegisterLocal("com.example.local", func(Peer, *wamp.Message) (wamp.Payload, wamp.Payload, error) {
			t.Error("the procedure ran")
			return wamp.Payload{}, wamp.Payload{}, nil
		}); err != nil {
			t.Skip("no RegisterLocal:", err)
		}
		if err := sendCall(t, d, caller, 1, `{"ppt_scheme":"mqtt"}`, "com.example.local", `["\u0000AAEC"]`); err != nil {
			t.Fatal(err)
		}
		wantCallError(t, caller, 1, wamp.ErrFeatureNotSupported, "")
	})
	t.Run("callee yields to a caller without it", func(t *testing.T) {
		d := New(Config{})
		callee, caller := peer(1, pptCallee...), peer(2)
		registerOpts(t, d, callee, 1, `{}`, "com.example.p")
		callOpts(t, d, caller, 1, `{}`, "com.example.p", `[]`)
		inv := one(t, callee, wamp.INVOCATION)
		if err := yield(t, d, callee, inv.Request, `{"ppt_scheme":"mqtt"}`, `["\u0000AAEC"]`); err != nil {
			t.Fatal(err)
		}
		wantCallError(t, caller, 1, wamp.ErrFeatureNotSupported, "caller")
		if m := one(t, callee, wamp.INTERRUPT); m.Request != inv.Request {
			t.Errorf("INTERRUPT for %d, want %d", m.Request, inv.Request)
		}
	})
	t.Run("callee yields without announcing", func(t *testing.T) {
		d := New(Config{})
		callee, caller := peer(1), peer(2, pptCaller...)
		registerOpts(t, d, callee, 1, `{}`, "com.example.p")
		callOpts(t, d, caller, 1, `{}`, "com.example.p", `[]`)
		inv := one(t, callee, wamp.INVOCATION)
		err := yield(t, d, callee, inv.Request, `{"ppt_scheme":"mqtt"}`, `["\u0000AAEC"]`)
		if we, ok := err.(*wamp.Error); !ok || we.URI != wamp.ErrProtocolViolation {
			t.Fatalf("Yield = %v, want a protocol violation", err)
		}
		none(t, caller)
		err = d.Error(callee, fakepeer.Decode(t, fmt.Sprintf(`[8,68,%d,{"ppt_scheme":"mqtt"},"com.example.oops"]`, inv.Request)))
		if we, ok := err.(*wamp.Error); !ok || we.URI != wamp.ErrProtocolViolation {
			t.Fatalf("Error = %v, want a protocol violation", err)
		}
	})
	t.Run("callee errs to a caller without it", func(t *testing.T) {
		d := New(Config{})
		callee, caller := peer(1, pptCallee...), peer(2)
		registerOpts(t, d, callee, 1, `{}`, "com.example.p")
		callOpts(t, d, caller, 1, `{}`, "com.example.p", `[]`)
		inv := one(t, callee, wamp.INVOCATION)
		if err := d.Error(callee, fakepeer.Decode(t, fmt.Sprintf(`[8,68,%d,{"ppt_scheme":"mqtt"},"com.example.oops",["\u0000AAEC"]]`, inv.Request))); err != nil {
			t.Fatal(err)
		}
		wantCallError(t, caller, 1, wamp.ErrFeatureNotSupported, "com.example.oops")
		checkEmpty(t, d)
	})
	t.Run("Autobahn enc_algo", func(t *testing.T) {
		d := New(Config{})
		callee := peer(1, "callee.payload_transparency")
		caller := peer(2, "caller.payload_transparency")
		registerOpts(t, d, callee, 1, `{}`, "com.example.p")
		if err := sendCall(t, d, caller, 1, `{"enc_algo":"cryptobox","enc_key":"a2V5","enc_serializer":"json"}`, "com.example.p", `"\u0000AAEC"`); err != nil {
			t.Fatal(err)
		}
		inv := one(t, callee, wamp.INVOCATION)
		wantDetails(t, inv, wamp.Dict{"enc_algo": "cryptobox", "enc_key": "a2V5", "enc_serializer": "json"})
		if string(inv.Args.Raw) != `"\u0000AAEC"` {
			t.Errorf("INVOCATION payload %s, want the bare binary", inv.Args.Raw)
		}
		if err := yield(t, d, callee, inv.Request, `{"enc_algo":"cryptobox","enc_serializer":"json"}`, `"\u0000AQID"`); err != nil {
			t.Fatal(err)
		}
		res := one(t, caller, wamp.RESULT)
		wantDetails(t, res, wamp.Dict{"enc_algo": "cryptobox", "enc_serializer": "json"})
		if string(res.Args.Raw) != `"\u0000AQID"` {
			t.Errorf("RESULT payload %s, want the bare binary", res.Args.Raw)
		}
		// A callee without payload_transparency cannot take it.
		plain := peer(3)
		registerOpts(t, d, plain, 2, `{}`, "com.example.plain")
		if err := sendCall(t, d, caller, 2, `{"enc_algo":"cryptobox"}`, "com.example.plain", `"\u0000AAEC"`); err != nil {
			t.Fatal(err)
		}
		wantCallError(t, caller, 2, wamp.ErrFeatureNotSupported, "payload_transparency")
	})
}

func TestPassthruInvalid(t *testing.T) {
	for _, c := range []struct{ opts, payload, text string }{
		{`{"ppt_scheme":""}`, `["\u0000AAEC"]`, ""},
		{`{"ppt_scheme":"mqtt","ppt_serializer":5}`, `["\u0000AAEC"]`, "ppt_serializer must be a string"},
		{`{"ppt_scheme":"nope"}`, `["\u0000AAEC"]`, "ppt_scheme"},
		{`{"ppt_scheme":"wamp","ppt_serializer":"msgpack"}`, `["\u0000AAEC"]`, "ppt_serializer"},
		{`{"ppt_scheme":"mqtt"}`, `[1,2]`, "one binary item"},
		{`{"ppt_scheme":"mqtt"}`, `["\u0000AAEC"],{"k":1}`, "ArgumentsKw"},
	} {
		d := New(Config{})
		callee, caller := peer(1, pptCallee...), peer(2, pptCaller...)
		registerOpts(t, d, callee, 1, `{}`, "com.example.p")
		if err := sendCall(t, d, caller, 1, c.opts, "com.example.p", c.payload); err != nil {
			t.Fatalf("%s: %v", c.opts, err)
		}
		if c.opts == `{"ppt_scheme":""}` {
			// An empty scheme with nothing else is no passthru at all.
			one(t, callee, wamp.INVOCATION)
			continue
		}
		wantCallError(t, caller, 1, wamp.ErrInvalidArgument, c.text)
		none(t, callee)
	}
}

// TestCallTrustLevel: CallTrust's level reaches INVOCATION.Details, with
// the other details; Call assigns none.
func TestCallTrustLevel(t *testing.T) {
	d := New(Config{})
	callee, caller := peer(1, pptCallee...), peer(2, pptCaller...)
	registerOpts(t, d, callee, 1, `{}`, "com.example.t")
	registerOpts(t, d, callee, 2, `{"match":"prefix"}`, "com.example.pre")
	for _, c := range []struct {
		trust wamp.TrustLevel
		opts  string
		proc  string
		want  wamp.Dict
	}{
		{wamp.Trust(0), `{}`, "com.example.t", wamp.Dict{"trustlevel": 0}},
		{wamp.Trust(7), `{}`, "com.example.t", wamp.Dict{"trustlevel": 7}},
		{wamp.Trust(1000), `{}`, "com.example.t", wamp.Dict{"trustlevel": 1000}},
		{wamp.Trust(1), `{"disclose_me":true}`, "com.example.t", wamp.Dict{"trustlevel": 1, "caller": 2, "caller_authid": "user2", "caller_authrole": "role"}},
		{wamp.Trust(2), `{}`, "com.example.pre.x", wamp.Dict{"trustlevel": 2, "procedure": "com.example.pre.x"}},
		{0, `{}`, "com.example.t", wamp.Dict{}},
	} {
		if err := d.CallTrust(caller, fakepeer.Decode(t, fmt.Sprintf(`[48,1,%s,%q,[]]`, c.opts, c.proc)), c.trust); err != nil {
			t.Fatal(err)
		}
		inv := one(t, callee, wamp.INVOCATION)
		wantDetails(t, inv, c.want)
		if err := yield(t, d, callee, inv.Request, `{}`); err != nil {
			t.Fatal(err)
		}
		one(t, caller, wamp.RESULT)
	}
}
