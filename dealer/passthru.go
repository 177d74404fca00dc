package dealer

import (
	"github.com/switchboard/switchboard/wamp"
	"github.com/switchboard/switchboard/wamp/codec"
)

// Payload passthru mode (advanced/payload_passthru_mode.md): the dealer
// forwards the ppt_* attributes of CALL, YIELD and ERROR, and Autobahn's
// older enc_*, in INVOCATION, RESULT and ERROR details, with the payload
// passed through as it is everywhere.

// checkPassthru checks a message with passthru attributes ppt (already
// read and checked by wamp.ParsePassthru) that from, in role fromRole,
// sends to to, in role toRole (nil: a procedure of the router itself):
//
//   - ppt_* from a peer that did not announce payload_passthru_mode is a
//     protocol violation (ErrProtocolViolation: the session is aborted);
//     Autobahn's enc_* has no such rule;
//   - a payload of the wrong shape is invalid_argument;
//   - a receiver that did not announce the feature (payload_transparency
//     for enc_*), or the router's own procedure, which reads no such
//     payload, is feature_not_supported.
func checkPassthru(from, to Peer, fromRole, toRole string, ppt *wamp.Passthru, m *wamp.Message) error {
	if ppt.PPT() && !from.HasFeature(fromRole, wamp.FeaturePassthru) {
		return wamp.NewError(wamp.ErrProtocolViolation, m.Type.String()+" with ppt_* options from a "+fromRole+" that did not announce payload_passthru_mode")
	}
	if err := codec.CheckPassthru(ppt, m.Args, m.Kwargs); err != nil {
		return wamp.NewError(wamp.ErrInvalidArgument, err.Error())
	}
	if to == nil || !to.HasFeature(toRole, ppt.Feature()) {
		return wamp.NewError(wamp.ErrFeatureNotSupported, "the "+toRole+" does not support "+ppt.Feature())
	}
	return nil
}

// passthruDetails returns RESULT or INVOCATION details for a progressive
// message (progress) with attributes ppt: the shared progressDetails
// without any.
func passthruDetails(progress bool, ppt *wamp.Passthru) wamp.Dict {
	if ppt.IsZero() {
		if progress {
			return progressDetails
		}
		return nil
	}
	d := make(wamp.Dict, 1+ppt.Len())
	if progress {
		d["progress"] = true
	}
	ppt.AddTo(d)
	return d
}
