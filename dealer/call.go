package dealer

import (
	"math"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/switchboard/switchboard/wamp"
)

// call is one routed CALL from INVOCATION until the callee's final answer.
// Its fields are written only under d.mu while the call is in d.calls; once
// taken out, only the taker reads it.
type call struct {
	// caller is nil once the call is a tombstone: canceled, timed out or
	// orphaned by its caller, so that the callee's answer is swallowed.
	caller    Peer
	callerReq wamp.ID
	callerSID wamp.ID // caller.SessionID(), kept to spare the interface call
	callee    Peer
	calleeReq wamp.ID
	regID     wamp.ID

	progress bool // the caller takes progressive results (receive_progress)
	stream   bool // progressive call invocations: more CALLs will follow
	killing  bool // INTERRUPT mode kill sent; the callee's answer ends the call

	// timer enforces CALL.Options.timeout; nil without one. A call with a
	// timer is never pooled, because the timer's func holds it.
	timer    *time.Timer
	timeout  time.Duration
	deadline time.Time // a progressive result moves it (advanced/rpc_progressive_call_results.md "Timeouts")
	start    time.Time // for Config.Observer; zero without one
}

// callPool recycles pending-call records: one is needed per call, and the
// pool keeps that from costing an allocation per call.
var callPool = sync.Pool{New: func() any { return new(call) }}

// release returns c to the pool once no index refers to it. A call with a
// timer stays out: the timer's func may still look at it.
func (c *call) release() {
	if c.timer != nil {
		return
	}
	*c = call{}
	callPool.Put(c)
}

func (c *call) stopTimer() {
	if c.timer != nil {
		c.timer.Stop()
	}
}

// callOptions are the CALL options the dealer acts on.
type callOptions struct {
	timeout         time.Duration
	receiveProgress bool
	progress        bool
	discloseMe      bool
	// ppt is the payload passthru attributes (ppt_*, or Autobahn's enc_*).
	ppt wamp.Passthru
}

// maxTimeoutMS is the largest CALL timeout, in milliseconds, that a
// time.Duration holds; larger values would overflow into the past.
const maxTimeoutMS = math.MaxInt64 / int64(time.Millisecond)

// parseCallOptions reads the options of an initiating CALL. Each wrong type
// or value is an invalid_argument error naming the option.
func parseCallOptions(opts wamp.Dict) (o callOptions, err error) {
	if v, ok := opts["timeout"]; ok {
		ms, isInt := wamp.AsInt(v)
		switch {
		case !isInt:
			return o, wamp.NewError(wamp.ErrInvalidArgument, "option timeout must be an integer number of milliseconds")
		case ms < 0:
			return o, wamp.NewError(wamp.ErrInvalidArgument, "option timeout must not be negative")
		case ms > maxTimeoutMS:
			return o, wamp.NewError(wamp.ErrInvalidArgument, "option timeout is too large")
		}
		o.timeout = time.Duration(ms) * time.Millisecond
	}
	if o.receiveProgress, err = wamp.OptBool(opts, "receive_progress", false); err != nil {
		return o, err
	}
	if o.progress, err = wamp.OptBool(opts, "progress", false); err != nil {
		return o, err
	}
	if o.discloseMe, err = wamp.OptBool(opts, "disclose_me", false); err != nil {
		return o, err
	}
	if o.ppt, err = wamp.ParsePassthru(opts); err != nil {
		return o, err
	}
	return o, nil
}

// Shared, immutable Details and Options: a message is encoded as soon as it
// is built, and the codecs never write to a Dict, so one value serves every
// message and costs no allocation.
var (
	progressDetails     = wamp.Dict{"progress": true}
	interruptKill       = wamp.Dict{"mode": "kill", "reason": string(wamp.ErrCanceled)}
	interruptCanceled   = wamp.Dict{"mode": "killnowait", "reason": string(wamp.ErrCanceled)}
	interruptTimeout    = wamp.Dict{"mode": "killnowait", "reason": string(wamp.ErrTimeout)}
	interruptCallerLeft = interruptCanceled
)

