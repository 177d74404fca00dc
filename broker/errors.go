package broker

import (
	"errors"

	"github.com/switchboard/switchboard/wamp"
)

// ErrOptionDisallowedDiscloseMe is the error URI the specification gives a
// Broker that refuses a publisher's disclose_me (Publisher Identification);
// Crossbar.io answers the same way. The wamp package has only the generic
// option_not_allowed, which clients do not associate with disclosure.
const ErrOptionDisallowedDiscloseMe wamp.URI = "wamp.error.option_disallowed.disclose_me"

// Sentinel errors of GetEvents and Config.Validate.
var (
	// ErrNoSuchSubscription is returned for an unknown subscription id;
	// it is a *wamp.Error so the meta API can send it as it is.
	ErrNoSuchSubscription = wamp.NewError(wamp.ErrNoSuchSubscription, "no such subscription")
	// ErrNoHistory is returned by GetEvents for a subscription that keeps
	// no event history (no Config.History rule created it).
	ErrNoHistory = wamp.NewError(wamp.ErrInvalidArgument, "the subscription keeps no event history")
	// ErrConfig is wrapped by every error of Config.Validate.
	ErrConfig = errors.New("broker: invalid config")
)

// ConfigError is an invalid Config field.
type ConfigError struct {
	Field string
	Msg   string
}

func (e *ConfigError) Error() string { return "broker: config " + e.Field + ": " + e.Msg }

// Unwrap makes errors.Is(err, ErrConfig) true.
func (e *ConfigError) Unwrap() error { return ErrConfig }
