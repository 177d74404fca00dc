package codec

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"unicode/utf8"

	"github.com/tinylib/msgp/msgp"

	"github.com/switchboard/switchboard/wamp"
)

// Payloads pass through the router encoded, so a payload that only its own
// serializer can carry would reach the sender's kind of peers and fail to
// convert for the others: half delivered. The MsgPack and CBOR decoders
// therefore check, while they find where Arguments and ArgumentsKw end,
// that the value model (and so every serializer) has room for what they
// hold, and check the Details they decode likewise, since parts of those
// are forwarded too (an ERROR's details, ppt_* attributes). JSON needs no
// such walk: the transport and the JSON reader already refuse text that is
// not UTF-8, and JSON has no NaN. The checks look only at heads, text
// strings and floats, and allocate nothing unless the message is refused.

// portable records the first reason a payload cannot be converted. The
// walk goes on after it, so that a frame that is also malformed further on
// is reported as malformed.
type portable struct {
	bad error
	// key is set while the walk is on a dict key, which JSON keeps a
	// string even with a leading NUL.
	key bool
}

// result is what Decode returns once the rest of the message is known to
// be well formed: nil, or ErrNotPortable with the payload taken out of
// m so that nothing forwards it by mistake.
func (p *portable) result(t wamp.Type, m *wamp.Message) error {
	if p.bad == nil {
		return nil
	}
	m.Args, m.Kwargs = wamp.Payload{}, wamp.Payload{}
	return fmt.Errorf("%w: %v: %v", ErrNotPortable, t, p.bad)
}

func (p *portable) refuse(what string) {
	if p.bad == nil {
		p.bad = errors.New(what)
	}
}

// text checks the bytes of a string value: UTF-8, as JSON requires, and no
// leading NUL, which JSON peers would read as the marker of a binary.
func (p *portable) text(s []byte) {
	if p.bad == nil {
		p.textOK(utf8.Valid(s), !p.key && len(s) > 0 && s[0] == 0)
	}
}

func (p *portable) textString(s string) {
	if p.bad == nil {
		p.textOK(utf8.ValidString(s), len(s) > 0 && s[0] == 0)
	}
}

func (p *portable) textOK(valid, nul bool) {
	switch {
	case !valid:
		p.refuse("string is not valid UTF-8")
	case nul:
		p.refuse("string starts with NUL, which JSON peers read as binary")
	}
}

func (p *portable) float(f float64) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		p.refuse("NaN or infinity, which JSON cannot carry")
	}
}

// msgpackPayload splits the first value off b without decoding it, and
// checks it on the way.
func msgpackPayload(b []byte, p *portable) (raw, rest []byte, err error) {
	if rest, err = p.msgpackSkip(b, 0); err != nil {
		return nil, nil, err
	}
	n := len(b) - len(rest)
	return b[:n:n], rest, nil
}

