package transport

import (
	"bufio"
	"bytes"
	"compress/flate"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/gobwas/ws"
	kflate "github.com/klauspost/compress/flate"

	"github.com/switchboard/switchboard/wamp"
)

// The client side of these tests uses the standard library's
// compress/flate, an implementation independent of the router's.

// chromeOffer is what Chromium (and the ws package for Node.js) offers.
const chromeOffer = "permessage-deflate; client_max_window_bits"

// defaultAnswer is the router's answer to it with the default settings.
const defaultAnswer = "permessage-deflate; server_no_context_takeover; client_no_context_takeover"

// zClient is a WebSocket client whose handshake the test writes itself, so
// that it can offer any extension and see the answer as sent.
type zClient struct {
	*wsClient
	ext string // the response's Sec-WebSocket-Extensions
}

// dialZ upgrades a connection to url offering the extension lines given.
func dialZ(t *testing.T, url string, offers ...string) *zClient {
	t.Helper()
	addr := strings.TrimPrefix(url, "ws://")
	nc := dialTCP(t, addr)
	req := "GET / HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: wamp.2.json\r\n"
	for _, o := range offers {
		req += "Sec-WebSocket-Extensions: " + o + "\r\n"
	}
	if _, err := io.WriteString(nc, req+"\r\n"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("reading the upgrade response: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %s", resp.Status)
	}
	exts := resp.Header.Values("Sec-WebSocket-Extensions")
	if len(exts) > 1 {
		t.Fatalf("%d Sec-WebSocket-Extensions headers: %q", len(exts), exts)
	}
	return &zClient{wsClient: &wsClient{Conn: nc, rd: br, protocol: resp.Header.Get("Sec-WebSocket-Protocol")},
		ext: resp.Header.Get("Sec-WebSocket-Extensions")}
}

// sendZ writes one masked frame with RSV1 as given.
func (c *zClient) sendZ(t *testing.T, op ws.OpCode, fin, rsv1 bool, payload []byte) {
	t.Helper()
	f := ws.NewFrame(op, fin, bytes.Clone(payload))
	f.Header.Rsv = ws.Rsv(rsv1, false, false)
	if err := ws.WriteFrame(c.Conn, ws.MaskFrameInPlace(f)); err != nil {
		t.Fatalf("client write: %v", err)
	}
}

// nextMessage reads one whole server message, inflating it when RSV1 is
// set; it reports whether it was compressed.
func (c *zClient) nextMessage(t *testing.T) (ws.OpCode, []byte, bool) {
	t.Helper()
	h, p := c.next(t)
	if h.Rsv&^ws.Rsv(true, false, false) != 0 || !h.Fin {
		t.Fatalf("server frame rsv %#x fin %v", h.Rsv, h.Fin)
	}
	compressed := h.Rsv != 0
	if compressed {
		if h.OpCode.IsControl() {
			t.Fatalf("RSV1 on a %v frame", h.OpCode)
		}
		p = inflateStd(t, p, nil)
	}
	return h.OpCode, p, compressed
}

// deflateStd compresses p as a permessage-deflate payload, no context.
func deflateStd(t testing.TB, p []byte) []byte {
	var b bytes.Buffer
	w, _ := flate.NewWriter(&b, flate.BestCompression)
	if _, err := w.Write(p); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	out := b.Bytes()
	if !bytes.HasSuffix(out, deflateTail) {
		t.Fatalf("flushed stream ends %x", out[max(0, len(out)-4):])
	}
	return out[:len(out)-4]
}

// inflateStd inflates a permessage-deflate payload, with the sender's
// window dict under context takeover.
func inflateStd(t testing.TB, p, dict []byte) []byte {
	t.Helper()
	r := flate.NewReaderDict(io.MultiReader(bytes.NewReader(p), bytes.NewReader(inflateEnd)), dict)
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("inflating %d bytes: %v", len(p), err)
	}
	return out
}

