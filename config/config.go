package config

import (
	"slices"
	"time"

	"github.com/switchboard/switchboard/session"
	"github.com/switchboard/switchboard/transport"
	"github.com/switchboard/switchboard/wamp"
)

// Defaults, which Default, Load and SetDefaults apply.
const (
	// DefaultMaxMessageSize equals MaxRawSocketMessageSize, so that the same
	// message is acceptable on every transport by default.
	DefaultMaxMessageSize = transport.DefaultMaxMessageSize
	// MaxRawSocketMessageSize is the largest message RawSocket can frame: its
	// handshake offers lengths up to 2^24 bytes. A rawsocket transport that
	// inherits a larger Limits.MaxMessageSize is capped here.
	MaxRawSocketMessageSize = 1 << 24
	// MaxSize bounds every size setting. It is no protocol limit; it keeps a
	// slip of the unit ("16GiB") from promising buffers no node can hold.
	MaxSize = 1 << 30

	// The outbound queue's bounds and slow-consumer time: the session
	// package's.
	DefaultQueueMessages   = session.DefaultQueueMessages
	DefaultQueueBytes      = session.DefaultQueueBytes
	DefaultDisconnectAfter = session.DefaultDisconnectAfter

	// DefaultPingInterval is the WebSocket ping interval when the file does
	// not set one: short enough to keep NAT and proxy idle timers (often
	// 60 s) from cutting a quiet connection, and to notice a dead peer
	// within a minute. RawSocket pings are off unless configured, because
	// not every RawSocket client answers them.
	DefaultPingInterval = 30 * time.Second
	// DefaultPingTimeout is how long the router waits for a pong.
	DefaultPingTimeout = transport.DefaultPingTimeout

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
