package transport

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"slices"
	"strings"
	"testing"

	"github.com/gobwas/ws"
)

// The TestConformance tests follow the Autobahn Testsuite's sections 1-7
// and 9 (https://github.com/crossbario/autobahn-testsuite, cases named
// "N.M.K" in the comments) with raw client frames, on both upgrade paths
// (starters), against an echo server: each case asserts every frame the
// server sends, in order, down to its close code and the end of the
// stream. Cases the package tests elsewhere are not repeated here:
// unmasked frames, a length with its most significant bit set and a
// 64-bit length far over the limit (TestWebSocketProtocolErrors), the
// server-initiated close (TestWebSocketServerClose), a close code echoed
// with its reason dropped (TestWebSocketClientClose), one-byte dribbled
// reads (TestWebSocketDribble), frames pipelined behind the handshake
// (TestWebSocketPipelinedFrames) and the UTF-8 cases of TestTextNotUTF8.
// Some single cases of TestWebSocketProtocolErrors, which runs on the fast
// path only, are part of the tables below so that both paths see them.

// cframe is one client frame. The test masks it; raw, when set, is sent
// as is instead (for encodings ws.WriteFrame does not produce).
type cframe struct {
	op  ws.OpCode
	fin bool
	rsv byte
	p   []byte
	raw []byte
}

func wsText(s string) cframe               { return cframe{op: ws.OpText, fin: true, p: []byte(s)} }
func wsBinary(b []byte) cframe             { return cframe{op: ws.OpBinary, fin: true, p: b} }
func wsPing(s string) cframe               { return cframe{op: ws.OpPing, fin: true, p: []byte(s)} }
func wsPong(s string) cframe               { return cframe{op: ws.OpPong, fin: true, p: []byte(s)} }
func wsFrag(op ws.OpCode, s string) cframe { return cframe{op: op, p: []byte(s)} }
func wsLast(s string) cframe               { return cframe{op: ws.OpContinuation, fin: true, p: []byte(s)} }

// wsClose is a close frame from the client with code and reason, of any
// length (ws.NewCloseFrameBody would cut it to fit).
func wsClose(code ws.StatusCode, reason string) cframe {
	return cframe{op: ws.OpClose, fin: true, p: append([]byte{byte(code >> 8), byte(code)}, reason...)}
}

// wsClosePayload is a close frame with a payload as given.
func wsClosePayload(p []byte) cframe { return cframe{op: ws.OpClose, fin: true, p: p} }

// bye ends a case in which the server must not fail the connection.
var bye = wsClose(ws.StatusNormalClosure, "")

// conformanceCase sends frames and expects the server to answer want (its
// echoes and pongs, in order), then a close frame with code close, then
// the end of the stream and nothing else.
type conformanceCase struct {
	name  string
	proto string // subprotocol; zero value wamp.2.json, whose echoes are text
	send  []cframe
	chunk int // when > 0 the frames go out in writes of this many bytes
	want  []cframe
	close ws.StatusCode
}

// runConformance runs every case on both upgrade paths, one echo server
// per path and a connection per case.
func runConformance(t *testing.T, cfg Config, cases []conformanceCase) {
	t.Helper()
	for _, st := range starters {
		t.Run(st.name, func(t *testing.T) {
			url := st.start(t, cfg, echo)
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) { tc.run(t, url) })
			}
		})
	}
}

func (tc *conformanceCase) run(t *testing.T, url string) {
	proto := tc.proto
	if proto == "" {
		proto = "wamp.2.json"
	}
	c := dialWS(t, url, proto)
	var out bytes.Buffer
	for _, f := range tc.send {
		out.Write(encodeClientFrame(t, f))
	}
	// The frames go out on their own goroutine: the server's echoes of big
	// messages may fill the socket before it reads the next one.
	wrote := make(chan error, 1)
	go func() { wrote <- writeChunked(c.Conn, out.Bytes(), tc.chunk) }()
	for i, w := range tc.want {
		op, p := nextServerFrame(t, c)
		if op != w.op || !bytes.Equal(p, w.p) {
			t.Fatalf("server frame %d: %v of %d bytes %.40q, want %v of %d bytes %.40q",
				i, op, len(p), p, w.op, len(w.p), w.p)
		}
	}
	op, p := nextServerFrame(t, c)
	if op != ws.OpClose {
		t.Fatalf("server frame %d: %v %.40q, want close %d", len(tc.want), op, p, tc.close)
	}
	if code, reason := ws.ParseCloseFrameData(p); code != tc.close {
		t.Fatalf("close %d %q, want %d", code, reason, tc.close)
	}
	expectStreamEnd(t, c)
	// A server that failed the connection may stop reading what follows.
	c.Close()
	if err := recv(t, wrote); err != nil && tc.close == ws.StatusNormalClosure {
		t.Fatalf("client write: %v", err)
	}
}

