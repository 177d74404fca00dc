package config

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/switchboard/switchboard/wamp"
)

// The HTTP bridge of a websocket transport: web backends publish and call
// through POST /publish and /call, webhooks become events, and events are
// POSTed to HTTP subscribers (package bridge).

// ErrBridge is the sentinel of the bridge's settings, for errors.Is.
var ErrBridge = errors.New("bad bridge setting")

// Values of Bridge.Unsigned.
const (
	UnsignedNone     = "none"
	UnsignedLoopback = "loopback"
	UnsignedAny      = "any"
)

// Bridge configures the HTTP bridge on a websocket transport.
type Bridge struct {
	// Realm is the realm the bridge publishes and calls in. Required.
	Realm wamp.URI
	// AuthID and Role are the identity of unsigned requests, webhooks and
	// HTTP subscribers. Zero values: "http-bridge", "anonymous".
	AuthID, Role string
	// Publish and Call are the paths of the publisher and the caller; ""
	// leaves one out.
	Publish, Call string
	// Unsigned says who may send unsigned requests: UnsignedNone (zero
	// value), UnsignedLoopback or UnsignedAny.
	Unsigned string
	// Keys sign requests; each acts as authid Key with its Role.
	Keys []BridgeKey
	// MaxBody bounds a request body. Zero value: 1MiB.
	MaxBody int
	// TimestampWindow is how far a signed request's timestamp may be from
	// the router's clock. Zero value: 5m, as Crossbar.io.
	TimestampWindow time.Duration
	// MaxNonces bounds the nonces remembered against replay, which is
	// also the most signed requests accepted per TimestampWindow. Zero
	// value: 1048576 (about 24 MiB at most).
	MaxNonces int
	// CallTimeout bounds a /call. Zero value: 30s.
	CallTimeout time.Duration
	// Webhooks publish what is POSTed to a path.
	Webhooks []BridgeWebhook
	// Subscribers POST events to URLs.
	Subscribers []BridgeSubscriber
}

// BridgeKey is one signing key.
type BridgeKey struct {
	Key    string
	Secret *Secret // plain, env or file: HMAC needs the secret itself
	// Role of the key's session. Zero value: the bridge's Role.
	Role string
}

// BridgeWebhook publishes each POST to Path on Topic, with the request's
// Headers that are listed.
type BridgeWebhook struct {
	Path    string
	Topic   wamp.URI
	Headers []string
}

// BridgeSubscriber POSTs each event of Topic (under Match) to URL.
type BridgeSubscriber struct {
	Topic wamp.URI
	Match string
	URL   string
	// Timeout bounds one POST (zero: 5s); Retries is how often a failed
	// one is tried again (zero: never), the first after Backoff (zero:
	// 500ms), doubling; Queue bounds the events waiting (zero: 1000).
	Timeout time.Duration
	Retries int
	Backoff time.Duration
	Queue   int
}

var (
	bridgeKeys           = []string{"realm", "authid", "role", "publish", "call", "unsigned", "keys", "max_body", "timestamp_window", "max_nonces", "call_timeout", "webhooks", "subscribers"}
	bridgeKeyKeys        = []string{"key", "secret", "role"}
	bridgeWebhookKeys    = []string{"path", "topic", "headers"}
	bridgeSubscriberKeys = []string{"topic", "match", "url", "timeout", "retries", "backoff", "queue"}
)

func (d *decoder) bridge(me entry) *Bridge {
	b := &Bridge{}
	es, ok := d.mapping(me.val, me.path)
	if !ok {
		return nil
	}
	for _, e := range es {
		switch e.name {
		case "realm":
			s, _ := d.str(e.val, e.path)
			b.Realm = wamp.URI(s)
		case "authid":
			b.AuthID, _ = d.str(e.val, e.path)
		case "role":
			b.Role, _ = d.str(e.val, e.path)
		case "publish":
			b.Publish, _ = d.str(e.val, e.path)
		case "call":
			b.Call, _ = d.str(e.val, e.path)
		case "unsigned":
			b.Unsigned, _ = d.str(e.val, e.path)
		case "keys":
			b.Keys = d.bridgeKeys(e)
		case "max_body":
			b.MaxBody = d.size(e.val, e.path)
		case "timestamp_window":
			b.TimestampWindow = d.duration(e.val, e.path)
		case "max_nonces":
			b.MaxNonces = d.integer(e.val, e.path)
		case "call_timeout":
			b.CallTimeout = d.duration(e.val, e.path)
		case "webhooks":
			b.Webhooks = d.bridgeWebhooks(e)
		case "subscribers":
			b.Subscribers = d.bridgeSubscribers(e)
		default:
			d.unknown(e, me.path, bridgeKeys)
		}
	}
	return b
}

