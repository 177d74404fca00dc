package codec

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/switchboard/switchboard/wamp"
)

// absentMarkers are, per serializer, the encodings of the values that make
// a Details member absent: null, and JavaScript's undefined as msgpackr and
// cbor-x encode it.
var absentMarkers = map[wamp.Serialization][]struct{ name, enc string }{
	wamp.JSON:    {{"null", "null"}},
	wamp.MsgPack: {{"nil", "\xc0"}, {"undefined", "\xd4\x00\x00"}},
	wamp.CBOR:    {{"null", "\xf6"}, {"undefined", "\xf7"}},
}

// absentSentinel is a string the tests encode and then swap for a marker,
// so that one table of messages serves every serializer.
const absentSentinel = "ABSENT-SENTINEL"

// withMarker encodes m with c and replaces every encoded absentSentinel
// with marker.
func withMarker(t *testing.T, c Codec, m *wamp.Message, marker string) []byte {
	t.Helper()
	frame, err := c.Encode(nil, m)
	if err != nil {
		t.Fatalf("Encode(%+v): %v", m, err)
	}
	sentinel, err := c.AppendValue(nil, absentSentinel)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(frame, sentinel) {
		t.Fatalf("no %q in %q", sentinel, frame)
	}
	return bytes.ReplaceAll(frame, sentinel, []byte(marker))
}

// TestDetailsAbsent: in the Details (Options, Extra) of every message type,
// a member that is null or undefined is left out, and a dict of nothing
// else decodes as no Details at all. Nested dicts keep their nulls.
func TestDetailsAbsent(t *testing.T) {
	allCodecs(t, func(t *testing.T, c Codec) {
		for _, mk := range absentMarkers[c.Serialization()] {
			t.Run(mk.name, func(t *testing.T) {
				seen := map[wamp.Type]bool{}
				for _, sample := range sampleMessages() {
					if !hasDetails(sample.Type) || seen[sample.Type] {
						continue
					}
					seen[sample.Type] = true

					m := *sample
					m.Details = map[string]any{
						"keep":   int64(1),
						"gone":   absentSentinel,
						"nested": map[string]any{"n": absentSentinel},
					}
					var got wamp.Message
					frame := withMarker(t, c, &m, mk.enc)
					if err := c.Decode(frame, &got); err != nil {
						t.Fatalf("%v: Decode(%q): %v", m.Type, frame, err)
					}
					want := m
					want.Details = map[string]any{"keep": int64(1), "nested": map[string]any{"n": nil}}
					if !headerEqual(&got, &want) {
						t.Errorf("%v: decoded %+v, want Details %v", m.Type, got, want.Details)
					}

					m.Details = map[string]any{"gone": absentSentinel}
					frame = withMarker(t, c, &m, mk.enc)
					if err := c.Decode(frame, &got); err != nil {
						t.Fatalf("%v: Decode(%q): %v", m.Type, frame, err)
					}
					if got.Details != nil || got.Type != m.Type || got.URI != m.URI {
						t.Errorf("%v: %q decoded to %+v, want no Details", m.Type, frame, got)
					}
				}
				if len(seen) == 0 {
					t.Fatal("no message with Details")
				}
			})
		}
	})
}

func hasDetails(t wamp.Type) bool {
	for _, f := range wamp.Layouts[t].Fields {
		if f == wamp.FDetails {
			return true
		}
	}
	return false
}

// wampySubscribe is what wampy 8 sends for subscribe("t", handler) with
// request id 1, as msgpackr and cbor-x encode it (non-minimal map headers
// included): SUBSCRIBE.Options {match: undefined, get_retained: undefined}.
var wampySubscribe = map[wamp.Serialization]string{
	wamp.JSON:    `[32,1,{"match":null,"get_retained":null},"t"]`,
	wamp.MsgPack: "\x94\x20\x01\xde\x00\x02\xa5match\xd4\x00\x00\xacget_retained\xd4\x00\x00\xa1t",
	wamp.CBOR:    "\x84\x18\x20\x01\xb9\x00\x02\x65match\xf7\x6cget_retained\xf7\x61t",
}

// TestWampySubscribe decodes wampy's SUBSCRIBE and reads its options the
// way the broker does: both are absent, so no error.
func TestWampySubscribe(t *testing.T) {
	allCodecs(t, func(t *testing.T, c Codec) {
		var m wamp.Message
		if err := c.Decode([]byte(wampySubscribe[c.Serialization()]), &m); err != nil {
			t.Fatal(err)
		}
		if m.Type != wamp.SUBSCRIBE || m.Request != 1 || m.URI != "t" || m.Details != nil {
			t.Fatalf("got %+v", m)
		}
		if match, err := wamp.OptString(m.Details, "match"); match != "" || err != nil {
			t.Errorf("match = %q, %v", match, err)
		}
		if get, err := wamp.OptBool(m.Details, "get_retained", false); get || err != nil {
			t.Errorf("get_retained = %v, %v", get, err)
		}
	})
}

