package bench

import (
	"encoding/binary"
	"math"
	"strconv"
	"time"

	"github.com/switchboard/switchboard/wamp"
)

// epoch anchors stamps: nanoseconds since epoch are read from the monotonic
// clock (time.Since uses it), and stay below 2^53 for 104 days, so a JSON
// router that turns integers into doubles still carries them exactly.
var epoch = time.Now()

// now returns the monotonic time in nanoseconds since epoch. Only this
// process compares stamps, so they need no wall clock.
func now() int64 { return int64(time.Since(epoch)) }

// appendArgs appends the encoded Args list [seq, stamp] of a publication or
// call, followed by a string of pad bytes when pad > 0, in serializer ser.
// Integers are written in their longest form so that every message of a run
// has the same size.
func appendArgs(dst []byte, ser wamp.Serialization, seq uint64, stamp int64, pad int) []byte {
	n := 2
	if pad > 0 {
		n = 3
	}
	switch ser {
	case wamp.MsgPack:
		dst = append(dst, 0x90|byte(n), 0xcf)
		dst = binary.BigEndian.AppendUint64(dst, seq)
		dst = append(dst, 0xcf)
		dst = binary.BigEndian.AppendUint64(dst, uint64(stamp))
		if pad > 0 {
			dst = append(dst, 0xdb)
			dst = binary.BigEndian.AppendUint32(dst, uint32(pad))
			dst = appendPad(dst, pad)
		}
	case wamp.CBOR:
		dst = append(dst, 0x80|byte(n), 0x1b)
		dst = binary.BigEndian.AppendUint64(dst, seq)
		dst = append(dst, 0x1b)
		dst = binary.BigEndian.AppendUint64(dst, uint64(stamp))
		if pad > 0 {
			dst = append(dst, 0x7a)
			dst = binary.BigEndian.AppendUint32(dst, uint32(pad))
			dst = appendPad(dst, pad)
		}
	default:
		dst = append(dst, '[')
		dst = strconv.AppendUint(dst, seq, 10)
		dst = append(dst, ',')
		dst = strconv.AppendInt(dst, stamp, 10)
		if pad > 0 {
			dst = append(dst, ',', '"')
			dst = appendPad(dst, pad)
			dst = append(dst, '"')
		}
		dst = append(dst, ']')
	}
	return dst
}

func appendPad(dst []byte, n int) []byte {
	for range n {
		dst = append(dst, 'x')
	}
	return dst
}

// parseArgs reads seq and stamp back from an Args list as appendArgs wrote
// it, or as a router re-encoded it: any integer width, or a double where a
// router decoded the numbers as floating point (nexus's JSON does).
func parseArgs(ser wamp.Serialization, b []byte) (seq uint64, stamp int64, ok bool) {
	var s, t uint64
	switch ser {
	case wamp.MsgPack:
		if len(b) == 0 || !(b[0]&0xf0 == 0x90 && b[0]&0x0f >= 2 || b[0] == 0xdc || b[0] == 0xdd) {
			return 0, 0, false
		}
		switch b[0] {
		case 0xdc:
			b = skip(b, 3)
		case 0xdd:
			b = skip(b, 5)
		default:
			b = b[1:]
		}
		if s, b, ok = msgpackUint(b); !ok {
			return 0, 0, false
		}
		if t, _, ok = msgpackUint(b); !ok {
			return 0, 0, false
		}
	case wamp.CBOR:
		if len(b) == 0 || b[0]>>5 != 4 {
			return 0, 0, false
		}
		if _, b, ok = cborHead(b); !ok {
			return 0, 0, false
		}
		if s, b, ok = cborUint(b); !ok {
			return 0, 0, false
		}
		if t, _, ok = cborUint(b); !ok {
			return 0, 0, false
		}
	default:
		if len(b) == 0 || b[0] != '[' {
			return 0, 0, false
		}
		if s, b, ok = jsonUint(b[1:]); !ok || len(b) == 0 || b[0] != ',' {
			return 0, 0, false
		}
		if t, _, ok = jsonUint(b[1:]); !ok {
			return 0, 0, false
		}
	}
	return s, int64(t), true
}

