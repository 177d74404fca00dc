package realm

import (
	"github.com/switchboard/switchboard/auth"
	"github.com/switchboard/switchboard/dealer"
	"github.com/switchboard/switchboard/wamp"
)

// Counter counts what a realm routes (the metrics hook): the PUBLISH messages
// it accepts (after authorization) and, through the dealer, its calls.
// Implementations must be cheap and safe for concurrent use.
type Counter interface {
	dealer.Observer
	EventPublished(publisher wamp.ID)
}

// access is what decides who may join and what they may do; it is
// replaced whole, so that a session never sees the new roles with the old
// principals.
type access struct {
	set   *auth.Set
	authz auth.Authorizer // nil: everything allowed
}

// SetAccess replaces the realm's authentication methods and authorizer
// (nil set: anonymous only; nil authorizer: everything allowed), as a
// config reload does. Sessions stay: those attached keep their identity,
// and their next action is checked against the new authorizer (a role that
// is gone is allowed nothing); handshakes under way finish with the set
// they started with.
func (r *Realm) SetAccess(set *auth.Set, authz auth.Authorizer) {
	if set == nil {
		set = auth.NewSet(auth.SetConfig{Logger: r.log})
	}
	r.access.Store(&access{set: set, authz: authz})
}
