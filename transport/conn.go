package transport

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"

	"github.com/switchboard/switchboard/wamp"
)

// Conn is one framed WAMP connection.
type Conn interface {
	// Serialization is the serializer negotiated in the handshake.
	Serialization() wamp.Serialization

	// Read returns the payload of the next WAMP message. The slice is valid
	// until the next Read. Read answers pings and close frames itself.
	// It returns io.EOF on an orderly close (a WebSocket close frame, or
	// RawSocket EOF between frames); errors wrapping ErrTooLarge or
	// ErrProtocol for a misbehaving peer, ErrPingTimeout for a silent one,
	// ErrClosed after a local Close that the peer did not answer in time,
	// and io.ErrUnexpectedEOF for a WebSocket peer gone without a close
	// frame; other errors are wrapped with context. After an error every
	// Read returns the same error.
	Read() ([]byte, error)

	// WriteBatch writes frames, one WAMP message each, in order and with as
	// few system calls as it can, within the configured write timeout. A
	// frame larger than MaxWrite fails the whole batch with ErrTooLarge
	// before anything is written. After a failed write the stream may end
	// mid-frame, so every later WriteBatch returns the same error. Frames
	// are taken as private to this connection (see SharedWriter).
	WriteBatch(frames [][]byte) error

	// MaxWrite is the largest message the peer accepts: for RawSocket the
	// maximum it announced in the handshake; for WebSocket 0, no limit.
	MaxWrite() int

	// Close starts closing: it sends a close frame with code and reason
	// where the transport has one (WebSocket), half-closes the stream and
	// gives the peer a short while to finish before the connection is torn
	// down. It may be called more than once and concurrently with Read and
	// WriteBatch; a blocked Read returns once the peer answers or the grace
	// period ends.
	Close(code CloseCode, reason string) error

	// RemoteAddr is the peer's network address.
	RemoteAddr() net.Addr

	// Transport returns "websocket" or "rawsocket", for logs and metrics.
	Transport() string
}

// SharedWriter is implemented by the Conns of this package (an optional
// interface, as io.WriterTo is to io.Writer, so that other Conns need not
// have it). WriteBatchShared is WriteBatch for a batch some of whose frames
// are shared: shared[i] reports that frames[i] is one slice handed to many
// connections, immutable for good and never reused for other bytes (the
// EVENTs that the broker encodes once for all subscribers). On a
// WebSocket with permessage-deflate the connection may then reuse another
// connection's compressed form of it, so that a publication is compressed
// once rather than once per subscriber; every other frame is compressed
// for this connection alone. Marking a frame shared that is later
// rewritten (a pooled buffer) would send another message's bytes. shared
// has one flag per frame; it is not retained.
//
// The marking comes from the caller because only it knows where its
// frames come from, and a parallel slice that the caller reuses costs no
// allocation, where wrapping each frame in a type of ours would.
type SharedWriter interface {
	WriteBatchShared(frames [][]byte, shared []bool) error
	// SharesFrames reports whether the marking matters on this
	// connection (it compresses): when not, the caller saves itself the
	// marking and calls WriteBatch.
	SharesFrames() bool
}

var _ SharedWriter = (*conn)(nil)

func (c *conn) SharesFrames() bool { return c.deflate != nil }

// CloseCode is a WebSocket close status code (RFC 6455 section 7.4).
// RawSocket has no close frame and ignores it.
type CloseCode uint16

// Close codes the router sends.
const (
	CloseNormal        CloseCode = 1000
	CloseGoingAway     CloseCode = 1001
	CloseProtocolError CloseCode = 1002
	CloseInvalidData   CloseCode = 1007 // a text message that is not UTF-8
	ClosePolicy        CloseCode = 1008
	CloseTooBig        CloseCode = 1009
	CloseInternal      CloseCode = 1011
)

const (
	// readBufSize sizes the input buffer of a connection: one system call
	// then brings in dozens of small WAMP messages. An idle socket holds
	// none (see input).
	readBufSize = 4 << 10

	// readKeep is the largest read buffer a connection keeps between
	// messages; bigger ones go back to the pool at the next Read.
	readKeep = 1 << minPoolShift

	// growTrust is how much of a peer-announced length is allocated before
	// the bytes arrive. Beyond it the buffer grows as data comes in, so that
	// a header claiming 16 MiB followed by silence costs 64 KiB, not 16 MiB.
	growTrust = 64 << 10

	// copyMaxWritev is the largest frame that WriteBatch copies next to its
	// header when the connection can writev; bigger frames go out in place
	// as their own iovec. BenchmarkWriteBatchTCP (64 frames, loopback):
	// copying wins 2x at 100 bytes, the two are within noise from 512 bytes
	// to 4 KiB, and writev wins from 16 KiB.
	copyMaxWritev = 2 << 10

	// copyMaxStream is the same threshold for connections without writev
	// (TLS, pipes), where net.Buffers falls back to one Write, and for TLS
	// one record, per buffer; there copying is nearly always cheaper.
	copyMaxStream = 64 << 10

	// closeLinger is how long a closed connection waits for the peer to
	// answer (close frame echo, FIN) before it is torn down. Tearing down at
	// once with unread input makes the kernel send a RST, which can destroy
	// the close frame and the last messages in flight to the peer.
	closeLinger = 2 * time.Second
)

