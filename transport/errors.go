package transport

import (
	"errors"
	"fmt"
	"net"
)

// Sentinel errors. Callers test for them with errors.Is; the package wraps
// them with the detail of the case at hand.
var (
	// ErrTooLarge reports a message over the size limit: one the peer sent
	// beyond our maximum (the connection is then failed), or one WriteBatch
	// was given beyond the peer's MaxWrite (nothing of the batch is written).
	ErrTooLarge = errors.New("transport: message too large")

	// ErrHandshake reports a failed RawSocket handshake or WebSocket upgrade.
	ErrHandshake = errors.New("transport: handshake failed")

	// ErrProtocol reports a peer that broke the framing rules of its
	// transport (unmasked WebSocket frame, reserved bits or frame types, bad
	// close frame). The connection is failed.
	ErrProtocol = errors.New("transport: protocol violation")

	// ErrClosed is returned by WriteBatch after Close, and by Read when the
	// connection was closed locally before the peer finished the close. It
	// wraps net.ErrClosed, so callers that know only net's sentinel treat
	// it as the ordinary end it is.
	ErrClosed = fmt.Errorf("transport: connection closed: %w", net.ErrClosed)

	// ErrPingTimeout is returned by Read when the peer sent nothing at all
	// within Config.PingTimeout of a keepalive ping and was cut off.
	ErrPingTimeout = errors.New("transport: keepalive ping timed out")
)
