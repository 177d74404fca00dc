package codec

import (
	"errors"
	"math"
	"unicode/utf8"

	"github.com/tinylib/msgp/msgp"

	"github.com/switchboard/switchboard/wamp"
)

// msgpackCodec is the wamp.2.msgpack serializer. str is a string, bin is
// binary; extension types (timestamps included) have no place in the value
// model and are rejected when a value must be decoded, except JavaScript's
// undefined (msgpackUndefined), which decodes as nil.
type msgpackCodec struct{}

// msgpackUndefined is JavaScript's undefined as msgpackr and notepack encode
// it: fixext 1 of extension type 0, data byte 0. wampy sends it for the
// options its caller left out; like nil, it makes a Details member or a
// payload absent (wamp.Dict) and is nil inside a value.
const msgpackUndefined = "\xd4\x00\x00"

// msgpackNil reports whether b starts with nil or undefined, and how many
// bytes that takes.
func msgpackNil(b []byte) (int, bool) {
	switch {
	case len(b) > 0 && b[0] == 0xc0:
		return 1, true
	case len(b) >= 3 && string(b[:3]) == msgpackUndefined:
		return 3, true
	}
	return 0, false
}

func (msgpackCodec) Serialization() wamp.Serialization { return wamp.MsgPack }

func (msgpackCodec) Decode(frame []byte, m *wamp.Message) error {
	m.Reset()
	n, b, err := msgp.ReadArrayHeaderBytes(frame)
	if err != nil {
		return errMalformed("frame is not a MsgPack array: %v", err)
	}
	if n == 0 {
		return errMalformed("empty array")
	}
	var code uint64
	var neg bool
	switch msgp.NextType(b) {
	case msgp.UintType:
		code, b, err = msgp.ReadUint64Bytes(b)
	case msgp.IntType:
		var i int64
		i, b, err = msgp.ReadInt64Bytes(b)
		if i < 0 {
			code, neg = uint64(-(i+1))+1, true
		} else {
			code = uint64(i)
		}
	default:
		return errMalformed("message type must be an integer")
	}
	if err != nil {
		return errMalformed("message type: %v", err)
	}
	t, err := checkType(code, neg)
	if err != nil {
		// Only an otherwise intact array has an unknown type.
		for i := uint32(1); i < n; i++ {
			var serr error
			if b, serr = msgp.Skip(b); serr != nil {
				return errMalformed("element %d: %v", i, serr)
			}
		}
		if len(b) > 0 {
			return errMalformed("%d bytes of trailing data after the message", len(b))
		}
		return err
	}
	m.Type = t
	left := n - 1

	lay := &wamp.Layouts[t]
	pos := 1
	var port portable
	for i, f := range lay.Fields {
		if left == 0 {
			if lay.OptDetails && i == len(lay.Fields)-1 {
				break
			}
			return errTooFew(t, pos)
		}
		left--
		switch f {
		case wamp.FRequest, wamp.FID, wamp.FPublication:
			var u uint64
			if u, b, err = msgp.ReadUint64Bytes(b); err != nil {
				return errField(t, pos, f, "must be an integer in [0, 2^53]", err)
			}
			id, err := checkID(t, pos, f, u)
			if err != nil {
				return err
			}
			switch f {
			case wamp.FRequest:
				m.Request = id
			case wamp.FID:
				m.ID = id
			default:
				m.Publication = id
			}
		case wamp.FErrType:
			var u uint64
			if u, b, err = msgp.ReadUint64Bytes(b); err != nil {
				return errField(t, pos, f, "must be a known message type", err)
			}
			if m.ErrType, err = checkErrType(t, pos, f, u); err != nil {
				return err
			}
		case wamp.FDetails:
			if len(b) > 0 && b[0] == 0x80 { // fixmap of size 0
				b = b[1:]
				break
			}
			if msgp.NextType(b) != msgp.MapType {
				return errField(t, pos, f, "must be a dict", nil)
			}
			var d map[string]any
			start := b
			if d, b, err = msgpackMap(b, 0, true); err != nil {
				return errField(t, pos, f, "is invalid", err)
			}
			port.msgpackDetails(start[:len(start)-len(b)])
			if len(d) > 0 {
				m.Details = d
			}
		case wamp.FURI, wamp.FText:
			var s []byte
			if s, b, err = msgp.ReadStringZC(b); err != nil {
				return errField(t, pos, f, "must be a string", err)
			}
			if err := checkText(t, pos, f, s); err != nil {
				return err
			}
			if f == wamp.FURI {
				m.URI = wamp.URI(intern(s))
			} else {
				m.Text = intern(s)
			}
		}
		pos++
	}

	if lay.Payload && left > 0 {
		left--
		// nil (or undefined) stands for an absent payload, as null does in
		// JSON.
		switch msgp.NextType(b) {
		case msgp.ArrayType, msgp.BinType:
			// A binary in place of the list is a transparent payload
			// (wamp.Passthru, Autobahn's enc_algo).
			raw, rest, err := msgpackPayload(b, &port)
			if err != nil {
				return errElem(t, pos, argsName, "is invalid", err)
			}
			m.Args, b = wamp.Payload{Raw: raw, Ser: wamp.MsgPack}, rest
		default:
			n, ok := msgpackNil(b)
			if !ok {
				return errElem(t, pos, argsName, "must be a list", nil)
			}
			b = b[n:]
		}
		pos++
		if left > 0 {
			left--
			switch msgp.NextType(b) {
			case msgp.MapType:
				raw, rest, err := msgpackPayload(b, &port)
				if err != nil {
					return errElem(t, pos, kwargsName, "is invalid", err)
				}
				m.Kwargs, b = wamp.Payload{Raw: raw, Ser: wamp.MsgPack}, rest
			default:
				n, ok := msgpackNil(b)
				if !ok {
					return errElem(t, pos, kwargsName, "must be a dict", nil)
				}
				b = b[n:]
			}
		}
	}
	if left > 0 {
		return errTooMany(t)
	}
	if len(b) > 0 {
		return errMalformed("%v: %d bytes of trailing data after the message", t, len(b))
	}
	return port.result(t, m)
}