func (d *decoder) bridgeKeys(me entry) []BridgeKey {
	return records(d, me, func(r *BridgeKey, e entry, path string) {
		switch e.name {
		case "key":
			r.Key, _ = d.str(e.val, e.path)
		case "secret":
			r.Secret = d.secret(e)
		case "role":
			r.Role, _ = d.str(e.val, e.path)
		default:
			d.unknown(e, path, bridgeKeyKeys)
		}
	})
}

func (d *decoder) bridgeWebhooks(me entry) []BridgeWebhook {
	return records(d, me, func(r *BridgeWebhook, e entry, path string) {
		switch e.name {
		case "path":
			r.Path, _ = d.str(e.val, e.path)
		case "topic":
			s, _ := d.str(e.val, e.path)
			r.Topic = wamp.URI(s)
		case "headers":
			r.Headers = d.strings(e)
		default:
			d.unknown(e, path, bridgeWebhookKeys)
		}
	})
}

func (d *decoder) bridgeSubscribers(me entry) []BridgeSubscriber {
	return records(d, me, func(s *BridgeSubscriber, e entry, path string) {
		switch e.name {
		case "topic":
			t, _ := d.str(e.val, e.path)
			s.Topic = wamp.URI(t)
		case "match":
			s.Match, _ = d.str(e.val, e.path)
		case "url":
			s.URL, _ = d.str(e.val, e.path)
		case "timeout":
			s.Timeout = d.duration(e.val, e.path)
		case "retries":
			s.Retries = d.integer(e.val, e.path)
		case "backoff":
			s.Backoff = d.duration(e.val, e.path)
		case "queue":
			s.Queue = d.integer(e.val, e.path)
		default:
			d.unknown(e, path, bridgeSubscriberKeys)
		}
	})
}

// bridge checks a transport's bridge settings.
func (v *validator) bridge(t *Transport, path string) {
	b := t.Bridge
	if b == nil {
		return
	}
	path += ".bridge"
	if t.Type != WebSocket {
		v.failf(path, ErrNotAllowed, "bridge is for websocket transports only")
		return
	}
	var realm *Realm
	for i := range v.c.Realms {
		if v.c.Realms[i].Name == b.Realm {
			realm = &v.c.Realms[i]
		}
	}
	switch {
	case b.Realm == "":
		v.failf(path+".realm", ErrMissing, "missing realm: the bridge publishes and calls in one of the realms")
	case realm == nil:
		v.failf(path+".realm", ErrBridge, "no realm %q in realms", b.Realm)
	}
	v.bridgeRole(path+".role", b.Role, realm)
	paths := map[string]string{t.Path: path[:strings.LastIndex(path, ".")] + ".path"}
	for p, what := range v.reservedPaths(t) {
		paths[p] = reserved + what
	}
	v.bridgePath(path+".publish", b.Publish, paths)
	v.bridgePath(path+".call", b.Call, paths)
	switch b.Unsigned {
	case "", UnsignedNone, UnsignedLoopback, UnsignedAny:
	default:
		v.failf(path+".unsigned", ErrBridge, "unknown value %q: want none, loopback or any", b.Unsigned)
	}
	if b.Unsigned == UnsignedNone && len(b.Keys) == 0 && (b.Publish != "" || b.Call != "") {
		v.failf(path+".keys", ErrBridge, "no keys, and unsigned requests are refused: no one could use %s", strings.Trim(b.Publish+" "+b.Call, " "))
	}
	seen := map[string]string{}
	for i, k := range b.Keys {
		kp := fmt.Sprintf("%s.keys[%d]", path, i)
		switch {
		case k.Key == "":
			v.failf(kp+".key", ErrMissing, "missing key name")
		case seen[k.Key] != "":
			v.failf(kp+".key", ErrBridge, "duplicate key %q (%s)", k.Key, v.first(seen[k.Key]))
		default:
			seen[k.Key] = kp + ".key"
		}
		if k.Secret == nil {
			v.failf(kp+".secret", ErrMissing, "missing secret")
		} else {
			v.secretNoHash(kp+".secret", k.Secret)
		}
		v.bridgeRole(kp+".role", k.Role, realm)
	}
	v.size(path+".max_body", b.MaxBody)
	if b.TimestampWindow < 0 {
		v.failf(path+".timestamp_window", ErrBadDuration, "must not be negative")
	}
	if b.CallTimeout < 0 {
		v.failf(path+".call_timeout", ErrBadDuration, "must not be negative")
	}
	for i, h := range b.Webhooks {
		hp := fmt.Sprintf("%s.webhooks[%d]", path, i)
		if h.Path == "" {
			v.failf(hp+".path", ErrMissing, "missing path")
		} else {
			v.bridgePath(hp+".path", h.Path, paths)
		}
		v.bridgeTopic(hp+".topic", h.Topic, wamp.MatchExact)
	}
	for i, s := range b.Subscribers {
		sp := fmt.Sprintf("%s.subscribers[%d]", path, i)
		match := s.Match
		switch match {
		case "":
			match = wamp.MatchExact
		case wamp.MatchExact, wamp.MatchPrefix, wamp.MatchWildcard:
		default:
			v.failf(sp+".match", ErrBridge, "bad match %q: want exact, prefix or wildcard", s.Match)
		}
		v.bridgeTopic(sp+".topic", s.Topic, match)
		if u, err := url.Parse(s.URL); s.URL == "" {
			v.failf(sp+".url", ErrMissing, "missing url")
		} else if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			v.failf(sp+".url", ErrBridge, "bad url %q: want http:// or https:// with a host", s.URL)
		}
		for _, d := range []struct {
			key string
			d   time.Duration
		}{{"timeout", s.Timeout}, {"backoff", s.Backoff}} {
			if d.d < 0 {
				v.failf(sp+"."+d.key, ErrBadDuration, "must not be negative")
			}
		}
	}
}

