package transport

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/switchboard/switchboard/internal/testutil"
	"github.com/switchboard/switchboard/wamp"
)

func TestRawSocketHandshakeEachSerializer(t *testing.T) {
	serve, peers := recorder()
	addr := startRaw(t, Config{}, serve)
	for _, ser := range wamp.Serializations {
		t.Run(ser.String(), func(t *testing.T) {
			cli, reply := dialRaw(t, "tcp", addr, [4]byte{0x7f, 0xf0 | byte(ser), 0, 0})
			// 16 MiB default: exponent 15.
			if want := [4]byte{0x7f, 0xf0 | byte(ser), 0, 0}; reply != want {
				t.Fatalf("reply % x, want % x", reply, want)
			}
			p := recv(t, peers)
			if p.conn.Serialization() != ser || p.conn.Transport() != "rawsocket" || p.conn.MaxWrite() != 1<<24 {
				t.Fatalf("ser %v transport %q maxwrite %d", p.conn.Serialization(), p.conn.Transport(), p.conn.MaxWrite())
			}
			cli.send(t, kindData, []byte("hello"))
			if got := recv(t, p.msgs); string(got) != "hello" {
				t.Fatalf("server read %q", got)
			}
			if err := p.conn.WriteBatch([][]byte{[]byte("a"), nil, []byte("bc")}); err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{"a", "", "bc"} {
				if k, got := cli.next(t); k != kindData || string(got) != want {
					t.Fatalf("client read %d %q, want %q", k, got, want)
				}
			}
			cli.Close()
			if err := recv(t, p.err); err != io.EOF {
				t.Fatalf("server Read after client close: %v, want io.EOF", err)
			}
		})
	}
}

func TestRawSocketHandshakeErrors(t *testing.T) {
	addr := startRaw(t, Config{Serializations: []wamp.Serialization{wamp.JSON, wamp.CBOR}}, func(Conn) {
		t.Error("serve called after a failed handshake")
	})
	for name, tc := range map[string]struct{ req, reply [4]byte }{
		"ubjson":              {[4]byte{0x7f, 0xf4, 0, 0}, [4]byte{0x7f, 0x10, 0, 0}},
		"illegal serializer":  {[4]byte{0x7f, 0xf0, 0, 0}, [4]byte{0x7f, 0x10, 0, 0}},
		"not configured":      {[4]byte{0x7f, 0xf2, 0, 0}, [4]byte{0x7f, 0x10, 0, 0}},
		"reserved third byte": {[4]byte{0x7f, 0xf1, 1, 0}, [4]byte{0x7f, 0x30, 0, 0}},
		"reserved last byte":  {[4]byte{0x7f, 0xf1, 0, 0x80}, [4]byte{0x7f, 0x30, 0, 0}},
	} {
		t.Run(name, func(t *testing.T) {
			cli, reply := dialRaw(t, "tcp", addr, tc.req)
			if reply != tc.reply {
				t.Fatalf("reply % x, want % x", reply, tc.reply)
			}
			expectEOF(t, cli.br)
		})
	}
	t.Run("bad magic", func(t *testing.T) {
		nc, err := net.DialTimeout("tcp", addr, wait)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		_ = nc.SetDeadline(time.Now().Add(wait))
		_, _ = nc.Write([]byte("GET / HTTP/1.1\r\n\r\n"))
		expectEOF(t, nc)
	})
}

func TestRawSocketHandshakeTimeout(t *testing.T) {
	addr := startRaw(t, Config{HandshakeTimeout: 50 * time.Millisecond}, func(Conn) {
		t.Error("serve called")
	})
	nc, err := net.DialTimeout("tcp", addr, wait)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(wait))
	_, _ = nc.Write([]byte{0x7f, 0xf1}) // half a request, then silence
	expectEOF(t, nc)
}

func TestRawSocketMaxLength(t *testing.T) {
	for _, tc := range []struct {
		max     int
		exp     byte
		readMax int
	}{
		{0, 15, 1 << 24},
		{100, 0, 512},
		{512, 0, 512},
		{1000, 0, 512},
		{1024, 1, 1024},
		{1 << 20, 11, 1 << 20},
		{1<<20 + 1, 11, 1 << 20},
		{1 << 30, 15, 1 << 24},
	} {
		if got := rawExponent(Config{MaxMessageSize: tc.max}.withDefaults().MaxMessageSize); got != tc.exp {
			t.Errorf("MaxMessageSize %d: exponent %d, want %d", tc.max, got, tc.exp)
		}
	}

	serve, peers := recorder()
	addr := startRaw(t, Config{MaxMessageSize: 1000}, serve)
	// The client accepts 2^(9+3) = 4096 bytes.
	cli, reply := dialRaw(t, "tcp", addr, [4]byte{0x7f, 0x32, 0, 0})
	if want := [4]byte{0x7f, 0x02, 0, 0}; reply != want {
		t.Fatalf("reply % x, want % x", reply, want)
	}
	p := recv(t, peers)
	if p.conn.MaxWrite() != 4096 {
		t.Fatalf("MaxWrite %d, want 4096", p.conn.MaxWrite())
	}
	if err := p.conn.WriteBatch([][]byte{[]byte("small"), make([]byte, 4097)}); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("WriteBatch over the peer's max: %v", err)
	}
	if err := p.conn.WriteBatch([][]byte{make([]byte, 4096)}); err != nil {
		t.Fatal(err)
	}
	// Nothing of the rejected batch went out.
	if _, got := cli.next(t); len(got) != 4096 {
		t.Fatalf("client got %d bytes first", len(got))
	}
	cli.send(t, kindData, make([]byte, 512))
	if got := recv(t, p.msgs); len(got) != 512 {
		t.Fatalf("got %d", len(got))
	}
	cli.send(t, kindData, make([]byte, 513))
	if err := recv(t, p.err); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("server Read: %v, want ErrTooLarge", err)
	}
	expectEOF(t, cli.br)
}

