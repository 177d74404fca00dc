package codec

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"sync"

	"github.com/fxamacker/cbor/v2"

	"github.com/switchboard/switchboard/wamp"
)

// cborCodec is the wamp.2.cbor serializer. Byte strings are binary, text
// strings are strings; dicts must have text keys. Tags are dropped when a
// value is decoded (their content stays), except that bignums become
// integers (or floats beyond 64 bits) and times become RFC 3339 strings.
// undefined decodes as nil, like null.
//
// The library validates items and finds their extent; the header fields,
// which are plain integers and text strings, are read by hand because going
// through the library's reflection for each of them would cost more than the
// rest of the decode. The library has no append-style encoder, so encoding
// writes CBOR heads directly (RFC 8949 section 3).
type cborCodec struct{}

func (cborCodec) Serialization() wamp.Serialization { return wamp.CBOR }

// cborLimits raise the library's defaults (32 levels, 131072 elements) to
// what a WAMP payload may need; nesting stays bounded by maxDepth.
var cborLimits = cbor.DecOptions{
	MaxNestedLevels:  maxDepth,
	MaxArrayElements: math.MaxInt32,
	MaxMapPairs:      math.MaxInt32,
}

// cborSpanMode only checks well-formedness and finds where an item ends:
// payloads pass through with whatever tags the peer put in them.
var cborSpanMode = func() cbor.DecMode {
	dm, err := cborLimits.DecMode()
	if err != nil {
		panic(err)
	}
	return dm
}()

// cborValueMode decodes into the wamp.Dict model (after cborNormalize).
var cborValueMode = func() cbor.DecMode {
	opts := cborLimits
	opts.DefaultMapType = reflect.TypeFor[map[string]any]()
	opts.BigIntDec = cbor.BigIntDecodePointer
	opts.UnrecognizedTagToAny = cbor.UnrecognizedTagContentToAny
	opts.TimeTagToAny = cbor.TimeTagToRFC3339Nano
	dm, err := opts.DecMode()
	if err != nil {
		panic(err)
	}
	return dm
}()

// cborSpan receives the undecoded bytes of an item. The library hands an
// Unmarshaler a slice of its input, so the span borrows from the frame.
type cborSpan []byte

func (s *cborSpan) UnmarshalCBOR(b []byte) error {
	*s = b
	return nil
}

// cborSpans are pooled because the library takes its target as an any and
// would otherwise move it to the heap for every payload.
var cborSpans = sync.Pool{New: func() any { return new(cborSpan) }}

// cborItem splits the first well-formed item off b without decoding it.
func cborItem(b []byte) (item, rest []byte, err error) {
	s := cborSpans.Get().(*cborSpan)
	rest, err = cborSpanMode.UnmarshalFirst(b, s)
	item = *s
	*s = nil
	cborSpans.Put(s)
	if err != nil {
		return nil, nil, err
	}
	return item[:len(item):len(item)], rest, nil
}

// CBOR major types.
const (
	cborUint   = 0
	cborNeg    = 1
	cborBytes  = 2
	cborText   = 3
	cborArray  = 4
	cborMap    = 5
	cborTag    = 6
	cborSimple = 7

	cborBreak     = 0xff
	cborNull      = 0xf6 // simple value 22
	cborUndefined = 0xf7 // simple value 23, JavaScript's undefined to cbor-x
)

var (
	errCBORTruncated = errors.New("cbor: unexpected end of data")
	errCBORHead      = errors.New("cbor: truncated or reserved item head")
	errCBORNotText   = errors.New("cbor: not a text string")
)

