package router_test

import (
	"bufio"
	"bytes"
	"compress/flate"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gammazero/nexus/v3/client"
	nexustransport "github.com/gammazero/nexus/v3/transport"
	nexuswamp "github.com/gammazero/nexus/v3/wamp"
	"github.com/gobwas/httphead"
	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsflate"

	"github.com/switchboard/switchboard/config"
	"github.com/switchboard/switchboard/router/routertest"
)

// offeredExtension dials url offering permessage-deflate as browsers do
// and returns the parameters the router answered with; ok is false when
// it did not accept.
func offeredExtension(t *testing.T, url string) (_ wsflate.Parameters, ok bool) {
	t.Helper()
	d := ws.Dialer{
		Protocols:  []string{"wamp.2.json"},
		Extensions: []httphead.Option{httphead.NewOption("permessage-deflate", map[string]string{"client_max_window_bits": ""})},
		Timeout:    10 * time.Second,
	}
	nc, _, hs, err := d.Dial(context.Background(), url)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	defer nc.Close()
	if len(hs.Extensions) > 1 {
		t.Fatalf("%d extensions accepted", len(hs.Extensions))
	}
	var p wsflate.Parameters
	for _, e := range hs.Extensions {
		if string(e.Name) != "permessage-deflate" {
			t.Fatalf("extension %s accepted", e.Name)
		}
		if err := p.Parse(e); err != nil {
			t.Fatalf("answer %v: %v", e, err)
		}
		ok = true
	}
	return p, ok
}

// The config's compression block reaches the WebSocket listener: on by
// default, off when the file says so.
func TestCompressionConfig(t *testing.T) {
	r := routertest.Run(t, nil)
	noContext := wsflate.Parameters{ServerNoContextTakeover: true, ClientNoContextTakeover: true}
	if got, ok := offeredExtension(t, r.URL("websocket")); !ok || got != noContext {
		t.Errorf("default listener answered %+v (%v), want permessage-deflate without context takeover", got, ok)
	}

	cfg := routertest.Config()
	cfg.Transports[0].Compression = &config.Compression{Disabled: true}
	r = routertest.Run(t, cfg)
	if got, ok := offeredExtension(t, r.URL("websocket")); ok {
		t.Errorf("listener with compression disabled answered %+v", got)
	}

	cfg = routertest.Config()
	cfg.Transports[0].Compression = &config.Compression{ServerMaxWindowBits: 12}
	r = routertest.Run(t, cfg)
	want := noContext
	want.ServerMaxWindowBits = 12
	if got, _ := offeredExtension(t, r.URL("websocket")); got != want {
		t.Errorf("listener with a 4 KiB window answered %+v, want %+v", got, want)
	}
}

