package realm

import (
	"github.com/switchboard/switchboard/auth"
	"github.com/switchboard/switchboard/session"
	"github.com/switchboard/switchboard/wamp"
)

// Trust levels (advanced/pubsub_publication_trustlevels.md,
// rpc_call_trustlevels.md): the realm gives each session a trust level,
// which the broker and dealer add to the EVENTs and INVOCATIONs of its
// publications and calls. It comes from the authenticator first (a
// dynamic authenticator's authextra.trustlevel, an integer >= 0), else
// from the session's role (Config.TrustLevels), else there is none and
// the details carry no trustlevel.
//
// A session's level is kept in its member and read under the read lock
// of Realm.mu, once per PUBLISH and CALL, and only while some level is
// configured or given (Realm.trusting): a realm without trust levels pays
// one atomic load per message.

// authTrust returns the trust level an authenticator gave the identity
// (AuthExtra "trustlevel"), if any and valid. An invalid one is logged
// and ignored, as if there were none.
func (r *Realm) authTrust(who *auth.Identity) wamp.TrustLevel {
	v, ok := who.AuthExtra["trustlevel"]
	if !ok || v == nil {
		return 0
	}
	t, ok := wamp.ParseTrustLevel(v)
	if !ok {
		r.log.Warn("authextra trustlevel ignored: not an integer in [0, 2^31)", "authid", who.AuthID, "value", v)
		return 0
	}
	return t
}

// roleTrust returns the trust level of role, none if it has none. r.mu
// must be held (read), or the realm not shared.
func (r *Realm) roleTrustLocked(role string) wamp.TrustLevel {
	if r.roleTrust == nil {
		return 0
	}
	return r.roleTrust[role]
}

// SetTrustLevels replaces the trust levels of roles (a config reload);
// nil or empty: none. Attached sessions whose level comes from their role
// get the new one at once; those whose authenticator gave theirs keep it.
// It panics on a level out of [0, wamp.MaxTrustLevel]: the config loader
// checks them first.
func (r *Realm) SetTrustLevels(levels map[string]int64) {
	m := make(map[string]wamp.TrustLevel, len(levels))
	for role, n := range levels {
		m[role] = wamp.Trust(n)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(m) == 0 {
		m = nil
	}
	r.roleTrust = m
	on := m != nil
	for _, mb := range r.sessions {
		if !mb.authTrust {
			mb.trust = r.roleTrustLocked(mb.s.AuthRole)
		}
		on = on || mb.trust != 0
	}
	r.trusting.Store(on)
}

// trustOf returns the trust level of s's publications and calls.
func (r *Realm) trustOf(s *session.Session) wamp.TrustLevel {
	if !r.trusting.Load() {
		return 0
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	if m := r.sessions[s.ID]; m != nil {
		return m.trust
	}
	return 0
}

// TrustLevel returns the trust level of the attached session id (none:
// false), for tests and the meta API.
func (r *Realm) TrustLevel(id wamp.ID) (int64, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if m := r.sessions[id]; m != nil {
		return m.trust.Level()
	}
	return 0, false
}

// checkPassthruSender aborts a callee that answers with ppt_* options or
// details (YIELD, ERROR) without having announced payload_passthru_mode
// (advanced/payload_passthru_mode.md: a protocol error). The dealer checks
// it too; the realm checks it first because in a cluster the answer to a
// call of another node goes there (Link.Answer), where the callee's
// session is not at hand. m.Details is walked only when it has members.
func checkPassthruSender(s *session.Session, m *wamp.Message) error {
	if len(m.Details) == 0 {
		return nil
	}
	for k := range m.Details {
		if len(k) > 4 && k[:4] == "ppt_" {
			if !s.HasFeature("callee", wamp.FeaturePassthru) {
				return wamp.NewError(wamp.ErrProtocolViolation, m.Type.String()+" with ppt_* options from a callee that did not announce payload_passthru_mode")
			}
			return nil
		}
	}
	return nil
}
