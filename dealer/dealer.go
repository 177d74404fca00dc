package dealer

import (
	"errors"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/switchboard/switchboard/internal/hookq"
	"github.com/switchboard/switchboard/wamp"
)

// Peer is a caller or callee as the dealer sees it.
type Peer interface {
	SessionID() wamp.ID
	// Send encodes and queues a message to this peer. An error means the
	// peer will not get it (it is gone, too slow, or the message is too
	// large for it).
	Send(m *wamp.Message) error
	// NextRequestID numbers INVOCATIONs in the peer's session scope.
	NextRequestID() wamp.ID
	// Auth returns the peer's authid and authrole, which caller
	// identification discloses.
	Auth() (authid, authrole string)
	// HasFeature reports whether the peer announced
	// HELLO.Details.roles.<role>.features.<feature>. The dealer asks it only
	// on the paths of advanced features, never for a plain call.
	HasFeature(role, feature string) bool
}

// Disclosure is a realm's policy for caller identification
// (advanced/rpc_caller_identification.md).
type Disclosure uint8

const (
	// DiscloseOnRequest discloses the caller to the callee when the CALL
	// sets disclose_me. The zero value.
	DiscloseOnRequest Disclosure = iota
	// DiscloseAlways discloses every caller, whether it asked or not (the
	// specification lets the dealer configuration do so).
	DiscloseAlways
	// DiscloseNever refuses disclose_me: such a CALL is answered with
	// wamp.error.option_disallowed.disclose_me and not routed, as
	// Crossbar.io does, so that no caller believes it was identified.
	DiscloseNever
)

// Config configures a Dealer.
type Config struct {
	// StrictURIs checks procedures with the strict URI rules. Zero value:
	// loose.
	StrictURIs bool
	// IDs numbers registrations. Share one across the router so that ids
	// are of router scope. Nil means a dealer-local generator.
	IDs *wamp.IDGen
	// IsTooLarge reports whether a Send error means "too large for the
	// peer". Nil means errors.Is(err, ErrTooLarge).
	IsTooLarge func(error) bool
	// Disclosure is the caller identification policy. Zero value:
	// DiscloseOnRequest.
	Disclosure Disclosure
	// Hooks receives registration lifecycle events for the registration
	// meta API. Nil means none. See Hooks for when they run.
	Hooks Hooks
	// MaxTombstones bounds, per callee, the invocations that were canceled
	// or timed out, or whose caller left, and whose answer the dealer still
	// expects so that it can swallow it rather than take it for a protocol
	// violation. Past the bound the oldest is forgotten: should its answer
	// come after all, the callee is aborted for a YIELD or ERROR to an
	// unknown request. Zero value: 1024.
	MaxTombstones int
	// Observer counts routed calls and their outcomes (metrics). Nil means
	// none.
	Observer Observer
	// IDFor, when set, numbers registrations by what they are, so that
	// every node of a cluster gives (procedure, match) the same id. Nil:
	// IDs.
	IDFor func(procedure wamp.URI, match string) wamp.ID
	// Logger. Nil means discard.
	Logger *slog.Logger
}

// maxDoneStreams bounds, per caller, the progressive call invocations that
// ended before the caller sent its final CALL, whose late continuations are
// therefore discarded rather than taken for new calls.
const maxDoneStreams = 64

// Dealer is the RPC router of one realm.
type Dealer struct {
	cfg   Config
	log   *slog.Logger
	hooks hookq.Queue // calls of cfg.Hooks waiting for the lock to be released (meta.go)

	mu        sync.Mutex
	exact     map[wamp.URI]*registration
	prefix    prefixIndex
	wild      wildIndex
	byID      map[wamp.ID]*registration
	bySession map[wamp.ID][]*registration
	// calls holds every invocation whose answer the dealer awaits, by what
	// the callee's YIELD or ERROR names: live calls and tombstones
	// (call.caller == nil).
	calls map[callKey]*call
	// byCaller holds the live calls by what the caller's CANCEL or
	// continuation CALL names: (caller session, CALL request id).
	byCaller map[callKey]*call
	// tombs lists, per callee, its tombstones oldest first, to bound them.
	tombs map[wamp.ID]*idRing
	// streams counts live calls with progressive call invocations still
	// open; while it and doneStreams are empty, no CALL can be a
	// continuation and Call skips the lookup.
	streams     int
	doneStreams map[wamp.ID][]wamp.ID
}

