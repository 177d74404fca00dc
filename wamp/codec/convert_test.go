package codec

import (
	"bytes"
	"errors"
	"math"
	"testing"

	"github.com/switchboard/switchboard/wamp"
)

// Values at the edges of every type of the model.
var (
	edgeArgs = []any{
		int64(0), int64(-1), int64(wamp.MaxID), int64(math.MaxInt64), int64(math.MinInt64),
		uint64(math.MaxInt64) + 1, uint64(math.MaxUint64),
		0.1, 1.0, -0.0, 1e300, -2.5e-300, 5e-324, math.MaxFloat64,
		"", "héllo wörld ☃ 🎉", "quote \" backslash \\ nl \n nul \x00 in middle",
		[]byte{}, []byte{0x10, 0xe3, 0xff, 0x90, 0x53, 0x07, 0x5c, 0x52, 0x6f, 0x5f, 0xc0, 0x6d, 0x4f, 0xe3, 0x7c, 0xdb},
		bytes.Repeat([]byte{0, 1, 2, 3, 254, 255}, 100),
		true, false, nil,
		[]any{}, map[string]any{},
		[]any{[]any{[]any{int64(1)}}, map[string]any{"x": []any{nil}}},
	}
	edgeKwargs = map[string]any{
		"big":    uint64(math.MaxUint64),
		"min":    int64(math.MinInt64),
		"bin":    []byte("\x00\x01binary\xff"),
		"":       "empty key",
		"ключ":   map[string]any{"nested": []any{1.5, int64(2)}},
		"2^53":   int64(1 << 53),
		"2^53+1": int64(1<<53 + 1),
	}
)

// TestConvert sends a payload from every serializer to every other one and
// checks that the receiver decodes the same values.
func TestConvert(t *testing.T) {
	for _, from := range wamp.Serializations {
		for _, to := range wamp.Serializations {
			t.Run(from.String()+"->"+to.String(), func(t *testing.T) {
				src, dst := For(from), For(to)
				args, err := src.AppendValue(nil, edgeArgs)
				if err != nil {
					t.Fatal(err)
				}
				kwargs, err := src.AppendValue(nil, edgeKwargs)
				if err != nil {
					t.Fatal(err)
				}
				m := &wamp.Message{
					Type: wamp.EVENT, ID: 1, Publication: 2,
					Args:   wamp.Payload{Raw: args, Ser: from},
					Kwargs: wamp.Payload{Raw: kwargs, Ser: from},
				}
				frame, err := dst.Encode(nil, m)
				if err != nil {
					t.Fatalf("Encode: %v", err)
				}
				// The conversion is kept for the next peer; the raw bytes stay.
				if from != to && (m.Args.Value == nil || m.Kwargs.Value == nil) {
					t.Fatal("converted payload not stored in the message")
				}
				if !bytes.Equal(m.Args.Raw, args) || m.Args.Ser != from {
					t.Fatal("Encode changed Args.Raw")
				}
				var got wamp.Message
				if err := dst.Decode(frame, &got); err != nil {
					t.Fatalf("Decode: %v", err)
				}
				if v := payloadValue(t, got.Args); !valueEqual(v, edgeArgs) {
					t.Fatalf("Args\n got %#v\nwant %#v", v, edgeArgs)
				}
				if v := payloadValue(t, got.Kwargs); !valueEqual(v, edgeKwargs) {
					t.Fatalf("Kwargs\n got %#v\nwant %#v", v, edgeKwargs)
				}
				if from == to && !bytes.Equal(got.Args.Raw, args) {
					t.Fatal("same serializer payload was re-encoded")
				}
			})
		}
	}
}

// TestConvertJSONLiteral starts from text a JSON peer would send.
func TestConvertJSONLiteral(t *testing.T) {
	frame := `[16,1,{},"t",[9007199254740992,9223372036854775807,18446744073709551615,-9223372036854775808,` +
		`18446744073709551616,"\u0000EOP/kFMHXFJvX8BtT+N82w==",1.5,1.0,1e2,-0,"\u00e9"],{"k":{"l":[]}}]`
	want := []any{
		int64(1 << 53), int64(math.MaxInt64), uint64(math.MaxUint64), int64(math.MinInt64),
		float64(1 << 64), []byte{0x10, 0xe3, 0xff, 0x90, 0x53, 0x07, 0x5c, 0x52, 0x6f, 0x5f, 0xc0, 0x6d, 0x4f, 0xe3, 0x7c, 0xdb},
		1.5, 1.0, 100.0, int64(0), "é",
	}
	var m wamp.Message
	if err := For(wamp.JSON).Decode([]byte(frame), &m); err != nil {
		t.Fatal(err)
	}
	if v := payloadValue(t, m.Args); !valueEqual(v, want) {
		t.Fatalf("json args %#v", v)
	}
	for _, to := range []wamp.Serialization{wamp.MsgPack, wamp.CBOR, wamp.JSON} {
		ev := &wamp.Message{Type: wamp.EVENT, ID: 3, Publication: 4, Args: m.Args, Kwargs: m.Kwargs}
		out, err := For(to).Encode(nil, ev)
		if err != nil {
			t.Fatal(err)
		}
		var got wamp.Message
		if err := For(to).Decode(out, &got); err != nil {
			t.Fatal(err)
		}
		if v := payloadValue(t, got.Args); !valueEqual(v, want) {
			t.Fatalf("%v args %#v", to, v)
		}
		if v := payloadValue(t, got.Kwargs); !valueEqual(v, map[string]any{"k": map[string]any{"l": []any{}}}) {
			t.Fatalf("%v kwargs %#v", to, v)
		}
	}
}

