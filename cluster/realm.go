package cluster

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/nats-io/nats.go"

	"github.com/switchboard/switchboard/broker"
	"github.com/switchboard/switchboard/dealer"
	"github.com/switchboard/switchboard/realm"
	"github.com/switchboard/switchboard/session"
	"github.com/switchboard/switchboard/wamp"
)

// ErrUnavailable answers a REGISTER when the cluster cannot decide it:
// this node cannot reach a JetStream quorum (a partition, too few nodes
// up) within the bounded wait.
const ErrUnavailable wamp.URI = "switchboard.error.cluster_unavailable"

// calleeFeatures are the callee features the dealer asks a callee about;
// other nodes learn which of them a session announced.
var calleeFeatures = []string{"call_canceling", "call_cancelling", "progressive_call_results", "progressive_call_invocations"}

// Realm links one realm to the same realm on the other nodes. It
// implements realm.Link.
//
// Lock order: mirrorMu -> the realm's, broker's and dealer's locks ->
// localMu and relayMu (leaves). The realm's notifications (Subscribed,
// Unregistered, ...) take only the leaves, since they come under broker
// and dealer locks.
type Realm struct {
	n    *Node
	name wamp.URI
	r    *realm.Realm

	localMu sync.Mutex
	local   map[wamp.ID]struct{} // sessions attached here

	// mirrorMu guards nodes: the sessions of the other nodes, with the
	// subscriptions and registrations applied for them here.
	mirrorMu sync.Mutex
	nodes    map[uint64]map[wamp.ID]*ghost
	// applied are the other nodes' callees registered in the dealer, per
	// directory key (directory.go), under mirrorMu.
	applied map[string]map[calleeKey]struct{}

	// The relay of invocations from other nodes to local callees: a
	// callee sees an INVOCATION request id of its own session (relayOut),
	// and its answer is sent back under the caller node's id (relayIn).
	relayMu  sync.Mutex
	relayOut map[originKey]wamp.ID
	relayIn  map[localKey]originKey
}

type originKey struct {
	node     uint64
	sid, req wamp.ID
}

type localKey struct{ sid, req wamp.ID }

type calleeKey struct {
	node uint64
	sid  wamp.ID
}

var _ realm.Link = (*Realm)(nil)

func newRealm(n *Node, name wamp.URI) *Realm {
	return &Realm{
		n:        n,
		name:     name,
		local:    make(map[wamp.ID]struct{}),
		nodes:    make(map[uint64]map[wamp.ID]*ghost),
		applied:  make(map[string]map[calleeKey]struct{}),
		relayOut: make(map[originKey]wamp.ID),
		relayIn:  make(map[localKey]originKey),
	}
}

// Attach gives the link its realm, built with this link in its Config.
func (l *Realm) Attach(r *realm.Realm) { l.r = r }

// ghost is a session of another node: a subscriber and callee for the
// local broker and dealer. It never gets an EVENT (broker.RemotePeer);
// INVOCATION and INTERRUPT go to its node.
type ghost struct {
	l    *Realm
	node uint64
	id   wamp.ID
	// info is replaced whole, never changed in place: the broker and
	// dealer read it (Auth, HasFeature) under their own locks only.
	info   atomic.Pointer[sessInfo]
	joined bool
	reqs   atomic.Uint64
	// subs maps the ids its node announced to the ids of the same
	// subscriptions here. ClusterID makes them equal, but for a hash
	// collision, which one node may resolve differently from another: ops
	// and snapshots name the remote id.
	subs map[wamp.ID]wamp.ID
}

var (
	_ broker.RemotePeer = (*ghost)(nil)
	_ dealer.Peer       = (*ghost)(nil)
)

func (g *ghost) SessionID() wamp.ID                { return g.id }
func (g *ghost) Node() uint64                      { return g.node }
func (g *ghost) Serialization() wamp.Serialization { return 0 }
func (g *ghost) SendEvent([]byte)                  {}
func (g *ghost) Auth() (string, string) {
	i := g.info.Load()
	return i.AuthID, i.AuthRole
}
func (g *ghost) NextRequestID() wamp.ID { return wamp.ID(g.reqs.Add(1)) }

func (g *ghost) HasFeature(role, feature string) bool {
	return role == "callee" && slices.Contains(g.info.Load().Features, feature)
}

