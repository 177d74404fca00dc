package codec

import (
	"bytes"
	"errors"
	"testing"

	"github.com/switchboard/switchboard/wamp"
)

// TestBareBinaryPayload: Autobahn's payload transparency puts one binary
// where Arguments|list goes. Every codec decodes it as a raw payload,
// passes it through to its own serializer untouched and converts it to
// the others as a binary (JSON: "\u0000" + base64).
func TestBareBinaryPayload(t *testing.T) {
	secret := bytes.Repeat([]byte{0, 1, 0xfe, 0xff, '"', '\\'}, 50)
	allCodecs(t, func(t *testing.T, c Codec) {
		frame := frameOf(t, c, list{int64(16), int64(1), dict{"enc_algo": "cryptobox"}, "com.t", secret})
		var m wamp.Message
		if err := c.Decode(frame, &m); err != nil {
			t.Fatalf("Decode: %v", err)
		}
		if m.Args.Raw == nil || m.Args.Ser != c.Serialization() {
			t.Fatalf("Args %+v, want the raw binary", m.Args)
		}
		for _, to := range wamp.Serializations {
			ev := wamp.Message{Type: wamp.EVENT, ID: 1, Publication: 2, Details: dict{}, Args: m.Args}
			out, err := For(to).Encode(nil, &ev)
			if err != nil {
				t.Fatalf("Encode to %v: %v", to, err)
			}
			var back wamp.Message
			if err := For(to).Decode(out, &back); err != nil {
				t.Fatalf("Decode %v: %v (%q)", to, err, out)
			}
			v, err := For(to).DecodeValue(back.Args.Raw)
			if err != nil {
				t.Fatal(err)
			}
			if b, ok := v.([]byte); !ok || !bytes.Equal(b, secret) {
				t.Errorf("to %v: payload %T, want the bytes", to, v)
			}
			if to == c.Serialization() && !bytes.Equal(back.Args.Raw, m.Args.Raw) {
				t.Errorf("to %v: raw payload changed", to)
			}
		}
	})
	// A string that is not a binary is still no payload.
	var m wamp.Message
	if err := For(wamp.JSON).Decode([]byte(`[16,1,{},"com.t","text"]`), &m); !errors.Is(err, ErrMalformed) {
		t.Errorf("JSON text in place of Arguments: %v, want ErrMalformed", err)
	}
}

func TestCheckPassthru(t *testing.T) {
	ppt := &wamp.Passthru{Scheme: "mqtt"}
	enc := &wamp.Passthru{EncAlgo: "cryptobox"}
	bin := []byte{1, 2, 3}
	for _, c := range []struct {
		name         string
		p            *wamp.Passthru
		args, kwargs wamp.Payload
		ok           bool
	}{
		{"ppt one binary", ppt, wamp.List(bin), wamp.Payload{}, true},
		{"ppt empty kwargs", ppt, wamp.List(bin), wamp.KW(map[string]any{}), true},
		{"ppt no payload", ppt, wamp.Payload{}, wamp.Payload{}, true},
		{"ppt two", ppt, wamp.List(bin, bin), wamp.Payload{}, false},
		{"ppt text", ppt, wamp.List("x"), wamp.Payload{}, false},
		{"ppt kwargs", ppt, wamp.List(bin), wamp.KW(map[string]any{"a": 1}), false},
		{"enc bare", enc, wamp.Payload{Value: bin}, wamp.Payload{}, true},
		{"enc list", enc, wamp.List(bin), wamp.Payload{}, false},
	} {
		for _, ser := range wamp.Serializations {
			args, kwargs := c.args, c.kwargs
			// Raw, as a reader hands them over.
			if !args.IsZero() {
				raw, err := For(ser).AppendValue(nil, args.Value)
				if err != nil {
					t.Fatal(err)
				}
				args = wamp.Payload{Raw: raw, Ser: ser}
			}
			err := CheckPassthru(c.p, args, kwargs)
			if (err == nil) != c.ok {
				t.Errorf("%s (%v): %v, want ok=%v", c.name, ser, err, c.ok)
			}
			if err != nil && !errors.Is(err, ErrPassthruPayload) {
				t.Errorf("%s: %v does not wrap ErrPassthruPayload", c.name, err)
			}
		}
	}
}