// supportsCanceling reports whether the callee takes INTERRUPT. The
// progressive call invocations text spells the feature call_cancelling;
// both spellings count.
func supportsCanceling(p Peer) bool {
	return p.HasFeature("callee", "call_canceling") || p.HasFeature("callee", "call_cancelling")
}

// Call handles CALL: it picks the callee, records the pending call and
// queues the INVOCATION with the caller's payload passed through. A CALL
// with the request id of an open progressive call invocation continues it;
// one with the id of an invocation that ended early is dropped. Any other
// reuse of a pending call's request id (a protocol violation the dealer
// does not look for) is routed as a new call, and the older call can no
// longer be canceled.
//
// The error it returns is a protocol violation of the caller, for which the
// session should be aborted; the caller has been answered with ERROR as
// well, so that it does not wait should the error be ignored.
//
// Call assigns no trust level; CallTrust does.
func (d *Dealer) Call(caller Peer, m *wamp.Message) error { return d.CallTrust(caller, m, 0) }

// CallTrust handles CALL as Call does, and tells the callee that the call
// has trust level trust (INVOCATION.Details.trustlevel; zero value: none).
func (d *Dealer) CallTrust(caller Peer, m *wamp.Message, trust wamp.TrustLevel) error {
	if !wamp.ValidURI(m.URI, d.cfg.StrictURIs, false) {
		_ = caller.Send(wamp.ErrorReply(wamp.CALL, m.Request, wamp.ErrInvalidURI, "invalid procedure URI "+string(m.URI)))
		return nil
	}
	ck := callKey{caller.SessionID(), m.Request}
	d.mu.Lock()
	if d.streams != 0 || len(d.doneStreams) != 0 {
		if c := d.byCaller[ck]; c != nil && c.stream {
			d.continueLocked(c, m)
			d.mu.Unlock()
			return nil
		}
		if d.discardLocked(ck, m) {
			d.mu.Unlock()
			return nil
		}
	}
	var o callOptions
	if len(m.Details) != 0 {
		var err error
		if o, err = parseCallOptions(m.Details); err != nil {
			d.mu.Unlock()
			_ = caller.Send(wamp.AsError(err, wamp.ErrInvalidArgument).Reply(wamp.CALL, m.Request))
			return nil
		}
	}
	reg := d.matchLocked(m.URI)
	if reg == nil {
		d.mu.Unlock()
		_ = caller.Send(wamp.ErrorReply(wamp.CALL, m.Request, wamp.ErrNoSuchProcedure, "no callee registered procedure "+string(m.URI)))
		return nil
	}
	var details wamp.Dict
	var callee Peer
	if reg.local == nil {
		callee = reg.pick()
	}
	if len(m.Details) != 0 || reg.match != wamp.MatchExact || d.cfg.Disclosure == DiscloseAlways || reg.discloseTo != nil || trust != 0 {
		var err error
		if details, err = d.invocationDetails(caller, callee, reg, m, &o, trust); err != nil {
			d.mu.Unlock()
			_ = caller.Send(wamp.AsError(err, wamp.ErrInvalidArgument).Reply(wamp.CALL, m.Request))
			if wamp.HasURI(err, wamp.ErrProtocolViolation) {
				return err
			}
			return nil
		}
	}
	if reg.local != nil {
		fn := reg.local
		d.mu.Unlock()
		d.callLocal(caller, m, fn)
		return nil
	}

	var c *call
	if o.timeout > 0 {
		c = new(call) // the timer's func will hold it: not from the pool
	} else {
		c = callPool.Get().(*call)
	}
	c.caller, c.callerReq, c.callerSID, c.callee, c.regID = caller, m.Request, ck.sid, callee, reg.id
	c.calleeReq = callee.NextRequestID()
	c.progress, c.stream, c.timeout = o.receiveProgress, o.progress, o.timeout
	if c.stream {
		d.streams++
	}
	key := callKey{callee.SessionID(), c.calleeReq}
	d.calls[key] = c
	d.byCaller[ck] = c
	d.callStarted(c)
	d.mu.Unlock()
	// From here on c may already be answered and recycled by the callee's
	// reader: use only key and locals.

	inv := wamp.Acquire()
	inv.Type, inv.Request, inv.ID, inv.Details, inv.Args, inv.Kwargs = wamp.INVOCATION, key.req, reg.id, details, m.Args, m.Kwargs
	err := callee.Send(inv)
	wamp.Release(inv)
	if err != nil {
		d.invocationFailed(caller, m.Request, key, err)
		return nil
	}
	if o.timeout > 0 {
		// Started after the INVOCATION is queued so that an INTERRUPT for a
		// short timeout can never overtake it.
		d.mu.Lock()
		if d.byCaller[ck] == c {
			c.deadline = time.Now().Add(o.timeout)
			c.timer = time.AfterFunc(o.timeout, func() { d.expire(c) })
		}
		d.mu.Unlock()
	}
	return nil
}

