package dealer

import (
	"slices"

	"github.com/switchboard/switchboard/wamp"
)

// The cluster seam. A callee on another node is a Peer like any other
// (the cluster's stand-in forwards INVOCATION and INTERRUPT to its node and
// feeds the callee's answers back through Yield and Error), so calls,
// progressive results, cancel and timeout run here, on the caller's node,
// unchanged. What the cluster adds are the calls below: registrations of
// remote callees, which answer nobody, and queries for what a node tells
// the others.

// RegisterOptions reads REGISTER.Options.match and invoke, with their
// defaults, as Register does.
func RegisterOptions(opts wamp.Dict) (match, invoke string, err error) {
	return parseRegisterOptions(opts)
}

// CheckRegister checks a REGISTER as Register does before registering,
// for the cluster to decide only registrations the dealer would take. The
// error is a *wamp.Error.
func (d *Dealer) CheckRegister(m *wamp.Message) error {
	_, _, _, err := d.checkRegister(m)
	return err
}

// RegisterRemote makes p, a callee on another node, a callee of
// (procedure, match) with policy invoke. The error is a *wamp.Error with
// the URI a REGISTER would have been answered with
// (procedure_already_exists, ...); nothing is sent to p.
func (d *Dealer) RegisterRemote(p Peer, procedure wamp.URI, match, invoke string) error {
	if !validPattern(procedure, match, d.cfg.StrictURIs) || procedure.Reserved() {
		return wamp.NewError(wamp.ErrInvalidURI, "invalid procedure URI "+string(procedure))
	}
	return d.register(p, procedure, match, invoke, 0, false, false)
}

// UnregisterRemote removes the session sid of another node from
// registration id; it does nothing when the session is no callee of it.
func (d *Dealer) UnregisterRemote(sid, id wamp.ID) {
	d.mu.Lock()
	defer d.hooks.Run()
	defer d.mu.Unlock()
	reg := d.byID[id]
	if reg == nil || !reg.hasCallee(sid) {
		return
	}
	list := d.bySession[sid]
	for i, x := range list {
		if x == reg {
			list = append(list[:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(d.bySession, sid)
	} else {
		d.bySession[sid] = list
	}
	d.removeCalleeLocked(reg, sid)
}

// PendingCallees returns the sessions of the callees, among those for
// which match is true, that live calls still wait on. A callee of another
// node may have lost its registrations before its node was taken for
// dead; its calls are still pending, and RemoveSession fails them.
func (d *Dealer) PendingCallees(match func(Peer) bool) []wamp.ID {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []wamp.ID
	for key, c := range d.calls {
		if c.caller != nil && match(c.callee) && !slices.Contains(out, key.sid) {
			out = append(out, key.sid)
		}
	}
	return out
}

// SessionRegistrations returns the registrations of session sid, for the
// state a node announces to the others.
func (d *Dealer) SessionRegistrations(sid wamp.ID) []RegistrationInfo {
	d.mu.Lock()
	defer d.mu.Unlock()
	regs := d.bySession[sid]
	out := make([]RegistrationInfo, len(regs))
	for i, r := range regs {
		out[i] = r.info()
	}
	return out
}

// HasCallee reports whether session sid is a callee of (procedure, match).
func (d *Dealer) HasCallee(procedure wamp.URI, match string, sid wamp.ID) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	reg := d.lookupLocked(procedure, match)
	return reg != nil && reg.hasCallee(sid)
}

// newID numbers a new registration. d.mu must be held. Should the
// cluster's id of (procedure, match) be taken (a hash collision), a
// counter's id serves.
func (d *Dealer) newID(procedure wamp.URI, match string) wamp.ID {
	if d.cfg.IDFor != nil {
		if id := d.cfg.IDFor(procedure, match); d.byID[id] == nil {
			return id
		}
	}
	return d.cfg.IDs.Next()
}
