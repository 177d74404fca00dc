package wamp

// Dict is a WAMP dictionary: Details, Options or Extra. Decoded values are
// nil, bool, int64, uint64 (only above MaxInt64), float64, string, []byte,
// []any and map[string]any, whatever the serializer; codecs normalise to
// these so the router reads options the same way from every peer.
//
// A member of a message's Details whose value is null counts as absent, and
// so does JavaScript's undefined as clients encode it (CBOR undefined, and
// in MsgPack the extension type 0 that msgpackr and notepack write): wampy,
// for one, sends SUBSCRIBE.Options {match: undefined} for an option its
// caller left out, which JSON.stringify would have dropped. The codecs drop
// such members when they decode a message, so no reader of a decoded Dict
// sees a nil value at its top level. Nested dicts keep theirs.
type Dict = map[string]any

// Bool returns d[key] as a bool, or def if it is absent or not a bool.
func Bool(d Dict, key string, def bool) bool {
	if v, ok := d[key].(bool); ok {
		return v
	}
	return def
}

// String returns d[key] as a string, or "" if it is absent or not a string.
func String(d Dict, key string) string {
	s, _ := d[key].(string)
	return s
}

// Int returns d[key] as an int64 if it is an integer value.
func Int(d Dict, key string) (int64, bool) { return AsInt(d[key]) }

// AsInt converts an integer value of any decoded kind to int64. Floats with
// an integral value count, since JSON peers may send 5.0 for 5.
func AsInt(v any) (int64, bool) {
	switch n := v.(type) {
	case int64:
		return n, true
	case uint64:
		if n <= 1<<63-1 {
			return int64(n), true
		}
	case int:
		return int64(n), true
	case float64:
		if n == float64(int64(n)) {
			return int64(n), true
		}
	}
	return 0, false
}

// AsID converts a decoded value to an ID if it is a valid one.
func AsID(v any) (ID, bool) {
	n, ok := AsInt(v)
	if !ok || n < 0 || n > MaxID {
		return 0, false
	}
	return ID(n), true
}

// Dig returns d[k1][k2]... for nested dicts, or nil.
func Dig(d Dict, keys ...string) any {
	var v any = d
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// OptBool reads a boolean option: def when absent (or nil, see Dict), an
// invalid_argument *Error naming the option when it is there but not a
// bool.
func OptBool(d Dict, key string, def bool) (bool, error) {
	v := d[key]
	if v == nil {
		return def, nil
	}
	b, ok := v.(bool)
	if !ok {
		return def, NewError(ErrInvalidArgument, "option "+key+" must be a boolean")
	}
	return b, nil
}

// OptString reads a string option: "" when absent (or nil, see Dict), an
// invalid_argument *Error naming the option when it is there but not a
// string.
func OptString(d Dict, key string) (string, error) {
	v := d[key]
	if v == nil {
		return "", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", NewError(ErrInvalidArgument, "option "+key+" must be a string")
	}
	return s, nil
}
