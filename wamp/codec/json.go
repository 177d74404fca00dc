package codec

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"math"
	"strconv"
	"sync"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/switchboard/switchboard/wamp"
)

// jsonCodec is the wamp.2.json serializer. Binary values travel as strings
// of a NUL character followed by standard base64, as the specification's
// appendix on binary support in JSON says.
type jsonCodec struct{}

func (jsonCodec) Serialization() wamp.Serialization { return wamp.JSON }

// jsonDecOpts: duplicate names are allowed because checking them costs time
// on every object of every payload, and the MsgPack and CBOR decoders do not
// check them either (the last one wins in a decoded dict).
var jsonDecOpts = jsontext.AllowDuplicateNames(true)

// jsonDecoder is pooled because a jsontext.Decoder is too large to build per
// frame. It reads from a bytes.Buffer over the frame: for that reader the
// library parses in place and neither copies nor scribbles over the input,
// so the spans ReadValue returns are slices of the frame and stay valid.
type jsonDecoder struct {
	bb      bytes.Buffer
	dec     jsontext.Decoder
	scratch []byte // unescaped string contents
}

var jsonDecoders = sync.Pool{New: func() any { return new(jsonDecoder) }}

func getJSONDecoder(frame []byte) *jsonDecoder {
	d := jsonDecoders.Get().(*jsonDecoder)
	d.bb = *bytes.NewBuffer(frame)
	d.dec.Reset(&d.bb, jsonDecOpts)
	return d
}

func putJSONDecoder(d *jsonDecoder) {
	// The decoder still points into the frame until its next Reset; a second
	// Reset here would cost a tenth of a decode, and a pooled decoder is
	// dropped at the second garbage collection anyway.
	d.bb = bytes.Buffer{}
	if cap(d.scratch) > 4<<10 {
		d.scratch = nil
	}
	jsonDecoders.Put(d)
}

// peek returns the kind of the next token, or the syntax error that stops
// the decoder (PeekKind only caches it).
func (d *jsonDecoder) peek() (jsontext.Kind, error) {
	k := d.dec.PeekKind()
	if k == jsontext.KindInvalid {
		_, err := d.dec.ReadToken()
		if err == nil || err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return 0, err
	}
	return k, nil
}

func (jsonCodec) Decode(frame []byte, m *wamp.Message) error {
	m.Reset()
	d := getJSONDecoder(frame)
	err := d.decodeMessage(m)
	putJSONDecoder(d)
	return err
}