// TestMsgPackExtensionsInDetails: of the MsgPack extensions, only msgpackr's
// undefined (fixext 1, type 0, data 0) is accepted in Details; any other is
// malformed, which the session answers with a protocol_violation ABORT.
func TestMsgPackExtensionsInDetails(t *testing.T) {
	c := For(wamp.MsgPack)
	for _, tc := range []struct {
		name, ext string
	}{
		{"fixext 1 type 1", "\xd4\x01\x00"},
		{"fixext 1 type 5", "\xd4\x05\x00"},
		{"fixext 1 type 0 data 1", "\xd4\x00\x01"},
		{"fixext 1 type -1", "\xd4\xff\x00"},
		{"fixext 2 type 0", "\xd5\x00\x00\x00"},
		{"ext 8 type 0 empty", "\xc7\x00\x00"},
		{"timestamp 32", "\xd6\xff\x00\x00\x00\x00"},
	} {
		frame := "\x94\x20\x01\x81\xa5match" + tc.ext + "\xa1t"
		var m wamp.Message
		err := c.Decode([]byte(frame), &m)
		if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "field 2 (Options)") {
			t.Errorf("%s: Decode(%q) = %v, want ErrMalformed for Options", tc.name, frame, err)
		}
	}
}

// TestUndefinedPayload: undefined in place of Args or Kwargs stands for an
// absent payload, as null does; inside a payload it passes through to peers
// of the same serializer and becomes null for the others. Another MsgPack
// extension inside a payload passes through too, but cannot be converted:
// Encode for another serializer fails cleanly.
func TestUndefinedPayload(t *testing.T) {
	for _, tc := range []struct {
		ser           wamp.Serialization
		absentArgs    string // CALL with undefined Args and {"a": 1}
		undefInList   string // [1, undefined]
		otherExtInArg string
	}{
		{wamp.MsgPack, "\x96\x30\x01\x80\xa1p\xd4\x00\x00\x81\xa1a\x01", "\x92\x01\xd4\x00\x00", "\x92\x01\xd4\x01\x00"},
		{wamp.CBOR, "\x86\x18\x30\x01\xa0\x61p\xf7\xa1\x61a\x01", "\x82\x01\xf7", ""},
	} {
		t.Run(tc.ser.String(), func(t *testing.T) {
			c := For(tc.ser)
			var m wamp.Message
			if err := c.Decode([]byte(tc.absentArgs), &m); err != nil {
				t.Fatalf("undefined Args: %v", err)
			}
			if !m.Args.IsZero() || m.Kwargs.IsZero() {
				t.Fatalf("undefined Args: got Args %q Kwargs %q", m.Args.Raw, m.Kwargs.Raw)
			}

			v, err := c.DecodeValue([]byte(tc.undefInList))
			if err != nil || !valueEqual(v, []any{int64(1), nil}) {
				t.Fatalf("DecodeValue(%q) = %#v, %v; want [1, nil]", tc.undefInList, v, err)
			}
			ev := &wamp.Message{Type: wamp.EVENT, ID: 1, Publication: 2, Args: wamp.Payload{Raw: []byte(tc.undefInList), Ser: tc.ser}}
			same, err := c.Encode(nil, ev)
			if err != nil || !bytes.Contains(same, []byte(tc.undefInList)) {
				t.Fatalf("same serializer: %q, %v; want the payload untouched", same, err)
			}
			json, err := For(wamp.JSON).Encode(nil, ev)
			if err != nil || string(json) != `[36,1,2,{},[1,null]]` {
				t.Fatalf("to JSON: %s, %v", json, err)
			}

			if tc.otherExtInArg == "" {
				return
			}
			ev = &wamp.Message{Type: wamp.EVENT, ID: 1, Publication: 2, Args: wamp.Payload{Raw: []byte(tc.otherExtInArg), Ser: tc.ser}}
			if _, err := c.Encode(nil, ev); err != nil {
				t.Fatalf("same serializer, other extension: %v", err)
			}
			if out, err := For(wamp.JSON).Encode(nil, ev); !errors.Is(err, ErrMalformed) || len(out) != 0 {
				t.Fatalf("to JSON with another extension = %q, %v; want ErrMalformed", out, err)
			}
		})
	}
}
