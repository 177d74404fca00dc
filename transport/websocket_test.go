package transport

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/gobwas/ws"

	"github.com/switchboard/switchboard/wamp"
)

func TestWebSocketEachSubprotocol(t *testing.T) {
	for _, st := range starters {
		for _, ser := range wamp.Serializations {
			t.Run(st.name+"/"+ser.String(), func(t *testing.T) { testSubprotocol(t, st.start, ser) })
		}
	}
}

func testSubprotocol(t *testing.T, start func(*testing.T, Config, func(Conn)) string, ser wamp.Serialization) {
	serve, peers := recorder()
	url := start(t, Config{}, serve)
	cli := dialWS(t, url, ser.Subprotocol())
	if cli.protocol != ser.Subprotocol() {
		t.Fatalf("negotiated %q, want %q", cli.protocol, ser.Subprotocol())
	}
	p := recv(t, peers)
	if p.conn.Serialization() != ser || p.conn.Transport() != "websocket" || p.conn.MaxWrite() != 0 {
		t.Fatalf("conn: ser %v transport %q maxwrite %d", p.conn.Serialization(), p.conn.Transport(), p.conn.MaxWrite())
	}
	if p.conn.RemoteAddr().String() != cli.LocalAddr().String() {
		t.Errorf("RemoteAddr %v, want %v", p.conn.RemoteAddr(), cli.LocalAddr())
	}
	wantOp := ws.OpBinary
	if ser == wamp.JSON {
		wantOp = ws.OpText
	}
	cli.send(t, wantOp, true, []byte(`[1,"realm1",{}]`))
	if got := recv(t, p.msgs); string(got) != `[1,"realm1",{}]` {
		t.Fatalf("server read %q", got)
	}
	if err := p.conn.WriteBatch([][]byte{[]byte(`[2,1,{}]`)}); err != nil {
		t.Fatal(err)
	}
	h, got := cli.next(t)
	if h.OpCode != wantOp || !h.Fin || string(got) != `[2,1,{}]` {
		t.Fatalf("client read op %v fin %v %q", h.OpCode, h.Fin, got)
	}
	cli.Close()
	recv(t, p.err)
}

// The router's order of preference decides, not the client's.
func TestWebSocketRouterPreference(t *testing.T) {
	url := startWS(t, Config{Serializations: []wamp.Serialization{wamp.CBOR, wamp.MsgPack}}, echo)
	cli := dialWS(t, url, "wamp.2.json", "wamp.2.msgpack", "wamp.2.cbor")
	if cli.protocol != "wamp.2.cbor" {
		t.Fatalf("negotiated %q, want wamp.2.cbor", cli.protocol)
	}
}

func TestWebSocketRejects(t *testing.T) {
	for _, st := range starters {
		t.Run(st.name, func(t *testing.T) { testRejects(t, st.start) })
	}
}