// compressible returns n bytes of JSON-like text that deflate shrinks.
func compressible(n int) []byte {
	var b []byte
	for i := 0; len(b) < n; i++ {
		b = fmt.Appendf(b, `{"id":%d,"symbol":"SYM%03d","price":%d.%02d,"ts":"2024-05-01T12:00:00Z"},`, i, i%97, 100+i%50, i%100)
	}
	return b[:n]
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

func TestDeflateNegotiate(t *testing.T) {
	cases := []struct {
		name   string
		z      Compression
		offers []string
		want   string
	}{
		{"chromium", Compression{}, []string{chromeOffer}, defaultAnswer},
		{"bare", Compression{}, []string{"permessage-deflate"}, defaultAnswer},
		{"client asks for a small server window", Compression{}, []string{"permessage-deflate; server_max_window_bits=10"},
			defaultAnswer + "; server_max_window_bits=10"},
		{"client gives its own window", Compression{}, []string{"permessage-deflate; client_max_window_bits=12"},
			defaultAnswer + "; client_max_window_bits=12"},
		{"quoted value", Compression{}, []string{`permessage-deflate; client_max_window_bits="12"`},
			defaultAnswer + "; client_max_window_bits=12"},
		{"router window smaller than asked", Compression{ServerMaxWindowBits: 9}, []string{"permessage-deflate; server_max_window_bits=12"},
			defaultAnswer + "; server_max_window_bits=9"},
		{"router window unasked", Compression{ServerMaxWindowBits: 11}, []string{"permessage-deflate"},
			defaultAnswer + "; server_max_window_bits=11"},
		{"client window asked", Compression{ClientMaxWindowBits: 10}, []string{chromeOffer},
			defaultAnswer + "; client_max_window_bits=10"},
		{"client window not offered", Compression{ClientMaxWindowBits: 10}, []string{"permessage-deflate"}, defaultAnswer},
		{"context takeover allowed", Compression{ServerContextTakeover: true, ClientContextTakeover: true}, []string{chromeOffer},
			"permessage-deflate"},
		{"client declines takeover", Compression{ServerContextTakeover: true, ClientContextTakeover: true},
			[]string{"permessage-deflate; server_no_context_takeover; client_no_context_takeover"}, defaultAnswer},
		{"first acceptable offer", Compression{}, []string{"x-webkit-deflate-frame, permessage-deflate; unknown=1, permessage-deflate; server_max_window_bits=11, permessage-deflate"},
			defaultAnswer + "; server_max_window_bits=11"},
		{"offers over two lines", Compression{}, []string{"permessage-deflate; server_max_window_bits", "permessage-deflate; server_max_window_bits=13"},
			defaultAnswer + "; server_max_window_bits=13"},
		{"repeated parameter", Compression{}, []string{"permessage-deflate; server_no_context_takeover; server_no_context_takeover"}, ""},
		{"bad window", Compression{}, []string{"permessage-deflate; client_max_window_bits=16"}, ""},
		{"window 8 offered", Compression{}, []string{"permessage-deflate; server_max_window_bits=8"},
			defaultAnswer + "; server_max_window_bits=8"},
		{"disabled", Compression{Disabled: true}, []string{chromeOffer}, ""},
		{"other extension only", Compression{}, []string{"x-webkit-deflate-frame"}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			z := tc.z.withDefaults()
			lines := make([][]byte, len(tc.offers))
			for i, o := range tc.offers {
				lines[i] = []byte(o)
			}
			p := negotiateDeflate(&z, lines)
			got := ""
			if p.on {
				got = p.response()
			}
			if got != tc.want {
				t.Fatalf("answer %q, want %q", got, tc.want)
			}
			// Both upgrade paths answer alike.
			for _, st := range starters {
				cli := dialZ(t, st.start(t, Config{Compression: tc.z}, echo), tc.offers...)
				if cli.ext != tc.want {
					t.Errorf("%s: Sec-WebSocket-Extensions %q, want %q", st.name, cli.ext, tc.want)
				}
			}
		})
	}
}

