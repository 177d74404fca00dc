package config

import (
	"crypto/tls"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/switchboard/switchboard/wamp"
)

// Transport types.
const (
	WebSocket = "websocket"
	RawSocket = "rawsocket"
)

// Log formats.
const (
	FormatText = "text"
	FormatJSON = "json"
)

// Slow-consumer policies (Queue.SlowConsumer).
const (
	// SlowConsumerDrop drops the events that do not fit, counts them, and
	// closes the session once its queue has stayed full for DisconnectAfter:
	// a subscriber that falls behind for a moment loses events but keeps its
	// session, one that never catches up is let go.
	SlowConsumerDrop = "drop"
	// SlowConsumerDisconnect closes the session as soon as an event does not
	// fit, for applications where a gap in the event stream is worse than a
	// reconnect.
	SlowConsumerDisconnect = "disconnect"
)

// UnixPrefix marks a RawSocket listen address as a Unix socket path.
const UnixPrefix = "unix:"

// Defaults, which Default, Load and SetDefaults apply.
const (
	// DefaultMaxMessageSize equals MaxRawSocketMessageSize, so that the same
	// message is acceptable on every transport by default.
	DefaultMaxMessageSize = 16 << 20
	// MaxRawSocketMessageSize is the largest message RawSocket can frame: its
	// handshake offers lengths up to 2^24 bytes. A rawsocket transport that
	// inherits a larger Limits.MaxMessageSize is capped here.
	MaxRawSocketMessageSize = 1 << 24
	// MaxSize bounds every size setting. It is no protocol limit; it keeps a
	// slip of the unit ("16GiB") from promising buffers no node can hold.
	MaxSize = 1 << 30

	// DefaultQueueMessages and DefaultQueueBytes bound each session's
	// outbound queue: enough to ride out a burst of events, while a stuck
	// subscriber holds at most 4 MiB (plus the one message an empty queue
	// always takes).
	DefaultQueueMessages = 1024
	DefaultQueueBytes    = 4 << 20
	// DefaultDisconnectAfter is how long a queue may stay full under the
	// drop policy before the session is closed.
	DefaultDisconnectAfter = 10 * time.Second

	// DefaultPingInterval is the WebSocket ping interval when the file does
	// not set one: short enough to keep NAT and proxy idle timers (often
	// 60 s) from cutting a quiet connection, and to notice a dead peer
	// within a minute. RawSocket pings are off unless configured, because
	// not every RawSocket client answers them.
	DefaultPingInterval = 30 * time.Second
	// DefaultPingTimeout is how long the router waits for a pong.
	DefaultPingTimeout = 10 * time.Second

	// DefaultPath is the WebSocket path, as on a Crossbar.io starter node.
	DefaultPath = "/ws"
)

// Config is a node's whole configuration, as read from config.yaml.
//
// Load and Default return a Config with every default applied and
// validated; the router may read any field without checking for zero.
type Config struct {
	// File is where the config was loaded from; "" for Default or one
	// built in Go. Errors from Validate name it.
	File       string
	Log        Log
	Transports []Transport
	Realms     []Realm
	Limits     Limits
	Metrics    Metrics
	// Cluster links the node to others over NATS; nil: a node alone.
	Cluster *Cluster
	// Console serves the admin console (console.go); nil: none.
	Console *Console

	// pos maps key paths ("transports[1].listen") to where their values
	// stand in File, so that Validate can place its errors.
	pos map[string]position
}

// Log configures the node's slog logger.
type Log struct {
	// Level is the least level logged. Zero value: info. YAML: level:
	// debug, info, warn or error (slog spellings such as "debug-4" too).
	Level slog.Level
	// Format is FormatText or FormatJSON. Zero value: text.
	Format string
	// DebugPayloads logs every message received, payload included, at
	// debug level (with Level debug). Zero value: no payload is ever
	// logged, as payloads may carry personal data or secrets.
	DebugPayloads bool
}

