package session

import (
	"log/slog"
	"time"
)

// Policy is what happens to an EVENT that does not fit a full queue.
type Policy uint8

const (
	// PolicyDrop drops the event and counts it; a session whose queue has
	// stayed full for Config.DisconnectAfter is closed.
	PolicyDrop Policy = iota
	// PolicyDisconnect closes the session at the first event that does not
	// fit.
	PolicyDisconnect
)

// Config bounds and times one session.
type Config struct {
	// QueueMessages bounds the outbound queue in messages. Zero value means
	// 1024. EVENTs beyond it follow Policy; replies, errors and invocations
	// may use up to twice the bound before the session is closed, so a slow
	// subscriber still gets its RPC results.
	QueueMessages int
	// QueueBytes bounds the outbound queue in bytes, as QueueMessages does.
	// Zero value means 4 MiB.
	QueueBytes int
	// Policy for EVENTs on a full queue. Zero value means PolicyDrop.
	Policy Policy
	// DisconnectAfter closes a session whose queue has stayed full this
	// long under PolicyDrop. Zero value means 10s.
	DisconnectAfter time.Duration
	// HelloTimeout closes a connection that has not sent HELLO in time.
	// Zero value means 10s.
	HelloTimeout time.Duration
	// GoodbyeTimeout bounds the wait for the peer's GOODBYE after the router
	// sent its own. Zero value means 5s.
	GoodbyeTimeout time.Duration
	// Logger receives session events. Nil means discard.
	Logger *slog.Logger
	// Stats, when set, counts messages, drops and closes (metrics hook)
	// until the Joiner gives the session its own (SetStats).
	Stats Stats
	// DebugPayloads logs every message received, payload included, at
	// debug level. Zero value: payloads are never logged.
	DebugPayloads bool
}

func (c Config) withDefaults() Config {
	if c.QueueMessages <= 0 {
		c.QueueMessages = 1024
	}
	if c.QueueBytes <= 0 {
		c.QueueBytes = 4 << 20
	}
	if c.DisconnectAfter <= 0 {
		c.DisconnectAfter = 10 * time.Second
	}
	if c.HelloTimeout <= 0 {
		c.HelloTimeout = 10 * time.Second
	}
	if c.GoodbyeTimeout <= 0 {
		c.GoodbyeTimeout = 5 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}
