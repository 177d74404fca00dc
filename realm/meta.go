package realm

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"

	"github.com/switchboard/switchboard/broker"
	"github.com/switchboard/switchboard/dealer"
	"github.com/switchboard/switchboard/session"
	"github.com/switchboard/switchboard/wamp"
	"github.com/switchboard/switchboard/wamp/codec"
)

// The meta API (advanced/meta_api_*.md, pubsub_testament.md): procedures
// run inside the router as dealer-local functions on the caller's reader
// goroutine; events go out through broker.Emit, which may publish under
// wamp. and is safe from the broker's and dealer's hooks.

// welcomeRoles is WELCOME's roles dict, built once: codecs only read it,
// and building it per session cost a few KiB of garbage per join.
var welcomeRoles = roles()

// roles is WELCOME's roles dict: what the broker and dealer do, plus the
// meta APIs the realm implements on top of them.
func roles() map[string]any {
	b := broker.Features()
	d := dealer.Features()
	bf := maps.Clone(b["features"].(map[string]any))
	df := maps.Clone(d["features"].(map[string]any))
	for _, f := range []string{"session_meta_api", "subscription_meta_api", "event_history"} {
		bf[f] = true
	}
	for _, f := range []string{"session_meta_api", "registration_meta_api", "testament_meta_api"} {
		df[f] = true
	}
	return map[string]any{
		"broker": map[string]any{"features": bf},
		"dealer": map[string]any{"features": df},
	}
}

// sessionDetails is the session details dict of on_join and
// wamp.session.get.
func sessionDetails(s *session.Session) map[string]any {
	return map[string]any{
		"session":      uint64(s.ID),
		"authid":       s.AuthID,
		"authrole":     s.AuthRole,
		"authmethod":   s.AuthMethod,
		"authprovider": s.AuthProvider,
		"transport": map[string]any{
			"type":       s.Transport(),
			"serializer": s.Serialization().String(),
			"peer":       addrString(s),
		},
	}
}

func addrString(s *session.Session) string {
	if a := s.RemoteAddr(); a != nil {
		return a.String()
	}
	return ""
}

// idList turns ids into a list the codecs encode.
func idList(ids []wamp.ID) []any {
	out := make([]any, len(ids))
	for i, id := range ids {
		out[i] = uint64(id)
	}
	return out
}

// subscriptionHooks publishes the subscription meta events.
type subscriptionHooks struct{ r *Realm }

func (h subscriptionHooks) OnCreate(sess wamp.ID, info broker.SubscriptionInfo) {
	if !h.r.local(sess) {
		return
	}
	h.r.emit("wamp.subscription.on_create", func() wamp.Payload { return wamp.List(uint64(sess), info.Dict()) })
}

func (h subscriptionHooks) OnSubscribe(sess, sub wamp.ID) {
	if !h.r.local(sess) {
		return
	}
	h.r.emit("wamp.subscription.on_subscribe", func() wamp.Payload { return wamp.List(uint64(sess), uint64(sub)) })
	if h.r.link != nil {
		h.r.link.Subscribed(sess, sub)
	}
}

func (h subscriptionHooks) OnUnsubscribe(sess, sub wamp.ID) {
	if !h.r.local(sess) {
		return
	}
	h.r.emit("wamp.subscription.on_unsubscribe", func() wamp.Payload { return wamp.List(uint64(sess), uint64(sub)) })
	if h.r.link != nil {
		h.r.link.Unsubscribed(sess, sub)
	}
}

func (h subscriptionHooks) OnDelete(sess, sub wamp.ID) {
	if !h.r.local(sess) {
		return
	}
	h.r.emit("wamp.subscription.on_delete", func() wamp.Payload { return wamp.List(uint64(sess), uint64(sub)) })
}

// registrationHooks publishes the registration meta events. The dealer
// calls them under its lock; Emit takes only broker locks, which come
// after the dealer's in the lock order.
type registrationHooks struct{ r *Realm }

func (h registrationHooks) OnCreate(sess wamp.ID, info dealer.RegistrationInfo) {
	if !h.r.local(sess) {
		return
	}
	h.r.emit("wamp.registration.on_create", func() wamp.Payload { return wamp.List(uint64(sess), registrationDict(info)) })
}

func (h registrationHooks) OnRegister(sess, reg wamp.ID) {
	if !h.r.local(sess) {
		return
	}
	h.r.emit("wamp.registration.on_register", func() wamp.Payload { return wamp.List(uint64(sess), uint64(reg)) })
}

