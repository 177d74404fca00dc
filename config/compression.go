package config

import "errors"

// permessage-deflate (RFC 7692) on a websocket transport, with
// Crossbar.io's settings. On by default: browsers offer it on every
// WebSocket. The defaults keep an idle session's memory where it was and
// let one compressed EVENT serve every subscriber of a publication; the
// transport package documents the trade-offs (transport.Compression).

// ErrCompression reports a bad compression setting.
var ErrCompression = errors.New("bad compression setting")

// Compression configures permessage-deflate on a websocket transport. Its
// zero value is compression on with the transport's defaults. A field
// left zero takes the transport's default (transport.Compression).
type Compression struct {
	// Disabled declines every client's offer (file: enabled: false).
	Disabled bool
	// Threshold is the size from which a message is compressed; smaller
	// ones go out as they are. Zero value: 256 bytes.
	Threshold int
	// ServerContextTakeover lets the router keep its compression context
	// between messages (file: server_no_context_takeover: false): better
	// ratio, but a compressor per connection and one compression per
	// subscriber. Zero value: each message compressed on its own.
	ServerContextTakeover bool
	// ClientContextTakeover lets clients keep theirs (file:
	// client_no_context_takeover: false); the router then keeps up to
	// 32 KiB per connection. Zero value: clients are asked not to.
	ClientContextTakeover bool
	// ServerMaxWindowBits bounds the router's window to 2^bits bytes,
	// 9 to 15. Zero value: 15.
	ServerMaxWindowBits int
	// ClientMaxWindowBits asks clients to bound theirs, 9 to 15. Zero
	// value: 15.
	ClientMaxWindowBits int
}

var compressionKeys = []string{"enabled", "threshold", "server_no_context_takeover", "client_no_context_takeover",
	"server_max_window_bits", "client_max_window_bits"}

func (d *decoder) compression(me entry) *Compression {
	z := &Compression{}
	es, ok := d.mapping(me.val, me.path)
	if !ok {
		return nil
	}
	for _, e := range es {
		switch e.name {
		case "enabled":
			z.Disabled = !d.boolean(e.val, e.path)
		case "threshold":
			z.Threshold = d.size(e.val, e.path)
		case "server_no_context_takeover":
			z.ServerContextTakeover = !d.boolean(e.val, e.path)
		case "client_no_context_takeover":
			z.ClientContextTakeover = !d.boolean(e.val, e.path)
		case "server_max_window_bits":
			z.ServerMaxWindowBits = d.integer(e.val, e.path)
		case "client_max_window_bits":
			z.ClientMaxWindowBits = d.integer(e.val, e.path)
		default:
			d.unknown(e, me.path, compressionKeys)
		}
	}
	return z
}

func (v *validator) compression(t *Transport, path string) {
	z := t.Compression
	if z == nil {
		return
	}
	path += ".compression"
	if t.Type != WebSocket {
		v.failf(path, ErrNotAllowed, "compression is for websocket transports only")
		return
	}
	v.size(path+".threshold", z.Threshold)
	for _, w := range []struct {
		key  string
		bits int
	}{{"server_max_window_bits", z.ServerMaxWindowBits}, {"client_max_window_bits", z.ClientMaxWindowBits}} {
		// 8 is valid in RFC 7692, but zlib (browsers, Node.js) cannot
		// compress with it; Crossbar.io takes 9 to 15 as well.
		if w.bits != 0 && (w.bits < 9 || w.bits > 15) {
			v.failf(path+"."+w.key, ErrCompression, "%s %d: want 9 to 15 (a window of 2^bits bytes)", w.key, w.bits)
		}
	}
}
