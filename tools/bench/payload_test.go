package bench

import (
	"testing"

	"github.com/switchboard/switchboard/wamp"
	"github.com/switchboard/switchboard/wamp/codec"
)

// TestArgsRoundTrip checks that parseArgs reads back what appendArgs
// writes, and that the codec agrees the bytes are a well-formed list.
func TestArgsRoundTrip(t *testing.T) {
	for _, ser := range wamp.Serializations {
		for _, pad := range []int{0, 5, 300, 70000} {
			for _, v := range [][2]uint64{{0, 0}, {1, 2}, {1 << 40, 1<<53 - 1}} {
				b := appendArgs(nil, ser, v[0], int64(v[1]), pad)
				seq, stamp, ok := parseArgs(ser, b)
				if !ok || seq != v[0] || stamp != int64(v[1]) {
					t.Errorf("%v pad %d: parse(append(%d, %d)) = %d, %d, %v", ser, pad, v[0], v[1], seq, stamp, ok)
				}
				val, err := codec.For(ser).DecodeValue(b)
				if err != nil {
					t.Errorf("%v pad %d: codec cannot decode the args: %v", ser, pad, err)
					continue
				}
				want := 2
				if pad > 0 {
					want = 3
				}
				if l, ok := val.([]any); !ok || len(l) != want {
					t.Errorf("%v pad %d: args decode to %T of length %d, want a list of %d", ser, pad, val, len(l), want)
				}
			}
		}
	}
}

// TestArgsReencoded checks parseArgs on lists as another router may write
// them: shortest integer forms, or doubles where it decoded numbers as
// floating point.
func TestArgsReencoded(t *testing.T) {
	for _, ser := range wamp.Serializations {
		for _, list := range [][]any{
			{int64(7), int64(123456789012)},
			{uint64(7), uint64(123456789012), "pad"},
			{float64(7), float64(123456789012)},
			{int64(0), int64(200)},
			{int64(65000), int64(70000)},
		} {
			b, err := codec.For(ser).AppendValue(nil, list)
			if err != nil {
				t.Fatalf("%v: encode %v: %v", ser, list, err)
			}
			seq, stamp, ok := parseArgs(ser, b)
			wantSeq, _ := wamp.AsInt(list[0])
			wantStamp, _ := wamp.AsInt(list[1])
			if !ok || int64(seq) != wantSeq || stamp != wantStamp {
				t.Errorf("%v: parse(%v as % x) = %d, %d, %v", ser, list, b, seq, stamp, ok)
			}
		}
	}
	if _, _, ok := parseArgs(wamp.JSON, []byte(`[1.5,2]`)); ok {
		t.Error("JSON [1.5,2]: a fraction parsed as a sequence number")
	}
	if _, _, ok := parseArgs(wamp.JSON, []byte(`[1]`)); ok {
		t.Error("JSON [1]: a list without stamp parsed")
	}
	if _, _, ok := parseArgs(wamp.JSON, []byte(`["a",2]`)); ok {
		t.Error(`JSON ["a",2]: a string parsed as a number`)
	}
	if _, _, ok := parseArgs(wamp.MsgPack, []byte{0x91, 0x01}); ok {
		t.Error("msgpack [1]: a list without stamp parsed")
	}
	if _, _, ok := parseArgs(wamp.CBOR, []byte{0x82, 0x01, 0x20}); ok {
		t.Error("cbor [1, -1]: a negative stamp parsed")
	}
}

func BenchmarkParseArgs(b *testing.B) {
	for _, ser := range wamp.Serializations {
		buf := appendArgs(nil, ser, 12345, 987654321, 0)
		b.Run(ser.String(), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, _, ok := parseArgs(ser, buf); !ok {
					b.Fatal("parse failed")
				}
			}
		})
	}
}
