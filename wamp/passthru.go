package wamp

import "strings"

// Payload passthru mode (advanced/payload_passthru_mode.md): a PUBLISH,
// CALL, YIELD or ERROR whose options carry ppt_scheme has a payload the
// router must neither decode nor convert, and whose ppt_* attributes it
// forwards in the EVENT, INVOCATION, RESULT or ERROR details. Autobahn|Python
// (and Crossbar.io) speak an older form of the same, "payload
// transparency": enc_algo, enc_key and enc_serializer, with the payload as
// one binary element in place of Arguments|list; those are forwarded too.

// Passthru is the payload passthru attributes of one message. The zero
// value is a message without any.
type Passthru struct {
	// Scheme, Serializer, Cipher and KeyID are ppt_scheme,
	// ppt_serializer, ppt_cipher and ppt_keyid.
	Scheme, Serializer, Cipher, KeyID string
	// EncAlgo, EncKey and EncSerializer are Autobahn's enc_algo, enc_key
	// and enc_serializer.
	EncAlgo, EncKey, EncSerializer string
}

// The HELLO features of the two forms (session knows both).
const (
	FeaturePassthru     = "payload_passthru_mode"
	FeatureTransparency = "payload_transparency"
)

// IsZero reports whether the message uses neither form.
func (p *Passthru) IsZero() bool { return *p == Passthru{} }

// PPT reports whether the message uses payload passthru mode (ppt_*).
func (p *Passthru) PPT() bool {
	return p.Scheme != "" || p.Serializer != "" || p.Cipher != "" || p.KeyID != ""
}

// Feature returns the HELLO feature a peer must have announced to send or
// receive p: payload_passthru_mode for ppt_*, payload_transparency for
// enc_*, "" for neither.
func (p *Passthru) Feature() string {
	switch {
	case p.PPT():
		return FeaturePassthru
	case !p.IsZero():
		return FeatureTransparency
	}
	return ""
}

// Len returns the number of attributes set.
func (p *Passthru) Len() int {
	n := 0
	for _, s := range [...]string{p.Scheme, p.Serializer, p.Cipher, p.KeyID, p.EncAlgo, p.EncKey, p.EncSerializer} {
		if s != "" {
			n++
		}
	}
	return n
}

// AddTo sets the attributes of p in d, which must be a dict of the
// router's own (EVENT, INVOCATION or RESULT details being built).
func (p *Passthru) AddTo(d Dict) {
	set := func(k, v string) {
		if v != "" {
			d[k] = v
		}
	}
	set("ppt_scheme", p.Scheme)
	set("ppt_serializer", p.Serializer)
	set("ppt_cipher", p.Cipher)
	set("ppt_keyid", p.KeyID)
	set("enc_algo", p.EncAlgo)
	set("enc_key", p.EncKey)
	set("enc_serializer", p.EncSerializer)
}

// Dict returns the attributes of p as a new dict, or nil when p is zero.
func (p *Passthru) Dict() Dict {
	if p.IsZero() {
		return nil
	}
	d := make(Dict, p.Len())
	p.AddTo(d)
	return d
}

// IsPassthruKey reports whether key is one of the attributes of either
// form, for option parsers that walk a dict once.
func IsPassthruKey(key string) bool {
	return len(key) > 4 && (key[:4] == "ppt_" || key[:4] == "enc_")
}

// Set reads one option into p: key is one for which IsPassthruKey holds.
// A value that is not a string is an invalid_argument *Error; an unknown
// ppt_ or enc_ key is ignored, as unknown options are.
func (p *Passthru) Set(key string, v any) error {
	var dst *string
	switch key {
	case "ppt_scheme":
		dst = &p.Scheme
	case "ppt_serializer":
		dst = &p.Serializer
	case "ppt_cipher":
		dst = &p.Cipher
	case "ppt_keyid":
		dst = &p.KeyID
	case "enc_algo":
		dst = &p.EncAlgo
	case "enc_key":
		dst = &p.EncKey
	case "enc_serializer":
		dst = &p.EncSerializer
	default:
		return nil
	}
	if v == nil {
		return nil // null counts as absent (Dict)
	}
	s, ok := v.(string)
	if !ok {
		return NewError(ErrInvalidArgument, "option "+key+" must be a string")
	}
	*dst = s
	return nil
}

