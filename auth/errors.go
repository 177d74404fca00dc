package auth

import (
	"errors"

	"github.com/switchboard/switchboard/wamp"
)

// Sentinel errors. Authenticate and Authorize wrap them with the detail of
// the case; WAMPError maps them to the URI the peer gets.
var (
	// ErrNoAuthMethod: the client offered no method that the realm (on
	// this listener) has.
	ErrNoAuthMethod = errors.New("no acceptable authentication method")
	// ErrInvalidCredentials: unknown principal, wrong ticket, secret or
	// signature.
	ErrInvalidCredentials = errors.New("invalid credentials")
	// ErrBadAuthenticate: the client's HELLO or AUTHENTICATE was not what
	// the method needs (no authid, malformed signature).
	ErrBadAuthenticate = errors.New("malformed authentication")
	// ErrChallengeUsed: a challenge was answered a second time.
	ErrChallengeUsed = errors.New("challenge already answered")
	// ErrAuthenticator: a dynamic authenticator failed, timed out or gave
	// an answer that is not a principal. The session is refused.
	ErrAuthenticator = errors.New("authenticator failed")
	// ErrNoSuchRole: authentication named a role the realm does not have.
	ErrNoSuchRole = errors.New("no such role")
	// ErrNotAuthorized: the action is not permitted to the session's role.
	ErrNotAuthorized = errors.New("not authorized")
	// ErrAuthorizer: a dynamic authorizer failed or timed out; the action
	// is refused.
	ErrAuthorizer = errors.New("authorizer failed")
	// ErrHashedSecret: a hashed secret was given where the method needs the
	// secret itself (WAMP-CRA signs with it).
	ErrHashedSecret = errors.New("secret is hashed")
	// ErrBadSecret: a secret, hash or secret source is unusable.
	ErrBadSecret = errors.New("bad secret")
	// ErrBadPermission: a permission or role is malformed.
	ErrBadPermission = errors.New("bad permission")
	// ErrInvalidToken: a JWT ticket failed a check (its signature, exp,
	// issuer, ...); the message names the check, never the key.
	ErrInvalidToken = errors.New("invalid token")
	// ErrBadKey: a JWT verification key (HMAC secret, PEM or JWKS) is
	// unusable.
	ErrBadKey = errors.New("bad key")
)

// passThrough are the URIs a dynamic authenticator or authorizer may answer
// with, which reach the client unchanged.
var passThrough = map[wamp.URI]bool{
	wamp.ErrAuthenticationFailed: true,
	wamp.ErrNotAuthorized:        true,
	wamp.ErrAuthorizationFailed:  true,
	wamp.ErrNoAuthMethod:         true,
	wamp.ErrNoSuchRole:           true,
}

// WAMPError maps an error of Authenticate or Authorize to the *wamp.Error
// the peer gets (ABORT on join, ERROR on an action). It is the one table
// from this package's errors to URIs.
func WAMPError(err error) *wamp.Error {
	if err == nil {
		return nil
	}
	var we *wamp.Error
	if errors.As(err, &we) && passThrough[we.URI] {
		return wamp.NewError(we.URI, err.Error())
	}
	uri := wamp.ErrAuthenticationFailed
	switch {
	case errors.Is(err, ErrNoAuthMethod):
		uri = wamp.ErrNoAuthMethod
	case errors.Is(err, ErrNoSuchRole):
		uri = wamp.ErrNoSuchRole
	case errors.Is(err, ErrNotAuthorized):
		uri = wamp.ErrNotAuthorized
	case errors.Is(err, ErrAuthorizer):
		uri = wamp.ErrAuthorizationFailed
	}
	return wamp.NewError(uri, err.Error())
}
