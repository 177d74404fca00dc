package codec

import (
	"errors"
	"fmt"

	"github.com/switchboard/switchboard/wamp"
)

// ErrPassthruPayload is the shape error of CheckPassthru.
var ErrPassthruPayload = errors.New("payload passthru")

// CheckPassthru checks the shape of the payload of a message with payload
// passthru attributes p (advanced/payload_passthru_mode.md, "Message
// Structure"): with ppt_*, Arguments is a list of one binary item and
// ArgumentsKw is absent or empty; with Autobahn's enc_*, the payload is
// one binary in place of Arguments, and nothing follows. An absent payload
// passes (an ERROR need not carry one). The payload is decoded to look,
// never converted: the caller forwards the raw bytes as they came. The
// error wraps ErrPassthruPayload and says what is wrong.
func CheckPassthru(p *wamp.Passthru, args, kwargs wamp.Payload) error {
	if !kwargs.IsZero() {
		v, err := passthruValue(kwargs)
		if err != nil {
			return err
		}
		if d, ok := v.(map[string]any); !ok || len(d) > 0 {
			return shapeErr("ArgumentsKw must be absent or empty")
		}
	}
	if args.IsZero() {
		return nil
	}
	v, err := passthruValue(args)
	if err != nil {
		return err
	}
	if !p.PPT() {
		if _, ok := v.([]byte); !ok {
			return shapeErr("with enc_algo the payload must be one binary in place of Arguments")
		}
		return nil
	}
	l, ok := v.([]any)
	if !ok || len(l) != 1 {
		return shapeErr("Arguments must be a list of one binary item")
	}
	if _, ok := l[0].([]byte); !ok {
		return shapeErr("Arguments must be a list of one binary item")
	}
	return nil
}

func shapeErr(msg string) error {
	return fmt.Errorf("%w: %s", ErrPassthruPayload, msg)
}

// passthruValue returns p's value, decoding its raw bytes if need be
// (without keeping the result in p).
func passthruValue(p wamp.Payload) (any, error) {
	if p.Raw == nil {
		return p.Value, nil
	}
	c := For(p.Ser)
	if c == nil {
		return nil, errMalformed("payload in unknown serialization %v", p.Ser)
	}
	return c.DecodeValue(p.Raw)
}
