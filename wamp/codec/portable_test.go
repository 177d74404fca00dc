package codec

import (
	"errors"
	"math"
	"testing"

	"github.com/tinylib/msgp/msgp"

	"github.com/switchboard/switchboard/wamp"
)

// msgpackPublish is [16, 7, {}, "com.t", <args>] (and <kwargs> if given),
// from raw encodings of the payload.
func msgpackPublish(args []byte, kwargs ...[]byte) []byte {
	b := msgp.AppendArrayHeader(nil, uint32(5+len(kwargs)))
	b = msgp.AppendUint64(b, uint64(wamp.PUBLISH))
	b = msgp.AppendUint64(b, 7)
	b = msgp.AppendMapHeader(b, 0)
	b = msgp.AppendString(b, "com.t")
	b = append(b, args...)
	for _, k := range kwargs {
		b = append(b, k...)
	}
	return b
}

func cborPublish(args []byte, kwargs ...[]byte) []byte {
	b := cborAppendHead(nil, cborArray, uint64(5+len(kwargs)))
	b = cborAppendHead(b, cborUint, uint64(wamp.PUBLISH))
	b = cborAppendHead(b, cborUint, 7)
	b = cborAppendHead(b, cborMap, 0)
	b = cborAppendString(b, "com.t")
	b = append(b, args...)
	for _, k := range kwargs {
		b = append(b, k...)
	}
	return b
}

// mpList is a MsgPack list of the raw elements given.
func mpList(elems ...[]byte) []byte {
	b := msgp.AppendArrayHeader(nil, uint32(len(elems)))
	for _, e := range elems {
		b = append(b, e...)
	}
	return b
}

func cbList(elems ...[]byte) []byte {
	b := cborAppendHead(nil, cborArray, uint64(len(elems)))
	for _, e := range elems {
		b = append(b, e...)
	}
	return b
}

func mpStr(s string) []byte { return msgp.AppendString(nil, s) }
func cbStr(s string) []byte { return cborAppendString(nil, s) }