// msgpackSkip returns what follows the value at b, which sits inside depth
// lists and dicts.
func (p *portable) msgpackSkip(b []byte, depth int) ([]byte, error) {
	if len(b) == 0 {
		return nil, msgp.ErrShortBytes
	}
	c := b[0]
	switch {
	case c <= 0x7f, c >= 0xe0, c == 0xc0, c == 0xc2, c == 0xc3: // fixint, nil, bool
		return b[1:], nil
	case c <= 0x8f:
		return p.msgpackMap(b, b[1:], uint64(c&0x0f), depth)
	case c <= 0x9f:
		return p.msgpackArray(b, b[1:], uint64(c&0x0f), depth)
	case c <= 0xbf:
		return p.msgpackStr(b[1:], uint64(c&0x1f))
	}
	switch c {
	case 0xc4, 0xc5, 0xc6: // bin 8, 16, 32
		l, rest, err := msgpackLength(b, 1<<(c-0xc4))
		if err != nil {
			return nil, err
		}
		return msgpackBytes(rest, l)
	case 0xc7, 0xc8, 0xc9: // ext 8, 16, 32: length, type, data
		l, rest, err := msgpackLength(b, 1<<(c-0xc7))
		if err != nil {
			return nil, err
		}
		p.refuse("MsgPack extension (only undefined, d4 00 00, is accepted)")
		return msgpackBytes(rest, l+1)
	case 0xca:
		if len(b) < 5 {
			return nil, msgp.ErrShortBytes
		}
		p.float(float64(math.Float32frombits(binary.BigEndian.Uint32(b[1:]))))
		return b[5:], nil
	case 0xcb:
		if len(b) < 9 {
			return nil, msgp.ErrShortBytes
		}
		p.float(math.Float64frombits(binary.BigEndian.Uint64(b[1:])))
		return b[9:], nil
	case 0xcc, 0xd0:
		return msgpackBytes(b[1:], 1)
	case 0xcd, 0xd1:
		return msgpackBytes(b[1:], 2)
	case 0xce, 0xd2:
		return msgpackBytes(b[1:], 4)
	case 0xcf, 0xd3:
		return msgpackBytes(b[1:], 8)
	case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8: // fixext 1, 2, 4, 8, 16: type, data
		if c == 0xd4 && len(b) >= 3 && string(b[:3]) == msgpackUndefined {
			return b[3:], nil
		}
		p.refuse("MsgPack extension (only undefined, d4 00 00, is accepted)")
		return msgpackBytes(b[1:], 1+1<<(c-0xd4))
	case 0xd9, 0xda, 0xdb: // str 8, 16, 32
		l, rest, err := msgpackLength(b, 1<<(c-0xd9))
		if err != nil {
			return nil, err
		}
		return p.msgpackStr(rest, l)
	case 0xdc, 0xdd: // array 16, 32
		l, rest, err := msgpackLength(b, 2<<(c-0xdc))
		if err != nil {
			return nil, err
		}
		return p.msgpackArray(b, rest, l, depth)
	case 0xde, 0xdf: // map 16, 32
		l, rest, err := msgpackLength(b, 2<<(c-0xde))
		if err != nil {
			return nil, err
		}
		return p.msgpackMap(b, rest, l, depth)
	}
	return nil, msgp.InvalidPrefixError(c) // 0xc1
}

// msgpackLength reads the big-endian length of size bytes after the type
// byte at b.
func msgpackLength(b []byte, size int) (uint64, []byte, error) {
	if len(b) < 1+size {
		return 0, nil, msgp.ErrShortBytes
	}
	var l uint64
	for _, x := range b[1 : 1+size] {
		l = l<<8 | uint64(x)
	}
	return l, b[1+size:], nil
}

func msgpackBytes(b []byte, n uint64) ([]byte, error) {
	if n > uint64(len(b)) {
		return nil, msgp.ErrShortBytes
	}
	return b[n:], nil
}

func (p *portable) msgpackStr(b []byte, n uint64) ([]byte, error) {
	if n > uint64(len(b)) {
		return nil, msgp.ErrShortBytes
	}
	p.text(b[:n])
	return b[n:], nil
}

// msgpackTooDeep refuses a list or dict at head that the value decoders
// would not descend into, and skips it with the library, which bounds its
// own recursion.
func (p *portable) msgpackTooDeep(head []byte) ([]byte, error) {
	p.refuse("nested deeper than the value model allows")
	return msgp.Skip(head)
}

func (p *portable) msgpackArray(head, b []byte, n uint64, depth int) ([]byte, error) {
	if depth >= maxDepth {
		return p.msgpackTooDeep(head)
	}
	var err error
	for ; n > 0; n-- {
		if b, err = p.msgpackSkip(b, depth+1); err != nil {
			return nil, err
		}
	}
	return b, nil
}

func (p *portable) msgpackMap(head, b []byte, n uint64, depth int) ([]byte, error) {
	if depth >= maxDepth {
		return p.msgpackTooDeep(head)
	}
	var err error
	for ; n > 0; n-- {
		if len(b) > 0 && !msgpackIsStr(b[0]) {
			p.refuse("dict key is not a string")
		}
		p.key = true
		b, err = p.msgpackSkip(b, depth+1)
		p.key = false
		if err != nil {
			return nil, err
		}
		if b, err = p.msgpackSkip(b, depth+1); err != nil {
			return nil, err
		}
	}
	return b, nil
}

func msgpackIsStr(c byte) bool {
	return c >= 0xa0 && c <= 0xbf || c >= 0xd9 && c <= 0xdb
}

// msgpackDetails checks the encoding of a Details dict that msgpackMap
// decoded without error, which leaves NUL-led text and floats to look at.
// Walking the bytes costs less than walking the map.
func (p *portable) msgpackDetails(raw []byte) {
	_, _ = p.msgpackSkip(raw, 0)
}

// cborDetails checks the encoding of a Details dict decoded into d, and d
// itself if it holds tags.
func (p *portable) cborDetails(raw []byte, d map[string]any) {
	if _, needValue := p.cborSkip(raw); needValue && p.bad == nil {
		p.value(d)
	}
}

