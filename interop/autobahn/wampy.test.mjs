// wampy.js 8 (npm wampy) over WebSocket, with the serializer named by
// SWITCHBOARD_SERIALIZER, through its plain API the way its README shows it.
// See lib.mjs for the environment; interop/wampy_test.go runs this file.
//
//   SWITCHBOARD_URL=ws://127.0.0.1:8080/ws SWITCHBOARD_SERIALIZER=msgpack node --test wampy.test.mjs
//
// wampy sends JavaScript undefined for options the caller left out: its
// subscribe(topic, handler) sends SUBSCRIBE.Options {match: undefined,
// get_retained: undefined}. JSON.stringify drops such keys; msgpackr encodes
// undefined as the extension fixext 1, type 0, data 0 (d4 00 00) and cbor-x
// as CBOR undefined (0xf7). The router must take both for absent options.
// Inside payloads the router passes them through to peers of the same
// serializer and turns them into null for the others.

import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { afterEach, describe, it } from 'node:test';
import { Wampy } from 'wampy';
import { CborSerializer } from 'wampy/CborSerializer.js';
import { JsonSerializer } from 'wampy/JsonSerializer.js';
import { MsgpackSerializer } from 'wampy/MsgpackSerializer.js';
import { REALM, ROUTER_URL, SERIALIZER, TEST, assertWampID, uri } from './lib.mjs';

// wampy needs a WebSocket class under Node.js; use the ws it depends on
// (8.x), which is what `npm install wampy ws` gives a user, not the ws 7
// that AutobahnJS is locked to here.
const WebSocket = createRequire(createRequire(import.meta.url).resolve('wampy'))('ws');

const serializers = {
  json: () => new JsonSerializer(),
  msgpack: () => new MsgpackSerializer(),
  cbor: () => new CborSerializer(),
};

function explain(err) {
  return `${err.name}: ${err.message} ${err.errorUri ?? ''} ${JSON.stringify(err.details ?? {})}`;
}

// Peer is one wampy client with the errors it reported and a promise that
// resolves when its WebSocket closes.
class Peer {
  constructor(serializer) {
    const make = serializers[serializer];
    assert.ok(make, `unknown serializer ${JSON.stringify(serializer)}; want one of ${Object.keys(serializers).join(', ')}`);
    this.serializer = serializer;
    this.errors = [];
    this.closed = new Promise((resolve) => {
      this.wampy = new Wampy(ROUTER_URL, {
        realm: REALM,
        ws: WebSocket,
        serializer: make(),
        autoReconnect: false,
        onClose: () => resolve(),
        onError: (err) => this.errors.push(err),
      });
    });
  }

  // guard waits for p, but rejects if the connection closes first, naming
  // what the router said (an ABORT's reason arrives through onError).
  guard(p, what) {
    const lost = this.closed.then(() => {
      throw new Error(`${this.serializer} connection closed while waiting for ${what}; errors: ${this.describeErrors()}`);
    });
    return Promise.race([p, lost]).catch((err) => {
      // wampy's errors for WAMP ERROR and ABORT say only "Wamp error".
      if (err.errorUri) err.message += `: ${explain(err)}`;
      if (this.errors.length > 0 && !err.message.includes('errors:')) {
        err.message += `; errors: ${this.describeErrors()}`;
      }
      throw err;
    });
  }

  describeErrors() {
    return this.errors.map(explain).join('; ') || 'none';
  }

  // close says GOODBYE and waits for the connection to close; it asserts
  // that wampy saw no error on the way.
  async close() {
    await this.wampy.disconnect();
    await this.closed;
    assert.equal(this.describeErrors(), 'none', `${this.serializer} client errors`);
  }
}

// id maps a WAMP ID as wampy hands it out to a Number: msgpackr decodes
// integers the router sends as uint64 (those of 2^32 and more) to BigInts.
function id(v) {
  if (typeof v === 'bigint') {
    assert.ok(v <= BigInt(Number.MAX_SAFE_INTEGER) + 1n, `ID ${v} beyond 2^53`);
    return Number(v);
  }
  return v;
}

const live = new Set();

async function connect(serializer = SERIALIZER) {
  const p = new Peer(serializer);
  live.add(p);
  p.closed.then(() => live.delete(p));
  const welcome = await p.guard(p.wampy.connect(), 'WELCOME');
  assertWampID(id(p.wampy.getSessionId()), 'session id');
  assert.ok(welcome.roles?.broker && welcome.roles?.dealer, `WELCOME roles ${JSON.stringify(welcome.roles)}`);
  return p;
}

// abandonAll closes what a failed test left open.
async function abandonAll() {
  const peers = [...live];
  live.clear();
  await Promise.all(
    peers.map(async (p) => {
      try {
        p.wampy.abort();
      } catch {
        // never connected or already closed
      }
      await Promise.race([p.closed, new Promise((r) => setTimeout(r, 5000).unref())]);
    }),
  );
}

// Events collects the events of one subscription in arrival order.
class Events {
  constructor(peer, topic) {
    this.peer = peer;
    this.topic = topic;
    this.got = [];
    this.waiters = [];
  }

  handler() {
    return (ev) => {
      this.got.push(ev);
      while (this.waiters.length > 0 && this.got.length > 0) this.waiters.shift()(this.got.shift());
    };
  }

  next() {
    if (this.got.length > 0) return Promise.resolve(this.got.shift());
    return this.peer.guard(new Promise((r) => this.waiters.push(r)), `EVENT on ${this.topic}`);
  }
}

