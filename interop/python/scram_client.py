#!/usr/bin/env python3
"""Join a realm with WAMP-SCRAM through Autobahn|Python (asyncio), for
interop/scram_test.go.

Two clients:

  --client autobahn   Autobahn|Python's own AuthScram (method "scram",
                      kdf argon2id-13; needs argon2-cffi and passlib:
                      python3-argon2, python3-passlib).
  --client spec       an authenticator written here from the WAMP
                      specification (method "wamp-scram", kdf argon2id13
                      through PyNaCl or pbkdf2 through hashlib), run by
                      Autobahn's session: it checks that the CHALLENGE
                      nonce extends its own and that WELCOME carries the
                      verifier it computes.

It prints one line and exits 0:

  joined authid=... authrole=... authmethod=... authprovider=...
  refused reason=... message=...

Any other outcome (an exception, a wrong verifier) exits non-zero.
"""

import argparse
import asyncio
import base64
import hashlib
import hmac
import os
import sys

import txaio

txaio.use_asyncio()

from autobahn.asyncio.wamp import ApplicationRunner, Session  # noqa: E402
from autobahn.wamp.interfaces import IAuthenticator  # noqa: E402


def xor(a, b):
    return bytes(x ^ y for x, y in zip(a, b))


def escape(s):
    return s.replace("=", "=3D").replace(",", "=2C")


class SpecScram(object):
    """The client side of the specification's wamp-scram."""

    name = "wamp-scram"

    def __init__(self, authid, password):
        self._args = {"authid": authid}
        self._password = password.encode("utf8")
        self._nonce = base64.b64encode(os.urandom(16)).decode("ascii")
        self._salted = None
        self._auth_message = None

    @property
    def authextra(self):
        return {"nonce": self._nonce, "channel_binding": None}

    def on_challenge(self, session, challenge):
        if challenge.method != self.name:
            raise RuntimeError("CHALLENGE for method %r" % challenge.method)
        extra = challenge.extra
        nonce = extra["nonce"]
        if not nonce.startswith(self._nonce) or nonce == self._nonce:
            raise RuntimeError("CHALLENGE nonce does not extend the client's")
        salt = base64.b64decode(extra["salt"])
        iterations = int(extra["iterations"])
        if extra["kdf"] == "argon2id13":
            import nacl.pwhash.argon2id

            self._salted = nacl.pwhash.argon2id.kdf(
                32, self._password, salt, opslimit=iterations, memlimit=int(extra["memory"]) * 1024
            )
        elif extra["kdf"] == "pbkdf2":
            self._salted = hashlib.pbkdf2_hmac("sha256", self._password, salt, iterations, 32)
        else:
            raise RuntimeError("unknown kdf %r" % extra["kdf"])
        cbind = base64.b64encode(b"n,,").decode("ascii")
        self._auth_message = (
            "n=%s,r=%s,r=%s,s=%s,i=%d,c=%s,r=%s"
            % (escape(self._args["authid"]), self._nonce, nonce, extra["salt"], iterations, cbind, nonce)
        ).encode("ascii")
        client_key = hmac.new(self._salted, b"Client Key", hashlib.sha256).digest()
        stored_key = hashlib.sha256(client_key).digest()
        signature = hmac.new(stored_key, self._auth_message, hashlib.sha256).digest()
        return base64.b64encode(xor(client_key, signature)).decode("ascii")

    def on_welcome(self, session, authextra):
        server_key = hmac.new(self._salted, b"Server Key", hashlib.sha256).digest()
        want = base64.b64encode(hmac.new(server_key, self._auth_message, hashlib.sha256).digest()).decode("ascii")
        if (authextra or {}).get("verifier") != "v=" + want:
            return "wrong WAMP-SCRAM verifier in WELCOME"
        return None


IAuthenticator.register(SpecScram)


class Client(Session):
    joined = False
    failure = None

    def on_join(self, details):
        Client.joined = True
        print(
            "joined authid=%s authrole=%s authmethod=%s authprovider=%s"
            % (details.authid, details.authrole, details.authmethod, details.authprovider),
            flush=True,
        )
        self.leave()

    def on_leave(self, details):
        if not Client.joined:
            Client.failure = details
            print("refused reason=%s message=%s" % (details.reason, details.message), flush=True)
        self.disconnect()

    def on_disconnect(self):
        # ApplicationRunner runs its loop until stopped.
        asyncio.get_event_loop().stop()


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--url", required=True)
    p.add_argument("--realm", required=True)
    p.add_argument("--authid", required=True)
    p.add_argument("--client", choices=["autobahn", "spec"], required=True)
    args = p.parse_args()
    # The password comes on stdin, as `switchboard secret scram` takes it.
    password = sys.stdin.readline().rstrip("\r\n")

    def make(config):
        s = Client(config)
        if args.client == "autobahn":
            from autobahn.wamp.auth import AuthScram

            s.add_authenticator(AuthScram(authid=args.authid, password=password))
        else:
            s.add_authenticator(SpecScram(args.authid, password))
        return s

    ApplicationRunner(args.url, args.realm).run(make)
    if not Client.joined and Client.failure is None:
        print("neither joined nor refused", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