func (d *jsonDecoder) decodeMessage(m *wamp.Message) error {
	k, err := d.peek()
	if err != nil {
		return errMalformed("invalid JSON: %v", err)
	}
	if k != '[' {
		return errMalformed("frame is a JSON %v, not an array", k)
	}
	d.dec.ReadToken()
	if k, err = d.peek(); err != nil {
		return errMalformed("invalid JSON: %v", err)
	}
	switch k {
	case ']':
		return errMalformed("empty array")
	case '0':
	default:
		return errMalformed("message type must be an integer, not %v", k)
	}
	v, _ := d.dec.ReadValue()
	if !isJSONInteger(v) {
		return errMalformed("message type must be an integer, not %s", v)
	}
	code, neg, ok := jsonUint(v)
	if !ok {
		code = math.MaxUint64 // too big for any type
	}
	t, err := checkType(code, neg)
	if err != nil {
		if err := d.skipRest(); err != nil {
			return err
		}
		return err
	}
	m.Type = t

	lay := &wamp.Layouts[t]
	pos := 1
	for i, f := range lay.Fields {
		if k, err = d.peek(); err != nil {
			return errMalformed("%v: invalid JSON: %v", t, err)
		}
		if k == ']' {
			if lay.OptDetails && i == len(lay.Fields)-1 {
				break
			}
			return errTooFew(t, pos)
		}
		switch f {
		case wamp.FRequest, wamp.FID, wamp.FPublication:
			id, err := d.readID(t, pos, f, k)
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
			if k != '0' {
				return errField(t, pos, f, "must be an integer", nil)
			}
			v, _ := d.dec.ReadValue()
			code, neg, ok := jsonUint(v)
			if !ok || neg {
				return errField(t, pos, f, "must be a known message type", nil)
			}
			if m.ErrType, err = checkErrType(t, pos, f, code); err != nil {
				return err
			}
		case wamp.FDetails:
			if k != '{' {
				return errField(t, pos, f, "must be a dict", nil)
			}
			if m.Details, err = d.readDetails(); err != nil {
				return errField(t, pos, f, "is invalid", err)
			}
		case wamp.FURI, wamp.FText:
			s, err := d.readString(t, pos, f, k)
			if err != nil {
				return err
			}
			if f == wamp.FURI {
				m.URI = wamp.URI(s)
			} else {
				m.Text = s
			}
		}
		pos++
	}

	if lay.Payload {
		if k, err = d.peek(); err != nil {
			return errMalformed("%v: invalid JSON: %v", t, err)
		}
		if k != ']' {
			// null stands for an absent payload: the nexus client sends
			// null Args when a call has only Kwargs.
			if k != '[' && k != 'n' && k != '"' {
				return errElem(t, pos, argsName, "must be a list", nil)
			}
			raw, err := d.dec.ReadValue()
			if err != nil {
				return errElem(t, pos, argsName, "is invalid", err)
			}
			switch {
			case k == '[':
				m.Args = wamp.Payload{Raw: raw[:len(raw):len(raw)], Ser: wamp.JSON}
			case k == '"':
				// A binary ("\u0000" + base64) in place of the list is a
				// transparent payload (wamp.Passthru, Autobahn's
				// enc_algo); any other string is not.
				if !bytes.HasPrefix(raw, []byte(`"\u0000`)) {
					return errElem(t, pos, argsName, "must be a list", nil)
				}
				m.Args = wamp.Payload{Raw: raw[:len(raw):len(raw)], Ser: wamp.JSON}
			}
			pos++
			if k, err = d.peek(); err != nil {
				return errMalformed("%v: invalid JSON: %v", t, err)
			}
			if k != ']' {
				if k != '{' && k != 'n' {
					return errElem(t, pos, kwargsName, "must be a dict", nil)
				}
				raw, err := d.dec.ReadValue()
				if err != nil {
					return errElem(t, pos, kwargsName, "is invalid", err)
				}
				if k == '{' {
					m.Kwargs = wamp.Payload{Raw: raw[:len(raw):len(raw)], Ser: wamp.JSON}
				}
			}
		}
	}

	if k, err = d.peek(); err != nil {
		return errMalformed("%v: invalid JSON: %v", t, err)
	}
	if k != ']' {
		return errTooMany(t)
	}
	d.dec.ReadToken()
	if _, err := d.dec.ReadToken(); err != io.EOF {
		return errMalformed("%v: trailing data after the message", t)
	}
	return nil
}

// skipRest checks that the rest of the frame is well-formed, so that
// ErrUnknownType is only reported for an array that is otherwise intact.
func (d *jsonDecoder) skipRest() error {
	for {
		k, err := d.peek()
		if err != nil {
			return errMalformed("invalid JSON: %v", err)
		}
		if k == ']' {
			break
		}
		if err := d.dec.SkipValue(); err != nil {
			return errMalformed("invalid JSON: %v", err)
		}
	}
	d.dec.ReadToken()
	if _, err := d.dec.ReadToken(); err != io.EOF {
		return errMalformed("trailing data after the message")
	}
	return nil
}

func (d *jsonDecoder) readID(t wamp.Type, pos int, f wamp.Field, k jsontext.Kind) (wamp.ID, error) {
	if k != '0' {
		return 0, errField(t, pos, f, "must be an integer", nil)
	}
	v, _ := d.dec.ReadValue()
	n, neg, ok := jsonUint(v)
	if !ok || neg {
		return 0, errField(t, pos, f, "must be an integer in [0, 2^53]", nil)
	}
	return checkID(t, pos, f, n)
}