func (h registrationHooks) OnUnregister(sess, reg wamp.ID) {
	if !h.r.local(sess) {
		return
	}
	h.r.emit("wamp.registration.on_unregister", func() wamp.Payload { return wamp.List(uint64(sess), uint64(reg)) })
	if h.r.link != nil {
		h.r.link.Unregistered(sess, reg)
	}
}

func (h registrationHooks) OnDelete(sess, reg wamp.ID) {
	if !h.r.local(sess) {
		return
	}
	h.r.emit("wamp.registration.on_delete", func() wamp.Payload { return wamp.List(uint64(sess), uint64(reg)) })
}

func registrationDict(i dealer.RegistrationInfo) map[string]any {
	return map[string]any{
		"id":      uint64(i.ID),
		"created": i.Created.UTC().Format("2006-01-02T15:04:05.000Z"),
		"uri":     string(i.URI),
		"match":   i.Match,
		"invoke":  i.Invoke,
	}
}

// metaArgs decodes a meta call's payload: the caller's serializer is
// whatever it is, and meta procedures take small arguments.
func metaArgs(m *wamp.Message) (args []any, kwargs map[string]any, err error) {
	for _, x := range []struct {
		p   wamp.Payload
		dst any
	}{{m.Args, &args}, {m.Kwargs, &kwargs}} {
		v := x.p.Value
		if v == nil && x.p.Raw != nil {
			if v, err = codec.For(x.p.Ser).DecodeValue(x.p.Raw); err != nil {
				return nil, nil, wamp.NewError(wamp.ErrInvalidArgument, err.Error())
			}
		}
		switch dst := x.dst.(type) {
		case *[]any:
			*dst, _ = v.([]any)
		case *map[string]any:
			*dst, _ = v.(map[string]any)
		}
	}
	return args, kwargs, nil
}

func badArg(format string, a ...any) error {
	return wamp.NewError(wamp.ErrInvalidArgument, fmt.Sprintf(format, a...))
}

// argID reads positional argument i as an id.
func argID(args []any, i int, name string) (wamp.ID, error) {
	if i >= len(args) {
		return 0, badArg("missing argument %d (%s)", i+1, name)
	}
	id, ok := wamp.AsID(args[i])
	if !ok {
		return 0, badArg("argument %d (%s) must be an id", i+1, name)
	}
	return id, nil
}

// argString reads positional argument i as a string.
func argString(args []any, i int, name string) (string, error) {
	if i >= len(args) {
		return "", badArg("missing argument %d (%s)", i+1, name)
	}
	s, ok := args[i].(string)
	if !ok {
		return "", badArg("argument %d (%s) must be a string", i+1, name)
	}
	return s, nil
}

// roleFilter reads the optional filter_authroles argument.
func roleFilter(args []any) (map[string]bool, error) {
	if len(args) == 0 || args[0] == nil {
		return nil, nil
	}
	list, ok := args[0].([]any)
	if !ok {
		return nil, badArg("argument 1 (filter_authroles) must be a list of strings")
	}
	f := make(map[string]bool, len(list))
	for _, v := range list {
		s, ok := v.(string)
		if !ok {
			return nil, badArg("argument 1 (filter_authroles) must be a list of strings")
		}
		f[s] = true
	}
	return f, nil
}

type localFunc = func(dealer.Peer, *wamp.Message) (wamp.Payload, wamp.Payload, error)

// one wraps a meta function with one positional result.
func one(fn func(caller wamp.ID, args []any, kwargs map[string]any) (any, error)) localFunc {
	return func(caller dealer.Peer, m *wamp.Message) (wamp.Payload, wamp.Payload, error) {
		args, kwargs, err := metaArgs(m)
		if err != nil {
			return wamp.Payload{}, wamp.Payload{}, err
		}
		v, err := fn(caller.SessionID(), args, kwargs)
		if err != nil {
			return wamp.Payload{}, wamp.Payload{}, err
		}
		return wamp.List(v), wamp.Payload{}, nil
	}
}

// none wraps a meta function that returns nothing.
func none(fn func(caller wamp.ID, args []any, kwargs map[string]any) error) localFunc {
	return func(caller dealer.Peer, m *wamp.Message) (wamp.Payload, wamp.Payload, error) {
		args, kwargs, err := metaArgs(m)
		if err != nil {
			return wamp.Payload{}, wamp.Payload{}, err
		}
		return wamp.Payload{}, wamp.Payload{}, fn(caller.SessionID(), args, kwargs)
	}
}

