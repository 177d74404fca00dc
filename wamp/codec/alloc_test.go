//go:build !race

// The race detector makes sync.Pool drop items at random, so allocation
// counts only mean something without it.

package codec

import (
	"testing"

	"github.com/switchboard/switchboard/wamp"
)

// TestHotPathAllocs guards the zero-allocation fast path: decoding a PUBLISH
// with empty options (its topic interned) and encoding an EVENT whose
// payload passes through.
func TestHotPathAllocs(t *testing.T) {
	if testing.CoverMode() != "" {
		t.Skip("coverage counters distort allocation counts")
	}
	allCodecs(t, func(t *testing.T, c Codec) {
		frame := publishFrame(t, c.Serialization())
		var m wamp.Message
		if n := testing.AllocsPerRun(1000, func() {
			if err := c.Decode(frame, &m); err != nil {
				t.Fatal(err)
			}
		}); n != 0 {
			t.Errorf("Decode PUBLISH: %v allocs", n)
		}
		ev := eventFor(t, c.Serialization())
		buf := make([]byte, 0, 256)
		if n := testing.AllocsPerRun(1000, func() {
			var err error
			if buf, err = c.Encode(buf[:0], ev); err != nil {
				t.Fatal(err)
			}
		}); n != 0 {
			t.Errorf("Encode EVENT: %v allocs", n)
		}
	})
}