func (v *validator) bridgeTopic(path string, topic wamp.URI, match string) {
	switch {
	case topic == "":
		v.failf(path, ErrMissing, "missing topic")
	case !wamp.ValidURI(topic, false, match != wamp.MatchExact):
		v.failf(path, ErrBridge, "bad topic %q for match %s", topic, match)
	}
}

// reserved marks, in the map of taken paths, one that another service of
// the listener holds rather than a config key.
const reserved = "\x00"

// reservedPaths returns the paths the router mounts on t's listener next to
// the bridge, and what serves each: http.ServeMux panics at start on a
// second handler for one pattern, so a clash must be a config error.
func (v *validator) reservedPaths(t *Transport) map[string]string {
	r := map[string]string{"/healthz": "the health check", "/readyz": "the readiness check"}
	if m := &v.c.Metrics; m.Listen == "" {
		r["/status"] = "the status endpoint (metrics.listen is empty)"
		if !m.Disabled {
			r[m.MetricsPath()] = "the metrics endpoint (metrics.listen is empty)"
		}
	}
	if t.Static != "" {
		r[StaticRoot] = "the static files (static)"
	}
	if t.LongPollEnabled() {
		r[t.LongPoll.Path] = "the long-poll endpoint (longpoll)"
	}
	return r
}

// bridgePath checks one path of the bridge and that no two clash.
func (v *validator) bridgePath(path, p string, seen map[string]string) {
	if p == "" {
		return
	}
	if !strings.HasPrefix(p, "/") || strings.ContainsAny(p, "?#{} \t\r\n") {
		v.failf(path, ErrBadPath, "bad path %q: want an HTTP path starting with \"/\"", p)
		return
	}
	if first, dup := seen[p]; dup {
		if what, ok := strings.CutPrefix(first, reserved); ok {
			v.failf(path, ErrBadPath, "path %q is taken by %s on this listener", p, what)
			return
		}
		v.failf(path, ErrBadPath, "path %q is taken (%s)", p, v.first(first))
		return
	}
	seen[p] = path
}

// bridgeRole checks that role, when given, is one the realm knows: with
// static roles and no dynamic authorizer, another would be refused
// everything.
func (v *validator) bridgeRole(path, role string, r *Realm) {
	if role == "" || r == nil || r.Roles == nil || r.Authorizer != nil {
		return
	}
	for _, x := range r.Roles {
		if x.Name == role {
			return
		}
	}
	v.failf(path, ErrRole, "no role %q in realm %s", role, r.Name)
}

// secretNoHash checks a secret that must be usable as a key.
func (v *validator) secretNoHash(path string, s *Secret) {
	if s.Bcrypt != "" || s.Argon2id != "" {
		v.failf(path, ErrSecret, "a bridge key signs with the secret itself, so it cannot be a hash")
		return
	}
	v.secret(path, s, false)
}
