package codec

import (
	"fmt"
	"hash/maphash"
	"math"
	"sync/atomic"
	"unicode/utf8"

	"github.com/switchboard/switchboard/wamp"
)

// maxDepth bounds the nesting of lists and dicts that the value decoders and
// encoders accept, so that a hostile frame cannot exhaust the stack and a
// cyclic value built by mistake fails instead of recursing forever. Deeper
// payloads are refused by the MsgPack decoder (ErrNotPortable) and the CBOR
// library (malformed); JSON ones pass through untouched, bounded only by
// the library (10000 levels), and one deeper than maxDepth cannot be
// converted to another serializer.
const maxDepth = 1000

// fieldName names field f in the role Layouts gives it for type t, so that
// error messages speak the specification's language ("Topic", not "URI").
func fieldName(t wamp.Type, f wamp.Field) string {
	switch f {
	case wamp.FRequest:
		return "Request"
	case wamp.FPublication:
		return "Publication"
	case wamp.FErrType:
		return "Type"
	case wamp.FID:
		switch t {
		case wamp.WELCOME:
			return "Session"
		case wamp.PUBLISHED:
			return "Publication"
		case wamp.SUBSCRIBED, wamp.UNSUBSCRIBE, wamp.EVENT:
			return "Subscription"
		case wamp.REGISTERED, wamp.UNREGISTER, wamp.INVOCATION:
			return "Registration"
		}
		return "ID"
	case wamp.FDetails:
		switch t {
		case wamp.PUBLISH, wamp.SUBSCRIBE, wamp.CALL, wamp.CANCEL, wamp.REGISTER,
			wamp.INTERRUPT, wamp.YIELD:
			return "Options"
		case wamp.CHALLENGE, wamp.AUTHENTICATE:
			return "Extra"
		}
		return "Details"
	case wamp.FURI:
		switch t {
		case wamp.HELLO:
			return "Realm"
		case wamp.ABORT, wamp.GOODBYE:
			return "Reason"
		case wamp.ERROR:
			return "Error"
		case wamp.PUBLISH, wamp.SUBSCRIBE:
			return "Topic"
		case wamp.CALL, wamp.REGISTER:
			return "Procedure"
		}
		return "URI"
	case wamp.FText:
		if t == wamp.CHALLENGE {
			return "AuthMethod"
		}
		return "Signature"
	}
	return fmt.Sprintf("Field(%d)", f)
}

// Positions of the payload elements after the fields, for error messages.
const (
	argsName   = "Arguments"
	kwargsName = "ArgumentsKw"
)

// errField reports a field of the wrong kind. pos is the element's index in
// the message array (the type code is element 0), as the specification
// counts.
func errField(t wamp.Type, pos int, f wamp.Field, what string, cause error) error {
	return errElem(t, pos, fieldName(t, f), what, cause)
}

func errElem(t wamp.Type, pos int, name, what string, cause error) error {
	if cause != nil {
		return fmt.Errorf("%w: %v: field %d (%s) %s: %v", ErrMalformed, t, pos, name, what, cause)
	}
	return fmt.Errorf("%w: %v: field %d (%s) %s", ErrMalformed, t, pos, name, what)
}

func errMalformed(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
}

// errTooFew reports a message that ends before its mandatory fields.
func errTooFew(t wamp.Type, got int) error {
	lay := &wamp.Layouts[t]
	need := 1 + len(lay.Fields)
	if lay.OptDetails {
		need--
	}
	return errMalformed("%v: %d elements, need at least %d", t, got, need)
}

func errTooMany(t wamp.Type) error {
	lay := &wamp.Layouts[t]
	most := 1 + len(lay.Fields)
	if lay.Payload {
		most += 2
	}
	return errMalformed("%v: more than %d elements", t, most)
}

// checkType maps a decoded type code to a known Type.
func checkType(code uint64, neg bool) (wamp.Type, error) {
	if neg || code > math.MaxUint8 || !wamp.Type(code).Known() {
		if neg {
			return 0, fmt.Errorf("%w: -%d", ErrUnknownType, code)
		}
		return 0, fmt.Errorf("%w: %d", ErrUnknownType, code)
	}
	return wamp.Type(code), nil
}

// checkErrType validates the request type of an ERROR message.
func checkErrType(t wamp.Type, pos int, f wamp.Field, code uint64) (wamp.Type, error) {
	if code > math.MaxUint8 || !wamp.Type(code).Known() {
		return 0, errField(t, pos, f, "must be a known message type", nil)
	}
	return wamp.Type(code), nil
}

// checkID validates an id field.
func checkID(t wamp.Type, pos int, f wamp.Field, v uint64) (wamp.ID, error) {
	if v > wamp.MaxID {
		return 0, errField(t, pos, f, "must be an integer in [0, 2^53]", nil)
	}
	return wamp.ID(v), nil
}

