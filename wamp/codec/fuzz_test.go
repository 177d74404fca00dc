package codec

import (
	"bytes"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/switchboard/switchboard/wamp"
)

// fuzzSeeds adds every sample message and the hot-path PUBLISH in
// serializer s; testdata/fuzz/<FuzzName> holds more, valid and invalid.
func fuzzSeeds(f *testing.F, s wamp.Serialization) {
	for _, m := range sampleMessages() {
		frame, err := For(s).Encode(nil, m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(frame)
	}
	f.Add(publishFrame(f, s))
}

// fuzzDecode checks that Decode never panics and reports only its three
// errors, and that a decoded message survives Encode and Decode again, in
// its own serializer (equal, payload bytes untouched) and in the others
// (same header and values). A message decoded from MsgPack or CBOR must
// convert to every serializer, or it would reach only some subscribers;
// from JSON, conversion may fail for what the JSON decoder lets through
// (nesting deeper than maxDepth).
func fuzzDecode(t *testing.T, s wamp.Serialization, frame []byte) {
	c := For(s)
	var m wamp.Message
	// Split input: a prefix must fail cleanly or decode, never panic.
	_ = c.Decode(frame[:len(frame)/2], &m)

	err := c.Decode(frame, &m)
	switch {
	case errors.Is(err, ErrNotPortable):
		if s == wamp.JSON || !m.Type.Known() || !m.Args.IsZero() || !m.Kwargs.IsZero() {
			t.Fatalf("%v: ErrNotPortable (%v) with message %+v", s, err, m)
		}
		return
	case err != nil:
		if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnknownType) {
			t.Fatalf("Decode error %v wraps none of ErrMalformed, ErrUnknownType, ErrNotPortable", err)
		}
		return
	}
	keep := m
	out, err := c.Encode(nil, &m)
	if err != nil {
		t.Fatalf("Encode of decoded %+v: %v", keep, err)
	}
	var again wamp.Message
	if err := c.Decode(out, &again); err != nil {
		t.Fatalf("Decode(Encode(Decode(%q))) = %v (encoded %q)", frame, err, out)
	}
	// Kwargs after null (or undefined) Args come back after the canonical
	// empty Args list.
	if keep.Args.IsZero() && !keep.Kwargs.IsZero() {
		if v := payloadValue(t, again.Args); !valueEqual(v, []any{}) {
			t.Fatalf("absent Args with Kwargs re-encoded as %#v, want []", v)
		}
		again.Args = keep.Args
	}
	if !headerEqual(&keep, &again) || !bytes.Equal(keep.Args.Raw, again.Args.Raw) ||
		!bytes.Equal(keep.Kwargs.Raw, again.Kwargs.Raw) {
		t.Fatalf("round trip changed the message:\n%+v\n%+v", keep, again)
	}
	for _, other := range wamp.Serializations {
		if other == s {
			continue
		}
		mo := keep
		out, err := For(other).Encode(nil, &mo)
		if err != nil {
			if s == wamp.JSON {
				continue
			}
			t.Fatalf("%v -> %v: Encode(%+v) of %q: %v", s, other, keep, frame, err)
		}
		var got wamp.Message
		if err := For(other).Decode(out, &got); err != nil {
			t.Fatalf("%v: Decode(Encode(%+v)) = %v (encoded %q)", other, keep, err, out)
		}
		if got.Type != keep.Type || got.ErrType != keep.ErrType || got.Request != keep.Request ||
			got.ID != keep.ID || got.Publication != keep.Publication || got.URI != keep.URI ||
			got.Text != keep.Text || got.Args.IsZero() != keep.Args.IsZero() && keep.Kwargs.IsZero() ||
			got.Kwargs.IsZero() != keep.Kwargs.IsZero() {
			t.Fatalf("%v: converted message differs:\n%+v\n%+v", other, keep, got)
		}
		if s == wamp.JSON {
			continue
		}
		if !sameValue(keep.Details, got.Details) {
			t.Fatalf("%v -> %v: Details %#v became %#v", s, other, keep.Details, got.Details)
		}
		for _, p := range [][2]wamp.Payload{{keep.Args, got.Args}, {keep.Kwargs, got.Kwargs}} {
			if p[0].IsZero() {
				continue
			}
			if v, w := payloadValue(t, p[0]), payloadValue(t, p[1]); !sameValue(v, w) {
				t.Fatalf("%v -> %v: payload %#v became %#v", s, other, v, w)
			}
		}
	}
}

