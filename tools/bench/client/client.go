package client

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"

	"github.com/switchboard/switchboard/wamp"
	"github.com/switchboard/switchboard/wamp/codec"
)

// Options configure Dial. The zero value is ready to use.
type Options struct {
	// Serialization to speak. Zero value means wamp.JSON.
	Serialization wamp.Serialization
	// ReadBufferSize is the size of the read buffer; frames that fit are
	// decoded in place. Zero value means 32 KiB. Idle connections by the
	// thousand want it small.
	ReadBufferSize int
	// Timeout bounds the connect and the transport handshake. Zero value
	// means 10 seconds.
	Timeout time.Duration
	// Clock, when set, is read after every read from the network; LastRead
	// returns the value. Every message of one read arrived together, so a
	// benchmark takes their arrival time once per read rather than once per
	// message: reading the clock costs as much as decoding a message.
	Clock func() int64
}

// Errors of the protocol as this client sees it.
var (
	// ErrProtocol: the router sent something this client cannot read.
	ErrProtocol = errors.New("client: protocol error")
	// ErrAborted: the router answered with ABORT or ERROR.
	ErrAborted = errors.New("client: aborted by router")
)

// Conn is one WAMP connection.
type Conn struct {
	nc     net.Conn
	br     *bufio.Reader
	ws     bool
	ser    wamp.Serialization
	cod    codec.Codec
	dataOp ws.OpCode

	// Reader state, owned by the one reading goroutine.
	clock *clockReader // nil without Options.Clock
	hdr   [ws.MaxHeaderSize]byte
	skip  int    // bytes of the frame returned last, still in br
	big   []byte // frames that do not fit br, and fragmented ones

	wmu  sync.Mutex // guards the fields below
	wbuf []byte
	werr error
	mask uint64 // xorshift state for WebSocket masking keys

	reqID atomic.Uint64

	// ID is the session id from WELCOME.
	ID wamp.ID
}