// Every deflateResponses slot is a distinct answer.
func TestDeflateResponsesDistinct(t *testing.T) {
	var r deflateResponses
	seen := map[string]bool{}
	for _, snc := range []bool{false, true} {
		for _, cnc := range []bool{false, true} {
			for _, sb := range []uint8{0, 8, 9, 10, 11, 12, 13, 14, 15} {
				for _, cb := range []uint8{0, 8, 9, 10, 11, 12, 13, 14, 15} {
					p := deflateParams{on: true, serverNoContext: snc, clientNoContext: cnc, respServerBits: sb, respClientBits: cb}
					h, _ := r.get(p)()
					var b bytes.Buffer
					if _, err := h.WriteTo(&b); err != nil {
						t.Fatal(err)
					}
					if want := "Sec-WebSocket-Extensions: " + p.response() + "\r\n"; b.String() != want {
						t.Fatalf("%+v: header %q, want %q", p, b.String(), want)
					}
					seen[b.String()] = true
				}
			}
		}
	}
	if len(seen) != len(r) {
		t.Fatalf("%d distinct answers, %d slots", len(seen), len(r))
	}
}

func TestDeflateDisabled(t *testing.T) {
	for _, st := range starters {
		t.Run(st.name, func(t *testing.T) {
			serve, peers := recorder()
			cli := dialZ(t, st.start(t, Config{Compression: Compression{Disabled: true}}, serve), chromeOffer)
			if cli.ext != "" {
				t.Fatalf("extensions negotiated: %q", cli.ext)
			}
			p := recv(t, peers)
			msg := compressible(4 << 10)
			if err := p.conn.WriteBatch([][]byte{msg}); err != nil {
				t.Fatal(err)
			}
			if _, got, compressed := cli.nextMessage(t); compressed || !bytes.Equal(got, msg) {
				t.Fatalf("compressed %v, %d bytes", compressed, len(got))
			}
			// RSV1 is then a protocol error like any reserved bit.
			cli.sendZ(t, ws.OpText, true, true, deflateStd(t, msg))
			if err := recv(t, p.err); !errors.Is(err, ErrProtocol) {
				t.Fatalf("server Read: %v, want ErrProtocol", err)
			}
			expectClose(t, cli.wsClient, ws.StatusProtocolError)
		})
	}
}

// expectClose reads server frames up to a close frame with code.
func expectClose(t *testing.T, c *wsClient, code ws.StatusCode) {
	t.Helper()
	for {
		h, body := c.next(t)
		if h.OpCode != ws.OpClose {
			continue
		}
		if got, reason := ws.ParseCloseFrameData(body); got != code {
			t.Fatalf("close %d %q, want %d", got, reason, code)
		}
		return
	}
}