// invocationDetails checks the advanced options of an initiating CALL
// against the callee and the realm, and builds INVOCATION.Details. callee
// is nil for a local procedure. d.mu must be held.
func (d *Dealer) invocationDetails(caller, callee Peer, reg *registration, m *wamp.Message, o *callOptions, trust wamp.TrustLevel) (wamp.Dict, error) {
	uri := m.URI
	if !o.ppt.IsZero() {
		if err := checkPassthru(caller, callee, "caller", "callee", &o.ppt, m); err != nil {
			return nil, err
		}
	}
	if o.progress {
		if !caller.HasFeature("caller", "progressive_call_invocations") {
			// advanced/rpc_progressive_call_invocations.md: a protocol error.
			return nil, wamp.NewError(wamp.ErrProtocolViolation, "CALL option progress: the caller did not announce progressive_call_invocations")
		}
		// The same text: a callee that cannot take progressive invocations,
		// or cannot be interrupted, is an application error.
		if callee == nil || !callee.HasFeature("callee", "progressive_call_invocations") || !supportsCanceling(callee) {
			return nil, wamp.NewError(wamp.ErrFeatureNotSupported, "the callee of "+string(uri)+" does not support progressive call invocations")
		}
	}
	disclose := d.cfg.Disclosure == DiscloseAlways
	if o.discloseMe {
		if d.cfg.Disclosure == DiscloseNever {
			return nil, wamp.NewError(ErrDiscloseMeDisallowed, "this realm does not disclose callers")
		}
		disclose = true
	}
	if callee == nil {
		return nil, nil // a local procedure reads the CALL itself
	}
	if _, ok := reg.discloseTo[callee.SessionID()]; ok && d.cfg.Disclosure != DiscloseNever {
		disclose = true
	}
	var details wamp.Dict
	set := func(k string, v any) {
		if details == nil {
			details = make(wamp.Dict, 4+o.ppt.Len())
		}
		details[k] = v
	}
	// Progressive results go to callees that announce them. The
	// specification also wants call canceling of such a callee, so that a
	// departed caller's stream can be interrupted; AutobahnJS callees
	// announce progressive_call_results without call_canceling, and
	// Crossbar.io streams to them all the same, so this dealer does too: a
	// stream to a caller that left is swallowed by its tombstone.
	if o.receiveProgress && callee.HasFeature("callee", "progressive_call_results") {
		set("receive_progress", true)
	}
	if o.progress {
		set("progress", true)
	}
	if reg.match != wamp.MatchExact {
		set("procedure", string(uri))
	}
	if disclose {
		authid, authrole := caller.Auth()
		set("caller", uint64(caller.SessionID()))
		if authid != "" {
			set("caller_authid", authid)
		}
		if authrole != "" {
			set("caller_authrole", authrole)
		}
	}
	if !o.ppt.IsZero() {
		if details == nil {
			details = make(wamp.Dict, 1+o.ppt.Len())
		}
		o.ppt.AddTo(details)
	}
	if n, ok := trust.Level(); ok {
		if details == nil {
			// Shared: a call whose only detail is its trust level costs
			// no allocation.
			return trust.Details(), nil
		}
		details["trustlevel"] = n
	}
	return details, nil
}