func (d *jsonDecoder) readString(t wamp.Type, pos int, f wamp.Field, k jsontext.Kind) (string, error) {
	if k != '"' {
		return "", errField(t, pos, f, "must be a string", nil)
	}
	v, err := d.dec.ReadValue()
	if err != nil {
		return "", errField(t, pos, f, "is invalid", err)
	}
	s := d.unquote(v)
	if err := checkText(t, pos, f, s); err != nil {
		return "", err
	}
	return intern(s), nil
}

// unquote returns the contents of the JSON string v, which the decoder has
// validated. Strings without escapes are the common case and need no copy.
func (d *jsonDecoder) unquote(v []byte) []byte {
	if bytes.IndexByte(v, '\\') < 0 {
		return v[1 : len(v)-1]
	}
	d.scratch, _ = jsontext.AppendUnquote(d.scratch[:0], v)
	return d.scratch
}

// readDetails reads a message's Details, returning nil for an empty one so
// that the common "{}" allocates nothing. Members whose value is null are
// absent (wamp.Dict).
func (d *jsonDecoder) readDetails() (map[string]any, error) {
	d.dec.ReadToken() // {
	k, err := d.peek()
	if err != nil {
		return nil, err
	}
	if k == '}' {
		d.dec.ReadToken()
		return nil, nil
	}
	obj, err := d.readObject(1, true)
	if len(obj) == 0 {
		obj = nil // {"match": null} is {}
	}
	return obj, err
}

// value reads one value of the wamp.Dict model. depth counts the lists and
// dicts that enclose it.
func (d *jsonDecoder) value(depth int) (any, error) {
	k, err := d.peek()
	if err != nil {
		return nil, err
	}
	switch k {
	case 'n':
		_, err := d.dec.ReadToken()
		return nil, err
	case 't', 'f':
		tok, err := d.dec.ReadToken()
		if err != nil {
			return nil, err
		}
		return tok.Bool(), nil
	case '"':
		v, err := d.dec.ReadValue()
		if err != nil {
			return nil, err
		}
		s := d.unquote(v)
		if len(s) > 0 && s[0] == 0 {
			if b, ok := decodeBase64(s[1:]); ok {
				return b, nil
			}
			// Not base64 after all: keep the string rather than lose it.
		}
		return string(s), nil
	case '0':
		v, err := d.dec.ReadValue()
		if err != nil {
			return nil, err
		}
		return jsonNumber(v)
	case '[':
		if depth >= maxDepth {
			return nil, errTooDeep()
		}
		d.dec.ReadToken()
		list := []any{}
		for {
			k, err := d.peek()
			if err != nil {
				return nil, err
			}
			if k == ']' {
				d.dec.ReadToken()
				return list, nil
			}
			v, err := d.value(depth + 1)
			if err != nil {
				return nil, err
			}
			list = append(list, v)
		}
	case '{':
		if depth >= maxDepth {
			return nil, errTooDeep()
		}
		d.dec.ReadToken()
		return d.readObject(depth+1, false)
	}
	_, err = d.dec.ReadToken()
	if err == nil {
		err = errors.New("unexpected " + k.String())
	}
	return nil, err
}

// readObject reads the members of an object whose '{' has been read,
// leaving out those whose value is null if dropNull is set.
func (d *jsonDecoder) readObject(depth int, dropNull bool) (map[string]any, error) {
	obj := map[string]any{}
	for {
		k, err := d.peek()
		if err != nil {
			return nil, err
		}
		if k == '}' {
			d.dec.ReadToken()
			return obj, nil
		}
		name, err := d.dec.ReadValue()
		if err != nil {
			return nil, err
		}
		key := intern(d.unquote(name))
		v, err := d.value(depth)
		if err != nil {
			return nil, err
		}
		if v == nil && dropNull {
			continue
		}
		obj[key] = v
	}
}