// Transport is one listener.
type Transport struct {
	// Type is WebSocket or RawSocket.
	Type string
	// Listen is "host:port", where host is an IP address, "localhost" or
	// empty (all interfaces) and port 0 picks a free port (for tests); or,
	// for RawSocket only, "unix:/path/to.sock". A relative Unix path in a
	// file is taken relative to the file's directory.
	Listen string
	// Path is the HTTP path of a WebSocket endpoint; it must start with
	// "/". Zero value: DefaultPath. RawSocket transports have none.
	Path string
	// Serializers are those offered to clients, in the router's order of
	// preference. Zero value: all of wamp.Serializations. A file may not
	// give an empty list.
	Serializers []wamp.Serialization
	// MaxMessageSize bounds one message in bytes, in both directions. Zero
	// value: Limits.MaxMessageSize, capped at MaxRawSocketMessageSize for
	// RawSocket. Load always fills it in.
	MaxMessageSize int
	// TLS, when set, makes this a wss:// or TLS RawSocket listener.
	TLS *TLS
	// PingInterval is how often the router pings an idle peer; 0 turns
	// pings off. Load sets DefaultPingInterval for a websocket transport
	// whose file entry has no ping_interval; a Config built in Go gets no
	// pings unless it asks, because zero must be able to mean off.
	PingInterval time.Duration
	// PingTimeout is how long to wait for the pong before closing the
	// connection. Zero value: DefaultPingTimeout.
	PingTimeout time.Duration
	// AllowedOrigins lists the web origins whose pages may open a
	// WebSocket (websocket only): "scheme://host[:port]" patterns where
	// "*" stands for any characters of the host or any port, or "*" alone
	// for every origin. A handshake without an Origin header (no browser)
	// is always allowed; one from another origin gets 403. Zero value:
	// DefaultAllowedOrigins, pages served from this machine only.
	AllowedOrigins []string
	// MaxConnectionsPerAddress bounds the open connections from one IP
	// address on this listener; past it a RawSocket client gets handshake
	// error 4 and a WebSocket client HTTP 503. Zero value: no bound.
	MaxConnectionsPerAddress int
	// AuthMethods, when set, restricts the authentication methods sessions
	// of this listener may use (for example only tls on a listener that
	// asks for client certificates). Zero value: every method of the
	// realm.
	AuthMethods []string
	// Static is a directory whose files are served over HTTP at
	// StaticRoot ("/") on this listener, next to the WebSocket endpoint
	// (websocket only). A relative path in a file is taken relative to the
	// file's directory. Zero value: no files are served.
	Static string
	// TrustedProxies are the reverse proxies (addresses or prefixes) whose
	// X-Forwarded-For and X-Real-IP headers name the client, for logs,
	// the meta API and MaxConnectionsPerAddress (websocket only). Those
	// headers from anyone else are ignored. Zero value: none trusted.
	TrustedProxies []netip.Prefix
	// Bridge, when set, serves the HTTP bridge (publish, call, webhooks,
	// HTTP subscribers) on this listener (websocket only). Zero value:
	// none.
	Bridge *Bridge
	// LongPoll configures WAMP over HTTP long-poll on this listener
	// (websocket only). Zero value: SetDefaults enables it at
	// DefaultLongPollPath; LongPoll.Disabled turns it off.
	LongPoll *LongPoll
	// Compression configures permessage-deflate on this listener
	// (websocket only). Zero value (nil): compression on, with the
	// defaults documented on Compression.
	Compression *Compression
}

// DefaultAllowedOrigins are the origins a websocket transport allows when
// its config gives none: pages served from this machine.
var DefaultAllowedOrigins = []string{
	"http://localhost:*", "https://localhost:*",
	"http://127.0.0.1:*", "https://127.0.0.1:*",
	"http://[::1]:*", "https://[::1]:*",
}

// TLS names a certificate and its key, both PEM files. A relative path in
// a file is taken relative to the file's directory, so that a node's
// config and certificates can move together.
type TLS struct {
	Cert string
	Key  string
	// ClientCA is a PEM file of the certificate authorities whose client
	// certificates the listener accepts, for the tls authentication
	// method. Zero value: no client certificates are asked for.
	ClientCA string
	// ClientAuth is ClientAuthOptional (zero value: a client may present a
	// certificate, which is then verified) or ClientAuthRequired (a
	// client without a valid certificate cannot connect). Needs ClientCA.
	ClientAuth string
	// Config is built by Load (and by Validate where it is nil) from the
	// key pair and ClientCA: TLS 1.2 at least, Go's default cipher suites.
	Config *tls.Config
}

