// Package codec turns WAMP messages into frames and back for the json,
// msgpack and cbor serializers.
//
// Decoders read the header fields of a message and leave Args and Kwargs
// encoded (wamp.Payload.Raw, borrowed from the frame), so the router passes
// payloads through untouched when sender and receiver share a serializer.
// Encoders append to a caller's buffer; when a payload arrives in another
// serializer it is decoded once into Payload.Value (the encoder stores it
// back into the Message) and re-encoded.
//
// Decoders leave out the members of a message's Details whose value is null
// or JavaScript's undefined (CBOR undefined; in MsgPack the extension that
// msgpackr writes for it), so that they read as absent options (wamp.Dict
// says why); in place of Args or Kwargs either stands for an absent
// payload. Where a value is decoded, undefined is nil and any other MsgPack
// extension is malformed; MsgPack and CBOR payloads that hold one, or
// anything else another serializer cannot carry, are refused as a whole
// (ErrNotPortable), so that no peer gets a publication its neighbours
// miss. Payloads that pass through keep what they hold.
//
// Concurrency: Codecs are stateless and safe for concurrent use. A Message
// passed to Encode may be modified (Payload.Value is filled in), so one
// Message must not be encoded from two goroutines at once.
package codec

import (
	"errors"

	"github.com/switchboard/switchboard/wamp"
)

// Codec is one serializer.
type Codec interface {
	// Serialization names the serializer.
	Serialization() wamp.Serialization
	// Decode parses one frame into m (which it resets first). Strings are
	// copied out of frame; Args.Raw and Kwargs.Raw borrow from it. Errors
	// wrap ErrMalformed, ErrUnknownType or ErrNotPortable.
	Decode(frame []byte, m *wamp.Message) error
	// Encode appends the encoding of m to dst.
	Encode(dst []byte, m *wamp.Message) ([]byte, error)
	// DecodeValue decodes one encoded value (a payload list or dict) into
	// the value model of wamp.Dict.
	DecodeValue(raw []byte) (any, error)
	// AppendValue appends the encoding of a value of the wamp.Dict model.
	AppendValue(dst []byte, v any) ([]byte, error)
}

// Errors that Decode wraps.
var (
	// ErrMalformed: the frame is not a well-formed message of its type.
	ErrMalformed = errors.New("malformed message")
	// ErrUnknownType: the frame is a well-formed array whose type code is
	// not a WAMP message type.
	ErrUnknownType = errors.New("unknown message type")
	// ErrNotPortable: the frame is a well-formed message, but its Details
	// (Options) or its Arguments or ArgumentsKw hold a value that not every
	// serializer can carry: text that is not UTF-8 (in the payload; Details
	// are decoded, and such text there is malformed), a string value that
	// starts with NUL (JSON's mark of a binary), a dict key that is not a
	// string, NaN or an infinity, an extension or
	// simple value outside the value model, nesting deeper than the value
	// decoders go. Decode leaves the header fields in the message and the
	// payload out, so that the router can refuse the request with
	// wamp.error.invalid_argument rather than deliver it only to the peers
	// that share the sender's serializer. Only MsgPack and CBOR report it.
	ErrNotPortable = errors.New("value not portable to every serializer")
	// ErrUnsupportedValue: Encode or AppendValue met a Go value outside the
	// value model (or nested too deeply), or a payload of the wrong kind.
	ErrUnsupportedValue = errors.New("unsupported value")
)

// codecs is indexed by Serialization so that For is an array load.
var codecs = [...]Codec{
	wamp.JSON:    jsonCodec{},
	wamp.MsgPack: msgpackCodec{},
	wamp.CBOR:    cborCodec{},
}

// For returns the codec of s, or nil for an unknown serialization.
func For(s wamp.Serialization) Codec {
	if int(s) < len(codecs) {
		return codecs[s]
	}
	return nil
}
