package codec

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/switchboard/switchboard/wamp"
)

// frameOf encodes v (usually a []any standing for a message array) with c,
// which lets one table describe bad frames for every serializer.
func frameOf(t *testing.T, c Codec, v any) []byte {
	t.Helper()
	b, err := c.AppendValue(nil, v)
	if err != nil {
		t.Fatalf("AppendValue(%#v): %v", v, err)
	}
	return b
}

type list = []any
type dict = map[string]any

func TestDecodeMalformed(t *testing.T) {
	cases := []struct {
		name  string
		frame any
		want  error  // ErrMalformed or ErrUnknownType
		msg   string // substring of the error, if set
	}{
		{"dict", dict{"a": int64(1)}, ErrMalformed, "array"},
		{"string", "hello", ErrMalformed, "array"},
		{"int", int64(16), ErrMalformed, "array"},
		{"null", nil, ErrMalformed, "array"},
		{"empty array", list{}, ErrMalformed, "empty"},
		{"type string", list{"16", int64(1)}, ErrMalformed, "type"},
		{"type float", list{1.5}, ErrMalformed, "type"},
		{"type integral float", list{16.0, int64(1), dict{}, "t"}, ErrMalformed, "type"},
		{"type list", list{list{}}, ErrMalformed, "type"},
		{"type 0", list{int64(0)}, ErrUnknownType, ""},
		{"type 7", list{int64(7), int64(1)}, ErrUnknownType, "7"},
		{"type 255", list{int64(255)}, ErrUnknownType, ""},
		{"type 256", list{int64(256)}, ErrUnknownType, ""},
		{"type 16+256", list{int64(16 + 256), int64(1), dict{}, "t"}, ErrUnknownType, ""},
		{"type -1", list{int64(-1)}, ErrUnknownType, ""},
		{"type -16", list{int64(-16), int64(1), dict{}, "t"}, ErrUnknownType, ""},
		{"type huge", list{uint64(math.MaxUint64)}, ErrUnknownType, ""},
		{"type min int", list{int64(math.MinInt64)}, ErrUnknownType, ""},
		{"publish too few", list{int64(16), int64(1), dict{}}, ErrMalformed, "PUBLISH: 3 elements, need at least 4"},
		{"hello too few", list{int64(1)}, ErrMalformed, "HELLO: 1 elements"},
		{"unsubscribed too few", list{int64(35)}, ErrMalformed, "need at least 2"},
		{"request string", list{int64(16), "1", dict{}, "t"}, ErrMalformed, "field 1 (Request)"},
		{"request float", list{int64(16), 1.0, dict{}, "t"}, ErrMalformed, "field 1 (Request)"},
		{"request bool", list{int64(16), true, dict{}, "t"}, ErrMalformed, "field 1 (Request)"},
		{"request null", list{int64(16), nil, dict{}, "t"}, ErrMalformed, "field 1 (Request)"},
		{"request negative", list{int64(16), int64(-1), dict{}, "t"}, ErrMalformed, "field 1 (Request)"},
		{"request 2^53+1", list{int64(16), int64(wamp.MaxID + 1), dict{}, "t"}, ErrMalformed, "[0, 2^53]"},
		{"request 2^64-1", list{int64(16), uint64(math.MaxUint64), dict{}, "t"}, ErrMalformed, "field 1 (Request)"},
		{"subscription negative", list{int64(36), int64(-5), int64(1), dict{}}, ErrMalformed, "field 1 (Subscription)"},
		{"publication too big", list{int64(36), int64(5), int64(wamp.MaxID + 1), dict{}}, ErrMalformed, "field 2 (Publication)"},
		{"session string", list{int64(2), "x", dict{}}, ErrMalformed, "field 1 (Session)"},
		{"options list", list{int64(16), int64(1), list{}, "t"}, ErrMalformed, "field 2 (Options) must be a dict"},
		{"options null", list{int64(16), int64(1), nil, "t"}, ErrMalformed, "field 2 (Options) must be a dict"},
		{"options string", list{int64(16), int64(1), "{}", "t"}, ErrMalformed, "field 2 (Options) must be a dict"},
		{"details int", list{int64(36), int64(1), int64(2), int64(3)}, ErrMalformed, "field 3 (Details) must be a dict"},
		{"topic int", list{int64(16), int64(1), dict{}, int64(5)}, ErrMalformed, "PUBLISH: field 3 (Topic) must be a string"},
		{"topic null", list{int64(16), int64(1), dict{}, nil}, ErrMalformed, "field 3 (Topic) must be a string"},
		{"topic binary", list{int64(16), int64(1), dict{}, []byte("t")}, ErrMalformed, "field 3 (Topic) must be a string"},
		{"topic leading NUL", list{int64(16), int64(1), dict{}, "\x00AQI="}, ErrMalformed, "field 3 (Topic) must be a string, not binary"},
		{"realm dict", list{int64(1), dict{}, dict{}}, ErrMalformed, "field 1 (Realm)"},
		{"authmethod int", list{int64(4), int64(1), dict{}}, ErrMalformed, "field 1 (AuthMethod)"},
		{"reason list", list{int64(6), dict{}, list{}}, ErrMalformed, "field 2 (Reason)"},
		{"args dict", list{int64(16), int64(1), dict{}, "t", dict{}}, ErrMalformed, "field 4 (Arguments) must be a list"},
		{"args string", list{int64(48), int64(1), dict{}, "p", "x"}, ErrMalformed, "field 4 (Arguments)"},
		{"kwargs list", list{int64(16), int64(1), dict{}, "t", list{}, list{}}, ErrMalformed, "field 5 (ArgumentsKw) must be a dict"},
		{"extra after kwargs", list{int64(16), int64(1), dict{}, "t", list{}, dict{}, int64(1)}, ErrMalformed, "more than 6 elements"},
		{"extra on subscribed", list{int64(33), int64(1), int64(2), int64(3)}, ErrMalformed, "more than 3"},
		{"extra on unsubscribed", list{int64(35), int64(1), dict{}, dict{}}, ErrMalformed, "more than"},
		{"extra on subscribe", list{int64(32), int64(1), dict{}, "t", list{}}, ErrMalformed, "more than"},
		{"errtype unknown", list{int64(8), int64(99), int64(1), dict{}, "e"}, ErrMalformed, "field 1 (Type)"},
		{"errtype string", list{int64(8), "CALL", int64(1), dict{}, "e"}, ErrMalformed, "field 1 (Type)"},
		{"errtype negative", list{int64(8), int64(-48), int64(1), dict{}, "e"}, ErrMalformed, "field 1 (Type)"},
		{"errtype too big", list{int64(8), int64(48 + 256), int64(1), dict{}, "e"}, ErrMalformed, "field 1 (Type)"},
		{"unsubscribed details int", list{int64(35), int64(1), int64(2)}, ErrMalformed, "field 2 (Details)"},
	}
	allCodecs(t, func(t *testing.T, c Codec) {
		for _, tc := range cases {
			frame := frameOf(t, c, tc.frame)
			var m wamp.Message
			m.URI = "stale"
			err := c.Decode(frame, &m)
			if !errors.Is(err, tc.want) {
				t.Errorf("%s: Decode(%q) = %v, want %v", tc.name, frame, err, tc.want)
				continue
			}
			if tc.msg != "" && !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("%s: error %q does not mention %q", tc.name, err, tc.msg)
			}
			if tc.want == ErrMalformed && errors.Is(err, ErrUnknownType) || tc.want == ErrUnknownType && errors.Is(err, ErrMalformed) {
				t.Errorf("%s: %v is both malformed and unknown", tc.name, err)
			}
		}
	})
}