// invocationFailed answers the caller of a call whose INVOCATION could not
// be queued, unless something else (the callee leaving) already did.
func (d *Dealer) invocationFailed(caller Peer, req wamp.ID, key callKey, err error) {
	d.mu.Lock()
	c := d.calls[key]
	if c == nil || c.caller == nil {
		if c != nil { // a tombstone nobody will answer
			delete(d.calls, key)
			c.release()
		}
		d.mu.Unlock()
		return
	}
	d.callEnded(c, CallFailed)
	d.finishLocked(c, key)
	d.mu.Unlock()
	c.release()
	if d.cfg.IsTooLarge(err) {
		_ = caller.Send(wamp.ErrorReply(wamp.CALL, req, wamp.ErrPayloadSizeExceeded, "the invocation is larger than the callee accepts"))
		return
	}
	_ = caller.Send(wamp.ErrorReply(wamp.CALL, req, wamp.ErrCanceled, "callee unavailable: "+err.Error()))
}

// continueLocked forwards a continuation CALL of a progressive call
// invocation to the callee the call went to, under the same INVOCATION
// request id. Only the progress option counts; the others were frozen by
// the initiating CALL (advanced/rpc_progressive_call_invocations.md). The
// INVOCATION is queued under d.mu so that it cannot overtake an INTERRUPT
// for the same call. d.mu must be held.
func (d *Dealer) continueLocked(c *call, m *wamp.Message) {
	progress, err := wamp.OptBool(m.Details, "progress", false)
	var ppt wamp.Passthru
	if err == nil && len(m.Details) > 1 {
		// Each chunk of a stream may carry its own passthru attributes
		// (the specification's progressive CALL example does).
		if ppt, err = wamp.ParsePassthru(m.Details); err == nil && !ppt.IsZero() {
			err = checkPassthru(c.caller, c.callee, "caller", "callee", &ppt, m)
		}
	}
	if err != nil {
		we := wamp.AsError(err, wamp.ErrInvalidArgument)
		d.abortLocked(c, we.URI, we.Msg, interruptCanceled)
		return
	}
	if !progress {
		c.stream = false
		d.streams--
	}
	inv := wamp.Acquire()
	inv.Type, inv.Request, inv.ID, inv.Args, inv.Kwargs = wamp.INVOCATION, c.calleeReq, c.regID, m.Args, m.Kwargs
	inv.Details = passthruDetails(progress, &ppt)
	err = c.callee.Send(inv)
	wamp.Release(inv)
	if err != nil {
		uri, msg := wamp.ErrCanceled, "callee unavailable: "+err.Error()
		if d.cfg.IsTooLarge(err) {
			uri, msg = wamp.ErrPayloadSizeExceeded, "the invocation is larger than the callee accepts"
		}
		d.abortLocked(c, uri, msg, interruptCanceled)
	}
}

// discardLocked reports whether a CALL continues a progressive call
// invocation that already ended, and must be dropped: the caller learned or
// will learn the outcome from the RESULT or ERROR it got. Its final CALL
// ends the grace. d.mu must be held.
func (d *Dealer) discardLocked(ck callKey, m *wamp.Message) bool {
	done := d.doneStreams[ck.sid]
	i := slices.Index(done, ck.req)
	if i < 0 {
		return false
	}
	if progress, _ := wamp.OptBool(m.Details, "progress", false); !progress {
		if done = slices.Delete(done, i, i+1); len(done) == 0 {
			delete(d.doneStreams, ck.sid)
		} else {
			d.doneStreams[ck.sid] = done
		}
	}
	return true
}

// endStreamLocked closes c's progressive call invocation, if open. Unless
// the caller is gone, the request id is remembered so that continuations
// already on their way are discarded. d.mu must be held.
func (d *Dealer) endStreamLocked(c *call, callerGone bool) {
	if !c.stream {
		return
	}
	c.stream = false
	d.streams--
	if callerGone {
		return
	}
	done := d.doneStreams[c.callerSID]
	if len(done) >= maxDoneStreams {
		done = slices.Delete(done, 0, 1)
	}
	d.doneStreams[c.callerSID] = append(done, c.callerReq)
}