func decodeBase64(s []byte) ([]byte, bool) {
	enc := base64.StdEncoding
	b, err := enc.AppendDecode(make([]byte, 0, enc.DecodedLen(len(s))), s)
	return b, err == nil
}

// isJSONInteger reports whether the number literal v has neither fraction
// nor exponent. Only such literals are integers: 1.0 stays a float so that
// floats survive a round trip.
func isJSONInteger(v []byte) bool {
	for _, c := range v {
		if c == '.' || c == 'e' || c == 'E' {
			return false
		}
	}
	return true
}

// jsonUint parses an integer literal into its magnitude and sign; ok is
// false for non-integers and magnitudes beyond uint64. Written out because
// it runs for every id of every frame and strconv would want a string.
func jsonUint(v []byte) (n uint64, neg, ok bool) {
	if len(v) > 0 && v[0] == '-' {
		neg, v = true, v[1:]
	}
	if len(v) == 0 {
		return 0, false, false
	}
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, false, false
		}
		d := uint64(c - '0')
		if n > (math.MaxUint64-d)/10 {
			return 0, false, false
		}
		n = n*10 + d
	}
	return n, neg, true
}

// jsonNumber maps a number literal to int64, uint64 above MaxInt64, or
// float64 (for fractions, exponents and integers beyond uint64).
func jsonNumber(v []byte) (any, error) {
	if isJSONInteger(v) {
		if n, neg, ok := jsonUint(v); ok {
			switch {
			case !neg && n <= math.MaxInt64:
				return int64(n), nil
			case !neg:
				return n, nil
			case n <= 1<<63:
				return -int64(n-1) - 1, nil
			}
		}
	}
	f, err := strconv.ParseFloat(string(v), 64)
	if math.IsInf(f, 0) {
		return nil, errors.New("number " + string(v) + " out of range")
	}
	if err != nil {
		return nil, err
	}
	return f, nil
}

func (jsonCodec) DecodeValue(raw []byte) (any, error) {
	d := getJSONDecoder(raw)
	v, err := d.value(0)
	if err == nil {
		if _, err2 := d.dec.ReadToken(); err2 != io.EOF {
			err = errors.New("trailing data after the value")
		}
	}
	putJSONDecoder(d)
	if err != nil {
		return nil, errMalformed("json: %v", err)
	}
	return v, nil
}

func (c jsonCodec) Encode(dst []byte, m *wamp.Message) ([]byte, error) {
	lay, err := layoutOf(m)
	if err != nil {
		return dst, err
	}
	start := len(dst)
	dst = append(dst, '[')
	dst = strconv.AppendUint(dst, uint64(m.Type), 10)
	for i, f := range lay.Fields {
		if f == wamp.FDetails && lay.OptDetails && i == len(lay.Fields)-1 && m.Details == nil {
			break
		}
		dst = append(dst, ',')
		switch f {
		case wamp.FRequest:
			dst = strconv.AppendUint(dst, uint64(m.Request), 10)
		case wamp.FID:
			dst = strconv.AppendUint(dst, uint64(m.ID), 10)
		case wamp.FPublication:
			dst = strconv.AppendUint(dst, uint64(m.Publication), 10)
		case wamp.FErrType:
			dst = strconv.AppendUint(dst, uint64(m.ErrType), 10)
		case wamp.FDetails:
			if len(m.Details) == 0 {
				dst = append(dst, "{}"...)
			} else if dst, err = jsonAppendValue(dst, m.Details, 0); err != nil {
				return dst[:start], err
			}
		case wamp.FURI:
			dst = jsonAppendString(dst, string(m.URI))
		case wamp.FText:
			dst = jsonAppendString(dst, m.Text)
		}
	}
	if lay.Payload && (!m.Args.IsZero() || !m.Kwargs.IsZero()) {
		dst = append(dst, ',')
		if m.Args.IsZero() {
			dst = append(dst, "[]"...)
		} else if dst, err = c.appendPayload(dst, &m.Args, checkArgs); err != nil {
			return dst[:start], err
		}
		if !m.Kwargs.IsZero() {
			dst = append(dst, ',')
			if dst, err = c.appendPayload(dst, &m.Kwargs, checkKwargs); err != nil {
				return dst[:start], err
			}
		}
	}
	return append(dst, ']'), nil
}