func (r *Realm) registerMeta() error {
	procs := map[wamp.URI]localFunc{
		"wamp.session.count":            one(r.sessionCount),
		"wamp.session.list":             one(r.sessionList),
		"wamp.session.get":              one(r.sessionGet),
		"wamp.session.kill":             none(r.sessionKill),
		"wamp.session.kill_by_authid":   one(r.killBy("authid", true)),
		"wamp.session.kill_by_authrole": one(r.killBy("authrole", false)),
		"wamp.session.kill_all":         one(r.killAll),
		"wamp.session.add_testament":    none(r.addTestament),
		"wamp.session.flush_testaments": none(r.flushTestaments),

		"wamp.subscription.list":              one(func(wamp.ID, []any, map[string]any) (any, error) { return listsDict(r.broker.List()), nil }),
		"wamp.subscription.lookup":            one(r.subscriptionLookup),
		"wamp.subscription.match":             one(r.subscriptionMatch),
		"wamp.subscription.get":               one(r.subscriptionGet),
		"wamp.subscription.list_subscribers":  one(r.listSubscribers),
		"wamp.subscription.count_subscribers": one(r.countSubscribers),
		"wamp.subscription.get_events":        one(r.getEvents),

		"wamp.registration.list":          one(func(wamp.ID, []any, map[string]any) (any, error) { return regListsDict(r.dealer.List()), nil }),
		"wamp.registration.lookup":        one(r.registrationLookup),
		"wamp.registration.match":         one(r.registrationMatch),
		"wamp.registration.get":           one(r.registrationGet),
		"wamp.registration.list_callees":  one(r.listCallees),
		"wamp.registration.count_callees": one(r.countCallees),
	}
	for _, uri := range slices.Sorted(maps.Keys(procs)) {
		if err := r.dealer.RegisterLocal(uri, procs[uri]); err != nil {
			return fmt.Errorf("meta procedure %s: %w", uri, err)
		}
	}
	return nil
}

// members returns the attached sessions, as a snapshot.
func (r *Realm) members() []*session.Session {
	r.mu.RLock()
	defer r.mu.RUnlock()
	list := make([]*session.Session, 0, len(r.sessions))
	for _, m := range r.sessions {
		list = append(list, m.s)
	}
	return list
}

func (r *Realm) sessionCount(_ wamp.ID, args []any, _ map[string]any) (any, error) {
	ids, err := r.filteredSessions(args)
	return len(ids), err
}

func (r *Realm) sessionList(_ wamp.ID, args []any, _ map[string]any) (any, error) {
	ids, err := r.filteredSessions(args)
	return idList(ids), err
}

func (r *Realm) filteredSessions(args []any) ([]wamp.ID, error) {
	filter, err := roleFilter(args)
	if err != nil {
		return nil, err
	}
	var ids []wamp.ID
	for _, s := range r.members() {
		if filter == nil || filter[s.AuthRole] {
			ids = append(ids, s.ID)
		}
	}
	if r.link != nil {
		ids = append(ids, r.link.RemoteSessions(filter)...)
	}
	slices.Sort(ids)
	return ids, nil
}

func (r *Realm) session(id wamp.ID) *session.Session {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if m := r.sessions[id]; m != nil {
		return m.s
	}
	return nil
}

func (r *Realm) sessionGet(_ wamp.ID, args []any, _ map[string]any) (any, error) {
	id, err := argID(args, 0, "session")
	if err != nil {
		return nil, err
	}
	s := r.session(id)
	if s == nil {
		if r.link != nil {
			if d, ok := r.link.RemoteSession(id); ok {
				return d, nil
			}
		}
		return nil, wamp.NewError(wamp.ErrNoSuchSession, fmt.Sprintf("no session %d in this realm", id))
	}
	return sessionDetails(s), nil
}

// killReason reads the reason and message keyword arguments of the kill
// procedures.
func killReason(kwargs map[string]any) (wamp.URI, string, error) {
	reason := wamp.CloseKilled
	if v, ok := kwargs["reason"]; ok {
		s, ok := v.(string)
		if !ok || !wamp.ValidURI(wamp.URI(s), false, false) {
			return "", "", wamp.NewError(wamp.ErrInvalidURI, "reason must be a valid, non-empty URI")
		}
		reason = wamp.URI(s)
	}
	msg := ""
	if v, ok := kwargs["message"]; ok {
		s, ok := v.(string)
		if !ok {
			return "", "", badArg("message must be a string")
		}
		msg = s
	}
	return reason, msg, nil
}

