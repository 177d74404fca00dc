package realm

import (
	"fmt"
	"maps"
	"slices"

	"github.com/switchboard/switchboard/broker"
	"github.com/switchboard/switchboard/dealer"
	"github.com/switchboard/switchboard/wamp"
	"github.com/switchboard/switchboard/wamp/codec"
)

// The meta API (advanced/meta_api_*.md, pubsub_testament.md): procedures
// run inside the router as dealer-local functions on the caller's reader
// goroutine; events go out through broker.Emit, which may publish under
// wamp. and is safe from the broker's and dealer's hooks.
//
// This file holds what every part shares: the WELCOME roles, the table of
// procedures and the decoding of their arguments. Each part has its file:
// meta_session.go, meta_pubsub.go (subscriptions and event history),
// meta_rpc.go (registrations) and meta_testament.go.

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

// idList turns ids into a list the codecs encode.
func idList(ids []wamp.ID) []any {
	out := make([]any, len(ids))
	for i, id := range ids {
		out[i] = uint64(id)
	}
	return out
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

// localFunc is a procedure the dealer runs inside the router
// (dealer.RegisterLocal).
type localFunc = func(dealer.Peer, *wamp.Message) (wamp.Payload, wamp.Payload, error)

// The meta procedures are written as plain functions of the caller and
// decoded arguments; singleResult and noResult adapt them to localFunc, so
// that none of them repeats the decoding or the building of the result.

// singleResult adapts a meta procedure that answers one positional
// result, as most of them do.
func singleResult(fn func(caller wamp.ID, args []any, kwargs map[string]any) (any, error)) localFunc {
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

// noResult adapts a meta procedure whose RESULT is empty (kill,
// add_testament, flush_testaments).
func noResult(fn func(caller wamp.ID, args []any, kwargs map[string]any) error) localFunc {
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
		"wamp.session.count":            singleResult(r.sessionCount),
		"wamp.session.list":             singleResult(r.sessionList),
		"wamp.session.get":              singleResult(r.sessionGet),
		"wamp.session.kill":             noResult(r.sessionKill),
		"wamp.session.kill_by_authid":   singleResult(r.killBy("authid", true)),
		"wamp.session.kill_by_authrole": singleResult(r.killBy("authrole", false)),
		"wamp.session.kill_all":         singleResult(r.killAll),
		"wamp.session.add_testament":    noResult(r.addTestament),
		"wamp.session.flush_testaments": noResult(r.flushTestaments),

		"wamp.subscription.list":              singleResult(r.subscriptionList),
		"wamp.subscription.lookup":            singleResult(r.subscriptionLookup),
		"wamp.subscription.match":             singleResult(r.subscriptionMatch),
		"wamp.subscription.get":               singleResult(r.subscriptionGet),
		"wamp.subscription.list_subscribers":  singleResult(r.listSubscribers),
		"wamp.subscription.count_subscribers": singleResult(r.countSubscribers),
		"wamp.subscription.get_events":        singleResult(r.getEvents),

		"wamp.registration.list":          singleResult(r.registrationList),
		"wamp.registration.lookup":        singleResult(r.registrationLookup),
		"wamp.registration.match":         singleResult(r.registrationMatch),
		"wamp.registration.get":           singleResult(r.registrationGet),
		"wamp.registration.list_callees":  singleResult(r.listCallees),
		"wamp.registration.count_callees": singleResult(r.countCallees),
	}
	for _, uri := range slices.Sorted(maps.Keys(procs)) {
		if err := r.dealer.RegisterLocal(uri, procs[uri]); err != nil {
			return fmt.Errorf("meta procedure %s: %w", uri, err)
		}
	}
	return nil
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