// frameKind is a transport frame type. The values are RawSocket's.
type frameKind byte

const (
	kindData frameKind = 0
	kindPing frameKind = 1
	kindPong frameKind = 2
)

// conn implements Conn for both transports; they differ only in framing,
// which is a branch on websocket in Read, the header encoder and the close
// frame.
type conn struct {
	nc           net.Conn
	br           input
	websocket    bool
	ser          wamp.Serialization
	dataOp       ws.OpCode // WebSocket opcode of data frames
	maxRead      int
	maxWrite     int
	writeTimeout time.Duration
	copyMax      int
	log          *slog.Logger
	// remote, when set, is the client's address as a trusted reverse
	// proxy reported it (TrustProxies); RemoteAddr returns it instead of
	// the proxy's. Set before the connection is handed to serve.
	remote net.Addr
	// deflate is the permessage-deflate state, nil when the handshake
	// did not negotiate it. Set before the connection is handed to serve.
	deflate *deflateState

	// Reader state. rmu is held for the whole of Read: Read has one caller,
	// but finish drains through the same code after serve returns.
	rmu  sync.Mutex
	rb   *buffer // owns rbuf's memory; nil before the first payload
	rbuf []byte
	rerr error
	hdr  [ws.MaxHeaderSize]byte
	ctrl [ws.MaxControlFramePayloadSize]byte

	// Writer state, owned by whoever holds wsem. wsem is a channel rather
	// than a Mutex so that Close can give up waiting on a stuck writer.
	wsem chan struct{}
	nb   net.Buffers // in the conn so that WriteTo's pointer does not allocate
	werr error

	activity atomic.Bool // set by every read from the network
	pingSent atomic.Bool // a keepalive ping awaits an answer
	closing  atomic.Bool // Close or the peer's close has begun
	closed   atomic.Bool // nc is closed

	parkState

	mu           sync.Mutex // guards the fields below
	closeErr     error      // why the connection was cut, for Read
	linger       *time.Timer
	pinger       *time.Timer
	pingInterval time.Duration
	pingTimeout  time.Duration
}

var _ Conn = (*conn)(nil)

// newConn wraps an established connection. maxWrite 0 means no limit.
// pending holds input already read past the handshake.
func newConn(nc net.Conn, websocket bool, ser wamp.Serialization, maxRead, maxWrite int, cfg Config, pending []byte) *conn {
	c := &conn{
		nc:           nc,
		websocket:    websocket,
		ser:          ser,
		dataOp:       ws.OpBinary,
		maxRead:      maxRead,
		maxWrite:     maxWrite,
		writeTimeout: cfg.WriteTimeout,
		copyMax:      copyMaxStream,
		log:          cfg.Logger,
		wsem:         make(chan struct{}, 1),
	}
	if ser == wamp.JSON {
		c.dataOp = ws.OpText
	}
	switch nc.(type) {
	case *net.TCPConn, *net.UnixConn:
		c.copyMax = copyMaxWritev
	}
	c.br.init(c, pending)
	if cfg.PingInterval > 0 {
		c.pingInterval, c.pingTimeout = cfg.PingInterval, cfg.PingTimeout
		c.mu.Lock()
		c.pinger = time.AfterFunc(c.pingInterval, c.keepalive)
		c.mu.Unlock()
	}
	return c
}

func (c *conn) Serialization() wamp.Serialization { return c.ser }
func (c *conn) MaxWrite() int                     { return c.maxWrite }
func (c *conn) RemoteAddr() net.Addr {
	if c.remote != nil {
		return c.remote
	}
	return c.nc.RemoteAddr()
}

func (c *conn) Transport() string {
	if c.websocket {
		return "websocket"
	}
	return "rawsocket"
}

