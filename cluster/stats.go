package cluster

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Counters of the node for metrics and /status. They are plain atomics
// counted on the cluster paths only (a node alone has no Node), and read
// at scrape time.
type counters struct {
	disconnects, reconnects atomic.Uint64
	rttNanos                atomic.Int64 // last NATS round trip; 0 before the first

	// Data messages handed to NATS (out) and received (in), per kind,
	// indexed by kind byte; kind 0 is unused.
	out, in      [numKinds]atomic.Uint64
	sendFailures atomic.Uint64

	snapsSent, snapsApplied atomic.Uint64
	syncsSent               atomic.Uint64
	nodesDead, nodesLeft    atomic.Uint64
	nodesDisconnected       atomic.Uint64 // of nodesDead: proven by NATS (no responders), not by silence
	panics                  atomic.Uint64 // messages dropped because their handling panicked
	ctlFailures             atomic.Uint64 // control messages NATS refused (too large, connection down)
}

// Stats is a reading of a node's counters.
type Stats struct {
	Connected bool // the NATS connection is up
	Linked    bool // connected and synchronised with every live node (LinkErr)
	RTT       time.Duration

	Disconnects, Reconnects uint64
	// Data messages, by direction: Out were handed to NATS (one per
	// destination node), In were received.
	EventsOut, EventsIn uint64
	// EventMessagesOut counts the NATS messages that carried EventsOut
	// (outbox.go packs what waits into one): EventsOut/EventMessagesOut
	// is the publications per message.
	EventMessagesOut              uint64
	InvocationsOut, InvocationsIn uint64
	InterruptsOut, InterruptsIn   uint64
	AnswersOut, AnswersIn         uint64 // YIELD (results, progressive ones included) and ERROR of relayed calls
	SendFailures                  uint64 // data messages NATS refused (connection down)

	SnapshotsSent, SnapshotsApplied uint64
	ResyncRequests                  uint64 // sync requests sent: at start, reconnect, a new node, a gap
	NodesAlive                      int    // other nodes known alive
	NodesDead                       uint64 // nodes taken for dead: their NATS connection gone, or silent for the failure timeout
	NodesDisconnected               uint64 // of NodesDead, those whose NATS connection was gone (no responders)
	NodesLeft                       uint64 // nodes that said goodbye
	HandlerPanics                   uint64 // messages from NATS dropped because handling them panicked
	ControlSendFailures             uint64 // control messages (state, snapshots, heartbeats) NATS refused
}

// Stats returns the node's counters now.
func (n *Node) Stats() Stats {
	c := &n.stats
	st := Stats{
		Connected:           n.nc != nil && n.nc.IsConnected(),
		RTT:                 time.Duration(c.rttNanos.Load()),
		Disconnects:         c.disconnects.Load(),
		Reconnects:          c.reconnects.Load(),
		EventsOut:           c.out[kindPub].Load(),
		EventsIn:            c.in[kindPub].Load(),
		EventMessagesOut:    c.out[kindBatch].Load(),
		InvocationsOut:      c.out[kindInv].Load(),
		InvocationsIn:       c.in[kindInv].Load(),
		InterruptsOut:       c.out[kindInt].Load(),
		InterruptsIn:        c.in[kindInt].Load(),
		AnswersOut:          c.out[kindAns].Load(),
		AnswersIn:           c.in[kindAns].Load(),
		SendFailures:        c.sendFailures.Load(),
		SnapshotsSent:       c.snapsSent.Load(),
		SnapshotsApplied:    c.snapsApplied.Load(),
		ResyncRequests:      c.syncsSent.Load(),
		NodesDead:           c.nodesDead.Load(),
		NodesDisconnected:   c.nodesDisconnected.Load(),
		NodesLeft:           c.nodesLeft.Load(),
		HandlerPanics:       c.panics.Load(),
		ControlSendFailures: c.ctlFailures.Load(),
	}
	st.Linked = n.LinkErr() == nil
	st.NodesAlive = n.Peers()
	return st
}

// sent counts one data message of kind handed to NATS, or refused.
func (n *Node) sent(kind byte, err error) { n.sentN(kind, 1, err) }

// sentN counts count data messages of kind handed to NATS together, or
// refused.
func (n *Node) sentN(kind byte, count uint64, err error) {
	if err != nil {
		n.stats.sendFailures.Add(count)
		return
	}
	n.stats.out[kind].Add(count)
}

// LinkErr says why the node is not linked to the cluster, nil when it is:
// its NATS connection is up, it has waited long enough to hear from the
// others after its start, and it has a snapshot, taken since its last
// (re)connection, of every node it knows alive. It is the node's ready
// check.
func (n *Node) LinkErr() error {
	select {
	case <-n.stop:
		return errors.New("left the cluster")
	default:
	}
	if n.nc == nil {
		return errors.New("not connected to NATS yet")
	}
	if !n.nc.IsConnected() {
		return fmt.Errorf("NATS connection %s", strings.ToLower(n.nc.Status().String()))
	}
	select {
	case <-n.settled:
	default:
		return errors.New("waiting to hear from the other nodes")
	}
	if err := n.store.err(); err != nil {
		return err
	}
	n.mu.Lock()
	var behind []string
	for id, p := range n.peers {
		if !p.synced || p.syncGen != n.linkGen {
			behind = append(behind, p.name+" ("+strconv.FormatUint(id, 16)+")")
		}
	}
	n.mu.Unlock()
	if len(behind) > 0 {
		slices.Sort(behind)
		return fmt.Errorf("not synchronised yet with %s", strings.Join(behind, ", "))
	}
	return nil
}

