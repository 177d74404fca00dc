package wamp

import "strconv"

// TrustLevel is the trust level the router assigns a publication or a call
// (advanced/pubsub_publication_trustlevels.md, rpc_call_trustlevels.md):
// EVENT.Details.trustlevel and INVOCATION.Details.trustlevel. Its zero
// value is none, so that a struct that carries one (a publication from
// another node, a retained event) assigns none unless told; Trust(n) is
// level n.
type TrustLevel uint32

// MaxTrustLevel is the largest trust level. The specification asks only
// for an integer, 0 the lowest; a bound keeps every serializer's integer
// and the config's int apart from overflow.
const MaxTrustLevel = 1<<31 - 1

// Trust returns level n, which must be in [0, MaxTrustLevel].
func Trust(n int64) TrustLevel {
	if n < 0 || n > MaxTrustLevel {
		panic("wamp.Trust: level out of range: " + strconv.FormatInt(n, 10))
	}
	return TrustLevel(n + 1)
}

// ParseTrustLevel reads a trust level from a decoded value (config, a
// dynamic authenticator's answer): an integer in [0, MaxTrustLevel].
func ParseTrustLevel(v any) (TrustLevel, bool) {
	n, ok := AsInt(v)
	if !ok || n < 0 || n > MaxTrustLevel {
		return 0, false
	}
	return Trust(n), true
}

// Level returns the level, and false for none.
func (t TrustLevel) Level() (int64, bool) {
	if t == 0 {
		return 0, false
	}
	return int64(t) - 1, true
}

// trustDetails are shared, immutable {"trustlevel": n} dicts for the small
// levels applications use, so that an EVENT or INVOCATION whose only
// detail is the trust level costs no allocation: the codecs never write to
// a Dict.
var trustDetails [16]Dict

func init() {
	for i := range trustDetails {
		trustDetails[i] = Dict{"trustlevel": int64(i)}
	}
}

// Details returns {"trustlevel": level}, shared and never to be modified,
// or nil for none.
func (t TrustLevel) Details() Dict {
	n, ok := t.Level()
	if !ok {
		return nil
	}
	if n < int64(len(trustDetails)) {
		return trustDetails[n]
	}
	return Dict{"trustlevel": n}
}