func skip(b []byte, n int) []byte {
	if len(b) < n {
		return nil
	}
	return b[n:]
}

func floatUint(f float64) (uint64, bool) {
	if f < 0 || f >= math.MaxUint64 || f != math.Trunc(f) {
		return 0, false
	}
	return uint64(f), true
}

func msgpackUint(b []byte) (uint64, []byte, bool) {
	if len(b) == 0 {
		return 0, nil, false
	}
	c := b[0]
	switch {
	case c < 0x80:
		return uint64(c), b[1:], true
	case c == 0xcc && len(b) >= 2:
		return uint64(b[1]), b[2:], true
	case c == 0xcd && len(b) >= 3:
		return uint64(binary.BigEndian.Uint16(b[1:])), b[3:], true
	case (c == 0xce || c == 0xd2) && len(b) >= 5:
		return uint64(binary.BigEndian.Uint32(b[1:])), b[5:], c == 0xce || b[1] < 0x80
	case (c == 0xcf || c == 0xd3) && len(b) >= 9:
		return binary.BigEndian.Uint64(b[1:]), b[9:], c == 0xcf || b[1] < 0x80
	case c == 0xcb && len(b) >= 9:
		v, ok := floatUint(math.Float64frombits(binary.BigEndian.Uint64(b[1:])))
		return v, b[9:], ok
	case (c == 0xd0 || c == 0xd1) && len(b) >= 3:
		// Signed encodings of small non-negative numbers.
		if c == 0xd0 {
			return uint64(b[1]), b[2:], b[1] < 0x80
		}
		return uint64(binary.BigEndian.Uint16(b[1:])), b[3:], b[1] < 0x80
	}
	return 0, nil, false
}

// cborHead decodes an item's head: its argument and the rest.
func cborHead(b []byte) (uint64, []byte, bool) {
	if len(b) == 0 {
		return 0, nil, false
	}
	info := b[0] & 0x1f
	switch {
	case info < 24:
		return uint64(info), b[1:], true
	case info == 24 && len(b) >= 2:
		return uint64(b[1]), b[2:], true
	case info == 25 && len(b) >= 3:
		return uint64(binary.BigEndian.Uint16(b[1:])), b[3:], true
	case info == 26 && len(b) >= 5:
		return uint64(binary.BigEndian.Uint32(b[1:])), b[5:], true
	case info == 27 && len(b) >= 9:
		return binary.BigEndian.Uint64(b[1:]), b[9:], true
	}
	return 0, nil, false
}

func cborUint(b []byte) (uint64, []byte, bool) {
	if len(b) == 0 {
		return 0, nil, false
	}
	switch {
	case b[0]>>5 == 0:
		return cborHead(b)
	case b[0] == 0xfb && len(b) >= 9:
		v, ok := floatUint(math.Float64frombits(binary.BigEndian.Uint64(b[1:])))
		return v, b[9:], ok
	}
	return 0, nil, false
}

// jsonUint reads a non-negative JSON number that holds an integer, in
// integer or floating-point notation ("12", "12.0", "1.2e1").
func jsonUint(b []byte) (uint64, []byte, bool) {
	i := 0
	for i < len(b) && b[i] == ' ' {
		i++
	}
	b = b[i:]
	var v uint64
	n := 0
	for n < len(b) && b[n] >= '0' && b[n] <= '9' {
		v = v*10 + uint64(b[n]-'0')
		n++
	}
	if n == 0 || n > 19 {
		return 0, nil, false
	}
	if n < len(b) && (b[n] == '.' || b[n] == 'e' || b[n] == 'E') {
		end := n
		for end < len(b) && (b[end] >= '0' && b[end] <= '9' || b[end] == '.' || b[end] == 'e' || b[end] == 'E' || b[end] == '+' || b[end] == '-') {
			end++
		}
		f, err := strconv.ParseFloat(string(b[:end]), 64)
		if err != nil {
			return 0, nil, false
		}
		u, ok := floatUint(f)
		return u, b[end:], ok
	}
	return v, b[n:], true
}
