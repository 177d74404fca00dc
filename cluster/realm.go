package cluster

import (
	"fmt"
	"sync"

	"github.com/nats-io/nats.go"

	"github.com/switchboard/switchboard/broker"
	"github.com/switchboard/switchboard/realm"
	"github.com/switchboard/switchboard/session"
	"github.com/switchboard/switchboard/wamp"
	"github.com/switchboard/switchboard/wamp/codec"
)

// ErrUnavailable answers a REGISTER when the cluster cannot decide it:
// this node cannot reach a JetStream quorum (a partition, too few nodes
// up) within the bounded wait.
const ErrUnavailable wamp.URI = "switchboard.error.cluster_unavailable"

// calleeFeatures are the callee features the dealer asks a callee about;
// other nodes learn which of them a session announced.
var calleeFeatures = []string{"call_canceling", "call_cancelling", "progressive_call_results", "progressive_call_invocations",
	"payload_passthru_mode", "payload_transparency"}

// Realm links one realm to the same realm on the other nodes. It
// implements realm.Link. A node keeps its own sessions only; of the other
// nodes it keeps their interest (interest.go: which subscriptions they
// have subscribers on, one stand-in per node) and the callees the
// registration directory lists (registrations.go: one stand-in per
// remote callee); it relays invocations to its own callees (relay.go);
// the meta API asks the other nodes (rpc.go).
//
// Lock order (docs/locks.md): mu -> the realm's, broker's and dealer's
// locks -> localMu and relayMu (leaves).
type Realm struct {
	n    *Node
	name wamp.URI
	r    *realm.Realm

	localMu sync.Mutex
	local   map[wamp.ID]struct{} // sessions attached here
	// subs are the subscriptions with local subscribers, with how many:
	// the node announces a subscription with its first and last.
	subs map[wamp.ID]*localSub

	// mu guards what this node keeps of the others: their interest and
	// the callees applied from the directory.
	mu       sync.Mutex
	interest map[uint64]*nodeInterest
	callees  map[uint64]map[wamp.ID]*callee
	// applied are the other nodes' callees registered in the dealer, per
	// directory key (directory.go).
	applied map[string]map[calleeKey]struct{}

	// The relay of invocations from other nodes to local callees: a
	// callee sees an INVOCATION request id of its own session (relayOut),
	// and its answer is sent back under the caller node's id (relayIn).
	relayMu  sync.Mutex
	relayOut map[originKey]wamp.ID
	relayIn  map[localKey]originKey
}

var _ realm.Link = (*Realm)(nil)

func newRealm(n *Node, name wamp.URI) *Realm {
	return &Realm{
		n:        n,
		name:     name,
		local:    make(map[wamp.ID]struct{}),
		subs:     make(map[wamp.ID]*localSub),
		interest: make(map[uint64]*nodeInterest),
		callees:  make(map[uint64]map[wamp.ID]*callee),
		applied:  make(map[string]map[calleeKey]struct{}),
		relayOut: make(map[originKey]wamp.ID),
		relayIn:  make(map[localKey]originKey),
	}
}

// Attach gives the link its realm, built with this link in its Config.
func (l *Realm) Attach(r *realm.Realm) { l.r = r }

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

// IsLocal implements realm.Link.
func (l *Realm) IsLocal(sid wamp.ID) bool {
	l.localMu.Lock()
	defer l.localMu.Unlock()
	_, ok := l.local[sid]
	return ok
}

// localCount returns the number of local sessions.
func (l *Realm) localCount() int {
	l.localMu.Lock()
	defer l.localMu.Unlock()
	return len(l.local)
}

// Joined implements realm.Link.
func (l *Realm) Joined(s *session.Session) {
	l.localMu.Lock()
	l.local[s.ID] = struct{}{}
	l.localMu.Unlock()
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
	l.forgetRelays(sid)
	l.n.dir.dropped(l.name, sid, 0)
	l.n.tst.left(l.name, sid)
}

// Unregistered implements realm.Link: the directory forgets a local
// callee (asynchronously: this comes under the dealer's lock).
func (l *Realm) Unregistered(sid, reg wamp.ID) {
	if l.IsLocal(sid) {
		l.n.dir.dropped(l.name, sid, reg)
	}
}

// Testaments implements realm.Link.
func (l *Realm) Testaments(s *session.Session, ts []realm.Testament) {
	l.n.tst.set(l.name, s, ts)
}

// dropNode forgets what this node kept of a node taken for dead or gone:
// its interest, its callees (calls pending on them fail with
// wamp.error.canceled), and the invocations it relayed here.
func (l *Realm) dropNode(node uint64) {
	if l.r == nil {
		return
	}
	l.dropInterest(node)
	l.dropCallees(node)
	l.dropRelays(node)
}

// onData runs on the one goroutine of this node's data subscription, so
// that each sender's messages are handled in its order.
func (n *Node) onData(msg *nats.Msg) {
	if err := eachRecord(msg.Data, n.handleData); err != nil {
		n.log.Warn("bad data message", "error", err)
	}
}

// handleData handles one data message (one record of a batch): a panic
// drops that one.
func (n *Node) handleData(b []byte) {
	defer n.survive("data")
	n.dataIn.Add(1)
	var h dataHeader
	m := wamp.Acquire()
	defer wamp.Release(m)
	body, err := decodeHeader(b, &h)
	if err == nil && h.kind != kindPub {
		c := codec.For(h.ser)
		if c == nil {
			err = fmt.Errorf("cluster: unknown serializer %d", h.ser)
		} else {
			err = c.Decode(body, m)
		}
	}
	var pub broker.Publication
	if err == nil && h.kind == kindPub {
		err = readPub(&h, body, m, &pub)
	}
	if err != nil {
		n.log.Warn("bad data message", "error", err)
		return
	}
	if h.kind <= kindAns {
		n.stats.in[h.kind].Add(1)
	}
	l := n.realms[wamp.URI(h.realm)] // no copy of the name: a map index converts in place
	if l == nil || l.r == nil {
		return
	}
	switch h.kind {
	case kindPub:
		l.r.Broker().DeliverRemote(&pub)
	case kindInv:
		l.invoke(h.from, h.session, m)
	case kindInt:
		l.interrupt(h.from, h.session, m)
	case kindAns:
		l.answerIn(h.from, h.session, m)
	}
}