// finishLocked removes a live call that got its final answer. d.mu must be
// held.
func (d *Dealer) finishLocked(c *call, key callKey) {
	delete(d.calls, key)
	delete(d.byCaller, callKey{c.callerSID, c.callerReq})
	d.endStreamLocked(c, false)
	c.stopTimer()
}

// orphanLocked turns a live call into a tombstone: the caller is answered
// (by whoever calls this) or gone, and the callee's answer will be
// swallowed. Tombstones are bounded per callee. d.mu must be held.
func (d *Dealer) orphanLocked(c *call, callerGone bool) {
	delete(d.byCaller, callKey{c.callerSID, c.callerReq})
	d.endStreamLocked(c, callerGone)
	c.stopTimer()
	c.caller = nil
	sid := c.callee.SessionID()
	r := d.tombs[sid]
	if r == nil {
		r = new(idRing)
		d.tombs[sid] = r
	}
	if old, evicted := r.push(c.calleeReq, d.cfg.MaxTombstones); evicted {
		k := callKey{sid, old}
		if t := d.calls[k]; t != nil && t.caller == nil {
			delete(d.calls, k)
			t.release()
		}
	}
}

// abortLocked ends a live call before its callee answered: the caller gets
// ERROR uri, the callee INTERRUPT with the given options if it takes them,
// and the invocation becomes a tombstone. The messages are queued under
// d.mu so that they keep their order with the call's other messages. d.mu
// must be held.
func (d *Dealer) abortLocked(c *call, uri wamp.URI, msg string, interrupt wamp.Dict) {
	caller, req := c.caller, c.callerReq
	d.callEnded(c, outcomeOf(uri))
	d.orphanLocked(c, false)
	_ = caller.Send(wamp.ErrorReply(wamp.CALL, req, uri, msg))
	if interrupt != nil && supportsCanceling(c.callee) {
		d.sendInterrupt(c.callee, c.calleeReq, interrupt)
	}
}

func (d *Dealer) sendInterrupt(callee Peer, req wamp.ID, opts wamp.Dict) {
	_ = callee.Send(&wamp.Message{Type: wamp.INTERRUPT, Request: req, Details: opts})
}

// expire runs on a call's timer: the call ends as if canceled with mode
// killnowait (skip for a callee without call canceling), and the caller
// gets wamp.error.timeout (advanced/rpc_call_timeout.md).
func (d *Dealer) expire(c *call) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if c.caller == nil || d.byCaller[callKey{c.callerSID, c.callerReq}] != c {
		return // answered, canceled or orphaned meanwhile
	}
	if time.Now().Before(c.deadline) {
		return // a progressive result reset the timer, which runs again
	}
	d.abortLocked(c, wamp.ErrTimeout, "the call timed out after "+strconv.FormatInt(c.timeout.Milliseconds(), 10)+" ms", interruptTimeout)
}

// take looks up the call a callee's YIELD or ERROR names. A tombstone is
// removed and swallowed (nil, true); an unknown request gives (nil, false).
// On a live call it returns with d.mu held. final is false for a
// progressive YIELD, which keeps a tombstone.
func (d *Dealer) take(key callKey, final bool) (c *call, known bool) {
	d.mu.Lock()
	c = d.calls[key]
	if c == nil {
		d.mu.Unlock()
		return nil, false
	}
	if c.caller == nil {
		if final {
			delete(d.calls, key)
			c.release()
		}
		d.mu.Unlock()
		return nil, true
	}
	return c, true
}