// sameValue compares values of the Dict model across serializers, which
// may hold one number in different Go types (JSON reads 1.0 back as a
// float, MsgPack a float32 as float64).
func sameValue(a, b any) bool {
	switch x := a.(type) {
	case int64, uint64, float64:
		return numberOf(x) == numberOf(b) && numberOf(x) != nil
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !sameValue(x[i], y[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			if w, ok := y[k]; !ok || !sameValue(v, w) {
				return false
			}
		}
		return true
	}
	return valueEqual(a, b)
}

// numberOf returns a number as a comparable value: a float64 holds every
// number the model has within 2^53, and a string keeps larger integers
// exact.
func numberOf(v any) any {
	switch x := v.(type) {
	case int64:
		if x >= -1<<53 && x <= 1<<53 {
			return float64(x)
		}
		return strconv.FormatInt(x, 10)
	case uint64:
		if x <= 1<<53 {
			return float64(x)
		}
		return strconv.FormatUint(x, 10)
	case float64:
		if x == math.Trunc(x) && math.Abs(x) > 1<<53 && math.Abs(x) < 1<<63 {
			return strconv.FormatInt(int64(x), 10)
		}
		return x
	}
	return nil
}

func FuzzDecodeJSON(f *testing.F) {
	fuzzSeeds(f, wamp.JSON)
	f.Fuzz(func(t *testing.T, frame []byte) { fuzzDecode(t, wamp.JSON, frame) })
}

func FuzzDecodeMsgPack(f *testing.F) {
	fuzzSeeds(f, wamp.MsgPack)
	f.Fuzz(func(t *testing.T, frame []byte) { fuzzDecode(t, wamp.MsgPack, frame) })
}

func FuzzDecodeCBOR(f *testing.F) {
	fuzzSeeds(f, wamp.CBOR)
	f.Fuzz(func(t *testing.T, frame []byte) { fuzzDecode(t, wamp.CBOR, frame) })
}

// FuzzDecodeValue feeds the same bytes to every DecodeValue: no panics, and
// a decoded value re-encodes in its own serializer to an equal value.
func FuzzDecodeValue(f *testing.F) {
	for _, s := range wamp.Serializations {
		for _, v := range []any{edgeArgs, edgeKwargs, sampleDetails} {
			b, err := For(s).AppendValue(nil, v)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		for _, s := range wamp.Serializations {
			c := For(s)
			v, err := c.DecodeValue(raw)
			if err != nil {
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("%v: DecodeValue error %v does not wrap ErrMalformed", s, err)
				}
				continue
			}
			b, err := c.AppendValue(nil, v)
			if err != nil {
				t.Fatalf("%v: AppendValue(%#v): %v", s, v, err)
			}
			v2, err := c.DecodeValue(b)
			if err != nil || !valueEqual(v, v2) {
				t.Fatalf("%v: %#v -> %q -> %#v, %v", s, v, b, v2, err)
			}
		}
	})
}

// TestFuzzCorpus keeps the committed seeds honest: files named valid_* must
// decode and bad_* must not (bad_notportable_* with ErrNotPortable). Other
// files are crashers the fuzzer found.
func TestFuzzCorpus(t *testing.T) {
	for name, s := range map[string]wamp.Serialization{
		"FuzzDecodeJSON": wamp.JSON, "FuzzDecodeMsgPack": wamp.MsgPack, "FuzzDecodeCBOR": wamp.CBOR,
	} {
		dir := filepath.Join("testdata", "fuzz", name)
		files, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			data, err := os.ReadFile(filepath.Join(dir, f.Name()))
			if err != nil {
				t.Fatal(err)
			}
			lit, ok := strings.CutPrefix(string(data), "go test fuzz v1\n[]byte(")
			lit, ok2 := strings.CutSuffix(lit, ")\n")
			frame, err := strconv.Unquote(lit)
			if !ok || !ok2 || err != nil {
				t.Fatalf("%s/%s: not a []byte corpus entry", name, f.Name())
			}
			var m wamp.Message
			err = For(s).Decode([]byte(frame), &m)
			switch {
			case strings.HasPrefix(f.Name(), "valid_") && err != nil:
				t.Errorf("%s/%s: %v", name, f.Name(), err)
			case strings.HasPrefix(f.Name(), "bad_") && err == nil:
				t.Errorf("%s/%s decodes", name, f.Name())
			case strings.HasPrefix(f.Name(), "bad_notportable_") && !errors.Is(err, ErrNotPortable):
				t.Errorf("%s/%s: %v, want ErrNotPortable", name, f.Name(), err)
			}
		}
	}
}
