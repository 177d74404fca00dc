package config

import (
	"fmt"

	"github.com/switchboard/switchboard/wamp"
)

// The realms: section; authentication and roles are in auth.go.

var (
	realmKeys = []string{"name", "strict_uris", "disclose_publisher", "disclose_caller", "retained_topics", "retained_bytes", "history",
		"auth", "roles", "authorizer"}
	historyKeys = []string{"topic", "match", "limit"}
)

// Realm is one realm the router serves.
type Realm struct {
	// Name must be a valid loose URI and unique among realms.
	Name wamp.URI
	// StrictURIs makes the realm check topic and procedure URIs under the
	// strict rules ([0-9a-z_] components) rather than the loose ones.
	StrictURIs bool
	// DisclosePublisher is the publisher identification policy: "" or
	// DiscloseClient (the publisher decides with disclose_me),
	// DiscloseAlways, or DiscloseNever (disclose_me is refused with
	// wamp.error.option_disallowed.disclose_me).
	DisclosePublisher string
	// DiscloseCaller is the same policy for callers.
	DiscloseCaller string
	// RetainedTopics bounds the topics with a retained event. Zero value:
	// 10000.
	RetainedTopics int
	// RetainedBytes bounds the payload bytes of retained events. Zero
	// value: 64 MiB.
	RetainedBytes int
	// History lists the topics whose last events are kept for
	// wamp.subscription.get_events.
	History []History
	// Auth lists the authentication methods, tried in order. Zero value:
	// anonymous access only, under the role "anonymous", as a Crossbar.io
	// starter node. An anonymous method must be listed to keep anonymous
	// access next to others.
	Auth []AuthMethod
	// Roles are the static permissions of each role. Zero value (and no
	// Authorizer): every session may do everything. With Roles, an action
	// no permission allows gets wamp.error.not_authorized.
	Roles []Role
	// Authorizer is a dynamic authorizer, asked for every role that Roles
	// does not list.
	Authorizer *Dynamic
}

// Disclosure policies (Realm.DisclosePublisher, Realm.DiscloseCaller).
const (
	DiscloseClient = "client"
	DiscloseAlways = "always"
	DiscloseNever  = "never"
)

// History keeps the last Limit events of the publications that match
// Topic under Match ("exact", "prefix" or "wildcard"; zero value exact).
type History struct {
	Topic wamp.URI
	Match string
	Limit int
}

func (d *decoder) realms(me entry) []Realm {
	items, ok := d.list(me.val, me.path)
	if ok && len(items) == 0 {
		d.failf(me.val, me.path, ErrNoRealms, "no realms: give at least one, or drop the key for the default realm1")
	}
	rs := make([]Realm, len(items))
	for i, item := range items {
		path := fmt.Sprintf("%s[%d]", me.path, i)
		es, _ := d.mapping(item, path)
		for _, e := range es {
			switch e.name {
			case "name":
				s, _ := d.str(e.val, e.path)
				rs[i].Name = wamp.URI(s)
			case "strict_uris":
				rs[i].StrictURIs = d.boolean(e.val, e.path)
			case "disclose_publisher":
				rs[i].DisclosePublisher, _ = d.str(e.val, e.path)
			case "disclose_caller":
				rs[i].DiscloseCaller, _ = d.str(e.val, e.path)
			case "retained_topics":
				rs[i].RetainedTopics = d.integer(e.val, e.path)
			case "retained_bytes":
				rs[i].RetainedBytes = d.size(e.val, e.path)
			case "history":
				rs[i].History = d.history(e)
			case "auth":
				rs[i].Auth = d.authMethods(e)
			case "roles":
				rs[i].Roles = d.roles(e)
			case "authorizer":
				rs[i].Authorizer = d.dynamic(e, true)
			default:
				d.unknown(e, path, realmKeys)
			}
		}
	}
	return rs
}

func (d *decoder) history(me entry) []History {
	return records(d, me, func(r *History, e entry, path string) {
		switch e.name {
		case "topic":
			s, _ := d.str(e.val, e.path)
			r.Topic = wamp.URI(s)
		case "match":
			r.Match, _ = d.str(e.val, e.path)
		case "limit":
			r.Limit = d.integer(e.val, e.path)
		default:
			d.unknown(e, path, historyKeys)
		}
	})
}

func (v *validator) realms() {
	if len(v.c.Realms) == 0 {
		v.failf("realms", ErrNoRealms, "no realms")
		return
	}
	first := make(map[wamp.URI]string, len(v.c.Realms))
	names := make(map[wamp.URI]bool, len(v.c.Realms))
	for _, r := range v.c.Realms {
		names[r.Name] = true
	}
	for i := range v.c.Realms {
		v.authRealm(i, &v.c.Realms[i], names)
	}
	for i, r := range v.c.Realms {
		path := fmt.Sprintf("realms[%d].name", i)
		switch {
		case r.Name == "":
			v.failf(path, ErrMissing, "missing realm name")
		case !wamp.ValidURI(r.Name, false, false):
			v.failf(path, ErrBadRealm, "bad realm name %q: want a URI such as \"realm1\" or \"com.example.app\"", r.Name)
		case first[r.Name] != "":
			v.failf(path, ErrDuplicateRealm, "duplicate realm %q (%s)", r.Name, v.first(first[r.Name]))
		default:
			first[r.Name] = path
		}
		base := fmt.Sprintf("realms[%d]", i)
		for _, kv := range [...][2]string{{"disclose_publisher", r.DisclosePublisher}, {"disclose_caller", r.DiscloseCaller}} {
			switch kv[1] {
			case "", DiscloseClient, DiscloseAlways, DiscloseNever:
			default:
				v.failf(base+"."+kv[0], ErrBadDisclose, "bad %s %q: want client, always or never", kv[0], kv[1])
			}
		}
		if r.RetainedTopics < 0 {
			v.failf(base+".retained_topics", ErrBadNumber, "retained_topics must not be negative")
		}
		if r.RetainedBytes != 0 {
			v.size(base+".retained_bytes", r.RetainedBytes)
		}
		seen := map[History]string{}
		for j, h := range r.History {
			hp := fmt.Sprintf("%s.history[%d]", base, j)
			match := h.Match
			if match == "" {
				match = wamp.MatchExact
			}
			switch {
			case match != wamp.MatchExact && match != wamp.MatchPrefix && match != wamp.MatchWildcard:
				v.failf(hp+".match", ErrBadHistory, "bad match %q: want exact, prefix or wildcard", h.Match)
			case h.Topic == "" && match != wamp.MatchPrefix,
				h.Topic != "" && !wamp.ValidURI(h.Topic, r.StrictURIs, match != wamp.MatchExact):
				v.failf(hp+".topic", ErrBadHistory, "bad topic %q for match %s", h.Topic, match)
			case h.Limit <= 0:
				v.failf(hp+".limit", ErrBadHistory, "limit must be a positive number of events")
			case seen[History{Topic: h.Topic, Match: match}] != "":
				v.failf(hp, ErrBadHistory, "%s %q is listed twice (%s)", match, h.Topic, v.first(seen[History{Topic: h.Topic, Match: match}]))
			default:
				seen[History{Topic: h.Topic, Match: match}] = hp
			}
		}
	}
}
