package broker

import (
	"github.com/switchboard/switchboard/wamp"
	"github.com/switchboard/switchboard/wamp/codec"
)

// featurer is a peer that tells what it announced in HELLO (a session).
// Peer does not require it: the broker asks only on the passthru path.
type featurer interface {
	HasFeature(role, feature string) bool
}

// checkPassthru checks a PUBLISH with payload passthru attributes ppt
// (already read and checked by pubOptions.parse) against its publisher
// and its payload. A publisher that did not announce payload_passthru_mode
// but sends ppt_* commits a protocol violation (ErrProtocolViolation);
// Autobahn's older enc_* has no such rule. A payload of the wrong shape
// is invalid_argument. Subscribers are not checked: the specification
// leaves a subscriber without the feature to its own side.
func checkPassthru(p Peer, role string, ppt *wamp.Passthru, m *wamp.Message) error {
	if ppt.PPT() {
		if f, ok := p.(featurer); ok && !f.HasFeature(role, wamp.FeaturePassthru) {
			return wamp.NewError(wamp.ErrProtocolViolation, m.Type.String()+" with ppt_* options from a "+role+" that did not announce payload_passthru_mode")
		}
	}
	if err := codec.CheckPassthru(ppt, m.Args, m.Kwargs); err != nil {
		return wamp.NewError(wamp.ErrInvalidArgument, err.Error())
	}
	return nil
}

// protocolError returns err if it is a protocol violation, else nil: the
// error a handler returns so that the session is aborted.
func protocolError(err error) error {
	if wamp.HasURI(err, wamp.ErrProtocolViolation) {
		return err
	}
	return nil
}
