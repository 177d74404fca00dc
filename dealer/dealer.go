package dealer

import (
	"errors"
	"log/slog"
	"slices"
	"sync"

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
}

// ErrTooLarge is what a Peer's Send wraps when the message exceeds what the
// peer accepts; the dealer answers it with wamp.error.payload_size_exceeded.
// The session package's ErrTooLarge is wired to it by the realm.
var ErrTooLarge = errors.New("message too large for peer")

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
	// Logger. Nil means discard.
	Logger *slog.Logger
}

// Dealer is the RPC router of one realm.
type Dealer struct {
	cfg Config
	log *slog.Logger

	mu        sync.Mutex
	procs     map[wamp.URI]*registration
	byID      map[wamp.ID]*registration
	bySession map[wamp.ID][]*registration
	calls     map[callKey]*call
}

type registration struct {
	id        wamp.ID
	procedure wamp.URI
	callee    Peer
}

// callKey names a pending call by what the callee's YIELD or ERROR carries:
// the callee's session and the INVOCATION request id of its scope.
type callKey struct {
	callee wamp.ID
	req    wamp.ID
}

type call struct {
	caller    Peer // nil once the caller has left: the YIELD is swallowed
	callerReq wamp.ID
}

// callPool recycles pending-call records: one is needed per call, and the
// pool keeps that from costing an allocation per call.
var callPool = sync.Pool{New: func() any { return new(call) }}

// releaseCall returns c to the pool once no index refers to it.
func releaseCall(c *call) {
	*c = call{}
	callPool.Put(c)
}

