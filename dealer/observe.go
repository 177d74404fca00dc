package dealer

import (
	"time"

	"github.com/switchboard/switchboard/wamp"
)

// CallOutcome is how a routed call ended, for metrics.
type CallOutcome uint8

const (
	// CallCompleted: the callee's final YIELD reached the caller as RESULT.
	CallCompleted CallOutcome = iota
	// CallFailed: the caller got an ERROR other than canceled or timeout
	// (the callee's ERROR, a callee that left or could not take the
	// INVOCATION, an answer too large for the caller).
	CallFailed
	// CallCanceled: the caller canceled the call or left before it ended.
	CallCanceled
	// CallTimedOut: CALL.Options.timeout ran out.
	CallTimedOut

	NumCallOutcomes = 4
)

var outcomeNames = [NumCallOutcomes]string{"completed", "failed", "canceled", "timed_out"}

// String returns the outcome's metric label.
func (o CallOutcome) String() string {
	if int(o) < len(outcomeNames) {
		return outcomeNames[o]
	}
	return "unknown"
}

// Observer is told when routed calls start and end (the metrics hook).
// "Routed" means an INVOCATION went to a callee: a CALL refused before
// that (no such procedure, bad options, not authorized) and calls to the
// router's own procedures are not calls here, and show only as ERROR
// messages sent. Both methods are called with the dealer's lock held or on
// a session's reader: they must be cheap and must not call back into the
// dealer.
type Observer interface {
	CallStarted()
	// CallEnded is called once per started call, with the time from its
	// INVOCATION to its end.
	CallEnded(o CallOutcome, d time.Duration)
}

// callStarted stamps c for Observer.CallEnded; without an observer the
// clock is not read.
func (d *Dealer) callStarted(c *call) {
	if d.cfg.Observer != nil {
		c.start = time.Now()
		d.cfg.Observer.CallStarted()
	}
}

// callEnded reports the end of live call c. It must run before c goes back
// to the pool.
func (d *Dealer) callEnded(c *call, o CallOutcome) {
	if d.cfg.Observer != nil {
		d.cfg.Observer.CallEnded(o, time.Since(c.start))
	}
}

// outcomeOf names the end of a call whose caller got ERROR uri.
func outcomeOf(uri wamp.URI) CallOutcome {
	switch uri {
	case wamp.ErrCanceled:
		return CallCanceled
	case wamp.ErrTimeout:
		return CallTimedOut
	}
	return CallFailed
}