// TestDecodeEdgeIDs checks the ends of the id range.
func TestDecodeEdgeIDs(t *testing.T) {
	allCodecs(t, func(t *testing.T, c Codec) {
		for _, id := range []uint64{0, 1, 255, 256, 65535, 65536, 1<<32 - 1, 1 << 32, wamp.MaxID} {
			var m wamp.Message
			if err := c.Decode(frameOf(t, c, list{int64(17), id, id}), &m); err != nil {
				t.Fatalf("id %d: %v", id, err)
			}
			if m.Request != wamp.ID(id) || m.ID != wamp.ID(id) {
				t.Fatalf("id %d: got %+v", id, m)
			}
		}
	})
}

// TestDecodeTruncated cuts valid frames at every length: each proper prefix
// must be rejected.
func TestDecodeTruncated(t *testing.T) {
	allCodecs(t, func(t *testing.T, c Codec) {
		for _, m := range sampleMessages() {
			frame, err := c.Encode(nil, m)
			if err != nil {
				t.Fatal(err)
			}
			for n := range len(frame) {
				var got wamp.Message
				if err := c.Decode(frame[:n], &got); !errors.Is(err, ErrMalformed) {
					t.Fatalf("%v cut at %d of %d: %v (%q)", m.Type, n, len(frame), err, frame[:n])
				}
			}
		}
	})
}

