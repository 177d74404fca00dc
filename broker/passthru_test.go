package broker

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/switchboard/switchboard/internal/fakepeer"
	"github.com/switchboard/switchboard/wamp"
	"github.com/switchboard/switchboard/wamp/codec"
)

// pptPeer returns a fake peer of serializer ser that announces payload
// passthru mode in every role.
func pptPeer(id wamp.ID, ser wamp.Serialization) *fakepeer.Peer {
	p := fakepeer.New(id)
	p.Ser = ser
	p.Features = map[string]bool{}
	for _, r := range []string{"publisher", "subscriber", "caller", "callee"} {
		p.Features[r+"."+wamp.FeaturePassthru] = true
		p.Features[r+"."+wamp.FeatureTransparency] = true
	}
	return p
}

// frameOf encodes m in ser and decodes it back, as a session's reader
// would hand it to the broker: the payload raw, borrowed from the frame.
func frameOf(t *testing.T, ser wamp.Serialization, m *wamp.Message) *wamp.Message {
	t.Helper()
	b, err := codec.For(ser).Encode(nil, m)
	if err != nil {
		t.Fatalf("encode %v: %v", m.Type, err)
	}
	var out wamp.Message
	if err := codec.For(ser).Decode(b, &out); err != nil {
		t.Fatalf("decode %v: %v", m.Type, err)
	}
	return &out
}

func argsValue(t *testing.T, p wamp.Payload) any {
	t.Helper()
	if p.Raw == nil {
		return p.Value
	}
	v, err := codec.For(p.Ser).DecodeValue(p.Raw)
	if err != nil {
		t.Fatalf("payload %q: %v", p.Raw, err)
	}
	return v
}

// secret is a binary payload with every byte value, NUL and invalid UTF-8
// included, so that any conversion to text would show.
func secret() []byte {
	b := make([]byte, 300)
	for i := range b {
		b[i] = byte(i * 7)
	}
	return b
}

// TestPassthruCrossSerializer: a binary ppt payload published over
// MsgPack reaches JSON, MsgPack and CBOR subscribers byte for byte, with
// the ppt_* attributes in EVENT.Details; the MsgPack subscriber gets the
// publisher's bytes untouched.
func TestPassthruCrossSerializer(t *testing.T) {
	for _, pubSer := range wamp.Serializations {
		t.Run("from "+pubSer.String(), func(t *testing.T) {
			b := New(Config{})
			subs := map[wamp.Serialization]*fakepeer.Peer{}
			for i, ser := range wamp.Serializations {
				subs[ser] = pptPeer(wamp.ID(10+i), ser)
				subscribe(t, b, subs[ser], 1, "com.example.secret")
			}
			pub := pptPeer(1, pubSer)
			opts := wamp.Dict{"ppt_scheme": "wamp", "ppt_serializer": "cbor", "ppt_cipher": "xsalsa20poly1305", "ppt_keyid": "0xAbC123"}
			m := frameOf(t, pubSer, &wamp.Message{Type: wamp.PUBLISH, Request: 1, Details: opts, URI: "com.example.secret", Args: wamp.List(secret())})
			if err := b.PublishTrust(pub, m, 0); err != nil {
				t.Fatal(err)
			}
			for ser, sub := range subs {
				ev := sub.Last()
				if ev == nil || ev.Type != wamp.EVENT {
					t.Fatalf("%v subscriber got %v, want EVENT", ser, ev)
				}
				for k, v := range opts {
					if ev.Details[k] != v {
						t.Errorf("%v subscriber: EVENT.Details[%s] = %v, want %v (details %v)", ser, k, ev.Details[k], v, ev.Details)
					}
				}
				l, ok := argsValue(t, ev.Args).([]any)
				if !ok || len(l) != 1 {
					t.Fatalf("%v subscriber: Arguments %v, want one binary", ser, argsValue(t, ev.Args))
				}
				if got, ok := l[0].([]byte); !ok || !bytes.Equal(got, secret()) {
					t.Errorf("%v subscriber: payload %T %x, want the publisher's bytes", ser, l[0], l[0])
				}
				if ser == pubSer && !bytes.Equal(ev.Args.Raw, m.Args.Raw) {
					t.Errorf("%v subscriber: raw Arguments %x, want the publisher's %x", ser, ev.Args.Raw, m.Args.Raw)
				}
				if !ev.Kwargs.IsZero() {
					t.Errorf("%v subscriber: ArgumentsKw %s, want none", ser, ev.Kwargs.Raw)
				}
			}
		})
	}
}