func (r *Realm) sessionKill(caller wamp.ID, args []any, kwargs map[string]any) error {
	id, err := argID(args, 0, "session")
	if err != nil {
		return err
	}
	reason, msg, err := killReason(kwargs)
	if err != nil {
		return err
	}
	s := r.session(id)
	if s == nil && r.link != nil {
		// A session of another node: its node closes it (docs/cluster.md).
		if len(r.link.KillRemote("session", strconv.FormatUint(uint64(id), 10), reason, msg)) > 0 {
			return nil
		}
	}
	// The caller's own session counts as none: "no other session with
	// that ID exists" (meta_api_sessions.md).
	if s == nil || id == caller {
		return wamp.NewError(wamp.ErrNoSuchSession, fmt.Sprintf("no other session %d in this realm", id))
	}
	s.Goodbye(reason, msg)
	return nil
}

// killBy kills the sessions other than the caller whose by (authid or
// authrole) is the argument, on every node; it answers with their ids
// (kill_by_authid) or their count.
func (r *Realm) killBy(by string, ids bool) func(wamp.ID, []any, map[string]any) (any, error) {
	return func(caller wamp.ID, args []any, kwargs map[string]any) (any, error) {
		v, err := argString(args, 0, by)
		if err != nil {
			return nil, err
		}
		reason, msg, err := killReason(kwargs)
		if err != nil {
			return nil, err
		}
		killed := r.KillLocal(by, v, caller, reason, msg)
		if r.link != nil {
			killed = append(killed, r.link.KillRemote(by, v, reason, msg)...)
		}
		if ids {
			slices.Sort(killed)
			return idList(killed), nil
		}
		return len(killed), nil
	}
}

// killAll closes every other session without meta or testament events,
// as the specification says; in a cluster, those of every node.
func (r *Realm) killAll(caller wamp.ID, _ []any, kwargs map[string]any) (any, error) {
	reason, msg, err := killReason(kwargs)
	if err != nil {
		return nil, err
	}
	n := r.killAllExcept(caller, reason, msg)
	if r.link != nil {
		n += r.link.KillAll(reason, msg)
	}
	return n, nil
}

// killAllExcept closes every local session but caller, quietly.
func (r *Realm) killAllExcept(caller wamp.ID, reason wamp.URI, msg string) int {
	r.mu.Lock()
	var list []*session.Session
	for id, m := range r.sessions {
		if id != caller {
			m.quiet = true
			list = append(list, m.s)
		}
	}
	r.mu.Unlock()
	for _, s := range list {
		s.Goodbye(reason, msg)
	}
	return len(list)
}

// testament is one event a session asked to have published when it goes.
type testament struct {
	topic   wamp.URI
	options wamp.Dict
	args    wamp.Payload
	kwargs  wamp.Payload
}

// publish builds the PUBLISH of the testament.
func (t testament) publish() *wamp.Message {
	e := t.export()
	return e.Message()
}

// export is the testament as the cluster keeps it.
func (t testament) export() Testament {
	e := Testament{Topic: t.topic, Options: t.options}
	e.Args, _ = t.args.Value.([]any)
	if d, ok := t.kwargs.Value.(map[string]any); ok {
		e.Kwargs = d
	}
	return e
}

func testamentScope(kwargs map[string]any) (int, error) {
	v, ok := kwargs["scope"]
	if !ok {
		return 1, nil
	}
	switch v {
	case "detached":
		return 0, nil
	case "destroyed":
		return 1, nil
	}
	return 0, badArg("scope must be \"detached\" or \"destroyed\"")
}

// maxTestaments bounds one session's testaments, so that a client cannot
// make the router hold unbounded memory for it.
const maxTestaments = 64