// Send forwards INVOCATION and INTERRUPT to the callee's node; the
// replies the broker and dealer make to a REGISTER of a ghost go nowhere.
func (g *ghost) Send(m *wamp.Message) error {
	var kind byte
	switch m.Type {
	case wamp.INVOCATION:
		kind = kindInv
	case wamp.INTERRUPT:
		kind = kindInt
	default:
		return nil
	}
	return g.l.n.sendData(g.node, kind, g.id, g.l.name, m)
}

func (n *Node) sendData(node uint64, kind byte, sid wamp.ID, realmName wamp.URI, m *wamp.Message) error {
	b, err := encodeData(kind, n.id, sid, realmName, m)
	if err != nil {
		return err
	}
	err = n.nc.Publish(n.dataSubject(node), b)
	n.sent(kind, err)
	return err
}

func infoOf(s *session.Session) sessInfo {
	i := sessInfo{
		AuthID: s.AuthID, AuthRole: s.AuthRole, AuthMethod: s.AuthMethod, AuthProvider: s.AuthProvider,
		Transport: s.Transport(), Serializer: s.Serialization().String(),
	}
	if a := s.RemoteAddr(); a != nil {
		i.Peer = a.String()
	}
	for _, f := range calleeFeatures {
		if s.HasFeature("callee", f) {
			i.Features = append(i.Features, f)
		}
	}
	return i
}

func (i *sessInfo) details(id wamp.ID) map[string]any {
	return map[string]any{
		"session":      uint64(id),
		"authid":       i.AuthID,
		"authrole":     i.AuthRole,
		"authmethod":   i.AuthMethod,
		"authprovider": i.AuthProvider,
		"transport": map[string]any{
			"type":       i.Transport,
			"serializer": i.Serializer,
			"peer":       i.Peer,
		},
	}
}

func (l *Realm) isLocal(sid wamp.ID) bool {
	l.localMu.Lock()
	defer l.localMu.Unlock()
	_, ok := l.local[sid]
	return ok
}

// Forward implements broker.Remote. A retained publication goes to the
// cluster's store (retained.go), which every node reads, so it is
// forwarded like any other only to the nodes with interest, without its
// retain flag: the store alone says which event is the latest.
func (l *Realm) Forward(nodes []uint64, _ bool, pub *broker.Publication) {
	if pub.Retain {
		l.n.ret.put(l.name, pub)
	}
	if len(nodes) == 0 {
		return
	}
	b, err := encodePub(l.n.id, l.name, pub)
	if err != nil {
		l.n.log.Warn("publication not forwarded", "topic", string(pub.Topic), "error", err)
		return
	}
	for _, node := range nodes {
		err := l.n.nc.Publish(l.n.dataSubject(node), b)
		l.n.sent(kindPub, err)
		if err != nil {
			l.n.log.Debug("publication not forwarded", "topic", string(pub.Topic), "error", err)
		}
	}
}

// Joined implements realm.Link.
func (l *Realm) Joined(s *session.Session) {
	l.localMu.Lock()
	l.local[s.ID] = struct{}{}
	l.localMu.Unlock()
	info := infoOf(s)
	l.n.ann.add(op{K: "join", Realm: string(l.name), S: uint64(s.ID), Info: &info})
}

// Left implements realm.Link.
func (l *Realm) Left(sid wamp.ID) {
	l.localMu.Lock()
	_, ok := l.local[sid]
	delete(l.local, sid)
	l.localMu.Unlock()
	if !ok {
		return
	}
	l.relayMu.Lock()
	for k, o := range l.relayIn {
		if k.sid == sid {
			delete(l.relayIn, k)
			delete(l.relayOut, o)
		}
	}
	l.relayMu.Unlock()
	l.n.dir.dropped(l.name, sid, 0)
	l.n.tst.left(l.name, sid)
	l.n.ann.add(op{K: "leave", Realm: string(l.name), S: uint64(sid)})
}

// Subscribed implements realm.Link.
func (l *Realm) Subscribed(sid, sub wamp.ID) {
	if !l.isLocal(sid) {
		return
	}
	info, ok := l.r.Broker().Get(sub)
	if !ok {
		return // gone again: its Unsubscribed follows
	}
	l.n.ann.add(op{K: "sub", Realm: string(l.name), S: uint64(sid), ID: uint64(sub), URI: string(info.URI), Match: info.Match})
}

// Unsubscribed implements realm.Link.
func (l *Realm) Unsubscribed(sid, sub wamp.ID) {
	if l.isLocal(sid) {
		l.n.ann.add(op{K: "unsub", Realm: string(l.name), S: uint64(sid), ID: uint64(sub)})
	}
}