// Values of TLS.ClientAuth.
const (
	ClientAuthOptional = "optional"
	ClientAuthRequired = "required"
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

// Limits are the node-wide resource bounds.
type Limits struct {
	// MaxMessageSize is the default for each transport's MaxMessageSize.
	// Zero value: DefaultMaxMessageSize. At most MaxSize.
	MaxMessageSize int
	// Queue bounds each session's outbound queue. YAML: outbound_queue.
	Queue Queue
}

// Queue is the bound on one session's outbound queue and what happens to
// events when it is full. RESULT, ERROR and INVOCATION messages are never
// dropped: a session that cannot take them is closed, whatever the policy.
type Queue struct {
	// Messages is the most messages queued. Zero value:
	// DefaultQueueMessages.
	Messages int
	// Bytes is the most encoded bytes queued. An empty queue takes one
	// message of any size up to MaxMessageSize, so Bytes may be smaller
	// than that. Zero value: DefaultQueueBytes.
	Bytes int
	// SlowConsumer is SlowConsumerDrop or SlowConsumerDisconnect. Zero
	// value: drop.
	SlowConsumer string
	// DisconnectAfter is how long a queue may stay full under the drop
	// policy before the session is closed. Zero value:
	// DefaultDisconnectAfter.
	DisconnectAfter time.Duration
}

// Default returns the config of a node with nothing configured, the same
// as a Crossbar.io starter node: WebSocket on ws://127.0.0.1:8080/ws,
// RawSocket on tcp 127.0.0.1:8081, and the realm "realm1".
func Default() *Config {
	c := &Config{
		Transports: defaultTransports(),
		Realms:     defaultRealms(),
	}
	c.SetDefaults()
	return c
}

// defaultTransports leaves MaxMessageSize zero so that a file that sets
// limits.max_message_size but no transports still has it apply.
func defaultTransports() []Transport {
	return []Transport{
		{Type: WebSocket, Listen: "127.0.0.1:8080", PingInterval: DefaultPingInterval},
		{Type: RawSocket, Listen: "127.0.0.1:8081"},
	}
}

func defaultRealms() []Realm { return []Realm{{Name: "realm1"}} }

// SetDefaults replaces zero values with the defaults documented on each
// field. It leaves lists alone (no transports stays no transports, which
// Validate rejects) and PingInterval too, where zero means off.
func (c *Config) SetDefaults() {
	if c.Log.Format == "" {
		c.Log.Format = FormatText
	}
	l := &c.Limits
	if l.MaxMessageSize == 0 {
		l.MaxMessageSize = DefaultMaxMessageSize
	}
	if l.Queue.Messages == 0 {
		l.Queue.Messages = DefaultQueueMessages
	}
	if l.Queue.Bytes == 0 {
		l.Queue.Bytes = DefaultQueueBytes
	}
	if l.Queue.SlowConsumer == "" {
		l.Queue.SlowConsumer = SlowConsumerDrop
	}
	if l.Queue.DisconnectAfter == 0 {
		l.Queue.DisconnectAfter = DefaultDisconnectAfter
	}
	for i := range c.Transports {
		t := &c.Transports[i]
		if t.Type == WebSocket && t.Path == "" {
			t.Path = DefaultPath
		}
		if t.Type == WebSocket {
			if t.LongPoll == nil {
				t.LongPoll = &LongPoll{}
			}
			t.LongPoll.setDefaults()
		}
		if len(t.Serializers) == 0 {
			t.Serializers = slices.Clone(wamp.Serializations)
		}
		// A limit out of range is an error Validate reports once, on
		// limits; copying it here would report it again on every transport.
		if t.MaxMessageSize == 0 && l.MaxMessageSize > 0 && l.MaxMessageSize <= MaxSize {
			t.MaxMessageSize = l.MaxMessageSize
			if t.Type == RawSocket {
				t.MaxMessageSize = min(t.MaxMessageSize, MaxRawSocketMessageSize)
			}
		}
		if t.PingTimeout == 0 {
			t.PingTimeout = DefaultPingTimeout
		}
	}
	for i := range c.Realms {
		c.Realms[i].setAuthDefaults()
	}
	if c.Cluster != nil {
		c.Cluster.setDefaults()
	}
}

// Network returns the arguments for net.Listen: ("unix", path) for a Unix
// socket, ("tcp", host:port) otherwise.
func (t *Transport) Network() (network, address string) {
	if path, ok := strings.CutPrefix(t.Listen, UnixPrefix); ok {
		return "unix", path
	}
	return "tcp", t.Listen
}
