"""Tokens for the router: a JWT that says who the logged-in user is.

The browser's AutobahnJS joins with authmethods ["ticket"] and this token
as its ticket; the router (realms[].auth[].jwt in config.yaml) checks its
signature, issuer, audience and expiry, and admits the session with

    authid    = sub     (the username)
    authrole  = role    (whose permissions config.yaml lists)
    authextra = {name, email}

Signed HS256 with PyJWT (Debian: python3-jwt), under the secret the router
has too. With django.contrib.auth, pass request.user.get_username() and a
role from the user's groups.
"""

import datetime

import jwt
from django.conf import settings


def issue_token(username, role, **extra):
    """Return a JWT for username with role, valid for WAMP_TOKEN_TTL seconds,
    and its expiry time."""
    if len(settings.WAMP_JWT_SECRET) < 32:
        # The router refuses shorter secrets too (RFC 7518 section 3.2).
        raise ValueError("DJANGO_JWT_SECRET must be set to at least 32 bytes")
    now = datetime.datetime.now(datetime.timezone.utc)
    exp = now + datetime.timedelta(seconds=settings.WAMP_TOKEN_TTL)
    claims = {
        "sub": username,
        "role": role,
        "realm": settings.WAMP_REALM,
        "iss": settings.WAMP_JWT_ISSUER,
        "aud": settings.WAMP_JWT_AUDIENCE,
        "iat": now,
        "exp": exp,
        **extra,
    }
    return jwt.encode(claims, settings.WAMP_JWT_SECRET, algorithm="HS256"), exp
