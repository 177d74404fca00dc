package dealer

import (
	"errors"

	"github.com/switchboard/switchboard/wamp"
)

// ErrTooLarge is what a Peer's Send wraps when the message exceeds what the
// peer accepts; the dealer answers it with wamp.error.payload_size_exceeded.
// The session package's ErrTooLarge is wired to it by the realm.
var ErrTooLarge = errors.New("message too large for peer")

// ErrLocalExists is returned by RegisterLocal for a URI that is taken.
var ErrLocalExists = errors.New("dealer: procedure already registered")

// ErrLocalURI is returned by RegisterLocal for an invalid URI.
var ErrLocalURI = errors.New("dealer: invalid procedure URI")

// Error URIs of the advanced profile that only the dealer sends. They live
// here rather than in wamp because no other package answers with them.
const (
	// ErrDifferentInvocationPolicy answers a REGISTER whose invoke option
	// differs from that of the shared registration it would join (the URI
	// Crossbar.io uses; the specification names no URI).
	ErrDifferentInvocationPolicy wamp.URI = "wamp.error.procedure_exists_with_different_invocation_policy"
	// ErrDiscloseMeDisallowed answers a CALL with disclose_me when the realm
	// forbids disclosure (advanced/uris.md).
	ErrDiscloseMeDisallowed wamp.URI = "wamp.error.option_disallowed.disclose_me"
	// ErrRuntime answers a CALL whose local (router-side) procedure failed
	// with an error that is not a *wamp.Error.
	ErrRuntime wamp.URI = "wamp.error.runtime_error"
)