// A 64 KiB message both ways, whole and fragmented, on both upgrade
// paths.
func TestDeflateRoundTrip(t *testing.T) {
	for _, st := range starters {
		t.Run(st.name, func(t *testing.T) {
			serve, peers := recorder()
			cli := dialZ(t, st.start(t, Config{}, serve), chromeOffer)
			if cli.ext != defaultAnswer {
				t.Fatalf("Sec-WebSocket-Extensions %q, want %q", cli.ext, defaultAnswer)
			}
			p := recv(t, peers)
			msg := compressible(64 << 10)
			z := deflateStd(t, msg)
			if len(z) > len(msg)/4 {
				t.Fatalf("test payload compresses to %d bytes only", len(z))
			}

			cli.sendZ(t, ws.OpText, true, true, z)
			if got := recv(t, p.msgs); !bytes.Equal(got, msg) {
				t.Fatalf("server read %d bytes, want the %d sent", len(got), len(msg))
			}
			// Fragmented: RSV1 on the first frame only, a ping between.
			third := len(z) / 3
			cli.sendZ(t, ws.OpText, false, true, z[:third])
			cli.sendZ(t, ws.OpPing, true, false, []byte("mid"))
			cli.sendZ(t, ws.OpContinuation, false, false, z[third:2*third])
			cli.sendZ(t, ws.OpContinuation, true, false, z[2*third:])
			if got := recv(t, p.msgs); !bytes.Equal(got, msg) {
				t.Fatalf("server read %d bytes of a fragmented message, want %d", len(got), len(msg))
			}
			if h, pong := cli.next(t); h.OpCode != ws.OpPong || h.Rsv != 0 || string(pong) != "mid" {
				t.Fatalf("got %v rsv %#x %q, want pong mid", h.OpCode, h.Rsv, pong)
			}
			// An empty message, compressed as RFC 7692 7.2.3.6 says, and
			// as no bytes at all.
			for _, empty := range [][]byte{{0}, nil} {
				cli.sendZ(t, ws.OpText, true, true, empty)
				if got := recv(t, p.msgs); len(got) != 0 {
					t.Fatalf("server read %q for an empty message", got)
				}
			}
			// Uncompressed messages stay legal on a compressed connection.
			cli.sendZ(t, ws.OpText, true, false, []byte(`[1,"realm1",{}]`))
			if got := recv(t, p.msgs); string(got) != `[1,"realm1",{}]` {
				t.Fatalf("server read %q", got)
			}

			if err := p.conn.WriteBatch([][]byte{msg, []byte("[]"), msg}); err != nil {
				t.Fatal(err)
			}
			for i, want := range [][]byte{msg, []byte("[]"), msg} {
				op, got, compressed := cli.nextMessage(t)
				if op != ws.OpText || !bytes.Equal(got, want) || compressed != (len(want) > 2) {
					t.Fatalf("message %d: op %v compressed %v, %d bytes, want %d", i, op, compressed, len(got), len(want))
				}
			}
		})
	}
}

// Messages under the threshold, and those that do not shrink, go out as
// they are.
func TestDeflateThreshold(t *testing.T) {
	serve, peers := recorder()
	cli := dialZ(t, startWS(t, Config{Compression: Compression{Threshold: 300}}, serve), chromeOffer)
	p := recv(t, peers)
	noise := randomBytes(4 << 10)
	cases := []struct {
		msg        []byte
		compressed bool
	}{
		{compressible(299), false},
		{compressible(300), true},
		{noise, false},
		{compressible(100 << 10), true}, // in place, not copied into the batch buffer
		{append(bytes.Clone(noise), noise...), true},
	}
	var batch [][]byte
	for _, c := range cases {
		batch = append(batch, c.msg)
	}
	if err := p.conn.WriteBatch(batch); err != nil {
		t.Fatal(err)
	}
	for i, c := range cases {
		_, got, compressed := cli.nextMessage(t)
		if compressed != c.compressed || !bytes.Equal(got, c.msg) {
			t.Errorf("message %d (%d bytes): compressed %v, want %v; %d bytes back", i, len(c.msg), compressed, c.compressed, len(got))
		}
	}
}