// TestDecodeTrailing appends garbage after valid frames.
func TestDecodeTrailing(t *testing.T) {
	allCodecs(t, func(t *testing.T, c Codec) {
		for _, m := range sampleMessages() {
			frame, err := c.Encode(nil, m)
			if err != nil {
				t.Fatal(err)
			}
			for _, tail := range []string{"x", "\x00", "[]", "1", "\xc0", "\xff"} {
				var got wamp.Message
				bad := append(frame[:len(frame):len(frame)], tail...)
				if err := c.Decode(bad, &got); !errors.Is(err, ErrMalformed) {
					t.Fatalf("%v + %q: %v", m.Type, tail, err)
				}
			}
		}
	})
}

// TestDecodeMalformedBytes covers what AppendValue cannot build.
func TestDecodeMalformedBytes(t *testing.T) {
	cases := []struct {
		ser   wamp.Serialization
		name  string
		frame string
	}{
		{wamp.JSON, "empty", ``},
		{wamp.JSON, "space", ` `},
		{wamp.JSON, "unclosed", `[16,1,{},"t"`},
		{wamp.JSON, "trailing comma", `[16,1,{},"t",]`},
		{wamp.JSON, "two arrays", `[17,1,2][17,1,2]`},
		{wamp.JSON, "bad escape", `[16,1,{},"t\q"]`},
		{wamp.JSON, "bad utf8 topic", "[16,1,{},\"t\xff\"]"},
		{wamp.JSON, "bad utf8 payload", "[16,1,{},\"t\",[\"\xff\"]]"},
		{wamp.JSON, "binary topic", `[16,1,{},"\u0000AAA="]`},
		{wamp.JSON, "number out of range", `[16,1,{"x":1e400},"t"]`},
		{wamp.JSON, "details bad", `[16,1,{"x":tru},"t"]`},
		{wamp.JSON, "details unclosed", `[16,1,{"x":[1,2},"t"]`},
		{wamp.JSON, "type exponent", `[1.6e1,1,{},"t"]`},
		{wamp.JSON, "id exponent", `[16,1e0,{},"t"]`},
		{wamp.JSON, "id negative zero", `[16,-0,{},"t"]`},
		{wamp.JSON, "id 2^64", `[16,18446744073709551616,{},"t"]`},
		{wamp.JSON, "type huge unclosed", `[123456789012345678901234567890,1`},
		{wamp.JSON, "payload unclosed", `[16,1,{},"t",[1,2}]`},
		{wamp.JSON, "garbage", `hello`},
		{wamp.MsgPack, "empty", ""},
		{wamp.MsgPack, "nil", "\xc0"},
		{wamp.MsgPack, "reserved byte", "\xc1"},
		{wamp.MsgPack, "details int key", "\x94\x10\x01\x81\x01\x02\xa1t"},
		{wamp.MsgPack, "details bin key", "\x94\x10\x01\x81\xc4\x01k\x02\xa1t"},
		{wamp.MsgPack, "details ext", "\x94\x10\x01\x81\xa1k\xd4\x05\x00\xa1t"},
		{wamp.MsgPack, "details timestamp", "\x94\x10\x01\x81\xa1k\xd6\xff\x00\x00\x00\x00\xa1t"},
		{wamp.MsgPack, "details bad utf8", "\x94\x10\x01\x81\xa1k\xa1\xff\xa1t"},
		{wamp.MsgPack, "topic bad utf8", "\x94\x10\x01\x80\xa2t\xff"},
		{wamp.MsgPack, "huge array header", "\xdd\xff\xff\xff\xff\x10"},
		{wamp.MsgPack, "huge map in details", "\x94\x10\x01\xdf\xff\xff\xff\xff"},
		{wamp.MsgPack, "payload truncated", "\x95\x10\x01\x80\xa1t\x93\x01"},
		{wamp.MsgPack, "payload reserved byte", "\x95\x10\x01\x80\xa1t\x91\xc1"},
		{wamp.CBOR, "empty", ""},
		{wamp.CBOR, "reserved head", "\x9c"},
		{wamp.CBOR, "indefinite unterminated", "\x9f\x10\x01\xa0\x61t"},
		{wamp.CBOR, "details int key", "\x84\x10\x01\xa1\x01\x02\x61t"},
		{wamp.CBOR, "details bytes key", "\x84\x10\x01\xa1\x41k\x02\x61t"},
		{wamp.CBOR, "details simple value", "\x84\x10\x01\xa1\x61k\xf0\x61t"},
		{wamp.CBOR, "details bad utf8", "\x84\x10\x01\xa1\x61k\x61\xff\x61t"},
		{wamp.CBOR, "topic bad utf8", "\x84\x10\x01\xa0\x62t\xff"},
		{wamp.CBOR, "topic tagged", "\x84\x10\x01\xa0\xc0\x61t"},
		{wamp.CBOR, "request tagged", "\x84\x10\xc1\x01\xa0\x61t"},
		{wamp.CBOR, "request indefinite", "\x84\x10\x1f\xa0\x61t"},
		{wamp.CBOR, "request float", "\x84\x10\xf9\x3c\x00\xa0\x61t"},
		{wamp.CBOR, "huge array header", "\x9b\xff\xff\xff\xff\xff\xff\xff\xff\x10"},
		{wamp.CBOR, "huge string", "\x84\x10\x01\xa0\x7b\xff\xff\xff\xff\xff\xff\xff\xff"},
		{wamp.CBOR, "payload truncated", "\x85\x10\x01\xa0\x61t\x83\x01"},
		{wamp.CBOR, "payload break in definite", "\x85\x10\x01\xa0\x61t\x81\xff"},
		{wamp.CBOR, "stray break", "\x85\x10\x01\xa0\x61t\xff"},
	}
	for _, tc := range cases {
		var m wamp.Message
		err := For(tc.ser).Decode([]byte(tc.frame), &m)
		if !errors.Is(err, ErrMalformed) {
			t.Errorf("%v %s: Decode(%q) = %v, want ErrMalformed", tc.ser, tc.name, tc.frame, err)
		}
	}
}