// msgpackValue decodes one value of the wamp.Dict model off b. depth counts
// the lists and dicts that enclose it.
func msgpackValue(b []byte, depth int) (v any, rest []byte, err error) {
	switch msgp.NextType(b) {
	case msgp.NilType:
		rest, err = msgp.ReadNilBytes(b)
		return nil, rest, err
	case msgp.ExtensionType:
		if n, ok := msgpackNil(b); ok {
			return nil, b[n:], nil
		}
		return nil, nil, errors.New("unsupported MsgPack extension (only undefined, d4 00 00, is accepted)")
	case msgp.BoolType:
		return msgp.ReadBoolBytes(b)
	case msgp.IntType:
		return msgp.ReadInt64Bytes(b)
	case msgp.UintType:
		var u uint64
		if u, rest, err = msgp.ReadUint64Bytes(b); err != nil {
			return nil, nil, err
		}
		if u <= math.MaxInt64 {
			return int64(u), rest, nil
		}
		return u, rest, nil
	case msgp.Float64Type:
		return msgp.ReadFloat64Bytes(b)
	case msgp.Float32Type:
		var f float32
		f, rest, err = msgp.ReadFloat32Bytes(b)
		return float64(f), rest, err
	case msgp.StrType:
		var s []byte
		if s, rest, err = msgp.ReadStringZC(b); err != nil {
			return nil, nil, err
		}
		if !utf8.Valid(s) {
			return nil, nil, errors.New("string is not valid UTF-8")
		}
		return string(s), rest, nil
	case msgp.BinType:
		return msgp.ReadBytesBytes(b, nil)
	case msgp.ArrayType:
		if depth >= maxDepth {
			return nil, nil, errTooDeep()
		}
		var n uint32
		if n, rest, err = msgp.ReadArrayHeaderBytes(b); err != nil {
			return nil, nil, err
		}
		if int64(n) > int64(len(rest)) { // every element takes a byte
			return nil, nil, msgp.ErrShortBytes
		}
		list := make([]any, n)
		for i := range list {
			if list[i], rest, err = msgpackValue(rest, depth+1); err != nil {
				return nil, nil, err
			}
		}
		return list, rest, nil
	case msgp.MapType:
		if depth >= maxDepth {
			return nil, nil, errTooDeep()
		}
		return msgpackMap(b, depth+1, false)
	case msgp.InvalidType:
		if len(b) == 0 {
			return nil, nil, msgp.ErrShortBytes
		}
		return nil, nil, msgp.InvalidPrefixError(b[0])
	}
	return nil, nil, errors.New("unsupported MsgPack type " + msgp.NextType(b).String())
}