func (c *conn) Close(code CloseCode, reason string) error {
	// Close is called from publishers and realm code that must never wait
	// on one peer: if a write is in progress, maybe stuck on a peer that
	// does not read, the connection is cut rather than waited for.
	return c.close(code, reason, 0)
}

// close starts closing. If a write is in progress, it waits up to wait for
// it so that the close frame can follow; past that, or with wait 0, it cuts
// the connection, which also unblocks the writer.
func (c *conn) close(code CloseCode, reason string, wait time.Duration) error {
	if !c.closing.CompareAndSwap(false, true) {
		return nil
	}
	c.stopPinger()
	// A parked reader must be back to see the peer's answer.
	c.unpark()
	if c.acquireWrite(wait) {
		return c.closeWriting(code, reason)
	}
	c.closeNow()
	return nil
}

// closeWriting sends the close frame and half-closes the stream, then
// gives the peer closeLinger to answer. The write semaphore must be held;
// closeWriting releases it.
func (c *conn) closeWriting(code CloseCode, reason string) error {
	// After a failed write the stream may end mid-frame: nothing more can
	// be said on it.
	broken := c.werr != nil
	var err error
	if !broken && c.websocket {
		err = c.writeCloseFrame(code, reason)
	}
	if !broken && err == nil {
		// FIN after our last bytes tells a RawSocket peer we are done and
		// lets a WebSocket peer finish reading; the read side stays open
		// for its answer. Under wsem because tls.Conn.CloseWrite writes.
		if cw, ok := c.nc.(interface{ CloseWrite() error }); ok {
			_ = cw.CloseWrite()
		}
	}
	c.releaseWrite()
	if broken || err != nil {
		c.closeNow()
		return err
	}
	c.mu.Lock()
	if !c.closed.Load() {
		c.linger = time.AfterFunc(closeLinger, c.closeNow)
	}
	c.mu.Unlock()
	return nil
}

// closeNow tears the connection down at once.
func (c *conn) closeNow() {
	if !c.closed.CompareAndSwap(false, true) {
		return
	}
	c.closing.Store(true)
	c.mu.Lock()
	if c.linger != nil {
		c.linger.Stop()
	}
	c.mu.Unlock()
	c.stopPinger()
	// Out of the epoll set before the descriptor can be reused.
	c.unpark()
	_ = c.nc.Close()
}

// finish ends a connection once serve has returned: it closes it if serve
// did not, then reads what the peer still sends until the peer closes or
// the linger timer cuts it, so that a peer's pending input never turns the
// final close into a RST before our close reached it.
func (c *conn) finish() {
	_ = c.Close(CloseNormal, "")
	c.rmu.Lock()
	defer c.rmu.Unlock()
	if c.rerr == nil {
		_, c.rerr = c.readLocked() // after Close it returns only on the end
	} else if !c.closed.Load() {
		// The stream stopped mid-frame; only raw bytes can be drained.
		_, _ = io.Copy(io.Discard, &c.br)
	}
	c.closeNow()
	c.releaseReadBuffer()
	c.br.release()
}

func (c *conn) stopPinger() {
	c.mu.Lock()
	if c.pinger != nil {
		c.pinger.Stop()
		c.pinger = nil
	}
	c.mu.Unlock()
}

// keepalive runs on the ping timer. Any input since the last tick proves the
// peer alive; otherwise it is pinged, and cut if still silent a PingTimeout
// later. A timer rather than a goroutine per connection keeps idle
// connections free.
func (c *conn) keepalive() {
	c.mu.Lock()
	if c.pinger == nil {
		c.mu.Unlock()
		return
	}
	if c.activity.Swap(false) {
		c.pinger.Reset(c.pingInterval)
		c.mu.Unlock()
		return
	}
	if c.pingSent.Load() {
		c.closeErr = fmt.Errorf("%w: %s peer sent nothing within %v of a ping", ErrPingTimeout, c.Transport(), c.pingTimeout)
		c.mu.Unlock()
		c.log.Info("transport: keepalive timeout", "transport", c.Transport(),
			"remote", c.RemoteAddr().String(), "timeout", c.pingTimeout)
		c.closeNow()
		return
	}
	c.pingSent.Store(true)
	c.pinger.Reset(c.pingTimeout)
	c.mu.Unlock()
	_ = c.writeControl(kindPing, nil)
}

// answered runs on the first input after a ping: the peer is alive, so the
// timer goes back from PingTimeout to PingInterval, counted from now.
func (c *conn) answered() {
	c.mu.Lock()
	if c.pingSent.Swap(false) && c.pinger != nil {
		c.activity.Store(false)
		c.pinger.Reset(c.pingInterval)
	}
	c.mu.Unlock()
}
