package router

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard/switchboard/auth"
	"github.com/switchboard/switchboard/bridge"
	"github.com/switchboard/switchboard/broker"
	"github.com/switchboard/switchboard/cluster"
	"github.com/switchboard/switchboard/config"
	"github.com/switchboard/switchboard/realm"
	"github.com/switchboard/switchboard/session"
	"github.com/switchboard/switchboard/transport"
	"github.com/switchboard/switchboard/wamp"
)

// Options are what the config file does not hold.
type Options struct {
	// Logger. Nil means discard.
	Logger *slog.Logger
	// AuthLimiter slows down addresses with repeated authentication
	// failures, router-wide. Nil means one with auth's defaults.
	AuthLimiter *auth.Limiter
	// LogLevel, when set, is the level of Logger's handler: each reload
	// sets it to the config's log.level. Nil: reloads leave it alone.
	LogLevel *slog.LevelVar
}

// Listener is one open transport listener. It is part of GET /status,
// whose keys are all lower case.
type Listener struct {
	Type string `json:"type"` // "websocket" or "rawsocket"
	// Addr is the address it listens on, with the real port when the config
	// said 0: "127.0.0.1:8080" or "unix:/path".
	Addr string `json:"addr"`
	// URL is how a client reaches it: ws://host:port/path, wss://...,
	// tcp://host:port, tcps://host:port (as the nexus client spells it) or unix:///path.
	URL string `json:"url"`
}

// httpIdleTimeout closes HTTP connections idle between requests.
const httpIdleTimeout = 2 * time.Minute

// Router is one node.
type Router struct {
	cfg      *config.Config
	log      *slog.Logger
	logLevel *slog.LevelVar           // Options.LogLevel
	realms   atomic.Pointer[realmMap] // replaced whole by Reload
	sessCfg  session.Config
	ops      ops // metrics, health, reload (ops.go)

	subIDs, regIDs wamp.IDGen
	node           *cluster.Node // nil: a node alone (router/cluster.go)

	mu        sync.Mutex
	ids       map[wamp.ID]struct{} // session ids in use, router-wide
	started   bool
	closing   bool
	listeners []Listener
	lns       []net.Listener
	servers   []*http.Server
	bridges   []*bridge.Bridge

	conns map[transport.Conn]bool // live connections: true once joined

	serving  sync.WaitGroup // accept loops
	sessions sync.WaitGroup // live connections
}

// New builds a router from a loaded config. It opens nothing: Start does.
func New(cfg *config.Config, opts Options) (*Router, error) {
	if cfg == nil {
		return nil, errors.New("router: nil config")
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Router{
		cfg:      cfg,
		log:      log,
		logLevel: opts.LogLevel,
		ids:      make(map[wamp.ID]struct{}),
		conns:    make(map[transport.Conn]bool),
	}
	realms := make(realmMap, len(cfg.Realms))
	if cfg.Cluster != nil {
		r.node = cluster.New(*cfg.Cluster, log)
	}
	q := cfg.Limits.Queue
	r.sessCfg = session.Config{
		QueueMessages:   q.Messages,
		QueueBytes:      q.Bytes,
		DisconnectAfter: q.DisconnectAfter,
		Logger:          log,
		DebugPayloads:   cfg.Log.DebugPayloads,
	}
	if q.SlowConsumer == "disconnect" {
		r.sessCfg.Policy = session.PolicyDisconnect
	}
	lim := opts.AuthLimiter
	if lim == nil {
		lim = auth.NewLimiter(auth.LimiterConfig{})
	}
	r.initOps(lim)
	for i := range cfg.Realms {
		rc := &cfg.Realms[i]
		if _, dup := realms[rc.Name]; dup {
			return nil, fmt.Errorf("router: duplicate realm %q", rc.Name)
		}
		rl, err := r.newRealm(rc)
		if err != nil {
			return nil, fmt.Errorf("router: %w", err)
		}
		realms[rc.Name] = rl
		r.attachLink(rc.Name, rl)
	}
	r.realms.Store(&realms)
	return r, nil
}

// newRealm builds the realm of one config entry.
func (r *Router) newRealm(rc *config.Realm) (*realm.Realm, error) {
	history := make([]broker.HistoryRule, len(rc.History))
	for i, h := range rc.History {
		history[i] = broker.HistoryRule{Topic: h.Topic, Match: h.Match, Limit: h.Limit}
	}
	authn, authz, err := r.buildAuth(rc, r.ops.limiter)
	if err != nil {
		return nil, err
	}
	return realm.New(realm.Config{
		Name:              rc.Name,
		StrictURIs:        rc.StrictURIs,
		SubscriptionIDs:   &r.subIDs,
		RegistrationIDs:   &r.regIDs,
		DisclosePublisher: rc.DisclosePublisher,
		DiscloseCaller:    rc.DiscloseCaller,
		MaxRetained:       rc.RetainedTopics,
		MaxRetainedBytes:  rc.RetainedBytes,
		History:           history,
		Auth:              authn,
		Authorizer:        authz,
		TrustLevels:       rc.TrustLevels(),
		Stats:             r.realmStats(rc.Name),
		Logger:            r.log,
		Link:              r.realmLink(rc.Name),
	})
}

// Start opens every configured listener and starts serving. If one fails,
// those already open are closed again.
func (r *Router) Start() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.started {
		return errors.New("router: already started")
	}
	r.started = true
	if err := r.startCluster(); err != nil {
		return err
	}
	for _, tc := range r.cfg.Transports {
		if err := r.startLocked(tc); err != nil {
			r.abortStartLocked()
			return err
		}
	}
	if err := r.startOpsLocked(); err != nil {
		r.abortStartLocked()
		return err
	}
	return nil
}

