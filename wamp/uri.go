package wamp

import "strings"

// URI is a WAMP URI: a topic, procedure, realm or error.
type URI string

// Error URIs of the basic and advanced profiles.
const (
	ErrInvalidURI             URI = "wamp.error.invalid_uri"
	ErrNoSuchProcedure        URI = "wamp.error.no_such_procedure"
	ErrProcedureAlreadyExists URI = "wamp.error.procedure_already_exists"
	ErrNoSuchRegistration     URI = "wamp.error.no_such_registration"
	ErrNoSuchSubscription     URI = "wamp.error.no_such_subscription"
	ErrInvalidArgument        URI = "wamp.error.invalid_argument"
	ErrSystemShutdown         URI = "wamp.close.system_shutdown"
	ErrCloseRealm             URI = "wamp.close.close_realm"
	ErrGoodbyeAndOut          URI = "wamp.close.goodbye_and_out"
	ErrProtocolViolation      URI = "wamp.error.protocol_violation"
	ErrNotAuthorized          URI = "wamp.error.not_authorized"
	ErrAuthorizationFailed    URI = "wamp.error.authorization_failed"
	ErrNoSuchRealm            URI = "wamp.error.no_such_realm"
	ErrNoSuchRole             URI = "wamp.error.no_such_role"
	ErrCanceled               URI = "wamp.error.canceled"
	ErrTimeout                URI = "wamp.error.timeout"
	ErrPayloadSizeExceeded    URI = "wamp.error.payload_size_exceeded"
	ErrOptionNotAllowed       URI = "wamp.error.option_not_allowed"
	ErrAuthenticationFailed   URI = "wamp.error.authentication_failed"
	ErrNoAuthMethod           URI = "wamp.error.no_auth_method"
	ErrNoAvailableCallee      URI = "wamp.error.no_available_callee"
	ErrFeatureNotSupported    URI = "wamp.error.feature_not_supported"
	CloseKilled               URI = "wamp.close.killed"
	CloseSlowConsumer         URI = "wamp.close.slow_consumer"
	// CloseTokenExpired is the GOODBYE reason of a session closed because
	// the token it joined with expired (a JWT ticket with
	// expire_sessions). Not in the specification, which has no expiring
	// credentials, so in the router's own namespace (as
	// switchboard.error.cluster_unavailable) rather than in wamp.*, which
	// the specification reserves. A client that wants to stay joins again
	// with a fresh token, as a Centrifugo client reconnects after its
	// "expired" disconnect.
	CloseTokenExpired URI = "switchboard.close.token_expired"
)

// Match policies of pattern-based subscriptions and registrations.
const (
	MatchExact    = "exact"
	MatchPrefix   = "prefix"
	MatchWildcard = "wildcard"
)

// ValidURI reports whether u is a valid URI under the loose (strict=false) or
// strict rules of the specification. With empty=true, empty components are
// allowed, as wildcard patterns need; with prefix=true a trailing dot is
// allowed too. Written by hand rather than with regexp because it runs on
// every PUBLISH and CALL.
//
//	loose:  components of any characters but whitespace, '.' and '#'
//	strict: components of [0-9a-z_]
func ValidURI(u URI, strict, empty bool) bool {
	if u == "" {
		return false
	}
	compLen := 0
	for i := 0; i < len(u); i++ {
		c := u[i]
		if c == '.' {
			if compLen == 0 && !empty {
				return false
			}
			compLen = 0
			continue
		}
		if strict {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
				return false
			}
		} else if c == '#' || c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v' {
			return false
		}
		compLen++
	}
	return compLen > 0 || empty
}

// Reserved reports whether u is in the "wamp." namespace that the
// specification reserves for the router and the protocol itself.
func (u URI) Reserved() bool { return strings.HasPrefix(string(u), "wamp.") }

// Meta API URIs the router publishes and registers.
const (
	ErrNoSuchSession URI = "wamp.error.no_such_session"

	MetaSessionOnJoin  URI = "wamp.session.on_join"
	MetaSessionOnLeave URI = "wamp.session.on_leave"
)
