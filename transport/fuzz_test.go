package transport

import (
	"testing"

	"github.com/switchboard/switchboard/wamp"
)

// fuzzMax is small so that the fuzzers reach the too-big paths.
const fuzzMax = 1024

// splitInput cuts data at a fuzzer-chosen point, so that frame boundaries
// and split reads meet in every combination (nats FuzzParser style).
func splitInput(prefix, data []byte, split uint16) *memConn {
	cut := int(split) % (len(data) + 1)
	first := append(append([]byte(nil), prefix...), data[:cut]...)
	return &memConn{chunks: [][]byte{first, data[cut:]}}
}

// drainFuzz reads to the end, checking what Read may return, and finishes.
func drainFuzz(t *testing.T, c *conn, inputLen int) {
	for n := 0; ; n++ {
		m, err := c.Read()
		if err != nil {
			if _, again := c.Read(); again != err {
				t.Fatalf("second Read after error: %v, first %v", again, err)
			}
			break
		}
		if len(m) > fuzzMax {
			t.Fatalf("Read returned %d bytes, max %d", len(m), fuzzMax)
		}
		// Every message costs at least a 2-byte header.
		if n > inputLen/2 {
			t.Fatalf("%d messages from %d bytes", n, inputLen)
		}
	}
	c.finish()
	if !c.closed.Load() {
		t.Fatal("connection not closed after finish")
	}
}

func FuzzWebSocketFrames(f *testing.F) {
	f.Add([]byte("\x81\x83\x01\x02\x03\x04Z_^"), uint16(3))
	f.Fuzz(func(t *testing.T, data []byte, split uint16) {
		mc := splitInput(nil, data, split)
		c := newConn(mc, true, wamp.JSON, fuzzMax, 0, Config{}.withDefaults(), nil)
		drainFuzz(t, c, len(data))
	})
}

func FuzzRawSocketFrames(f *testing.F) {
	f.Add([]byte("\x00\x00\x00\x05hello"), uint16(2))
	f.Fuzz(func(t *testing.T, data []byte, split uint16) {
		// A valid handshake for JSON, both sides announcing 1 KiB.
		mc := splitInput([]byte{0x7f, 0x11, 0, 0}, data, split)
		c, err := rawHandshake(mc, Config{MaxMessageSize: fuzzMax}.withDefaults())
		if err != nil {
			t.Fatal(err)
		}
		if c.maxRead != fuzzMax || c.maxWrite != fuzzMax {
			t.Fatalf("negotiated read %d write %d", c.maxRead, c.maxWrite)
		}
		drainFuzz(t, c, len(data)+2)
	})
}