// measureRTT measures the NATS round trip every heartbeat period, on its
// own goroutine so that a slow server never delays a heartbeat. It is
// nats.Conn.RTT bounded by the period, so that Close never waits long.
func (n *Node) measureRTT() {
	defer n.wg.Done()
	every := n.cfg.FailureTimeout / 4
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if n.nc.IsConnected() {
			start := time.Now()
			if err := n.nc.FlushTimeout(every); err == nil {
				d := time.Since(start)
				if d <= 0 {
					d = 1 // 0 means "not measured"
				}
				n.stats.rttNanos.Store(int64(d))
			}
		}
		select {
		case <-n.stop:
			return
		case <-t.C:
		}
	}
}

// Member is a node of the cluster as this node sees it.
type Member struct {
	ID   string `json:"id"` // hex, as in the logs
	Name string `json:"name"`
	Self bool   `json:"self,omitempty"`
	// Alive: the node heartbeats; false for the nodes recently taken for
	// dead or gone (the last maxGone of them).
	Alive bool `json:"alive"`
	// Synced: this node has the member's state since its last
	// (re)connection (always true for itself).
	Synced bool `json:"synced"`
	// Sessions are the member's sessions over all realms, as known here.
	Sessions int `json:"sessions"`
}

// Status is the node's view of the cluster, for GET /status.
type Status struct {
	Cluster   string  `json:"cluster"`
	Node      string  `json:"node"`
	ID        string  `json:"id"`
	Connected bool    `json:"nats_connected"`
	Linked    bool    `json:"linked"`
	Reason    string  `json:"not_linked_reason,omitempty"`
	RTT       float64 `json:"nats_rtt_seconds"`
	// Members are this node first, then the others by name.
	Members []Member `json:"members"`
}

// maxGone bounds the dead and departed nodes Status remembers.
const maxGone = 16

// goneNode is a node taken for dead or that left, for Status.
type goneNode struct {
	id   uint64
	name string
	// left: it said goodbye. Node ids are drawn at each start, so it
	// never comes back: anything heard from it later is late.
	left bool
}

// forgetLocked records that a node is gone. n.mu must be held.
func (n *Node) forgetLocked(id uint64, name string, left bool) {
	n.gone = slices.DeleteFunc(n.gone, func(g goneNode) bool { return g.id == id })
	if len(n.gone) == maxGone {
		n.gone = n.gone[1:]
	}
	n.gone = append(n.gone, goneNode{id, name, left})
	if left && n.size > 1 {
		// Leaving is a decision: the cluster is smaller now.
		n.size--
	}
}

// hasLeftLocked reports whether node id said goodbye. n.mu must be held.
func (n *Node) hasLeftLocked(id uint64) bool {
	for _, g := range n.gone {
		if g.id == id && g.left {
			return true
		}
	}
	return false
}

// Status returns the node's view of the cluster now.
func (n *Node) Status() Status {
	st := Status{
		Cluster:   n.cfg.Name,
		Node:      n.cfg.Node,
		ID:        strconv.FormatUint(n.id, 16),
		Connected: n.nc != nil && n.nc.IsConnected(),
		RTT:       time.Duration(n.stats.rttNanos.Load()).Seconds(),
	}
	if err := n.LinkErr(); err != nil {
		st.Reason = err.Error()
	} else {
		st.Linked = true
	}
	sessions := n.sessionCounts()
	st.Members = append(st.Members, Member{ID: st.ID, Name: n.cfg.Node, Self: true, Alive: true, Synced: true, Sessions: sessions[0]})
	var others []Member
	n.mu.Lock()
	for id, p := range n.peers {
		others = append(others, Member{ID: strconv.FormatUint(id, 16), Name: p.name, Alive: true,
			Synced: p.synced && p.syncGen == n.linkGen, Sessions: sessions[id]})
	}
	for _, g := range n.gone {
		if n.peers[g.id] == nil {
			others = append(others, Member{ID: strconv.FormatUint(g.id, 16), Name: g.name})
		}
	}
	n.mu.Unlock()
	slices.SortFunc(others, func(a, b Member) int {
		if a.Alive != b.Alive {
			if a.Alive {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Name+a.ID, b.Name+b.ID)
	})
	st.Members = append(st.Members, others...)
	return st
}

// sessionCounts returns the sessions per node over all realms, as their
// heartbeats last said; this node's under 0.
func (n *Node) sessionCounts() map[uint64]int {
	c := map[uint64]int{0: n.localSessions()}
	n.mu.Lock()
	for id, p := range n.peers {
		c[id] = p.sessions
	}
	n.mu.Unlock()
	return c
}

// localSessions returns this node's sessions over all realms.
func (n *Node) localSessions() int {
	total := 0
	for _, l := range n.realms {
		total += l.localCount()
	}
	return total
}
