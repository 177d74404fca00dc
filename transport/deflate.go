package transport

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/gobwas/httphead"
	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsflate"
	"github.com/klauspost/compress/flate"
)

// permessage-deflate (RFC 7692). A router sends the same EVENT to many
// subscribers, so the design is set by fan-out and by idle memory:
//
//   - By default the router declares server_no_context_takeover: each
//     message it sends is deflated on its own. Then one compressed EVENT
//     frame is valid on every connection (of the same window size), and
//     the shared-frame cache (frameCache) compresses it once for all its
//     subscribers instead of once per subscriber.
//   - By default it also asks for client_no_context_takeover, so that it
//     need not keep the client's 32 KiB window between messages.
//   - Compressors and decompressors are pooled and held only while a
//     message is compressed or inflated: an idle connection keeps none.
//     With the defaults a connection's whole deflate state is one small
//     struct (deflateState).
//
// An operator who turns context takeover on trades that for ratio: the
// connection then keeps its own compressor (server side, about 800 KiB,
// and no shared frames) or the client's last window (client side, up to
// 32 KiB) for its life.

// Defaults of Compression.
const (
	// DefaultCompressionThreshold is the smallest message compressed.
	// Compressing a message costs about 4.5 µs whatever its size up to
	// 512 bytes (level 1), as much as routing it, and JSON of 64 bytes
	// grows, of 128 bytes shrinks by a fifth, of 256 bytes by half.
	DefaultCompressionThreshold = 256
	// DefaultWindowBits is the LZ77 window, 32 KiB, the most deflate has.
	DefaultWindowBits = 15
	// MinWindowBits is the smallest window the router takes in its
	// settings. RFC 7692 allows 8, which zlib (browsers, Node.js) cannot
	// produce; Crossbar.io takes 9 to 15 too. A client offer of
	// server_max_window_bits=8 is still honoured.
	MinWindowBits = 9
)

// compressLevel is the deflate level of the router's compressor.
// klauspost/compress level 1 on a 1 KiB JSON EVENT: 5.5 µs, 24% of the
// size; levels 2-6 gain at most a point of ratio for 6-80% more CPU
// (64 KiB: 103 µs and 15% at level 1, 176 µs and 13% at level 6).
const compressLevel = flate.BestSpeed

// Compression configures permessage-deflate on a WebSocket endpoint. The
// zero value is compression on, each message compressed on its own, the
// client asked to do the same, 32 KiB windows, messages from
// DefaultCompressionThreshold bytes.
type Compression struct {
	// Disabled declines every permessage-deflate offer: no connection of
	// the endpoint is compressed.
	Disabled bool

	// Threshold is the size in bytes from which a message is compressed;
	// smaller ones go out as they are (RSV1 clear). A message that does
	// not shrink goes out as it is too. Zero value:
	// DefaultCompressionThreshold.
	Threshold int

	// ServerContextTakeover lets the router keep its compression context
	// between the messages of a connection (it then does not declare
	// server_no_context_takeover, unless the client asks for it). Better
	// ratio on a stream of similar messages, but each such connection
	// keeps a compressor of its own, and an EVENT is compressed once per
	// subscriber instead of once for all. Zero value: off.
	ServerContextTakeover bool

	// ClientContextTakeover lets the client keep its compression context
	// between the messages it sends (the router then does not ask for
	// client_no_context_takeover); the router keeps the client's window,
	// up to 32 KiB, for the connection's life. Zero value: off.
	ClientContextTakeover bool

	// ServerMaxWindowBits bounds the router's LZ77 window to 2^bits bytes
	// (MinWindowBits to 15); a client may ask for less. Zero value: 15.
	ServerMaxWindowBits int

	// ClientMaxWindowBits asks the client to bound its window to 2^bits
	// bytes, when the client's offer allows it to be asked (MinWindowBits
	// to 15). Zero value: 15, nothing asked.
	ClientMaxWindowBits int
}

func (z Compression) withDefaults() Compression {
	if z.Threshold <= 0 {
		z.Threshold = DefaultCompressionThreshold
	}
	z.ServerMaxWindowBits = windowBits(z.ServerMaxWindowBits)
	z.ClientMaxWindowBits = windowBits(z.ClientMaxWindowBits)
	return z
}

// windowBits maps a configured window to MinWindowBits..15, zero (and
// anything out of range) to 15.
func windowBits(b int) int {
	if b < MinWindowBits || b > DefaultWindowBits {
		return DefaultWindowBits
	}
	return b
}