// Dial connects to a router: ws://host:port/path, tcp://host:port or
// unix:///path (RawSocket), and completes the transport handshake.
func Dial(rawURL string, opts Options) (*Conn, error) {
	if opts.Serialization == 0 {
		opts.Serialization = wamp.JSON
	}
	if opts.ReadBufferSize <= 0 {
		opts.ReadBufferSize = 32 << 10
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	cod := codec.For(opts.Serialization)
	if cod == nil {
		return nil, fmt.Errorf("client: unknown serialization %v", opts.Serialization)
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	c := &Conn{ser: opts.Serialization, cod: cod, mask: rand.Uint64() | 1}
	switch u.Scheme {
	case "ws":
		if err := c.dialWebSocket(rawURL, opts); err != nil {
			return nil, err
		}
	case "tcp", "unix":
		network, addr := "tcp", u.Host
		if u.Scheme == "unix" {
			network, addr = "unix", u.Path
		}
		nc, err := net.DialTimeout(network, addr, opts.Timeout)
		if err != nil {
			return nil, err
		}
		if err := rawHandshake(nc, opts.Serialization, opts.Timeout); err != nil {
			_ = nc.Close()
			return nil, err
		}
		c.nc = nc
		c.br = bufio.NewReaderSize(c.stamped(nc, opts), opts.ReadBufferSize)
	default:
		return nil, fmt.Errorf("client: unsupported URL scheme %q (ws, tcp, unix)", u.Scheme)
	}
	return c, nil
}

func (c *Conn) dialWebSocket(rawURL string, opts Options) error {
	sub := opts.Serialization.Subprotocol()
	d := ws.Dialer{Protocols: []string{sub}, Timeout: opts.Timeout}
	// A context that is never done lets the dialer bound the handshake
	// with a deadline instead of a goroutine per dial.
	nc, br, hs, err := d.Dial(context.Background(), rawURL)
	if err != nil {
		return err
	}
	if hs.Protocol != sub {
		_ = nc.Close()
		return fmt.Errorf("%w: router chose subprotocol %q, want %q", ErrProtocol, hs.Protocol, sub)
	}
	var r io.Reader = nc
	if br != nil {
		// Frames the router sent right behind its handshake answer.
		pending := make([]byte, br.Buffered())
		_, _ = io.ReadFull(br, pending)
		ws.PutReader(br)
		r = io.MultiReader(bytes.NewReader(pending), nc)
	}
	c.nc, c.ws = nc, true
	c.br = bufio.NewReaderSize(c.stamped(r, opts), opts.ReadBufferSize)
	c.dataOp = ws.OpText
	if opts.Serialization != wamp.JSON {
		c.dataOp = ws.OpBinary
	}
	return nil
}

// clockReader reads the clock after every read from the network.
type clockReader struct {
	r     io.Reader
	clock func() int64
	last  int64
}

func (cr *clockReader) Read(p []byte) (int, error) {
	n, err := cr.r.Read(p)
	cr.last = cr.clock()
	return n, err
}

// stamped wraps r in a clockReader when opts asks for one.
func (c *Conn) stamped(r io.Reader, opts Options) io.Reader {
	if opts.Clock == nil {
		return r
	}
	c.clock = &clockReader{r: r, clock: opts.Clock}
	return c.clock
}

// LastRead returns Options.Clock as read after the last read from the
// network, or 0 without a Clock. It belongs to the reading goroutine.
func (c *Conn) LastRead() int64 {
	if c.clock == nil {
		return 0
	}
	return c.clock.last
}

// rawHandshake asks for ser with the largest frames RawSocket allows.
func rawHandshake(nc net.Conn, ser wamp.Serialization, timeout time.Duration) error {
	_ = nc.SetDeadline(time.Now().Add(timeout))
	defer func() { _ = nc.SetDeadline(time.Time{}) }()
	if _, err := nc.Write([]byte{0x7f, 0xf0 | byte(ser), 0, 0}); err != nil {
		return err
	}
	var rep [4]byte
	if _, err := io.ReadFull(nc, rep[:]); err != nil {
		return fmt.Errorf("%w: rawsocket handshake: %w", ErrProtocol, err)
	}
	if rep[0] != 0x7f {
		return fmt.Errorf("%w: rawsocket handshake: bad magic %#02x", ErrProtocol, rep[0])
	}
	if rep[1]&0x0f != byte(ser) {
		return fmt.Errorf("%w: rawsocket handshake: router refused with error %d", ErrProtocol, rep[1]>>4)
	}
	return nil
}

// Serialization returns the serializer spoken.
func (c *Conn) Serialization() wamp.Serialization { return c.ser }

// NextID returns a fresh request id of this session's scope.
func (c *Conn) NextID() wamp.ID { return wamp.ID(c.reqID.Add(1)) }

// Frame headers are written in front of the payload after encoding; this
// much room is reserved, enough for any payload under 126 bytes (2 octets
// of header and 4 of mask) and for every RawSocket frame.
const reserve = 6

// Append encodes m and frames it into the write buffer; Flush sends it.
func (c *Conn) Append(m *wamp.Message) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.appendLocked(m)
}

// appendLocked is Append; c.wmu must be held.
func (c *Conn) appendLocked(m *wamp.Message) error {
	if c.werr != nil {
		return c.werr
	}
	start := len(c.wbuf)
	hs := reserve
	if !c.ws {
		hs = 4
	}
	b := append(c.wbuf, 0, 0, 0, 0, 0, 0)[:start+hs]
	b, err := c.cod.Encode(b, m)
	if err != nil {
		c.wbuf = b[:start]
		return err
	}
	n := len(b) - start - hs
	if !c.ws {
		if n > 1<<24 {
			c.wbuf = b[:start]
			return fmt.Errorf("client: %v of %d bytes exceeds RawSocket's 16 MiB", m.Type, n)
		}
		b[start], b[start+1], b[start+2], b[start+3] = 0, byte(n>>16), byte(n>>8), byte(n)
		c.wbuf = b
		return nil
	}
	c.wbuf = c.frameWS(b, start, n, c.dataOp)
	return nil
}

// frameWS writes a masked WebSocket header in front of the n payload bytes
// that follow the reserved room at b[start:], moving the payload when the
// header needs more room, and masks the payload in place.
func (c *Conn) frameWS(b []byte, start, n int, op ws.OpCode) []byte {
	need := 6
	switch {
	case n > 0xffff:
		need = 14
	case n >= 126:
		need = 8
	}
	if need > reserve {
		b = append(b, make([]byte, need-reserve)...)
		copy(b[start+need:], b[start+reserve:start+reserve+n])
	}
	h := b[start : start+need]
	h[0] = 0x80 | byte(op) // FIN: the client never fragments
	switch need {
	case 6:
		h[1] = 0x80 | byte(n)
	case 8:
		h[1] = 0x80 | 126
		binary.BigEndian.PutUint16(h[2:], uint16(n))
	default:
		h[1] = 0x80 | 127
		binary.BigEndian.PutUint64(h[2:], uint64(n))
	}
	// Masking keys from xorshift64: RFC 6455 wants them unpredictable to
	// third parties on the path, which no benchmark has.
	c.mask ^= c.mask << 13
	c.mask ^= c.mask >> 7
	c.mask ^= c.mask << 17
	var key [4]byte
	binary.LittleEndian.PutUint32(key[:], uint32(c.mask))
	copy(h[need-4:], key[:])
	ws.Cipher(b[start+need:start+need+n], key, 0)
	return b
}

// appendControl frames a WebSocket control frame (ping answer, close) or a
// RawSocket pong; c.wmu must be held.
func (c *Conn) appendControl(op ws.OpCode, rawKind byte, p []byte) {
	start := len(c.wbuf)
	if !c.ws {
		n := len(p)
		c.wbuf = append(c.wbuf, rawKind, byte(n>>16), byte(n>>8), byte(n))
		c.wbuf = append(c.wbuf, p...)
		return
	}
	b := append(c.wbuf, 0, 0, 0, 0, 0, 0)
	b = append(b, p...)
	c.wbuf = c.frameWS(b, start, len(p), op)
}

// maxKeep is the largest write buffer kept between flushes.
const maxKeep = 1 << 20

// Flush writes everything appended, with one write system call.
func (c *Conn) Flush() error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.flushLocked()
}

