package cluster

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchboard/switchboard/config"
	"github.com/switchboard/switchboard/wamp"
)

// Node is this router's membership in a cluster: its NATS connection (and
// embedded NATS server), the other nodes it knows alive, and one Realm
// link per realm.
type Node struct {
	cfg    config.Cluster
	log    *slog.Logger
	id     uint64
	prefix string // "sb.<cluster name>"

	realms map[wamp.URI]*Realm // fixed once Start is called

	srv     *server.Server // embedded mode only
	tmpDir  string         // the embedded server's store when no data_dir is set
	nc      *nats.Conn
	started time.Time

	// ctx ends when the node stops: JetStream calls and watchers use it.
	ctx    context.Context
	cancel context.CancelFunc

	store *store         // jetstream.go
	dir   *directory     // directory.go
	ret   *retainedStore // retained.go
	tst   *testaments    // testament.go
	hist  *historyStore  // history.go
	// reconnectedAt is when the NATS connection last came back (Unix
	// nanoseconds): right after it, other nodes' interest may not be
	// known yet, so "no responders" proves nothing.
	reconnectedAt atomic.Int64

	ann announcer

	dataIn atomic.Uint64 // data messages received

	stats counters // stats.go

	mu    sync.Mutex
	peers map[uint64]*peer
	// linkGen counts the NATS (re)connections: a peer is synchronised when
	// a snapshot of it arrived in the current one (LinkErr).
	linkGen uint64
	gone    []goneNode // the last nodes taken for dead or gone, for Status and the directory
	// size is the most nodes (by name, so that a restart is the same
	// node) the cluster has had at once, less those that said goodbye
	// since: the whole of which a majority must be reachable (quorate).
	size int

	stop chan struct{}
	wg   sync.WaitGroup

	// outboxes carry the publications forwarded to each node (outbox.go),
	// made at the first and closed when the node is gone or this one
	// stops (outClosed).
	outMu     sync.RWMutex
	outboxes  map[uint64]*outbox
	outClosed bool
	outWG     sync.WaitGroup

	// settled is closed once this node has had the time to learn the
	// others after its start: before that it admits no registration, so
	// that it does not take a live node it has not heard yet for gone.
	settled    chan struct{}
	settleOnce sync.Once
}

// peer is another node as seen from here.
type peer struct {
	name     string
	lastSeen time.Time // the last control message, ping or ping answer
	// noAnswer is when pings of it started to find no responders (zero:
	// they are answered, or time out).
	noAnswer time.Time
	probing  bool
	lastSeq  uint64 // last state message applied; 0 before the first
	synced   bool   // a snapshot of it has been applied
	sessions int    // its sessions, as its last heartbeat said
	syncGen  uint64 // linkGen when the last snapshot was applied
}

// New returns a node for cfg (which SetDefaults and Validate have seen).
// It connects nothing: AddRealm the realms, then Start.
func New(cfg config.Cluster, log *slog.Logger) *Node {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	id := rand.Uint64()
	for id == 0 {
		id = rand.Uint64()
	}
	n := &Node{
		cfg:    cfg,
		id:     id,
		prefix: "sb." + cfg.Name,
		realms: make(map[wamp.URI]*Realm),
		peers:  make(map[uint64]*peer),
		stop:   make(chan struct{}),

		linkGen: 1,

		settled: make(chan struct{}),
	}
	n.log = log.With("node", cfg.Node, "node_id", strconv.FormatUint(id, 16))
	n.ctx, n.cancel = context.WithCancel(context.Background())
	n.store = &store{n: n}
	n.dir = newDirectory(n)
	n.ret = newRetainedStore(n)
	n.tst = newTestaments(n)
	n.hist = newHistoryStore(n)
	n.ann.n = n
	n.ann.wake = make(chan struct{}, 1)
	return n
}

// ID returns the node's id, drawn at random at New: a restarted node is a
// new node to the others.
func (n *Node) ID() uint64 { return n.id }

// Link returns the realm link for the realm named name, to pass in
// realm.Config.Link; Attach gives it the realm once built.
func (n *Node) Link(name wamp.URI) *Realm {
	l := n.realms[name]
	if l == nil {
		l = newRealm(n, name)
		n.realms[name] = l
	}
	return l
}

// ClientURL is the client URL of the embedded NATS server ("" without).
func (n *Node) ClientURL() string {
	if n.srv == nil {
		return ""
	}
	return n.srv.ClientURL()
}

