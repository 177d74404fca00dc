package wamp

import (
	"strings"
	"testing"
)

func TestParsePassthru(t *testing.T) {
	for _, c := range []struct {
		opts Dict
		want Passthru
		err  string
	}{
		{Dict{"acknowledge": true}, Passthru{}, ""},
		{Dict{"ppt_scheme": "wamp", "ppt_serializer": "cbor", "ppt_cipher": "aes256gcm", "ppt_keyid": "0x1"}, Passthru{Scheme: "wamp", Serializer: "cbor", Cipher: "aes256gcm", KeyID: "0x1"}, ""},
		{Dict{"ppt_scheme": "wamp", "ppt_serializer": "flatbuffers"}, Passthru{Scheme: "wamp", Serializer: "flatbuffers"}, ""},
		{Dict{"ppt_scheme": "mqtt"}, Passthru{Scheme: "mqtt"}, ""},
		{Dict{"ppt_scheme": "mqtt", "ppt_serializer": "native"}, Passthru{Scheme: "mqtt", Serializer: "native"}, ""},
		{Dict{"ppt_scheme": "x_my_ppt", "ppt_serializer": "custom", "ppt_cipher": "custom", "ppt_keyid": "custom"}, Passthru{Scheme: "x_my_ppt", Serializer: "custom", Cipher: "custom", KeyID: "custom"}, ""},
		{Dict{"ppt_unknown": 5, "ppt_scheme": "mqtt"}, Passthru{Scheme: "mqtt"}, ""},
		{Dict{"enc_algo": "cryptobox", "enc_key": "k", "enc_serializer": "json"}, Passthru{EncAlgo: "cryptobox", EncKey: "k", EncSerializer: "json"}, ""},
		{Dict{"enc_algo": "x_mine"}, Passthru{EncAlgo: "x_mine"}, ""},
		{Dict{"ppt_cipher": "aes256gcm"}, Passthru{}, "ppt_scheme is required"},
		{Dict{"ppt_scheme": true}, Passthru{}, "must be a string"},
		{Dict{"ppt_scheme": "MQTT"}, Passthru{}, "ppt_scheme must be"},
		{Dict{"ppt_scheme": "wamp", "ppt_serializer": "native"}, Passthru{}, "needs ppt_serializer"},
		{Dict{"ppt_scheme": "wamp", "ppt_serializer": "cbor", "ppt_cipher": "des"}, Passthru{}, "ppt_cipher"},
		{Dict{"ppt_scheme": "mqtt", "ppt_keyid": "k"}, Passthru{}, "no ppt_cipher or ppt_keyid"},
		{Dict{"ppt_scheme": "mqtt", "enc_algo": "cryptobox"}, Passthru{}, "do not mix"},
		{Dict{"enc_algo": "aes"}, Passthru{}, "enc_algo must be"},
		{Dict{"enc_algo": "cryptobox", "enc_serializer": "xml"}, Passthru{}, "enc_serializer"},
		{Dict{"enc_serializer": "json"}, Passthru{}, "enc_algo is required"},
	} {
		got, err := ParsePassthru(c.opts)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%v: error %v, want %q", c.opts, err, c.err)
			} else if we, ok := err.(*Error); !ok || we.URI != ErrInvalidArgument {
				t.Errorf("%v: %v, want invalid_argument", c.opts, err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%v: %+v, %v; want %+v", c.opts, got, err, c.want)
		}
		if d := got.Dict(); len(d) != got.Len() {
			t.Errorf("%v: Dict %v of %d members", c.opts, d, got.Len())
		}
	}
}

func TestTrustLevel(t *testing.T) {
	var none TrustLevel
	if _, ok := none.Level(); ok || none.Details() != nil {
		t.Error("the zero TrustLevel is a level")
	}
	for _, n := range []int64{0, 1, 15, 16, MaxTrustLevel} {
		tl := Trust(n)
		if got, ok := tl.Level(); !ok || got != n {
			t.Errorf("Trust(%d).Level() = %d, %v", n, got, ok)
		}
		if d := tl.Details(); d["trustlevel"] != n || len(d) != 1 {
			t.Errorf("Trust(%d).Details() = %v", n, d)
		}
	}
	for _, v := range []any{int64(-1), int64(MaxTrustLevel + 1), "2", 1.5} {
		if _, ok := ParseTrustLevel(v); ok {
			t.Errorf("ParseTrustLevel(%v) took it", v)
		}
	}
	if tl, ok := ParseTrustLevel(uint64(4)); !ok || tl != Trust(4) {
		t.Errorf("ParseTrustLevel(uint64 4) = %v, %v", tl, ok)
	}
}
