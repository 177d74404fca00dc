package transport

import (
	"bytes"
	"net"
	"syscall"
	"testing"

	"github.com/switchboard/switchboard/wamp"
)

// parkingConn is a syscall.RawConn over a real non-blocking socket whose
// Read, where the runtime would park the goroutine, runs park instead and
// then tries again: the test sees the input exactly at the moment it
// would wait, on its own goroutine.
type parkingConn struct {
	fd   int
	park func()
}

func (p *parkingConn) Control(func(uintptr)) error { return nil }
func (p *parkingConn) Write(func(uintptr) bool) error {
	panic("not used")
}

func (p *parkingConn) Read(f func(uintptr) bool) error {
	for !f(uintptr(p.fd)) {
		p.park()
	}
	return nil
}

// An idle socket connection holds no read buffer while it waits, takes one
// when bytes arrive, and reads every byte in order across the waits.
func TestInputIdleHoldsNoBuffer(t *testing.T) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fds[0])
	defer syscall.Close(fds[1])
	if err := syscall.SetNonblock(fds[0], true); err != nil {
		t.Fatal(err)
	}
	// The memConn only gives errors their addresses: reads go to pc.
	c := newConn(&memConn{}, false, wamp.JSON, 1<<20, 1<<20, Config{}.withDefaults(), nil)

	frames := [][]byte{[]byte(`[1,"realm1",{}]`), bytes.Repeat([]byte("x"), 3*readBufSize), []byte(`[6,{},"bye"]`)}
	next := 0
	parks := 0
	pc := &parkingConn{fd: fds[0]}
	pc.park = func() {
		parks++
		if c.br.buf != nil {
			t.Fatalf("parked %d holding a %d-byte buffer", parks, cap(c.br.buf.b))
		}
		if next == len(frames) {
			// finish below drains: end the stream.
			_ = syscall.Shutdown(fds[1], syscall.SHUT_WR)
			return
		}
		if _, err := syscall.Write(fds[1], rawFrame(kindData, frames[next])); err != nil {
			t.Fatal(err)
		}
		next++
	}
	c.br.raw, c.br.buf, c.br.read = pc, nil, c.br.readFD

	for i, want := range frames {
		got, err := c.Read()
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("frame %d: got %d bytes %.20q, want %d bytes %.20q", i, len(got), got, len(want), want)
		}
	}
	if parks != len(frames) {
		t.Fatalf("parked %d times for %d frames sent one at a time", parks, len(frames))
	}
	c.finish()
	if c.br.buf != nil {
		t.Fatal("finished connection still holds its buffer")
	}
}

// Connections without a socket of their own read through net.Conn and keep
// their buffer.
func TestInputStreamKeepsBuffer(t *testing.T) {
	cli, srv := net.Pipe()
	c := newConn(srv, false, wamp.JSON, 1<<20, 1<<20, Config{}.withDefaults(), nil)
	defer c.finish()
	defer cli.Close() // before finish, which waits for the peer's end
	if c.br.raw != nil || c.br.buf == nil {
		t.Fatalf("pipe conn: raw %v, buffer %v", c.br.raw, c.br.buf)
	}
	go func() { _, _ = cli.Write(rawFrame(kindData, []byte("[2]"))) }()
	got, err := c.Read()
	if err != nil || string(got) != "[2]" {
		t.Fatalf("Read: %q, %v", got, err)
	}
}