// abortStartLocked undoes a Start that failed part way: the listeners
// opened so far, the bridges' sessions and goroutines, the cluster link.
// r.mu must be held.
func (r *Router) abortStartLocked() {
	r.closeListenersLocked()
	for _, b := range r.bridges {
		b.Close() // its sessions end without r.mu
	}
	r.stopCluster()
}

func (r *Router) transportConfig(tc config.Transport) transport.Config {
	var z transport.Compression // nil: on, with the transport's defaults
	if c := tc.Compression; c != nil {
		z = transport.Compression{
			Disabled:              c.Disabled,
			Threshold:             c.Threshold,
			ServerContextTakeover: c.ServerContextTakeover,
			ClientContextTakeover: c.ClientContextTakeover,
			ServerMaxWindowBits:   c.ServerMaxWindowBits,
			ClientMaxWindowBits:   c.ClientMaxWindowBits,
		}
	}
	return transport.Config{
		Serializations: tc.Serializers,
		MaxMessageSize: tc.MaxMessageSize,
		PingInterval:   tc.PingInterval,
		PingTimeout:    tc.PingTimeout,
		AllowedOrigins: tc.AllowedOrigins,
		// Per listener: each transport.WebSocketHandler and
		// ServeRawSocket keeps its own count.
		MaxConnsPerAddr: tc.MaxConnectionsPerAddress,
		TrustedProxies:  tc.TrustedProxies,
		Compression:     z,
		Logger:          r.log,
	}
}