func (c *Conn) flushLocked() error {
	if c.werr != nil || len(c.wbuf) == 0 {
		return c.werr
	}
	_, err := c.nc.Write(c.wbuf)
	if cap(c.wbuf) > maxKeep {
		c.wbuf = nil
	} else {
		c.wbuf = c.wbuf[:0]
	}
	if err != nil {
		c.werr = err
	}
	return err
}

// Send appends m and flushes.
func (c *Conn) Send(m *wamp.Message) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.appendLocked(m); err != nil {
		return err
	}
	return c.flushLocked()
}

// Buffered returns how many bytes of input are read but not yet returned:
// zero means the next Recv will block on the network.
func (c *Conn) Buffered() int { return c.br.Buffered() - c.skip }

// Recv reads the next WAMP message into m, answering pings on the way. m's
// payloads borrow from the read buffer until the next Recv. It returns
// io.EOF when the router closes the connection.
func (c *Conn) Recv(m *wamp.Message) error {
	frame, err := c.readFrame()
	if err != nil {
		return err
	}
	if c.ser == wamp.JSON && decodeJSONFast(frame, m) {
		return nil
	}
	if err := c.cod.Decode(frame, m); err != nil {
		return fmt.Errorf("%w: %w", ErrProtocol, err)
	}
	return nil
}

