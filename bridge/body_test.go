package bridge

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestReadLimitedDeclaredLength: a body declared at 1 MiB that brings one
// byte does not make the bridge allocate 1 MiB before data arrives (the
// declaration comes before the signature can be checked).
func TestReadLimitedDeclaredLength(t *testing.T) {
	body, err := readLimited(strings.NewReader("x"), 1<<20, 2<<20)
	if err != nil || string(body) != "x" {
		t.Fatalf("read %q, %v", body, err)
	}
	if c := cap(body); c > bodyPrealloc {
		t.Fatalf("allocated %d bytes up front for a declared 1 MiB, want at most %d", c, bodyPrealloc)
	}
	// Larger bodies still arrive whole.
	big := strings.Repeat("y", 300<<10)
	if body, err := readLimited(strings.NewReader(big), int64(len(big)), 1<<20); err != nil || string(body) != big {
		t.Fatalf("read %d bytes, %v; want %d", len(body), err, len(big))
	}
}

// TestBodyDeadline: a body that stops arriving is ended by the read
// deadline with 408, rather than holding its connection and buffer.
func TestBodyDeadline(t *testing.T) {
	b := &Bridge{cfg: Config{MaxBody: 2 << 20, BodyTimeout: 100 * time.Millisecond}}
	got := make(chan *problem, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, p := b.readBody(w, r)
		got <- p
		w.WriteHeader(http.StatusTeapot)
	}))
	defer srv.Close()
	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n{", 1<<20)
	select {
	case p := <-got:
		if p == nil || p.status != http.StatusRequestTimeout {
			t.Fatalf("stalled body: %v, want 408", p)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a stalled body was not ended by the read deadline")
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if resp, err := http.ReadResponse(bufio.NewReader(c), nil); err == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}