// ClusterAddr is where the embedded NATS server takes routes, as a
// nats:// URL for another node's routes ("" without).
func (n *Node) ClusterAddr() string {
	if n.srv == nil {
		return ""
	}
	a := n.srv.ClusterAddr()
	if a == nil {
		return ""
	}
	return "nats://" + a.String()
}

// Peers returns the number of other nodes known alive.
func (n *Node) Peers() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.peers)
}

func (n *Node) subject(parts ...string) string {
	return n.prefix + "." + strings.Join(parts, ".")
}

func (n *Node) dataSubject(node uint64) string {
	return n.prefix + ".n." + strconv.FormatUint(node, 16)
}

// DataReceived returns the number of data messages (publications,
// invocations and answers) this node has received from the others.
func (n *Node) DataReceived() uint64 { return n.dataIn.Load() }

// Start starts the embedded NATS server (embedded mode), connects, and
// starts heartbeats.
func (n *Node) Start() error {
	var opts []nats.Option
	if e := n.cfg.Embedded; e != nil {
		srv, err := n.startServer(e)
		if err != nil {
			return err
		}
		n.srv = srv
		opts = append(opts, nats.InProcessServer(srv))
	}
	opts = append(opts,
		nats.Name("switchboard "+n.cfg.Node),
		nats.NoEcho(),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(100*time.Millisecond),
		// No buffering while disconnected: what was not sent in the gap is
		// lost (docs/cluster.md), and resynchronisation repairs the state.
		nats.ReconnectBufSize(-1),
		nats.DisconnectErrHandler(func(nc *nats.Conn, err error) {
			if nc.IsClosed() {
				return // Close, not a loss
			}
			n.stats.disconnects.Add(1)
			n.log.Warn("NATS connection lost", "error", err)
		}),
		nats.ReconnectHandler(func(_ *nats.Conn) {
			n.stats.reconnects.Add(1)
			n.reconnectedAt.Store(time.Now().UnixNano())
			n.dir.signal()
			n.tst.rewrite()
			n.mu.Lock()
			n.linkGen++ // what was heard before the gap may be stale
			n.mu.Unlock()
			n.log.Info("NATS connection back: resynchronising")
			n.ann.requestSnapshot()
			n.sendCtl(ctlMsg{T: "sync"})
		}),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			n.log.Warn("NATS error", "error", err)
		}),
	)
	url := ""
	if x := n.cfg.NATS; x != nil {
		url = strings.Join(x.URLs, ",")
		switch {
		case x.Credentials != "":
			opts = append(opts, nats.UserCredentials(x.Credentials))
		case x.User != "":
			opts = append(opts, nats.UserInfo(x.User, x.Password))
		case x.Token != "":
			opts = append(opts, nats.Token(x.Token))
		}
		if t := x.TLS; t != nil {
			if t.CA != "" {
				opts = append(opts, nats.RootCAs(t.CA))
			}
			if t.Cert != "" {
				opts = append(opts, nats.ClientCert(t.Cert, t.Key))
			}
		}
		opts = append(opts, nats.RetryOnFailedConnect(false))
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		n.shutdownServer()
		return fmt.Errorf("cluster: connect to NATS: %w", err)
	}
	n.nc = nc
	n.started = time.Now()
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		n.shutdownServer()
		return fmt.Errorf("cluster: JetStream: %w", err)
	}
	n.store.js = js
	if n.cfg.NATS != nil {
		ctx, cancel := context.WithTimeout(n.ctx, 5*time.Second)
		err := n.store.checkJetStream(ctx)
		cancel()
		if err != nil {
			nc.Close()
			return err
		}
	}
	subs := []struct {
		subj string
		fn   nats.MsgHandler
	}{
		{n.subject("ctl"), n.onCtl},
		{n.dataSubject(n.id), n.onData},
		{n.pingSubject(n.id), n.onPing},
		{n.rpcSubject(n.id), n.onRPC},
	}
	for _, s := range subs {
		sub, err := nc.Subscribe(s.subj, s.fn)
		if err == nil {
			// Bounded, and large: the links carry every remote event.
			err = sub.SetPendingLimits(1<<20, 256<<20)
		}
		if err != nil {
			nc.Close()
			n.shutdownServer()
			return fmt.Errorf("cluster: subscribe %s: %w", s.subj, err)
		}
	}
	if err := nc.Flush(); err != nil {
		nc.Close()
		n.shutdownServer()
		return fmt.Errorf("cluster: NATS: %w", err)
	}
	time.AfterFunc(n.cfg.FailureTimeout/2, n.settle)
	n.wg.Add(9)
	go n.ann.run()
	go n.heartbeat()
	go n.probe()
	go n.measureRTT()
	go n.store.open()
	go n.dir.reconcile()
	go n.ret.w.run()
	go n.tst.run()
	go n.hist.w.run()
	n.ann.requestSnapshot()
	n.sendCtl(ctlMsg{T: "sync"})
	url = nc.ConnectedUrlRedacted()
	if n.srv != nil {
		url = n.srv.ClientURL() + " (embedded, routes on " + n.ClusterAddr() + ")"
	}
	n.log.Info("cluster node started", "nats", url)
	return nil
}