// A publication to many subscribers is compressed once: every connection
// sends the same compressed bytes, and the endpoint's cache counts one
// compression.
func TestDeflateSharedOnce(t *testing.T) {
	const n = 20
	serve, peers := recorder()
	url := startWS(t, Config{}, serve)
	clis := make([]*zClient, n)
	ps := make([]*peer, n)
	for i := range clis {
		clis[i] = dialZ(t, url, chromeOffer)
		ps[i] = recv(t, peers)
	}
	cache := ps[0].conn.(*conn).deflate.cache
	if cache == nil {
		t.Fatal("no shared-frame cache on a connection without server context takeover")
	}
	event := compressible(4 << 10)
	writeAll := func(shared bool) {
		var wg sync.WaitGroup
		for _, p := range ps {
			wg.Go(func() {
				sw := p.conn.(SharedWriter)
				if err := sw.WriteBatchShared([][]byte{[]byte(`[36,1,2,{}]`), event}, []bool{false, shared}); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
	}
	readAll := func() []byte {
		var wire []byte
		for i, c := range clis {
			if _, small, _ := c.nextMessage(t); string(small) != `[36,1,2,{}]` {
				t.Fatalf("client %d: %q", i, small)
			}
			h, z := c.next(t)
			if h.Rsv != ws.Rsv(true, false, false) {
				t.Fatalf("client %d: event not compressed", i)
			}
			if got := inflateStd(t, z, nil); !bytes.Equal(got, event) {
				t.Fatalf("client %d: event inflates to %d bytes, want %d", i, len(got), len(event))
			}
			if wire == nil {
				wire = z
			} else if !bytes.Equal(z, wire) {
				t.Fatalf("client %d: compressed event differs from client 0's", i)
			}
		}
		return wire
	}

	writeAll(true)
	readAll()
	if got := cache.compressions.Load(); got != 1 {
		t.Fatalf("%d compressions for one shared frame to %d connections, want 1", got, n)
	}
	// The same frame again: from the cache.
	writeAll(true)
	readAll()
	// Not marked shared: compressed by each connection, not cached.
	writeAll(false)
	readAll()
	if got := cache.compressions.Load(); got != 1 {
		t.Fatalf("%d compressions after private writes, want still 1", got)
	}
	// Equal bytes in another slice are another frame: identity, not
	// content, is the key.
	event = bytes.Clone(event)
	writeAll(true)
	readAll()
	if got := cache.compressions.Load(); got != 2 {
		t.Fatalf("%d compressions after a second frame, want 2", got)
	}
}

// The cache stays within its bounds, and an evicted frame is compressed
// again rather than confused with another.
func TestFrameCacheBounds(t *testing.T) {
	var fc frameCache
	frames := make([][]byte, 4*cacheShards*cacheSlots)
	for i := range frames {
		frames[i] = fmt.Appendf(nil, "%s %d", compressible(512), i)
	}
	for _, f := range frames {
		if z := fc.compressed(f, 15); !bytes.Equal(inflateStd(t, z, nil), f) {
			t.Fatal("cached payload does not inflate to its frame")
		}
	}
	for i := range fc.shards {
		s := &fc.shards[i]
		if s.n > cacheSlots || len(s.m) != s.n || s.bytes > cacheShardBytes {
			t.Fatalf("shard %d: %d entries, map %d, %d bytes", i, s.n, len(s.m), s.bytes)
		}
	}
	before := fc.compressions.Load()
	if z := fc.compressed(frames[0], 15); !bytes.Equal(inflateStd(t, z, nil), frames[0]) {
		t.Fatal("evicted frame came back wrong")
	}
	if fc.compressions.Load() != before+1 {
		t.Fatal("the first frame was not evicted")
	}
	// Too big to share: sent as is.
	if z := fc.compressed(compressible(maxSharedFrame+1), 15); z != nil {
		t.Fatal("a frame over maxSharedFrame was compressed")
	}
	// Big frames evict by bytes.
	for range 8 {
		fc.compressed(compressible(maxSharedFrame), 15)
	}
	for i := range fc.shards {
		if s := &fc.shards[i]; s.bytes > cacheShardBytes {
			t.Fatalf("shard %d holds %d bytes", i, s.bytes)
		}
	}
}

// A small message that inflates past MaxMessageSize closes the connection
// with 1009, after producing no more than the limit.
func TestDeflateZipBomb(t *testing.T) {
	for _, fragmented := range []bool{false, true} {
		t.Run(fmt.Sprint("fragmented=", fragmented), func(t *testing.T) {
			const limit = 1 << 20
			serve, peers := recorder()
			cli := dialZ(t, startWS(t, Config{MaxMessageSize: limit}, serve), chromeOffer)
			p := recv(t, peers)
			// Exactly the limit is fine.
			cli.sendZ(t, ws.OpText, true, true, deflateStd(t, make([]byte, limit)))
			if got := recv(t, p.msgs); len(got) != limit {
				t.Fatalf("server read %d bytes", len(got))
			}
			bomb := deflateStd(t, make([]byte, 32<<20))
			if len(bomb) > limit {
				t.Fatalf("bomb of %d bytes", len(bomb))
			}
			if fragmented {
				cli.sendZ(t, ws.OpBinary, false, true, bomb[:len(bomb)/2])
				cli.sendZ(t, ws.OpContinuation, true, false, bomb[len(bomb)/2:])
			} else {
				cli.sendZ(t, ws.OpBinary, true, true, bomb)
			}
			if err := recv(t, p.err); !errors.Is(err, ErrTooLarge) {
				t.Fatalf("server Read: %v, want ErrTooLarge", err)
			}
			expectClose(t, cli.wsClient, ws.StatusMessageTooBig)
		})
	}
}

// The memory a bomb costs is bounded by the limit: the inflated message
// stops growing past it.
func TestDeflateBombBounded(t *testing.T) {
	const limit = 100 << 10
	f := ws.NewBinaryFrame(deflateStd(t, make([]byte, 64<<20)))
	f.Header.Rsv = ws.Rsv(true, false, false)
	zc := Config{}.withDefaults().Compression
	c := newConn(&memConn{chunks: [][]byte{mustCompile(ws.MaskFrame(f))}}, true, wamp.MsgPack, limit, 0, Config{}.withDefaults(), nil)
	c.deflate = newDeflateState(negotiateDeflate(&zc, [][]byte{[]byte(chromeOffer)}), &zc, nil)
	if _, err := c.Read(); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Read: %v, want ErrTooLarge", err)
	}
	if len(c.rbuf) != limit+1 || cap(c.rbuf) > 2*limit {
		t.Fatalf("inflated %d bytes into a buffer of %d, limit %d", len(c.rbuf), cap(c.rbuf), limit)
	}
	c.finish()
}

// A compressed payload larger than any message could need is refused
// before it is read.
func TestDeflateCompressedTooBig(t *testing.T) {
	serve, peers := recorder()
	cli := dialZ(t, startWS(t, Config{MaxMessageSize: 1000}, serve), chromeOffer)
	p := recv(t, peers)
	cli.sendZ(t, ws.OpBinary, true, true, randomBytes(compressedMax(1000)+1))
	if err := recv(t, p.err); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("server Read: %v, want ErrTooLarge", err)
	}
	expectClose(t, cli.wsClient, ws.StatusMessageTooBig)
}

func TestDeflateProtocolErrors(t *testing.T) {
	cases := map[string]func(t *testing.T, c *zClient){
		"rsv1 on ping":  func(t *testing.T, c *zClient) { c.sendZ(t, ws.OpPing, true, true, nil) },
		"rsv1 on close": func(t *testing.T, c *zClient) { c.sendZ(t, ws.OpClose, true, true, nil) },
		"rsv1 on continuation": func(t *testing.T, c *zClient) {
			z := deflateStd(t, compressible(1000))
			c.sendZ(t, ws.OpText, false, true, z[:10])
			c.sendZ(t, ws.OpContinuation, true, true, z[10:])
		},
		"rsv2": func(t *testing.T, c *zClient) {
			f := ws.NewTextFrame([]byte("[]"))
			f.Header.Rsv = ws.Rsv(false, true, false)
			_ = ws.WriteFrame(c.Conn, ws.MaskFrameInPlace(f))
		},
		"corrupt": func(t *testing.T, c *zClient) { c.sendZ(t, ws.OpText, true, true, []byte{0xff, 0xff, 0xff, 0xff}) },
	}
	for name, send := range cases {
		t.Run(name, func(t *testing.T) {
			serve, peers := recorder()
			cli := dialZ(t, startWS(t, Config{}, serve), chromeOffer)
			p := recv(t, peers)
			send(t, cli)
			if err := recv(t, p.err); !errors.Is(err, ErrProtocol) {
				t.Fatalf("server Read: %v, want ErrProtocol", err)
			}
			expectClose(t, cli.wsClient, ws.StatusProtocolError)
		})
	}
	// RSV1 where nothing was negotiated.
	for _, st := range starters {
		t.Run("not negotiated/"+st.name, func(t *testing.T) {
			serve, peers := recorder()
			cli := dialZ(t, st.start(t, Config{}, serve))
			if cli.ext != "" {
				t.Fatalf("extension %q without an offer", cli.ext)
			}
			p := recv(t, peers)
			cli.sendZ(t, ws.OpText, true, true, deflateStd(t, compressible(1000)))
			if err := recv(t, p.err); !errors.Is(err, ErrProtocol) {
				t.Fatalf("server Read: %v, want ErrProtocol", err)
			}
			expectClose(t, cli.wsClient, ws.StatusProtocolError)
		})
	}
}

// With context takeover allowed, each side's messages may refer back into
// its earlier ones: the router keeps the client's window and its own
// compressor, and a shared frame is compressed in that stream too.
func TestDeflateContextTakeover(t *testing.T) {
	serve, peers := recorder()
	cfg := Config{Compression: Compression{ServerContextTakeover: true, ClientContextTakeover: true, ClientMaxWindowBits: 10}}
	cli := dialZ(t, startWS(t, cfg, serve), chromeOffer)
	if cli.ext != "permessage-deflate; client_max_window_bits=10" {
		t.Fatalf("Sec-WebSocket-Extensions %q", cli.ext)
	}
	p := recv(t, peers)

	// Client to router: one compressor over the whole stream, window 1 KiB
	// (which the standard library cannot do).
	var zbuf bytes.Buffer
	cw, _ := kflate.NewWriterWindow(&zbuf, 1<<10)
	msgs := [][]byte{compressible(700), compressible(900), compressible(5000), compressible(900)}
	for i, m := range msgs {
		zbuf.Reset()
		_, _ = cw.Write(m)
		_ = cw.Flush()
		z := zbuf.Bytes()
		cli.sendZ(t, ws.OpText, true, true, z[:len(z)-4])
		if got := recv(t, p.msgs); !bytes.Equal(got, m) {
			t.Fatalf("message %d: server read %d bytes, want %d", i, len(got), len(m))
		}
	}

	// Router to client: the client inflates with its window of what came
	// before. The second message is the first again, so it can be a
	// single back-reference if the context was kept.
	var window []byte
	sw := p.conn.(SharedWriter)
	for i, m := range [][]byte{compressible(2000), compressible(2000), []byte("[]"), compressible(3000)} {
		if err := sw.WriteBatchShared([][]byte{m}, []bool{i == 3}); err != nil {
			t.Fatal(err)
		}
		h, z := cli.next(t)
		got := z
		if h.Rsv != 0 {
			got = inflateStd(t, z, window)
			window = append(window, got...)
		}
		if !bytes.Equal(got, m) {
			t.Fatalf("message %d: client got %d bytes, want %d", i, len(got), len(m))
		}
		if i == 1 && len(z) > 100 { // some 400 bytes without context
			t.Errorf("a repeated message took %d bytes: no context kept", len(z))
		}
	}
}

// A client may ask for a small router window; the router's messages then
// refer back no further than that.
func TestDeflateSmallServerWindow(t *testing.T) {
	serve, peers := recorder()
	cli := dialZ(t, startWS(t, Config{}, serve), "permessage-deflate; server_max_window_bits=8")
	if cli.ext != defaultAnswer+"; server_max_window_bits=8" {
		t.Fatalf("Sec-WebSocket-Extensions %q", cli.ext)
	}
	p := recv(t, peers)
	// A block repeated at a distance of 1 KiB cannot be matched in a
	// 256-byte window, so the message compresses little; a block repeated
	// at 200 bytes can.
	block := randomBytes(1 << 10)
	far := append(bytes.Clone(block), block...)
	near := bytes.Repeat(randomBytes(200), 10)
	if err := p.conn.WriteBatch([][]byte{far, near}); err != nil {
		t.Fatal(err)
	}
	h, z := cli.next(t)
	if h.Rsv != 0 && len(z) < len(far)*3/4 {
		t.Errorf("a 1 KiB repeat compressed to %d bytes with a 256-byte window", len(z))
	}
	if h.Rsv != 0 && !bytes.Equal(inflateStd(t, z, nil), far) {
		t.Fatal("far: inflates wrong")
	}
	if _, got, compressed := cli.nextMessage(t); !compressed || !bytes.Equal(got, near) {
		t.Fatalf("near: compressed %v", compressed)
	}
}

func TestSlideWindow(t *testing.T) {
	var w []byte
	var all []byte
	for i, n := range []int{3, 5, 0, 20, 7, 1, 16} {
		p := randomBytes(n)
		all = append(all, p...)
		w = slideWindow(w, p, 16)
		want := all[max(0, len(all)-16):]
		if !bytes.Equal(w, want) {
			t.Fatalf("step %d: window %x, want %x", i, w, want)
		}
		if cap(w) != 16 {
			t.Fatalf("window grew to %d", cap(w))
		}
	}
}

// With deflate negotiated the hot path still allocates nothing: compressor
// and decompressor come from pools, a shared frame found in the cache
// costs a lookup.
func TestDeflateHotPathAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates, and sync.Pool drops items at random under it")
	}
	z := Config{}.withDefaults().Compression
	p := negotiateDeflate(&z, [][]byte{[]byte(chromeOffer)})
	c := newConn(&memConn{}, true, wamp.JSON, 1<<24, 0, Config{}.withDefaults(), nil)
	c.deflate = newDeflateState(p, &z, &frameCache{})
	frames := [][]byte{compressible(1 << 10), []byte("[]"), compressible(100 << 10), compressible(1 << 10)}
	shared := []bool{false, false, false, true}
	if n := testing.AllocsPerRun(100, func() { _ = c.WriteBatchShared(frames, shared) }); n != 0 {
		t.Errorf("WriteBatchShared: %v allocs", n)
	}

	var stream []byte
	for _, m := range [][]byte{compressible(1 << 10), []byte("[]"), compressible(3000)} {
		f := ws.NewTextFrame(deflateStd(t, m))
		if len(m) == 2 {
			f = ws.NewTextFrame(m)
		} else {
			f.Header.Rsv = ws.Rsv(true, false, false)
		}
		stream = append(stream, mustCompile(ws.MaskFrame(f))...)
	}
	rc := newConn(&memConn{loop: stream}, true, wamp.JSON, 1<<24, 0, Config{}.withDefaults(), nil)
	rc.deflate = newDeflateState(p, &z, nil)
	if n := testing.AllocsPerRun(300, func() { _, _ = rc.Read() }); n != 0 {
		t.Errorf("Read: %v allocs", n)
	}
}

