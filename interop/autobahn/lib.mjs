// Shared helpers for the AutobahnJS interop tests.
//
// The tests talk to a router that is already running; interop/autobahn_test.go
// starts one and sets:
//
//   SWITCHBOARD_URL          router URL (required): WebSocket, e.g. ws://127.0.0.1:8080/ws,
//                            or RawSocket over TCP, e.g. tcp://127.0.0.1:8081 (AutobahnJS
//                            speaks only JSON over RawSocket)
//   SWITCHBOARD_REALM        realm to join (default realm1)
//   SWITCHBOARD_SERIALIZER   serializer for basic.test.mjs: json, msgpack or cbor (default json)
//   SWITCHBOARD_SERIALIZERS  comma-separated serializers for cross.test.mjs (default json,msgpack,cbor)
//   SWITCHBOARD_INTEROP_VERBOSE  if non-empty, print AutobahnJS's own warnings
//
// No check here depends on timing: ordering is established with acknowledged
// publications and the WAMP ordering guarantees, and every wait is raced
// against the connection closing so that a dropped session fails fast
// instead of hanging until the test timeout.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import autobahn from 'autobahn';

export { autobahn };

export const ROUTER_URL = process.env.SWITCHBOARD_URL;
export const REALM = process.env.SWITCHBOARD_REALM || 'realm1';
export const SERIALIZER = process.env.SWITCHBOARD_SERIALIZER || 'json';
export const SERIALIZERS = (process.env.SWITCHBOARD_SERIALIZERS || 'json,msgpack,cbor')
  .split(',')
  .map((s) => s.trim())
  .filter(Boolean);

if (!ROUTER_URL) {
  throw new Error('SWITCHBOARD_URL is not set (want e.g. ws://127.0.0.1:8080/ws or tcp://127.0.0.1:8081)');
}

// transportOptions returns AutobahnJS's transports option for ROUTER_URL.
function transportOptions(serializer) {
  const u = new URL(ROUTER_URL);
  if (u.protocol === 'ws:' || u.protocol === 'wss:') {
    return [{ type: 'websocket', url: ROUTER_URL, serializers: [makeSerializer(serializer)] }];
  }
  assert.equal(u.protocol, 'tcp:', `SWITCHBOARD_URL ${ROUTER_URL}: want a ws://, wss:// or tcp:// URL`);
  assert.equal(serializer, 'json', 'AutobahnJS supports only JSON over RawSocket');
  return [{ type: 'rawsocket', host: u.hostname, port: Number(u.port) }];
}

// AutobahnJS logs every connection close with console.warn; keep the test
// output readable unless asked otherwise.
if (!process.env.SWITCHBOARD_INTEROP_VERBOSE) {
  autobahn.log.warn = () => {};
}

// Largest integer a WAMP ID may take (IDs are drawn from [1, 2^53]).
export const MAX_ID = 2 ** 53;

// Options for every node:test test: a timeout that only guards against
// hangs; no assertion depends on it.
export const TEST = { timeout: 60_000 };

const serializerClasses = {
  json: 'JSONSerializer',
  msgpack: 'MsgpackSerializer', // needs the msgpack5 package
  cbor: 'CBORSerializer', // needs the cbor package
};

// makeSerializer returns an AutobahnJS serializer instance for name, failing
// loudly if AutobahnJS could not load the codec package it needs.
export function makeSerializer(name) {
  const cls = serializerClasses[name];
  assert.ok(cls, `unknown serializer ${JSON.stringify(name)}; want one of ${Object.keys(serializerClasses).join(', ')}`);
  const Ctor = autobahn.serializer[cls];
  assert.ok(Ctor, `AutobahnJS has no ${cls}: is its codec package installed (npm ci)?`);
  return new Ctor();
}

// uri returns a URI that no other test (or concurrent run) uses.
export function uri(kind) {
  return `com.example.interop.${kind}.${randomBytes(6).toString('hex')}`;
}

export function assertWampID(id, what) {
  assert.ok(Number.isInteger(id), `${what} must be an integer, got ${typeof id} ${String(id)}`);
  assert.ok(id >= 1 && id <= MAX_ID, `${what} must be in [1, 2^53], got ${id}`);
}

