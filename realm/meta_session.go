package realm

import (
	"fmt"
	"slices"
	"strconv"

	"github.com/switchboard/switchboard/session"
	"github.com/switchboard/switchboard/wamp"
)

// The session meta API (advanced/meta_api_sessions.md): the procedures
// that count, list, describe and kill sessions, on every node of a
// cluster through the realm's link.

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
