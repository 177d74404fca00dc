// Package fuzzopts turns fuzzer bytes into option dicts, for the fuzz tests
// of the packages that parse WAMP Options and Details. Every serializer's
// decoder reads the bytes, so that each Go type a peer can put in a dict
// shows up: JSON gives int64, uint64 and float64 numbers and []byte for its
// binary convention, MsgPack float32 widened and binaries, CBOR bignums and
// undefined.
package fuzzopts

import (
	"github.com/switchboard/switchboard/wamp"
	"github.com/switchboard/switchboard/wamp/codec"
)

// Dicts returns the dicts that data decodes to in the serializers that
// read it as one (none, one or several), as a decoder gives Options.
func Dicts(data []byte) []wamp.Dict {
	var out []wamp.Dict
	for _, s := range wamp.Serializations {
		v, err := codec.For(s).DecodeValue(data)
		if err != nil {
			continue
		}
		if d, ok := v.(map[string]any); ok {
			// Decoders leave null members out of Options (wamp.Dict).
			for k, e := range d {
				if e == nil {
					delete(d, k)
				}
			}
			out = append(out, d)
		}
	}
	return out
}

// Seeds adds each of the JSON dicts to f, in every serializer, so that
// the fuzzer starts from options that mean something.
func Seeds(f interface{ Add(...any) }, jsonDicts ...string) {
	for _, j := range jsonDicts {
		f.Add([]byte(j))
		v, err := codec.For(wamp.JSON).DecodeValue([]byte(j))
		if err != nil {
			panic("fuzzopts: bad seed " + j + ": " + err.Error())
		}
		for _, s := range []wamp.Serialization{wamp.MsgPack, wamp.CBOR} {
			b, err := codec.For(s).AppendValue(nil, v)
			if err != nil {
				panic(err)
			}
			f.Add(b)
		}
	}
}

// ErrorURI returns the URI of err, a *wamp.Error, or "" for any other
// error: option parsers must report what the peer gets to read.
func ErrorURI(err error) wamp.URI {
	we, ok := err.(*wamp.Error)
	if !ok {
		return ""
	}
	return we.URI
}