func TestRawSocketLengthBit25(t *testing.T) {
	serve, peers := recorder()
	addr := startRaw(t, Config{}, serve)
	cli, _ := dialRaw(t, "tcp", addr, [4]byte{0x7f, 0xf2, 0, 0})
	p := recv(t, peers)
	big := bytes.Repeat([]byte{7}, 1<<24)
	go func() {
		_, _ = cli.Write(append([]byte{0x08, 0, 0, 0}, big...))
	}()
	if got := recv(t, p.msgs); !bytes.Equal(got, big) {
		t.Fatalf("got %d bytes", len(got))
	}
	go func() { _ = p.conn.WriteBatch([][]byte{big}) }()
	if _, got := cli.next(t); !bytes.Equal(got, big) {
		t.Fatalf("client got %d bytes", len(got))
	}
}

func TestRawSocketPingPong(t *testing.T) {
	serve, peers := recorder()
	addr := startRaw(t, Config{}, serve)
	cli, _ := dialRaw(t, "tcp", addr, [4]byte{0x7f, 0xf1, 0, 0})
	p := recv(t, peers)
	cli.send(t, kindPing, []byte("are you there"))
	if k, got := cli.next(t); k != kindPong || string(got) != "are you there" {
		t.Fatalf("got %d %q", k, got)
	}
	cli.send(t, kindPong, []byte("unsolicited"))
	cli.send(t, kindData, []byte("[1]"))
	if got := recv(t, p.msgs); string(got) != "[1]" {
		t.Fatalf("got %q", got)
	}
}

func TestRawSocketProtocolErrors(t *testing.T) {
	for name, hdr := range map[string][]byte{
		"type 3":       {0x03, 0, 0, 0},
		"type 7":       {0x07, 0, 0, 1, 'x'},
		"reserved bit": {0x10, 0, 0, 0},
		"bit 25 + len": {0x08, 0, 0, 1},
	} {
		t.Run(name, func(t *testing.T) {
			serve, peers := recorder()
			addr := startRaw(t, Config{}, serve)
			cli, _ := dialRaw(t, "tcp", addr, [4]byte{0x7f, 0xf1, 0, 0})
			p := recv(t, peers)
			_, _ = cli.Write(hdr)
			if err := recv(t, p.err); !errors.Is(err, ErrProtocol) {
				t.Fatalf("server Read: %v, want ErrProtocol", err)
			}
			expectEOF(t, cli.br)
		})
	}
}

// dribbleConn writes one byte per Write, so that every frame and header
// arrives split.
type dribbleConn struct{ net.Conn }

func (d dribbleConn) Write(p []byte) (int, error) {
	for i := range p {
		if _, err := d.Conn.Write(p[i : i+1]); err != nil {
			return i, err
		}
	}
	return len(p), nil
}

func TestRawSocketDribble(t *testing.T) {
	cliEnd, srvEnd := net.Pipe()
	cfg := Config{}.withDefaults()
	got := make(chan *conn, 1)
	go func() {
		c, err := rawHandshake(srvEnd, cfg)
		if err != nil {
			t.Error(err)
			srvEnd.Close()
		}
		got <- c
	}()
	cli, reply := rawClientOn(t, dribbleConn{cliEnd}, [4]byte{0x7f, 0xf3, 0, 0})
	if reply != [4]byte{0x7f, 0xf3, 0, 0} {
		t.Fatalf("reply % x", reply)
	}
	c := recv(t, got)
	if c == nil {
		return
	}
	msgs := [][]byte{[]byte("first"), nil, bytes.Repeat([]byte("x"), 5000), []byte("last")}
	go func() {
		var stream []byte
		for _, m := range msgs {
			stream = append(stream, rawFrame(kindData, m)...)
		}
		_, _ = cli.Write(stream)
	}()
	for _, want := range msgs {
		m, err := c.Read()
		if err != nil || !bytes.Equal(m, want) {
			t.Fatalf("Read %q %v, want %q", m, err, want)
		}
	}
	cli.Close()
	if _, err := c.Read(); err != io.EOF {
		t.Fatalf("Read at end: %v", err)
	}
	c.finish()
}