// Peer is one AutobahnJS connection with its joined session.
export class Peer {
  constructor(serializer, conn, session, welcome) {
    this.serializer = serializer;
    this.conn = conn; // this connection's entry in live
    this.connection = conn.connection;
    this.session = session;
    this.welcome = welcome;
    this.closed = conn.closed; // Promise<{reason, details}>, resolves when the connection closes
    this.userErrors = conn.userErrors;
    this.internalErrors = conn.internalErrors;
  }

  // guard waits for p, but rejects if the connection closes first.
  guard(p, what = 'operation') {
    const lost = this.closed.then(({ reason, details }) => {
      throw new Error(
        `${this.serializer} connection closed while waiting for ${what}: ${reason} ` +
          `${JSON.stringify(details)}; internal errors: ${this.internalErrors.map(String).join('; ') || 'none'}`,
      );
    });
    return Promise.race([p, lost]);
  }

  // subscribe subscribes to topic and returns an EventQueue collecting its events.
  async subscribe(topic, options) {
    const q = new EventQueue(this, topic);
    q.subscription = await this.guard(
      this.session.subscribe(topic, (args, kwargs, details) => q.push({ args, kwargs, details }), options),
      `SUBSCRIBED ${topic}`,
    );
    assertWampID(q.subscription.id, 'subscription id');
    return q;
  }

  // publish publishes with acknowledge:true and returns the Publication.
  async publish(topic, args, kwargs, options = {}) {
    const pub = await this.guard(
      this.session.publish(topic, args, kwargs, { ...options, acknowledge: true }),
      `PUBLISHED ${topic}`,
    );
    assert.ok(pub, 'publish with acknowledge:true must resolve with a publication');
    assertWampID(pub.id, 'publication id');
    return pub;
  }

  register(procedure, endpoint, options) {
    return this.guard(this.session.register(procedure, endpoint, options), `REGISTERED ${procedure}`);
  }

  call(procedure, args, kwargs, options) {
    return this.guard(this.session.call(procedure, args, kwargs, options), `RESULT of ${procedure}`);
  }

  // close leaves the realm with GOODBYE and asserts that the session ended
  // cleanly: the router answered GOODBYE and closed the WebSocket normally.
  //
  // AutobahnJS reports "closed" only if the close code it gets back is 1000;
  // otherwise "lost". After the GOODBYE reply it closes the WebSocket with an
  // empty Close frame, which RFC 6455 lets a router echo empty (code 1005),
  // so the router must answer it with 1000 (switchboard does: transport
  // read.go), or the outcome depends on whose Close frame crosses the wire
  // first. nexus echoes it empty and so fails this intermittently.
  async close() {
    assert.ok(!this.conn.closing, 'close called twice');
    this.conn.closing = true;
    this.connection.close();
    const { reason, details } = await this.closed;
    assert.equal(
      reason,
      'closed',
      `connection must close cleanly after GOODBYE ("closed", WebSocket close code 1000), ` +
        `got ${JSON.stringify(reason)} ${JSON.stringify(details)}`,
    );
    // The router replies to our GOODBYE with its own GOODBYE, whose reason
    // AutobahnJS reports here (WAMP spec: wamp.close.goodbye_and_out).
    assert.equal(
      details.reason,
      'wamp.close.goodbye_and_out',
      `GOODBYE reply reason (null: no GOODBYE reply arrived before the WebSocket closed); close details ${JSON.stringify(details)}`,
    );
    assert.deepEqual(this.internalErrors.map(String), [], 'AutobahnJS internal errors');
  }
}

// EventQueue collects the events of one subscription in arrival order.
export class EventQueue {
  constructor(peer, topic) {
    this.peer = peer;
    this.topic = topic;
    this.events = [];
    this.subscription = null;
    this.waiters = [];
    this.taken = 0;
  }

  push(ev) {
    this.events.push(ev);
    while (this.waiters.length > 0 && this.taken < this.events.length) {
      this.waiters.shift()(this.events[this.taken++]);
    }
  }

  // next resolves with the next event not yet returned by next.
  next() {
    if (this.taken < this.events.length) {
      return Promise.resolve(this.events[this.taken++]);
    }
    return this.peer.guard(new Promise((resolve) => this.waiters.push(resolve)), `EVENT on ${this.topic}`);
  }
}