// TestBinaryIdentical checks that binary payloads carry the same bytes in
// every serializer, and that JSON uses the specification's example form.
func TestBinaryIdentical(t *testing.T) {
	bin := []byte{0x10, 0xe3, 0xff, 0x90, 0x53, 0x07, 0x5c, 0x52, 0x6f, 0x5f, 0xc0, 0x6d, 0x4f, 0xe3, 0x7c, 0xdb}
	j, err := For(wamp.JSON).AppendValue(nil, bin)
	if err != nil {
		t.Fatal(err)
	}
	if string(j) != `"\u0000EOP/kFMHXFJvX8BtT+N82w=="` {
		t.Fatalf("json binary %s", j)
	}
	m, _ := For(wamp.MsgPack).AppendValue(nil, bin)
	if !bytes.Equal(m, append([]byte{0xc4, 16}, bin...)) {
		t.Fatalf("msgpack binary %x", m)
	}
	c, _ := For(wamp.CBOR).AppendValue(nil, bin)
	if !bytes.Equal(c, append([]byte{0x50}, bin...)) {
		t.Fatalf("cbor binary %x", c)
	}
	for _, raw := range []struct {
		ser wamp.Serialization
		b   []byte
	}{{wamp.JSON, j}, {wamp.MsgPack, m}, {wamp.CBOR, c}} {
		v, err := For(raw.ser).DecodeValue(raw.b)
		if err != nil || !bytes.Equal(v.([]byte), bin) {
			t.Fatalf("%v: %x %v", raw.ser, v, err)
		}
	}
}

// TestAppendValueTypes covers the Go types the router builds itself.
func TestAppendValueTypes(t *testing.T) {
	in := []any{
		int(-7), int32(-8), uint(9), uint32(10), wamp.ID(wamp.MaxID), wamp.URI("wamp.error.x"),
		float32(0.5), []string{"a", "b"}, []wamp.ID{1, 2},
		wamp.Dict{"k": "v"},
	}
	want := []any{
		int64(-7), int64(-8), int64(9), int64(10), int64(wamp.MaxID), "wamp.error.x",
		0.5, []any{"a", "b"}, []any{int64(1), int64(2)},
		map[string]any{"k": "v"},
	}
	allCodecs(t, func(t *testing.T, c Codec) {
		raw, err := c.AppendValue(nil, in)
		if err != nil {
			t.Fatal(err)
		}
		v, err := c.DecodeValue(raw)
		if err != nil {
			t.Fatal(err)
		}
		if !valueEqual(v, want) {
			t.Fatalf("got %#v", v)
		}
		// Payload values of those types encode too.
		ev := &wamp.Message{Type: wamp.EVENT, ID: 1, Publication: 1, Args: wamp.Payload{Value: []string{"x"}}}
		if _, err := c.Encode(nil, ev); err != nil {
			t.Fatal(err)
		}
	})
}

// TestFloatRoundTrip: floats stay floats (JSON writes 1.0, not 1) and keep
// their exact value.
func TestFloatRoundTrip(t *testing.T) {
	floats := []float64{0, 1, -1, 0.1, 1.0 / 3, 1e21, 1e-7, 123456789.0, math.MaxFloat64, math.SmallestNonzeroFloat64, 1 << 53, 1 << 64}
	allCodecs(t, func(t *testing.T, c Codec) {
		for _, f := range floats {
			raw, err := c.AppendValue(nil, f)
			if err != nil {
				t.Fatal(err)
			}
			v, err := c.DecodeValue(raw)
			if err != nil {
				t.Fatalf("%v: %v", f, err)
			}
			if g, ok := v.(float64); !ok || g != f {
				t.Fatalf("%v -> %q -> %#v", f, raw, v)
			}
		}
	})
	if _, err := For(wamp.JSON).AppendValue(nil, math.NaN()); err == nil {
		t.Fatal("json encoded NaN")
	}
	if _, err := For(wamp.JSON).AppendValue(nil, math.Inf(-1)); err == nil {
		t.Fatal("json encoded -Inf")
	}
	for _, s := range []wamp.Serialization{wamp.MsgPack, wamp.CBOR} {
		raw, _ := For(s).AppendValue(nil, math.Inf(1))
		if v, err := For(s).DecodeValue(raw); err != nil || !math.IsInf(v.(float64), 1) {
			t.Fatalf("%v Inf: %v %v", s, v, err)
		}
	}
}

// TestConvertFailure: a payload JSON cannot carry fails the encode, leaves
// dst alone, and still reaches peers of its own serializer.
func TestConvertFailure(t *testing.T) {
	raw, _ := For(wamp.CBOR).AppendValue(nil, []any{math.NaN()})
	m := &wamp.Message{Type: wamp.EVENT, ID: 1, Publication: 2, Args: wamp.Payload{Raw: raw, Ser: wamp.CBOR}}
	out, err := For(wamp.JSON).Encode([]byte("x"), m)
	if err == nil || string(out) != "x" {
		t.Fatalf("got %q, %v", out, err)
	}
	if _, err := For(wamp.CBOR).Encode(nil, m); err != nil {
		t.Fatal(err)
	}
	bad := &wamp.Message{Type: wamp.EVENT, ID: 1, Publication: 2, Args: wamp.Payload{Raw: []byte("[1,"), Ser: wamp.JSON}}
	if _, err := For(wamp.CBOR).Encode(nil, bad); !errors.Is(err, ErrMalformed) {
		t.Fatalf("bad raw: %v", err)
	}
}
