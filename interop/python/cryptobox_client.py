#!/usr/bin/env python3
"""End-to-end encryption through the router with Autobahn|Python's
WAMP-cryptobox (payload transparency: enc_algo "cryptobox", the payload
one binary in place of Arguments), for interop/passthru_test.go.

Two sessions share a keyring; the router has no key. Session B subscribes
to com.secret.topic and registers com.secret.echo; session A publishes an
encrypted event and calls the procedure with encrypted arguments, and B's
encrypted result comes back. A third session C, without a keyring,
subscribes too (with a payload codec that only looks) and must get the
event still encrypted: enc_algo in the details and bytes that are not
the plaintext.

  --serializer  json | msgpack (for each session: a, b, c in order,
                comma separated, or one for all)

It prints "ok" and a line per check and exits 0, or exits non-zero.
"""

import argparse
import asyncio
import sys

import txaio

txaio.use_asyncio()

from autobahn.asyncio.wamp import ApplicationRunner, ApplicationSession  # noqa: E402
from autobahn.wamp import cryptobox  # noqa: E402
from autobahn.wamp.interfaces import IPayloadCodec  # noqa: E402
from autobahn.wamp.serializer import JsonSerializer, MsgPackSerializer  # noqa: E402
from autobahn.wamp.types import PublishOptions, SubscribeOptions  # noqa: E402

SECRET = "attack at dawn \u2603"


def serializer(name):
    return {"json": JsonSerializer, "msgpack": MsgPackSerializer}[name]()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--realm", default="realm1")
    ap.add_argument("--serializer", default="json")
    args = ap.parse_args()
    sers = args.serializer.split(",")
    if len(sers) == 1:
        sers = sers * 3

    if not cryptobox.HAS_CRYPTOBOX:
        print("no cryptobox: Autobahn lacks PyNaCl (python3-nacl) or pytrie")
        sys.exit(3)

    keyring = cryptobox.KeyRing()
    a_priv, _ = keyring.generate_key()
    b_priv, _ = keyring.generate_key()
    keyring.set_key("com.secret.", cryptobox.Key(originator_priv=a_priv, responder_priv=b_priv))

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    ready = {"b": loop.create_future(), "c": loop.create_future()}
    got = {"b": loop.create_future(), "c": loop.create_future()}
    finished = loop.create_future()

    class B(ApplicationSession):
        async def onJoin(self, details):
            self.set_payload_codec(keyring)

            def on_event(text, details=None):
                if not got["b"].done():
                    got["b"].set_result((text, details.enc_algo))

            await self.subscribe(on_event, "com.secret.topic", options=SubscribeOptions(details_arg="details"))

            def echo(text, n=0):
                return "echo: %s (%d)" % (text, n)

            await self.register(echo, "com.secret.echo")
            ready["b"].set_result(True)

    class Spy(object):
        """A payload codec without a key: it sees what the router
        delivered (Autobahn drops an encrypted payload it has no codec
        for) and decodes nothing."""

        def encode(self, is_originating, uri, args=None, kwargs=None):
            return None

        def decode(self, is_originating, uri, encoded_payload):
            if not got["c"].done():
                got["c"].set_result((bytes(encoded_payload.payload), encoded_payload.enc_algo))
            return uri, [], {}

    IPayloadCodec.register(Spy)

    class C(ApplicationSession):
        async def onJoin(self, details):
            self.set_payload_codec(Spy())
            await self.subscribe(lambda *a, **kw: None, "com.secret.topic")
            ready["c"].set_result(True)

    class A(ApplicationSession):
        async def onJoin(self, details):
            try:
                self.set_payload_codec(keyring)
                await ready["b"]
                await ready["c"]
                await self.publish("com.secret.topic", SECRET, options=PublishOptions(acknowledge=True))
                text, algo = await asyncio.wait_for(got["b"], 10)
                if text != SECRET or algo != "cryptobox":
                    raise Exception("subscriber got %r (enc_algo %r), want the plaintext via cryptobox" % (text, algo))
                print("event decrypted by the subscriber: enc_algo=%s" % algo)
                cbytes, calgo = await asyncio.wait_for(got["c"], 10)
                if calgo != "cryptobox" or SECRET.encode("utf8") in cbytes or len(cbytes) < len(SECRET):
                    raise Exception("keyless subscriber got %r (enc_algo %r), want it still encrypted" % (cbytes, calgo))
                print("event still encrypted for a subscriber without the key: enc_algo=%s" % calgo)
                res = await asyncio.wait_for(self.call("com.secret.echo", SECRET, n=7), 10)
                if res != "echo: %s (7)" % SECRET:
                    raise Exception("call returned %r" % (res,))
                print("call and result decrypted end to end")
                finished.set_result(True)
            except Exception as e:  # noqa: BLE001
                finished.set_exception(e)

    for make, ser in ((B, sers[1]), (C, sers[2]), (A, sers[0])):
        runner = ApplicationRunner(args.url, args.realm, serializers=[serializer(ser)])
        loop.run_until_complete(runner.run(make, start_loop=False))
    try:
        loop.run_until_complete(asyncio.wait_for(finished, 30))
    except Exception as e:  # noqa: BLE001
        print("failed: %s" % e)
        sys.exit(1)
    print("ok")
    sys.exit(0)


if __name__ == "__main__":
    main()
