package codec

import (
	"testing"

	"github.com/switchboard/switchboard/wamp"
)

// publishFrame is the hot-path PUBLISH [16, 1, {}, "com.example.topic",
// [1, "x"], {"a": 1}] in serializer s.
func publishFrame(tb testing.TB, s wamp.Serialization) []byte {
	tb.Helper()
	var m wamp.Message
	if err := For(wamp.JSON).Decode([]byte(`[16,1,{},"com.example.topic",[1,"x"],{"a":1}]`), &m); err != nil {
		tb.Fatal(err)
	}
	frame, err := For(s).Encode(nil, &m)
	if err != nil {
		tb.Fatal(err)
	}
	return frame
}

// eventFor returns the EVENT the broker builds from a decoded PUBLISH: the
// payload is the publisher's raw bytes.
func eventFor(tb testing.TB, s wamp.Serialization) *wamp.Message {
	tb.Helper()
	var pub wamp.Message
	if err := For(s).Decode(publishFrame(tb, s), &pub); err != nil {
		tb.Fatal(err)
	}
	return &wamp.Message{Type: wamp.EVENT, ID: 1234567, Publication: 7654321, Args: pub.Args, Kwargs: pub.Kwargs}
}

func BenchmarkDecode(b *testing.B) {
	for _, s := range wamp.Serializations {
		b.Run(s.String(), func(b *testing.B) {
			c, frame := For(s), publishFrame(b, s)
			var m wamp.Message
			b.ReportAllocs()
			b.SetBytes(int64(len(frame)))
			for b.Loop() {
				if err := c.Decode(frame, &m); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDecodeDetails decodes a PUBLISH with typical non-empty options.
func BenchmarkDecodeDetails(b *testing.B) {
	for _, s := range wamp.Serializations {
		b.Run(s.String(), func(b *testing.B) {
			c := For(s)
			frame, err := c.Encode(nil, &wamp.Message{
				Type: wamp.PUBLISH, Request: 1, URI: "com.example.topic",
				Details: map[string]any{"acknowledge": true, "exclude_me": false},
				Args:    wamp.List(int64(1), "x"),
			})
			if err != nil {
				b.Fatal(err)
			}
			var m wamp.Message
			b.ReportAllocs()
			for b.Loop() {
				if err := c.Decode(frame, &m); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkEncodeEvent(b *testing.B) {
	for _, s := range wamp.Serializations {
		b.Run(s.String(), func(b *testing.B) {
			c, ev := For(s), eventFor(b, s)
			buf := make([]byte, 0, 256)
			b.ReportAllocs()
			for b.Loop() {
				var err error
				if buf, err = c.Encode(buf[:0], ev); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkConvert encodes an EVENT whose payload came in another
// serializer: one decode of Args and Kwargs plus the re-encode.
func BenchmarkConvert(b *testing.B) {
	for _, from := range wamp.Serializations {
		for _, to := range wamp.Serializations {
			if from == to {
				continue
			}
			b.Run(from.String()+"->"+to.String(), func(b *testing.B) {
				c, ev := For(to), eventFor(b, from)
				buf := make([]byte, 0, 256)
				b.ReportAllocs()
				for b.Loop() {
					ev.Args.Value, ev.Kwargs.Value = nil, nil
					var err error
					if buf, err = c.Encode(buf[:0], ev); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