// callKey names a call by a (session, request id) pair: the callee's and
// the INVOCATION's in Dealer.calls, the caller's and the CALL's in
// Dealer.byCaller.
type callKey struct {
	sid wamp.ID
	req wamp.ID
}

// New returns an empty dealer.
func New(cfg Config) *Dealer {
	if cfg.IDs == nil {
		cfg.IDs = new(wamp.IDGen)
	}
	if cfg.IsTooLarge == nil {
		cfg.IsTooLarge = func(err error) bool { return errors.Is(err, ErrTooLarge) }
	}
	if cfg.MaxTombstones <= 0 {
		cfg.MaxTombstones = 1024
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Dealer{
		cfg:         cfg,
		log:         cfg.Logger,
		exact:       make(map[wamp.URI]*registration),
		prefix:      newPrefixIndex(),
		wild:        newWildIndex(),
		byID:        make(map[wamp.ID]*registration),
		bySession:   make(map[wamp.ID][]*registration),
		calls:       make(map[callKey]*call),
		byCaller:    make(map[callKey]*call),
		tombs:       make(map[wamp.ID]*idRing),
		doneStreams: make(map[wamp.ID][]wamp.ID),
	}
}

// Features is what the dealer announces in WELCOME: only what it does.
// Call trust levels are those CallTrust is given (the realm's, by role or
// from the authenticator); payload passthru covers both the
// specification's ppt_* and Autobahn's older payload_transparency.
func Features() wamp.Dict {
	return wamp.Dict{"features": map[string]any{
		"call_trustlevels":             true,
		"payload_passthru_mode":        true,
		"payload_transparency":         true,
		"progressive_call_results":     true,
		"progressive_call_invocations": true,
		"call_canceling":               true,
		"call_timeout":                 true,
		"caller_identification":        true,
		"shared_registration":          true,
		"pattern_based_registration":   true,
	}}
}

// parseRegisterOptions reads REGISTER.Options.match and invoke.
func parseRegisterOptions(opts wamp.Dict) (match, invoke string, err error) {
	match, err = wamp.OptString(opts, "match")
	if err != nil {
		return "", "", err
	}
	switch match {
	case "":
		match = wamp.MatchExact
	case wamp.MatchExact, wamp.MatchPrefix, wamp.MatchWildcard:
	default:
		return "", "", wamp.NewError(wamp.ErrInvalidArgument, "option match must be exact, prefix or wildcard, not "+match)
	}
	invoke, err = wamp.OptString(opts, "invoke")
	if err != nil {
		return "", "", err
	}
	switch invoke {
	case "":
		invoke = InvokeSingle
	case InvokeSingle, InvokeRoundRobin, InvokeRandom, InvokeFirst, InvokeLast:
	default:
		return "", "", wamp.NewError(wamp.ErrInvalidArgument, "option invoke must be single, roundrobin, random, first or last, not "+invoke)
	}
	return match, invoke, nil
}

// lookupLocked returns the registration of exactly (uri, match), local ones
// included. d.mu must be held.
func (d *Dealer) lookupLocked(uri wamp.URI, match string) *registration {
	switch match {
	case wamp.MatchPrefix:
		return d.prefix.regs[uri]
	case wamp.MatchWildcard:
		return d.wild.regs[uri]
	default:
		return d.exact[uri]
	}
}

// matchLocked returns the registration a call to uri goes to: an exact one,
// else the longest prefix, else the best wildcard pattern. URIs under wamp.
// are the router's own and match exact (local) registrations only, so that
// no client pattern can answer for them. d.mu must be held.
func (d *Dealer) matchLocked(uri wamp.URI) *registration {
	if r := d.exact[uri]; r != nil {
		return r
	}
	if uri.Reserved() {
		return nil
	}
	if r := d.prefix.match(uri); r != nil {
		return r
	}
	return d.wild.match(uri)
}

// Register handles REGISTER.
func (d *Dealer) Register(p Peer, m *wamp.Message) {
	match, invoke, discloseCaller, err := d.checkRegister(m)
	if err != nil {
		_ = p.Send(wamp.AsError(err, wamp.ErrInvalidArgument).Reply(wamp.REGISTER, m.Request))
		return
	}
	if err := d.register(p, m.URI, match, invoke, m.Request, true, discloseCaller); err != nil {
		_ = p.Send(wamp.AsError(err, wamp.ErrInvalidArgument).Reply(wamp.REGISTER, m.Request))
	}
}

// checkRegister reads and checks a REGISTER's URI and options; the error
// is a *wamp.Error.
func (d *Dealer) checkRegister(m *wamp.Message) (match, invoke string, discloseCaller bool, err error) {
	match, invoke, err = parseRegisterOptions(m.Details)
	if err != nil {
		return "", "", false, err
	}
	if !validPattern(m.URI, match, d.cfg.StrictURIs) {
		return "", "", false, wamp.NewError(wamp.ErrInvalidURI, "invalid procedure URI "+string(m.URI))
	}
	if m.URI.Reserved() {
		return "", "", false, wamp.NewError(wamp.ErrInvalidURI, "procedures under wamp. are reserved for the router")
	}
	discloseCaller, err = wamp.OptBool(m.Details, "disclose_caller", false)
	if err != nil {
		return "", "", false, err
	}
	if discloseCaller && d.cfg.Disclosure == DiscloseNever {
		// The realm's policy wins over the callee's wish, as it does over
		// the caller's disclose_me.
		return "", "", false, wamp.NewError(ErrDiscloseMeDisallowed, "this realm does not disclose callers")
	}
	return match, invoke, discloseCaller, nil
}

// register adds p as a callee of (uri, match) and, with reply, answers
// REGISTERED for request req under the lock (an error is the caller's to
// send). discloseCaller: p asked for its invocations to name the caller.
func (d *Dealer) register(p Peer, uri wamp.URI, match, invoke string, req wamp.ID, reply, discloseCaller bool) error {
	sid := p.SessionID()
	d.mu.Lock()
	defer d.hooks.Run() // after the unlock: deferred calls run last first
	defer d.mu.Unlock()
	reg := d.lookupLocked(uri, match)
	created := reg == nil
	switch {
	case created:
		reg = &registration{
			id:        d.newID(uri, match),
			procedure: wamp.URI(string([]byte(uri))), // outlives the frame
			match:     match,
			invoke:    invoke,
			created:   time.Now(),
		}
		switch match {
		case wamp.MatchPrefix:
			d.prefix.add(reg)
		case wamp.MatchWildcard:
			d.wild.add(reg)
		default:
			d.exact[reg.procedure] = reg
		}
		d.byID[reg.id] = reg
	case reg.local != nil || reg.invoke == InvokeSingle:
		return wamp.NewError(wamp.ErrProcedureAlreadyExists, "procedure "+string(uri)+" is already registered")
	case reg.invoke != invoke:
		return wamp.NewError(ErrDifferentInvocationPolicy,
			"procedure "+string(uri)+" is registered with invocation policy "+reg.invoke+", not "+invoke)
	case reg.hasCallee(sid):
		// One session is a callee of a registration at most once, so that
		// UNREGISTER and the callee lists of the meta API mean one thing.
		return wamp.NewError(wamp.ErrProcedureAlreadyExists, "this session already registered "+string(uri))
	}
	reg.callees = append(reg.callees, p)
	if discloseCaller {
		if reg.discloseTo == nil {
			reg.discloseTo = make(map[wamp.ID]struct{}, 1)
		}
		reg.discloseTo[sid] = struct{}{}
	}
	d.bySession[sid] = append(d.bySession[sid], reg)
	if reply {
		_ = p.Send(&wamp.Message{Type: wamp.REGISTERED, Request: req, ID: reg.id})
	}
	id := reg.id
	if created {
		info := reg.info()
		d.hook(func(h Hooks) { h.OnCreate(sid, info) })
	}
	d.hook(func(h Hooks) { h.OnRegister(sid, id) })
	return nil
}

// Unregister handles UNREGISTER: the session stops being a callee of the
// registration, which is deleted with its last callee.
func (d *Dealer) Unregister(p Peer, m *wamp.Message) {
	sid := p.SessionID()
	d.mu.Lock()
	defer d.hooks.Run()
	defer d.mu.Unlock()
	reg := d.byID[m.ID]
	if reg == nil || !reg.hasCallee(sid) {
		_ = p.Send(wamp.ErrorReply(wamp.UNREGISTER, m.Request, wamp.ErrNoSuchRegistration, "no such registration"))
		return
	}
	d.bySession[sid] = slices.DeleteFunc(d.bySession[sid], func(x *registration) bool { return x == reg })
	if len(d.bySession[sid]) == 0 {
		delete(d.bySession, sid)
	}
	_ = p.Send(&wamp.Message{Type: wamp.UNREGISTERED, Request: m.Request})
	d.removeCalleeLocked(reg, sid)
}

// removeCalleeLocked drops the session sid from reg, deletes reg with its
// last callee, and tells the hooks in the order the specification gives
// (on_unregister, then on_delete). Calls already sent to the callee stay
// pending: it may still answer them. d.mu must be held.
func (d *Dealer) removeCalleeLocked(reg *registration, sid wamp.ID) {
	reg.removeCallee(sid)
	deleted := len(reg.callees) == 0
	if deleted {
		switch reg.match {
		case wamp.MatchPrefix:
			d.prefix.remove(reg)
		case wamp.MatchWildcard:
			d.wild.remove(reg)
		default:
			delete(d.exact, reg.procedure)
		}
		delete(d.byID, reg.id)
	}
	id := reg.id
	d.hook(func(h Hooks) { h.OnUnregister(sid, id) })
	if deleted {
		d.hook(func(h Hooks) { h.OnDelete(sid, id) })
	}
}

// RemoveSession cleans up after a session that left. Its registrations go.
// Calls pending on it as callee are answered with wamp.error.canceled. Calls
// it made as caller become tombstones, so that their late YIELD or ERROR is
// swallowed rather than taken for a protocol violation, and their callees,
// if they announced call canceling, get INTERRUPT (mode killnowait), as
// basic/remote_procedure_call.md "Caller Leaving" asks.
func (d *Dealer) RemoveSession(sid wamp.ID) {
	type reply struct {
		caller Peer
		req    wamp.ID
	}
	var failed []reply
	d.mu.Lock()
	for _, reg := range d.bySession[sid] {
		d.removeCalleeLocked(reg, sid)
	}
	delete(d.bySession, sid)
	// A scan rather than per-session indexes: leaving is rare next to
	// calling, and the scan keeps the call path free of index upkeep.
	for key, c := range d.calls {
		switch {
		case key.sid == sid:
			delete(d.calls, key)
			if c.caller != nil {
				delete(d.byCaller, callKey{c.callerSID, c.callerReq})
				d.endStreamLocked(c, c.callerSID == sid)
				c.stopTimer()
				if c.callerSID != sid {
					failed = append(failed, reply{c.caller, c.callerReq})
					d.callEnded(c, CallFailed)
				} else {
					d.callEnded(c, CallCanceled)
				}
			}
			c.release()
		case c.caller != nil && c.callerSID == sid:
			interrupt := supportsCanceling(c.callee)
			d.callEnded(c, CallCanceled)
			d.orphanLocked(c, true)
			if interrupt {
				d.sendInterrupt(c.callee, c.calleeReq, interruptCallerLeft)
			}
		}
	}
	delete(d.tombs, sid)
	delete(d.doneStreams, sid)
	d.mu.Unlock()
	d.hooks.Run()
	for _, f := range failed {
		_ = f.caller.Send(wamp.ErrorReply(wamp.CALL, f.req, wamp.ErrCanceled, "callee left before it answered"))
	}
}

// RegistrationCount returns the number of registrations made by sessions.
func (d *Dealer) RegistrationCount() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.byID)
}

// PendingCount returns the number of invocations whose answer the dealer
// awaits: live calls and tombstones.
func (d *Dealer) PendingCount() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.calls)
}

// idRing is a bounded FIFO of request ids: once full, a push overwrites the
// oldest and returns it.
type idRing struct {
	ids  []wamp.ID
	next int // the oldest, once len(ids) has reached the bound
}

func (r *idRing) push(id wamp.ID, bound int) (evicted wamp.ID, ok bool) {
	if len(r.ids) < bound {
		r.ids = append(r.ids, id)
		return 0, false
	}
	evicted, r.ids[r.next] = r.ids[r.next], id
	r.next = (r.next + 1) % len(r.ids)
	return evicted, true
}
