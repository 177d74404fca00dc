package session

import (
	"fmt"

	"github.com/switchboard/switchboard/wamp"
)

// unportable rate-limits the log line of refused messages: a client that
// builds its strings wrong sends every message so.
var unportable warnLimit

// refuseUnportable handles a message that decoded but that the codec
// refused because not every serializer could carry its options or payload
// (codec.ErrNotPortable). Delivering it would reach only the peers that
// share the sender's serializer. The specification lets a router that
// validates payloads answer wamp.error.invalid_argument, and the session
// stays: the frame was well formed, so this is bad data, not a broken
// peer. PUBLISH, CALL, SUBSCRIBE, REGISTER and CANCEL are answered here (a
// PUBLISH only when acknowledged, as every refused publication; a CANCEL
// as the dealer answers one whose mode it cannot read). A callee's YIELD or ERROR becomes an ERROR
// wamp.error.invalid_argument for the INVOCATION, so that the dealer ends
// the call and the caller learns why; refuseUnportable then reports true
// and the message goes on to the handler like any other. Other types
// report true unchanged, for the reader to take or refuse as it does
// anyway (a GOODBYE's details are not read).
func (s *Session) refuseUnportable(m *wamp.Message, cause error) (forward bool) {
	msg := cause.Error()
	if ok, suppressed := unportable.allow(); ok {
		s.log.Info("message refused", "type", m.Type.String(), "error", msg, "suppressed", suppressed)
	}
	switch m.Type {
	case wamp.PUBLISH:
		if wamp.Bool(m.Details, "acknowledge", false) {
			s.refuse(m, msg)
		}
		return false
	case wamp.CALL, wamp.SUBSCRIBE, wamp.REGISTER, wamp.CANCEL:
		s.refuse(m, msg)
		return false
	case wamp.YIELD:
		m.Type, m.ErrType = wamp.ERROR, wamp.INVOCATION
	case wamp.ERROR:
		msg = fmt.Sprintf("%s (the callee's error was %s)", msg, m.URI)
	default:
		return true
	}
	m.URI, m.Details = wamp.ErrInvalidArgument, wamp.Dict{"message": msg}
	return true
}

func (s *Session) refuse(m *wamp.Message, msg string) {
	_ = s.Send(&wamp.Message{Type: wamp.ERROR, ErrType: m.Type, Request: m.Request,
		URI: wamp.ErrInvalidArgument, Details: wamp.Dict{"message": msg}})
}
