package dealer

import (
	"slices"
	"time"

	"github.com/switchboard/switchboard/wamp"
)

// Hooks receives the lifecycle of registrations, for the registration meta
// events (advanced/meta_api_registrations.md). For one registration the
// calls come in the specification's order: OnCreate before the first
// OnRegister, OnUnregister before OnDelete; the REGISTERED or UNREGISTERED
// reply has been queued before them.
//
// Calls come in the order of the changes, one at a time, never under the
// dealer's lock: the rule of the broker's hooks (internal/hookq). So a
// hook may call the dealer or publish through the realm's broker, and
// may block (it then holds up the hook calls of later changes, not the
// dealer). Local procedures (RegisterLocal) raise no hooks.
type Hooks interface {
	// OnCreate: session created registration info by registering a
	// (procedure, match) that had no registration.
	OnCreate(session wamp.ID, info RegistrationInfo)
	// OnRegister: session became a callee of registration reg.
	OnRegister(session, reg wamp.ID)
	// OnUnregister: session stopped being a callee of registration reg, by
	// UNREGISTER or by leaving.
	OnUnregister(session, reg wamp.ID)
	// OnDelete: registration reg went with its last callee, session.
	OnDelete(session, reg wamp.ID)
}

// hook queues a call of the dealer's Hooks, if any, to run once d.mu is
// released (d.hooks.Run, internal/hookq). d.mu must be held.
func (d *Dealer) hook(call func(h Hooks)) {
	if h := d.cfg.Hooks; h != nil {
		d.hooks.Push(func() { call(h) })
	}
}

// RegistrationInfo describes a registration for the meta API
// (RegistrationDetails of advanced/meta_api_registrations.md).
type RegistrationInfo struct {
	ID      wamp.ID
	Created time.Time
	URI     wamp.URI
	Match   string // "exact", "prefix" or "wildcard"
	Invoke  string // "single", "roundrobin", "random", "first" or "last"
}

// RegistrationLists holds registration ids by match policy
// (wamp.registration.list).
type RegistrationLists struct {
	Exact, Prefix, Wildcard []wamp.ID
}

// List returns the ids of all registrations made by sessions, by match
// policy, each list in ascending order.
func (d *Dealer) List() RegistrationLists {
	d.mu.Lock()
	defer d.mu.Unlock()
	var l RegistrationLists
	for _, r := range d.exact {
		if r.local == nil {
			l.Exact = append(l.Exact, r.id)
		}
	}
	for _, r := range d.prefix.regs {
		l.Prefix = append(l.Prefix, r.id)
	}
	for _, r := range d.wild.regs {
		l.Wildcard = append(l.Wildcard, r.id)
	}
	slices.Sort(l.Exact)
	slices.Sort(l.Prefix)
	slices.Sort(l.Wildcard)
	return l
}

// Lookup returns the registration of exactly procedure uri under match
// ("" means exact), as wamp.registration.lookup does.
func (d *Dealer) Lookup(uri wamp.URI, match string) (wamp.ID, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	r := d.lookupLocked(uri, match)
	if r == nil || r.local != nil {
		return 0, false
	}
	return r.id, true
}

// Match returns the registration a CALL to uri would be routed to, as
// wamp.registration.match does.
func (d *Dealer) Match(uri wamp.URI) (wamp.ID, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	r := d.matchLocked(uri)
	if r == nil || r.local != nil {
		return 0, false
	}
	return r.id, true
}

// Get returns the details of registration id.
func (d *Dealer) Get(id wamp.ID) (RegistrationInfo, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	r := d.byID[id]
	if r == nil {
		return RegistrationInfo{}, false
	}
	return r.info(), true
}

// ListCallees returns the session ids of registration id's callees, in the
// order they registered.
func (d *Dealer) ListCallees(id wamp.ID) ([]wamp.ID, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	r := d.byID[id]
	if r == nil {
		return nil, false
	}
	ids := make([]wamp.ID, len(r.callees))
	for i, p := range r.callees {
		ids[i] = p.SessionID()
	}
	return ids, true
}

// CountCallees returns the number of callees of registration id.
func (d *Dealer) CountCallees(id wamp.ID) (int, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	r := d.byID[id]
	if r == nil {
		return 0, false
	}
	return len(r.callees), true
}

// LocalFunc implements a procedure inside the router (the meta API's
// wamp.session.count and the like). m is the CALL: its Details are the
// call options, its Args and Kwargs the caller's payload, still encoded in
// the caller's serializer (decode them with codec.For(p.Ser).DecodeValue)
// and valid only until the function returns. It returns the RESULT payload
// (wamp.List / wamp.KW build one), or an error: a *wamp.Error is answered
// with its URI and message, any other with wamp.error.runtime_error.
//
// It runs on the caller's reader goroutine, without the dealer's lock, and
// answers before the caller's next message is read; it may call the
// dealer's query methods and the broker, and must not block.
type LocalFunc func(caller Peer, m *wamp.Message) (args, kwargs wamp.Payload, err error)

// RegisterLocal makes fn the procedure uri, an exact registration that
// needs no callee session: a CALL runs fn directly, with no pending call,
// INVOCATION or YIELD. URIs under wamp. are allowed: they are what it is
// for. Local procedures have no registration id and are invisible to the
// meta API and to Hooks, like the router's own procedures in Crossbar.io.
// CALL options are checked as for any call; progress is refused with
// wamp.error.feature_not_supported, and timeout and receive_progress have
// nothing to act on.
func (d *Dealer) RegisterLocal(uri wamp.URI, fn LocalFunc) error {
	if fn == nil {
		panic("dealer.RegisterLocal with nil func")
	}
	if !wamp.ValidURI(uri, d.cfg.StrictURIs, false) {
		return ErrLocalURI
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.exact[uri] != nil {
		return ErrLocalExists
	}
	d.exact[uri] = &registration{procedure: uri, match: wamp.MatchExact, invoke: InvokeSingle, created: time.Now(), local: fn}
	return nil
}

// callLocal runs a local procedure and answers the caller.
func (d *Dealer) callLocal(caller Peer, m *wamp.Message, fn LocalFunc) {
	args, kwargs, err := fn(caller, m)
	if err != nil {
		_ = caller.Send(wamp.AsError(err, ErrRuntime).Reply(wamp.CALL, m.Request))
		return
	}
	res := wamp.Acquire()
	res.Type, res.Request, res.Args, res.Kwargs = wamp.RESULT, m.Request, args, kwargs
	sendErr := caller.Send(res)
	wamp.Release(res)
	if sendErr != nil && d.cfg.IsTooLarge(sendErr) {
		_ = caller.Send(wamp.ErrorReply(wamp.CALL, m.Request, wamp.ErrPayloadSizeExceeded, "the result is larger than the caller accepts"))
	}
}
