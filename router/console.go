package router

import (
	"cmp"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/switchboard/switchboard/config"
	"github.com/switchboard/switchboard/console"
	"github.com/switchboard/switchboard/session"
	"github.com/switchboard/switchboard/wamp"
)

// The admin console (package console, docs/console.md): the router builds
// its handler from console: in the config and implements its Backend.

// maxListed bounds the subscriptions and registrations of each realm the
// console lists, as console.DefaultMaxSessions bounds the sessions.
const maxListed = 1000

// initConsole builds the console's handler when the config has one. An
// error (a password's environment variable gone since the config was
// loaded) is kept for Start, which New cannot report before it.
func (r *Router) initConsole() {
	cc := r.cfg.Console
	if cc == nil {
		return
	}
	users, err := consoleUsers(cc)
	if err != nil {
		r.ops.consoleErr = fmt.Errorf("router: console: %w", err)
		return
	}
	h, err := console.New(console.Config{
		Path:    cc.ConsolePath(),
		Users:   users,
		Backend: &consoleBackend{r: r},
		Limiter: r.ops.limiter,
		Logger:  r.log,
	})
	if err != nil {
		r.ops.consoleErr = fmt.Errorf("router: console: %w", err)
		return
	}
	r.ops.console = h
}

func consoleUsers(cc *config.Console) ([]console.User, error) {
	users := make([]console.User, 0, len(cc.Users))
	for _, u := range cc.Users {
		if u.Password == nil {
			return nil, fmt.Errorf("user %q has no password", u.Name)
		}
		s, err := u.Password.Resolve()
		if err != nil {
			return nil, fmt.Errorf("user %q: %w", u.Name, err)
		}
		users = append(users, console.User{Name: u.Name, Secret: s})
	}
	return users, nil
}

// reloadConsole applies a reloaded config's console users. Turning the
// console on or off, or moving it, needs a restart, as the listeners'
// muxes are built at start.
func (r *Router) reloadConsole(cfg *config.Config) {
	h := r.ops.console
	switch {
	case h == nil && cfg.Console == nil:
		return
	case h == nil || cfg.Console == nil || cfg.Console.ConsolePath() != h.Path():
		r.log.Warn("reload: setting changed; it takes effect at the next restart", "key", "console")
		return
	}
	users, err := consoleUsers(cfg.Console)
	if err != nil {
		r.log.Error("reload: console users not changed", "error", err)
		return
	}
	h.SetUsers(users)
}

// Console returns the console's handler, nil when the config has none.
func (r *Router) Console() *console.Handler { return r.ops.console }

// consoleBackend is the router as the console sees it.
type consoleBackend struct {
	r *Router

	// The cluster does not keep its last failure: the console remembers
	// the last reason it saw the node not linked, and when.
	mu            sync.Mutex
	lastFailure   string
	lastFailureAt time.Time
}

var _ console.Backend = (*consoleBackend)(nil)

func (b *consoleBackend) Counters() console.Counters {
	m := b.r.ops.metrics
	if m == nil {
		return console.Counters{MetricsDisabled: true}
	}
	snap := m.Snapshot()
	c := console.Counters{BytesIn: snap.BytesIn, BytesOut: snap.BytesOut}
	for _, rs := range snap.Realms {
		c.EventsPublished += rs.EventsPublished
		c.EventsDelivered += rs.EventsDelivered
		c.EventsDropped += rs.EventsDropped
		c.Calls += rs.CallsStarted
		c.SessionsOpened += rs.SessionsOpened
		for _, n := range rs.SessionsClosed {
			c.SessionsClosed += n
		}
	}
	return c
}