// startLocked opens one listener. r.mu must be held.
func (r *Router) startLocked(tc config.Transport) error {
	var tlsCfg *tls.Config
	if tc.TLS != nil {
		tlsCfg = tc.TLS.Config
	}
	ln, err := transport.Listen(tc.Listen, tlsCfg)
	if err != nil {
		return fmt.Errorf("router: %s listener on %s: %w", tc.Type, tc.Listen, err)
	}
	addr := ln.Addr().String()
	if ln.Addr().Network() == "unix" {
		addr = "unix:" + addr
	}
	l := Listener{Type: tc.Type, Addr: addr}
	tcfg := r.transportConfig(tc)
	allowed := tc.AuthMethods
	serve := func(c transport.Conn) { r.serveConn(c, allowed) }
	switch tc.Type {
	case "websocket":
		scheme := "ws"
		if tlsCfg != nil {
			scheme = "wss"
		}
		l.URL = scheme + "://" + addr + tc.Path
		ws := transport.NewWebSocket(tcfg, tc.Path, serve)
		mux := r.httpMux(tc, ws)
		if tc.LongPollEnabled() {
			lp := ws.LongPoll(transport.LongPollConfig{
				Path:           tc.LongPoll.Path,
				PollTimeout:    tc.LongPoll.RequestTimeout,
				SessionTimeout: tc.LongPoll.SessionTimeout,
			}, serve)
			mux.Handle(tc.LongPoll.Path+"/", lp)
		}
		if tc.Static != "" {
			mux.Handle(config.StaticRoot, newStaticHandler(tc.Static, r.log))
		}
		if err := r.mountBridgeLocked(mux, tc); err != nil {
			_ = ln.Close()
			return err
		}
		srv := &http.Server{
			Handler:           transport.TrustProxies(tc.TrustedProxies, mux),
			ReadHeaderTimeout: 10 * time.Second,
			// Between requests of a kept-alive connection; without it
			// one client holds descriptors and goroutines for ever with
			// one GET per connection. (No ReadTimeout: its deadline
			// would stay on connections that became WebSockets.)
			IdleTimeout: httpIdleTimeout,
			ErrorLog:    slog.NewLogLogger(r.log.Handler(), slog.LevelDebug),
		}
		r.servers = append(r.servers, srv)
		// The endpoint upgrades WebSocket handshakes itself and hands the
		// other connections to srv; closing ln ends both.
		r.lns = append(r.lns, ln)
		r.serving.Add(1)
		go func() {
			defer r.serving.Done()
			if err := ws.Serve(ln, srv); err != nil {
				r.log.Error("websocket listener failed", "addr", addr, "error", err)
			}
		}()
	case "rawsocket":
		scheme := "tcp"
		if tlsCfg != nil {
			scheme = "tcps"
		}
		l.URL = scheme + "://" + addr
		if ln.Addr().Network() == "unix" {
			l.URL = "unix://" + ln.Addr().String()
		}
		r.lns = append(r.lns, ln)
		r.serving.Add(1)
		go func() {
			defer r.serving.Done()
			if err := transport.ServeRawSocket(ln, tcfg, serve); err != nil {
				r.log.Error("rawsocket listener failed", "addr", addr, "error", err)
			}
		}()
	default:
		_ = ln.Close()
		return fmt.Errorf("router: unknown transport type %q", tc.Type)
	}
	r.listeners = append(r.listeners, l)
	r.log.Info("listening", "transport", tc.Type, "url", l.URL)
	return nil
}

// closeListenersLocked stops accepting. r.mu must be held.
func (r *Router) closeListenersLocked() {
	for _, ln := range r.lns {
		_ = ln.Close()
	}
	for _, srv := range r.servers {
		// Close, not Shutdown: upgraded WebSocket connections are hijacked
		// and ended by the sessions' GOODBYE, not by the HTTP server.
		_ = srv.Close()
	}
	r.lns, r.servers = nil, nil
}

// Listeners returns the open listeners with their real addresses.
func (r *Router) Listeners() []Listener {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Listener(nil), r.listeners...)
}

// URL returns the URL of the first listener of the given type, or "".
func (r *Router) URL(typ string) string {
	for _, l := range r.Listeners() {
		if l.Type == typ {
			return l.URL
		}
	}
	return ""
}

// serveConn runs the session of one connection. allowed, when not nil,
// restricts the authentication methods to those of its listener.
func (r *Router) serveConn(c transport.Conn, allowed []string) {
	r.mu.Lock()
	if r.closing {
		r.mu.Unlock()
		_ = c.Close(transport.CloseGoingAway, "shutting down")
		return
	}
	r.sessions.Add(1)
	r.conns[c] = false
	r.mu.Unlock()
	// Serve may return before the session ends (its connection parked
	// while idle): the bookkeeping is undone in joiner.Ended.
	session.Serve(c, r.sessCfg, joiner{r: r, c: c, allowed: allowed})
}

// joiner admits the session of one connection and marks the connection
// joined, so that Shutdown knows which connections will hear GOODBYE and
// which it must close itself.
type joiner struct {
	r       *Router
	c       transport.Conn
	allowed []string // authentication methods of the listener; nil: all
}

func (j joiner) Ended(*session.Session) {
	j.r.mu.Lock()
	delete(j.r.conns, j.c)
	j.r.mu.Unlock()
	j.r.sessions.Done()
}