// TestNotPortable: MsgPack and CBOR payloads and options that another
// serializer could not carry decode to ErrNotPortable with the header
// fields kept and the payload left out; binary and the rest of the value
// model decode.
func TestNotPortable(t *testing.T) {
	mpMap := func(k, v []byte) []byte { return append(append(msgp.AppendMapHeader(nil, 1), k...), v...) }
	cbMap := func(k, v []byte) []byte { return append(append(cborAppendHead(nil, cborMap, 1), k...), v...) }
	deepMP := mpStr("x")
	for range maxDepth + 1 {
		deepMP = mpList(deepMP)
	}
	cases := []struct {
		name  string
		ser   wamp.Serialization
		frame []byte
		ok    bool
	}{
		{"msgpack str", wamp.MsgPack, msgpackPublish(mpList(mpStr("caf\xe9"))), false},
		{"msgpack str8", wamp.MsgPack, msgpackPublish(mpList(mpStr("\xff" + string(make([]byte, 40))))), false},
		{"msgpack nested", wamp.MsgPack, msgpackPublish(mpList(mpList(mpMap(mpStr("k"), mpStr("\xc0\x80"))))), false},
		{"msgpack kwargs", wamp.MsgPack, msgpackPublish(mpList(), mpMap(mpStr("k"), mpStr("\xe2\x82"))), false},
		{"msgpack key", wamp.MsgPack, msgpackPublish(mpList(), mpMap(mpStr("\xff"), mpStr("v"))), false},
		{"msgpack int key", wamp.MsgPack, msgpackPublish(mpList(), mpMap(msgp.AppendInt(nil, 1), mpStr("v"))), false},
		{"msgpack NUL", wamp.MsgPack, msgpackPublish(mpList(mpStr("\x00abc"))), false},
		{"msgpack NaN", wamp.MsgPack, msgpackPublish(mpList(msgp.AppendFloat64(nil, math.NaN()))), false},
		{"msgpack Inf32", wamp.MsgPack, msgpackPublish(mpList(msgp.AppendFloat32(nil, float32(math.Inf(-1))))), false},
		{"msgpack ext", wamp.MsgPack, msgpackPublish(mpList([]byte{0xd6, 0xff, 0, 0, 0, 1})), false},
		{"msgpack deep", wamp.MsgPack, msgpackPublish(deepMP), false},
		{"msgpack bin", wamp.MsgPack, msgpackPublish(mpList(msgp.AppendBytes(nil, []byte("caf\xe9\x00")))), true},
		{"msgpack passthru", wamp.MsgPack, msgpackPublish(msgp.AppendBytes(nil, []byte{0xff})), true},
		{"msgpack model", wamp.MsgPack, msgpackPublish(mpList(mpStr("ünï"), mpStr("a\x00"), []byte(msgpackUndefined),
			msgp.AppendUint64(nil, math.MaxUint64), msgp.AppendFloat32(nil, 1.5), msgp.AppendNil(nil)), mpMap(mpStr(""), mpList())), true},
		{"msgpack NUL key", wamp.MsgPack, msgpackPublish(mpList(), mpMap(mpStr("\x00k"), mpStr("v"))), true},
		{"msgpack options NUL", wamp.MsgPack, append(append(append(msgp.AppendArrayHeader(nil, 4), 16, 7),
			mpMap(mpStr("x"), mpStr("\x00v"))...), mpStr("com.t")...), false},
		{"msgpack options", wamp.MsgPack, append(append(append(msgp.AppendArrayHeader(nil, 4), 16, 7),
			mpMap(mpStr("x"), msgp.AppendFloat64(nil, math.Inf(1)))...), mpStr("com.t")...), false},

		{"cbor text", wamp.CBOR, cborPublish(cbList(cbStr("caf\xe9"))), false},
		{"cbor chunked", wamp.CBOR, cborPublish(cbList(append(append([]byte{0x7f}, cbStr("ok")...), append(cbStr("\xe9"), 0xff)...))), false},
		{"cbor chunked NUL inside", wamp.CBOR, cborPublish(cbList(append(append([]byte{0x7f}, cbStr("ok")...), append(cbStr("\x00"), 0xff)...))), true},
		{"cbor kwargs", wamp.CBOR, cborPublish(cbList(), cbMap(cbStr("k"), cbStr("\xed\xa0\x80"))), false},
		{"cbor int key", wamp.CBOR, cborPublish(cbList(), cbMap([]byte{0x01}, cbStr("v"))), false},
		{"cbor NUL", wamp.CBOR, cborPublish(cbList(cbStr("\x00x"))), false},
		{"cbor half NaN", wamp.CBOR, cborPublish(cbList([]byte{0xf9, 0x7e, 0x00})), false},
		{"cbor double Inf", wamp.CBOR, cborPublish(cbList(cborFloat(math.Inf(1)))), false},
		{"cbor simple", wamp.CBOR, cborPublish(cbList([]byte{0xf8, 0x40})), false},
		{"cbor tagged text", wamp.CBOR, cborPublish(cbList(append([]byte{0xd8, 0x20}, cbStr("\xff")...))), false},
		{"cbor huge bignum", wamp.CBOR, cborPublish(cbList(append([]byte{0xc2, 0x59, 0x01, 0x00, 0x01}, make([]byte, 255)...))), false},
		{"cbor bytes", wamp.CBOR, cborPublish(cbList(append(cborAppendHead(nil, cborBytes, 2), 0xff, 0xfe))), true},
		{"cbor bignum", wamp.CBOR, cborPublish(cbList([]byte{0xc2, 0x42, 0x01, 0x00})), true},
		{"cbor model", wamp.CBOR, cborPublish(cbList(cbStr("ünï"), []byte{0xf4, 0xf5, 0xf6, 0xf7}[:1], []byte{0xf7},
			[]byte{0xf9, 0x3c, 0x00}, []byte{0x3b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})), true},
		{"cbor NUL key", wamp.CBOR, cborPublish(cbList(), cbMap(cbStr("\x00k"), cbStr("v"))), true},
		{"cbor tagged options", wamp.CBOR, append(append(append(cborAppendHead(nil, cborArray, 4), 16, 7),
			cbMap(cbStr("x"), []byte{0xc3, 0x41, 0x01})...), cbStr("com.t")...), true},
		{"cbor options", wamp.CBOR, append(append(append(cborAppendHead(nil, cborArray, 4), 16, 7),
			cbMap(cbStr("x"), []byte{0xf9, 0x7c, 0x00})...), cbStr("com.t")...), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var m wamp.Message
			err := For(c.ser).Decode(c.frame, &m)
			if c.ok {
				if err != nil {
					t.Fatalf("Decode: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrNotPortable) || errors.Is(err, ErrMalformed) {
				t.Fatalf("Decode error %v, want ErrNotPortable", err)
			}
			if m.Type != wamp.PUBLISH || m.Request != 7 || m.URI != "com.t" || !m.Args.IsZero() || !m.Kwargs.IsZero() {
				t.Fatalf("refused message %+v, want the header of PUBLISH 7 com.t without payload", m)
			}
		})
	}

	// A frame that is broken after a refused payload is malformed: that
	// takes precedence, since its header cannot be trusted.
	for ser, frame := range map[wamp.Serialization][]byte{
		wamp.MsgPack: msgpackPublish(mpList(mpStr("\xff")), []byte{0xc1}),
		wamp.CBOR:    cborPublish(cbList(cbStr("\xff")), []byte{0x1c}),
	} {
		var m wamp.Message
		if err := For(ser).Decode(frame, &m); !errors.Is(err, ErrMalformed) {
			t.Errorf("%v: Decode of a bad payload followed by garbage: %v, want ErrMalformed", ser, err)
		}
	}
}

func cborFloat(f float64) []byte {
	b, _ := cborAppendValue(nil, f, 0)
	return b
}
