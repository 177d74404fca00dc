package bridge

import (
	"errors"
	"net/http"

	"github.com/switchboard/switchboard/wamp"
)

// Errors of the Peer.
var (
	// ErrClosed: the peer's session has ended (router shutdown, ABORT).
	ErrClosed = errors.New("bridge: session closed")
	// ErrNotJoined: the peer has not been welcomed into its realm yet.
	ErrNotJoined = errors.New("bridge: session not joined")
	// ErrBadMessage: the request cannot be made a WAMP message the router
	// takes (a payload the router's JSON rejects).
	ErrBadMessage = errors.New("bridge: bad message")
)

// Error URIs the bridge answers bad requests with. They name the problem so
// that a client can tell them apart without parsing the message.
const (
	ErrMethodNotAllowed  wamp.URI = "switchboard.bridge.method_not_allowed"
	ErrUnsupportedMedia  wamp.URI = "switchboard.bridge.unsupported_media_type"
	ErrBodyTooLarge      wamp.URI = "switchboard.bridge.body_too_large"
	ErrMalformedJSON     wamp.URI = "switchboard.bridge.malformed_json"
	ErrMissingTopic      wamp.URI = "switchboard.bridge.missing_topic"
	ErrMissingProcedure  wamp.URI = "switchboard.bridge.missing_procedure"
	ErrBadPayload        wamp.URI = "switchboard.bridge.bad_payload"
	ErrSignatureRequired wamp.URI = "switchboard.bridge.signature_required"
	ErrUnknownKey        wamp.URI = "switchboard.bridge.unknown_key"
	ErrBadSignature      wamp.URI = "switchboard.bridge.bad_signature"
	ErrBadTimestamp      wamp.URI = "switchboard.bridge.bad_timestamp"
	ErrStaleTimestamp    wamp.URI = "switchboard.bridge.stale_timestamp"
	ErrBadSeq            wamp.URI = "switchboard.bridge.bad_seq"
	ErrBadNonce          wamp.URI = "switchboard.bridge.bad_nonce"
	ErrReplayedNonce     wamp.URI = "switchboard.bridge.replayed_nonce"
	ErrUnavailable       wamp.URI = "switchboard.bridge.unavailable"
	ErrBridgeTimeout     wamp.URI = "switchboard.bridge.timeout"
)

// problem is a request the bridge refuses: an HTTP status and a WAMP-style
// error URI with a message for people.
type problem struct {
	status int
	uri    wamp.URI
	msg    string
}

func (p *problem) Error() string { return string(p.uri) + ": " + p.msg }

func refuse(status int, uri wamp.URI, msg string) *problem {
	return &problem{status: status, uri: uri, msg: msg}
}

// wampStatus maps a WAMP error from the router or a callee to an HTTP
// status, in one table. An error the router does not define is an
// application error of the callee: 502, the backend behind the bridge
// answered with a failure.
func wampStatus(uri wamp.URI) int {
	switch uri {
	case wamp.ErrInvalidURI, wamp.ErrInvalidArgument, wamp.ErrOptionNotAllowed, wamp.ErrProtocolViolation:
		return http.StatusBadRequest
	case wamp.ErrNotAuthorized, wamp.ErrAuthorizationFailed:
		return http.StatusForbidden
	case wamp.ErrNoSuchProcedure:
		return http.StatusNotFound
	case wamp.ErrPayloadSizeExceeded:
		return http.StatusRequestEntityTooLarge
	case wamp.ErrNoAvailableCallee, wamp.ErrSystemShutdown:
		return http.StatusServiceUnavailable
	case wamp.ErrTimeout, wamp.ErrCanceled:
		return http.StatusGatewayTimeout
	}
	if len(uri) > len("wamp.error.option_disallowed") && uri[:len("wamp.error.option_disallowed")] == "wamp.error.option_disallowed" {
		return http.StatusBadRequest
	}
	return http.StatusBadGateway
}
