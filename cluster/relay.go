package cluster

import (
	"errors"
	"slices"
	"sync/atomic"

	"github.com/nats-io/nats.go"

	"github.com/switchboard/switchboard/dealer"
	"github.com/switchboard/switchboard/session"
	"github.com/switchboard/switchboard/wamp"
)

// Calls across nodes. A CALL is handled on the caller's node by its
// dealer as on a node alone; a callee of another node is a callee
// stand-in there, whose INVOCATION and INTERRUPT go to the callee's node,
// which relays them to the session under a request id of that session and
// sends the YIELD or ERROR back, where the caller's dealer takes it as the
// stand-in's.

type originKey struct {
	node     uint64
	sid, req wamp.ID
}

type localKey struct{ sid, req wamp.ID }

type calleeKey struct {
	node uint64
	sid  wamp.ID
}

// callee stands in the dealer for a callee of another node, as the
// registration directory lists it. It is never sent anything but
// INVOCATION and INTERRUPT, which go to its node.
type callee struct {
	l    *Realm
	node uint64
	id   wamp.ID
	// info is replaced whole, never changed in place: the dealer reads it
	// (Auth, HasFeature) under its own lock only.
	info atomic.Pointer[sessInfo]
	reqs atomic.Uint64
}

var _ dealer.Peer = (*callee)(nil)

func (c *callee) SessionID() wamp.ID { return c.id }
func (c *callee) Auth() (string, string) {
	i := c.info.Load()
	return i.AuthID, i.AuthRole
}
func (c *callee) NextRequestID() wamp.ID { return wamp.ID(c.reqs.Add(1)) }

func (c *callee) HasFeature(role, feature string) bool {
	return role == "callee" && slices.Contains(c.info.Load().Features, feature)
}

// Send forwards INVOCATION and INTERRUPT to the callee's node; the
// replies the dealer makes to a registration of a stand-in go nowhere.
func (c *callee) Send(m *wamp.Message) error {
	var kind byte
	switch m.Type {
	case wamp.INVOCATION:
		kind = kindInv
	case wamp.INTERRUPT:
		kind = kindInt
	default:
		return nil
	}
	return c.l.n.sendData(c.node, kind, c.id, c.l.name, m)
}

// Answer implements realm.Link.
func (l *Realm) Answer(s *session.Session, m *wamp.Message) bool {
	final := m.Type == wamp.ERROR || !wamp.Bool(m.Details, "progress", false)
	k := localKey{s.ID, m.Request}
	l.relayMu.Lock()
	o, ok := l.relayIn[k]
	if ok && final {
		delete(l.relayIn, k)
		delete(l.relayOut, o)
	}
	l.relayMu.Unlock()
	if !ok {
		return false
	}
	if o.node == 0 {
		// A tombstone (dropRelays): the caller's node is gone; the
		// callee answers the INTERRUPT, and nobody waits for it.
		return true
	}
	a := *m
	a.Request = o.req
	if err := l.n.sendData(o.node, kindAns, s.ID, l.name, &a); err != nil {
		// The caller would wait forever (or until its timeout): tell it
		// in a message small enough to cross.
		l.n.log.Warn("answer to another node not sent: the caller gets an error", "error", err)
		if !final {
			l.relayMu.Lock()
			delete(l.relayIn, k)
			delete(l.relayOut, o)
			l.relayMu.Unlock()
		}
		uri := wamp.ErrCanceled
		if errors.Is(err, nats.ErrMaxPayload) {
			uri = wamp.ErrPayloadSizeExceeded
		}
		l.fail(o.node, s.ID, o.req, uri, "the callee's answer could not cross the cluster: "+err.Error())
	}
	return true
}