// encodeClientFrame returns f as a client sends it, masked.
func encodeClientFrame(t *testing.T, f cframe) []byte {
	t.Helper()
	if f.raw != nil {
		return f.raw
	}
	fr := ws.NewFrame(f.op, f.fin, bytes.Clone(f.p))
	fr.Header.Rsv = f.rsv
	var b bytes.Buffer
	if err := ws.WriteFrame(&b, ws.MaskFrameInPlace(fr)); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func writeChunked(w io.Writer, b []byte, chunk int) error {
	if chunk <= 0 {
		chunk = len(b)
	}
	for len(b) > 0 {
		n := min(chunk, len(b))
		if _, err := w.Write(b[:n]); err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}

// nextServerFrame reads one server frame and checks what RFC 6455 5.2
// asks of its header: FIN (the router never fragments), no reserved bits
// (no extension here), no mask, and the length in the fewest bytes.
func nextServerFrame(t *testing.T, c *wsClient) (ws.OpCode, []byte) {
	t.Helper()
	var h [2]byte
	if _, err := io.ReadFull(c.rd, h[:]); err != nil {
		t.Fatalf("client read: %v", err)
	}
	op := ws.OpCode(h[0] & 0x0f)
	if h[0]&0xf0 != 0x80 || h[1]&0x80 != 0 {
		t.Fatalf("server frame header % x: want FIN, no RSV, no mask", h)
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var ext [2]byte
		if _, err := io.ReadFull(c.rd, ext[:]); err != nil {
			t.Fatalf("client read: %v", err)
		}
		if n = uint64(binary.BigEndian.Uint16(ext[:])); n < 126 {
			t.Fatalf("length %d in a 16-bit field", n)
		}
	case 127:
		var ext [8]byte
		if _, err := io.ReadFull(c.rd, ext[:]); err != nil {
			t.Fatalf("client read: %v", err)
		}
		if n = binary.BigEndian.Uint64(ext[:]); n <= 0xffff {
			t.Fatalf("length %d in a 64-bit field", n)
		}
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(c.rd, p); err != nil {
		t.Fatalf("client read payload: %v", err)
	}
	return op, p
}

// expectStreamEnd asserts that after its close frame the server sends
// nothing more and ends the stream.
func expectStreamEnd(t *testing.T, c *wsClient) {
	t.Helper()
	var b [1]byte
	n, err := c.rd.Read(b[:])
	for n == 0 && err == nil {
		n, err = c.rd.Read(b[:])
	}
	if n > 0 {
		t.Fatalf("server sent byte %#02x after its close frame", b[0])
	}
	if err != io.EOF && !errors.Is(err, net.ErrClosed) && !isReset(err) {
		t.Fatalf("want the end of the stream after the close frame, got %v", err)
	}
}

// perByte splits s into one frame of op per byte, the last with FIN
// when fin is set.
func perByte(op ws.OpCode, s string, fin bool) []cframe {
	var fs []cframe
	for i := range len(s) {
		f := cframe{op: ws.OpContinuation, p: []byte{s[i]}}
		if i == 0 {
			f.op = op
		}
		fs = append(fs, f)
	}
	if fin && len(fs) > 0 {
		fs[len(fs)-1].fin = true
	}
	return fs
}

// patterned returns n bytes that differ from their neighbours, so that a
// misplaced byte shows.
func patterned(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*31 + i>>8)
	}
	return b
}

// printable is n printable ASCII bytes.
func printable(n int) string {
	var b strings.Builder
	for i := range n {
		b.WriteByte(byte('!' + i%94))
	}
	return b.String()
}

// Section 1: text and binary messages of each length encoding: 7-bit up
// to 125, 16-bit from 126 to 65535, 64-bit beyond; whole and in chunked
// writes (1.1.8, 1.2.8). The server's echo must use the shortest encoding
// too (nextServerFrame).
func TestConformanceFraming(t *testing.T) {
	var cases []conformanceCase
	for _, n := range []int{0, 125, 126, 127, 128, 65535, 65536, 100000, 1 << 20} {
		s := printable(n)
		cases = append(cases,
			conformanceCase{name: fmt.Sprint("text/", n), send: []cframe{wsText(s), bye},
				want: []cframe{wsText(s)}, close: 1000},
			conformanceCase{name: fmt.Sprint("binary/", n), proto: "wamp.2.msgpack",
				send: []cframe{wsBinary(patterned(n)), bye}, want: []cframe{wsBinary(patterned(n))}, close: 1000})
	}
	s := printable(65536)
	cases = append(cases,
		conformanceCase{name: "text 65536 in chunks of 997", send: []cframe{wsText(s), bye}, chunk: 997,
			want: []cframe{wsText(s)}, close: 1000},
		conformanceCase{name: "binary 65536 in chunks of 997", proto: "wamp.2.msgpack",
			send: []cframe{wsBinary(patterned(65536)), bye}, chunk: 997,
			want: []cframe{wsBinary(patterned(65536))}, close: 1000},
		// RFC 6455 5.2 makes the shortest length encoding a duty of the
		// sender; the router accepts a longer one, as most servers do.
		conformanceCase{name: "5 bytes with a 16-bit length",
			send: []cframe{{raw: []byte{0x81, 0x80 | 126, 0, 5, 0, 0, 0, 0, 'h', 'e', 'l', 'l', 'o'}}, bye},
			want: []cframe{wsText("hello")}, close: 1000},
		conformanceCase{name: "5 bytes with a 64-bit length",
			send: []cframe{{raw: []byte{0x81, 0x80 | 127, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 'h', 'e', 'l', 'l', 'o'}}, bye},
			want: []cframe{wsText("hello")}, close: 1000},
		conformanceCase{name: "one byte at a time", send: []cframe{wsText("hello"), wsBinary(nil), bye}, chunk: 1,
			want: []cframe{wsText("hello"), wsText("")}, close: 1000},
	)
	runConformance(t, Config{}, cases)
}

// Section 2: pings are answered with their payload, in order with the
// echoes; pongs nobody asked for are ignored; a ping over 125 bytes fails
// the connection.
func TestConformancePingPong(t *testing.T) {
	binPayload := string([]byte{0x00, 0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0x00, 0xff})
	longest := printable(125)
	var ten, tenPongs []cframe
	for i := range 10 {
		ten = append(ten, wsPing(fmt.Sprint("payload-", i)))
		tenPongs = append(tenPongs, wsPong(fmt.Sprint("payload-", i)))
	}
	runConformance(t, Config{}, []conformanceCase{
		{name: "2.1 empty ping", send: []cframe{wsPing(""), bye}, want: []cframe{wsPong("")}, close: 1000},
		{name: "2.2 text payload", send: []cframe{wsPing("Hello, world!"), bye}, want: []cframe{wsPong("Hello, world!")}, close: 1000},
		{name: "2.3 binary payload", send: []cframe{wsPing(binPayload), bye}, want: []cframe{wsPong(binPayload)}, close: 1000},
		{name: "2.4 125 bytes", send: []cframe{wsPing(longest), bye}, want: []cframe{wsPong(longest)}, close: 1000},
		{name: "2.5 126 bytes", send: []cframe{wsPing(longest + "x"), bye}, close: 1002},
		{name: "2.6 125 bytes one byte at a time", send: []cframe{wsPing(longest), bye}, chunk: 1, want: []cframe{wsPong(longest)}, close: 1000},
		{name: "2.7 unsolicited empty pong", send: []cframe{wsPong(""), bye}, close: 1000},
		{name: "2.8 unsolicited pong", send: []cframe{wsPong("unsolicited"), bye}, close: 1000},
		{name: "2.9 unsolicited pong then ping", send: []cframe{wsPong("unsolicited"), wsPing("solicited"), bye},
			want: []cframe{wsPong("solicited")}, close: 1000},
		{name: "2.10 ten pings", send: append(ten, bye), want: tenPongs, close: 1000},
		{name: "2.11 ten pings in chunks", send: append(ten, bye), chunk: 3, want: tenPongs, close: 1000},
		{name: "pings between messages", send: []cframe{wsText("a"), wsPing("1"), wsPong("x"), wsText("b"), wsPing("2"), bye},
			want: []cframe{wsText("a"), wsPong("1"), wsText("b"), wsPong("2")}, close: 1000},
	})
}

// Section 3: a reserved bit without an extension that defines it fails
// the connection, on any frame (no extension is negotiated here; with
// permessage-deflate see deflate_test.go), and nothing after it is
// answered.
func TestConformanceReservedBits(t *testing.T) {
	var cases []conformanceCase
	for rsv := byte(1); rsv <= 7; rsv++ {
		for _, f := range []cframe{wsText("bad"), wsBinary([]byte("bad")), wsPing("bad"), wsClose(1000, ""), wsFrag(ws.OpText, "bad")} {
			f.rsv = rsv
			cases = append(cases, conformanceCase{
				name:  fmt.Sprintf("rsv %d on %v fin %v", rsv, f.op, f.fin),
				send:  []cframe{wsText("ok"), wsPing("p"), f, wsText("never"), wsPing("never")},
				want:  []cframe{wsText("ok"), wsPong("p")},
				close: 1002,
			})
		}
	}
	// On a continuation frame (RSV1 there is wrong even with deflate).
	bad := wsLast("bad")
	bad.rsv = 4
	cases = append(cases, conformanceCase{name: "rsv on a continuation",
		send: []cframe{wsFrag(ws.OpText, "a"), bad, wsText("never")}, close: 1002})
	runConformance(t, Config{}, cases)
}

// Section 4: reserved opcodes, non-control (3-7) and control (11-15),
// with and without payload, fail the connection.
func TestConformanceOpcodes(t *testing.T) {
	var cases []conformanceCase
	for _, op := range []ws.OpCode{3, 4, 5, 6, 7, 11, 12, 13, 14, 15} {
		cases = append(cases,
			conformanceCase{name: fmt.Sprintf("%d alone", op),
				send: []cframe{{op: op, fin: true}}, close: 1002},
			conformanceCase{name: fmt.Sprintf("%d after a message and a ping", op),
				send:  []cframe{wsText("ok"), wsPing("p"), {op: op, fin: true, p: []byte("reserved")}, wsText("never"), wsPing("never")},
				want:  []cframe{wsText("ok"), wsPong("p")},
				close: 1002},
			conformanceCase{name: fmt.Sprintf("%d inside a fragmented message", op),
				send:  []cframe{wsFrag(ws.OpText, "a"), {op: op, fin: true}, wsLast("b")},
				close: 1002})
	}
	runConformance(t, Config{}, cases)
}

// Section 5: fragmented messages are reassembled, control frames between
// their fragments are answered at once, and every misplaced fragment or
// fragmented control frame fails the connection.
func TestConformanceFragmentation(t *testing.T) {
	long := printable(65536)
	runConformance(t, Config{}, []conformanceCase{
		{name: "5.1 fragmented ping", send: []cframe{wsFrag(ws.OpPing, "frag"), wsLast("ment")}, close: 1002},
		{name: "5.2 fragmented pong", send: []cframe{wsFrag(ws.OpPong, "frag"), wsLast("ment")}, close: 1002},
		{name: "fragmented close", send: []cframe{wsFrag(ws.OpClose, "\x03\xe8"), wsLast("")}, close: 1002},
		{name: "5.3 text in two fragments", send: []cframe{wsFrag(ws.OpText, "frag"), wsLast("ment"), bye},
			want: []cframe{wsText("fragment")}, close: 1000},
		{name: "5.4 text in two fragments in chunks", send: []cframe{wsFrag(ws.OpText, "frag"), wsLast("ment"), bye}, chunk: 2,
			want: []cframe{wsText("fragment")}, close: 1000},
		{name: "5.5 one fragment per byte, one byte at a time", send: append(perByte(ws.OpText, "fragmented", true), bye), chunk: 1,
			want: []cframe{wsText("fragmented")}, close: 1000},
		{name: "binary in fragments", proto: "wamp.2.cbor",
			send: []cframe{wsFrag(ws.OpBinary, "\x00\xff"), {op: ws.OpContinuation, p: []byte{0x80}}, wsLast("\x01"), bye},
			want: []cframe{wsBinary([]byte{0x00, 0xff, 0x80, 0x01})}, close: 1000},
		{name: "5.6 ping between fragments", send: []cframe{wsFrag(ws.OpText, "frag"), wsPing("p"), wsLast("ment"), bye},
			want: []cframe{wsPong("p"), wsText("fragment")}, close: 1000},
		{name: "5.7 ping between fragments in chunks", send: []cframe{wsFrag(ws.OpText, "frag"), wsPing("p"), wsLast("ment"), bye}, chunk: 1,
			want: []cframe{wsPong("p"), wsText("fragment")}, close: 1000},
		{name: "pong between fragments", send: []cframe{wsFrag(ws.OpText, "frag"), wsPong("x"), wsLast("ment"), bye},
			want: []cframe{wsText("fragment")}, close: 1000},
		{name: "5.19 pings between five fragments",
			send: []cframe{wsFrag(ws.OpText, "1"), wsFrag(ws.OpContinuation, "2"), wsPing("a"), wsFrag(ws.OpContinuation, "3"),
				wsFrag(ws.OpContinuation, "4"), wsPing("b"), wsLast("5"), bye},
			want: []cframe{wsPong("a"), wsPong("b"), wsText("12345")}, close: 1000},
		{name: "64 KiB in 64 fragments with pings between",
			send: func() []cframe {
				fs := []cframe{wsFrag(ws.OpText, long[:1024])}
				for i := 1; i < 64; i++ {
					fs = append(fs, wsPing(fmt.Sprint(i)), wsFrag(ws.OpContinuation, long[i*1024:(i+1)*1024]))
				}
				fs[len(fs)-1].fin = true
				return append(fs, bye)
			}(),
			want: func() []cframe {
				var fs []cframe
				for i := 1; i < 64; i++ {
					fs = append(fs, wsPong(fmt.Sprint(i)))
				}
				return append(fs, wsText(long))
			}(),
			close: 1000},
		{name: "empty fragments", send: []cframe{wsFrag(ws.OpText, ""), wsFrag(ws.OpContinuation, ""), wsLast(""), bye},
			want: []cframe{wsText("")}, close: 1000},
		{name: "empty first and last fragments", send: []cframe{wsFrag(ws.OpText, ""), wsFrag(ws.OpContinuation, "middle"), wsLast(""), bye},
			want: []cframe{wsText("middle")}, close: 1000},
		{name: "5.9 continuation with FIN, nothing started", send: []cframe{wsLast("x"), wsText("never")}, close: 1002},
		{name: "5.10 continuation without FIN, nothing started", send: []cframe{wsFrag(ws.OpContinuation, "x"), wsLast("y")}, close: 1002},
		{name: "5.12 continuations, nothing started", send: []cframe{wsFrag(ws.OpContinuation, "a"), wsFrag(ws.OpContinuation, "b"), wsLast("c")}, close: 1002},
		{name: "5.15 continuation after a finished message",
			send: []cframe{wsFrag(ws.OpText, "frag"), wsLast("ment"), wsFrag(ws.OpContinuation, "x"), wsText("never")},
			want: []cframe{wsText("fragment")}, close: 1002},
		{name: "5.18 text while a text is open", send: []cframe{wsFrag(ws.OpText, "a"), wsText("b")}, close: 1002},
		{name: "binary while a text is open", send: []cframe{wsFrag(ws.OpText, "a"), wsFrag(ws.OpBinary, "b"), wsLast("c")}, close: 1002},
		{name: "text while a binary is open", proto: "wamp.2.msgpack",
			send: []cframe{wsFrag(ws.OpBinary, "a"), wsText("b")}, close: 1002},
		{name: "fragmented ping inside a message", send: []cframe{wsFrag(ws.OpText, "a"), wsFrag(ws.OpPing, "p"), wsLast("b")}, close: 1002},
	})
}

// Section 6: text must be UTF-8 (RFC 6455 8.1); anything else fails the
// connection with 1007, whole or split anywhere, and as soon as the bytes
// so far cannot begin valid UTF-8, not only at the end of the message
// (the transport checks each fragment as it arrives: validUTF8Prefix).
// Binary messages carry any bytes. TestTextNotUTF8 has further cases
// with the reader's error.
func TestConformanceUTF8(t *testing.T) {
	valid := map[string]string{ // name: text
		"6.1 empty":                 "",
		"6.2 mixed":                 "Hello-µ@ßöäüàá-UTF-8!!",
		"6.5 kosme":                 "κόσμε",
		"U+0000":                    "\x00",
		"U+007F":                    "\x7f",
		"U+0080":                    "\xc2\x80",
		"U+07FF":                    "\xdf\xbf",
		"U+0800":                    "\xe0\xa0\x80",
		"U+D7FF":                    "\xed\x9f\xbf",
		"U+E000":                    "\xee\x80\x80",
		"U+FFFD":                    "\xef\xbf\xbd",
		"U+FFFE noncharacter":       "\xef\xbf\xbe",
		"U+FFFF noncharacter":       "\xef\xbf\xbf",
		"U+10000":                   "\xf0\x90\x80\x80",
		"U+10FFFF":                  "\xf4\x8f\xbf\xbf",
		"every length in a row":     "a\xc2\x80\xe0\xa0\x80\xf0\x90\x80\x80z",
		"emoji":                     "👋🌍",
		"6.23 U+FFFD after a space": " \xef\xbf\xbd",
	}
	invalid := map[string]string{
		"6.3 kosme with a surrogate":   "κόσμε\xed\xa0\x80edited",
		"lone continuation 80":         "\x80",
		"lone continuation bf":         "\xbf",
		"continuations":                "\x80\xbf\x80\xbf",
		"lone start c0":                "\xc0",
		"start then space":             "\xc2 ",
		"three-byte start then space":  "\xe0\xa0 ",
		"5-byte sequence":              "\xf8\x88\x80\x80\x80",
		"6-byte sequence":              "\xfc\x84\x80\x80\x80\x80",
		"fe":                           "\xfe",
		"ff":                           "\xff",
		"fe fe ff ff":                  "\xfe\xfe\xff\xff",
		"overlong /, 2 bytes":          "\xc0\xaf",
		"overlong /, 3 bytes":          "\xe0\x80\xaf",
		"overlong /, 4 bytes":          "\xf0\x80\x80\xaf",
		"largest overlong, 2 bytes":    "\xc1\xbf",
		"largest overlong, 3 bytes":    "\xe0\x9f\xbf",
		"largest overlong, 4 bytes":    "\xf0\x8f\xbf\xbf",
		"surrogate D800":               "\xed\xa0\x80",
		"surrogate DFFF":               "\xed\xbf\xbf",
		"surrogate pair":               "\xed\xa0\x80\xed\xb0\x80",
		"above U+10FFFF":               "\xf4\x90\x80\x80",
		"f5 start":                     "\xf5\x80\x80\x80",
		"truncated at the end":         "\xce\xba\xe1\xbd",
		"truncated four-byte":          "ok\xf0\x90\x80",
		"valid after an invalid start": "\xe2\x28\xa1",
	}
	var cases []conformanceCase
	for _, name := range slices.Sorted(maps.Keys(valid)) {
		s := valid[name]
		cases = append(cases,
			conformanceCase{name: "valid/" + name + "/whole", send: []cframe{wsText(s), bye},
				want: []cframe{wsText(s)}, close: 1000},
			conformanceCase{name: "valid/" + name + "/one fragment per byte",
				send: append(append([]cframe{wsFrag(ws.OpText, "")}, perByte(ws.OpContinuation, s, false)...), wsLast(""), bye),
				want: []cframe{wsText(s)}, close: 1000})
	}
	for _, name := range slices.Sorted(maps.Keys(invalid)) {
		s := invalid[name]
		cases = append(cases,
			conformanceCase{name: "invalid/" + name + "/whole", send: []cframe{wsText("ok"), wsText(s), wsText("never")},
				want: []cframe{wsText("ok")}, close: 1007},
			conformanceCase{name: "invalid/" + name + "/one fragment per byte",
				send: append(perByte(ws.OpText, s, true), wsText("never")), close: 1007},
			// With a byte after it the error is in the bytes so far: the
			// server must fail there, not wait for a final fragment that
			// never comes. A server that waited would answer the ping.
			conformanceCase{name: "invalid/" + name + "/fails fast",
				send: append(perByte(ws.OpText, s+"a", false), wsPing("too late")), close: 1007},
			conformanceCase{name: "invalid/" + name + "/in a binary message", proto: "wamp.2.msgpack",
				send: []cframe{wsBinary([]byte(s)), bye}, want: []cframe{wsBinary([]byte(s))}, close: 1000})
	}
	runConformance(t, Config{}, cases)
}

// Section 7: the close handshake. The server echoes a valid close code
// (1000 when the close had no payload, RFC 6455 7.1.5 and 5.5.1), reads
// nothing after the peer's close, and fails the connection for a close
// payload that is malformed: 1 byte, over 125 bytes, a code that may not
// be sent (7.4.1, 7.4.2), or a reason that is not UTF-8 (8.1; 1007, as
// Autobahn's 7.5.1 expects).
func TestConformanceClose(t *testing.T) {
	var cases = []conformanceCase{
		{name: "7.1.1 message then close", send: []cframe{wsText("Hello World!"), bye},
			want: []cframe{wsText("Hello World!")}, close: 1000},
		{name: "7.1.2 two closes", send: []cframe{bye, bye}, close: 1000},
		{name: "7.1.3 ping after close", send: []cframe{bye, wsPing("late")}, close: 1000},
		{name: "7.1.4 message after close", send: []cframe{bye, wsText("late")}, close: 1000},
		{name: "7.1.5 close between fragments", send: []cframe{wsFrag(ws.OpText, "frag"), bye, wsLast("ment")}, close: 1000},
		{name: "7.1.6 close behind big messages", send: []cframe{wsText(printable(100000)), wsPing("p"), bye, wsText("late")},
			want: []cframe{wsText(printable(100000)), wsPong("p")}, close: 1000},
		{name: "7.3.1 empty close", send: []cframe{wsClosePayload(nil)}, close: 1000},
		{name: "7.3.2 one-byte close", send: []cframe{wsClosePayload([]byte{0x03})}, close: 1002},
		{name: "7.3.3 code only", send: []cframe{wsClose(1000, "")}, close: 1000},
		{name: "7.3.4 code and reason", send: []cframe{wsClose(1000, "Hello World!")}, close: 1000},
		{name: "7.3.5 reason of 123 bytes", send: []cframe{wsClose(1000, printable(123))}, close: 1000},
		{name: "7.3.6 reason of 124 bytes", send: []cframe{wsClose(1000, printable(124))}, close: 1002},
		{name: "7.5.1 reason not UTF-8", send: []cframe{wsClose(1000, "κόσμε\xed\xa0\x80edited")}, close: 1007},
	}
	// 7.7: codes a peer may send are echoed.
	for _, code := range []ws.StatusCode{1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999} {
		cases = append(cases, conformanceCase{name: fmt.Sprint("7.7 code ", code),
			send: []cframe{wsClose(code, "reason")}, close: code})
	}
	// 7.9 and 7.13: codes that may not be sent (reserved, or meant for
	// the API only: 1005, 1006, 1015) or are unassigned.
	for _, code := range []ws.StatusCode{0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535} {
		cases = append(cases, conformanceCase{name: fmt.Sprint("7.9 code ", code),
			send: []cframe{wsText("ok"), wsClose(code, ""), wsText("never")}, want: []cframe{wsText("ok")}, close: 1002})
	}
	runConformance(t, Config{}, cases)
}

// Section 9: messages up to the configured MaxMessageSize pass, whole,
// fragmented and written in small chunks; one byte more fails with 1009
// before the server holds it; many small messages in a row all come back
// in order. Sizes are kept small (the limit is 256 KiB here, Autobahn goes
// to 16 MiB) so that the suite stays quick under -race.
func TestConformanceLimits(t *testing.T) {
	const limit = 256 << 10
	full := printable(limit)
	manyFrags := func(s string, n int) []cframe {
		step := len(s) / n
		fs := []cframe{wsFrag(ws.OpText, s[:step])}
		for i := 1; i < n-1; i++ {
			fs = append(fs, wsFrag(ws.OpContinuation, s[i*step:(i+1)*step]))
		}
		return append(fs, wsLast(s[(n-1)*step:]))
	}
	// overByOne ends the fragments of a message at the limit with one
	// more byte.
	overByOne := func(fs []cframe) []cframe {
		fs[len(fs)-1].fin = false
		return append(fs, wsLast("x"))
	}
	var small, smallBin, echoes, echoesBin []cframe
	for i := range 1000 {
		m := fmt.Sprintf("[%d,\"message\"]", i)
		small = append(small, wsText(m))
		echoes = append(echoes, wsText(m))
		b := binary.BigEndian.AppendUint32(nil, uint32(i))
		smallBin = append(smallBin, wsBinary(b))
		echoesBin = append(echoesBin, wsBinary(b))
	}
	runConformance(t, Config{MaxMessageSize: limit}, []conformanceCase{
		{name: "9.1 text at the limit", send: []cframe{wsText(full), bye}, want: []cframe{wsText(full)}, close: 1000},
		{name: "9.2 binary at the limit", proto: "wamp.2.msgpack", send: []cframe{wsBinary(patterned(limit)), bye},
			want: []cframe{wsBinary(patterned(limit))}, close: 1000},
		{name: "one byte under the limit", send: []cframe{wsText(full[1:]), bye}, want: []cframe{wsText(full[1:])}, close: 1000},
		{name: "9.3 at the limit in 64 fragments", send: append(manyFrags(full, 64), bye), want: []cframe{wsText(full)}, close: 1000},
		{name: "9.3 at the limit in 4096 fragments", send: append(manyFrags(full, 4096), bye), want: []cframe{wsText(full)}, close: 1000},
		{name: "9.5 at the limit in chunks of 64", send: []cframe{wsText(full), bye}, chunk: 64, want: []cframe{wsText(full)}, close: 1000},
		{name: "9.5 at the limit in chunks of 4093", send: []cframe{wsText(full), bye}, chunk: 4093, want: []cframe{wsText(full)}, close: 1000},
		{name: "twice at the limit", send: []cframe{wsText(full), wsText(full), bye}, want: []cframe{wsText(full), wsText(full)}, close: 1000},
		{name: "one byte over", send: []cframe{wsText(full + "x")}, close: 1009},
		{name: "binary one byte over", proto: "wamp.2.msgpack", send: []cframe{wsBinary(patterned(limit + 1))}, close: 1009},
		{name: "one byte over in the last fragment", send: overByOne(manyFrags(full, 64)), close: 1009},
		// The header alone, its payload never sent: the server refuses
		// before it waits for, or makes room for, the bytes.
		{name: "one byte over announced", send: []cframe{{raw: append(binary.BigEndian.AppendUint64([]byte{0x81, 0x80 | 127}, limit+1), 0, 0, 0, 0)}}, close: 1009},
		{name: "9.7 1000 text messages", send: append(small, bye), want: echoes, close: 1000},
		{name: "9.8 1000 binary messages", proto: "wamp.2.msgpack", send: append(smallBin, bye), want: echoesBin, close: 1000},
	})
}