// Connections not yet closed, joined or not, so that a failing test does
// not leave connections (and thus the node process) running.
const live = new Set();

// abandonAll closes every connection still open, asserting nothing; call it
// from afterEach.
export async function abandonAll() {
  const conns = [...live];
  live.clear();
  await Promise.all(
    conns.map(async (c) => {
      if (!c.closing) {
        c.closing = true;
        try {
          c.connection.close();
        } catch {
          // already closed
        }
      }
      await c.closed;
    }),
  );
}

// connect opens a connection with one serializer, joins realm and resolves
// with a Peer. If the router refuses the session, it rejects with an Error
// carrying closeReason and closeDetails from Connection.onclose. auth holds
// AutobahnJS's authentication options (authmethods, authid, authextra,
// onchallenge); without them the session is anonymous.
export function connect({ serializer = SERIALIZER, realm = REALM, auth = {} } = {}) {
  return new Promise((resolve, reject) => {
    let peer = null;
    const userErrors = [];
    const internalErrors = [];
    let resolveClosed;
    const closed = new Promise((r) => {
      resolveClosed = r;
    });
    const connection = new autobahn.Connection({
      transports: transportOptions(serializer),
      realm,
      use_es6_promises: true,
      max_retries: 0,
      retry_if_unreachable: false,
      on_user_error: (err, msg) => userErrors.push(err),
      on_internal_error: (err, msg) => internalErrors.push(msg ? `${msg} ${err}` : err),
      ...auth,
    });
    const conn = { connection, closed, closing: false, userErrors, internalErrors };
    live.add(conn);
    closed.then(() => live.delete(conn));
    // The WebSocket close code and reason, for failure messages; AutobahnJS
    // does not pass them on to Connection.onclose.
    let wsClose = null;
    connection.onopen = (session, details) => {
      const transport = connection._transport;
      if (transport && typeof transport.onclose === 'function') {
        const onclose = transport.onclose;
        transport.onclose = (evt) => {
          wsClose = { code: evt.code, reason: String(evt.reason ?? '') };
          onclose(evt);
        };
      }
      peer = new Peer(serializer, conn, session, details);
      resolve(peer);
    };
    connection.onclose = (reason, details) => {
      resolveClosed({ reason, details: wsClose ? { ...details, websocket: wsClose } : details });
      if (!peer) {
        const err = new Error(
          `${serializer} connection to ${ROUTER_URL} realm ${realm} closed before joining: ${reason} ${JSON.stringify(details)}` +
            (internalErrors.length ? `; internal errors: ${internalErrors.join('; ')}` : ''),
        );
        err.closeReason = reason;
        err.closeDetails = details;
        reject(err);
      }
      return true; // never reconnect
    };
    connection.open();
  });
}

// binary returns bytes as the given serializer's peer sees binary data: a
// Buffer for msgpack and cbor, and for JSON the WAMP convention of a string
// holding a NUL character followed by the Base64 of the bytes.
export function binary(serializer, bytes) {
  const buf = Buffer.from(bytes);
  return serializer === 'json' ? '\u0000' + buf.toString('base64') : buf;
}

// normalize maps values that decoders may legitimately represent differently
// onto one form, so deepEqual compares the values, not the decoders' choices:
// typed arrays become Buffers, and BigInts that a Number represents exactly
// (the cbor package decodes 2^53 as 9007199254740992n) become Numbers.
export function normalize(v) {
  if (typeof v === 'bigint') {
    const n = Number(v);
    return BigInt(n) === v ? n : v;
  }
  if (ArrayBuffer.isView(v)) {
    return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  }
  if (Array.isArray(v)) {
    return v.map(normalize);
  }
  if (v !== null && typeof v === 'object') {
    // The cbor package decodes maps to plain objects; copy to drop prototypes.
    const out = {};
    for (const [k, x] of Object.entries(v)) out[k] = normalize(x);
    return out;
  }
  return v;
}

export function assertSameValue(actual, expected, message) {
  assert.deepStrictEqual(normalize(actual), normalize(expected), message);
}