// readFrame returns the payload of the next data frame.
func (c *Conn) readFrame() ([]byte, error) {
	if !c.ws {
		return c.readRaw()
	}
	var frag []byte // fragments of a message so far; nil when none
	for {
		c.discard()
		h, err := ws.ReadHeaderBuffer(c.br, c.hdr[:])
		if err != nil {
			return nil, eof(err)
		}
		p, err := c.payload(int(h.Length), frag != nil || !h.Fin)
		if err != nil {
			return nil, err
		}
		if h.Masked {
			ws.Cipher(p, h.Mask, 0)
		}
		switch h.OpCode {
		case ws.OpText, ws.OpBinary, ws.OpContinuation:
			if h.Fin && frag == nil {
				return p, nil
			}
			frag = append(frag[:len(frag):len(frag)], p...)
			if h.Fin {
				c.big = frag
				return frag, nil
			}
		case ws.OpPing:
			c.wmu.Lock()
			c.appendControl(ws.OpPong, 0, p)
			_ = c.flushLocked()
			c.wmu.Unlock()
		case ws.OpClose:
			return nil, io.EOF
		}
	}
}

// payload returns the next n bytes of input: in place in the read buffer
// when they fit and copy is false (they stay valid until the next Recv),
// else in c.big.
func (c *Conn) payload(n int, copyOut bool) ([]byte, error) {
	if n <= c.br.Size() && !copyOut {
		p, err := c.br.Peek(n)
		if err != nil {
			return nil, eof(err)
		}
		c.skip = n
		return p, nil
	}
	if cap(c.big) < n {
		c.big = make([]byte, n)
	}
	p := c.big[:n]
	if _, err := io.ReadFull(c.br, p); err != nil {
		return nil, eof(err)
	}
	return p, nil
}

// discard drops the frame returned last from the read buffer.
func (c *Conn) discard() {
	if c.skip > 0 {
		_, _ = c.br.Discard(c.skip)
		c.skip = 0
	}
}

func (c *Conn) readRaw() ([]byte, error) {
	for {
		c.discard()
		if _, err := io.ReadFull(c.br, c.hdr[:4]); err != nil {
			return nil, eof(err)
		}
		kind := c.hdr[0] & 0x07
		n := int(c.hdr[1])<<16 | int(c.hdr[2])<<8 | int(c.hdr[3])
		if c.hdr[0]&0x08 != 0 {
			n = 1 << 24 // the length octets cannot say 2^24
		}
		p, err := c.payload(n, false)
		if err != nil {
			return nil, err
		}
		switch kind {
		case 0:
			return p, nil
		case 1:
			c.wmu.Lock()
			c.appendControl(0, 2, p)
			_ = c.flushLocked()
			c.wmu.Unlock()
		}
	}
}

func eof(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return io.EOF
	}
	return err
}

// Serve reads messages and calls h for each, on the calling goroutine,
// until the connection fails or is closed; it returns the reason (io.EOF
// or net.ErrClosed after Close). Messages h appends are flushed as soon as
// no more input is buffered. h must not keep m.
func (c *Conn) Serve(h func(m *wamp.Message)) error {
	var m wamp.Message
	for {
		if c.Buffered() == 0 {
			if err := c.Flush(); err != nil {
				return err
			}
		}
		if err := c.Recv(&m); err != nil {
			return err
		}
		h(&m)
	}
}

// roles is what HELLO announces: every client role, no features.
var roles = wamp.Dict{"roles": map[string]any{
	"publisher": map[string]any{}, "subscriber": map[string]any{},
	"caller": map[string]any{}, "callee": map[string]any{},
}}

