"""A minimal Django project: no database. Its API views talk to Switchboard
through the HTTP bridge (see bridge.py); its pages let a logged-in user
join the router as themselves, with a JWT the site signs (see wamp.py)."""

import os

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "only-for-the-example")
DEBUG = os.environ.get("DJANGO_DEBUG", "") == "1"
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]"]
ROOT_URLCONF = "shop.urls"
WSGI_APPLICATION = "shop.wsgi.application"
INSTALLED_APPS = ["shop"]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
]
DATABASES = {}
USE_TZ = True

# Sessions in a signed cookie, so that the example needs no database. A
# real site keeps its usual session engine and django.contrib.auth.
SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
SESSION_COOKIE_HTTPONLY = True

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": ["django.template.context_processors.request"]},
    }
]

# The example's users, in place of django.contrib.auth's (which needs a
# database). The role is the WAMP authrole the router's config gives
# permissions to; name and email reach the page in WELCOME authextra.
SHOP_USERS = {
    "alice": {"password": "alice-password", "role": "customer", "name": "Alice Liddell", "email": "alice@example.com"},
    "carol": {"password": "carol-password", "role": "staff", "name": "Carol Danvers", "email": "carol@example.com"},
}

# WAMP: where the page joins, and the tokens it joins with. The secret,
# issuer and audience are those of the router's realms[].auth[].jwt
# (config.yaml). The lifetime is short: with expire_sessions the router
# closes the session when its token expires, and the page joins again
# with a fresh one from /wamp-token.
WAMP_URL = os.environ.get("SWITCHBOARD_WS_URL", "ws://127.0.0.1:8080/ws")
WAMP_REALM = "realm1"
WAMP_JWT_SECRET = os.environ.get("DJANGO_JWT_SECRET", "")
WAMP_JWT_ISSUER = "shop"
WAMP_JWT_AUDIENCE = "switchboard"
WAMP_TOKEN_TTL = int(os.environ.get("DJANGO_WAMP_TOKEN_TTL", "600"))  # seconds

# The browser build of AutobahnJS that the router's demo serves too.
AUTOBAHN_JS = os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))),
    "web", "vendor", "autobahn", "autobahn.min.js",
)
