package router

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"reflect"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/switchboard/switchboard/auth"
	"github.com/switchboard/switchboard/cluster"
	"github.com/switchboard/switchboard/config"
	"github.com/switchboard/switchboard/console"
	"github.com/switchboard/switchboard/metrics"
	"github.com/switchboard/switchboard/realm"
	"github.com/switchboard/switchboard/session"
	"github.com/switchboard/switchboard/wamp"
)

// Operations: metrics, the HTTP mux of websocket listeners with /metrics,
// /healthz, /readyz and /status, and reloading realms' access from a new
// config.

type realmMap map[wamp.URI]*realm.Realm

// ops is the router's operations state.
type ops struct {
	limiter        *auth.Limiter
	metrics        *metrics.Metrics // nil when metrics are disabled
	metricsHandler http.Handler
	started        time.Time

	// reloadMu serializes Reload, and Reload with Shutdown's GOODBYE round.
	reloadMu sync.Mutex
	current  *config.Config // the config last applied; guarded by reloadMu

	readyMu sync.Mutex
	ready   []readyCheck

	// bridges are the HTTP bridges with their metric labels; guarded by
	// the router's mu.
	bridges []bridgeLabels

	// console is the admin console (router/console.go), nil without
	// console: in the config; consoleErr is why it could not be built,
	// reported by Start.
	console    *console.Handler
	consoleErr error
}

type readyCheck struct {
	name string
	fn   func() error
}

// initOps sets up metrics; called by New before the realms are built.
func (r *Router) initOps(lim *auth.Limiter) {
	r.ops.limiter = lim
	r.ops.current = r.cfg
	r.addClusterReadyCheck()
	r.initConsole()
	if r.cfg.Metrics.Disabled {
		return
	}
	m := metrics.New()
	r.ops.metrics = m
	r.sessCfg.Stats = m.Handshake()
	m.SetBridges(r.bridgeMetrics)
	r.setClusterMetrics(m)
	reg, err := m.Registry()
	if err != nil {
		// Only a programming error (two collectors with one metric name)
		// can get here.
		panic(fmt.Sprintf("router: metrics registry: %v", err))
	}
	r.ops.metricsHandler = promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(r.log.Handler(), slog.LevelWarn)})
}

// Metrics returns the router's counters, or nil when metrics are disabled.
func (r *Router) Metrics() *metrics.Metrics { return r.ops.metrics }

// realmStats returns the counters of a realm for realm.Config.Stats; nil
// (an interface holding nothing) when metrics are disabled.
func (r *Router) realmStats(name wamp.URI) realm.Counter {
	if r.ops.metrics == nil {
		return nil
	}
	return r.ops.metrics.Realm(string(name))
}

// setSessionStats gives s the counters of its realm, transport and
// serializer, once, before the realm makes it visible.
func (r *Router) setSessionStats(s *session.Session, name wamp.URI, id wamp.ID) {
	if m := r.ops.metrics; m != nil {
		s.SetStats(m.Group(string(name), s.Transport(), s.Serialization()).For(id))
	}
}

// sessionOpened counts a session that joined.
func (r *Router) sessionOpened(s *session.Session) {
	if r.ops.metrics != nil {
		r.ops.metrics.Group(string(s.Realm), s.Transport(), s.Serialization()).Opened(s)
	}
}

// authFailed counts a refused authentication by the method tried: the
// realm's first method, in config order, that the client offered and the
// listener allows (what auth.Set picks), or "none".
func (r *Router) authFailed(rl *realm.Realm, details wamp.Dict, allowed []string, err error) {
	if r.ops.metrics == nil || errors.Is(err, session.ErrClosed) {
		return
	}
	offered := (&auth.Request{Details: details}).AuthMethods()
	method := "none"
	for _, m := range rl.AuthMethods() {
		if slices.Contains(offered, m) && (allowed == nil || slices.Contains(allowed, m)) {
			method = m
			break
		}
	}
	r.ops.metrics.Realm(string(rl.Name())).AuthFailed(method)
}

// AddReadyCheck adds a condition to /readyz: while fn returns an error the
// node is not ready, and the error says why. The cluster adds one for its
// link (router/cluster.go).
func (r *Router) AddReadyCheck(name string, fn func() error) {
	r.ops.readyMu.Lock()
	r.ops.ready = append(r.ops.ready, readyCheck{name, fn})
	r.ops.readyMu.Unlock()
}

// httpMux returns the handler of one websocket listener: its WebSocket
// endpoint and the operations endpoints. Other HTTP services of a
// listener (static files, the HTTP bridge) are to be added here.
func (r *Router) httpMux(tc config.Transport, ws http.Handler) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle(tc.Path, ws)
	r.mountOps(mux, r.cfg.Metrics.Listen == "")
	return mux
}