func TestRawSocketUnix(t *testing.T) {
	path := filepath.Join(t.TempDir(), "wamp.sock")
	// A socket file left by a dead process is replaced.
	stale, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	stale.(*net.UnixListener).SetUnlinkOnClose(false)
	stale.Close()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("stale socket not left behind: %v", err)
	}

	ln, err := Listen("unix:"+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	serveOn(t, ln, Config{}, echo)
	// A live socket is not stolen.
	if ln2, err := Listen("unix:"+path, nil); err == nil {
		ln2.Close()
		t.Fatal("Listen took over a live socket")
	}

	cli, reply := dialRaw(t, "unix", path, [4]byte{0x7f, 0x02, 0, 0})
	if reply[1]&0x0f != 2 {
		t.Fatalf("reply % x", reply)
	}
	cli.send(t, kindData, []byte("over unix"))
	if _, got := cli.next(t); string(got) != "over unix" {
		t.Fatalf("got %q", got)
	}
}

func TestListenErrors(t *testing.T) {
	if _, err := Listen("unix:", nil); err == nil {
		t.Error("empty unix path accepted")
	}
	file := filepath.Join(t.TempDir(), "regular")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Listen("unix:"+file, nil); err == nil {
		t.Error("regular file replaced by a socket")
	}
	if _, err := Listen("256.0.0.1:x", nil); err == nil {
		t.Error("bad TCP address accepted")
	}
}

func TestRawSocketTLS(t *testing.T) {
	cert := testutil.NewCert(t, testutil.CertSpec{Hosts: []string{"localhost"}})
	ln, err := Listen("127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert.TLS()}})
	if err != nil {
		t.Fatal(err)
	}
	serveOn(t, ln, Config{}, echo)
	nc, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{RootCAs: cert.Pool(), ServerName: "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	cli, reply := rawClientOn(t, nc, [4]byte{0x7f, 0xf1, 0, 0})
	if reply != [4]byte{0x7f, 0xf1, 0, 0} {
		t.Fatalf("reply % x", reply)
	}
	cli.send(t, kindData, []byte("secret"))
	if _, got := cli.next(t); string(got) != "secret" {
		t.Fatalf("got %q", got)
	}
}

func TestRawSocketKeepaliveTimeout(t *testing.T) {
	serve, peers := recorder()
	addr := startRaw(t, Config{PingInterval: 10 * time.Millisecond, PingTimeout: 10 * time.Millisecond}, serve)
	cli, _ := dialRaw(t, "tcp", addr, [4]byte{0x7f, 0xf1, 0, 0})
	_ = cli // a client that never reads nor answers
	p := recv(t, peers)
	if err := recv(t, p.err); !errors.Is(err, ErrPingTimeout) {
		t.Fatalf("server Read: %v, want ErrPingTimeout", err)
	}
}

func TestRawSocketKeepaliveAnswered(t *testing.T) {
	serve, peers := recorder()
	addr := startRaw(t, Config{PingInterval: 10 * time.Millisecond, PingTimeout: wait}, serve)
	cli, _ := dialRaw(t, "tcp", addr, [4]byte{0x7f, 0xf1, 0, 0})
	p := recv(t, peers)
	for range 3 {
		k, payload := cli.next(t)
		if k != kindPing {
			t.Fatalf("got frame type %d, want ping", k)
		}
		cli.send(t, kindPong, payload)
	}
	select {
	case err := <-p.err:
		t.Fatalf("answering client was cut: %v", err)
	default:
	}
}

// Close half-closes: the client sees EOF, and its own close ends the
// server's Read.
func TestRawSocketServerClose(t *testing.T) {
	serve, peers := recorder()
	addr := startRaw(t, Config{}, serve)
	cli, _ := dialRaw(t, "tcp", addr, [4]byte{0x7f, 0xf1, 0, 0})
	p := recv(t, peers)
	if err := p.conn.WriteBatch([][]byte{[]byte("[6,{},\"bye\"]")}); err != nil {
		t.Fatal(err)
	}
	if err := p.conn.Close(CloseNormal, ""); err != nil {
		t.Fatal(err)
	}
	if _, got := cli.next(t); string(got) != `[6,{},"bye"]` {
		t.Fatalf("got %q", got)
	}
	expectEOF(t, cli.br)
	cli.Close()
	if err := recv(t, p.err); err != io.EOF {
		t.Fatalf("server Read: %v", err)
	}
}

// Close makes a Read blocked on a silent peer return.
func TestCloseUnblocksRead(t *testing.T) {
	serve, peers := recorder()
	addr := startRaw(t, Config{}, serve)
	dialRaw(t, "tcp", addr, [4]byte{0x7f, 0xf1, 0, 0}) // stays silent, never closes
	p := recv(t, peers)
	if err := p.conn.Close(CloseNormal, ""); err != nil {
		t.Fatal(err)
	}
	if err := recv(t, p.err); !errors.Is(err, ErrClosed) {
		t.Fatalf("server Read: %v, want ErrClosed", err)
	}
}