// Yield handles YIELD. A YIELD for no pending call is a protocol violation
// of the callee and returns an error; one for a canceled call is swallowed.
func (d *Dealer) Yield(callee Peer, m *wamp.Message) error {
	var progress bool
	var optErr error
	var ppt wamp.Passthru
	if len(m.Details) != 0 {
		progress, optErr = wamp.OptBool(m.Details, "progress", false)
		if optErr == nil {
			ppt, optErr = wamp.ParsePassthru(m.Details)
		}
		if ppt.PPT() && !callee.HasFeature("callee", wamp.FeaturePassthru) {
			// Before the call is looked up: the callee is aborted, and
			// its calls end with it (RemoveSession).
			return wamp.NewError(wamp.ErrProtocolViolation, "YIELD with ppt_* options from a callee that did not announce payload_passthru_mode")
		}
	}
	key := callKey{callee.SessionID(), m.Request}
	c, known := d.take(key, !progress)
	if c == nil {
		if !known {
			return wamp.NewError(wamp.ErrProtocolViolation, "YIELD for unknown INVOCATION request")
		}
		return nil
	}
	// d.mu is held.
	if optErr != nil {
		// The callee's answer cannot be read: the call fails with the
		// reason, and the callee is told to stop.
		d.abortLocked(c, wamp.ErrInvalidArgument, "the callee's YIELD: "+wamp.AsError(optErr, wamp.ErrInvalidArgument).Msg, interruptCanceled)
		d.mu.Unlock()
		return nil
	}
	if !ppt.IsZero() {
		// The specification has the dealer answer the callee with
		// feature_not_supported when the caller lacks the feature; there
		// is no ERROR for a YIELD that clients take, so the call ends as
		// for a YIELD it cannot read: the caller gets the error, the
		// callee an INTERRUPT (if it takes them).
		if err := checkPassthru(callee, c.caller, "callee", "caller", &ppt, m); err != nil {
			we := wamp.AsError(err, wamp.ErrInvalidArgument)
			d.abortLocked(c, we.URI, "the callee's YIELD: "+we.Msg, interruptCanceled)
			d.mu.Unlock()
			return nil
		}
	}
	if progress {
		d.progressLocked(c, m, &ppt)
		d.mu.Unlock()
		return nil
	}
	d.callEnded(c, CallCompleted)
	d.finishLocked(c, key)
	d.mu.Unlock()
	res := wamp.Acquire()
	res.Type, res.Request, res.Args, res.Kwargs = wamp.RESULT, c.callerReq, m.Args, m.Kwargs
	if !ppt.IsZero() {
		res.Details = ppt.Dict()
	}
	err := c.caller.Send(res)
	wamp.Release(res)
	if err != nil && d.cfg.IsTooLarge(err) {
		_ = c.caller.Send(wamp.ErrorReply(wamp.CALL, c.callerReq, wamp.ErrPayloadSizeExceeded, "the result is larger than the caller accepts"))
	}
	c.release()
	return nil
}

// progressLocked forwards a progressive result, which keeps the call
// pending. A caller that did not ask for progressive results never sees
// one: the specification lets a callee send them only when asked, and a
// client that did not ask would take the RESULT for the final one. The
// RESULT is queued under d.mu so that a timeout or cancel ERROR cannot be
// overtaken by it. d.mu must be held.
func (d *Dealer) progressLocked(c *call, m *wamp.Message, ppt *wamp.Passthru) {
	if !c.progress {
		d.log.Debug("progressive YIELD for a caller that did not ask for progress: dropped")
		return
	}
	if c.timer != nil {
		c.deadline = time.Now().Add(c.timeout)
		c.timer.Reset(c.timeout)
	}
	res := wamp.Acquire()
	res.Type, res.Request, res.Details, res.Args, res.Kwargs = wamp.RESULT, c.callerReq, passthruDetails(true, ppt), m.Args, m.Kwargs
	err := c.caller.Send(res)
	wamp.Release(res)
	if err != nil && d.cfg.IsTooLarge(err) {
		d.abortLocked(c, wamp.ErrPayloadSizeExceeded, "a progressive result is larger than the caller accepts", interruptCanceled)
	}
}