// TestDecodeOddButValid covers encodings a peer may legally choose.
func TestDecodeOddButValid(t *testing.T) {
	cases := []struct {
		ser   wamp.Serialization
		name  string
		frame string
		check func(*wamp.Message) bool
	}{
		{wamp.JSON, "escaped topic", `[16,1,{},"com.ex\u0061mple"]`, func(m *wamp.Message) bool { return m.URI == "com.example" }},
		{wamp.JSON, "whitespace", "\t[ 17 ,\n1 , 2 ]\r\n", func(m *wamp.Message) bool { return m.Request == 1 && m.ID == 2 }},
		{wamp.JSON, "max id", `[17,9007199254740992,0]`, func(m *wamp.Message) bool { return m.Request == wamp.MaxID }},
		{wamp.JSON, "nul string not base64 kept", `[16,1,{"k":"\u0000!!"},"t"]`, func(m *wamp.Message) bool { return m.Details["k"] == "\x00!!" }},
		{wamp.JSON, "binary", `[16,1,{"k":"\u0000AQI="},"t"]`, func(m *wamp.Message) bool { return string(m.Details["k"].([]byte)) == "\x01\x02" }},
		{wamp.JSON, "binary unpadded stays a string", `[16,1,{"k":"\u0000AQI"},"t"]`, func(m *wamp.Message) bool { return m.Details["k"] == "\x00AQI" }},
		{wamp.JSON, "duplicate keys", `[16,1,{"k":1,"k":2},"t"]`, func(m *wamp.Message) bool { return m.Details["k"] == int64(2) }},
		{wamp.MsgPack, "type as int8", "\x93\xd0\x11\x01\x02", func(m *wamp.Message) bool { return m.Type == wamp.PUBLISHED }},
		{wamp.MsgPack, "type as uint64", "\x93\xcf\x00\x00\x00\x00\x00\x00\x00\x11\x01\x02", func(m *wamp.Message) bool { return m.Type == wamp.PUBLISHED }},
		{wamp.MsgPack, "id as int64", "\x93\x11\xd3\x00\x00\x00\x00\x00\x00\x00\x05\x02", func(m *wamp.Message) bool { return m.Request == 5 }},
		{wamp.MsgPack, "array16 header", "\xdc\x00\x03\x11\x01\x02", func(m *wamp.Message) bool { return m.ID == 2 }},
		{wamp.MsgPack, "empty map16 details", "\x94\x10\x01\xde\x00\x00\xa1t", func(m *wamp.Message) bool { return m.Details == nil && m.URI == "t" }},
		{wamp.MsgPack, "float32 detail", "\x94\x10\x01\x81\xa1k\xca\x3f\xc0\x00\x00\xa1t", func(m *wamp.Message) bool { return m.Details["k"] == 1.5 }},
		{wamp.CBOR, "self-described", "\xd9\xd9\xf7\x83\x11\x01\x02", func(m *wamp.Message) bool { return m.Request == 1 && m.ID == 2 }},
		{wamp.CBOR, "indefinite array", "\x9f\x11\x01\x02\xff", func(m *wamp.Message) bool { return m.Request == 1 && m.ID == 2 }},
		{wamp.CBOR, "indefinite details", "\x84\x10\x01\xbf\x61k\x01\xff\x61t", func(m *wamp.Message) bool { return m.Details["k"] == int64(1) }},
		{wamp.CBOR, "chunked topic", "\x84\x10\x01\xa0\x7f\x62co\x61m\xff", func(m *wamp.Message) bool { return m.URI == "com" }},
		{wamp.CBOR, "non-preferred ints", "\x83\x18\x11\x19\x00\x01\x1b\x00\x00\x00\x00\x00\x00\x00\x02", func(m *wamp.Message) bool { return m.Request == 1 && m.ID == 2 }},
		{wamp.CBOR, "tagged detail", "\x84\x10\x01\xa1\x61k\xd8\x20\x61u\x61t", func(m *wamp.Message) bool { return m.Details["k"] == "u" }},
		{wamp.CBOR, "bignum detail", "\x84\x10\x01\xa1\x61k\xc2\x42\x01\x00\x61t", func(m *wamp.Message) bool { return m.Details["k"] == int64(256) }},
		{wamp.CBOR, "float16 detail", "\x84\x10\x01\xa1\x61k\xf9\x3e\x00\x61t", func(m *wamp.Message) bool { return m.Details["k"] == 1.5 }},
		{wamp.CBOR, "undefined detail is absent", "\x84\x10\x01\xa2\x61k\xf7\x61j\x01\x61t", func(m *wamp.Message) bool { _, ok := m.Details["k"]; return !ok && m.Details["j"] == int64(1) }},
		{wamp.CBOR, "undefined nested detail", "\x84\x10\x01\xa1\x61k\xa1\x61n\xf7\x61t", func(m *wamp.Message) bool { v, ok := m.Details["k"].(map[string]any)["n"]; return ok && v == nil }},
		{wamp.CBOR, "tagged payload passes", "\x85\x10\x01\xa0\x61t\x81\xc1\x01", func(m *wamp.Message) bool { return string(m.Args.Raw) == "\x81\xc1\x01" }},
	}
	for _, tc := range cases {
		var m wamp.Message
		if err := For(tc.ser).Decode([]byte(tc.frame), &m); err != nil {
			t.Errorf("%v %s: %v", tc.ser, tc.name, err)
			continue
		}
		if !tc.check(&m) {
			t.Errorf("%v %s: got %+v", tc.ser, tc.name, m)
		}
	}
}

func TestDecodeValueMalformed(t *testing.T) {
	cases := []struct {
		ser wamp.Serialization
		raw string
	}{
		{wamp.JSON, ``},
		{wamp.JSON, `[1,2] 3`},
		{wamp.JSON, `[1,`},
		{wamp.JSON, `-1e999`},
		{wamp.MsgPack, ""},
		{wamp.MsgPack, "\x91"},
		{wamp.MsgPack, "\x90\x90"},
		{wamp.MsgPack, "\xc7\x01\x05\x00"}, // ext
		{wamp.MsgPack, "\x81\x01\x01"},     // int key
		{wamp.CBOR, ""},
		{wamp.CBOR, "\x81"},
		{wamp.CBOR, "\x80\x80"},
		{wamp.CBOR, "\xa1\x01\x01"}, // int key
		{wamp.CBOR, "\xf0"},         // simple(16)
		{wamp.CBOR, "\xc2\x59\x01\x00" + strings.Repeat("\xff", 256)}, // bignum beyond float64
	}
	for _, tc := range cases {
		if v, err := For(tc.ser).DecodeValue([]byte(tc.raw)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%v DecodeValue(%q) = %#v, %v; want ErrMalformed", tc.ser, tc.raw, v, err)
		}
	}
}