func (j joiner) Join(s *session.Session, name wamp.URI, details wamp.Dict) (session.Handler, wamp.Dict, error) {
	h, welcome, err := j.r.join(s, name, details, j.allowed)
	if err == nil {
		j.r.mu.Lock()
		j.r.conns[j.c] = true
		j.r.mu.Unlock()
	}
	return h, welcome, err
}

// join finds the realm, gives the session a router-wide unique id (which a
// wampcra challenge names), authenticates it and attaches it.
func (r *Router) join(s *session.Session, name wamp.URI, details wamp.Dict, allowed []string) (session.Handler, wamp.Dict, error) {
	rl := (*r.realms.Load())[name]
	if rl == nil {
		return nil, nil, wamp.NewError(wamp.ErrNoSuchRealm, fmt.Sprintf("no realm %q on this router", name))
	}
	id, err := r.newSessionID()
	if err != nil {
		return nil, nil, err
	}
	ident, err := rl.Authenticate(s, id, details, allowed)
	if err != nil {
		r.releaseID(id)
		r.authFailed(rl, details, allowed, err)
		return nil, nil, err
	}
	r.setSessionStats(s, name, id)
	welcome, err := rl.AttachAs(s, id, ident)
	if err != nil {
		r.releaseID(id)
		return nil, nil, err
	}
	r.sessionOpened(s)
	return member{Realm: rl, r: r}, welcome, nil
}

// newSessionID draws a session id unique router-wide.
func (r *Router) newSessionID() (wamp.ID, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closing {
		return 0, realm.ErrClosed
	}
	id := wamp.GlobalID()
	// Unique on this node; across a cluster, 53 random bits make a clash
	// negligible (a node keeps no list of the others' sessions).
	for _, used := r.ids[id]; used; _, used = r.ids[id] {
		id = wamp.GlobalID()
	}
	r.ids[id] = struct{}{}
	return id, nil
}

func (r *Router) releaseID(id wamp.ID) {
	r.mu.Lock()
	delete(r.ids, id)
	r.mu.Unlock()
}

// member is a session's handler: its realm, plus the router's bookkeeping
// when it leaves.
type member struct {
	*realm.Realm
	r *Router
}

func (m member) Leave(s *session.Session) {
	m.Realm.Leave(s)
	m.r.releaseID(s.ID)
}

// Realm returns the realm of that name, or nil.
func (r *Router) Realm(name wamp.URI) *realm.Realm { return (*r.realms.Load())[name] }

// Shutdown stops accepting, sends GOODBYE wamp.close.system_shutdown to
// every session, and waits until they have ended or ctx is done, when the
// remaining connections are closed.
func (r *Router) Shutdown(ctx context.Context) error {
	r.mu.Lock()
	if r.closing {
		r.mu.Unlock()
		return nil
	}
	r.closing = true
	r.closeListenersLocked()
	// Connections that have not joined hear no GOODBYE: close them now
	// rather than let one that never sends HELLO hold the shutdown up.
	for c, joined := range r.conns {
		if !joined {
			_ = c.Close(transport.CloseGoingAway, "shutting down")
		}
	}
	r.mu.Unlock()
	r.serving.Wait()
	r.closeBridges()

	r.ops.reloadMu.Lock() // a reload under way finishes first; none starts after
	for _, rl := range *r.realms.Load() {
		rl.Shutdown(wamp.ErrSystemShutdown, "the router is shutting down")
	}
	r.ops.reloadMu.Unlock()
	done := make(chan struct{})
	go func() {
		r.sessions.Wait()
		close(done)
	}()
	select {
	case <-done:
		r.stopCluster()
		return nil
	case <-ctx.Done():
		r.mu.Lock()
		conns := make([]transport.Conn, 0, len(r.conns))
		for c := range r.conns {
			conns = append(conns, c)
		}
		r.mu.Unlock()
		for _, c := range conns {
			_ = c.Close(transport.CloseGoingAway, "shutdown deadline")
		}
		<-done
		r.stopCluster()
		return fmt.Errorf("router: shutdown: %w", ctx.Err())
	}
}
