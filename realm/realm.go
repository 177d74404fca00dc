package realm

import (
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard/switchboard/auth"
	"github.com/switchboard/switchboard/broker"
	"github.com/switchboard/switchboard/dealer"
	"github.com/switchboard/switchboard/session"
	"github.com/switchboard/switchboard/wamp"
)

// Config configures a Realm.
type Config struct {
	Name wamp.URI
	// StrictURIs checks URIs with the strict rules. Zero value: loose.
	StrictURIs bool
	// SubscriptionIDs and RegistrationIDs are the router-scope id
	// generators shared by all realms. Nil means realm-local ones.
	SubscriptionIDs *wamp.IDGen
	RegistrationIDs *wamp.IDGen
	// DisclosePublisher and DiscloseCaller are the identification
	// policies: "" or "client" (the peer decides with disclose_me),
	// "always" or "never".
	DisclosePublisher string
	DiscloseCaller    string
	// MaxRetained and MaxRetainedBytes bound retained events (see
	// broker.Config). Zero values: the broker's defaults.
	MaxRetained      int
	MaxRetainedBytes int
	// History lists the subscriptions that keep an event history.
	History []broker.HistoryRule
	// Auth authenticates joining sessions. Nil means anonymous access
	// only, under the role "anonymous" (auth.NewSet's default).
	Auth *auth.Set
	// Authorizer decides what sessions may do. Nil means everything is
	// allowed to everyone.
	Authorizer auth.Authorizer
	// Stats counts publications and calls (metrics hook). Nil means none.
	Stats Counter
	// Logger. Nil means discard.
	Logger *slog.Logger
	// Link, when set, joins the realm to the same realm on the other
	// nodes of a cluster (realm/cluster.go). Nil: a node alone.
	Link Link
	// TrustLevels gives the sessions of a role a trust level, which their
	// EVENTs and INVOCATIONs carry (realm/trust.go); a dynamic
	// authenticator's authextra.trustlevel takes precedence. Levels are
	// in [0, wamp.MaxTrustLevel]. Nil: none by role.
	TrustLevels map[string]int64
}

// Realm is one routing domain.
type Realm struct {
	name   wamp.URI
	strict bool // Config.StrictURIs
	log    *slog.Logger
	broker *broker.Broker
	dealer *dealer.Dealer
	// access holds the auth.Set and the authorizer, swapped whole by
	// SetAccess when the config is reloaded.
	access atomic.Pointer[access]
	stats  Counter // nil: not counted
	// neverDiscloseCaller and neverDisclosePublisher: the realm refuses
	// disclosure, which a permission's disclose option does not override.
	neverDiscloseCaller, neverDisclosePublisher bool

	link Link // nil: a node alone

	// trusting is set while some session may have a trust level (a role
	// has one, or an authenticator gave one): until then trustOf costs
	// one atomic load.
	trusting atomic.Bool

	mu       sync.RWMutex
	sessions map[wamp.ID]*member
	closed   bool
	// roleTrust is the trust level of each role that has one (nil:
	// none); guarded by mu.
	roleTrust map[string]wamp.TrustLevel
}

// member is an attached session with what the realm keeps for it.
type member struct {
	s *session.Session
	// testaments, by scope (detached, destroyed); guarded by Realm.mu.
	testaments [2][]testament
	// quiet: the session leaves without meta or testament events
	// (wamp.session.kill_all); guarded by Realm.mu.
	quiet bool
	// expires is when the session's credentials expire (zero: never);
	// expiry closes it then. Both are set at attach and join, on the
	// session's reader goroutine, and read by Leave, under Realm.mu.
	expires time.Time
	expiry  *time.Timer
	// trust is the session's trust level (realm/trust.go); authTrust
	// says it came from the authenticator, so that a new role level
	// does not replace it. Guarded by Realm.mu.
	trust     wamp.TrustLevel
	authTrust bool
	// joined is when the session was attached, for the admin console.
	joined time.Time
}

