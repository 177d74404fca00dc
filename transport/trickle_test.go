package transport

import (
	"bufio"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestTrickledHeadTimesOut: a request head that trickles in slower than
// the handshake timeout is answered 408 and closed by the fast path, not
// handed to net/http, which would start a timeout of its own (here the
// test's server has none, so a handed-off connection would stay open for
// as long as the trickle lasts).
func TestTrickledHeadTimesOut(t *testing.T) {
	url := startWS(t, Config{HandshakeTimeout: 200 * time.Millisecond}, func(Conn) {})
	nc, err := net.Dial("tcp", strings.TrimPrefix(url, "ws://"))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	head := "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nX-Slow: " + strings.Repeat("a", 400) + "\r\n\r\n"
	// 400 bytes, one every 10 ms: 4 s of trickle, 20 times the timeout.
	closed := false
	for i := 0; i < len(head) && !closed; i++ {
		if _, err := nc.Write([]byte{head[i]}); err != nil {
			closed = true
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !closed {
		t.Fatal("the connection was still open after a head trickled in for 20 times the handshake timeout")
	}
	// The 408 may be lost to the reset that closing with the client's
	// bytes unread causes; if it arrived, it is a 408.
	_ = nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	if resp, err := http.ReadResponse(bufio.NewReader(nc), nil); err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestTimeout {
			t.Fatalf("status %d, want 408", resp.StatusCode)
		}
	}
}