// msgpackMap decodes a map with string keys; depth is that of its values.
// With dropNil, members whose value is nil or undefined are left out.
func msgpackMap(b []byte, depth int, dropNil bool) (map[string]any, []byte, error) {
	n, rest, err := msgp.ReadMapHeaderBytes(b)
	if err != nil {
		return nil, nil, err
	}
	if int64(n)*2 > int64(len(rest)) { // every key and value takes a byte
		return nil, nil, msgp.ErrShortBytes
	}
	obj := make(map[string]any, n)
	for range n {
		if msgp.NextType(rest) != msgp.StrType {
			return nil, nil, errors.New("dict keys must be strings")
		}
		var k []byte
		if k, rest, err = msgp.ReadStringZC(rest); err != nil {
			return nil, nil, err
		}
		if !utf8.Valid(k) {
			return nil, nil, errors.New("dict key is not valid UTF-8")
		}
		var v any
		if v, rest, err = msgpackValue(rest, depth); err != nil {
			return nil, nil, err
		}
		if v == nil && dropNil {
			continue
		}
		obj[intern(k)] = v
	}
	return obj, rest, nil
}

func (msgpackCodec) DecodeValue(raw []byte) (any, error) {
	v, rest, err := msgpackValue(raw, 0)
	if err != nil {
		return nil, errMalformed("msgpack: %v", err)
	}
	if len(rest) > 0 {
		return nil, errMalformed("msgpack: trailing data after the value")
	}
	return v, nil
}

func (c msgpackCodec) Encode(dst []byte, m *wamp.Message) ([]byte, error) {
	lay, err := layoutOf(m)
	if err != nil {
		return dst, err
	}
	start := len(dst)
	dst = msgp.AppendArrayHeader(dst, uint32(elemCount(m, lay)))
	dst = msgp.AppendUint64(dst, uint64(m.Type))
	for i, f := range lay.Fields {
		if f == wamp.FDetails && lay.OptDetails && i == len(lay.Fields)-1 && m.Details == nil {
			break
		}
		switch f {
		case wamp.FRequest:
			dst = msgp.AppendUint64(dst, uint64(m.Request))
		case wamp.FID:
			dst = msgp.AppendUint64(dst, uint64(m.ID))
		case wamp.FPublication:
			dst = msgp.AppendUint64(dst, uint64(m.Publication))
		case wamp.FErrType:
			dst = msgp.AppendUint64(dst, uint64(m.ErrType))
		case wamp.FDetails:
			if len(m.Details) == 0 {
				dst = msgp.AppendMapHeader(dst, 0)
			} else if dst, err = msgpackAppendValue(dst, m.Details, 0); err != nil {
				return dst[:start], err
			}
		case wamp.FURI:
			dst = msgp.AppendString(dst, string(m.URI))
		case wamp.FText:
			dst = msgp.AppendString(dst, m.Text)
		}
	}
	if lay.Payload && (!m.Args.IsZero() || !m.Kwargs.IsZero()) {
		if m.Args.IsZero() {
			dst = msgp.AppendArrayHeader(dst, 0)
		} else if dst, err = c.appendPayload(dst, &m.Args, checkArgs); err != nil {
			return dst[:start], err
		}
		if !m.Kwargs.IsZero() {
			if dst, err = c.appendPayload(dst, &m.Kwargs, checkKwargs); err != nil {
				return dst[:start], err
			}
		}
	}
	return dst, nil
}