// invoke relays an INVOCATION from node from to the local callee sid.
func (l *Realm) invoke(from uint64, sid wamp.ID, m *wamp.Message) {
	s := l.r.LocalSession(sid)
	if s == nil {
		l.fail(from, sid, m.Request, wamp.ErrCanceled, "the callee left")
		return
	}
	ok := originKey{from, sid, m.Request}
	l.relayMu.Lock()
	rb, cont := l.relayOut[ok]
	if !cont {
		rb = s.NextRequestID()
		l.relayOut[ok] = rb
		l.relayIn[localKey{sid, rb}] = ok
	}
	l.relayMu.Unlock()
	req := m.Request
	m.Request = rb
	if err := s.Send(m); err != nil {
		l.relayMu.Lock()
		delete(l.relayOut, ok)
		delete(l.relayIn, localKey{sid, rb})
		l.relayMu.Unlock()
		uri := wamp.ErrCanceled
		if errors.Is(err, session.ErrTooLarge) {
			uri = wamp.ErrPayloadSizeExceeded
		}
		l.fail(from, sid, req, uri, "callee unavailable: "+err.Error())
	}
}

func (l *Realm) fail(node uint64, sid, req wamp.ID, uri wamp.URI, msg string) {
	_ = l.n.sendData(node, kindAns, sid, l.name, wamp.ErrorReply(wamp.INVOCATION, req, uri, msg))
}

func (l *Realm) interrupt(from uint64, sid wamp.ID, m *wamp.Message) {
	l.relayMu.Lock()
	rb, ok := l.relayOut[originKey{from, sid, m.Request}]
	l.relayMu.Unlock()
	s := l.r.LocalSession(sid)
	if !ok || s == nil {
		return
	}
	_ = s.Send(&wamp.Message{Type: wamp.INTERRUPT, Request: rb, Details: m.Details})
}

// answerIn takes a remote callee's YIELD or ERROR for a call made here.
func (l *Realm) answerIn(from uint64, sid wamp.ID, m *wamp.Message) {
	l.mu.Lock()
	c := l.callees[from][sid]
	l.mu.Unlock()
	if c == nil {
		// The stand-in went (its node was taken for dead, or the
		// directory dropped it) while the answer was on its way: the
		// dealer knows the call by session and request, and takes or
		// ignores the answer as for any callee.
		c = &callee{l: l, node: from, id: sid}
		c.info.Store(new(sessInfo))
	}
	var err error
	if m.Type == wamp.YIELD {
		err = l.r.Dealer().Yield(c, m)
	} else {
		err = l.r.Dealer().Error(c, m)
	}
	if err != nil {
		l.n.log.Debug("answer from another node dropped", "error", err)
	}
}

// forgetRelays drops the relay entries of local callee sid, which left.
func (l *Realm) forgetRelays(sid wamp.ID) {
	l.relayMu.Lock()
	defer l.relayMu.Unlock()
	for k, o := range l.relayIn {
		if k.sid == sid {
			delete(l.relayIn, k)
			delete(l.relayOut, o)
		}
	}
}

// dropRelays forgets the invocations node relayed here: nobody waits for
// their answers, so their relay entries become tombstones until the
// callee answers or leaves, and the local callees are interrupted.
func (l *Realm) dropRelays(node uint64) {
	var orphans []localKey
	l.relayMu.Lock()
	for o, rb := range l.relayOut {
		if o.node == node {
			k := localKey{o.sid, rb}
			delete(l.relayOut, o)
			// A tombstone, so that the callee's answer (to the INTERRUPT
			// below, or late) is taken here rather than by the dealer,
			// which does not know the request and would end the session.
			l.relayIn[k] = originKey{}
			orphans = append(orphans, k)
		}
	}
	l.relayMu.Unlock()
	for _, k := range orphans {
		s := l.r.LocalSession(k.sid)
		if s == nil || !(s.HasFeature("callee", "call_canceling") || s.HasFeature("callee", "call_cancelling")) {
			continue
		}
		_ = s.Send(&wamp.Message{Type: wamp.INTERRUPT, Request: k.req,
			Details: wamp.Dict{"mode": "killnowait", "reason": string(wamp.ErrCanceled)}})
	}
}
