package transport

import (
	"log/slog"
	"net/netip"
	"slices"
	"time"

	"github.com/switchboard/switchboard/wamp"
)

// Defaults applied to zero Config fields.
const (
	DefaultMaxMessageSize   = 16 << 20
	DefaultPingTimeout      = 10 * time.Second
	DefaultWriteTimeout     = 10 * time.Second
	DefaultHandshakeTimeout = 10 * time.Second
)

// Config is shared by WebSocketHandler and ServeRawSocket. The zero value is
// usable: every field documents what its zero value means.
type Config struct {
	// Serializations lists the serializers accepted, in the router's order
	// of preference: a WebSocket client that offers several gets the first
	// of this list that it offers. Values unknown to package wamp are
	// ignored. Zero value: wamp.Serializations (json, msgpack, cbor).
	Serializations []wamp.Serialization

	// MaxMessageSize bounds one incoming message in bytes; a peer that sends
	// more is disconnected (WebSocket close 1009). RawSocket can announce
	// only powers of two from 512 bytes to 16 MiB, so there the limit is the
	// largest such power not above MaxMessageSize (512 when it is smaller).
	// Zero value: 16 MiB.
	MaxMessageSize int

	// PingInterval is how long a connection may stay silent before the
	// router pings it, so that dead peers behind NATs and proxies are found.
	// Zero value: no keepalive pings.
	PingInterval time.Duration

	// PingTimeout is how long after a ping the peer has to send anything at
	// all (the pong or any other frame) before it is disconnected. Used only
	// with PingInterval. Zero value: 10s.
	PingTimeout time.Duration

	// WriteTimeout bounds one WriteBatch (and each control frame), so that a
	// peer that stops reading cannot hold the session writer forever.
	// Zero value: 10s.
	WriteTimeout time.Duration

	// HandshakeTimeout bounds the RawSocket handshake and the writing of the
	// WebSocket upgrade response. Reading the HTTP request is bounded by the
	// caller's http.Server (ReadHeaderTimeout). Zero value: 10s.
	HandshakeTimeout time.Duration

	// AllowedOrigins lists the web origins whose pages may open a
	// WebSocket: "scheme://host[:port]" patterns, "*" standing for any
	// characters of the host or any port, or "*" alone for all. A
	// handshake from any other origin gets 403; one without an Origin
	// header (no browser) is always allowed. WebSocket only. Zero value
	// (nil): DefaultAllowedOrigins.
	AllowedOrigins []string

	// MaxConnsPerAddr bounds the open connections from one IP address on
	// the listener. Past it a WebSocket handshake gets HTTP 503 and a
	// RawSocket one the handshake error 4 (maximum connection count
	// reached). Zero value: no bound.
	MaxConnsPerAddr int

	// TrustedProxies are the reverse proxies whose X-Forwarded-For and
	// X-Real-IP name the client (see TrustProxies). WebSocket only: a
	// WebSocket endpoint leaves their handshakes to net/http, where
	// TrustProxies reads those headers.
	TrustedProxies []netip.Prefix

	// Compression configures permessage-deflate (RFC 7692) on WebSocket
	// connections whose client offers it. Zero value: on, with the
	// defaults documented on Compression. RawSocket ignores it.
	Compression Compression

	// Logger receives handshake failures and peer misbehaviour.
	// Zero value (nil): logs are discarded.
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	if len(c.Serializations) == 0 {
		c.Serializations = wamp.Serializations
	}
	known := make([]wamp.Serialization, 0, len(c.Serializations))
	for _, s := range c.Serializations {
		if slices.Contains(wamp.Serializations, s) && !slices.Contains(known, s) {
			known = append(known, s)
		}
	}
	c.Serializations = known
	if c.MaxMessageSize <= 0 {
		c.MaxMessageSize = DefaultMaxMessageSize
	}
	if c.PingTimeout <= 0 {
		c.PingTimeout = DefaultPingTimeout
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = DefaultWriteTimeout
	}
	if c.HandshakeTimeout <= 0 {
		c.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	c.Compression = c.Compression.withDefaults()
	return c
}