// Unregistered implements realm.Link: the directory forgets a local
// callee (asynchronously: this comes under the dealer's lock).
func (l *Realm) Unregistered(sid, reg wamp.ID) {
	if l.isLocal(sid) {
		l.n.dir.dropped(l.name, sid, reg)
	}
}

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
	ctx, cancel := context.WithTimeout(l.n.ctx, l.n.opTimeout())
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
		_ = s.Send(&wamp.Message{Type: wamp.ERROR, ErrType: wamp.REGISTER, Request: m.Request, URI: we.URI, Details: wamp.Dict{"message": we.Msg}})
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
	l.mirrorMu.Lock()
	defer l.mirrorMu.Unlock()
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
		g := l.ghostLocked(c.Node, wamp.ID(c.Session))
		if !g.joined {
			info := c.Info
			g.info.Store(&info)
		}
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

// pruneLocked forgets the ghost of ck when it stood only for directory
// callees. mirrorMu must be held.
func (l *Realm) pruneLocked(ck calleeKey) {
	g := l.nodes[ck.node][ck.sid]
	if g == nil || g.joined || len(g.subs) > 0 {
		return
	}
	for _, have := range l.applied {
		if _, ok := have[ck]; ok {
			return
		}
	}
	delete(l.nodes[ck.node], ck.sid)
	if len(l.nodes[ck.node]) == 0 {
		delete(l.nodes, ck.node)
	}
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
	e := wamp.Message{Type: wamp.ERROR, ErrType: wamp.INVOCATION, Request: req, URI: uri, Details: wamp.Dict{"message": msg}}
	_ = l.n.sendData(node, kindAns, sid, l.name, &e)
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
	l.mirrorMu.Lock()
	g := l.nodes[from][sid]
	l.mirrorMu.Unlock()
	if g == nil {
		return // the callee's node was taken for dead: its calls failed
	}
	var err error
	if m.Type == wamp.YIELD {
		err = l.r.Dealer().Yield(g, m)
	} else {
		err = l.r.Dealer().Error(g, m)
	}
	if err != nil {
		l.n.log.Debug("answer from another node dropped", "error", err)
	}
}

// ghostLocked returns the ghost of (node, sid), creating it. mirrorMu
// must be held.
func (l *Realm) ghostLocked(node uint64, sid wamp.ID) *ghost {
	gs := l.nodes[node]
	if gs == nil {
		gs = make(map[wamp.ID]*ghost)
		l.nodes[node] = gs
	}
	g := gs[sid]
	if g == nil {
		g = &ghost{l: l, node: node, id: sid, subs: make(map[wamp.ID]wamp.ID)}
		g.info.Store(new(sessInfo))
		gs[sid] = g
	}
	return g
}

// removeLocked forgets a ghost: its subscriptions and registrations go,
// calls pending on it fail, on_leave fires. mirrorMu must be held.
func (l *Realm) removeLocked(g *ghost) {
	ck := calleeKey{g.node, g.id}
	for key, have := range l.applied {
		delete(have, ck)
		if len(have) == 0 {
			delete(l.applied, key)
		}
	}
	delete(l.nodes[g.node], g.id)
	if len(l.nodes[g.node]) == 0 {
		delete(l.nodes, g.node)
	}
	l.r.RemoveRemote(g.id)
}

func (l *Realm) joinLocked(g *ghost, info *sessInfo) {
	if info != nil {
		c := *info
		g.info.Store(&c)
	}
	if g.joined {
		return
	}
	g.joined = true
	i := g.info.Load()
	l.r.AddRemote(realm.RemoteSession{
		ID: g.id, Node: g.node, AuthID: i.AuthID, AuthRole: i.AuthRole, Details: i.details(g.id),
	})
}

func (l *Realm) subLocked(g *ghost, id wamp.ID, uri, match string) {
	if _, ok := g.subs[id]; ok {
		return
	}
	g.subs[id] = l.r.Broker().SubscribeRemote(g, wamp.URI(uri), match)
}

func (l *Realm) unsubLocked(g *ghost, id wamp.ID) {
	local, ok := g.subs[id]
	if !ok {
		return
	}
	delete(g.subs, id)
	l.r.Broker().UnsubscribeRemote(g.id, local)
}

