package client

import (
	"reflect"
	"testing"

	"github.com/switchboard/switchboard/wamp"
	"github.com/switchboard/switchboard/wamp/codec"
)

// TestDecodeJSONFast checks that the fast path decodes what it accepts
// exactly as the codec does, and leaves everything else to the codec.
func TestDecodeJSONFast(t *testing.T) {
	accept := []string{
		`[36,1,2,{},[1,2]]`,
		`[36,9007199254740992,2,{},[1,"a]b\"}[",{"x":[1]}]]`,
		`[36,1,2,{}]`,
		`[50,7,{},[3,4]]`,
		`[50,7,{}]`,
		`[68,5,6,{},[]]`,
	}
	for _, f := range accept {
		var fast, slow wamp.Message
		if !decodeJSONFast([]byte(f), &fast) {
			t.Errorf("%s: fast path declined", f)
			continue
		}
		if err := codec.For(wamp.JSON).Decode([]byte(f), &slow); err != nil {
			t.Fatalf("%s: codec: %v", f, err)
		}
		// The fast path leaves empty details nil; the codec may not.
		slow.Details = nil
		if !reflect.DeepEqual(fast, slow) {
			t.Errorf("%s: fast %+v, codec %+v", f, fast, slow)
		}
	}
	decline := []string{
		`[36,1,2,{"topic":"a"},[1]]`,      // details
		`[36,1,2,{},[1],{"k":1}]`,         // kwargs
		`[36, 1, 2, {}, [1]]`,             // spaces
		`[16,1,{},"t",[1]]`,               // another type
		`[36,1,2,{},[1,2]`,                // unterminated
		`[36,1,2,{},[1,2]]x`,              // trailing bytes
		`[36,9007199254740993,2,{},[1]]`,  // id past 2^53
		`[36,12345678901234567,2,{},[1]]`, // too many digits
		`[36,-1,2,{},[1]]`,                // negative
		`[36,1,2,{},"x"]`,                 // args not a list
		`[]`,
	}
	for _, f := range decline {
		var m wamp.Message
		if decodeJSONFast([]byte(f), &m) {
			t.Errorf("%s: fast path accepted it as %+v", f, m)
		}
	}
}

func BenchmarkDecodeEvent(b *testing.B) {
	frame := []byte(`[36,5425918470,3728372612345678,{},[123456,98765432101]]`)
	var m wamp.Message
	b.Run("fast", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if !decodeJSONFast(frame, &m) {
				b.Fatal("declined")
			}
		}
	})
	b.Run("codec", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := codec.For(wamp.JSON).Decode(frame, &m); err != nil {
				b.Fatal(err)
			}
		}
	})
}
