package session

import (
	"math/bits"
	"sync"
	"time"

	"github.com/switchboard/switchboard/wamp"
)

// Stats receives counts from sessions (the metrics hook). Implementations
// must be cheap and safe for concurrent use: MessageIn runs on the
// session's reader for every message, MessageOut on whichever goroutine
// queues a message. EVENTs, the fan-out of every publication, are not
// reported one by one: the session counts them itself (SendStats).
type Stats interface {
	// EventDropped: an EVENT did not fit the queue (or the peer's
	// message size) and was dropped.
	EventDropped()
	// SlowConsumerClosed: the session was closed because its queue stayed
	// full.
	SlowConsumerClosed()
	// MessageIn: a message of n bytes was read and decoded.
	MessageIn(t wamp.Type, n int)
	// MessageOut: a message of n bytes other than an EVENT was queued to
	// the peer.
	MessageOut(t wamp.Type, n int)
	// SessionClosed: a session that had joined ended, for reason. Called
	// once, after the connection is closed, when s.SendStats is final.
	SessionClosed(s *Session, reason CloseReason)
}

// NumDepthBuckets is the number of queue depth buckets of SendStats: depth
// 1, 2, 3-4, 5-8, ... 1025-2048, and more.
const NumDepthBuckets = 13

// SendStats is what a session queued, counted by the session itself.
type SendStats struct {
	// Events and EventBytes count the EVENTs queued (dropped ones not).
	Events, EventBytes uint64
	// Depth counts the writer's batches by how many messages were queued
	// when it took them: bucket i holds depths up to 2^i (the last one
	// the rest). DepthSum is the sum of the depths.
	Depth    [NumDepthBuckets]uint64
	DepthSum uint64
}

// Add adds o to st.
func (st *SendStats) Add(o *SendStats) {
	st.Events += o.Events
	st.EventBytes += o.EventBytes
	for i := range st.Depth {
		st.Depth[i] += o.Depth[i]
	}
	st.DepthSum += o.DepthSum
}

// depthBucket is the SendStats.Depth bucket of a queue of n > 0 messages.
func depthBucket(n int) int {
	return min(bits.Len(uint(n-1)), NumDepthBuckets-1)
}

// SendStats returns what s has queued so far.
func (s *Session) SendStats() SendStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sent
}

// CloseReason is why a joined session ended, from a small fixed set, so
// that it can label a metric.
type CloseReason uint8

const (
	// CloseConnectionLost: the connection failed or was closed without a
	// GOODBYE or ABORT (the zero value: a session ends so when nothing else
	// was recorded first).
	CloseConnectionLost CloseReason = iota
	// ClosePeerGoodbye: the peer said GOODBYE first.
	ClosePeerGoodbye
	// ClosePeerAbort: the peer sent ABORT.
	ClosePeerAbort
	// CloseProtocolViolation: the router aborted the session, or its
	// transport failed the connection (ErrProtocol, ErrTooLarge), for
	// something it sent (a protocol violation or another ABORT reason).
	CloseProtocolViolation
	// CloseSlowConsumer: the session could not keep up with its queue, or
	// a write to it timed out.
	CloseSlowConsumer
	// CloseSystemShutdown: the router said GOODBYE
	// wamp.close.system_shutdown.
	CloseSystemShutdown
	// CloseRouterGoodbye: the router said GOODBYE for another reason
	// (wamp.session.kill, a realm removed by a reload).
	CloseRouterGoodbye

	NumCloseReasons = 7
)

var closeReasonNames = [NumCloseReasons]string{
	"connection_lost", "goodbye", "peer_abort", "protocol_violation", "slow_consumer", "system_shutdown", "router_goodbye",
}

// String returns the reason's metric label.
func (r CloseReason) String() string {
	if int(r) < len(closeReasonNames) {
		return closeReasonNames[r]
	}
	return "unknown"
}

// SetStats replaces the Stats of s (Config.Stats until then), so that the
// Joiner can give each session the counters of its realm, resolved once.
// It must be called during Join, before s is visible to other sessions.
func (s *Session) SetStats(st Stats) { s.stats = st }

// setCause records why the session ends; the first cause recorded wins
// (a slow consumer's close makes the read fail afterwards, which is not
// the reason).
func (s *Session) setCause(r CloseReason) {
	s.causeOnce.Do(func() { s.cause = r })
}

// warnLimit lets a kind of warning through at most warnBurst times per
// warnPeriod, process-wide, and counts the rest, so that ten thousand slow
// consumers at once make a few log lines, not ten thousand.
type warnLimit struct {
	mu         sync.Mutex
	start      time.Time
	n          int
	suppressed int
}

const (
	warnPeriod = 10 * time.Second
	warnBurst  = 10
)

// allow reports whether to log now, and how many were suppressed since the
// last one logged.
func (w *warnLimit) allow() (ok bool, suppressed int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := time.Now()
	if now.Sub(w.start) >= warnPeriod {
		w.start, w.n = now, 0
	}
	if w.n >= warnBurst {
		w.suppressed++
		return false, 0
	}
	w.n++
	suppressed, w.suppressed = w.suppressed, 0
	return true, suppressed
}

var (
	slowConsumerWarnings warnLimit
	violationWarnings    warnLimit
)
