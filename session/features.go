package session

import "github.com/switchboard/switchboard/wamp"

// features is the set of (role, feature) pairs a peer announced as true in
// HELLO, as bits of knownFeatures. The session keeps this word rather than
// the decoded HELLO details, which cost about a kilobyte per session for
// the few lookups the broker and dealer make.
type features uint64

// knownFeatures lists the client features of the Advanced Profile by role.
// A feature not listed here reads as not announced.
var knownFeatures = map[string]map[string]uint{}

func init() {
	roles := []struct {
		role     string
		features []string
	}{
		{"caller", []string{"progressive_call_results", "progressive_call_invocations", "call_timeout",
			"call_canceling", "call_cancelling", "caller_identification", "payload_transparency", "payload_passthru_mode"}},
		{"callee", []string{"progressive_call_results", "progressive_call_invocations", "call_timeout",
			"call_canceling", "call_cancelling", "caller_identification", "call_trustlevels",
			"pattern_based_registration", "shared_registration", "payload_transparency", "payload_passthru_mode"}},
		{"publisher", []string{"publisher_identification", "subscriber_blackwhite_listing", "publisher_exclusion",
			"payload_transparency", "payload_passthru_mode"}},
		{"subscriber", []string{"publisher_identification", "publication_trustlevels", "pattern_based_subscription",
			"subscription_revocation", "event_history", "payload_transparency", "payload_passthru_mode"}},
	}
	var bit uint
	for _, r := range roles {
		m := make(map[string]uint, len(r.features))
		for _, f := range r.features {
			m[f] = bit
			bit++
		}
		knownFeatures[r.role] = m
	}
	if bit > 64 {
		panic("session: more known features than bits")
	}
}

// announcedFeatures reads HELLO.Details.roles.<role>.features.
func announcedFeatures(details wamp.Dict) features {
	var fs features
	roles, _ := details["roles"].(map[string]any)
	for role, known := range knownFeatures {
		r, _ := roles[role].(map[string]any)
		announced, _ := r["features"].(map[string]any)
		for name, bit := range known {
			if v, _ := announced[name].(bool); v {
				fs |= 1 << bit
			}
		}
	}
	return fs
}

func (fs features) has(role, feature string) bool {
	bit, ok := knownFeatures[role][feature]
	return ok && fs&(1<<bit) != 0
}