func (msgpackCodec) appendPayload(dst []byte, p *wamp.Payload, check func(any) error) ([]byte, error) {
	return appendPayload(dst, p, wamp.MsgPack, check, msgpackAppendValue)
}

func (msgpackCodec) AppendValue(dst []byte, v any) ([]byte, error) {
	return appendWhole(dst, v, msgpackAppendValue)
}

// msgpackLen checks that a length fits the 32-bit sizes of MsgPack.
func msgpackLen(n int) (uint32, error) {
	if uint64(n) > math.MaxUint32 {
		return 0, errors.New("msgpack: value longer than 2^32-1")
	}
	return uint32(n), nil
}

func msgpackAppendValue(dst []byte, v any, depth int) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return msgp.AppendNil(dst), nil
	case bool:
		return msgp.AppendBool(dst, x), nil
	case string:
		return msgp.AppendString(dst, x), nil
	case wamp.URI:
		return msgp.AppendString(dst, string(x)), nil
	case int64:
		return msgp.AppendInt64(dst, x), nil
	case int:
		return msgp.AppendInt64(dst, int64(x)), nil
	case int32:
		return msgp.AppendInt64(dst, int64(x)), nil
	case uint64:
		return msgp.AppendUint64(dst, x), nil
	case uint:
		return msgp.AppendUint64(dst, uint64(x)), nil
	case uint32:
		return msgp.AppendUint64(dst, uint64(x)), nil
	case wamp.ID:
		return msgp.AppendUint64(dst, uint64(x)), nil
	case float64:
		return msgp.AppendFloat64(dst, x), nil
	case float32:
		return msgp.AppendFloat32(dst, x), nil
	case []byte:
		if _, err := msgpackLen(len(x)); err != nil {
			return dst, err
		}
		return msgp.AppendBytes(dst, x), nil
	case []any:
		if depth >= maxDepth {
			return dst, errTooDeep()
		}
		n, err := msgpackLen(len(x))
		if err != nil {
			return dst, err
		}
		dst = msgp.AppendArrayHeader(dst, n)
		for _, e := range x {
			if dst, err = msgpackAppendValue(dst, e, depth+1); err != nil {
				return dst, err
			}
		}
		return dst, nil
	case []string:
		n, err := msgpackLen(len(x))
		if err != nil {
			return dst, err
		}
		dst = msgp.AppendArrayHeader(dst, n)
		for _, e := range x {
			dst = msgp.AppendString(dst, e)
		}
		return dst, nil
	case []wamp.ID:
		n, err := msgpackLen(len(x))
		if err != nil {
			return dst, err
		}
		dst = msgp.AppendArrayHeader(dst, n)
		for _, e := range x {
			dst = msgp.AppendUint64(dst, uint64(e))
		}
		return dst, nil
	case map[string]any:
		if depth >= maxDepth {
			return dst, errTooDeep()
		}
		n, err := msgpackLen(len(x))
		if err != nil {
			return dst, err
		}
		dst = msgp.AppendMapHeader(dst, n)
		for k, e := range x {
			dst = msgp.AppendString(dst, k)
			if dst, err = msgpackAppendValue(dst, e, depth+1); err != nil {
				return dst, err
			}
		}
		return dst, nil
	}
	return dst, errUnsupported(v)
}
