package realm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"

	"github.com/switchboard/switchboard/auth"
	"github.com/switchboard/switchboard/session"
	"github.com/switchboard/switchboard/wamp"
	"github.com/switchboard/switchboard/wamp/codec"
)

// Authentication and authorization of the realm's sessions. The realm
// holds its auth.Set (who may join, and as whom) and its auth.Authorizer
// (what they may do); Handle asks the authorizer before it dispatches a
// PUBLISH, SUBSCRIBE, CALL or REGISTER, the meta procedures and topics
// included. Without an authorizer everything is allowed, as before.

// Authenticate runs the realm's authentication for s, which will get id,
// on the reader goroutine of s during its handshake. allowed, when not nil,
// restricts the methods to those of the listener. The error is a
// *wamp.Error for ABORT, or wraps session.ErrClosed when the peer left.
func (r *Realm) Authenticate(s *session.Session, id wamp.ID, details wamp.Dict, allowed []string) (auth.Identity, error) {
	req := &auth.Request{
		Realm:   r.name,
		Session: id,
		Details: details,
		Transport: auth.Transport{
			Type: s.Transport(),
			Peer: addrString(s),
			TLS:  s.TLSConnectionState(),
		},
		Allowed: allowed,
	}
	acc := r.access.Load()
	ident, err := acc.set.Authenticate(s.HandshakeContext(), req, s)
	if err != nil {
		if errors.Is(err, session.ErrClosed) {
			return ident, err
		}
		var we *wamp.Error
		if errors.As(err, &we) && we.URI == wamp.ErrProtocolViolation {
			return ident, we
		}
		return ident, auth.WAMPError(err)
	}
	if rc, ok := acc.authz.(auth.RoleChecker); ok && !rc.HasRole(ident.AuthRole) {
		return ident, auth.WAMPError(fmt.Errorf("%w: %q is no role of realm %s", auth.ErrNoSuchRole, ident.AuthRole, r.name))
	}
	return ident, nil
}

// AuthMethods returns the realm's authentication methods in order.
func (r *Realm) AuthMethods() []string { return r.access.Load().set.Methods() }

// authAction maps the message types that need authorization to their
// action; zero for the others.
var authAction = [256]auth.Action{
	wamp.PUBLISH:   auth.ActionPublish,
	wamp.SUBSCRIBE: auth.ActionSubscribe,
	wamp.CALL:      auth.ActionCall,
	wamp.REGISTER:  auth.ActionRegister,
}

// authorize asks the authorizer whether s may do what m asks. When it may
// not, s gets ERROR wamp.error.not_authorized (or
// wamp.error.authorization_failed when the authorizer failed) for the
// request, except a PUBLISH without acknowledge, which gets nothing (the
// specification answers only acknowledged publications, and AutobahnJS
// takes any other ERROR for a protocol violation); the session stays. When
// the permission says so, the caller or publisher is disclosed: the
// message gets disclose_me, which the dealer and broker already honour.
func (r *Realm) authorize(s *session.Session, m *wamp.Message, action auth.Action, authz auth.Authorizer) bool {
	a := auth.Access{Action: action, URI: m.URI}
	if action == auth.ActionSubscribe || action == auth.ActionRegister {
		a.Match, _ = m.Details["match"].(string)
	}
	sub := auth.Subject{
		Session: s.ID, Realm: r.name, AuthID: s.AuthID, AuthRole: s.AuthRole,
		AuthMethod: s.AuthMethod, AuthProvider: s.AuthProvider,
	}
	d, err := authz.Authorize(context.Background(), sub, a)
	if err == nil && d.Allow {
		if d.Disclose && (action == auth.ActionCall && !r.neverDiscloseCaller || action == auth.ActionPublish && !r.neverDisclosePublisher) {
			opts := maps.Clone(m.Details)
			if opts == nil {
				opts = make(wamp.Dict, 1)
			}
			opts["disclose_me"] = true
			m.Details = opts
		}
		return true
	}
	var we *wamp.Error
	if err != nil {
		we = auth.WAMPError(err)
		r.log.Warn("authorizer failed", "session", uint64(s.ID), "action", action.String(), "uri", string(m.URI), "error", err)
	} else {
		we = wamp.NewError(wamp.ErrNotAuthorized, fmt.Sprintf("role %q may not %s %s", s.AuthRole, action, m.URI))
		if r.log.Enabled(context.Background(), slog.LevelDebug) {
			r.log.Debug("not authorized", "session", uint64(s.ID), "authrole", s.AuthRole, "action", action.String(), "uri", string(m.URI))
		}
	}
	if m.Type == wamp.PUBLISH && !wamp.Bool(m.Details, "acknowledge", false) {
		return false
	}
	_ = s.Send(we.Reply(m.Type, m.Request))
	return false
}

// forgetter is an authorizer that caches per session.
type forgetter interface{ Forget(wamp.ID) }

// Call calls procedure in this realm as the router itself and decodes the
// answer (auth.Caller, for dynamic authenticators and authorizers). A
// callee's ERROR is a *wamp.Error whose message is Details.message or the
// first positional argument.
func (r *Realm) Call(ctx context.Context, procedure wamp.URI, args []any, kwargs map[string]any) ([]any, map[string]any, error) {
	var a, k wamp.Payload
	if args != nil {
		a = wamp.List(args...)
	}
	if kwargs != nil {
		k = wamp.KW(kwargs)
	}
	res, err := r.dealer.CallInternal(ctx, procedure, a, k)
	outArgs, argErr := decodePayload(res.Args)
	outKwargs, kwErr := decodePayload(res.Kwargs)
	list, _ := outArgs.([]any)
	dict, _ := outKwargs.(map[string]any)
	var we *wamp.Error
	if errors.As(err, &we) && we.Msg == "" && len(list) > 0 {
		if s, ok := list[0].(string); ok {
			we.Msg = s
		}
	}
	if err == nil {
		err = errors.Join(argErr, kwErr)
	}
	return list, dict, err
}

// decodePayload returns the decoded value of p: its Value, or its raw bytes
// decoded in their serializer.
func decodePayload(p wamp.Payload) (any, error) {
	if p.Value != nil || p.Raw == nil {
		return p.Value, nil
	}
	c := codec.For(p.Ser)
	if c == nil {
		return nil, fmt.Errorf("realm: payload in unknown serializer %v", p.Ser)
	}
	return c.DecodeValue(p.Raw)
}

var _ auth.Caller = (*Realm)(nil)