// cborHead reads the head of the item at b: its major type, its argument,
// whether it starts an indefinite-length item, and the head's size. n is 0
// for a truncated or reserved head.
func cborHead(b []byte) (major byte, arg uint64, indef bool, n int) {
	if len(b) == 0 {
		return 0, 0, false, 0
	}
	major, ai := b[0]>>5, b[0]&0x1f
	switch {
	case ai < 24:
		return major, uint64(ai), false, 1
	case ai == 24 && len(b) >= 2:
		return major, uint64(b[1]), false, 2
	case ai == 25 && len(b) >= 3:
		return major, uint64(binary.BigEndian.Uint16(b[1:])), false, 3
	case ai == 26 && len(b) >= 5:
		return major, uint64(binary.BigEndian.Uint32(b[1:])), false, 5
	case ai == 27 && len(b) >= 9:
		return major, binary.BigEndian.Uint64(b[1:]), false, 9
	case ai == 31 && major >= cborBytes && major <= cborMap:
		return major, 0, true, 1
	}
	return major, 0, false, 0
}

// cborArrayIter walks the elements of the outer message array, which may be
// of definite or indefinite length.
type cborArrayIter struct {
	b     []byte
	left  uint64
	indef bool
	n     int // elements seen
}

func (a *cborArrayIter) more() bool {
	if a.indef {
		return len(a.b) > 0 && a.b[0] != cborBreak
	}
	return a.left > 0 && len(a.b) > 0
}

func (a *cborArrayIter) advance(rest []byte) {
	a.b = rest
	a.n++
	if !a.indef {
		a.left--
	}
}

// cborSelfDescribe is tag 55799, which RFC 8949 section 3.4.6 lets a
// sender put in front of any item to mark it as CBOR.
const cborSelfDescribe = "\xd9\xd9\xf7"

