//go:build linux

package transport

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/switchboard/switchboard/internal/testutil"
	"github.com/switchboard/switchboard/wamp"
)

// parkedReader is a reader loop that parks: it hands each message out,
// and tells each park and its end.
type parkedReader struct {
	c      *conn
	msgs   chan []byte
	parked chan struct{}
	ended  chan error
	tail   chan struct{}
}

// startParked serves nc as a connection whose reader parks while idle.
func startParked(t *testing.T, nc net.Conn, websocket bool) *parkedReader {
	t.Helper()
	p := &parkedReader{
		c:      newConn(nc, websocket, wamp.JSON, 1<<20, 1<<20, Config{}.withDefaults(), nil),
		msgs:   make(chan []byte, 16),
		parked: make(chan struct{}, 16),
		ended:  make(chan error, 1),
		tail:   make(chan struct{}),
	}
	p.c.tail = func() {
		p.c.finish()
		close(p.tail)
	}
	if !p.c.EnablePark(p.read) {
		t.Fatal("EnablePark refused a TCP connection")
	}
	go p.c.run(p.read)
	return p
}

func (p *parkedReader) read() {
	for {
		msg, err := p.c.Read()
		if errors.Is(err, ErrParked) {
			p.parked <- struct{}{}
			return
		}
		if err != nil {
			p.ended <- err
			return
		}
		p.msgs <- bytes.Clone(msg)
	}
}

// waitParked waits for the reader's next park (its return from the loop;
// the socket goes into the epoll set just after).
func (p *parkedReader) waitParked(t *testing.T, what string) {
	t.Helper()
	select {
	case <-p.parked:
	case err := <-p.ended:
		t.Fatalf("%s: the reader ended (%v) instead of parking", what, err)
	case <-time.After(wait):
		t.Fatalf("%s: the reader did not park within %v", what, wait)
	}
}

func (p *parkedReader) isParked() bool {
	poller.mu.Lock()
	defer poller.mu.Unlock()
	return poller.conns[p.c.fd] == p.c
}

func (p *parkedReader) waitMsg(t *testing.T, want string) {
	t.Helper()
	select {
	case m := <-p.msgs:
		if string(m) != want {
			t.Fatalf("read %q, want %q", m, want)
		}
	case err := <-p.ended:
		t.Fatalf("the reader ended (%v) before %q", err, want)
	case <-time.After(wait):
		t.Fatalf("%q not read within %v", want, wait)
	}
}

func (p *parkedReader) waitTail(t *testing.T) {
	t.Helper()
	select {
	case <-p.tail:
	case <-time.After(wait):
		t.Fatalf("the connection did not end within %v", wait)
	}
}

func tcpConns(t *testing.T) (srv, cli net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cli, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	srv, err = ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cli.Close() })
	return srv, cli
}

// An idle RawSocket connection parks; a message resumes its reader on a
// new goroutine, which parks again once idle; Close resumes it to end.
func TestParkRawSocket(t *testing.T) {
	srv, cli := tcpConns(t)
	p := startParked(t, srv, false)
	p.waitParked(t, "idle from the start")
	for i, msg := range []string{"one", "two"} {
		if _, err := cli.Write(rawFrame(kindData, []byte(msg))); err != nil {
			t.Fatal(err)
		}
		p.waitMsg(t, msg)
		p.waitParked(t, "idle after message "+string(rune('1'+i)))
	}
	testutil.Eventually(t, wait, p.isParked, "parked, but the socket is not in the epoll set")
	// The client reads to the end and closes, as a RawSocket peer does
	// when the router closes.
	go func() {
		_, _ = io.Copy(io.Discard, cli)
		_ = cli.Close()
	}()
	if err := p.c.Close(CloseNormal, ""); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.ended:
		if err == nil {
			t.Fatal("the reader ended without an error")
		}
	case <-time.After(wait):
		t.Fatal("Close did not resume the parked reader")
	}
	p.waitTail(t)
	if p.isParked() {
		t.Fatal("ended, but the socket is still in the epoll set")
	}
}