// cborPayload splits the first item off b, like cborItem, and checks it.
func cborPayload(b []byte, p *portable) (item, rest []byte, err error) {
	if item, rest, err = cborItem(b); err != nil {
		return nil, nil, err
	}
	if after, needValue := p.cborSkip(item); len(after) != 0 && p.bad == nil {
		p.refuse("cbor: item does not end where expected")
	} else if needValue && p.bad == nil {
		p.cborValue(item)
	}
	return item, rest, nil
}

// cborSkip walks the well-formed item at b (cborItem checked it) and
// returns what follows it. needValue reports a tag: what the value decoder
// makes of one (bignums, times) is left to it, in cborValue.
func (p *portable) cborSkip(b []byte) (rest []byte, needValue bool) {
	major, arg, indef, n := cborHead(b)
	if n == 0 {
		p.refuse("cbor: bad item head")
		return nil, false
	}
	b = b[n:]
	switch major {
	case cborUint, cborNeg:
		return b, false
	case cborBytes, cborText:
		if !indef {
			if arg > uint64(len(b)) {
				p.refuse("cbor: truncated string")
				return nil, false
			}
			if major == cborText {
				p.text(b[:arg])
			}
			return b[arg:], false
		}
		// Definite chunks of the same major type, then break. Each chunk
		// of a text is UTF-8 by itself (RFC 8949 section 3.2.3); only the
		// first bytes of the whole string may not be NUL.
		start := true
		for len(b) > 0 && b[0] != cborBreak {
			_, l, _, n := cborHead(b)
			if n == 0 || l > uint64(len(b)-n) {
				p.refuse("cbor: bad string chunk")
				return nil, false
			}
			chunk := b[n : n+int(l)]
			if major == cborText {
				switch {
				case !utf8.Valid(chunk):
					p.text(chunk)
				case start && len(chunk) > 0:
					p.text(chunk)
					start = false
				}
			}
			b = b[n+int(l):]
		}
		return cborAfterBreak(b, p), false
	case cborArray, cborMap:
		// cborItem bounds nesting (cborLimits.MaxNestedLevels) at
		// maxDepth, so the recursion here is bounded too.
		per := 1
		if major == cborMap {
			per = 2
		}
		for i := uint64(0); indef && len(b) > 0 && b[0] != cborBreak || !indef && i < arg*uint64(per); i++ {
			p.key = per == 2 && i%2 == 0
			if p.key && (len(b) == 0 || b[0]>>5 != cborText) {
				p.refuse("dict key is not a string")
			}
			var tagged bool
			b, tagged = p.cborSkip(b)
			p.key = false
			needValue = needValue || tagged
			if p.bad != nil {
				return nil, false
			}
		}
		if indef {
			return cborAfterBreak(b, p), needValue
		}
		return b, needValue
	case cborTag:
		b, _ = p.cborSkip(b)
		return b, true
	}
	// Major type 7: false, true, null, undefined and floats have a place in
	// the value model; other simple values do not.
	switch {
	case n == 1 && arg >= 20 && arg <= 23:
	case n == 3:
		if h := uint16(arg); h&0x7c00 == 0x7c00 { // exponent all ones
			p.refuse("NaN or infinity, which JSON cannot carry")
		}
	case n == 5:
		p.float(float64(math.Float32frombits(uint32(arg))))
	case n == 9:
		p.float(math.Float64frombits(arg))
	default:
		p.refuse("cbor: unsupported simple value")
	}
	return b, false
}

func cborAfterBreak(b []byte, p *portable) []byte {
	if len(b) == 0 {
		p.refuse("cbor: missing break")
		return nil
	}
	return b[1:]
}

// cborValue decodes an item that holds tags, the rare case, and checks what
// the value decoder makes of it.
func (p *portable) cborValue(item []byte) {
	v, err := cborCodec{}.DecodeValue(item)
	if err != nil {
		p.refuse(err.Error())
		return
	}
	p.value(v)
}

// value checks a decoded value of the model for what JSON cannot carry.
func (p *portable) value(v any) {
	switch x := v.(type) {
	case string:
		p.textString(x)
	case float64:
		p.float(x)
	case []any:
		for _, e := range x {
			p.value(e)
		}
	case map[string]any:
		for k, e := range x {
			if !utf8.ValidString(k) {
				p.refuse("dict key is not valid UTF-8")
			}
			p.value(e)
		}
	}
}
