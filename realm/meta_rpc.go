package realm

import (
	"fmt"

	"github.com/switchboard/switchboard/dealer"
	"github.com/switchboard/switchboard/wamp"
)

// The registration meta API (advanced/meta_api_registrations.md): the meta
// events of the dealer's hooks and the procedures that read its
// registrations.

// registrationHooks publishes the registration meta events. The dealer
// calls them in order once its lock is released (docs/locks.md).
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

func (r *Realm) registrationList(wamp.ID, []any, map[string]any) (any, error) {
	return registrationListsDict(r.dealer.List()), nil
}

func registrationListsDict(l dealer.RegistrationLists) map[string]any {
	return map[string]any{"exact": idList(l.Exact), "prefix": idList(l.Prefix), "wildcard": idList(l.Wildcard)}
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
