package cluster

import (
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/switchboard/switchboard/broker"
	"github.com/switchboard/switchboard/dealer"
	"github.com/switchboard/switchboard/realm"
	"github.com/switchboard/switchboard/session"
	"github.com/switchboard/switchboard/wamp"
)

// ErrUnavailable answers a REGISTER when the cluster cannot decide it (the
// leader did not answer within the failure timeout).
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

var _ realm.Link = (*Realm)(nil)

func newRealm(n *Node, name wamp.URI) *Realm {
	return &Realm{
		n:        n,
		name:     name,
		local:    make(map[wamp.ID]struct{}),
		nodes:    make(map[uint64]map[wamp.ID]*ghost),
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
	// subs and regs map the ids its node announced to the ids of the
	// same subscriptions and registrations here. ClusterID makes them
	// equal, but for a hash collision, which one node may resolve
	// differently from another: ops and snapshots name the remote id.
	subs map[wamp.ID]wamp.ID
	regs map[wamp.ID]wamp.ID
	// claimed are the registrations admitted here as leader that its node
	// has not announced yet (reg or unreg op). A snapshot of that node
	// built before it registered them locally lacks them; it must not
	// undo them, or another node's REGISTER could be admitted meanwhile.
	claimed map[wamp.ID]struct{}
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

// Forward implements broker.Remote.
func (l *Realm) Forward(nodes []uint64, all bool, pub *broker.Publication) {
	if all {
		nodes = l.n.livePeers()
	}
	if len(nodes) == 0 {
		return
	}
	meta := wamp.Dict{"p": uint64(pub.Publisher)}
	if len(pub.Options) > 0 {
		meta["o"] = map[string]any(pub.Options)
	}
	if pub.ExcludeMe {
		meta["x"] = true
	}
	if pub.Disclose {
		meta["d"], meta["ai"], meta["ar"] = true, pub.AuthID, pub.AuthRole
	}
	if pub.Retain {
		meta["r"] = true
	}
	m := wamp.Message{Type: wamp.PUBLISH, Request: pub.ID, URI: pub.Topic, Details: meta, Args: pub.Args, Kwargs: pub.Kwargs}
	b, err := encodeData(kindPub, l.n.id, 0, l.name, &m)
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

// Unregistered implements realm.Link.
func (l *Realm) Unregistered(sid, reg wamp.ID) {
	if l.isLocal(sid) {
		l.n.ann.add(op{K: "unreg", Realm: string(l.name), S: uint64(sid), ID: uint64(reg)})
	}
}

// Register implements realm.Link: the leader admits the registration
// first (its dealer holds every registration of the cluster and decides
// under its lock, so of two racing REGISTERs one wins), then the local
// dealer registers and answers.
func (l *Realm) Register(s *session.Session, m *wamp.Message) {
	d := l.r.Dealer()
	match, invoke, err := dealer.RegisterOptions(m.Details)
	if err != nil {
		d.Register(s, m) // answers the error
		return
	}
	l.n.waitSettled()
	leader, err := l.n.claimLoop(claimReq{
		Realm: string(l.name), Node: l.n.id, S: uint64(s.ID), Info: infoOf(s),
		URI: string(m.URI), Match: match, Invoke: invoke,
	})
	if leader != l.n.id {
		if err != nil {
			we, ok := err.(*wamp.Error)
			if !ok {
				we = wamp.NewError(ErrUnavailable, err.Error())
			}
			_ = s.Send(&wamp.Message{Type: wamp.ERROR, ErrType: wamp.REGISTER, Request: m.Request, URI: we.URI, Details: wamp.Dict{"message": we.Msg}})
			return
		}
	}
	d.Register(s, m)
	id, found := d.Lookup(m.URI, match)
	if found && d.HasCallee(m.URI, match, s.ID) {
		l.n.ann.add(op{K: "reg", Realm: string(l.name), S: uint64(s.ID), ID: uint64(id), URI: string(m.URI), Match: match, Invoke: invoke})
	} else if leader != l.n.id {
		// Admitted by the leader but refused here: take it back.
		l.n.ann.add(op{K: "unreg", Realm: string(l.name), S: uint64(s.ID), ID: uint64(realm.ClusterID(l.name, m.URI, match))})
	}
}

// claimLoop asks the leader to admit a registration and returns who
// decided. A leader that does not answer is probably dead: the claim is
// asked again of whoever is leader once the failure detector has had its
// time, for at most twice the failure timeout. When this node is the
// leader it returns at once: its own dealer decides.
//
// A claim that failed after an unanswered request may still have been
// admitted (the answer was lost, or the leader was slow): the claimant
// then announces an unreg of it, which removes it wherever it was
// admitted and does nothing elsewhere.
func (n *Node) claimLoop(req claimReq) (leader uint64, err error) {
	timedOut := false
	defer func() {
		if err != nil && timedOut {
			n.ann.add(op{K: "unreg", Realm: req.Realm, S: req.S,
				ID: uint64(realm.ClusterID(wamp.URI(req.Realm), wamp.URI(req.URI), req.Match))})
		}
	}()
	deadline := time.Now().Add(2 * n.cfg.FailureTimeout)
	for {
		leader = n.leader()
		if leader == n.id {
			return leader, nil
		}
		var noAnswer bool
		noAnswer, err = n.claim(leader, req)
		timedOut = timedOut || noAnswer
		var we *wamp.Error
		if err == nil || !errors.As(err, &we) || we.URI != ErrUnavailable || time.Now().After(deadline) {
			return leader, err
		}
		select {
		case <-time.After(n.cfg.FailureTimeout / 4):
		case <-n.stop:
			return leader, err
		}
	}
}

// claim asks leader once; noAnswer reports that the request went out and
// no answer came back in time, so the leader may have admitted it.
func (n *Node) claim(leader uint64, req claimReq) (noAnswer bool, err error) {
	req.Deadline = time.Now().Add(n.cfg.FailureTimeout).UnixNano()
	b, err := json.Marshal(req)
	if err != nil {
		return false, err
	}
	msg, err := n.nc.Request(n.subject("claim", strconv.FormatUint(leader, 16)), b, n.cfg.FailureTimeout)
	if err != nil {
		return errors.Is(err, nats.ErrTimeout), wamp.NewError(ErrUnavailable, "the cluster could not decide the registration: "+err.Error())
	}
	var resp claimResp
	if err := json.Unmarshal(msg.Data, &resp); err != nil {
		return false, wamp.NewError(ErrUnavailable, "bad answer from the cluster leader: "+err.Error())
	}
	if !resp.OK {
		return false, wamp.NewError(wamp.URI(resp.URI), resp.Msg)
	}
	return false, nil
}

// onClaim decides a registration as the leader.
func (n *Node) onClaim(msg *nats.Msg) {
	defer n.survive("claim")
	var req claimReq
	resp := claimResp{OK: true}
	if err := json.Unmarshal(msg.Data, &req); err != nil {
		resp = claimResp{URI: string(wamp.ErrInvalidArgument), Msg: "bad claim: " + err.Error()}
	} else if !n.isLive(req.Node) {
		// A ghost of a node not known alive would never be removed: no
		// leave, goodbye or death of that node is coming. The claimant
		// asks again (claimLoop) once heard from.
		resp = claimResp{URI: string(ErrUnavailable), Msg: "the claimant's node is not known alive to the leader"}
	} else if time.Now().UnixNano() > req.Deadline {
		// The claimant gave up on it (or sent no deadline): admitting it
		// now would leave a registration nobody holds.
		resp = claimResp{URI: string(ErrUnavailable), Msg: "the claim reached the leader after its deadline"}
	} else if l := n.realms[wamp.URI(req.Realm)]; l == nil {
		resp = claimResp{URI: string(wamp.ErrNoSuchRealm), Msg: "no realm " + req.Realm + " on the leader"}
	} else if err := l.claim(&req); err != nil {
		we, _ := err.(*wamp.Error)
		if we == nil {
			we = wamp.NewError(ErrUnavailable, err.Error())
		}
		resp = claimResp{URI: string(we.URI), Msg: we.Msg}
	}
	b, _ := json.Marshal(resp)
	_ = msg.Respond(b)
}

func (l *Realm) claim(req *claimReq) error {
	l.mirrorMu.Lock()
	defer l.mirrorMu.Unlock()
	_, existed := l.nodes[req.Node][wamp.ID(req.S)]
	g := l.ghostLocked(req.Node, wamp.ID(req.S))
	if !g.joined {
		g.info.Store(&req.Info)
	}
	uri := wamp.URI(req.URI)
	d := l.r.Dealer()
	if err := d.RegisterRemote(g, uri, req.Match, req.Invoke); err != nil {
		if d.HasCallee(uri, req.Match, g.id) {
			// A retry of a claim admitted before (its answer was lost).
			return nil
		}
		if !existed {
			delete(l.nodes[req.Node], g.id)
			if len(l.nodes[req.Node]) == 0 {
				delete(l.nodes, req.Node)
			}
		}
		return err
	}
	if id, ok := d.Lookup(uri, req.Match); ok {
		// Under the id the claimant will announce, or unreg if it gives up.
		cid := realm.ClusterID(l.name, uri, req.Match)
		g.regs[cid] = id
		g.claimed[cid] = struct{}{}
	}
	return nil
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
		g = &ghost{l: l, node: node, id: sid, subs: make(map[wamp.ID]wamp.ID), regs: make(map[wamp.ID]wamp.ID), claimed: make(map[wamp.ID]struct{})}
		g.info.Store(new(sessInfo))
		gs[sid] = g
	}
	return g
}

// removeLocked forgets a ghost: its subscriptions and registrations go,
// calls pending on it fail, on_leave fires. mirrorMu must be held.
func (l *Realm) removeLocked(g *ghost) {
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

func (l *Realm) regLocked(g *ghost, id wamp.ID, uri, match, invoke string) {
	delete(g.claimed, id)
	if _, ok := g.regs[id]; ok {
		return
	}
	d := l.r.Dealer()
	if err := d.RegisterRemote(g, wamp.URI(uri), match, invoke); err != nil && !d.HasCallee(wamp.URI(uri), match, g.id) {
		// Two sides of a partition admitted the same procedure: the one
		// registered here first keeps it on this node (docs/cluster.md).
		l.n.log.Warn("registration of another node refused here", "procedure", uri, "error", err)
		return
	}
	if got, ok := d.Lookup(wamp.URI(uri), match); ok {
		g.regs[id] = got
	}
}

func (l *Realm) unregLocked(g *ghost, id wamp.ID) {
	local, ok := g.regs[id]
	if !ok {
		local = id // not known here: ids agree but for a collision
	}
	delete(g.regs, id)
	delete(g.claimed, id)
	l.r.Dealer().UnregisterRemote(g.id, local)
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
	if o.K == "unsub" || o.K == "unreg" {
		// Never a ghost for these alone: an unreg for a claim that timed
		// out may name a session this node never heard of.
		g := l.nodes[node][sid]
		if g == nil {
			return
		}
		if o.K == "unsub" {
			l.unsubLocked(g, wamp.ID(o.ID))
		} else {
			l.unregLocked(g, wamp.ID(o.ID))
		}
		return
	}
	g := l.ghostLocked(node, sid)
	switch o.K {
	case "join":
		l.joinLocked(g, o.Info)
	case "sub":
		l.subLocked(g, wamp.ID(o.ID), o.URI, o.Match)
	case "reg":
		l.regLocked(g, wamp.ID(o.ID), o.URI, o.Match, o.Invoke)
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
		regs := make(map[wamp.ID]bool, len(st.Regs))
		for _, r := range st.Regs {
			regs[wamp.ID(r.ID)] = true
			l.regLocked(g, wamp.ID(r.ID), r.URI, r.Match, r.Invoke)
		}
		for id := range g.regs {
			if _, pending := g.claimed[id]; !regs[id] && !pending {
				l.unregLocked(g, id)
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
		for _, reg := range l.r.Dealer().SessionRegistrations(s.ID) {
			st.Regs = append(st.Regs, ref{ID: uint64(reg.ID), URI: string(reg.URI), Match: reg.Match, Invoke: reg.Invoke})
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
		pub := broker.Publication{Topic: m.URI, ID: m.Request, Args: m.Args, Kwargs: m.Kwargs}
		d := m.Details
		pub.Publisher, _ = wamp.AsID(d["p"])
		pub.ExcludeMe = wamp.Bool(d, "x", false)
		pub.Disclose = wamp.Bool(d, "d", false)
		pub.Retain = wamp.Bool(d, "r", false)
		pub.AuthID, pub.AuthRole = wamp.String(d, "ai"), wamp.String(d, "ar")
		if o, ok := d["o"].(map[string]any); ok {
			pub.Options = o
		}
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