func (b *consoleBackend) State(maxSessions int) console.State {
	var st console.State
	realms := *b.r.realms.Load()
	names := make([]wamp.URI, 0, len(realms))
	for name := range realms {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		rl := realms[name]
		cr := console.Realm{Name: string(name), PendingCalls: rl.Stats().PendingCalls}
		sessions := rl.LocalSessions()
		cr.SessionCount = len(sessions)
		slices.SortFunc(sessions, func(a, c *session.Session) int { return cmp.Compare(a.ID, c.ID) })
		for _, s := range sessions[:min(len(sessions), maxSessions)] {
			joined, ok := rl.JoinedAt(s.ID)
			if !ok {
				continue // left while listed
			}
			cs := console.Session{
				ID: uint64(s.ID), AuthID: s.AuthID, AuthRole: s.AuthRole, AuthMethod: s.AuthMethod,
				Transport: s.Transport(), Serializer: s.Serialization().String(),
				Joined: joined, Queue: s.Queued(), Dropped: s.Dropped(),
			}
			if a := s.RemoteAddr(); a != nil {
				cs.Remote = a.String()
			}
			cr.Sessions = append(cr.Sessions, cs)
		}
		br := rl.Broker()
		subs := br.List()
		for _, id := range slices.Concat(subs.Exact, subs.Prefix, subs.Wildcard) {
			if len(cr.Subscriptions) == maxListed {
				break
			}
			info, ok := br.Get(id)
			if !ok {
				continue
			}
			n, _ := br.CountSubscribers(id)
			cr.Subscriptions = append(cr.Subscriptions, console.Subscription{ID: uint64(id), URI: string(info.URI), Match: info.Match, Subscribers: n})
		}
		dl := rl.Dealer()
		regs := dl.List()
		for _, id := range slices.Concat(regs.Exact, regs.Prefix, regs.Wildcard) {
			if len(cr.Registrations) == maxListed {
				break
			}
			info, ok := dl.Get(id)
			if !ok {
				continue
			}
			n, _ := dl.CountCallees(id)
			cr.Registrations = append(cr.Registrations, console.Registration{ID: uint64(id), URI: string(info.URI), Match: info.Match, Invoke: info.Invoke, Callees: n})
		}
		cr.Sessions = nonNil(cr.Sessions)
		cr.Subscriptions = nonNil(cr.Subscriptions)
		cr.Registrations = nonNil(cr.Registrations)
		st.Realms = append(st.Realms, cr)
	}
	if n := b.r.node; n != nil {
		cs, stats := n.Status(), n.Stats()
		c := &console.Cluster{
			Name: cs.Cluster, Node: cs.Node, Connected: cs.Connected, Linked: cs.Linked, Reason: cs.Reason,
			RTT: cs.RTT, EventsForwarded: stats.EventsOut, EventsReceived: stats.EventsIn,
			Disconnects: stats.Disconnects, Reconnects: stats.Reconnects, SendFailures: stats.SendFailures,
		}
		for _, m := range cs.Members {
			c.Members = append(c.Members, console.Member{ID: m.ID, Name: m.Name, Self: m.Self, Alive: m.Alive, Synced: m.Synced, Sessions: m.Sessions})
		}
		b.mu.Lock()
		if cs.Reason != "" {
			b.lastFailure, b.lastFailureAt = cs.Reason, time.Now()
		}
		c.LastFailure, c.LastFailureAt = b.lastFailure, b.lastFailureAt
		b.mu.Unlock()
		st.Cluster = c
	}
	return st
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// Kill closes a local session; one of another node is not listed by the
// console, so it is not found here.
func (b *consoleBackend) Kill(realm string, id uint64, reason string) error {
	rl := b.r.Realm(wamp.URI(realm))
	if rl == nil {
		return fmt.Errorf("%w: no realm %q on this node", console.ErrNotFound, realm)
	}
	s := rl.LocalSession(wamp.ID(id))
	if s == nil {
		return fmt.Errorf("%w: no session %d in realm %q on this node", console.ErrNotFound, id, realm)
	}
	s.Goodbye(wamp.CloseKilled, reason)
	return nil
}

// Reload is SIGHUP's reload.
func (b *consoleBackend) Reload() error { return b.r.ReloadFile() }

func (b *consoleBackend) Config() any { return b.r.currentConfig() }

func (b *consoleBackend) Started() time.Time {
	b.r.mu.Lock()
	defer b.r.mu.Unlock()
	return b.r.ops.started
}

// currentConfig returns the config last applied, by New or Reload.
func (r *Router) currentConfig() *config.Config {
	r.ops.reloadMu.Lock()
	defer r.ops.reloadMu.Unlock()
	return r.ops.current
}