// Error handles ERROR for an INVOCATION: it reaches the caller as ERROR for
// its CALL with the callee's URI, details and payload. One for a canceled
// call is swallowed; one for no pending call is a protocol violation.
func (d *Dealer) Error(callee Peer, m *wamp.Message) error {
	var ppt wamp.Passthru
	var pptErr error
	if len(m.Details) != 0 {
		ppt, pptErr = wamp.ParsePassthru(m.Details)
		if ppt.PPT() && !callee.HasFeature("callee", wamp.FeaturePassthru) {
			return wamp.NewError(wamp.ErrProtocolViolation, "ERROR with ppt_* details from a callee that did not announce payload_passthru_mode")
		}
	}
	key := callKey{callee.SessionID(), m.Request}
	c, known := d.take(key, true)
	if c == nil {
		if !known {
			return wamp.NewError(wamp.ErrProtocolViolation, "ERROR for unknown INVOCATION request")
		}
		return nil
	}
	if pptErr == nil && !ppt.IsZero() {
		pptErr = checkPassthru(callee, c.caller, "callee", "caller", &ppt, m)
	}
	d.callEnded(c, CallFailed)
	d.finishLocked(c, key)
	d.mu.Unlock()
	if pptErr != nil {
		// The callee's error cannot go to the caller as it is: the
		// caller learns why instead (its passthru attributes are bad, or
		// the caller does not take them).
		we := wamp.AsError(pptErr, wamp.ErrInvalidArgument)
		_ = c.caller.Send(wamp.ErrorReply(wamp.CALL, c.callerReq, we.URI, "the callee's ERROR "+string(m.URI)+": "+we.Msg))
		c.release()
		return nil
	}
	e := wamp.Acquire()
	// The callee's details go as they are, ppt_* (and enc_*) included.
	*e = wamp.Message{Type: wamp.ERROR, ErrType: wamp.CALL, Request: c.callerReq, Details: m.Details, URI: m.URI, Args: m.Args, Kwargs: m.Kwargs}
	err := c.caller.Send(e)
	wamp.Release(e)
	if err != nil && d.cfg.IsTooLarge(err) {
		_ = c.caller.Send(wamp.ErrorReply(wamp.CALL, c.callerReq, wamp.ErrPayloadSizeExceeded, "the error is larger than the caller accepts"))
	}
	c.release()
	return nil
}

// Cancel handles CANCEL (advanced/rpc_call_canceling.md). Mode skip answers
// the caller with wamp.error.canceled at once and swallows the callee's
// answer; killnowait does the same and sends INTERRUPT; kill sends
// INTERRUPT and lets the callee's answer end the call. A callee that did not
// announce call canceling gets no INTERRUPT, so every mode acts as skip for
// it. Without a mode, killnowait applies (as in nexus). A CANCEL for a call
// that is no longer pending is ignored: its answer crossed the CANCEL. A
// repeated kill is ignored; skip or killnowait after kill ends the call at
// once. The returned error is always nil; it is there for protocol
// violations to come.
func (d *Dealer) Cancel(caller Peer, m *wamp.Message) error {
	mode, err := wamp.OptString(m.Details, "mode")
	if err == nil {
		switch mode {
		case "":
			mode = "killnowait"
		case "skip", "kill", "killnowait":
		default:
			err = wamp.NewError(wamp.ErrInvalidArgument, "option mode must be skip, kill or killnowait, not "+mode)
		}
	}
	if err != nil {
		_ = caller.Send(wamp.AsError(err, wamp.ErrInvalidArgument).Reply(wamp.CANCEL, m.Request))
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	c := d.byCaller[callKey{caller.SessionID(), m.Request}]
	if c == nil {
		return nil
	}
	if !supportsCanceling(c.callee) {
		mode = "skip"
	}
	switch mode {
	case "kill":
		if !c.killing {
			c.killing = true
			d.sendInterrupt(c.callee, c.calleeReq, interruptKill)
		}
	case "killnowait":
		if c.killing { // INTERRUPT was sent already
			d.abortLocked(c, wamp.ErrCanceled, "canceled by the caller", nil)
		} else {
			d.abortLocked(c, wamp.ErrCanceled, "canceled by the caller", interruptCanceled)
		}
	default:
		d.abortLocked(c, wamp.ErrCanceled, "canceled by the caller", nil)
	}
	return nil
}