// TestPassthruAutobahn: Autobahn|Python's payload transparency (enc_algo,
// enc_key, enc_serializer and the payload as one binary in place of
// Arguments) is forwarded the same way.
func TestPassthruAutobahn(t *testing.T) {
	b := New(Config{})
	subs := map[wamp.Serialization]*fakepeer.Peer{}
	for i, ser := range wamp.Serializations {
		subs[ser] = pptPeer(wamp.ID(10+i), ser)
		subscribe(t, b, subs[ser], 1, "com.example.box")
	}
	opts := wamp.Dict{"enc_algo": "cryptobox", "enc_key": "c2VjcmV0IGtleQ==", "enc_serializer": "json"}
	m := frameOf(t, wamp.MsgPack, &wamp.Message{Type: wamp.PUBLISH, Request: 1, Details: opts, URI: "com.example.box", Args: wamp.Payload{Value: secret()}})
	if err := b.PublishTrust(pptPeer(1, wamp.MsgPack), m, 0); err != nil {
		t.Fatal(err)
	}
	for ser, sub := range subs {
		ev := sub.Last()
		if ev == nil || ev.Type != wamp.EVENT {
			t.Fatalf("%v subscriber got %v, want EVENT", ser, ev)
		}
		for k, v := range opts {
			if ev.Details[k] != v {
				t.Errorf("%v subscriber: EVENT.Details[%s] = %v, want %v", ser, k, ev.Details[k], v)
			}
		}
		if got, ok := argsValue(t, ev.Args).([]byte); !ok || !bytes.Equal(got, secret()) {
			t.Errorf("%v subscriber: payload %T, want the publisher's bytes in place of Arguments", ser, argsValue(t, ev.Args))
		}
		// The JSON frame carries it as the specification's "\u0000" +
		// base64.
		if raw := string(ev.Args.Raw); ser == wamp.JSON && !strings.HasPrefix(raw, `"\u0000`) {
			t.Errorf("JSON payload %.20s..., want a \"\\u0000\"+base64 string", raw)
		}
	}
}