// deflateParams is what a handshake negotiated: the parameters of the
// response, in the form the connection uses them.
type deflateParams struct {
	on bool
	// serverNoContext and clientNoContext are declared in the response.
	serverNoContext, clientNoContext bool
	// serverBits is the router's window; respServerBits and
	// respClientBits are the window parameters the response carries (0:
	// none).
	serverBits     uint8
	respServerBits uint8
	respClientBits uint8
	// clientBits is the client's window: what the response asked for,
	// or the client's own offer, or 15.
	clientBits uint8
}

// negotiateDeflate picks the first permessage-deflate offer in the
// Sec-WebSocket-Extensions header lines that the router accepts (RFC 7692
// section 5: offers are in the client's order of preference) and returns
// the parameters of the response. An offer with an unknown, repeated or
// malformed parameter is declined, not failed (section 5). Both upgrade
// paths call it, so that they negotiate the same way.
func negotiateDeflate(z *Compression, lines [][]byte) deflateParams {
	if z.Disabled {
		return deflateParams{}
	}
	for _, line := range lines {
		var p deflateParams
		index := -1
		var cur httphead.Option
		done := false
		consider := func() {
			if done || cur.Name == nil || !bytes.Equal(cur.Name, wsflate.ExtensionNameBytes) {
				return
			}
			var offer wsflate.Parameters
			if offer.Parse(cur) != nil {
				return
			}
			p, done = acceptDeflate(z, offer), true
		}
		ok := httphead.ScanOptions(line, func(i int, name, attr, val []byte) httphead.Control {
			if i != index {
				consider()
				if done {
					return httphead.ControlBreak
				}
				index = i
				cur = httphead.Option{Name: name}
			}
			if attr != nil {
				cur.Parameters.Set(attr, val)
			}
			return httphead.ControlContinue
		})
		if done {
			return p
		}
		if !ok {
			// A malformed header: decline what it may have offered.
			continue
		}
		if consider(); done {
			return p
		}
	}
	return deflateParams{}
}

// acceptDeflate answers one well-formed offer. Every such offer is
// acceptable: the router can compress with any window the client asks
// for and inflate any window.
func acceptDeflate(z *Compression, offer wsflate.Parameters) deflateParams {
	p := deflateParams{
		on:              true,
		serverNoContext: offer.ServerNoContextTakeover || !z.ServerContextTakeover,
		clientNoContext: offer.ClientNoContextTakeover || !z.ClientContextTakeover,
		serverBits:      uint8(z.ServerMaxWindowBits),
		clientBits:      DefaultWindowBits,
	}
	// RFC 7692 7.1.2.1: an offered server_max_window_bits must be
	// answered with the same or a smaller value; without an offer the
	// router may still declare a smaller window of its own.
	if o := uint8(offer.ServerMaxWindowBits); o != 0 {
		p.serverBits = min(p.serverBits, o)
		p.respServerBits = p.serverBits
	} else if p.serverBits < DefaultWindowBits {
		p.respServerBits = p.serverBits
	}
	// 7.1.2.2: client_max_window_bits may be answered only when offered
	// (Parse reads a bare one as 1), with at most the offered value.
	if o := uint8(offer.ClientMaxWindowBits); o != 0 {
		limit := uint8(DefaultWindowBits)
		if o > 1 {
			limit = o
		}
		p.clientBits = min(limit, uint8(z.ClientMaxWindowBits))
		if p.clientBits < DefaultWindowBits {
			p.respClientBits = p.clientBits
		}
	}
	return p
}

// response returns the Sec-WebSocket-Extensions value that accepts p.
func (p deflateParams) response() string {
	b := []byte(wsflate.ExtensionName)
	if p.serverNoContext {
		b = append(b, "; server_no_context_takeover"...)
	}
	if p.clientNoContext {
		b = append(b, "; client_no_context_takeover"...)
	}
	if p.respServerBits != 0 {
		b = strconv.AppendInt(append(b, "; server_max_window_bits="...), int64(p.respServerBits), 10)
	}
	if p.respClientBits != 0 {
		b = strconv.AppendInt(append(b, "; client_max_window_bits="...), int64(p.respClientBits), 10)
	}
	return string(b)
}

// deflateResponses holds, for each distinct answer, the upgrader callback
// that writes it, built on first use, so that a fast-path handshake
// allocates nothing for it. The window parameters take 9 values each (none,
// 8-15): 2*2*9*9 answers at most.
type deflateResponses [2 * 2 * 9 * 9]atomic.Pointer[func() (ws.HandshakeHeader, error)]

