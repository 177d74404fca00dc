package dealer

import (
	"context"
	"errors"

	"github.com/switchboard/switchboard/wamp"
)

// The router as a caller: dynamic authenticators and authorizers are
// procedures that backend sessions register, and the router calls them
// from outside any session. CallInternal routes such a call like any CALL
// (same registrations, invocation policies, callee errors), with a caller
// that is no session: internalCaller. It adds nothing to the dealer's
// state but the pending call itself.

// internalSID is the session id of the router as a caller. Session ids are
// drawn from [1, 2^53], so 0 is never a session's; the calls are told apart
// by their request ids (internalReqs), which are unique process-wide.
const internalSID wamp.ID = 0

var internalReqs wamp.IDGen

// ErrInternalCanceled is returned by CallInternal when ctx ended first.
var ErrInternalCanceled = errors.New("dealer: internal call canceled")

// Result is the answer to an internal call. Args and Kwargs are copies,
// owned by the receiver; raw ones are in the callee's serializer.
type Result struct {
	Args, Kwargs wamp.Payload
	Details      wamp.Dict
}

// CallInternal calls procedure as the router itself and waits for the
// answer or for ctx to end; then the call is canceled (mode killnowait:
// the callee gets INTERRUPT if it takes them, and its late answer is
// swallowed). A callee's ERROR, or the dealer's own (no such procedure),
// is returned as a *wamp.Error with the error's message (Details.message,
// or the first positional argument when it is a string). The caller
// discloses nothing: callees see no caller id.
func (d *Dealer) CallInternal(ctx context.Context, procedure wamp.URI, args, kwargs wamp.Payload) (Result, error) {
	c := &internalCaller{answer: make(chan *wamp.Message, 1)}
	req := internalReqs.Next()
	m := &wamp.Message{Type: wamp.CALL, Request: req, URI: procedure, Args: args, Kwargs: kwargs}
	if err := d.Call(c, m); err != nil {
		return Result{}, err
	}
	select {
	case a := <-c.answer:
		if a.Type == wamp.ERROR {
			return Result{Args: a.Args, Kwargs: a.Kwargs, Details: a.Details}, wamp.NewError(a.URI, errorMessage(a))
		}
		return Result{Args: a.Args, Kwargs: a.Kwargs, Details: a.Details}, nil
	case <-ctx.Done():
		_ = d.Cancel(c, &wamp.Message{Type: wamp.CANCEL, Request: req, Details: wamp.Dict{"mode": "killnowait"}})
		return Result{}, errors.Join(ErrInternalCanceled, ctx.Err())
	}
}

func errorMessage(m *wamp.Message) string {
	if s := wamp.String(m.Details, "message"); s != "" {
		return s
	}
	if list, ok := m.Args.Value.([]any); ok && len(list) > 0 {
		if s, ok := list[0].(string); ok {
			return s
		}
	}
	return ""
}

// internalCaller is the Peer of an internal call. It takes the first final
// answer and drops anything after (the ERROR of its own cancel).
type internalCaller struct {
	answer chan *wamp.Message
}

func (*internalCaller) SessionID() wamp.ID { return internalSID }

// Send keeps a copy of the answer: m may be pooled, and its payload
// borrows the callee's frame. It never blocks, as the dealer may hold its
// lock.
func (c *internalCaller) Send(m *wamp.Message) error {
	if m.Type == wamp.RESULT && wamp.Bool(m.Details, "progress", false) {
		return nil // never asked for
	}
	select {
	case c.answer <- m.Clone():
	default:
	}
	return nil
}

// NextRequestID is for callees; the router is none.
func (*internalCaller) NextRequestID() wamp.ID { return 0 }

func (*internalCaller) Auth() (authid, authrole string) { return "", "" }

func (*internalCaller) HasFeature(role, feature string) bool { return false }