// New returns an empty realm with the meta API registered.
func New(cfg Config) (*Realm, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	log := cfg.Logger.With("realm", string(cfg.Name))
	r := &Realm{
		name:     cfg.Name,
		strict:   cfg.StrictURIs,
		log:      log,
		sessions: make(map[wamp.ID]*member),
		stats:    cfg.Stats,
		link:     cfg.Link,

		neverDiscloseCaller:    cfg.DiscloseCaller == "never",
		neverDisclosePublisher: cfg.DisclosePublisher == "never",
	}
	r.SetAccess(cfg.Auth, cfg.Authorizer)
	for role, n := range cfg.TrustLevels {
		if n < 0 || n > wamp.MaxTrustLevel {
			return nil, fmt.Errorf("realm %s: trust level %d of role %s is not in [0, %d]", cfg.Name, n, role, wamp.MaxTrustLevel)
		}
	}
	r.SetTrustLevels(cfg.TrustLevels)
	disclose := cfg.DisclosePublisher
	if disclose == "client" {
		disclose = broker.DiscloseClient
	}
	bcfg := broker.Config{
		StrictURIs:       cfg.StrictURIs,
		IDs:              cfg.SubscriptionIDs,
		Logger:           log,
		Disclose:         disclose,
		MaxRetained:      cfg.MaxRetained,
		MaxRetainedBytes: cfg.MaxRetainedBytes,
		History:          cfg.History,
		Hooks:            subscriptionHooks{r},
	}
	if cfg.Link != nil {
		bcfg.Remote, bcfg.IDFor = cfg.Link, clusterIDs(cfg.Name)
		if len(cfg.History) > 0 {
			bcfg.HistoryRecorder = cfg.Link.RecordHistory
		}
	}
	if err := bcfg.Validate(); err != nil {
		return nil, fmt.Errorf("realm %s: %w", cfg.Name, err)
	}
	r.broker = broker.New(bcfg)
	dcfg := dealer.Config{
		StrictURIs: cfg.StrictURIs,
		IDs:        cfg.RegistrationIDs,
		IsTooLarge: func(err error) bool { return errors.Is(err, session.ErrTooLarge) },
		Hooks:      registrationHooks{r},
		Logger:     log,
	}
	if cfg.Stats != nil {
		dcfg.Observer = cfg.Stats
	}
	if cfg.Link != nil {
		dcfg.IDFor = clusterIDs(cfg.Name)
	}
	switch cfg.DiscloseCaller {
	case "", "client":
	case "always":
		dcfg.Disclosure = dealer.DiscloseAlways
	case "never":
		dcfg.Disclosure = dealer.DiscloseNever
	default:
		return nil, fmt.Errorf("realm %s: bad caller disclosure %q", cfg.Name, cfg.DiscloseCaller)
	}
	r.dealer = dealer.New(dcfg)
	if err := r.registerMeta(); err != nil {
		return nil, fmt.Errorf("realm %s: %w", cfg.Name, err)
	}
	return r, nil
}

// Name returns the realm's URI.
func (r *Realm) Name() wamp.URI { return r.name }

// ErrClosed is returned by Attach once the realm is shutting down.
var ErrClosed = wamp.NewError(wamp.ErrSystemShutdown, "the router is shutting down")

// Attach admits s with session id id as an anonymous client and returns the
// WELCOME details. id must be unique router-wide; the router ensures it.
func (r *Realm) Attach(s *session.Session, id wamp.ID) (wamp.Dict, error) {
	return r.AttachAs(s, id, auth.Identity{
		AuthID:       strconv.FormatUint(uint64(id), 10),
		AuthRole:     "anonymous",
		AuthMethod:   auth.MethodAnonymous,
		AuthProvider: auth.ProviderStatic,
	})
}

// AttachAs admits s with session id id under the identity it authenticated
// as (Authenticate) and returns the WELCOME details, which carry authextra
// when the identity has one.
func (r *Realm) AttachAs(s *session.Session, id wamp.ID, who auth.Identity) (wamp.Dict, error) {
	ident := session.Identity{
		ID:           id,
		Realm:        r.name,
		AuthID:       who.AuthID,
		AuthRole:     who.AuthRole,
		AuthMethod:   who.AuthMethod,
		AuthProvider: who.AuthProvider,
	}
	s.SetIdentity(ident)
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil, ErrClosed
	}
	mb := &member{s: s, expires: who.Expires, joined: time.Now()}
	if t := r.authTrust(&who); t != 0 {
		mb.trust, mb.authTrust = t, true
		r.trusting.Store(true)
	} else {
		mb.trust = r.roleTrustLocked(who.AuthRole)
	}
	r.sessions[id] = mb
	r.mu.Unlock()
	welcome := wamp.Dict{
		"realm":        string(r.name),
		"authid":       ident.AuthID,
		"authrole":     ident.AuthRole,
		"authmethod":   ident.AuthMethod,
		"authprovider": ident.AuthProvider,
		"roles":        welcomeRoles,
	}
	if len(who.AuthExtra) > 0 {
		welcome["authextra"] = map[string]any(who.AuthExtra)
	}
	return welcome, nil
}

// emit publishes a meta event whose arguments args builds, only when
// someone subscribes to it: building them costs each session's join and
// leave about a kilobyte that is garbage in a router nobody watches.
// local reports whether sid is a session attached here; in a cluster the
// broker and dealer also hold stand-ins for other nodes, whose meta
// events their own nodes emit.
func (r *Realm) local(sid wamp.ID) bool {
	return r.link == nil || r.link.IsLocal(sid)
}

func (r *Realm) emit(topic wamp.URI, args func() wamp.Payload) {
	if r.broker.HasSubscribers(topic) {
		r.broker.Emit(topic, args(), wamp.Payload{}, nil)
	}
}