// mountOps adds /healthz and /readyz, and with all /metrics, /status and
// the console.
func (r *Router) mountOps(mux *http.ServeMux, all bool) {
	mux.Handle("/healthz", getOnly(http.HandlerFunc(r.healthz)))
	mux.Handle("/readyz", getOnly(http.HandlerFunc(r.readyz)))
	if !all {
		return
	}
	mux.Handle("/status", getOnly(http.HandlerFunc(r.status)))
	if h := r.ops.console; h != nil {
		h.Mount(mux)
	}
	if h := r.ops.metricsHandler; h != nil {
		mux.Handle(r.cfg.Metrics.MetricsPath(), getOnly(h))
	}
}

// serveHTTPLocked serves handler on ln until the listener is closed. r.mu
// must be held.
func (r *Router) serveHTTPLocked(ln net.Listener, handler http.Handler, kind string) {
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       httpIdleTimeout,
		ErrorLog:          slog.NewLogLogger(r.log.Handler(), slog.LevelDebug),
	}
	r.servers = append(r.servers, srv)
	r.serving.Add(1)
	addr := ln.Addr().String()
	go func() {
		defer r.serving.Done()
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			r.log.Error(kind+" listener failed", "addr", addr, "error", err)
		}
	}()
}

// startOpsLocked opens metrics.listen when configured. r.mu must be held.
func (r *Router) startOpsLocked() error {
	if r.ops.consoleErr != nil {
		return r.ops.consoleErr
	}
	r.ops.started = time.Now()
	addr := r.cfg.Metrics.Listen
	if addr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("router: metrics listener on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	r.mountOps(mux, true)
	r.serveHTTPLocked(ln, mux, "metrics")
	l := Listener{Type: "metrics", Addr: ln.Addr().String(), URL: "http://" + ln.Addr().String()}
	r.listeners = append(r.listeners, l)
	r.log.Info("listening", "transport", "metrics", "url", l.URL)
	return nil
}

// getOnly answers other methods than GET and HEAD with 405 and a JSON
// error.
func getOnly(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodGet && req.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "method " + req.Method + " not allowed: use GET"})
			return
		}
		h.ServeHTTP(w, req)
	})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// healthz answers while the process serves HTTP at all.
func (r *Router) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// Ready reports whether the node takes sessions: started, not shutting
// down, and every ready check passing; the error says why not.
func (r *Router) Ready() error {
	r.mu.Lock()
	started, closing := r.started, r.closing
	r.mu.Unlock()
	switch {
	case closing:
		return errors.New("shutting down")
	case !started:
		return errors.New("not started")
	}
	r.ops.readyMu.Lock()
	checks := slices.Clone(r.ops.ready)
	r.ops.readyMu.Unlock()
	for _, c := range checks {
		if err := c.fn(); err != nil {
			return fmt.Errorf("%s: %w", c.name, err)
		}
	}
	return nil
}

func (r *Router) readyz(w http.ResponseWriter, _ *http.Request) {
	if err := r.Ready(); err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "not ready", "error": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// Status is what GET /status answers and `switchboard status` prints.
type Status struct {
	Ready     bool          `json:"ready"`
	Reason    string        `json:"not_ready_reason,omitempty"`
	Uptime    float64       `json:"uptime_seconds"`
	Listeners []Listener    `json:"listeners"`
	Realms    []RealmStatus `json:"realms"`
	// Cluster is the node's link and the members it knows; null for a
	// node alone.
	Cluster *cluster.Status `json:"cluster"`
	// Metrics are the counters since start; absent when metrics are
	// disabled.
	Metrics *metrics.Snapshot `json:"metrics,omitempty"`
}

// RealmStatus is one realm's size.
type RealmStatus struct {
	Name          string `json:"name"`
	Sessions      int    `json:"sessions"`
	Subscriptions int    `json:"subscriptions"`
	Registrations int    `json:"registrations"`
	PendingCalls  int    `json:"pending_calls"`
}

// Status returns the node's status now.
func (r *Router) Status() Status {
	st := Status{Listeners: r.Listeners(), Realms: []RealmStatus{}}
	if err := r.Ready(); err != nil {
		st.Reason = err.Error()
	} else {
		st.Ready = true
	}
	r.mu.Lock()
	if !r.ops.started.IsZero() {
		st.Uptime = time.Since(r.ops.started).Seconds()
	}
	r.mu.Unlock()
	for name, rl := range *r.realms.Load() {
		s := rl.Stats()
		st.Realms = append(st.Realms, RealmStatus{Name: string(name), Sessions: s.Sessions,
			Subscriptions: s.Subscriptions, Registrations: s.Registrations, PendingCalls: s.PendingCalls})
	}
	sort.Slice(st.Realms, func(i, j int) bool { return st.Realms[i].Name < st.Realms[j].Name })
	if r.node != nil {
		cs := r.node.Status()
		st.Cluster = &cs
	}
	if m := r.ops.metrics; m != nil {
		snap := m.Snapshot()
		st.Metrics = &snap
	}
	return st
}

func (r *Router) status(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, r.Status())
}