// natsPort maps a config port to nats-server's: 0 means random there too.
func natsHostPort(addr string) (string, int, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		return "", 0, err
	}
	if port == 0 {
		port = server.RANDOM_PORT
	}
	return host, port, nil
}

func (n *Node) startServer(e *config.EmbeddedNATS) (*server.Server, error) {
	host, port, err := natsHostPort(e.Listen)
	if err != nil {
		return nil, fmt.Errorf("cluster: embedded listen %q: %w", e.Listen, err)
	}
	chost, cport, err := natsHostPort(e.ClusterListen)
	if err != nil {
		return nil, fmt.Errorf("cluster: embedded cluster_listen %q: %w", e.ClusterListen, err)
	}
	if cport == server.RANDOM_PORT {
		// JetStream wants a route even on the first node (to itself, which
		// NATS ignores), so the port must be known before the start.
		if cport, err = freePort(chost); err != nil {
			return nil, fmt.Errorf("cluster: embedded cluster_listen %q: %w", e.ClusterListen, err)
		}
	}
	dir := n.cfg.DataDir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "switchboard-nats-"); err != nil {
			return nil, fmt.Errorf("cluster: JetStream store: %w", err)
		}
		n.tmpDir = dir
	}
	opts := &server.Options{
		// JetStream knows its peers by server name: it must stay the same
		// across restarts of the node, and differ between nodes.
		ServerName: n.cfg.Node,
		JetStream:  true,
		StoreDir:   dir,
		Host:       host,
		Port:       port,
		NoLog:      true,
		NoSigs:     true,
		// Room for the largest WAMP message a node takes by default
		// (16 MiB) and the header around it.
		MaxPayload: 16<<20 + 64<<10,
		Cluster: server.ClusterOpts{
			Name:      n.cfg.Name,
			Host:      chost,
			Port:      cport,
			Advertise: e.Advertise,
			// A route whose peer went silent (a cut network) is dropped
			// after about two failure timeouts rather than NATS's default
			// of minutes, so that it is dialled again soon after the heal.
			// Not sooner: a busy node must never be taken for gone.
			PingInterval: n.cfg.FailureTimeout,
			MaxPingsOut:  2,
		},
	}
	routes := e.Routes
	if len(routes) == 0 {
		routes = []string{"nats://" + net.JoinHostPort(chost, strconv.Itoa(cport))}
	}
	opts.Routes = server.RoutesFromStr(strings.Join(routes, ","))
	// The embedded server does not report a port it cannot bind (it logs,
	// and we keep its logs off): try both first, so that a taken port is
	// a clear error rather than a start that never completes.
	for _, a := range []struct {
		key, host string
		port      int
	}{{"listen", host, port}, {"cluster_listen", chost, cport}} {
		if a.port <= 0 {
			continue
		}
		ln, err := net.Listen("tcp", net.JoinHostPort(a.host, strconv.Itoa(a.port)))
		if err != nil {
			return nil, fmt.Errorf("cluster: embedded %s: %w", a.key, err)
		}
		_ = ln.Close()
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		n.removeTmp()
		return nil, fmt.Errorf("cluster: embedded NATS server: %w", err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		n.removeTmp()
		return nil, errors.New("cluster: embedded NATS server did not start within 10s")
	}
	return srv, nil
}