// Joined publishes wamp.session.on_join once the session's WELCOME is
// queued, so that nothing a watcher does about it reaches the session
// first.
func (r *Realm) Joined(s *session.Session) {
	r.expireAt(s)
	r.emit(wamp.MetaSessionOnJoin, func() wamp.Payload { return wamp.List(sessionDetails(s)) })
	if r.link != nil {
		r.link.Joined(s)
	}
}

// Handle dispatches one message of an attached session.
func (r *Realm) Handle(s *session.Session, m *wamp.Message) error {
	if az := r.access.Load().authz; az != nil {
		if a := authAction[m.Type]; a != 0 && !r.authorize(s, m, a, az) {
			return nil
		}
	}
	switch m.Type {
	case wamp.PUBLISH:
		if r.stats != nil {
			r.stats.EventPublished(s.ID)
		}
		return r.broker.PublishTrust(s, m, r.trustOf(s))
	case wamp.SUBSCRIBE:
		r.broker.Subscribe(s, m)
	case wamp.UNSUBSCRIBE:
		r.broker.Unsubscribe(s, m)
	case wamp.CALL:
		return r.dealer.CallTrust(s, m, r.trustOf(s))
	case wamp.REGISTER:
		if r.link != nil {
			r.link.Register(s, m)
			return nil
		}
		r.dealer.Register(s, m)
	case wamp.UNREGISTER:
		r.dealer.Unregister(s, m)
	case wamp.YIELD:
		if err := checkPassthruSender(s, m); err != nil {
			return err
		}
		if r.link != nil && r.link.Answer(s, m) {
			return nil
		}
		return r.dealer.Yield(s, m)
	case wamp.ERROR:
		if m.ErrType != wamp.INVOCATION {
			return wamp.NewError(wamp.ErrProtocolViolation, fmt.Sprintf("ERROR for %v from a client", m.ErrType))
		}
		if err := checkPassthruSender(s, m); err != nil {
			return err
		}
		if r.link != nil && r.link.Answer(s, m) {
			return nil
		}
		return r.dealer.Error(s, m)
	case wamp.CANCEL:
		return r.dealer.Cancel(s, m)
	default:
		return wamp.NewError(wamp.ErrProtocolViolation, fmt.Sprintf("unexpected %v", m.Type))
	}
	return nil
}

// Leave removes a session that ended from the realm: its subscriptions
// and registrations go, its testaments are published (detached scope
// first, as a router without session resumption must), and
// wamp.session.on_leave fires.
func (r *Realm) Leave(s *session.Session) {
	r.broker.RemoveSession(s.ID)
	r.dealer.RemoveSession(s.ID)
	if f, ok := r.access.Load().authz.(forgetter); ok {
		f.Forget(s.ID)
	}
	r.mu.Lock()
	m := r.sessions[s.ID]
	delete(r.sessions, s.ID)
	if m != nil && m.expiry != nil {
		m.expiry.Stop()
	}
	r.mu.Unlock()
	if r.link != nil && m != nil {
		r.link.Left(s.ID)
	}
	if m == nil || m.quiet {
		return
	}
	for _, scope := range m.testaments {
		for _, t := range scope {
			r.broker.Publish(s, t.publish())
		}
	}
	r.emit(wamp.MetaSessionOnLeave, func() wamp.Payload { return wamp.List(uint64(s.ID), s.AuthID, s.AuthRole) })
}

// expireAt starts the timer that closes s when its credentials expire
// (auth.Identity.Expires), once its WELCOME is queued: a GOODBYE must not
// overtake it. A session whose token expired during its handshake goes at
// once. Leave stops the timer.
func (r *Realm) expireAt(s *session.Session) {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := r.sessions[s.ID]
	if m == nil || m.expires.IsZero() {
		return
	}
	at := m.expires
	m.expiry = time.AfterFunc(time.Until(at), func() {
		r.log.Info("session closed: its token expired", "session", uint64(s.ID), "authid", s.AuthID, "expired", at)
		s.Goodbye(wamp.CloseTokenExpired, "the token this session joined with expired at "+at.UTC().Format(time.RFC3339))
	})
}

// Shutdown refuses new sessions and says GOODBYE to every attached one.
func (r *Realm) Shutdown(reason wamp.URI, msg string) {
	r.mu.Lock()
	r.closed = true
	list := make([]*session.Session, 0, len(r.sessions))
	for _, m := range r.sessions {
		list = append(list, m.s)
	}
	r.mu.Unlock()
	for _, s := range list {
		s.Goodbye(reason, msg)
	}
}

// Stats is a snapshot of a realm's size.
type Stats struct {
	Sessions, Subscriptions, Registrations, PendingCalls int
}

// Stats returns counts for status pages and tests.
func (r *Realm) Stats() Stats {
	r.mu.RLock()
	n := len(r.sessions)
	r.mu.RUnlock()
	return Stats{
		Sessions:      n,
		Subscriptions: r.broker.SubscriptionCount(),
		Registrations: r.dealer.RegistrationCount(),
		PendingCalls:  r.dealer.PendingCount(),
	}
}
