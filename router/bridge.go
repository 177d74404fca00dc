package router

import (
	"context"
	"fmt"
	"net/http"

	"github.com/switchboard/switchboard/auth"
	"github.com/switchboard/switchboard/bridge"
	"github.com/switchboard/switchboard/config"
	"github.com/switchboard/switchboard/metrics"
	"github.com/switchboard/switchboard/session"
	"github.com/switchboard/switchboard/wamp"
)

// The HTTP bridge's sessions are ordinary sessions of their realm, served
// by session.Serve on an in-process connection (bridge.Peer), so that
// authorization, disclosure, meta events and metrics apply to them as to
// any client. They join trusted: the identity is the config's (the
// bridge's own, or a signing key's), and no authentication runs.

var _ session.Conn = (*bridge.Peer)(nil)

// mountBridgeLocked starts the bridge of a websocket transport and adds its
// handlers to mux. r.mu must be held; the sessions join later, on their
// own goroutines.
func (r *Router) mountBridgeLocked(mux *http.ServeMux, tc config.Transport) error {
	bc := tc.Bridge
	if bc == nil {
		return nil
	}
	cfg := bridge.Config{
		Realm:           bc.Realm,
		AuthID:          bc.AuthID,
		Role:            bc.Role,
		PublishPath:     bc.Publish,
		CallPath:        bc.Call,
		Unsigned:        bc.Unsigned,
		MaxBody:         bc.MaxBody,
		TimestampWindow: bc.TimestampWindow,
		MaxNonces:       bc.MaxNonces,
		CallTimeout:     bc.CallTimeout,
		TrustsProxies:   len(tc.TrustedProxies) > 0,
		Logger:          r.log,
		Join:            r.joinBridge,
	}
	for _, k := range bc.Keys {
		s, err := k.Secret.Resolve()
		if err != nil {
			return fmt.Errorf("router: bridge key %q: %w", k.Key, err)
		}
		plain, ok := s.Key()
		if !ok {
			return fmt.Errorf("router: bridge key %q: the secret cannot be a hash", k.Key)
		}
		cfg.Keys = append(cfg.Keys, bridge.Key{Key: k.Key, Secret: string(plain), Role: k.Role})
	}
	for _, h := range bc.Webhooks {
		cfg.Webhooks = append(cfg.Webhooks, bridge.Webhook{Path: h.Path, Topic: h.Topic, Headers: h.Headers})
	}
	for _, s := range bc.Subscribers {
		cfg.Subscribers = append(cfg.Subscribers, bridge.Subscriber{
			Topic: s.Topic, Match: s.Match, URL: s.URL,
			Timeout: s.Timeout, Retries: s.Retries, Backoff: s.Backoff, Queue: s.Queue,
		})
	}
	b, err := bridge.New(cfg)
	if err != nil {
		return fmt.Errorf("router: %w", err)
	}
	b.Mount(mux)
	r.bridges = append(r.bridges, b)
	bl := bridgeLabels{b: b, listener: len(r.listeners), listen: tc.Listen}
	for _, s := range bc.Subscribers {
		bl.topics = append(bl.topics, string(s.Topic))
	}
	r.ops.bridges = append(r.ops.bridges, bl)
	return nil
}

// bridgeLabels is a bridge and the labels of its metrics, from the config.
type bridgeLabels struct {
	b *bridge.Bridge
	// listener is the index in r.listeners that the bridge's listener
	// gets once open: startLocked adds it after mounting the bridge. Its
	// address, not the configured one, is the label, since port 0 gives
	// several listeners one configured address.
	listener int
	listen   string // the configured address, until the listener is open
	topics   []string
}

// bridgeMetrics reads the bridges' counters for the metrics collector.
func (r *Router) bridgeMetrics() []metrics.Bridge {
	r.mu.Lock()
	out := make([]metrics.Bridge, len(r.ops.bridges))
	bs := make([]*bridge.Bridge, len(r.ops.bridges))
	for i, bl := range r.ops.bridges {
		out[i] = metrics.Bridge{Listener: bl.listen, Topics: bl.topics}
		if bl.listener < len(r.listeners) {
			out[i].Listener = r.listeners[bl.listener].Addr
		}
		bs[i] = bl.b
	}
	r.mu.Unlock()
	for i, b := range bs {
		out[i].Stats = b.Stats()
	}
	return out
}

// joinBridge serves the session of a bridge peer.
func (r *Router) joinBridge(p *bridge.Peer, authid, role string) {
	r.sessions.Add(1)
	go func() {
		defer r.sessions.Done()
		session.Serve(p, r.sessCfg, bridgeJoiner{r: r, id: auth.Identity{
			AuthID:       authid,
			AuthRole:     role,
			AuthMethod:   "trusted",
			AuthProvider: "bridge",
		}})
	}()
}

// bridgeJoiner admits a bridge session under its configured identity.
type bridgeJoiner struct {
	r  *Router
	id auth.Identity
}

func (j bridgeJoiner) Join(s *session.Session, name wamp.URI, _ wamp.Dict) (session.Handler, wamp.Dict, error) {
	rl := j.r.Realm(name)
	if rl == nil {
		return nil, nil, wamp.NewError(wamp.ErrNoSuchRealm, fmt.Sprintf("no realm %q on this router", name))
	}
	id, err := j.r.newSessionID()
	if err != nil {
		return nil, nil, err
	}
	j.r.setSessionStats(s, name, id)
	welcome, err := rl.AttachAs(s, id, j.id)
	if err != nil {
		j.r.releaseID(id)
		return nil, nil, err
	}
	j.r.sessionOpened(s)
	return member{Realm: rl, r: j.r}, welcome, nil
}

// BridgesReady waits until every bridge's sessions have joined and its
// HTTP subscribers have subscribed (for tests and health checks).
func (r *Router) BridgesReady(ctx context.Context) error {
	r.mu.Lock()
	bs := append([]*bridge.Bridge(nil), r.bridges...)
	r.mu.Unlock()
	for _, b := range bs {
		if err := b.Ready(ctx); err != nil {
			return err
		}
	}
	return nil
}

// BridgeStats returns the counters of each bridge, in transport order.
func (r *Router) BridgeStats() []bridge.Stats {
	r.mu.Lock()
	bs := append([]*bridge.Bridge(nil), r.bridges...)
	r.mu.Unlock()
	out := make([]bridge.Stats, len(bs))
	for i, b := range bs {
		out[i] = b.Stats()
	}
	return out
}

// closeBridges stops the bridges' HTTP subscribers and sessions.
func (r *Router) closeBridges() {
	r.mu.Lock()
	bs := r.bridges
	r.mu.Unlock()
	for _, b := range bs {
		b.Close()
	}
}