// ParsePassthru reads and checks the passthru attributes of d (Options of
// PUBLISH, CALL, YIELD or Details of ERROR). Errors are invalid_argument
// *Errors that say which rule the attributes break. It walks d once and
// allocates nothing when d has none.
func ParsePassthru(d Dict) (Passthru, error) {
	var p Passthru
	for k, v := range d {
		if !IsPassthruKey(k) {
			continue
		}
		if err := p.Set(k, v); err != nil {
			return p, err
		}
	}
	return p, p.Check()
}

// Check applies the rules of the specification to the attributes:
//
//   - ppt_scheme is required once any ppt_* attribute is there; it is "wamp"
//     (end-to-end encryption), "mqtt", or a custom scheme "x_...";
//   - scheme wamp needs ppt_serializer cbor or flatbuffers, and takes
//     ppt_cipher xsalsa20poly1305 or aes256gcm;
//   - scheme mqtt takes ppt_serializer native, json, msgpack or cbor, and
//     no ppt_cipher or ppt_keyid;
//   - a custom scheme takes any strings;
//   - the two forms do not mix;
//   - enc_algo (Autobahn) is cryptobox, mqtt, xbr or "x_...", enc_serializer
//     one of Autobahn's serializers, and both are required with enc_key.
func (p *Passthru) Check() error {
	bad := func(msg string) error { return NewError(ErrInvalidArgument, msg) }
	if p.PPT() {
		if p.EncAlgo != "" || p.EncKey != "" || p.EncSerializer != "" {
			return bad("payload passthru: ppt_* and enc_* options do not mix")
		}
		switch {
		case p.Scheme == "":
			return bad("payload passthru: ppt_scheme is required with the other ppt_* options")
		case p.Scheme == "wamp":
			if p.Serializer != "cbor" && p.Serializer != "flatbuffers" {
				return bad(`payload passthru: ppt_scheme "wamp" needs ppt_serializer "cbor" or "flatbuffers", not ` + quoteOrAbsent(p.Serializer))
			}
			if p.Cipher != "" && p.Cipher != "xsalsa20poly1305" && p.Cipher != "aes256gcm" {
				return bad(`payload passthru: ppt_cipher of ppt_scheme "wamp" must be "xsalsa20poly1305" or "aes256gcm", not ` + quoteOrAbsent(p.Cipher))
			}
		case p.Scheme == "mqtt":
			switch p.Serializer {
			case "", "native", "json", "msgpack", "cbor":
			default:
				return bad(`payload passthru: ppt_serializer of ppt_scheme "mqtt" must be "native", "json", "msgpack" or "cbor", not ` + quoteOrAbsent(p.Serializer))
			}
			if p.Cipher != "" || p.KeyID != "" {
				return bad(`payload passthru: ppt_scheme "mqtt" takes no ppt_cipher or ppt_keyid`)
			}
		case strings.HasPrefix(p.Scheme, "x_") && len(p.Scheme) > 2:
		default:
			return bad(`payload passthru: ppt_scheme must be "wamp", "mqtt" or a custom scheme starting with "x_", not ` + quoteOrAbsent(p.Scheme))
		}
		return nil
	}
	if p.IsZero() {
		return nil
	}
	switch {
	case p.EncAlgo == "":
		return bad("payload transparency: enc_algo is required with enc_key and enc_serializer")
	case p.EncAlgo == "cryptobox", p.EncAlgo == "mqtt", p.EncAlgo == "xbr":
	case strings.HasPrefix(p.EncAlgo, "x_") && len(p.EncAlgo) > 2:
	default:
		return bad(`payload transparency: enc_algo must be "cryptobox", "mqtt", "xbr" or start with "x_", not ` + quoteOrAbsent(p.EncAlgo))
	}
	switch p.EncSerializer {
	case "", "json", "msgpack", "cbor", "ubjson", "opaque", "flatbuffers":
	default:
		return bad("payload transparency: unknown enc_serializer " + quoteOrAbsent(p.EncSerializer))
	}
	return nil
}

func quoteOrAbsent(s string) string {
	if s == "" {
		return "none"
	}
	return `"` + s + `"`
}