// A peer that goes away while its connection is parked ends it.
func TestParkPeerGone(t *testing.T) {
	srv, cli := tcpConns(t)
	p := startParked(t, srv, false)
	p.waitParked(t, "idle")
	_ = cli.Close()
	select {
	case err := <-p.ended:
		if !errors.Is(err, io.EOF) {
			t.Fatalf("ended with %v, want io.EOF", err)
		}
	case <-time.After(wait):
		t.Fatal("the peer's close did not resume the parked reader")
	}
	p.waitTail(t)
}

// A WebSocket ping wakes a parked connection, which answers it and parks
// again without a message reaching the reader (a keepalive costs no
// goroutine beyond the wake-up); a message after it is read whole.
func TestParkWebSocketPing(t *testing.T) {
	srv, cli := tcpConns(t)
	p := startParked(t, srv, true)
	p.waitParked(t, "idle")
	ping := ws.NewPingFrame([]byte("are you there"))
	if err := ws.WriteFrame(cli, ws.MaskFrame(ping)); err != nil {
		t.Fatal(err)
	}
	_ = cli.SetReadDeadline(time.Now().Add(wait))
	f, err := ws.ReadFrame(cli)
	if err != nil {
		t.Fatalf("no pong: %v", err)
	}
	if f.Header.OpCode != ws.OpPong || string(f.Payload) != "are you there" {
		t.Fatalf("got %v %q, want the pong", f.Header.OpCode, f.Payload)
	}
	p.waitParked(t, "after the ping")
	select {
	case m := <-p.msgs:
		t.Fatalf("the reader got %q for a ping", m)
	default:
	}
	if err := ws.WriteFrame(cli, ws.MaskFrame(ws.NewTextFrame([]byte(`[1,"realm1",{}]`)))); err != nil {
		t.Fatal(err)
	}
	p.waitMsg(t, `[1,"realm1",{}]`)
	p.waitParked(t, "after the message")
	_ = cli.Close()
	p.waitTail(t)
}

// A message split across a quiet spell is not cut: the connection parks
// only between frames.
func TestParkNotMidFrame(t *testing.T) {
	srv, cli := tcpConns(t)
	p := startParked(t, srv, false)
	p.waitParked(t, "idle")
	frame := rawFrame(kindData, []byte("a message sent in two halves"))
	if _, err := cli.Write(frame[:10]); err != nil {
		t.Fatal(err)
	}
	// Several sweeps pass while the reader waits mid-frame.
	select {
	case <-p.parked:
		t.Fatal("the reader parked in the middle of a frame")
	case err := <-p.ended:
		t.Fatalf("the reader ended (%v) in the middle of a frame", err)
	case <-time.After(10 * parkQuiet):
	}
	if _, err := cli.Write(frame[10:]); err != nil {
		t.Fatal(err)
	}
	p.waitMsg(t, "a message sent in two halves")
	p.waitParked(t, "after the message")
	_ = cli.Close()
	p.waitTail(t)
}

// The sweep interrupts only the wait it saw twice: a wait begun since
// (the reader got a message and waits again) is left alone, so that a
// reader does not park right after its last message.
func TestInterruptOnlyTheWaitSeen(t *testing.T) {
	srv, _ := tcpConns(t)
	c := newConn(srv, false, wamp.JSON, 1<<20, 1<<20, Config{}.withDefaults(), nil)
	defer c.closeNow()
	seen := uint64(7)<<2 | waitBoundary
	now := uint64(8)<<2 | waitBoundary
	c.wait.Store(now)
	c.interrupt(seen)
	if got := c.wait.Load(); got != now {
		t.Fatalf("a stale interrupt changed the wait word to %#x, want %#x", got, now)
	}
	c.interrupt(now)
	if got := c.wait.Load(); got != uint64(8)<<2|waitInterrupting {
		t.Fatalf("the wait word is %#x after its interrupt, want %#x", got, uint64(8)<<2|waitInterrupting)
	}
	// The interrupt set a past read deadline: a read fails at once.
	buf := make([]byte, 1)
	if _, err := srv.Read(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read after the interrupt: %v, want a deadline error", err)
	}
}