func (r *deflateResponses) get(p deflateParams) func() (ws.HandshakeHeader, error) {
	bits := func(b uint8) int {
		if b == 0 {
			return 0
		}
		return int(b) - 7
	}
	i := bits(p.respServerBits)*9 + bits(p.respClientBits)
	if p.serverNoContext {
		i += 2 * 81
	}
	if p.clientNoContext {
		i += 81
	}
	if f := r[i].Load(); f != nil {
		return *f
	}
	h := ws.HandshakeHeaderString("Sec-WebSocket-Extensions: " + p.response() + "\r\n")
	f := func() (ws.HandshakeHeader, error) { return h, nil }
	r[i].CompareAndSwap(nil, &f)
	return *r[i].Load()
}

// deflateState is the permessage-deflate state of one connection, nil on
// connections that did not negotiate it. With the default parameters it
// is these few words for the connection's life.
type deflateState struct {
	threshold  int
	serverBits uint8
	// takeover: the router compresses with a context it keeps (server
	// context takeover), in own.
	takeover bool
	// cache shares compressed EVENT frames between the endpoint's
	// connections; nil under server context takeover, where each
	// connection's compressed stream is its own.
	cache *frameCache

	// own is the connection's compressor under server context takeover,
	// whose window is the context; made on first use, then kept.
	own *compressor
	// window is the client's window under client context takeover: the
	// last 2^clientBits bytes it sent, from which its next message may
	// copy. nil without client context takeover.
	window    []byte
	windowMax int
}

func newDeflateState(p deflateParams, z *Compression, cache *frameCache) *deflateState {
	d := &deflateState{threshold: z.Threshold, serverBits: p.serverBits, takeover: !p.serverNoContext}
	if !d.takeover {
		d.cache = cache
	}
	if !p.clientNoContext {
		d.windowMax = 1 << p.clientBits
	}
	return d
}

// compressor is a deflate writer with the output it writes into.
type compressor struct {
	fw  *flate.Writer
	out boundedWriter
}

// boundedWriter appends to b, but never beyond max bytes: the router
// sends a message compressed only if that makes it shorter, so output
// past that size is abandoned as soon as it is written.
type boundedWriter struct {
	b   []byte
	max int
}

var errNoGain = errors.New("transport: compressed message is not shorter")

func (w *boundedWriter) Write(p []byte) (int, error) {
	if len(w.b)+len(p) > w.max {
		return 0, errNoGain
	}
	w.b = append(w.b, p...)
	return len(p), nil
}

// compressors pools compressors by window size, index bits-8. Each holds
// its hash table, history and token buffers, about 800 KiB at level 1 (1
// MiB with a smaller window); only a message being compressed holds one,
// so the pool holds about as many as writers compress at once.
var compressors [8]sync.Pool

func newCompressor(bits uint8) *compressor {
	z := &compressor{}
	var err error
	if bits >= DefaultWindowBits {
		z.fw, err = flate.NewWriter(&z.out, compressLevel)
	} else {
		z.fw, err = flate.NewWriterWindow(&z.out, 1<<bits)
	}
	if err != nil {
		panic("transport: deflate writer: " + err.Error()) // constant arguments
	}
	return z
}

func getCompressor(bits uint8) *compressor {
	if z, ok := compressors[bits-8].Get().(*compressor); ok {
		return z
	}
	return newCompressor(bits)
}

// deflateTail is what a compressed message loses at its end (RFC 7692
// 7.2.1): the empty stored block of a flush, whose LEN and NLEN are these.
var deflateTail = []byte{0, 0, 0xff, 0xff}

// deflate appends p's permessage-deflate payload to dst, never beyond
// cap(dst). ok is false, and dst's length unchanged, when the payload
// would not be shorter than p. With reset the compressor starts without
// context (no context takeover); without, it continues its stream, and a
// failure resets it, since the client never sees what it consumed.
func (z *compressor) deflate(dst, p []byte, reset bool) (out []byte, ok bool) {
	// The payload plus the 4 bytes stripped must stay under len(p)+4.
	z.out.b, z.out.max = dst, min(cap(dst), len(dst)+len(p)+len(deflateTail)-1)
	if reset {
		z.fw.Reset(&z.out)
	}
	_, err := z.fw.Write(p)
	if err == nil {
		err = z.fw.Flush()
	}
	out, z.out.b = z.out.b, nil
	if err != nil || !bytes.HasSuffix(out, deflateTail) {
		if !reset {
			z.fw.Reset(&z.out)
		}
		return dst, false
	}
	return out[:len(out)-len(deflateTail)], true
}