func (jsonCodec) appendPayload(dst []byte, p *wamp.Payload, check func(any) error) ([]byte, error) {
	return appendPayload(dst, p, wamp.JSON, check, jsonAppendValue)
}

func (jsonCodec) AppendValue(dst []byte, v any) ([]byte, error) {
	return appendWhole(dst, v, jsonAppendValue)
}

// jsonAppendString quotes s. Invalid UTF-8, which JSON cannot carry, comes
// out as U+FFFD; the library reports that as an error we do not need.
func jsonAppendString(dst []byte, s string) []byte {
	dst, _ = jsontext.AppendQuote(dst, s)
	return dst
}

func jsonAppendFloat(dst []byte, f float64) ([]byte, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return dst, errors.New("json: cannot encode " + strconv.FormatFloat(f, 'g', -1, 64))
	}
	start := len(dst)
	dst = jsontext.AppendFloat(dst, f, 64)
	if isJSONInteger(dst[start:]) {
		dst = append(dst, ".0"...) // keep it a float for the decoder
	}
	return dst, nil
}

func jsonAppendValue(dst []byte, v any, depth int) ([]byte, error) {
	var err error
	switch x := v.(type) {
	case nil:
		return append(dst, "null"...), nil
	case bool:
		return strconv.AppendBool(dst, x), nil
	case string:
		return jsonAppendString(dst, x), nil
	case wamp.URI:
		return jsonAppendString(dst, string(x)), nil
	case int64:
		return strconv.AppendInt(dst, x, 10), nil
	case int:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case int32:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case uint64:
		return strconv.AppendUint(dst, x, 10), nil
	case uint:
		return strconv.AppendUint(dst, uint64(x), 10), nil
	case uint32:
		return strconv.AppendUint(dst, uint64(x), 10), nil
	case wamp.ID:
		return strconv.AppendUint(dst, uint64(x), 10), nil
	case float64:
		return jsonAppendFloat(dst, x)
	case float32:
		return jsonAppendFloat(dst, float64(x))
	case []byte:
		dst = append(dst, `"\u0000`...)
		dst = base64.StdEncoding.AppendEncode(dst, x)
		return append(dst, '"'), nil
	case []any:
		if depth >= maxDepth {
			return dst, errTooDeep()
		}
		dst = append(dst, '[')
		for i, e := range x {
			if i > 0 {
				dst = append(dst, ',')
			}
			if dst, err = jsonAppendValue(dst, e, depth+1); err != nil {
				return dst, err
			}
		}
		return append(dst, ']'), nil
	case []string:
		dst = append(dst, '[')
		for i, e := range x {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = jsonAppendString(dst, e)
		}
		return append(dst, ']'), nil
	case []wamp.ID:
		dst = append(dst, '[')
		for i, e := range x {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = strconv.AppendUint(dst, uint64(e), 10)
		}
		return append(dst, ']'), nil
	case map[string]any:
		if depth >= maxDepth {
			return dst, errTooDeep()
		}
		dst = append(dst, '{')
		first := true
		for k, e := range x {
			if !first {
				dst = append(dst, ',')
			}
			first = false
			dst = jsonAppendString(dst, k)
			dst = append(dst, ':')
			if dst, err = jsonAppendValue(dst, e, depth+1); err != nil {
				return dst, err
			}
		}
		return append(dst, '}'), nil
	}
	return dst, errUnsupported(v)
}