// applyOp applies one state change of node.
func (l *Realm) applyOp(node uint64, o *op) {
	l.mirrorMu.Lock()
	defer l.mirrorMu.Unlock()
	sid := wamp.ID(o.S)
	if o.K == "leave" {
		if g := l.nodes[node][sid]; g != nil {
			l.removeLocked(g)
		}
		return
	}
	if o.K == "unsub" {
		if g := l.nodes[node][sid]; g != nil {
			l.unsubLocked(g, wamp.ID(o.ID))
		}
		return
	}
	g := l.ghostLocked(node, sid)
	switch o.K {
	case "join":
		l.joinLocked(g, o.Info)
	case "sub":
		l.subLocked(g, wamp.ID(o.ID), o.URI, o.Match)
	}
}

// applySnapshot makes this node's view of node's sessions rs.
func (l *Realm) applySnapshot(node uint64, rs realmState) {
	l.mirrorMu.Lock()
	defer l.mirrorMu.Unlock()
	want := make(map[wamp.ID]*sessState, len(rs.Sessions))
	for i := range rs.Sessions {
		want[wamp.ID(rs.Sessions[i].ID)] = &rs.Sessions[i]
	}
	for sid, g := range l.nodes[node] {
		if want[sid] == nil {
			l.removeLocked(g)
		}
	}
	for sid, st := range want {
		g := l.ghostLocked(node, sid)
		l.joinLocked(g, &st.Info)
		subs := make(map[wamp.ID]bool, len(st.Subs))
		for _, s := range st.Subs {
			subs[wamp.ID(s.ID)] = true
			l.subLocked(g, wamp.ID(s.ID), s.URI, s.Match)
		}
		for id := range g.subs {
			if !subs[id] {
				l.unsubLocked(g, id)
			}
		}
	}
}

// dropNode forgets every session of a node taken for dead or gone, and
// the invocations it relayed here: nobody waits for their answers, so
// their relay entries go and the local callees are interrupted.
func (l *Realm) dropNode(node uint64) {
	l.mirrorMu.Lock()
	for _, g := range l.nodes[node] {
		l.removeLocked(g)
	}
	l.mirrorMu.Unlock()
	var orphans []localKey
	l.relayMu.Lock()
	for o, rb := range l.relayOut {
		if o.node == node {
			k := localKey{o.sid, rb}
			delete(l.relayOut, o)
			delete(l.relayIn, k)
			orphans = append(orphans, k)
		}
	}
	l.relayMu.Unlock()
	if l.r == nil {
		return
	}
	for _, k := range orphans {
		s := l.r.LocalSession(k.sid)
		if s == nil || !(s.HasFeature("callee", "call_canceling") || s.HasFeature("callee", "call_cancelling")) {
			continue
		}
		_ = s.Send(&wamp.Message{Type: wamp.INTERRUPT, Request: k.req,
			Details: wamp.Dict{"mode": "killnowait", "reason": string(wamp.ErrCanceled)}})
	}
}

// snapshot returns this node's local state in the realm.
func (l *Realm) snapshot() realmState {
	rs := realmState{Realm: string(l.name)}
	if l.r == nil {
		return rs
	}
	for _, s := range l.r.LocalSessions() {
		if !l.isLocal(s.ID) {
			continue // joining or leaving: its own op will tell
		}
		st := sessState{ID: uint64(s.ID), Info: infoOf(s)}
		for _, sub := range l.r.Broker().SessionSubscriptions(s.ID) {
			st.Subs = append(st.Subs, ref{ID: uint64(sub.ID), URI: string(sub.URI), Match: sub.Match})
		}
		rs.Sessions = append(rs.Sessions, st)
	}
	return rs
}

// onData runs on the one goroutine of this node's data subscription, so
// that each sender's messages are handled in its order.
func (n *Node) onData(msg *nats.Msg) {
	defer n.survive("data")
	n.dataIn.Add(1)
	var h dataHeader
	m := wamp.Acquire()
	defer wamp.Release(m)
	if err := decodeData(msg.Data, &h, m); err != nil {
		n.log.Warn("bad data message", "error", err)
		return
	}
	if h.kind <= kindAns {
		n.stats.in[h.kind].Add(1)
	}
	l := n.realms[h.realm]
	if l == nil || l.r == nil {
		return
	}
	switch h.kind {
	case kindPub:
		pub := decodePub(m)
		l.r.Broker().DeliverRemote(&pub)
	case kindInv:
		l.invoke(h.from, h.session, m)
	case kindInt:
		l.interrupt(h.from, h.session, m)
	case kindAns:
		l.answerIn(h.from, h.session, m)
	case kindKill:
		l.killLocal(h.session, m)
	}
}
