package cluster

import (
	"context"
	"errors"

	"github.com/switchboard/switchboard/dealer"
	"github.com/switchboard/switchboard/session"
	"github.com/switchboard/switchboard/wamp"
)

// The realm's side of the registration directory (directory.go): a local
// REGISTER is admitted by the directory before the dealer registers it,
// and the dealer's callee stand-ins follow the directory.

// Register implements realm.Link: the directory admits the registration
// first, by compare-and-set on its JetStream key, so that of two racing
// REGISTERs on any nodes exactly one wins and a node without a quorum
// admits none; then the local dealer registers and answers.
func (l *Realm) Register(s *session.Session, m *wamp.Message) {
	d := l.r.Dealer()
	if err := d.CheckRegister(m); err != nil {
		d.Register(s, m) // answers the error
		return
	}
	match, invoke, _ := dealer.RegisterOptions(m.Details)
	key := dirKey(l.name, match, m.URI)
	tmpl := dirEntry{Realm: string(l.name), URI: string(m.URI), Match: match, Invoke: invoke}
	ctx, cancel := context.WithTimeout(l.n.ctx, l.n.registerTimeout())
	defer cancel()
	l.n.waitSettled(ctx)
	rec, err := l.n.dir.admit(ctx, key, tmpl, dirCallee{Node: l.n.id, Session: uint64(s.ID), Info: infoOf(s)})
	if err != nil {
		var we *wamp.Error
		if !errors.As(err, &we) {
			we = unavailable("%v", err)
		}
		if !errors.Is(err, errRefused) {
			l.n.log.Warn("REGISTER not decided: cluster state unavailable", "procedure", string(m.URI), "error", err)
		}
		_ = s.Send(we.Reply(wamp.REGISTER, m.Request))
		return
	}
	// The dealer's stand-ins for the other nodes' callees follow the
	// entry as admitted, so that a stale one does not refuse it here.
	l.n.dir.record(key, rec)
	d.Register(s, m)
	if id, ok := d.Lookup(m.URI, match); ok && d.HasCallee(m.URI, match, s.ID) {
		l.n.dir.admitted(key, l.name, id, &tmpl, s)
		return
	}
	// Admitted by the directory but refused here: take it back.
	l.n.dir.markDirty(key)
}

// revoke takes registration (uri, match) from local session sid, and
// tells the session when it announced registration_revocation.
func (l *Realm) revoke(sid wamp.ID, uri wamp.URI, match string) {
	d := l.r.Dealer()
	id, ok := d.Lookup(uri, match)
	if !ok || !d.HasCallee(uri, match, sid) {
		return
	}
	d.UnregisterRemote(sid, id)
	if s := l.r.LocalSession(sid); s != nil && s.HasFeature("callee", "registration_revocation") {
		_ = s.Send(&wamp.Message{Type: wamp.UNREGISTERED, Details: wamp.Dict{
			"registration": uint64(id),
			"reason":       "another node of the cluster holds the procedure",
		}})
	}
}

// syncRegs makes the dealer's stand-ins for key's callees on other nodes
// those of e (nil: none), for the nodes known alive. old is the entry as
// last applied, for the procedure of a deleted key.
func (l *Realm) syncRegs(key string, old, e *dirEntry) {
	uri, match := wamp.URI(old.URI), old.Match
	want := make(map[calleeKey]*dirCallee)
	if e != nil {
		for i := range e.Callees {
			c := &e.Callees[i]
			if c.Node != l.n.id && l.n.isLive(c.Node) {
				want[calleeKey{c.Node, wamp.ID(c.Session)}] = c
			}
		}
	}
	d := l.r.Dealer()
	l.mu.Lock()
	defer l.mu.Unlock()
	have := l.applied[key]
	for ck := range have {
		if want[ck] != nil {
			continue
		}
		delete(have, ck)
		if id, ok := d.Lookup(uri, match); ok {
			d.UnregisterRemote(ck.sid, id)
		}
		l.pruneLocked(ck)
	}
	if len(want) == 0 {
		delete(l.applied, key)
		return
	}
	if have == nil {
		have = make(map[calleeKey]struct{})
		l.applied[key] = have
	}
	// In the directory's order, so that the first and last policies agree
	// on every node.
	for i := range e.Callees {
		c := &e.Callees[i]
		ck := calleeKey{c.Node, wamp.ID(c.Session)}
		if want[ck] == nil {
			continue
		}
		if _, ok := have[ck]; ok {
			continue
		}
		g := l.calleeLocked(c.Node, wamp.ID(c.Session))
		info := c.Info
		g.info.Store(&info)
		if err := d.RegisterRemote(g, uri, match, e.Invoke); err != nil && !d.HasCallee(uri, match, g.id) {
			// A local callee still holds it: the directory says another
			// node won, and this node's reconciliation revokes it.
			l.n.log.Info("registration of another node waits for a local one to be revoked", "procedure", string(uri), "error", err)
			l.n.dir.markDirty(key)
			continue
		}
		have[ck] = struct{}{}
	}
}

// pruneLocked forgets the stand-in of ck once no directory key lists it.
// l.mu must be held.
func (l *Realm) pruneLocked(ck calleeKey) {
	for _, have := range l.applied {
		if _, ok := have[ck]; ok {
			return
		}
	}
	delete(l.callees[ck.node], ck.sid)
	if len(l.callees[ck.node]) == 0 {
		delete(l.callees, ck.node)
	}
}

// calleeLocked returns the stand-in of (node, sid), creating it. l.mu
// must be held.
func (l *Realm) calleeLocked(node uint64, sid wamp.ID) *callee {
	cs := l.callees[node]
	if cs == nil {
		cs = make(map[wamp.ID]*callee)
		l.callees[node] = cs
	}
	c := cs[sid]
	if c == nil {
		c = &callee{l: l, node: node, id: sid}
		c.info.Store(new(sessInfo))
		cs[sid] = c
	}
	return c
}

// dropCallees removes the stand-ins of node's callees: calls pending on
// them fail with wamp.error.canceled. Should the node come back, the
// directory brings them back (directory.resync).
func (l *Realm) dropCallees(node uint64) {
	l.mu.Lock()
	cs := l.callees[node]
	delete(l.callees, node)
	for key, have := range l.applied {
		for ck := range have {
			if ck.node == node {
				delete(have, ck)
			}
		}
		if len(have) == 0 {
			delete(l.applied, key)
		}
	}
	l.mu.Unlock()
	d := l.r.Dealer()
	for sid := range cs {
		d.RemoveSession(sid)
	}
	// A stand-in the directory dropped before its node was taken for dead
	// (another node wrote the loss first) is no longer kept, but calls
	// may still wait on it.
	for _, sid := range d.PendingCallees(func(p dealer.Peer) bool {
		c, ok := p.(*callee)
		return ok && c.l == l && c.node == node
	}) {
		d.RemoveSession(sid)
	}
}