// subscribe subscribes the way wampy's README does, with advanced options
// only if given, and returns the queue of events.
async function subscribe(peer, topic, options) {
  const q = new Events(peer, topic);
  const args = options === undefined ? [topic, q.handler()] : [topic, q.handler(), options];
  const sub = await peer.guard(peer.wampy.subscribe(...args), `SUBSCRIBED ${topic}`);
  assertWampID(id(sub.subscriptionId), 'subscription id');
  return q;
}

// Payload values every serializer carries the same way.
const ARGS = [0, 1, -2, 2 ** 31, 1.5, 'héllo ✓ 😀', '', true, false, null, [1, ['two']], { k: 'v' }];
const KWARGS = { int: 42, str: 'ünï', nested: { list: [1, 'a', null], f: 0.5 }, empty: {} };

describe(`wampy 8, serializer ${SERIALIZER}`, () => {
  afterEach(abandonAll);

  it('subscribes with the plain API and gets what another client publishes', TEST, async () => {
    const sub = await connect();
    const pub = await connect();
    const topic = uri('wampy.topic');
    const events = await subscribe(sub, topic);

    // wampy publishes with acknowledge: true and resolves on PUBLISHED.
    const ack = await pub.guard(pub.wampy.publish(topic, 'hello'), `PUBLISHED ${topic}`);
    assertWampID(id(ack.publicationId), 'publication id');
    let ev = await events.next();
    assert.deepEqual(ev.argsList, ['hello']);
    assert.equal(ev.argsDict, undefined);

    await pub.guard(pub.wampy.publish(topic, { argsList: ARGS, argsDict: KWARGS }), `PUBLISHED ${topic}`);
    ev = await events.next();
    assert.deepEqual(ev.argsList, ARGS);
    assert.deepEqual(ev.argsDict, KWARGS);

    // A plain object is the kwargs.
    await pub.guard(pub.wampy.publish(topic, { only: 'kwargs' }), `PUBLISHED ${topic}`);
    ev = await events.next();
    assert.deepEqual(ev.argsList, []);
    assert.deepEqual(ev.argsDict, { only: 'kwargs' });

    // Options given next to ones left undefined are honoured.
    const prefix = uri('wampy.prefix');
    const byPrefix = await subscribe(sub, prefix, { match: 'prefix' });
    await pub.guard(pub.wampy.publish(`${prefix}.leaf`, [7]), `PUBLISHED ${prefix}.leaf`);
    ev = await byPrefix.next();
    assert.deepEqual(ev.argsList, [7]);
    assert.equal(ev.details.topic, `${prefix}.leaf`, 'a prefix subscription is told the topic');

    await pub.close();
    await sub.close();
  });

  it('registers a procedure and calls it with the plain API', TEST, async () => {
    const callee = await connect();
    const caller = await connect();
    const proc = uri('wampy.proc');
    const reg = await callee.guard(
      callee.wampy.register(proc, ({ argsList = [], argsDict = {} }) => ({
        argsList: [argsList.reduce((a, b) => a + b, 0)],
        argsDict: { echo: argsDict },
      })),
      `REGISTERED ${proc}`,
    );
    assertWampID(id(reg.registrationId), 'registration id');

    let res = await caller.guard(caller.wampy.call(proc, [1, 2, 39]), `RESULT of ${proc}`);
    assert.deepEqual(res.argsList, [42]);
    assert.deepEqual(res.argsDict, { echo: {} });

    res = await caller.guard(caller.wampy.call(proc, { argsList: [1], argsDict: KWARGS }), `RESULT of ${proc}`);
    assert.deepEqual(res.argsList, [1]);
    assert.deepEqual(res.argsDict, { echo: KWARGS });

    // A procedure nobody registered is an error, not a lost session.
    await assert.rejects(caller.guard(caller.wampy.call(uri('wampy.none')), 'ERROR'), (err) => {
      assert.equal(err.errorUri, 'wamp.error.no_such_procedure', `${err}`);
      return true;
    });

    await caller.close();
    await callee.close();
  });

  it('reaches a JSON client, undefined payload values turning into null', TEST, async () => {
    const a = await connect();
    const j = await connect('json');
    const topic = uri('wampy.cross');
    const atA = await subscribe(a, topic);
    const atJ = await subscribe(j, topic);

    // undefined inside a payload: msgpackr and cbor-x put it on the wire, the
    // JSON serializer writes null (in a list) or drops the key (in an object).
    const sent = { argsList: [1, undefined, 'x'], argsDict: { u: undefined, n: null, ok: true } };
    const pub = await connect();
    await pub.guard(pub.wampy.publish(topic, sent), `PUBLISHED ${topic}`);
    const same = await atA.next();
    const json = await atJ.next();
    if (SERIALIZER === 'json') {
      assert.deepEqual(same.argsList, [1, null, 'x']);
      assert.deepEqual(same.argsDict, { n: null, ok: true });
    } else {
      // Passed through untouched to a peer of the same serializer.
      assert.deepEqual(same.argsList, [1, undefined, 'x']);
      assert.deepEqual(same.argsDict, { u: undefined, n: null, ok: true });
    }
    if (SERIALIZER === 'json') {
      assert.deepEqual(json.argsDict, { n: null, ok: true });
    } else {
      assert.deepEqual(json.argsDict, { u: null, n: null, ok: true });
    }
    assert.deepEqual(json.argsList, [1, null, 'x']);

    // And back: a JSON call answered by a callee on this serializer.
    const proc = uri('wampy.cross.proc');
    await a.guard(
      a.wampy.register(proc, ({ argsList }) => ({ argsList: [...argsList, SERIALIZER] })),
      `REGISTERED ${proc}`,
    );
    const res = await j.guard(j.wampy.call(proc, ['from json']), `RESULT of ${proc}`);
    assert.deepEqual(res.argsList, ['from json', SERIALIZER]);

    await pub.close();
    await j.close();
    await a.close();
  });
});