// freePort finds a port free on host now.
func freePort(host string) (int, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func (n *Node) shutdownServer() {
	if n.srv != nil {
		n.srv.Shutdown()
		n.srv.WaitForShutdown()
	}
	n.removeTmp()
}

func (n *Node) removeTmp() {
	if n.tmpDir != "" {
		_ = os.RemoveAll(n.tmpDir)
		n.tmpDir = ""
	}
}

// Close says goodbye to the other nodes (they drop this node's sessions
// at once rather than after the failure timeout) and disconnects. The
// goodbye is the last control message: heartbeats and state are stopped
// and the queued changes sent first, so no peer hears of this node after
// it and takes it for a new one.
func (n *Node) Close() {
	select {
	case <-n.stop:
		return
	default:
	}
	if n.nc != nil && n.nc.IsConnected() {
		n.dir.flush()
	}
	close(n.stop)
	n.cancel()
	n.wg.Wait()
	n.closeOutboxes()
	if n.nc != nil && n.nc.IsConnected() {
		n.ann.flush()
		n.sendCtl(ctlMsg{T: "bye"})
		_ = n.nc.FlushTimeout(time.Second)
	}
	if n.nc != nil {
		n.nc.Close()
	}
	n.shutdownServer()
}

// Kill drops the NATS connection and the embedded server without a word,
// as a node killed with SIGKILL would: for tests of failure detection.
func (n *Node) Kill() {
	select {
	case <-n.stop:
		return
	default:
	}
	close(n.stop)
	n.cancel()
	n.wg.Wait()
	if n.nc != nil {
		n.nc.Close()
	}
	n.closeOutboxes()
	n.shutdownServer()
}

// ctlMsg is a message of the control subject: heartbeats, state, sync
// requests and goodbyes, all on one subject so that they keep the
// sender's order.
type ctlMsg struct {
	T      string `json:"t"` // hb, state, snap, sync, bye
	Node   uint64 `json:"node"`
	Name   string `json:"name,omitempty"`
	Seq    uint64 `json:"seq,omitempty"`
	Target uint64 `json:"target,omitempty"` // sync: the node asked (0: all)
	// Sessions is the sender's number of sessions (hb), for status.
	Sessions int          `json:"sessions,omitempty"`
	Ops      []op         `json:"ops,omitempty"`
	Realms   []realmState `json:"realms,omitempty"` // snap
}

func (n *Node) sendCtl(m ctlMsg) {
	b, err := n.encodeCtl(&m)
	if err != nil {
		n.log.Error("cannot encode a control message", "type", m.T, "error", err)
		return
	}
	n.publishCtl(m.T, b)
}

func (n *Node) encodeCtl(m *ctlMsg) ([]byte, error) {
	m.Node, m.Name = n.id, n.cfg.Node
	return json.Marshal(m)
}

// publishCtl publishes an encoded control message of type typ. A
// refusal is counted and logged at Error: a lost state message or
// snapshot leaves the others with a wrong view of this node until the
// next snapshot gets through. While the connection is down the refusals
// are expected (the disconnection is logged), so Warn.
func (n *Node) publishCtl(typ string, b []byte) {
	switch typ {
	case "sync":
		n.stats.syncsSent.Add(1)
	case "snap":
		n.stats.snapsSent.Add(1)
	}
	err := n.nc.Publish(n.subject("ctl"), b)
	switch {
	case err == nil, errors.Is(err, nats.ErrConnectionClosed):
	case errors.Is(err, nats.ErrConnectionReconnecting), errors.Is(err, nats.ErrReconnectBufExceeded):
		n.stats.ctlFailures.Add(1)
		n.log.Warn("control message not sent: NATS connection down", "type", typ, "error", err)
	default:
		n.stats.ctlFailures.Add(1)
		n.log.Error("control message not sent", "type", typ, "bytes", len(b), "error", err)
	}
}

// heartbeat announces this node and declares silent nodes dead.
func (n *Node) heartbeat() {
	defer n.wg.Done()
	every := n.cfg.FailureTimeout / 4
	t := time.NewTicker(every)
	defer t.Stop()
	last := time.Now()
	for {
		n.sendCtl(ctlMsg{T: "hb", Seq: n.ann.published.Load(), Sessions: n.localSessions()})
		select {
		case <-n.stop:
			return
		case <-t.C:
		}
		var dead []uint64
		now := time.Now()
		frozen := now.Sub(last) > n.cfg.FailureTimeout/2
		last = now
		n.mu.Lock()
		for id, p := range n.peers {
			switch {
			case frozen:
				// This node itself was stopped or starved (SIGSTOP, a
				// frozen VM): the others' silence was its own. They get
				// a fresh failure timeout.
				p.lastSeen = now
			case now.Sub(p.lastSeen) > n.cfg.FailureTimeout:
				dead = append(dead, id)
			}
		}
		n.mu.Unlock()
		if frozen {
			// Its embedded server was frozen too: the others may have
			// dropped its routes, and "no responders" proves nothing
			// until they are back.
			n.reconnectedAt.Store(now.UnixNano())
			n.log.Warn("this node did not run for a while: no peer taken for dead for it")
		}
		n.declareDead(dead, false)
	}
}

// declareDead takes nodes for dead: their sessions leave, the calls
// pending on their callees fail, and the directory loses their callees.
func (n *Node) declareDead(ids []uint64, disconnected bool) {
	why := "silent for the failure timeout"
	if disconnected {
		why = "its NATS connection is gone (no responders)"
	}
	for _, id := range ids {
		n.mu.Lock()
		p := n.peers[id]
		if p != nil {
			delete(n.peers, id)
			n.forgetLocked(id, p.name, false)
		}
		n.mu.Unlock()
		if p == nil {
			continue
		}
		n.stats.nodesDead.Add(1)
		if disconnected {
			n.stats.nodesDisconnected.Add(1)
		}
		n.log.Warn("node taken for dead", "peer", p.name, "peer_id", strconv.FormatUint(id, 16), "why", why)
		n.dropNode(id)
	}
	if len(ids) > 0 {
		n.dir.signal()
		n.tst.signal()
	}
}

func (n *Node) pingSubject(node uint64) string {
	return n.prefix + ".ping." + hexID(node)
}

func hexID(id uint64) string { return strconv.FormatUint(id, 16) }

// onPing answers another node's ping on a subscription of its own, so
// that a busy control subject never delays the answer.
func (n *Node) onPing(msg *nats.Msg) {
	if len(msg.Data) == 8 {
		from := binary.BigEndian.Uint64(msg.Data)
		n.mu.Lock()
		if p := n.peers[from]; p != nil {
			p.lastSeen = time.Now()
		}
		n.mu.Unlock()
	}
	_ = msg.Respond(nil)
}

// Death detection (docs/cluster.md): a node whose NATS connection is gone
// leaves no subscriber on its ping subject, and NATS answers a request
// there at once with "no responders": that is proof, known within a
// probe or two of the connection closing (a SIGKILL). A node that is
// busy, stopped or cut off keeps its subscription: its pings time out,
// which proves nothing, and only failure_timeout of silence takes it for
// dead.
const (
	// noAnswerProof is how long pings must find no responders before the
	// node is taken for dead: a route between NATS servers that is being
	// re-established may briefly lose the interest of a live node.
	noAnswerProof = 500 * time.Millisecond
	// reconnectGrace is how long after this node's own reconnection "no
	// responders" is not believed: the other nodes' interest may not have
	// reached its server yet.
	reconnectGrace = 2 * time.Second
)

func (n *Node) probeEvery() time.Duration {
	return min(max(n.cfg.FailureTimeout/8, 25*time.Millisecond), 200*time.Millisecond)
}

// probe pings every live peer each probe period, one ping in flight per
// peer.
func (n *Node) probe() {
	defer n.wg.Done()
	every := n.probeEvery()
	t := time.NewTicker(every)
	defer t.Stop()
	body := binary.BigEndian.AppendUint64(nil, n.id)
	for {
		select {
		case <-n.stop:
			return
		case <-t.C:
		}
		n.mu.Lock()
		for id, p := range n.peers {
			if p.probing {
				continue
			}
			p.probing = true
			n.wg.Add(1)
			go n.ping(id, body)
		}
		n.mu.Unlock()
	}
}

func (n *Node) ping(id uint64, body []byte) {
	defer n.wg.Done()
	timeout := min(n.cfg.FailureTimeout, time.Second)
	ctx, cancel := context.WithTimeout(n.ctx, timeout)
	_, err := n.nc.RequestWithContext(ctx, n.pingSubject(id), body)
	cancel()
	now := time.Now()
	var dead bool
	n.mu.Lock()
	if p := n.peers[id]; p != nil {
		p.probing = false
		switch {
		case err == nil:
			p.lastSeen, p.noAnswer = now, time.Time{}
		case errors.Is(err, nats.ErrNoResponders):
			if now.Sub(time.Unix(0, n.reconnectedAt.Load())) < reconnectGrace {
				break
			}
			if p.noAnswer.IsZero() {
				p.noAnswer = now
			}
			dead = now.Sub(p.noAnswer) >= noAnswerProof
		}
	}
	n.mu.Unlock()
	if dead {
		n.declareDead([]uint64{id}, true)
	}
}

// isGone reports whether node id is taken for gone: taken for dead or
// left, or never heard of although this node has listened for longer
// than the failure timeout (a node of before a restart of the cluster).
// This node is never gone; a live peer neither.
func (n *Node) isGone(id uint64) bool {
	if id == n.id {
		return false
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.peers[id] != nil {
		return false
	}
	for _, g := range n.gone {
		if g.id == id {
			return true
		}
	}
	return time.Since(n.started) > n.cfg.FailureTimeout
}

// confirmGone reports whether node id is gone, after asking it once
// more when this node takes it for gone: that view may be this node's
// own doing (it was cut off or frozen, and has not heard the others
// again yet), and acting on it would remove a live node's callees.
// cache holds the answers of one decision.
func (n *Node) confirmGone(id uint64, cache map[uint64]bool) bool {
	if gone, ok := cache[id]; ok {
		return gone
	}
	gone := n.isGone(id)
	if gone {
		ctx, cancel := context.WithTimeout(n.ctx, time.Second)
		_, err := n.nc.RequestWithContext(ctx, n.pingSubject(id), binary.BigEndian.AppendUint64(nil, n.id))
		cancel()
		gone = err != nil
	}
	cache[id] = gone
	return gone
}

// opTimeout bounds one decision that needs the cluster state (a
// REGISTER, a directory change): a node without a quorum answers within
// it.
func (n *Node) opTimeout() time.Duration {
	return min(max(n.cfg.FailureTimeout, time.Second), 5*time.Second)
}

// registerTimeout bounds the directory's decision on a REGISTER. A node
// that hears a majority of the cluster (quorate) is on the side that will
// have a JetStream leader again within an election: it waits that long
// (electionChecks, the bound its readiness gives an election) rather
// than refuse a client that, seeing the node ready, has every reason to
// register. A node without a majority answers within opTimeout.
func (n *Node) registerTimeout() time.Duration {
	if n.quorate() {
		return max(n.opTimeout(), electionChecks*time.Second)
	}
	return n.opTimeout()
}

func (n *Node) dropNode(id uint64) {
	n.outMu.Lock()
	if o := n.outboxes[id]; o != nil {
		delete(n.outboxes, id)
		o.close()
	}
	n.outMu.Unlock()
	for _, l := range n.realms {
		l.dropNode(id)
	}
}

// outboxFor returns the outbox of node, nil once this node stops.
func (n *Node) outboxFor(node uint64) *outbox {
	n.outMu.RLock()
	o := n.outboxes[node]
	n.outMu.RUnlock()
	if o != nil {
		return o
	}
	n.outMu.Lock()
	defer n.outMu.Unlock()
	if o = n.outboxes[node]; o != nil || n.outClosed {
		return o
	}
	if n.outboxes == nil {
		n.outboxes = make(map[uint64]*outbox)
	}
	o = newOutbox(n, node)
	n.outboxes[node] = o
	n.outWG.Add(1)
	go func() {
		defer n.outWG.Done()
		o.run()
	}()
	return o
}

// closeOutboxes closes every outbox and waits for them to hand what they
// hold to NATS.
func (n *Node) closeOutboxes() {
	n.outMu.Lock()
	n.outClosed = true
	for id, o := range n.outboxes {
		delete(n.outboxes, id)
		o.close()
	}
	n.outMu.Unlock()
	n.outWG.Wait()
}

// touch marks node id alive and reports whether it is new (first seen, or
// back after being taken for dead). It returns nil for a node that said
// goodbye.
func (n *Node) touch(id uint64, name string) (*peer, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	p := n.peers[id]
	if p == nil {
		if n.hasLeftLocked(id) {
			return nil, false
		}
		p = &peer{name: name}
		n.peers[id] = p
		p.lastSeen = time.Now()
		n.size = max(n.size, n.namesLocked())
		// Every node heartbeats as it starts: the others are heard from
		// within a round trip of the first.
		time.AfterFunc(100*time.Millisecond, n.settle)
		return p, true
	}
	p.lastSeen = time.Now()
	return p, false
}

// onCtl runs on the one goroutine of the control subscription, so that a
// node's messages are applied in its order.
func (n *Node) onCtl(msg *nats.Msg) {
	defer n.survive("control")
	var m ctlMsg
	if err := json.Unmarshal(msg.Data, &m); err != nil {
		n.log.Warn("bad control message", "error", err)
		return
	}
	if m.Node == n.id {
		return
	}
	if m.T == "bye" {
		n.mu.Lock()
		_, known := n.peers[m.Node]
		delete(n.peers, m.Node)
		// Even when not known (already taken for dead): what it may still
		// have in flight must not bring it back.
		n.forgetLocked(m.Node, m.Name, true)
		n.mu.Unlock()
		if known {
			n.stats.nodesLeft.Add(1)
			n.log.Info("node left the cluster", "peer", m.Name)
			n.dropNode(m.Node)
		}
		return
	}
	p, isNew := n.touch(m.Node, m.Name)
	if p == nil {
		return // it left: a message sent before its goodbye arrived after it
	}
	if isNew {
		n.log.Info("node joined the cluster", "peer", m.Name)
		// It knows nothing of us yet, and we nothing of it.
		n.ann.requestSnapshot()
		if m.T != "snap" {
			n.sendCtl(ctlMsg{T: "sync", Target: m.Node})
		}
	}
	if isNew {
		// Its callees in the directory are stand-ins again; and it may
		// have taken this node for dead and published its testaments.
		defer n.dir.resync()
		n.tst.rewrite()
	}
	switch m.T {
	case "hb":
		n.mu.Lock()
		p.sessions = m.Sessions
		behind := p.synced && m.Seq > p.lastSeq
		// No snapshot since this node's last reconnection: the request
		// for it, or the answer, was lost in the gap.
		stale := !isNew && p.syncGen != n.linkGen
		n.mu.Unlock()
		if behind || stale {
			// A state message was lost (a gap in the connection).
			n.sendCtl(ctlMsg{T: "sync", Target: m.Node})
		}
	case "sync":
		if m.Target == 0 || m.Target == n.id {
			n.ann.requestSnapshot()
		}
	case "snap":
		for _, rs := range m.Realms {
			if l := n.realms[wamp.URI(rs.Realm)]; l != nil {
				l.applySnapshot(m.Node, rs)
			}
		}
		// A realm the snapshot leaves out has no sessions of that node.
		for name, l := range n.realms {
			if !hasRealm(m.Realms, name) {
				l.applySnapshot(m.Node, realmState{Realm: string(name)})
			}
		}
		n.mu.Lock()
		p.lastSeq, p.synced, p.syncGen = m.Seq, true, n.linkGen
		n.mu.Unlock()
		n.stats.snapsApplied.Add(1)
	case "state":
		n.mu.Lock()
		gap := p.synced && m.Seq != p.lastSeq+1
		p.lastSeq = m.Seq
		n.mu.Unlock()
		if gap {
			n.sendCtl(ctlMsg{T: "sync", Target: m.Node})
		}
		for i := range m.Ops {
			o := &m.Ops[i]
			if l := n.realms[wamp.URI(o.Realm)]; l != nil {
				l.applyOp(m.Node, o)
			}
		}
	}
}

// survive drops a message whose handling panicked: whatever arrives on
// NATS, from anyone who can publish there, must not kill the node. It
// runs deferred in the NATS handlers.
func (n *Node) survive(what string) {
	if r := recover(); r != nil {
		n.stats.panics.Add(1)
		n.log.Error("cluster message dropped: its handling panicked", "subject", what, "panic", r, "stack", string(debug.Stack()))
	}
}

func hasRealm(rs []realmState, name wamp.URI) bool {
	for _, r := range rs {
		if wamp.URI(r.Realm) == name {
			return true
		}
	}
	return false
}

func (n *Node) settle() { n.settleOnce.Do(func() { close(n.settled) }) }

// waitSettled waits until the node has had the time to hear the others
// after its start, so that it does not take a live node it has not heard
// yet for gone.
func (n *Node) waitSettled(ctx context.Context) {
	select {
	case <-n.settled:
	case <-ctx.Done():
	}
}

// isLive reports whether id is another node known alive.
// namesLocked counts this node and its live peers by name. n.mu must be
// held.
func (n *Node) namesLocked() int {
	names := map[string]bool{n.cfg.Node: true}
	for _, p := range n.peers {
		names[p.name] = true
	}
	return len(names)
}

// reachWithin is how recently a peer must have been heard (its
// heartbeats, or its answers to this node's pings every probeEvery) to
// count as reachable.
const reachWithin = 1500 * time.Millisecond

// quorate reports whether this node hears from a majority of the cluster
// (size) now. Then JetStream has a quorum on its side, and a write that
// fails is an election under way (a stream leader died), which ends
// within NATS's election timeout; on a minority side it fails for good.
func (n *Node) quorate() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	names := map[string]bool{n.cfg.Node: true}
	for _, p := range n.peers {
		if time.Since(p.lastSeen) < reachWithin {
			names[p.name] = true
		}
	}
	return 2*len(names) > max(n.size, 1)
}

func (n *Node) isLive(id uint64) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.peers[id] != nil
}