// Reload applies a new config's realms without dropping sessions:
//
//   - a realm in both gets the new authentication methods (principals),
//     roles and authorizer, swapped at once; its sessions stay, keep
//     their identity, and are checked against the new roles from their
//     next action;
//   - a new realm is created and takes sessions at once;
//   - a realm that is gone says GOODBYE wamp.close.close_realm to its
//     sessions and takes no more (no_such_realm).
//
// Everything else (transports, limits, metrics, other realm options) needs
// a restart: Reload logs what differs and leaves it as it is. An error
// (a principal's secret file that cannot be read) changes nothing.
func (r *Router) Reload(cfg *config.Config) error {
	r.ops.reloadMu.Lock()
	defer r.ops.reloadMu.Unlock()
	r.mu.Lock()
	closing := r.closing
	r.mu.Unlock()
	if closing {
		return errors.New("router: reload: shutting down")
	}
	old := *r.realms.Load()
	type swap struct {
		rl     *realm.Realm
		set    *auth.Set
		authz  auth.Authorizer
		trusts map[string]int64
	}
	var swaps []swap
	next := make(realmMap, len(cfg.Realms))
	var added []wamp.URI
	for i := range cfg.Realms {
		rc := &cfg.Realms[i]
		if rl := old[rc.Name]; rl != nil {
			set, authz, err := r.buildAuth(rc, r.ops.limiter)
			if err != nil {
				return fmt.Errorf("router: reload: %w", err)
			}
			swaps = append(swaps, swap{rl, set, authz, rc.TrustLevels()})
			next[rc.Name] = rl
			continue
		}
		if r.node != nil {
			// The cluster link learns its realms once, at start.
			r.log.Warn("reload: a clustered node adds realms at the next restart", "realm", string(rc.Name))
			continue
		}
		rl, err := r.newRealm(rc)
		if err != nil {
			return fmt.Errorf("router: reload: %w", err)
		}
		next[rc.Name] = rl
		added = append(added, rc.Name)
	}
	if r.node != nil {
		for name, rl := range old {
			if next[name] == nil {
				r.log.Warn("reload: a clustered node removes realms at the next restart", "realm", string(name))
				next[name] = rl
			}
		}
	}
	for _, s := range swaps {
		s.rl.SetAccess(s.set, s.authz)
		s.rl.SetTrustLevels(s.trusts)
	}
	r.realms.Store(&next)
	for name, rl := range old {
		if next[name] == nil {
			r.log.Warn("reload: realm removed; closing its sessions", "realm", string(name))
			rl.Shutdown(wamp.ErrCloseRealm, "the realm was removed from the router's config")
		}
	}
	for _, name := range added {
		r.log.Info("reload: realm added", "realm", string(name))
	}
	for _, key := range restartNeeded(r.ops.current, cfg) {
		r.log.Warn("reload: setting changed; it takes effect at the next restart", "key", key)
	}
	r.reloadConsole(cfg)
	r.ops.current = cfg
	if r.logLevel != nil {
		r.logLevel.Set(cfg.Log.Level)
	}
	r.log.Info("reloaded", "file", cfg.File, "realms", len(next))
	return nil
}

// ReloadFile loads again the file the running config came from and
// applies it (Reload): what SIGHUP and the console's reload do. A file
// that does not load is refused with its file:line errors, and the
// running config stays.
func (r *Router) ReloadFile() error {
	r.ops.reloadMu.Lock()
	file := r.ops.current.File
	r.ops.reloadMu.Unlock()
	if file == "" {
		return errors.New("router: the config did not come from a file: nothing to reload")
	}
	cfg, err := config.Load(file)
	if err != nil {
		return err
	}
	return r.Reload(cfg)
}

// restartNeeded lists the parts of the config that differ and that Reload
// does not apply.
func restartNeeded(old, cfg *config.Config) []string {
	var keys []string
	if !reflect.DeepEqual(transportsForCompare(old.Transports), transportsForCompare(cfg.Transports)) {
		keys = append(keys, "transports")
	}
	if old.Limits != cfg.Limits {
		keys = append(keys, "limits")
	}
	if old.Metrics != cfg.Metrics {
		keys = append(keys, "metrics")
	}
	if old.Log.Format != cfg.Log.Format || old.Log.DebugPayloads != cfg.Log.DebugPayloads {
		keys = append(keys, "log")
	}
	byName := make(map[wamp.URI]*config.Realm, len(old.Realms))
	for i := range old.Realms {
		byName[old.Realms[i].Name] = &old.Realms[i]
	}
	for i := range cfg.Realms {
		n := cfg.Realms[i]
		o := byName[n.Name]
		if o == nil {
			continue
		}
		oc := *o
		// What Reload applies is left out of the comparison.
		oc.Auth, oc.Roles, oc.Authorizer = nil, nil, nil
		n.Auth, n.Roles, n.Authorizer = nil, nil, nil
		if !reflect.DeepEqual(oc, n) {
			keys = append(keys, fmt.Sprintf("realms[%d] (%s)", i, n.Name))
		}
	}
	return keys
}

// transportsForCompare drops the built TLS configs, which hold functions
// and locks that reflect.DeepEqual cannot compare.
func transportsForCompare(ts []config.Transport) []config.Transport {
	out := slices.Clone(ts)
	for i := range out {
		if t := out[i].TLS; t != nil {
			c := *t
			c.Config = nil
			out[i].TLS = &c
		}
	}
	return out
}