// checkText validates the bytes of a URI or Text field. A leading NUL is
// refused in every serializer, not only JSON: JSON peers would read such a
// string as binary, so it could not be forwarded to them.
func checkText(t wamp.Type, pos int, f wamp.Field, s []byte) error {
	if !utf8.Valid(s) {
		return errField(t, pos, f, "is not valid UTF-8", nil)
	}
	if len(s) > 0 && s[0] == 0 {
		return errField(t, pos, f, "must be a string, not binary (leading NUL)", nil)
	}
	return nil
}

// elemCount returns the number of elements Encode writes for m, which
// MsgPack and CBOR need up front for the array header.
func elemCount(m *wamp.Message, lay *wamp.Layout) int {
	n := 1 + len(lay.Fields)
	if lay.OptDetails && m.Details == nil {
		n--
	}
	if lay.Payload {
		switch {
		case !m.Kwargs.IsZero():
			n += 2
		case !m.Args.IsZero():
			n++
		}
	}
	return n
}

// layoutOf returns m's layout, or an error for a type Encode cannot lay out.
func layoutOf(m *wamp.Message) (*wamp.Layout, error) {
	lay := &wamp.Layouts[m.Type]
	if lay.Fields == nil {
		return nil, fmt.Errorf("%w: %d", ErrUnknownType, m.Type)
	}
	return lay, nil
}

// payloadRaw returns the bytes to append verbatim for p when it is already
// encoded in ser. Otherwise it makes sure p.Value holds the decoded payload,
// decoding p.Raw with its own codec once and keeping the result in p so that
// encoding the same message for more peers of ser does not decode it again.
// p.Raw stays so that peers of p.Ser still get the original bytes.
func payloadRaw(p *wamp.Payload, ser wamp.Serialization) ([]byte, error) {
	if p.Raw != nil && p.Ser == ser {
		return p.Raw, nil
	}
	if p.Value == nil && p.Raw != nil {
		c := For(p.Ser)
		if c == nil {
			return nil, fmt.Errorf("codec: payload in unknown serialization %v", p.Ser)
		}
		v, err := c.DecodeValue(p.Raw)
		if err != nil {
			return nil, fmt.Errorf("codec: converting %v payload to %v: %w", p.Ser, ser, err)
		}
		if v == nil {
			return nil, fmt.Errorf("%w: %v payload is null", ErrMalformed, p.Ser)
		}
		p.Value = v
	}
	return nil, nil
}

// checkArgs and checkKwargs make sure a payload value has the kind its
// position needs, so a router bug cannot put a dict where peers expect the
// argument list.
func checkArgs(v any) error {
	switch v.(type) {
	case []any, []string, []wamp.ID:
		return nil
	case []byte:
		return nil // a transparent payload (wamp.Passthru)
	}
	return fmt.Errorf("%w: Arguments must be a list, not %T", ErrUnsupportedValue, v)
}

func checkKwargs(v any) error {
	if _, ok := v.(map[string]any); ok {
		return nil
	}
	return fmt.Errorf("%w: ArgumentsKw must be a dict, not %T", ErrUnsupportedValue, v)
}

func errUnsupported(v any) error {
	return fmt.Errorf("%w: %T", ErrUnsupportedValue, v)
}

func errTooDeep() error {
	return fmt.Errorf("%w: nested deeper than %d levels", ErrUnsupportedValue, maxDepth)
}

// The intern cache maps short strings (URIs, dict keys, auth methods) to one
// shared copy, so decoding a message whose topic the router has seen before
// allocates nothing. It is a direct-mapped, lossy table of atomic pointers:
// lock-free for the many session readers that share it, bounded in memory,
// and a collision only costs an allocation.
const (
	internSlots  = 4096 // power of two
	internMaxLen = 128
)

var (
	internSeed  = maphash.MakeSeed()
	internTable [internSlots]atomic.Pointer[string]
)

// intern returns b as a string, shared with earlier calls for equal bytes
// where the cache still holds them.
func intern(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if len(b) > internMaxLen {
		return string(b)
	}
	slot := &internTable[maphash.Bytes(internSeed, b)&(internSlots-1)]
	if p := slot.Load(); p != nil && *p == string(b) {
		return *p
	}
	s := string(b)
	slot.Store(&s)
	return s
}

// valueAppender appends the encoding of one value of the wamp.Dict model at
// nesting depth depth.
type valueAppender func(dst []byte, v any, depth int) ([]byte, error)

// appendPayload appends a payload for serializer ser: its raw bytes when
// they are already in ser, else its (once decoded) value, checked first.
func appendPayload(dst []byte, p *wamp.Payload, ser wamp.Serialization, check func(any) error, appendValue valueAppender) ([]byte, error) {
	raw, err := payloadRaw(p, ser)
	if err != nil {
		return dst, err
	}
	if raw != nil {
		return append(dst, raw...), nil
	}
	if err := check(p.Value); err != nil {
		return dst, err
	}
	return appendValue(dst, p.Value, 0)
}

// appendWhole appends v, or nothing at all if it cannot be encoded.
func appendWhole(dst []byte, v any, appendValue valueAppender) ([]byte, error) {
	start := len(dst)
	dst, err := appendValue(dst, v, 0)
	if err != nil {
		return dst[:start], err
	}
	return dst, nil
}