// livePeers returns the ids of the other live nodes.
func (n *Node) livePeers() []uint64 {
	n.mu.Lock()
	defer n.mu.Unlock()
	ids := make([]uint64, 0, len(n.peers))
	for id := range n.peers {
		ids = append(ids, id)
	}
	return ids
}

// announcer publishes this node's state changes in order, from one
// goroutine, so that no lock of the realm is held while NATS is written,
// and a full snapshot when asked. Its queue is bounded: past maxOps the
// queued changes are dropped for a snapshot, which says it all.
type announcer struct {
	n         *Node
	wake      chan struct{}
	published atomic.Uint64 // seq of the last state message sent

	mu   sync.Mutex
	ops  []op
	snap bool
	seq  uint64
}

const maxOps = 100000

func (a *announcer) add(o op) {
	a.mu.Lock()
	if len(a.ops) >= maxOps {
		a.ops, a.snap = nil, true
	} else {
		a.ops = append(a.ops, o)
	}
	a.mu.Unlock()
	a.signal()
}

func (a *announcer) requestSnapshot() {
	a.mu.Lock()
	a.snap = true
	a.mu.Unlock()
	a.signal()
}

func (a *announcer) signal() {
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

func (a *announcer) run() {
	defer a.n.wg.Done()
	for {
		select {
		case <-a.n.stop:
			return
		case <-a.wake:
		}
		a.mu.Lock()
		ops, snap := a.ops, a.snap
		a.ops, a.snap = nil, false
		a.mu.Unlock()
		// Changes queued before the snapshot is built go first; those
		// queued while it is built go after it, where, applied again, they
		// change nothing or what the snapshot missed.
		if len(ops) > 0 {
			a.send(ctlMsg{T: "state", Ops: ops})
		}
		if snap {
			var rs []realmState
			for _, l := range a.n.realms {
				rs = append(rs, l.snapshot())
			}
			a.send(ctlMsg{T: "snap", Realms: rs})
		}
	}
}

// flush sends the queued changes, once run has returned: for Close,
// before the goodbye. A pending snapshot is not worth it any more.
func (a *announcer) flush() {
	a.mu.Lock()
	ops := a.ops
	a.ops, a.snap = nil, false
	a.mu.Unlock()
	if len(ops) > 0 {
		a.send(ctlMsg{T: "state", Ops: ops})
	}
}

// send publishes a state message or snapshot under the next number. A
// batch of state changes larger than NATS's max_payload is split into
// several messages, each numbered; a single change or a snapshot that is
// too large is refused by NATS (counted, logged at Error).
func (a *announcer) send(m ctlMsg) {
	m.Seq = a.seq + 1
	b, err := a.n.encodeCtl(&m)
	if err != nil {
		a.n.log.Error("cannot encode a control message", "type", m.T, "error", err)
		return
	}
	if m.T == "state" && len(m.Ops) > 1 {
		if max := a.n.nc.MaxPayload(); max > 0 && int64(len(b)) > max {
			half := len(m.Ops) / 2
			a.send(ctlMsg{T: "state", Ops: m.Ops[:half]})
			a.send(ctlMsg{T: "state", Ops: m.Ops[half:]})
			return
		}
	}
	a.seq++
	a.n.publishCtl(m.T, b)
	a.published.Store(a.seq)
}
