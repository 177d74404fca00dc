"""Publish and call through Switchboard's HTTP bridge, signed.

Standard library only (urllib, hmac): no WAMP client, no event loop, so it
works from any Django view, Celery task or cron job. The request format and
the signature are those of Crossbar.io's HTTP bridge:

    signature = urlsafe_b64encode(HMAC-SHA256(secret, key + timestamp + seq + nonce + body))

sent with key, timestamp, seq and nonce in the query string.

Configuration comes from the environment:

    SWITCHBOARD_URL     http://127.0.0.1:8080 (the router's HTTP listener)
    SWITCHBOARD_KEY     the key's name, as in the router's bridge.keys
    SWITCHBOARD_SECRET  its secret
"""

import base64
import datetime
import hashlib
import hmac
import itertools
import json
import os
import secrets
import threading
import urllib.error
import urllib.parse
import urllib.request

_seq = itertools.count(1)
_seq_lock = threading.Lock()


class BridgeError(Exception):
    """The router refused the request, or the callee answered an error."""

    def __init__(self, status, error, message="", args=None, kwargs=None):
        super().__init__("%s (HTTP %d): %s" % (error, status, message))
        self.status = status
        self.error = error
        self.message = message
        self.args_ = args or []
        self.kwargs = kwargs or {}


def _config():
    return (
        os.environ.get("SWITCHBOARD_URL", "http://127.0.0.1:8080").rstrip("/"),
        os.environ.get("SWITCHBOARD_KEY", ""),
        os.environ.get("SWITCHBOARD_SECRET", ""),
    )


def _signed_query(key, secret, body):
    now = datetime.datetime.now(datetime.timezone.utc)
    timestamp = now.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    with _seq_lock:
        seq = str(next(_seq))
    nonce = str(secrets.randbits(53))
    mac = hmac.new(secret.encode("utf-8"), digestmod=hashlib.sha256)
    for part in (key, timestamp, seq, nonce):
        mac.update(part.encode("utf-8"))
    mac.update(body)
    signature = base64.urlsafe_b64encode(mac.digest()).decode("ascii")
    return urllib.parse.urlencode(
        {"key": key, "timestamp": timestamp, "seq": seq, "nonce": nonce, "signature": signature}
    )


def _post(path, payload, timeout):
    base, key, secret = _config()
    body = json.dumps(payload).encode("utf-8")
    url = base + path
    if key:
        url += "?" + _signed_query(key, secret, body)
    req = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return json.load(resp)
    except urllib.error.HTTPError as e:
        try:
            err = json.load(e)
        except ValueError:
            err = {"error": "http.%d" % e.code, "message": e.reason}
        raise BridgeError(
            e.code, err.get("error", ""), err.get("message", ""), err.get("args"), err.get("kwargs")
        ) from None


def publish(topic, args=None, kwargs=None, options=None, timeout=10):
    """Publish an event; returns the publication id."""
    payload = {"topic": topic}
    if args is not None:
        payload["args"] = list(args)
    if kwargs is not None:
        payload["kwargs"] = kwargs
    if options is not None:
        payload["options"] = options
    return _post("/publish", payload, timeout)["id"]


def call(procedure, args=None, kwargs=None, timeout_ms=None, timeout=30):
    """Call a procedure; returns (args, kwargs) of its result."""
    payload = {"procedure": procedure}
    if args is not None:
        payload["args"] = list(args)
    if kwargs is not None:
        payload["kwargs"] = kwargs
    if timeout_ms is not None:
        payload["options"] = {"timeout": timeout_ms}
    res = _post("/call", payload, timeout)
    return res.get("args", []), res.get("kwargs", {})