func TestPassthruRejected(t *testing.T) {
	bin := `["\u0000AAEC"]`
	for _, c := range []struct {
		name, opts, payload string
		uri                 wamp.URI
		text                string
	}{
		{"scheme missing", `{"ppt_serializer":"cbor"}`, bin, wamp.ErrInvalidArgument, "ppt_scheme is required"},
		{"scheme not a string", `{"ppt_scheme":1}`, bin, wamp.ErrInvalidArgument, "ppt_scheme must be a string"},
		{"keyid not a string", `{"ppt_scheme":"x_my","ppt_keyid":[1]}`, bin, wamp.ErrInvalidArgument, "ppt_keyid must be a string"},
		{"unknown scheme", `{"ppt_scheme":"amqp"}`, bin, wamp.ErrInvalidArgument, `not "amqp"`},
		{"bare x_", `{"ppt_scheme":"x_"}`, bin, wamp.ErrInvalidArgument, "custom scheme"},
		{"wamp without serializer", `{"ppt_scheme":"wamp"}`, bin, wamp.ErrInvalidArgument, `needs ppt_serializer`},
		{"wamp with json", `{"ppt_scheme":"wamp","ppt_serializer":"json"}`, bin, wamp.ErrInvalidArgument, `needs ppt_serializer`},
		{"wamp bad cipher", `{"ppt_scheme":"wamp","ppt_serializer":"cbor","ppt_cipher":"rot13"}`, bin, wamp.ErrInvalidArgument, "ppt_cipher"},
		{"mqtt bad serializer", `{"ppt_scheme":"mqtt","ppt_serializer":"flatbuffers"}`, bin, wamp.ErrInvalidArgument, "ppt_serializer"},
		{"mqtt with cipher", `{"ppt_scheme":"mqtt","ppt_cipher":"aes256gcm"}`, bin, wamp.ErrInvalidArgument, "no ppt_cipher"},
		{"mixed forms", `{"ppt_scheme":"mqtt","enc_algo":"cryptobox"}`, bin, wamp.ErrInvalidArgument, "do not mix"},
		{"bad enc_algo", `{"enc_algo":"rot13"}`, `"\u0000AAEC"`, wamp.ErrInvalidArgument, "enc_algo"},
		{"enc_key alone", `{"enc_key":"k"}`, `"\u0000AAEC"`, wamp.ErrInvalidArgument, "enc_algo is required"},
		{"two arguments", `{"ppt_scheme":"mqtt"}`, `["\u0000AAEC","\u0000AAEC"]`, wamp.ErrInvalidArgument, "one binary item"},
		{"text argument", `{"ppt_scheme":"mqtt"}`, `["hello"]`, wamp.ErrInvalidArgument, "one binary item"},
		{"with kwargs", `{"ppt_scheme":"mqtt"}`, bin + `,{"a":1}`, wamp.ErrInvalidArgument, "ArgumentsKw"},
		{"enc_algo with a list", `{"enc_algo":"cryptobox"}`, bin, wamp.ErrInvalidArgument, "one binary in place"},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := New(Config{})
			sub := pptPeer(2, wamp.JSON)
			subscribe(t, b, sub, 1, "com.example.t")
			pub := pptPeer(1, wamp.JSON)
			if err := b.PublishTrust(pub, fakepeer.Decode(t, fmt.Sprintf(`[16,5,%s,"com.example.t",%s]`, c.opts, c.payload)), 0); err != nil {
				t.Fatalf("Publish returned %v, want no protocol violation", err)
			}
			m := pub.Last()
			if m == nil || m.Type != wamp.ERROR || m.ErrType != wamp.PUBLISH || m.Request != 5 || m.URI != c.uri {
				t.Fatalf("publisher got %v %v, want ERROR PUBLISH 5 %s", m, details(m), c.uri)
			}
			if msg := wamp.String(m.Details, "message"); !strings.Contains(msg, c.text) {
				t.Errorf("message %q, want it to say %q", msg, c.text)
			}
			if n := sub.Count(); n != 1 { // SUBSCRIBED only
				t.Errorf("subscriber got %d messages, want no EVENT", n-1)
			}
		})
	}
}

func details(m *wamp.Message) wamp.Dict {
	if m == nil {
		return nil
	}
	return m.Details
}

// TestPassthruNotAnnounced: ppt_* from a publisher that did not announce
// payload_passthru_mode is a protocol violation; the older enc_* is not.
func TestPassthruNotAnnounced(t *testing.T) {
	b := New(Config{})
	sub := pptPeer(2, wamp.JSON)
	subscribe(t, b, sub, 1, "com.example.t")
	pub := fakepeer.New(1)
	err := b.PublishTrust(pub, fakepeer.Decode(t, `[16,5,{"ppt_scheme":"mqtt"},"com.example.t",["\u0000AAEC"]]`), 0)
	if we, ok := err.(*wamp.Error); !ok || we.URI != wamp.ErrProtocolViolation {
		t.Fatalf("Publish = %v, want a protocol violation", err)
	}
	if sub.Count() != 1 {
		t.Errorf("subscriber got an EVENT of a publication that violated the protocol")
	}
	if err := b.PublishTrust(pub, fakepeer.Decode(t, `[16,6,{"enc_algo":"cryptobox"},"com.example.t","\u0000AAEC"]`), 0); err != nil {
		t.Errorf("enc_algo from a peer without payload_transparency: %v, want it forwarded", err)
	}
	if sub.Count() != 2 {
		t.Errorf("subscriber got no EVENT for enc_algo")
	}
}