// compress appends p's compressed payload to dst as deflate does, with
// the connection's context or a pooled compressor.
func (d *deflateState) compress(dst, p []byte) ([]byte, bool) {
	if d.takeover {
		if d.own == nil {
			d.own = newCompressor(d.serverBits)
		}
		return d.own.deflate(dst, p, false)
	}
	z := getCompressor(d.serverBits)
	out, ok := z.deflate(dst, p, true)
	compressors[d.serverBits-8].Put(z)
	return out, ok
}

// inflater is a pooled decompressor with the reader of its input.
type inflater struct {
	fr  io.ReadCloser // a flate.Resetter
	src bytes.Reader
}

// inflaters pools decompressors (a 32 KiB window and Huffman tables each),
// held only while a message is inflated.
var inflaters sync.Pool

func getInflater() *inflater {
	if f, ok := inflaters.Get().(*inflater); ok {
		return f
	}
	f := &inflater{}
	// bytes.Reader is an io.ByteReader, so flate reads it without a
	// bufio.Reader of its own.
	f.fr = flate.NewReader(&f.src)
	return f
}

func putInflater(f *inflater) {
	f.src.Reset(nil)
	inflaters.Put(f)
}

// inflateEnd ends a message for the decompressor: the 4 bytes the sender
// stripped, then an empty final block, so that the reader stops with
// io.EOF at the message's end rather than ask for more input.
var inflateEnd = []byte{0, 0, 0xff, 0xff, 1, 0, 0, 0xff, 0xff}

// compressedMax bounds the compressed payload of a message whose inflated
// size may be up to max: deflate's worst case, stored blocks, adds 5 bytes
// per 64 KiB, and a peer is allowed a little slack over that. Inflated
// size is checked as it is produced (inflate).
func compressedMax(max int) int { return max + max>>10 + 64 }

// inflate replaces the compressed message in rbuf by its inflated form,
// failing the connection (close 1009) as soon as that passes maxRead, so
// that a small message that inflates to gigabytes costs at most maxRead of
// memory. rmu must be held.
func (c *conn) inflate() error {
	d := c.deflate
	if len(c.rbuf) == 0 {
		// RFC 7692 7.2.3.6 compresses an empty message to one byte; none
		// at all can only mean empty too (and would not inflate).
		return nil
	}
	in, src := c.rb, c.rbuf
	c.rb, c.rbuf = nil, nil
	if cap(src)-len(src) < len(inflateEnd) {
		nb := getBuffer(len(src) + len(inflateEnd))
		nb.b = append(nb.b, src...)
		if in != nil {
			putBuffer(in)
		}
		in, src = nb, nb.b
	}
	src = append(src, inflateEnd...)
	f := getInflater()
	defer func() {
		putInflater(f)
		putBuffer(in)
	}()
	f.src.Reset(src)
	if err := f.fr.(flate.Resetter).Reset(&f.src, d.window); err != nil {
		return c.violation(fmt.Errorf("inflate: %w", err))
	}
	// A first guess at the ratio; the buffer doubles from there.
	size := min(c.maxRead+1, max(readKeep, 4*len(src)))
	for {
		if len(c.rbuf) == cap(c.rbuf) {
			nb := getBuffer(min(c.maxRead+1, max(size, 2*cap(c.rbuf))))
			nb.b = append(nb.b, c.rbuf...)
			c.releaseReadBuffer()
			c.rb, c.rbuf = nb, nb.b
		}
		room := c.rbuf[len(c.rbuf):cap(c.rbuf)]
		if limit := c.maxRead + 1 - len(c.rbuf); len(room) > limit {
			room = room[:limit]
		}
		n, err := f.fr.Read(room)
		c.rbuf = c.rbuf[:len(c.rbuf)+n]
		if len(c.rbuf) > c.maxRead {
			return c.tooBig(int64(len(c.rbuf)))
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return c.violation(fmt.Errorf("bad compressed message: %w", err))
		}
	}
	if d.windowMax > 0 {
		d.window = slideWindow(d.window, c.rbuf, d.windowMax)
	}
	return nil
}

// slideWindow appends p to the window w, keeping its last max bytes.
func slideWindow(w, p []byte, max int) []byte {
	if w == nil {
		w = make([]byte, 0, max)
	}
	if len(p) >= max {
		return append(w[:0], p[len(p)-max:]...)
	}
	if keep := max - len(p); len(w) > keep {
		w = w[:copy(w, w[len(w)-keep:])]
	}
	return append(w, p...)
}
