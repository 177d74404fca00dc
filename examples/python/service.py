#!/usr/bin/env python3
"""A backend for the Switchboard demo (web/), on Autobahn|Python.

It joins realm1, registers com.switchboard.demo.add2 (which the demo page
calls) and publishes a counter on com.switchboard.demo.counter once a
second, retained, so that a page that opens later sees the last value at
once. It reconnects when the router restarts.

    go run ./cmd/switchboard            # the router, serving the demo
    /usr/bin/python3 examples/python/service.py
    # then open http://127.0.0.1:8080/

Needs Autobahn|Python (Debian: apt install python3-autobahn; elsewhere:
pip install autobahn). Nothing else.
"""

import argparse
import asyncio
import os
import signal

import txaio
from autobahn.asyncio.component import Component
from autobahn.wamp.types import PublishOptions

ADD2 = "com.switchboard.demo.add2"
COUNTER = "com.switchboard.demo.counter"


def add2(a, b):
    """The procedure the demo calls: a + b."""
    return a + b


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--url", default=os.environ.get("SWITCHBOARD_URL", "ws://127.0.0.1:8080/ws"),
                   help="the router's WebSocket endpoint (default: %(default)s)")
    p.add_argument("--realm", default=os.environ.get("SWITCHBOARD_REALM", "realm1"))
    p.add_argument("--interval", type=float, default=1.0,
                   help="seconds between counter events (default: %(default)s)")
    args = p.parse_args()

    component = Component(
        transports=[{
            "url": args.url,
            # JSON: Debian's python3-autobahn brings no CBOR library, and
            # the router speaks every serializer anyway.
            "serializers": ["json"],
            # Retry forever, at most every 5 seconds, while the router is away.
            "max_retries": -1,
            "max_retry_delay": 5,
        }],
        realm=args.realm,
    )
    count = 0

    ticker = None

    async def tick(session):
        nonlocal count
        while session.is_attached():
            count += 1
            # Positional arguments after the topic: the event's args are [count].
            session.publish(COUNTER, count, options=PublishOptions(retain=True))
            await asyncio.sleep(args.interval)

    def ticked(task):
        if not task.cancelled() and task.exception() is not None:
            print(f"counter stopped: {task.exception()!r}", flush=True)

    @component.on_join
    async def joined(session, details):
        nonlocal ticker
        await session.register(add2, ADD2)
        # Held in ticker: the event loop keeps only a weak reference to
        # a task.
        ticker = asyncio.ensure_future(tick(session))
        ticker.add_done_callback(ticked)
        # Tests wait for this line before they start.
        print(f"ready: session {details.session} registered {ADD2}", flush=True)

    asyncio.run(serve(component))


async def serve(component):
    """Runs the component until it ends or SIGINT/SIGTERM, then leaves.

    (autobahn.asyncio.component.run would do this, but in Autobahn 22.7 it
    uses asyncio.coroutine, which Python 3.11 no longer has.)
    """
    loop = asyncio.get_running_loop()
    txaio.use_asyncio()
    txaio.config.loop = loop
    txaio.start_logging(level="warn")
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    done = asyncio.ensure_future(component.start(loop))
    stopped = asyncio.ensure_future(stop.wait())
    await asyncio.wait([done, stopped], return_when=asyncio.FIRST_COMPLETED)
    if stop.is_set():
        await asyncio.wait_for(asyncio.ensure_future(component.stop()), 5)
    else:
        stopped.cancel()
    await done

if __name__ == "__main__":
    main()