// Over a stream that dribbles in one byte at a time, a compressed message
// split into fragments reads whole.
func TestDeflateDribble(t *testing.T) {
	msg := compressible(70000)
	z := deflateStd(t, msg)
	first := ws.NewFrame(ws.OpText, false, z[:100])
	first.Header.Rsv = ws.Rsv(true, false, false)
	stream := mustCompile(ws.MaskFrame(first))
	stream = append(stream, mustCompile(ws.MaskFrame(ws.NewFrame(ws.OpContinuation, true, z[100:])))...)
	stream = append(stream, mustCompile(ws.MaskFrame(ws.NewCloseFrame(ws.NewCloseFrameBody(1000, ""))))...)
	mc := &memConn{}
	for i := range stream {
		mc.chunks = append(mc.chunks, stream[i:i+1])
	}
	zc := Config{}.withDefaults().Compression
	c := newConn(mc, true, wamp.JSON, 1<<20, 0, Config{}.withDefaults(), nil)
	c.deflate = newDeflateState(negotiateDeflate(&zc, [][]byte{[]byte(chromeOffer)}), &zc, nil)
	if m, err := c.Read(); err != nil || !bytes.Equal(m, msg) {
		t.Fatalf("Read %d bytes, %v; want %d", len(m), err, len(msg))
	}
	if _, err := c.Read(); err != io.EOF {
		t.Fatalf("Read at close: %v", err)
	}
	c.finish()
}
