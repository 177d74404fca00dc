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

// Defaults applied to zero Config fields; config refers to them.
const (
	// DefaultQueueMessages and DefaultQueueBytes bound each session's
	// outbound queue: enough to ride out a burst of events, while a stuck
	// subscriber holds at most 4 MiB (plus the one message an empty queue
	// always takes).
	DefaultQueueMessages = 1024
	DefaultQueueBytes    = 4 << 20
	// DefaultDisconnectAfter is how long a queue may stay full under the
	// drop policy before the session is closed.
	DefaultDisconnectAfter = 10 * time.Second
	DefaultHelloTimeout    = 10 * time.Second
	DefaultGoodbyeTimeout  = 5 * time.Second
)

// Config bounds and times one session.
type Config struct {
	// QueueMessages bounds the outbound queue in messages. Zero value:
	// DefaultQueueMessages. EVENTs beyond it follow Policy; replies, errors and invocations
	// may use up to twice the bound before the session is closed, so a slow
	// subscriber still gets its RPC results.
	QueueMessages int
	// QueueBytes bounds the outbound queue in bytes, as QueueMessages does.
	// Zero value: DefaultQueueBytes.
	QueueBytes int
	// Policy for EVENTs on a full queue. Zero value means PolicyDrop.
	Policy Policy
	// DisconnectAfter closes a session whose queue has stayed full this
	// long under PolicyDrop. Zero value: DefaultDisconnectAfter.
	DisconnectAfter time.Duration
	// HelloTimeout closes a connection that has not sent HELLO in time.
	// Zero value: DefaultHelloTimeout.
	HelloTimeout time.Duration
	// GoodbyeTimeout bounds the wait for the peer's GOODBYE after the router
	// sent its own. Zero value: DefaultGoodbyeTimeout.
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
		c.QueueMessages = DefaultQueueMessages
	}
	if c.QueueBytes <= 0 {
		c.QueueBytes = DefaultQueueBytes
	}
	if c.DisconnectAfter <= 0 {
		c.DisconnectAfter = DefaultDisconnectAfter
	}
	if c.HelloTimeout <= 0 {
		c.HelloTimeout = DefaultHelloTimeout
	}
	if c.GoodbyeTimeout <= 0 {
		c.GoodbyeTimeout = DefaultGoodbyeTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}
