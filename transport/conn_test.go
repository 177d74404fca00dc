package transport

import (
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/switchboard/switchboard/internal/testutil"
	"github.com/switchboard/switchboard/wamp"
)

// A peer that stops reading costs the writer WriteTimeout, then the stream
// is unusable for good.
func TestWriteTimeout(t *testing.T) {
	cli, srv := net.Pipe()
	defer cli.Close()
	c := newConn(srv, false, wamp.JSON, 1<<20, 1<<20, Config{WriteTimeout: 20 * time.Millisecond}.withDefaults(), nil)
	err := c.WriteBatch([][]byte{[]byte("nobody reads this")})
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("WriteBatch: %v, want deadline exceeded", err)
	}
	if again := c.WriteBatch([][]byte{[]byte("x")}); again != err {
		t.Fatalf("second WriteBatch: %v", again)
	}
	// No close frame can follow half a frame: Close tears down at once.
	if err := c.Close(CloseNormal, ""); err != nil {
		t.Fatal(err)
	}
	if !c.closed.Load() {
		t.Fatal("not closed")
	}
	c.finish()
}

// Close does not wait forever for a writer stuck on a peer that does not
// read: it cuts the connection, which frees the writer.
func TestCloseStuckWriter(t *testing.T) {
	cli, srv := net.Pipe()
	defer cli.Close()
	c := newConn(srv, true, wamp.JSON, 1<<20, 0, Config{WriteTimeout: time.Hour}.withDefaults(), nil)
	wrote := make(chan error, 1)
	go func() { wrote <- c.WriteBatch([][]byte{[]byte("[36,1,2,{}]")}) }()
	testutil.Eventually(t, wait, func() bool { return len(c.wsem) != 0 }, "the writer holding the semaphore")
	if err := c.Close(CloseGoingAway, "shutdown"); err != nil {
		t.Fatal(err)
	}
	if err := recv(t, wrote); !errors.Is(err, io.ErrClosedPipe) {
		t.Fatalf("stuck WriteBatch: %v", err)
	}
	if _, err := c.Read(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Read: %v", err)
	}
	c.finish()
}

func TestConfigDefaults(t *testing.T) {
	cfg := Config{Serializations: []wamp.Serialization{wamp.CBOR, 9, wamp.CBOR, wamp.JSON}}.withDefaults()
	if len(cfg.Serializations) != 2 || cfg.Serializations[0] != wamp.CBOR || cfg.Serializations[1] != wamp.JSON {
		t.Errorf("Serializations %v", cfg.Serializations)
	}
	if cfg.MaxMessageSize != 16<<20 || cfg.PingInterval != 0 || cfg.PingTimeout != 10*time.Second ||
		cfg.WriteTimeout != 10*time.Second || cfg.HandshakeTimeout != 10*time.Second || cfg.Logger == nil {
		t.Errorf("defaults %+v", cfg)
	}
	if got := (Config{}).withDefaults().Serializations; len(got) != 3 {
		t.Errorf("zero Serializations: %v", got)
	}
}

func TestBufferPool(t *testing.T) {
	for _, tc := range []struct{ n, cap int }{{0, 512}, {512, 512}, {513, 1024}, {4096, 4096}, {4097, 8192}, {1 << 20, 1 << 20}, {1<<20 + 1, 1<<20 + 1}} {
		b := getBuffer(tc.n)
		if cap(b.b) != tc.cap || len(b.b) != 0 {
			t.Errorf("getBuffer(%d): len %d cap %d, want cap %d", tc.n, len(b.b), cap(b.b), tc.cap)
		}
		putBuffer(b)
	}
}

func TestErrClosedIsNetErrClosed(t *testing.T) {
	if !errors.Is(ErrClosed, net.ErrClosed) {
		t.Fatal("ErrClosed does not wrap net.ErrClosed")
	}
}
