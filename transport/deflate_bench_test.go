package transport

import (
	"bytes"
	"fmt"
	"testing"
	"unsafe"

	"github.com/gobwas/ws"

	"github.com/switchboard/switchboard/wamp"
)

// eventFrames returns n JSON EVENT frames of about size bytes each, all
// different, as the broker encodes publications of a quote feed.
func eventFrames(n, size int) [][]byte {
	frames := make([][]byte, n)
	for i := range frames {
		b := fmt.Appendf(nil, `[36,5512315355,%d,{},[[`, 4429313566+i)
		for j := 0; len(b) < size-40; j++ {
			b = fmt.Appendf(b, `{"symbol":"SYM%03d","bid":%d.%02d,"ask":%d.%02d,"size":%d},`,
				(i+j)%97, 100+(i*7+j)%50, (i+j*13)%100, 101+(i*7+j)%50, (i*3+j)%100, (i*31+j*17)%10000)
		}
		b = append(b[:len(b)-1], `]],{"seq":`...)
		b = fmt.Appendf(b, "%d}]", i)
		frames[i] = b
	}
	return frames
}

// BenchmarkDeflateFanout measures what a publication of a 1 KiB JSON
// EVENT costs the transport when it reaches 100 or 1000 subscribers:
// framing alone (plain), permessage-deflate with the frame compressed
// once and shared (shared, the router's way), and compressed per
// subscriber (private, what sharing saves). One op is one publication;
// ns/event and wire-B/event are per subscriber. Each publication is a new
// frame, as the broker allocates one per publication. Writes go to
// connections that discard them, so system calls are not counted.
func BenchmarkDeflateFanout(b *testing.B) {
	base := eventFrames(256, 1<<10)
	z := Config{}.withDefaults().Compression
	p := negotiateDeflate(&z, [][]byte{[]byte(chromeOffer)})
	cfg := Config{}.withDefaults()
	for _, subs := range []int{100, 1000} {
		for _, mode := range []string{"plain", "shared", "private"} {
			b.Run(fmt.Sprintf("subs=%d/%s", subs, mode), func(b *testing.B) {
				cache := &frameCache{}
				conns := make([]*conn, subs)
				mcs := make([]*memConn, subs)
				for i := range conns {
					mcs[i] = &memConn{}
					conns[i] = newConn(mcs[i], true, wamp.JSON, 1<<24, 0, cfg, nil)
					if mode != "plain" {
						conns[i].deflate = newDeflateState(p, &z, cache)
					}
				}
				batch, shared := make([][]byte, 1), []bool{mode == "shared"}
				b.ReportAllocs()
				n := 0
				for b.Loop() {
					batch[0] = bytes.Clone(base[n%len(base)])
					n++
					for _, c := range conns {
						if err := c.WriteBatchShared(batch, shared); err != nil {
							b.Fatal(err)
						}
					}
				}
				var wire int64
				for _, mc := range mcs {
					wire += mc.wrote.Load()
				}
				events := float64(n) * float64(subs)
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/events, "ns/event")
				b.ReportMetric(float64(wire)/events, "wire-B/event")
				b.ReportMetric(float64(cache.compressions.Load())/float64(n), "compressions/op")
			})
		}
	}
}

// An idle connection with the default settings holds no compressor,
// decompressor or window, only its small deflateState, however much it
// compressed and inflated.
func TestDeflateIdleState(t *testing.T) {
	if size := unsafe.Sizeof(deflateState{}); size > 96 {
		t.Errorf("deflateState is %d bytes", size)
	}
	serve, peers := recorder()
	cli := dialZ(t, startWS(t, Config{}, serve), chromeOffer)
	p := recv(t, peers)
	msg := compressible(64 << 10)
	cli.sendZ(t, ws.OpText, true, true, deflateStd(t, msg))
	if got := recv(t, p.msgs); !bytes.Equal(got, msg) {
		t.Fatal("message read wrong")
	}
	if err := p.conn.WriteBatch([][]byte{msg}); err != nil {
		t.Fatal(err)
	}
	if _, got, compressed := cli.nextMessage(t); !compressed || !bytes.Equal(got, msg) {
		t.Fatal("message written wrong")
	}
	d := p.conn.(*conn).deflate
	if d.own != nil || d.window != nil || d.windowMax != 0 || d.takeover {
		t.Fatalf("idle deflate state holds own %v, window %d/%d, takeover %v", d.own != nil, len(d.window), d.windowMax, d.takeover)
	}
}