// gorilla/websocket (under the nexus client) is another implementation
// of permessage-deflate: a publication and a call of 64 KiB each way go
// through the router compressed.
func TestCompressionNexusClient(t *testing.T) {
	r := routertest.Run(t, nil)
	url := r.URL("websocket")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	connect := func() *client.Client {
		c, err := client.ConnectNet(ctx, url, client.Config{Realm: "realm1",
			WsCfg: nexustransport.WebsocketConfig{EnableCompression: true}})
		if err != nil {
			t.Fatalf("connect %s: %v", url, err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	payload := strings.Repeat(`{"symbol":"SYM","price":12.5,"ts":"2024-05-01T12:00:00Z"},`, 64<<10/58)

	const subscribers = 3
	got := make(chan string, subscribers)
	for range subscribers {
		if err := connect().Subscribe("com.example.z", func(e *nexuswamp.Event) {
			s, _ := nexuswamp.AsString(e.Arguments[0])
			got <- s
		}, nil); err != nil {
			t.Fatal(err)
		}
	}
	pub := connect()
	if err := pub.Publish("com.example.z", nexuswamp.Dict{nexuswamp.OptAcknowledge: true}, nexuswamp.List{payload}, nil); err != nil {
		t.Fatalf("publish: %v", err)
	}
	for i := range subscribers {
		select {
		case s := <-got:
			if s != payload {
				t.Fatalf("subscriber got %d bytes, want %d", len(s), len(payload))
			}
		case <-ctx.Done():
			t.Fatalf("%d of %d subscribers got the event", i, subscribers)
		}
	}

	callee := connect()
	if err := callee.Register("com.example.echo", func(_ context.Context, inv *nexuswamp.Invocation) client.InvokeResult {
		return client.InvokeResult{Args: inv.Arguments}
	}, nil); err != nil {
		t.Fatal(err)
	}
	res, err := pub.Call(ctx, "com.example.echo", nil, nexuswamp.List{payload}, nil, nil)
	if err != nil {
		t.Fatalf("call: %v", err)
	}
	if s, _ := nexuswamp.AsString(res.Arguments[0]); s != payload {
		t.Fatalf("result of %d bytes, want %d", len(s), len(payload))
	}
}

// BenchmarkIdleSessionMemory measures what an idle WAMP session costs the
// router with permessage-deflate negotiated and without: b.N sessions
// each join (HELLO compressed by the client in the deflate run, WELCOME
// compressed by the router), subscribe, then idle. heap-B/session and
// stack-B/session are heap and goroutine stacks in use per session after
// two collections (which empty the pools), client ends included; the
// client ends are alike in both runs, so the difference is compression's.
// Run each mode in a process of its own, with -benchtime=5000x or so:
//
//	go test ./router -run '^$' -bench 'IdleSessionMemory/deflate' -benchtime 5000x -count 3
func BenchmarkIdleSessionMemory(b *testing.B) {
	hello := []byte(`[1,"realm1",{"agent":"AutobahnJS-22.11.1","roles":{"caller":{"features":{"caller_identification":true,` +
		`"progressive_call_results":true,"call_canceling":true}},"callee":{"features":{"caller_identification":true,` +
		`"pattern_based_registration":true,"shared_registration":true,"progressive_call_results":true,"registration_revocation":true,` +
		`"call_canceling":true}},"publisher":{"features":{"publisher_identification":true,"subscriber_blackwhite_listing":true,` +
		`"publisher_exclusion":true}},"subscriber":{"features":{"publisher_identification":true,"pattern_based_subscription":true,` +
		`"subscription_revocation":true}}}}]`)
	for _, mode := range []string{"plain", "deflate"} {
		b.Run(mode, func(b *testing.B) {
			r := routertest.Run(b, nil)
			addr := strings.TrimPrefix(strings.TrimSuffix(r.URL("websocket"), "/ws"), "ws://")
			offer := ""
			if mode == "deflate" {
				offer = "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
			}
			req := []byte("GET /ws HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
				"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: wamp.2.json\r\n" + offer + "\r\n")
			var conns []net.Conn
			b.Cleanup(func() {
				for _, nc := range conns {
					nc.Close()
				}
			})
			open := func(i int) {
				nc, err := net.DialTimeout("tcp", addr, 10*time.Second)
				if err != nil {
					b.Fatal(err)
				}
				conns = append(conns, nc)
				_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
				br := bufio.NewReaderSize(nc, 1024)
				if _, err := nc.Write(req); err != nil {
					b.Fatal(err)
				}
				resp, err := http.ReadResponse(br, nil)
				if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
					b.Fatalf("upgrade: %v", err)
				}
				if (resp.Header.Get("Sec-WebSocket-Extensions") != "") != (mode == "deflate") {
					b.Fatalf("Sec-WebSocket-Extensions %q", resp.Header.Get("Sec-WebSocket-Extensions"))
				}
				compress := mode == "deflate"
				sendWAMP(b, nc, hello, compress)
				if m, z := readWAMP(b, br); !bytes.HasPrefix(m, []byte("[2,")) || z != compress {
					b.Fatalf("want WELCOME (compressed %v), got %q (compressed %v)", compress, m, z)
				}
				sendWAMP(b, nc, fmt.Appendf(nil, `[32,1,{},"bench.idle.%d"]`, i), compress)
				if m, _ := readWAMP(b, br); !bytes.HasPrefix(m, []byte("[33,1,")) {
					b.Fatalf("want SUBSCRIBED, got %q", m)
				}
				if br.Buffered() != 0 {
					b.Fatal("unexpected input")
				}
				_ = nc.SetDeadline(time.Time{})
			}
			// Sessions opened before the first reading take the router's
			// one-time costs (pools, maps of the first few sizes) out of
			// the figure.
			const warm = 500
			for i := range warm {
				open(i)
			}
			heap0, stack0 := memInUse()
			for i := range b.N {
				open(warm + i)
			}
			heap1, stack1 := memInUse()
			b.ReportMetric(float64(heap1-heap0)/float64(b.N), "heap-B/session")
			b.ReportMetric(float64(stack1-stack0)/float64(b.N), "stack-B/session")
		})
	}
}

// sendWAMP writes one masked text frame, deflated (RSV1) if compress.
func sendWAMP(tb testing.TB, w io.Writer, msg []byte, compress bool) {
	tb.Helper()
	f := ws.NewTextFrame(bytes.Clone(msg))
	if compress {
		var z bytes.Buffer
		fw, _ := flate.NewWriter(&z, flate.BestSpeed)
		_, _ = fw.Write(msg)
		_ = fw.Flush()
		f = ws.NewTextFrame(z.Bytes()[:z.Len()-4])
		f.Header.Rsv = ws.Rsv(true, false, false)
	}
	if err := ws.WriteFrame(w, ws.MaskFrameInPlace(f)); err != nil {
		tb.Fatal(err)
	}
}

// readWAMP reads one server frame, inflated if it came compressed.
func readWAMP(tb testing.TB, r io.Reader) (msg []byte, compressed bool) {
	tb.Helper()
	f, err := ws.ReadFrame(r)
	if err != nil {
		tb.Fatal(err)
	}
	if f.Header.Rsv == 0 {
		return f.Payload, false
	}
	fr := flate.NewReader(io.MultiReader(bytes.NewReader(f.Payload), strings.NewReader("\x00\x00\xff\xff\x01\x00\x00\xff\xff")))
	msg, err = io.ReadAll(fr)
	if err != nil {
		tb.Fatal(err)
	}
	return msg, true
}

// memInUse returns heap and stack bytes in use after two collections,
// the second of which empties what sync.Pools kept.
func memInUse() (heap, stacks int64) {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc), int64(ms.StackInuse)
}