// New returns an empty dealer.
func New(cfg Config) *Dealer {
	if cfg.IDs == nil {
		cfg.IDs = new(wamp.IDGen)
	}
	if cfg.IsTooLarge == nil {
		cfg.IsTooLarge = func(err error) bool { return errors.Is(err, ErrTooLarge) }
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Dealer{
		cfg:       cfg,
		log:       cfg.Logger,
		procs:     make(map[wamp.URI]*registration),
		byID:      make(map[wamp.ID]*registration),
		bySession: make(map[wamp.ID][]*registration),
		calls:     make(map[callKey]*call),
	}
}

// Features is what the dealer announces in WELCOME: only what it does.
func Features() wamp.Dict {
	return wamp.Dict{"features": map[string]any{}}
}

func replyError(p Peer, req wamp.Type, id wamp.ID, uri wamp.URI, msg string) {
	_ = p.Send(&wamp.Message{Type: wamp.ERROR, ErrType: req, Request: id, URI: uri, Details: wamp.Dict{"message": msg}})
}

// replyWAMPError answers with the URI and message of err, a *wamp.Error.
func replyWAMPError(p Peer, req wamp.Type, id wamp.ID, err error) {
	we, ok := err.(*wamp.Error)
	if !ok {
		we = wamp.NewError(wamp.ErrInvalidArgument, err.Error())
	}
	replyError(p, req, id, we.URI, we.Msg)
}

// Register handles REGISTER.
func (d *Dealer) Register(p Peer, m *wamp.Message) {
	match, err := wamp.OptString(m.Details, "match")
	if err == nil && match != "" && match != wamp.MatchExact {
		err = wamp.NewError(wamp.ErrInvalidArgument, "match policy "+match+" is not supported")
	}
	if err != nil {
		replyWAMPError(p, wamp.REGISTER, m.Request, err)
		return
	}
	invoke, err := wamp.OptString(m.Details, "invoke")
	if err == nil && invoke != "" && invoke != "single" {
		err = wamp.NewError(wamp.ErrInvalidArgument, "invocation policy "+invoke+" is not supported")
	}
	if err != nil {
		replyWAMPError(p, wamp.REGISTER, m.Request, err)
		return
	}
	if !wamp.ValidURI(m.URI, d.cfg.StrictURIs, false) {
		replyError(p, wamp.REGISTER, m.Request, wamp.ErrInvalidURI, "invalid procedure URI "+string(m.URI))
		return
	}
	if m.URI.Reserved() {
		replyError(p, wamp.REGISTER, m.Request, wamp.ErrInvalidURI, "procedures under wamp. are reserved for the router")
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.procs[m.URI]; ok {
		replyError(p, wamp.REGISTER, m.Request, wamp.ErrProcedureAlreadyExists, "procedure "+string(m.URI)+" is already registered")
		return
	}
	proc := wamp.URI(string([]byte(m.URI))) // outlives the frame
	reg := &registration{id: d.cfg.IDs.Next(), procedure: proc, callee: p}
	d.procs[proc] = reg
	d.byID[reg.id] = reg
	sid := p.SessionID()
	d.bySession[sid] = append(d.bySession[sid], reg)
	_ = p.Send(&wamp.Message{Type: wamp.REGISTERED, Request: m.Request, ID: reg.id})
}

// Unregister handles UNREGISTER.
func (d *Dealer) Unregister(p Peer, m *wamp.Message) {
	sid := p.SessionID()
	d.mu.Lock()
	defer d.mu.Unlock()
	reg := d.byID[m.ID]
	if reg == nil || reg.callee.SessionID() != sid {
		replyError(p, wamp.UNREGISTER, m.Request, wamp.ErrNoSuchRegistration, "no such registration")
		return
	}
	d.removeRegLocked(reg)
	d.bySession[sid] = slices.DeleteFunc(d.bySession[sid], func(x *registration) bool { return x == reg })
	if len(d.bySession[sid]) == 0 {
		delete(d.bySession, sid)
	}
	_ = p.Send(&wamp.Message{Type: wamp.UNREGISTERED, Request: m.Request})
}

// removeRegLocked drops reg from the indexes. Calls already sent to its
// callee stay pending: the callee may still answer them. d.mu must be held.
func (d *Dealer) removeRegLocked(reg *registration) {
	delete(d.procs, reg.procedure)
	delete(d.byID, reg.id)
}

// Call handles CALL: it picks the callee, records the pending call and
// queues the INVOCATION with the caller's payload passed through.
func (d *Dealer) Call(caller Peer, m *wamp.Message) {
	if !wamp.ValidURI(m.URI, d.cfg.StrictURIs, false) {
		replyError(caller, wamp.CALL, m.Request, wamp.ErrInvalidURI, "invalid procedure URI "+string(m.URI))
		return
	}
	d.mu.Lock()
	reg := d.procs[m.URI]
	if reg == nil {
		d.mu.Unlock()
		replyError(caller, wamp.CALL, m.Request, wamp.ErrNoSuchProcedure, "no callee registered procedure "+string(m.URI))
		return
	}
	callee := reg.callee
	key := callKey{callee: callee.SessionID(), req: callee.NextRequestID()}
	c := callPool.Get().(*call)
	c.caller, c.callerReq = caller, m.Request
	d.calls[key] = c
	d.mu.Unlock()

	inv := wamp.Acquire()
	inv.Type, inv.Request, inv.ID, inv.Args, inv.Kwargs = wamp.INVOCATION, key.req, reg.id, m.Args, m.Kwargs
	err := callee.Send(inv)
	wamp.Release(inv)
	if err != nil {
		d.mu.Lock()
		_, pending := d.calls[key]
		delete(d.calls, key)
		d.mu.Unlock()
		if !pending {
			return // the callee's leave already answered the caller
		}
		if d.cfg.IsTooLarge(err) {
			replyError(caller, wamp.CALL, m.Request, wamp.ErrPayloadSizeExceeded, "the invocation is larger than the callee accepts")
			return
		}
		replyError(caller, wamp.CALL, m.Request, wamp.ErrCanceled, "callee unavailable: "+err.Error())
	}
}

// take removes and returns the pending call a callee's reply names.
func (d *Dealer) take(callee Peer, req wamp.ID) *call {
	key := callKey{callee: callee.SessionID(), req: req}
	d.mu.Lock()
	c := d.calls[key]
	delete(d.calls, key)
	d.mu.Unlock()
	return c
}

// Yield handles YIELD. A YIELD for no pending call is a protocol violation
// of the callee and returns an error.
func (d *Dealer) Yield(callee Peer, m *wamp.Message) error {
	c := d.take(callee, m.Request)
	if c == nil {
		return wamp.NewError(wamp.ErrProtocolViolation, "YIELD for unknown INVOCATION request")
	}
	if c.caller == nil {
		releaseCall(c)
		return nil
	}
	res := wamp.Acquire()
	res.Type, res.Request, res.Args, res.Kwargs = wamp.RESULT, c.callerReq, m.Args, m.Kwargs
	err := c.caller.Send(res)
	wamp.Release(res)
	if err != nil && d.cfg.IsTooLarge(err) {
		replyError(c.caller, wamp.CALL, c.callerReq, wamp.ErrPayloadSizeExceeded, "the result is larger than the caller accepts")
	}
	releaseCall(c)
	return nil
}

// Error handles ERROR for an INVOCATION: it reaches the caller as ERROR for
// its CALL with the callee's URI, details and payload.
func (d *Dealer) Error(callee Peer, m *wamp.Message) error {
	c := d.take(callee, m.Request)
	if c == nil {
		return wamp.NewError(wamp.ErrProtocolViolation, "ERROR for unknown INVOCATION request")
	}
	if c.caller == nil {
		releaseCall(c)
		return nil
	}
	e := wamp.Acquire()
	*e = wamp.Message{Type: wamp.ERROR, ErrType: wamp.CALL, Request: c.callerReq, Details: m.Details, URI: m.URI, Args: m.Args, Kwargs: m.Kwargs}
	err := c.caller.Send(e)
	wamp.Release(e)
	if err != nil && d.cfg.IsTooLarge(err) {
		replyError(c.caller, wamp.CALL, c.callerReq, wamp.ErrPayloadSizeExceeded, "the error is larger than the caller accepts")
	}
	releaseCall(c)
	return nil
}

// RemoveSession cleans up after a session that left: its registrations go;
// calls pending on it as callee are answered with wamp.error.canceled; calls
// it made as caller are kept, orphaned, so their late YIELD is swallowed
// rather than taken for a protocol violation.
func (d *Dealer) RemoveSession(sid wamp.ID) {
	type orphan struct {
		caller Peer
		req    wamp.ID
	}
	var failed []orphan
	d.mu.Lock()
	for _, reg := range d.bySession[sid] {
		d.removeRegLocked(reg)
	}
	delete(d.bySession, sid)
	// A scan rather than per-session indexes: leaving is rare next to
	// calling, and the scan keeps the call path free of index upkeep.
	for key, c := range d.calls {
		if key.callee == sid {
			if c.caller != nil {
				failed = append(failed, orphan{c.caller, c.callerReq})
			}
			delete(d.calls, key)
		} else if c.caller != nil && c.caller.SessionID() == sid {
			c.caller = nil
		}
	}
	d.mu.Unlock()
	for _, o := range failed {
		replyError(o.caller, wamp.CALL, o.req, wamp.ErrCanceled, "callee left before it answered")
	}
}

// RegistrationCount returns the number of registrations.
func (d *Dealer) RegistrationCount() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.byID)
}

// PendingCount returns the number of calls awaiting an answer.
func (d *Dealer) PendingCount() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.calls)
}
