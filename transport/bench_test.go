package transport

import (
	"fmt"
	"io"
	"math"
	"net"
	"testing"

	"github.com/gobwas/ws"

	"github.com/switchboard/switchboard/wamp"
)

func benchFrames(n, size int) [][]byte {
	frames := make([][]byte, n)
	for i := range frames {
		frames[i] = make([]byte, size)
		for j := range frames[i] {
			frames[i][j] = byte(i + j)
		}
	}
	return frames
}

var transports = []struct {
	name string
	ws   bool
}{{"websocket", true}, {"rawsocket", false}}

// BenchmarkWriteBatch measures framing alone: 64 frames of 100 bytes into a
// conn that discards.
func BenchmarkWriteBatch(b *testing.B) {
	for _, tr := range transports {
		b.Run(tr.name, func(b *testing.B) {
			c := newConn(&memConn{}, tr.ws, wamp.JSON, 1<<24, 0, Config{}.withDefaults(), nil)
			frames := benchFrames(64, 100)
			b.ReportAllocs()
			b.SetBytes(64 * 100)
			for b.Loop() {
				if err := c.WriteBatch(frames); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// tcpPair returns the server end of a loopback TCP connection whose client
// end is drained by a goroutine that stops on cleanup.
func tcpPair(tb testing.TB) net.Conn {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	cli, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		tb.Fatal(err)
	}
	srv, err := ln.Accept()
	if err != nil {
		tb.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, cli)
		close(done)
	}()
	tb.Cleanup(func() {
		srv.Close()
		<-done
		cli.Close()
	})
	return srv
}

// BenchmarkWriteBatchTCP compares copying frames next to their headers with
// handing them to writev in place, over loopback TCP; copyMaxWritev comes
// from here.
func BenchmarkWriteBatchTCP(b *testing.B) {
	for _, size := range []int{100, 512, 1 << 10, 2 << 10, 4 << 10, 8 << 10, 16 << 10, 64 << 10} {
		for _, s := range []struct {
			name    string
			copyMax int
		}{{"copy", math.MaxInt}, {"writev", -1}, {"default", copyMaxWritev}} {
			b.Run(fmt.Sprintf("size=%d/%s", size, s.name), func(b *testing.B) {
				c := newConn(tcpPair(b), true, wamp.MsgPack, 1<<24, 0, Config{}.withDefaults(), nil)
				c.copyMax = s.copyMax
				frames := benchFrames(64, size)
				b.ReportAllocs()
				b.SetBytes(int64(64 * size))
				for b.Loop() {
					if err := c.WriteBatch(frames); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// readStream returns n client frames of size bytes each, as a peer sends
// them: masked for WebSocket.
func readStream(websocket bool, n, size int) []byte {
	var out []byte
	for _, f := range benchFrames(n, size) {
		if websocket {
			bts, _ := ws.CompileFrame(ws.MaskFrame(ws.NewTextFrame(f)))
			out = append(out, bts...)
		} else {
			out = append(out, rawFrame(kindData, f)...)
		}
	}
	return out
}

// BenchmarkRead reads 100-byte messages from an endless in-memory stream.
func BenchmarkRead(b *testing.B) {
	for _, tr := range transports {
		for _, size := range []int{100, 16 << 10} {
			b.Run(fmt.Sprintf("%s/size=%d", tr.name, size), func(b *testing.B) {
				mc := &memConn{loop: readStream(tr.ws, 64, size)}
				c := newConn(mc, tr.ws, wamp.JSON, 1<<24, 0, Config{}.withDefaults(), nil)
				b.ReportAllocs()
				b.SetBytes(int64(size))
				for b.Loop() {
					if _, err := c.Read(); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// The hot path allocates nothing once buffers have grown (STYLE 7).
func TestHotPathAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	for _, tr := range transports {
		frames := benchFrames(64, 100)
		frames = append(frames, make([]byte, 70000)) // one in-place iovec too
		for name, nc := range map[string]net.Conn{"mem": &memConn{}, "tcp": tcpPair(t)} {
			c := newConn(nc, tr.ws, wamp.JSON, 1<<24, 0, Config{}.withDefaults(), nil)
			if n := testing.AllocsPerRun(100, func() { _ = c.WriteBatch(frames) }); n != 0 {
				t.Errorf("%s/%s WriteBatch: %v allocs", tr.name, name, n)
			}
		}
		mc := &memConn{loop: readStream(tr.ws, 64, 100)}
		c := newConn(mc, tr.ws, wamp.JSON, 1<<24, 0, Config{}.withDefaults(), nil)
		if n := testing.AllocsPerRun(1000, func() { _, _ = c.Read() }); n != 0 {
			t.Errorf("%s Read: %v allocs", tr.name, n)
		}
	}
}
