package broker

import (
	"fmt"
	"log/slog"

	"github.com/switchboard/switchboard/wamp"
)

// Values of Config.Disclose.
const (
	// DiscloseClient discloses the publisher when PUBLISH asks with
	// disclose_me: true.
	DiscloseClient = ""
	// DiscloseAlways discloses every publisher, asked or not (the
	// specification lets a Broker do so by configuration).
	DiscloseAlways = "always"
	// DiscloseNever refuses disclose_me: true with ERROR
	// wamp.error.option_disallowed.disclose_me, as the specification's
	// example and Crossbar.io do, rather than dropping the request
	// silently: a publisher that asked to be identified learns it is not.
	DiscloseNever = "never"
)

// Defaults for the zero values of Config.
const (
	DefaultMaxRetained      = 10000
	DefaultMaxRetainedBytes = 64 << 20
	DefaultMatchCache       = 1024
)

// Config configures a Broker.
type Config struct {
	// StrictURIs checks topics with the strict URI rules. Zero value: loose.
	StrictURIs bool
	// IDs numbers subscriptions. Share one across the router so that ids
	// are of router scope. Nil means a broker-local generator.
	IDs *wamp.IDGen
	// Logger for encoding failures. Nil means discard.
	Logger *slog.Logger

	// Remote, when set, is the cluster link (broker/remote.go): PUBLISHes
	// whose event some subscriber on another node takes are forwarded to
	// it. Nil: a node alone, and no publication pays for the cluster.
	Remote Remote
	// IDFor, when set, numbers subscriptions by what they are, so that
	// every node of a cluster gives (topic, match) the same id. Nil: IDs.
	IDFor func(topic wamp.URI, match string) wamp.ID

	// Disclose is the realm's publisher-disclosure policy: DiscloseClient
	// (zero value: the publisher decides with disclose_me),
	// DiscloseAlways or DiscloseNever.
	Disclose string

	// MaxRetained bounds the number of topics with a retained event. Once
	// it is reached, retain: true on a topic that has no retained event
	// yet is ignored (the specification lets a Broker decline retention);
	// topics that already have one keep being updated. Zero value means
	// DefaultMaxRetained (10000) topics.
	MaxRetained int
	// MaxRetainedBytes bounds the payload bytes held by retained events,
	// under the same rule as MaxRetained. Zero value means
	// DefaultMaxRetainedBytes (64 MiB).
	MaxRetainedBytes int

	// MatchCache is the number of slots of the cache of pattern matches by
	// topic (rounded up to a power of two). Zero value means
	// DefaultMatchCache (1024); negative disables the cache.
	MatchCache int

	// HistoryRecorder, when set, keeps the events of history
	// subscriptions outside this broker (a cluster's replicated stream):
	// it gets each event to keep of a publication made on this node, and
	// the broker keeps none itself; the store hands every node's events
	// back through AddHistory, so that every node answers get_events the
	// same. It is called under the broker's read lock and must not block.
	HistoryRecorder func(e *HistoryEvent)
	// History lists the subscriptions that keep an event history readable
	// with GetEvents (wamp.subscription.get_events). Each rule creates
	// its subscription when the broker starts, so that events are kept
	// before anyone subscribes (the specification's "dummy" subscription)
	// and the subscription lives for as long as the broker (Hooks hear of
	// its subscribers coming and going, never of its creation or
	// deletion). Nil means none.
	History []HistoryRule

	// Hooks is told of subscription changes, for the subscription meta
	// events. Nil means none. See Hooks for when and where it is called.
	Hooks Hooks
}

// HistoryRule configures the event history of one subscription.
type HistoryRule struct {
	// Topic is the subscription's URI or pattern.
	Topic wamp.URI
	// Match is the match policy: "" or "exact", "prefix", "wildcard".
	Match string
	// Limit is the number of most recent events kept; it must be positive.
	Limit int
}

// Validate reports the first invalid field; every error wraps ErrConfig.
func (c *Config) Validate() error {
	switch c.Disclose {
	case DiscloseClient, DiscloseAlways, DiscloseNever:
	default:
		return &ConfigError{"Disclose", fmt.Sprintf("%q: want %q, %q or %q", c.Disclose, DiscloseClient, DiscloseAlways, DiscloseNever)}
	}
	if c.MaxRetained < 0 {
		return &ConfigError{"MaxRetained", "must not be negative"}
	}
	if c.MaxRetainedBytes < 0 {
		return &ConfigError{"MaxRetainedBytes", "must not be negative"}
	}
	seen := make(map[patternKey]bool)
	for i, h := range c.History {
		field := fmt.Sprintf("History[%d]", i)
		match, err := parseMatch(h.Match)
		if err != nil {
			return &ConfigError{field + ".Match", err.Error()}
		}
		if !validPattern(h.Topic, match, c.StrictURIs) {
			return &ConfigError{field + ".Topic", fmt.Sprintf("%q is not a valid %s URI", h.Topic, match)}
		}
		if h.Limit <= 0 {
			return &ConfigError{field + ".Limit", "must be positive"}
		}
		k := patternKey{h.Topic, match}
		if seen[k] {
			return &ConfigError{field, fmt.Sprintf("%s %q is listed twice", match, h.Topic)}
		}
		seen[k] = true
	}
	return nil
}

type patternKey struct {
	uri   wamp.URI
	match string
}