// TestTrustLevelDetails: PublishTrust's level reaches every EVENT, with
// the topic of a pattern subscription, the disclosed publisher and the
// ppt_* attributes; Publish assigns none.
func TestTrustLevelDetails(t *testing.T) {
	b := New(Config{})
	exact, prefix := pptPeer(2, wamp.JSON), pptPeer(3, wamp.CBOR)
	subscribe(t, b, exact, 1, "com.example.t")
	b.Subscribe(prefix, fakepeer.Decode(t, `[32,1,{"match":"prefix"},"com.example"]`))
	pub := pptPeer(1, wamp.MsgPack)
	pub.AuthID, pub.AuthRole = "alice", "user"

	check := func(p *fakepeer.Peer, want wamp.Dict) {
		t.Helper()
		ev := p.Last()
		if ev == nil || ev.Type != wamp.EVENT {
			t.Fatalf("session %d got %v, want EVENT", p.ID, ev)
		}
		if len(ev.Details) != len(want) {
			t.Errorf("session %d: details %v, want %v", p.ID, ev.Details, want)
		}
		for k, v := range want {
			if got := ev.Details[k]; fmt.Sprint(got) != fmt.Sprint(v) {
				t.Errorf("session %d: details[%s] = %v, want %v (%v)", p.ID, k, got, v, ev.Details)
			}
		}
	}
	if err := b.PublishTrust(pub, fakepeer.Decode(t, `[16,1,{},"com.example.t",[1]]`), wamp.Trust(2)); err != nil {
		t.Fatal(err)
	}
	check(exact, wamp.Dict{"trustlevel": 2})
	check(prefix, wamp.Dict{"trustlevel": 2, "topic": "com.example.t"})

	if err := b.PublishTrust(pub, fakepeer.Decode(t, `[16,2,{"disclose_me":true,"ppt_scheme":"x_gw"},"com.example.t",["\u0000AAEC"]]`), wamp.Trust(0)); err != nil {
		t.Fatal(err)
	}
	check(exact, wamp.Dict{"trustlevel": 0, "ppt_scheme": "x_gw", "publisher": 1, "publisher_authid": "alice", "publisher_authrole": "user"})

	if err := b.PublishTrust(pub, fakepeer.Decode(t, `[16,3,{},"com.example.t",[1]]`), wamp.Trust(100)); err != nil {
		t.Fatal(err)
	}
	check(exact, wamp.Dict{"trustlevel": 100})

	b.Publish(pub, fakepeer.Decode(t, `[16,4,{},"com.example.t",[1]]`))
	check(exact, wamp.Dict{})
}

// TestTrustLevelRetained: a retained event keeps its trust level and
// passthru attributes for later subscribers.
func TestTrustLevelRetained(t *testing.T) {
	b := New(Config{})
	pub := pptPeer(1, wamp.JSON)
	if err := b.PublishTrust(pub, fakepeer.Decode(t, `[16,1,{"retain":true,"ppt_scheme":"mqtt","ppt_serializer":"native"},"com.example.r",["\u0000AAEC"]]`), wamp.Trust(3)); err != nil {
		t.Fatal(err)
	}
	sub := pptPeer(2, wamp.CBOR)
	b.Subscribe(sub, fakepeer.Decode(t, `[32,1,{"get_retained":true},"com.example.r"]`))
	ev := sub.Last()
	if ev == nil || ev.Type != wamp.EVENT {
		t.Fatalf("got %v, want the retained EVENT", ev)
	}
	if n, _ := wamp.Int(ev.Details, "trustlevel"); n != 3 || ev.Details["ppt_scheme"] != "mqtt" || ev.Details["ppt_serializer"] != "native" || ev.Details["retained"] != true {
		t.Errorf("retained EVENT details %v, want trustlevel 3, the ppt_* attributes and retained", ev.Details)
	}
	pubd, _ := b.RetainedEvent("com.example.r")
	if n, ok := pubd.Trust.Level(); !ok || n != 3 || pubd.Passthru == nil || pubd.Passthru.Scheme != "mqtt" {
		t.Errorf("RetainedEvent = trust %v, passthru %+v; want 3 and mqtt", pubd.Trust, pubd.Passthru)
	}
}