func (r *Realm) addTestament(caller wamp.ID, args []any, kwargs map[string]any) error {
	topic, err := argString(args, 0, "topic")
	if err != nil {
		return err
	}
	// Checked as the broker will check it at publication, when it is too
	// late to tell anyone.
	if !wamp.ValidURI(wamp.URI(topic), r.strict, false) || wamp.URI(topic).Reserved() {
		return wamp.NewError(wamp.ErrInvalidURI, fmt.Sprintf("invalid testament topic %q", topic))
	}
	t := testament{topic: wamp.URI(topic)}
	if len(args) > 1 && args[1] != nil {
		l, ok := args[1].([]any)
		if !ok {
			return badArg("argument 2 (args) must be a list")
		}
		t.args = wamp.Payload{Value: l}
	}
	if len(args) > 2 && args[2] != nil {
		d, ok := args[2].(map[string]any)
		if !ok {
			return badArg("argument 3 (kwargs) must be a dict")
		}
		t.kwargs = wamp.Payload{Value: d}
	}
	if v, ok := kwargs["publish_options"]; ok {
		d, ok := v.(map[string]any)
		if !ok {
			return badArg("publish_options must be a dict")
		}
		// advanced/pubsub_testament.md: the options are PUBLISH.Options.
		// Checked now, since a bad one at publication would be answered
		// to a session that is gone.
		if err := r.broker.CheckPublishOptions(d); err != nil {
			if we, ok := err.(*wamp.Error); ok {
				return wamp.NewError(we.URI, "publish_options: "+we.Msg)
			}
			return err
		}
		t.options = d
	}
	scope, err := testamentScope(kwargs)
	if err != nil {
		return err
	}
	r.mu.Lock()
	m := r.sessions[caller]
	if m == nil {
		r.mu.Unlock()
		return wamp.NewError(wamp.ErrNoSuchSession, "the calling session has left")
	}
	if len(m.testaments[scope]) >= maxTestaments {
		r.mu.Unlock()
		return badArg("at most %d testaments per scope", maxTestaments)
	}
	m.testaments[scope] = append(m.testaments[scope], t)
	r.mu.Unlock()
	r.linkTestaments(caller)
	return nil
}

func (r *Realm) flushTestaments(caller wamp.ID, _ []any, kwargs map[string]any) error {
	scope, err := testamentScope(kwargs)
	if err != nil {
		return err
	}
	r.mu.Lock()
	m := r.sessions[caller]
	if m != nil {
		m.testaments[scope] = nil
	}
	r.mu.Unlock()
	if m != nil {
		r.linkTestaments(caller)
	}
	return nil
}

func listsDict(l broker.SubscriptionLists) map[string]any {
	return map[string]any{"exact": idList(l.Exact), "prefix": idList(l.Prefix), "wildcard": idList(l.Wildcard)}
}

func regListsDict(l dealer.RegistrationLists) map[string]any {
	return map[string]any{"exact": idList(l.Exact), "prefix": idList(l.Prefix), "wildcard": idList(l.Wildcard)}
}

// lookupArgs reads (uri, options{match}) of the lookup procedures.
func lookupArgs(args []any, name string) (wamp.URI, string, error) {
	uri, err := argString(args, 0, name)
	if err != nil {
		return "", "", err
	}
	match := wamp.MatchExact
	if len(args) > 1 && args[1] != nil {
		opts, ok := args[1].(map[string]any)
		if !ok {
			return "", "", badArg("argument 2 (options) must be a dict")
		}
		if v, ok := opts["match"]; ok {
			s, ok := v.(string)
			if !ok || (s != wamp.MatchExact && s != wamp.MatchPrefix && s != wamp.MatchWildcard) {
				return "", "", badArg("options.match must be exact, prefix or wildcard")
			}
			match = s
		}
	}
	return wamp.URI(uri), match, nil
}

// orNull answers an id, or null when there is none (the lookup
// procedures' "null" result).
func orNull(id wamp.ID) any {
	if id == 0 {
		return nil
	}
	return uint64(id)
}

func (r *Realm) subscriptionLookup(_ wamp.ID, args []any, _ map[string]any) (any, error) {
	topic, match, err := lookupArgs(args, "topic")
	if err != nil {
		return nil, err
	}
	return orNull(r.broker.Lookup(topic, match)), nil
}

func (r *Realm) subscriptionMatch(_ wamp.ID, args []any, _ map[string]any) (any, error) {
	topic, err := argString(args, 0, "topic")
	if err != nil {
		return nil, err
	}
	ids := r.broker.Match(wamp.URI(topic))
	if len(ids) == 0 {
		return nil, nil
	}
	return idList(ids), nil
}

func noSuchSubscription(id wamp.ID) error {
	return wamp.NewError(wamp.ErrNoSuchSubscription, fmt.Sprintf("no subscription %d", id))
}