// Join sends HELLO for realm and waits for WELCOME.
func (c *Conn) Join(realm string) error {
	if err := c.Send(&wamp.Message{Type: wamp.HELLO, URI: wamp.URI(realm), Details: roles}); err != nil {
		return err
	}
	var m wamp.Message
	if err := c.Recv(&m); err != nil {
		return err
	}
	switch m.Type {
	case wamp.WELCOME:
		c.ID = m.ID
		return nil
	case wamp.ABORT:
		return fmt.Errorf("%w: %s", ErrAborted, m.URI)
	}
	return fmt.Errorf("%w: %v in answer to HELLO", ErrProtocol, m.Type)
}

// request sends m with a fresh request id and waits for the reply of type
// want to it, returning the reply's ID field.
func (c *Conn) request(m *wamp.Message, want wamp.Type) (wamp.ID, error) {
	m.Request = c.NextID()
	if err := c.Send(m); err != nil {
		return 0, err
	}
	var r wamp.Message
	for {
		if err := c.Recv(&r); err != nil {
			return 0, err
		}
		switch {
		case r.Type == want && r.Request == m.Request:
			return r.ID, nil
		case r.Type == wamp.ERROR && r.Request == m.Request:
			return 0, fmt.Errorf("%w: %v: %s", ErrAborted, m.Type, r.URI)
		case r.Type == wamp.GOODBYE, r.Type == wamp.ABORT:
			return 0, fmt.Errorf("%w: %v: %s", ErrAborted, r.Type, r.URI)
		}
	}
}

// Subscribe subscribes to topic and returns the subscription id.
func (c *Conn) Subscribe(topic string) (wamp.ID, error) {
	return c.request(&wamp.Message{Type: wamp.SUBSCRIBE, URI: wamp.URI(topic)}, wamp.SUBSCRIBED)
}

// Register registers procedure with options (nil for none) and returns
// the registration id.
func (c *Conn) Register(procedure string, options wamp.Dict) (wamp.ID, error) {
	return c.request(&wamp.Message{Type: wamp.REGISTER, URI: wamp.URI(procedure), Details: options}, wamp.REGISTERED)
}

// PublishAcked publishes args on topic with acknowledgement and waits for
// the router's PUBLISHED.
func (c *Conn) PublishAcked(topic string, args wamp.Payload) error {
	_, err := c.request(&wamp.Message{Type: wamp.PUBLISH, URI: wamp.URI(topic),
		Details: wamp.Dict{"acknowledge": true}, Args: args}, wamp.PUBLISHED)
	return err
}

// Unregister ends the registration id.
func (c *Conn) Unregister(id wamp.ID) error {
	_, err := c.request(&wamp.Message{Type: wamp.UNREGISTER, ID: id}, wamp.UNREGISTERED)
	return err
}

// Leave says GOODBYE, waits for the router's GOODBYE (or the end of the
// connection) and closes.
func (c *Conn) Leave() error {
	err := c.Send(&wamp.Message{Type: wamp.GOODBYE, URI: wamp.ErrCloseRealm})
	var m wamp.Message
	for err == nil {
		if err = c.Recv(&m); err == nil && m.Type == wamp.GOODBYE {
			break
		}
	}
	if errors.Is(err, io.EOF) {
		err = nil
	}
	return errors.Join(err, c.Close())
}

// closeWait bounds the close frame's write, so that Close never hangs on a
// router that stopped reading.
const closeWait = 100 * time.Millisecond

// Close sends a WebSocket close frame when it can do so at once, then
// closes the connection; a running Serve returns.
// A writer blocked on a router that stopped reading holds the write lock;
// then no close frame is sent, and closing the socket releases the writer.
func (c *Conn) Close() error {
	if c.wmu.TryLock() {
		if c.ws && c.werr == nil {
			c.wbuf = c.wbuf[:0]
			c.appendControl(ws.OpClose, 0, []byte{0x03, 0xe8}) // 1000, normal
			_ = c.nc.SetWriteDeadline(time.Now().Add(closeWait))
			_ = c.flushLocked()
		}
		c.werr = net.ErrClosed
		c.wmu.Unlock()
	}
	return c.nc.Close()
}