func (cborCodec) Decode(frame []byte, m *wamp.Message) error {
	m.Reset()
	if len(frame) > 3 && string(frame[:3]) == cborSelfDescribe {
		frame = frame[3:]
	}
	major, count, indef, n := cborHead(frame)
	if n == 0 || major != cborArray {
		return errMalformed("frame is not a CBOR array")
	}
	a := cborArrayIter{b: frame[n:], left: count, indef: indef}
	if !a.more() {
		if a.indef && len(a.b) == 0 || !a.indef && a.left > 0 {
			return errMalformed("%v", errCBORTruncated)
		}
		return errMalformed("empty array")
	}

	major, code, _, n := cborHead(a.b)
	if n == 0 {
		return errMalformed("message type: %v", errCBORHead)
	}
	var t wamp.Type
	var err error
	switch major {
	case cborUint:
		t, err = checkType(code, false)
	case cborNeg:
		t, err = checkType(code, true)
	default:
		return errMalformed("message type must be an integer")
	}
	a.advance(a.b[n:])
	if err != nil {
		// Only an otherwise intact array has an unknown type.
		for a.more() {
			_, rest, err := cborItem(a.b)
			if err != nil {
				return errMalformed("element %d: %v", a.n, err)
			}
			a.advance(rest)
		}
		if err := a.finish(); err != nil {
			return err
		}
		return err
	}
	m.Type = t

	lay := &wamp.Layouts[t]
	var port portable
	for i, f := range lay.Fields {
		pos := a.n
		if !a.more() {
			if lay.OptDetails && i == len(lay.Fields)-1 && a.ended() {
				break
			}
			if !a.ended() {
				return errMalformed("%v: %v", t, errCBORTruncated)
			}
			return errTooFew(t, pos)
		}
		switch f {
		case wamp.FRequest, wamp.FID, wamp.FPublication, wamp.FErrType:
			major, u, _, n := cborHead(a.b)
			if n == 0 {
				return errField(t, pos, f, "is invalid", errCBORHead)
			}
			if major != cborUint {
				if f == wamp.FErrType {
					return errField(t, pos, f, "must be a known message type", nil)
				}
				return errField(t, pos, f, "must be an integer in [0, 2^53]", nil)
			}
			a.advance(a.b[n:])
			if f == wamp.FErrType {
				if m.ErrType, err = checkErrType(t, pos, f, u); err != nil {
					return err
				}
				break
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
		case wamp.FDetails:
			if a.b[0] == cborMap<<5 { // empty map
				a.advance(a.b[1:])
				break
			}
			if a.b[0]>>5 != cborMap {
				return errField(t, pos, f, "must be a dict", nil)
			}
			// The library decodes null and undefined alike, to nil.
			var d map[string]any
			rest, err := cborValueMode.UnmarshalFirst(a.b, &d)
			if err == nil {
				err = cborNormalizeMap(d, true)
			}
			if err != nil {
				return errField(t, pos, f, "is invalid", err)
			}
			port.cborDetails(a.b[:len(a.b)-len(rest)], d)
			if len(d) > 0 {
				m.Details = d
			}
			a.advance(rest)
		case wamp.FURI, wamp.FText:
			s, rest, err := cborTextBytes(a.b)
			if err == errCBORNotText {
				return errField(t, pos, f, "must be a string", nil)
			}
			if err != nil {
				return errField(t, pos, f, "is invalid", err)
			}
			if err := checkText(t, pos, f, s); err != nil {
				return err
			}
			if f == wamp.FURI {
				m.URI = wamp.URI(intern(s))
			} else {
				m.Text = intern(s)
			}
			a.advance(rest)
		}
	}

	if lay.Payload && a.more() {
		pos := a.n
		// null (0xf6) or undefined stands for an absent payload, as null
		// does in JSON.
		switch {
		case a.b[0] == cborNull || a.b[0] == cborUndefined:
			a.advance(a.b[1:])
		case a.b[0]>>5 == cborArray, a.b[0]>>5 == cborBytes:
			// A binary in place of the list is a transparent payload
			// (wamp.Passthru, Autobahn's enc_algo).
			raw, rest, err := cborPayload(a.b, &port)
			if err != nil {
				return errElem(t, pos, argsName, "is invalid", err)
			}
			m.Args = wamp.Payload{Raw: raw, Ser: wamp.CBOR}
			a.advance(rest)
		default:
			return errElem(t, pos, argsName, "must be a list", nil)
		}
		if a.more() {
			pos := a.n
			switch {
			case a.b[0] == cborNull || a.b[0] == cborUndefined:
				a.advance(a.b[1:])
			case a.b[0]>>5 == cborMap:
				raw, rest, err := cborPayload(a.b, &port)
				if err != nil {
					return errElem(t, pos, kwargsName, "is invalid", err)
				}
				m.Kwargs = wamp.Payload{Raw: raw, Ser: wamp.CBOR}
				a.advance(rest)
			default:
				return errElem(t, pos, kwargsName, "must be a dict", nil)
			}
		}
	}
	if a.more() {
		return errTooMany(t)
	}
	if err := a.finish(); err != nil {
		return fmt.Errorf("%w (%v)", err, t)
	}
	return port.result(t, m)
}

// finish checks the end of the array and that nothing follows it.
func (a *cborArrayIter) finish() error {
	if !a.ended() {
		return errMalformed("%v", errCBORTruncated)
	}
	if a.indef {
		a.b = a.b[1:] // break
	}
	if len(a.b) > 0 {
		return errMalformed("%d bytes of trailing data after the message", len(a.b))
	}
	return nil
}

// ended reports whether the array is complete: its count is used up, or the
// break of an indefinite-length array is next.
func (a *cborArrayIter) ended() bool {
	if a.indef {
		return len(a.b) > 0 && a.b[0] == cborBreak
	}
	return a.left == 0
}

// cborTextBytes returns the contents of a text string, borrowed from b when it
// has definite length.
func cborTextBytes(b []byte) ([]byte, []byte, error) {
	major, l, indef, n := cborHead(b)
	switch {
	case n == 0:
		return nil, nil, errCBORHead
	case major != cborText:
		return nil, nil, errCBORNotText
	case indef: // chunked: rare enough to leave to the library
		var s string
		rest, err := cborValueMode.UnmarshalFirst(b, &s)
		return []byte(s), rest, err
	case l > uint64(len(b)-n):
		return nil, nil, errCBORTruncated
	}
	return b[n : n+int(l)], b[n+int(l):], nil
}

// cborNormalize maps what the library decodes into the wamp.Dict model,
// in place: unsigned integers that fit become int64, bignums become int64,
// uint64 or float64, and values the model has no room for are errors.
func cborNormalize(v any) (any, error) {
	switch x := v.(type) {
	case nil, bool, string, []byte, int64, float64:
		return v, nil
	case uint64:
		if x <= math.MaxInt64 {
			return int64(x), nil
		}
		return x, nil
	case *big.Int:
		switch {
		case x.IsInt64():
			return x.Int64(), nil
		case x.IsUint64():
			return x.Uint64(), nil
		}
		f, _ := new(big.Float).SetInt(x).Float64()
		if math.IsInf(f, 0) {
			return nil, errors.New("cbor: bignum out of range")
		}
		return f, nil
	case []any:
		for i, e := range x {
			var err error
			if x[i], err = cborNormalize(e); err != nil {
				return nil, err
			}
		}
		return x, nil
	case map[string]any:
		return x, cborNormalizeMap(x, false)
	case cbor.SimpleValue:
		return nil, errors.New("cbor: unsupported simple value")
	}
	return nil, errors.New("cbor: unsupported value of type " + reflect.TypeOf(v).String())
}

// cborNormalizeMap normalizes the values of d in place; with dropNil, it
// deletes the members whose value is nil (null or undefined).
func cborNormalizeMap(d map[string]any, dropNil bool) error {
	for k, e := range d {
		if e == nil && dropNil {
			delete(d, k)
			continue
		}
		v, err := cborNormalize(e)
		if err != nil {
			return err
		}
		d[k] = v
	}
	return nil
}

func (cborCodec) DecodeValue(raw []byte) (any, error) {
	var v any
	err := cborValueMode.Unmarshal(raw, &v)
	if err == nil {
		v, err = cborNormalize(v)
	}
	if err != nil {
		return nil, errMalformed("%v", err)
	}
	return v, nil
}

func (c cborCodec) Encode(dst []byte, m *wamp.Message) ([]byte, error) {
	lay, err := layoutOf(m)
	if err != nil {
		return dst, err
	}
	start := len(dst)
	dst = cborAppendHead(dst, cborArray, uint64(elemCount(m, lay)))
	dst = cborAppendHead(dst, cborUint, uint64(m.Type))
	for i, f := range lay.Fields {
		if f == wamp.FDetails && lay.OptDetails && i == len(lay.Fields)-1 && m.Details == nil {
			break
		}
		switch f {
		case wamp.FRequest:
			dst = cborAppendHead(dst, cborUint, uint64(m.Request))
		case wamp.FID:
			dst = cborAppendHead(dst, cborUint, uint64(m.ID))
		case wamp.FPublication:
			dst = cborAppendHead(dst, cborUint, uint64(m.Publication))
		case wamp.FErrType:
			dst = cborAppendHead(dst, cborUint, uint64(m.ErrType))
		case wamp.FDetails:
			if len(m.Details) == 0 {
				dst = cborAppendHead(dst, cborMap, 0)
			} else if dst, err = cborAppendValue(dst, m.Details, 0); err != nil {
				return dst[:start], err
			}
		case wamp.FURI:
			dst = cborAppendString(dst, string(m.URI))
		case wamp.FText:
			dst = cborAppendString(dst, m.Text)
		}
	}
	if lay.Payload && (!m.Args.IsZero() || !m.Kwargs.IsZero()) {
		if m.Args.IsZero() {
			dst = cborAppendHead(dst, cborArray, 0)
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

func (cborCodec) appendPayload(dst []byte, p *wamp.Payload, check func(any) error) ([]byte, error) {
	return appendPayload(dst, p, wamp.CBOR, check, cborAppendValue)
}

func (cborCodec) AppendValue(dst []byte, v any) ([]byte, error) {
	return appendWhole(dst, v, cborAppendValue)
}

// cborAppendHead appends the shortest head for major type major and
// argument arg, as RFC 8949 section 4.2.1 (preferred serialization) asks.
func cborAppendHead(dst []byte, major byte, arg uint64) []byte {
	mt := major << 5
	switch {
	case arg < 24:
		return append(dst, mt|byte(arg))
	case arg <= math.MaxUint8:
		return append(dst, mt|24, byte(arg))
	case arg <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(dst, mt|25), uint16(arg))
	case arg <= math.MaxUint32:
		return binary.BigEndian.AppendUint32(append(dst, mt|26), uint32(arg))
	}
	return binary.BigEndian.AppendUint64(append(dst, mt|27), arg)
}

func cborAppendInt(dst []byte, i int64) []byte {
	if i < 0 {
		return cborAppendHead(dst, cborNeg, uint64(^i)) // -1-i
	}
	return cborAppendHead(dst, cborUint, uint64(i))
}

func cborAppendString(dst []byte, s string) []byte {
	return append(cborAppendHead(dst, cborText, uint64(len(s))), s...)
}

func cborAppendValue(dst []byte, v any, depth int) ([]byte, error) {
	var err error
	switch x := v.(type) {
	case nil:
		return append(dst, cborSimple<<5|22), nil
	case bool:
		if x {
			return append(dst, cborSimple<<5|21), nil
		}
		return append(dst, cborSimple<<5|20), nil
	case string:
		return cborAppendString(dst, x), nil
	case wamp.URI:
		return cborAppendString(dst, string(x)), nil
	case int64:
		return cborAppendInt(dst, x), nil
	case int:
		return cborAppendInt(dst, int64(x)), nil
	case int32:
		return cborAppendInt(dst, int64(x)), nil
	case uint64:
		return cborAppendHead(dst, cborUint, x), nil
	case uint:
		return cborAppendHead(dst, cborUint, uint64(x)), nil
	case uint32:
		return cborAppendHead(dst, cborUint, uint64(x)), nil
	case wamp.ID:
		return cborAppendHead(dst, cborUint, uint64(x)), nil
	case float64:
		return binary.BigEndian.AppendUint64(append(dst, cborSimple<<5|27), math.Float64bits(x)), nil
	case float32:
		return binary.BigEndian.AppendUint32(append(dst, cborSimple<<5|26), math.Float32bits(x)), nil
	case []byte:
		return append(cborAppendHead(dst, cborBytes, uint64(len(x))), x...), nil
	case []any:
		if depth >= maxDepth {
			return dst, errTooDeep()
		}
		dst = cborAppendHead(dst, cborArray, uint64(len(x)))
		for _, e := range x {
			if dst, err = cborAppendValue(dst, e, depth+1); err != nil {
				return dst, err
			}
		}
		return dst, nil
	case []string:
		dst = cborAppendHead(dst, cborArray, uint64(len(x)))
		for _, e := range x {
			dst = cborAppendString(dst, e)
		}
		return dst, nil
	case []wamp.ID:
		dst = cborAppendHead(dst, cborArray, uint64(len(x)))
		for _, e := range x {
			dst = cborAppendHead(dst, cborUint, uint64(e))
		}
		return dst, nil
	case map[string]any:
		if depth >= maxDepth {
			return dst, errTooDeep()
		}
		dst = cborAppendHead(dst, cborMap, uint64(len(x)))
		for k, e := range x {
			dst = cborAppendString(dst, k)
			if dst, err = cborAppendValue(dst, e, depth+1); err != nil {
				return dst, err
			}
		}
		return dst, nil
	}
	return dst, errUnsupported(v)
}