func (r *Realm) subscriptionGet(_ wamp.ID, args []any, _ map[string]any) (any, error) {
	id, err := argID(args, 0, "subscription")
	if err != nil {
		return nil, err
	}
	info, ok := r.broker.Get(id)
	if !ok {
		return nil, noSuchSubscription(id)
	}
	return info.Dict(), nil
}

func (r *Realm) listSubscribers(_ wamp.ID, args []any, _ map[string]any) (any, error) {
	id, err := argID(args, 0, "subscription")
	if err != nil {
		return nil, err
	}
	ids, ok := r.broker.ListSubscribers(id)
	if !ok {
		return nil, noSuchSubscription(id)
	}
	if r.link != nil {
		ids = append(ids, r.link.RemoteSubscribers(id)...)
		slices.Sort(ids)
	}
	return idList(ids), nil
}

func (r *Realm) countSubscribers(_ wamp.ID, args []any, _ map[string]any) (any, error) {
	id, err := argID(args, 0, "subscription")
	if err != nil {
		return nil, err
	}
	n, ok := r.broker.CountSubscribers(id)
	if !ok {
		return nil, noSuchSubscription(id)
	}
	if r.link != nil {
		n += len(r.link.RemoteSubscribers(id))
	}
	return n, nil
}

// getEvents takes limit as the keyword argument the specification
// (pubsub_event_history.md) names, or positionally, as Crossbar.io also
// accepts it, and the specification's other filters (historyQuery).
func (r *Realm) getEvents(_ wamp.ID, args []any, kwargs map[string]any) (any, error) {
	id, err := argID(args, 0, "subscription")
	if err != nil {
		return nil, err
	}
	var lv any
	if len(args) > 1 {
		lv = args[1]
	}
	if v, ok := kwargs["limit"]; ok {
		if lv != nil {
			return nil, badArg("limit given both as argument 2 and as a keyword argument")
		}
		lv = v
	}
	limit := 0
	if lv != nil {
		n, ok := wamp.AsInt(lv)
		if !ok || n < 0 {
			return nil, badArg("limit must be a non-negative integer")
		}
		limit = int(n)
	}
	q, err := historyQuery(kwargs)
	if err != nil {
		return nil, err
	}
	q.Limit = limit
	events, err := r.broker.QueryEvents(id, q)
	switch {
	case err == nil:
	case errors.Is(err, broker.ErrNoSuchSubscription):
		return nil, noSuchSubscription(id)
	default:
		return nil, badArg("subscription %d keeps no event history", id)
	}
	out := make([]any, 0, len(events))
	for i := range events {
		d, err := events[i].Dict()
		if err != nil {
			return nil, fmt.Errorf("get_events: %w", err)
		}
		out = append(out, d)
	}
	return out, nil
}

func (r *Realm) registrationLookup(_ wamp.ID, args []any, _ map[string]any) (any, error) {
	uri, match, err := lookupArgs(args, "procedure")
	if err != nil {
		return nil, err
	}
	id, _ := r.dealer.Lookup(uri, match)
	return orNull(id), nil
}

func (r *Realm) registrationMatch(_ wamp.ID, args []any, _ map[string]any) (any, error) {
	uri, err := argString(args, 0, "procedure")
	if err != nil {
		return nil, err
	}
	id, _ := r.dealer.Match(wamp.URI(uri))
	return orNull(id), nil
}

func noSuchRegistration(id wamp.ID) error {
	return wamp.NewError(wamp.ErrNoSuchRegistration, fmt.Sprintf("no registration %d", id))
}

func (r *Realm) registrationGet(_ wamp.ID, args []any, _ map[string]any) (any, error) {
	id, err := argID(args, 0, "registration")
	if err != nil {
		return nil, err
	}
	info, ok := r.dealer.Get(id)
	if !ok {
		return nil, noSuchRegistration(id)
	}
	return registrationDict(info), nil
}

func (r *Realm) listCallees(_ wamp.ID, args []any, _ map[string]any) (any, error) {
	id, err := argID(args, 0, "registration")
	if err != nil {
		return nil, err
	}
	ids, ok := r.dealer.ListCallees(id)
	if !ok {
		return nil, noSuchRegistration(id)
	}
	return idList(ids), nil
}

func (r *Realm) countCallees(_ wamp.ID, args []any, _ map[string]any) (any, error) {
	id, err := argID(args, 0, "registration")
	if err != nil {
		return nil, err
	}
	n, ok := r.dealer.CountCallees(id)
	if !ok {
		return nil, noSuchRegistration(id)
	}
	return n, nil
}
