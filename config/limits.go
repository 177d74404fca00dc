package config

import "time"

// The limits: section.

var (
	limitsKeys = []string{"max_message_size", "outbound_queue"}
	queueKeys  = []string{"messages", "bytes", "slow_consumer", "disconnect_after"}
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

func (d *decoder) limits(me entry, l *Limits) {
	es, _ := d.mapping(me.val, me.path)
	for _, e := range es {
		switch e.name {
		case "max_message_size":
			l.MaxMessageSize = d.size(e.val, e.path)
		case "outbound_queue":
			d.queue(e, &l.Queue)
		default:
			d.unknown(e, me.path, limitsKeys)
		}
	}
}

func (d *decoder) queue(me entry, q *Queue) {
	es, _ := d.mapping(me.val, me.path)
	for _, e := range es {
		switch e.name {
		case "messages":
			q.Messages = d.integer(e.val, e.path)
		case "bytes":
			q.Bytes = d.size(e.val, e.path)
		case "slow_consumer":
			q.SlowConsumer, _ = d.str(e.val, e.path)
		case "disconnect_after":
			q.DisconnectAfter = d.duration(e.val, e.path)
		default:
			d.unknown(e, me.path, queueKeys)
		}
	}
}

func (v *validator) limits() {
	l := &v.c.Limits
	v.size("limits.max_message_size", l.MaxMessageSize)
	if l.Queue.Messages < 0 {
		v.failf("limits.outbound_queue.messages", ErrBadNumber, "must not be negative")
	}
	v.size("limits.outbound_queue.bytes", l.Queue.Bytes)
	switch l.Queue.SlowConsumer {
	case "", SlowConsumerDrop, SlowConsumerDisconnect:
	default:
		v.failf("limits.outbound_queue.slow_consumer", ErrBadPolicy, "unknown slow-consumer policy %q: want drop or disconnect", l.Queue.SlowConsumer)
	}
	if l.Queue.DisconnectAfter < 0 {
		v.failf("limits.outbound_queue.disconnect_after", ErrBadDuration, "must not be negative")
	}
}