func testRejects(t *testing.T, start func(*testing.T, Config, func(Conn)) string) {
	url := start(t, Config{Serializations: []wamp.Serialization{wamp.JSON}}, func(Conn) {
		t.Error("serve called for a rejected request")
	})
	for _, protos := range [][]string{nil, {"wamp.2.msgpack"}, {"wamp.2.ubjson", "mqtt"}, {"WAMP.2.JSON"}} {
		_, _, _, err := ws.Dialer{Protocols: protos, Timeout: wait}.Dial(context.Background(), url)
		var se ws.StatusError
		if !errors.As(err, &se) || int(se) != http.StatusBadRequest {
			t.Errorf("protocols %v: got %v, want status 400", protos, err)
		}
	}

	resp, err := http.Get("http" + strings.TrimPrefix(url, "ws"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUpgradeRequired || resp.Header.Get("Upgrade") != "websocket" {
		t.Errorf("plain GET: %s %q", resp.Status, body)
	}

	// The 400 tells a human what to offer.
	req, _ := http.NewRequest("GET", "http"+strings.TrimPrefix(url, "ws"), nil)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Sec-WebSocket-Version", "13")
	req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	req.Header.Set("Sec-WebSocket-Protocol", "wamp.2.cbor")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "wamp.2.json") {
		t.Errorf("bad subprotocol: %s %q", resp.Status, body)
	}
}

func TestWebSocketFragmented(t *testing.T) {
	serve, peers := recorder()
	url := startWS(t, Config{}, serve)
	cli := dialWS(t, url, "wamp.2.json")
	p := recv(t, peers)

	cli.send(t, ws.OpText, false, []byte(`[16,1,`))
	cli.send(t, ws.OpContinuation, false, []byte(`{},`))
	cli.send(t, ws.OpPing, true, []byte("mid")) // control frames may interleave
	cli.send(t, ws.OpContinuation, false, nil)
	cli.send(t, ws.OpContinuation, true, []byte(`"com.topic"]`))
	if got := recv(t, p.msgs); string(got) != `[16,1,{},"com.topic"]` {
		t.Fatalf("reassembled %q", got)
	}
	h, pong := cli.next(t)
	if h.OpCode != ws.OpPong || string(pong) != "mid" {
		t.Fatalf("got %v %q, want pong mid", h.OpCode, pong)
	}
	// The next message starts clean.
	cli.send(t, ws.OpText, true, []byte(`[6,{},"x"]`))
	if got := recv(t, p.msgs); string(got) != `[6,{},"x"]` {
		t.Fatalf("next message %q", got)
	}
}

func TestWebSocketPingPong(t *testing.T) {
	serve, peers := recorder()
	url := startWS(t, Config{}, serve)
	cli := dialWS(t, url, "wamp.2.msgpack")
	p := recv(t, peers)
	payload := bytes.Repeat([]byte{0xa5}, 125)
	cli.send(t, ws.OpPing, true, payload)
	h, got := cli.next(t)
	if h.OpCode != ws.OpPong || !bytes.Equal(got, payload) {
		t.Fatalf("got %v %x", h.OpCode, got)
	}
	// An unsolicited pong is ignored.
	cli.send(t, ws.OpPong, true, []byte("hi"))
	cli.send(t, ws.OpBinary, true, []byte{0x91, 0x01})
	if got := recv(t, p.msgs); !bytes.Equal(got, []byte{0x91, 0x01}) {
		t.Fatalf("got %x", got)
	}
}

func TestWebSocketTooBig(t *testing.T) {
	for _, fragmented := range []bool{false, true} {
		t.Run(fmt.Sprint("fragmented=", fragmented), func(t *testing.T) {
			serve, peers := recorder()
			url := startWS(t, Config{MaxMessageSize: 1000}, serve)
			cli := dialWS(t, url, "wamp.2.json")
			p := recv(t, peers)
			cli.send(t, ws.OpText, true, bytes.Repeat([]byte("a"), 1000)) // exactly the max is fine
			if got := recv(t, p.msgs); len(got) != 1000 {
				t.Fatalf("got %d bytes", len(got))
			}
			if fragmented {
				cli.send(t, ws.OpText, false, bytes.Repeat([]byte("a"), 600))
				cli.send(t, ws.OpContinuation, true, bytes.Repeat([]byte("a"), 401))
			} else {
				cli.send(t, ws.OpText, true, bytes.Repeat([]byte("a"), 1001))
			}
			if err := recv(t, p.err); !errors.Is(err, ErrTooLarge) {
				t.Fatalf("server Read: %v, want ErrTooLarge", err)
			}
			h, body := cli.next(t)
			if h.OpCode != ws.OpClose {
				t.Fatalf("got %v, want close", h.OpCode)
			}
			code, reason := ws.ParseCloseFrameData(body)
			if code != 1009 || reason != "message too big" {
				t.Fatalf("close %d %q", code, reason)
			}
			expectEOF(t, cli.rd)
		})
	}
}

func TestWebSocketProtocolErrors(t *testing.T) {
	cases := map[string]func(t *testing.T, c *wsClient){
		"unmasked": func(t *testing.T, c *wsClient) {
			_ = ws.WriteFrame(c.Conn, ws.NewTextFrame([]byte("[]")))
		},
		"reserved opcode": func(t *testing.T, c *wsClient) { c.send(t, ws.OpCode(3), true, nil) },
		"rsv bits": func(t *testing.T, c *wsClient) {
			f := ws.MaskFrameInPlace(ws.NewTextFrame([]byte("[]")))
			f.Header.Rsv = ws.Rsv(true, false, false)
			_ = ws.WriteFrame(c.Conn, f)
		},
		"orphan continuation": func(t *testing.T, c *wsClient) { c.send(t, ws.OpContinuation, true, []byte("x")) },
		"data inside fragments": func(t *testing.T, c *wsClient) {
			c.send(t, ws.OpText, false, []byte("x"))
			c.send(t, ws.OpText, true, []byte("y"))
		},
		"fragmented ping": func(t *testing.T, c *wsClient) { c.send(t, ws.OpPing, false, nil) },
		"close code 1005": func(t *testing.T, c *wsClient) { c.send(t, ws.OpClose, true, []byte{0x03, 0xed}) },
		"one-byte close":  func(t *testing.T, c *wsClient) { c.send(t, ws.OpClose, true, []byte{0x03}) },
		"non-utf8 close":  func(t *testing.T, c *wsClient) { c.send(t, ws.OpClose, true, []byte{0x03, 0xe8, 0xff}) },
		"long ping":       func(t *testing.T, c *wsClient) { c.send(t, ws.OpPing, true, make([]byte, 126)) },
		"length msb set": func(t *testing.T, c *wsClient) {
			_, _ = c.Write([]byte{0x81, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4})
		},
		"huge 64-bit length": func(t *testing.T, c *wsClient) {
			_, _ = c.Write([]byte{0x81, 0xff, 0x7f, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4})
		},
	}
	for name, send := range cases {
		t.Run(name, func(t *testing.T) {
			serve, peers := recorder()
			url := startWS(t, Config{}, serve)
			cli := dialWS(t, url, "wamp.2.json")
			p := recv(t, peers)
			send(t, cli)
			err := recv(t, p.err)
			want := ErrProtocol
			if name == "huge 64-bit length" {
				want = ErrTooLarge
			}
			if !errors.Is(err, want) {
				t.Fatalf("server Read: %v, want %v", err, want)
			}
			h, body := cli.next(t)
			code, _ := ws.ParseCloseFrameData(body)
			wantCode := ws.StatusProtocolError
			switch {
			case want == ErrTooLarge:
				wantCode = ws.StatusMessageTooBig
			case name == "non-utf8 close":
				wantCode = ws.StatusInvalidFramePayloadData
			}
			if h.OpCode != ws.OpClose || code != wantCode {
				t.Fatalf("got %v code %d, want close %d", h.OpCode, code, wantCode)
			}
		})
	}
}

// WriteBatch output is a valid frame sequence whatever the mix of sizes
// (each length encoding, copied and in-place frames).
func TestWebSocketWriteBatch(t *testing.T) {
	serve, peers := recorder()
	url := startWS(t, Config{}, serve)
	cli := dialWS(t, url, "wamp.2.cbor")
	p := recv(t, peers)

	sizes := []int{0, 1, 125, 126, 127, 200, 4095, 4096, 4097, 65535, 65536, 70000, 300000}
	var batch [][]byte
	for i := range 1000 {
		f := make([]byte, sizes[i%len(sizes)])
		for j := range f {
			f[j] = byte(i*7 + j)
		}
		batch = append(batch, f)
	}
	done := make(chan error, 1)
	go func() {
		for i := 0; i < len(batch); i += 100 {
			if err := p.conn.WriteBatch(batch[i : i+100]); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	for i, want := range batch {
		h, got := cli.next(t)
		if h.OpCode != ws.OpBinary || !h.Fin || !bytes.Equal(got, want) {
			t.Fatalf("frame %d: op %v fin %v len %d, want len %d", i, h.OpCode, h.Fin, len(got), len(want))
		}
	}
	if err := recv(t, done); err != nil {
		t.Fatal(err)
	}
	if err := p.conn.WriteBatch(nil); err != nil {
		t.Fatal(err)
	}
}

func TestWebSocketServerClose(t *testing.T) {
	serve, peers := recorder()
	url := startWS(t, Config{}, serve)
	cli := dialWS(t, url, "wamp.2.json")
	p := recv(t, peers)

	reason := strings.Repeat("é", 100) // cut at a rune boundary to fit 123 bytes
	if err := p.conn.Close(CloseGoingAway, reason); err != nil {
		t.Fatal(err)
	}
	if err := p.conn.Close(CloseNormal, "again"); err != nil {
		t.Fatal(err)
	}
	if err := p.conn.WriteBatch([][]byte{[]byte("[]")}); !errors.Is(err, ErrClosed) {
		t.Fatalf("WriteBatch after Close: %v", err)
	}
	h, body := cli.next(t)
	code, got := ws.ParseCloseFrameData(body)
	if h.OpCode != ws.OpClose || code != 1001 || got != strings.Repeat("é", 61) {
		t.Fatalf("got %v %d %q", h.OpCode, code, got)
	}
	// Data the peer sent before it saw the close is dropped; its echo ends
	// the server's Read.
	cli.send(t, ws.OpText, true, []byte("[late]"))
	cli.send(t, ws.OpClose, true, ws.NewCloseFrameBody(1001, ""))
	if err := recv(t, p.err); err != io.EOF {
		t.Fatalf("server Read: %v, want io.EOF", err)
	}
	if len(p.msgs) != 0 {
		t.Fatalf("message after Close was delivered: %q", <-p.msgs)
	}
	expectEOF(t, cli.rd)
}

func TestWebSocketClientClose(t *testing.T) {
	serve, peers := recorder()
	url := startWS(t, Config{}, serve)
	cli := dialWS(t, url, "wamp.2.json")
	p := recv(t, peers)
	cli.send(t, ws.OpClose, true, ws.NewCloseFrameBody(4001, "bye"))
	if err := recv(t, p.err); err != io.EOF {
		t.Fatalf("server Read: %v, want io.EOF", err)
	}
	h, body := cli.next(t)
	code, _ := ws.ParseCloseFrameData(body)
	if h.OpCode != ws.OpClose || code != 4001 {
		t.Fatalf("echo: %v %d", h.OpCode, code)
	}
	expectEOF(t, cli.rd)
	if _, err := p.conn.Read(); err != io.EOF {
		t.Fatalf("second Read: %v", err)
	}
}

// A client that drops TCP without a close frame is an abnormal closure.
func TestWebSocketAbruptClose(t *testing.T) {
	serve, peers := recorder()
	url := startWS(t, Config{}, serve)
	cli := dialWS(t, url, "wamp.2.json")
	p := recv(t, peers)
	cli.Close()
	if err := recv(t, p.err); !errors.Is(err, io.ErrUnexpectedEOF) && !isReset(err) {
		t.Fatalf("server Read: %v, want unexpected EOF", err)
	}
}

// When serve returns, the connection is closed with a close frame.
func TestWebSocketServeReturns(t *testing.T) {
	url := startWS(t, Config{}, func(c Conn) {
		_ = c.WriteBatch([][]byte{[]byte(`[3,{},"wamp.close.system_shutdown"]`)})
	})
	cli := dialWS(t, url, "wamp.2.json")
	if _, got := cli.next(t); string(got) != `[3,{},"wamp.close.system_shutdown"]` {
		t.Fatalf("got %q", got)
	}
	h, body := cli.next(t)
	if code, _ := ws.ParseCloseFrameData(body); h.OpCode != ws.OpClose || code != 1000 {
		t.Fatalf("got %v %d", h.OpCode, code)
	}
	cli.send(t, ws.OpClose, true, body)
	expectEOF(t, cli.rd)
}

// Frames sent right behind the upgrade request must not be lost.
func TestWebSocketPipelinedFrames(t *testing.T) {
	serve, peers := recorder()
	url := startWS(t, Config{}, serve)
	addr := strings.TrimPrefix(url, "ws://")
	cli := dialTCP(t, addr)
	var buf bytes.Buffer
	buf.WriteString("GET / HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: wamp.2.json\r\n\r\n")
	_ = ws.WriteFrame(&buf, ws.MaskFrameInPlace(ws.NewTextFrame([]byte(`[1,"a",{}]`))))
	_ = ws.WriteFrame(&buf, ws.MaskFrameInPlace(ws.NewTextFrame([]byte(`[1,"b",{}]`))))
	if _, err := cli.Write(buf.Bytes()); err != nil {
		t.Fatal(err)
	}
	p := recv(t, peers)
	for _, want := range []string{`[1,"a",{}]`, `[1,"b",{}]`} {
		if got := recv(t, p.msgs); string(got) != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
}

func TestWebSocketKeepalive(t *testing.T) {
	serve, peers := recorder()
	url := startWS(t, Config{PingInterval: 10e6, PingTimeout: wait}, serve)
	cli := dialWS(t, url, "wamp.2.json")
	p := recv(t, peers)
	// An idle client is pinged, again and again while it answers.
	for range 3 {
		h, payload := cli.next(t)
		if h.OpCode != ws.OpPing {
			t.Fatalf("got %v, want ping", h.OpCode)
		}
		cli.send(t, ws.OpPong, true, payload)
	}
	select {
	case err := <-p.err:
		t.Fatalf("answering client was cut: %v", err)
	default:
	}
}

// Every header and payload split across reads, one byte at a time.
func TestWebSocketDribble(t *testing.T) {
	var stream []byte
	msgs := []string{`[1,"realm1",{}]`, "", strings.Repeat("x", 70000), `[6,{},"bye"]`}
	for _, m := range msgs {
		stream = append(stream, mustCompile(ws.MaskFrame(ws.NewTextFrame([]byte(m))))...)
	}
	stream = append(stream, mustCompile(ws.MaskFrame(ws.NewCloseFrame(ws.NewCloseFrameBody(1000, ""))))...)
	mc := &memConn{}
	for i := range stream {
		mc.chunks = append(mc.chunks, stream[i:i+1])
	}
	c := newConn(mc, true, wamp.JSON, 1<<20, 0, Config{}.withDefaults(), nil)
	for _, want := range msgs {
		m, err := c.Read()
		if err != nil || string(m) != want {
			t.Fatalf("Read %d bytes, %v; want %d bytes", len(m), err, len(want))
		}
	}
	if _, err := c.Read(); err != io.EOF {
		t.Fatalf("Read at close: %v", err)
	}
	c.finish()
}

func mustCompile(f ws.Frame) []byte {
	b, err := ws.CompileFrame(f)
	if err != nil {
		panic(err)
	}
	return b
}

// Both paths of an endpoint: a handshake whose head does not fit the fast
// path's buffer (a browser with many cookies) still upgrades, through
// net/http, onto the socket itself (idle reads without a buffer); other
// paths of the listener reach the http.Server's mux.
func TestWebSocketServePaths(t *testing.T) {
	serve, peers := recorder()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	w := NewWebSocket(Config{}, "/ws", serve)
	mux := http.NewServeMux()
	mux.Handle("/ws", w)
	mux.HandleFunc("/hello", func(rw http.ResponseWriter, _ *http.Request) { _, _ = rw.Write([]byte("hi")) })
	srv := &http.Server{Handler: mux}
	done := make(chan error, 1)
	go func() { done <- w.Serve(ln, srv) }()
	defer func() {
		_ = ln.Close()
		_ = srv.Close()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()
	base := ln.Addr().String()

	for _, cookie := range []int{10, 2 * headBufSize} {
		d := ws.Dialer{Protocols: []string{"wamp.2.json"}, Timeout: wait,
			Header: ws.HandshakeHeaderHTTP(http.Header{"Cookie": {strings.Repeat("c", cookie)}})}
		nc, _, hs, err := d.Dial(context.Background(), "ws://"+base+"/ws?x=1")
		if err != nil {
			t.Fatalf("cookie %d: dial: %v", cookie, err)
		}
		if hs.Protocol != "wamp.2.json" {
			t.Fatalf("cookie %d: protocol %q", cookie, hs.Protocol)
		}
		p := recv(t, peers)
		if p.conn.(*conn).br.raw == nil {
			t.Errorf("cookie %d: the session reads through a wrapper, not the socket", cookie)
		}
		_ = ws.WriteFrame(nc, ws.MaskFrameInPlace(ws.NewTextFrame([]byte(`[1,"r",{}]`))))
		if got := recv(t, p.msgs); string(got) != `[1,"r",{}]` {
			t.Fatalf("cookie %d: read %q", cookie, got)
		}
		_ = nc.Close()
		recv(t, p.err)
	}

	resp, err := http.Get("http://" + base + "/hello")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "hi" {
		t.Fatalf("GET /hello: %s %q", resp.Status, body)
	}
	// A WebSocket handshake for another path is no upgrade of ours.
	if _, _, _, err := (ws.Dialer{Protocols: []string{"wamp.2.json"}, Timeout: wait}).Dial(context.Background(), "ws://"+base+"/other"); err == nil {
		t.Fatal("upgraded on a path that is not the endpoint's")
	}
	// A connection that sends nothing and goes ends quietly (goleak checks
	// that nothing is left behind).
	nc := dialTCP(t, base)
	_ = nc.Close()
}
