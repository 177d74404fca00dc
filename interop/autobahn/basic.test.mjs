// WAMP basic profile checks with AutobahnJS over WebSocket, all peers using
// the serializer named by SWITCHBOARD_SERIALIZER. See lib.mjs for the
// environment.
//
//   SWITCHBOARD_URL=ws://127.0.0.1:8080/ws SWITCHBOARD_SERIALIZER=msgpack node --test basic.test.mjs

import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import {
  SERIALIZER,
  TEST,
  abandonAll,
  assertSameValue,
  assertWampID,
  autobahn,
  binary,
  connect,
  uri,
} from './lib.mjs';

// A payload exercising every JSON-compatible type, including integers past
// 32 bits and non-ASCII text.
const ARGS = [
  0,
  1,
  -2,
  2 ** 31,
  2 ** 32 + 1,
  Number.MAX_SAFE_INTEGER,
  -Number.MAX_SAFE_INTEGER,
  1.5,
  -0.25,
  'héllo wörld ✓ 😀',
  '',
  true,
  false,
  null,
  [],
  {},
  [1, [2, 'three', { four: 4 }]],
];
const KWARGS = {
  int: 42,
  neg: -7,
  float: 3.25,
  str: 'ünïcödé',
  bool: true,
  nil: null,
  list: ['a', 1, false, null],
  dict: { k: 'v', n: 1, deep: { x: [] } },
  empty_list: [],
  empty_dict: {},
};

// Byte strings of lengths that cover every Base64 padding case, and all 256 byte values.
const BYTES = [Buffer.from([0]), Buffer.from([0xff, 0x00]), Buffer.from([1, 2, 3]), Buffer.from([...Array(256).keys()])];

// isWampError checks a rejection from AutobahnJS (an autobahn.Error, which is
// not a JavaScript Error) against the expected WAMP error.
function isWampError(uri, args = [], kwargs = {}) {
  return (err) => {
    assert.ok(err instanceof autobahn.Error, `want autobahn.Error ${uri}, got ${err}`);
    assert.equal(err.error, uri);
    assertSameValue(err.args, args, 'error args');
    assertSameValue(err.kwargs, kwargs, 'error kwargs');
    return true;
  };
}

describe(`AutobahnJS basic profile, serializer ${SERIALIZER}`, () => {
  afterEach(abandonAll);

  it('joins realm1 and is welcomed as broker and dealer', TEST, async () => {
    const a = await connect();
    const b = await connect();
    assertWampID(a.session.id, 'session id');
    assertWampID(b.session.id, 'session id');
    assert.notEqual(a.session.id, b.session.id, 'two sessions must get different ids');
    assert.equal(a.welcome.transport.protocol, `wamp.2.${SERIALIZER}`, 'negotiated WebSocket subprotocol');
    const roles = a.welcome.roles;
    assert.ok(roles && typeof roles === 'object', `WELCOME.Details.roles missing: ${JSON.stringify(a.welcome)}`);
    assert.equal(typeof roles.broker, 'object', 'WELCOME roles must include broker');
    assert.equal(typeof roles.dealer, 'object', 'WELCOME roles must include dealer');
    await a.close();
    await b.close();
  });

  it('delivers args and kwargs from publisher to subscriber', TEST, async () => {
    const sub = await connect();
    const pub = await connect();
    const topic = uri('pubsub');
    const q = await sub.subscribe(topic);

    const p1 = await pub.publish(topic, ARGS, KWARGS);
    const e1 = await q.next();
    assertSameValue(e1.args, ARGS, 'event args');
    assertSameValue(e1.kwargs, KWARGS, 'event kwargs');
    assert.equal(e1.details.publication, p1.id, 'EVENT publication id must equal PUBLISHED publication id');

    // kwargs only, then no payload at all.
    const p2 = await pub.publish(topic, undefined, { only: 'kwargs' });
    const p3 = await pub.publish(topic);
    assert.notEqual(p2.id, p1.id, 'publication ids must differ');
    const e2 = await q.next();
    assertSameValue(e2.args, [], 'kwargs-only event args');
    assertSameValue(e2.kwargs, { only: 'kwargs' }, 'kwargs-only event kwargs');
    const e3 = await q.next();
    assertSameValue(e3.args, [], 'empty event args');
    assertSameValue(e3.kwargs, {}, 'empty event kwargs');
    assert.equal(e3.details.publication, p3.id);

    await sub.close();
    await pub.close();
  });

  it('excludes the publisher by default and includes it with exclude_me:false', TEST, async () => {
    const a = await connect();
    const b = await connect();
    const topic = uri('exclude_me');
    const qa = await a.subscribe(topic);
    const qb = await b.subscribe(topic);

    // Publications from one publisher reach each subscriber in order, so if
    // the first were delivered to a, it would arrive before the second.
    const excluded = await a.publish(topic, ['default']);
    const included = await a.publish(topic, ['exclude_me false'], undefined, { exclude_me: false });

    const b1 = await qb.next();
    const b2 = await qb.next();
    assertSameValue(b1.args, ['default']);
    assert.equal(b1.details.publication, excluded.id);
    assertSameValue(b2.args, ['exclude_me false']);

    const own = await qa.next();
    assertSameValue(own.args, ['exclude_me false'], 'publisher received its own exclude_me:true (default) event');
    assert.equal(own.details.publication, included.id);

    await a.close();
    await b.close();
  });

  it('calls a procedure with args and kwargs and returns a Result', TEST, async () => {
    const callee = await connect();
    const caller = await connect();
    const proc = uri('rpc');
    const invocations = [];
    const reg = await callee.register(proc, (args, kwargs) => {
      invocations.push({ args, kwargs });
      return new autobahn.Result([...args].reverse(), { ...kwargs, echoed: true });
    });
    assertWampID(reg.id, 'registration id');

    const res = await caller.call(proc, ARGS, KWARGS);
    assert.equal(invocations.length, 1);
    assertSameValue(invocations[0].args, ARGS, 'invocation args');
    assertSameValue(invocations[0].kwargs, KWARGS, 'invocation kwargs');
    assert.ok(res instanceof autobahn.Result, `want autobahn.Result, got ${JSON.stringify(res)}`);
    assertSameValue(res.args, [...ARGS].reverse(), 'result args');
    assertSameValue(res.kwargs, { ...KWARGS, echoed: true }, 'result kwargs');

    // A single return value comes back as a plain value; no args go out as [].
    const single = uri('rpc_single');
    await callee.register(single, (args, kwargs) => ({ nargs: args.length, nkwargs: Object.keys(kwargs).length }));
    assertSameValue(await caller.call(single), { nargs: 0, nkwargs: 0 });

    await callee.close();
    await caller.close();
  });

  it('carries binary values (JSON: NUL + Base64 strings)', TEST, async () => {
    const sub = await connect();
    const pub = await connect();
    const callee = await connect();
    const topic = uri('binary');
    const proc = uri('binary_echo');
    const args = BYTES.map((b) => binary(SERIALIZER, b));
    const kwargs = { bin: binary(SERIALIZER, BYTES[3]), nested: [binary(SERIALIZER, BYTES[2])] };

    const q = await sub.subscribe(topic);
    await pub.publish(topic, args, kwargs);
    const ev = await q.next();
    assertSameValue(ev.args, args, 'binary event args');
    assertSameValue(ev.kwargs, kwargs, 'binary event kwargs');

    await callee.register(proc, (a, kw) => new autobahn.Result(a, kw));
    const res = await pub.call(proc, args, kwargs);
    assertSameValue(res.args, args, 'binary result args');
    assertSameValue(res.kwargs, kwargs, 'binary result kwargs');

    await sub.close();
    await pub.close();
    await callee.close();
  });

  it('returns wamp.error.no_such_procedure for an unregistered procedure', TEST, async () => {
    const caller = await connect();
    await assert.rejects(caller.call(uri('missing'), [1]), isWampError('wamp.error.no_such_procedure'));
    await caller.close();
  });

  it('passes an application error from callee to caller', TEST, async () => {
    const callee = await connect();
    const caller = await connect();
    const proc = uri('rpc_error');
    await callee.register(proc, () => {
      throw new autobahn.Error('com.example.error.custom', [1], { a: 1 });
    });
    await assert.rejects(caller.call(proc), isWampError('com.example.error.custom', [1], { a: 1 }));
    // AutobahnJS reports the thrown error to on_user_error as well.
    assert.equal(callee.userErrors.length, 1);
    await callee.close();
    await caller.close();
  });

  it('refuses to register a procedure twice', TEST, async () => {
    const first = await connect();
    const second = await connect();
    const caller = await connect();
    const proc = uri('rpc_twice');
    await first.register(proc, () => 'first');
    await assert.rejects(second.register(proc, () => 'second'), isWampError('wamp.error.procedure_already_exists'));
    await assert.rejects(first.register(proc, () => 'again'), isWampError('wamp.error.procedure_already_exists'));
    assert.equal(await caller.call(proc), 'first', 'the original registration must stay in place');
    await first.close();
    await second.close();
    await caller.close();
  });

  it('aborts joining a realm that does not exist with wamp.error.no_such_realm', TEST, async () => {
    await assert.rejects(connect({ realm: 'com.example.no_such_realm' }), (err) => {
      assert.ok(err.closeDetails, `want a close from the router, got ${err}`);
      assert.notEqual(err.closeReason, 'unreachable', 'the WebSocket must open before the router ABORTs');
      assert.equal(err.closeDetails.reason, 'wamp.error.no_such_realm', 'ABORT reason');
      return true;
    });
  });

  it('stops delivering events after unsubscribe', TEST, async () => {
    const sub = await connect();
    const control = await connect();
    const pub = await connect();
    const topic = uri('unsubscribe');
    const marker = uri('unsubscribe_marker');
    const q = await sub.subscribe(topic);
    const qm = await sub.subscribe(marker);
    const qc = await control.subscribe(topic);

    await pub.publish(topic, ['before']);
    assertSameValue((await q.next()).args, ['before']);
    assertSameValue((await qc.next()).args, ['before']);

    assert.equal(await sub.guard(q.subscription.unsubscribe(), 'UNSUBSCRIBED'), true);
    assert.equal(q.subscription.active, false);

    // A subscriber receives one publisher's events in publication order, even
    // across topics: had the router still delivered 'after' to sub, it would
    // have arrived before 'marker'. (AutobahnJS would also drop the session
    // for an EVENT on an unknown subscription.)
    await pub.publish(topic, ['after']);
    await pub.publish(marker, ['marker']);
    assertSameValue((await qc.next()).args, ['after'], 'control subscriber must still get events');
    assertSameValue((await qm.next()).args, ['marker']);
    assert.deepEqual(
      q.events.map((e) => e.args),
      [['before']],
      'no events may arrive after unsubscribe',
    );

    await sub.close();
    await control.close();
    await pub.close();
  });

  it('stops routing calls after unregister', TEST, async () => {
    const callee = await connect();
    const caller = await connect();
    const proc = uri('unregister');
    const reg = await callee.register(proc, () => 'registered');
    assert.equal(await caller.call(proc), 'registered');

    await callee.guard(reg.unregister(), 'UNREGISTERED');
    assert.equal(reg.active, false);
    await assert.rejects(caller.call(proc), isWampError('wamp.error.no_such_procedure'));

    // The URI is free again.
    await caller.register(proc, () => 'registered again');
    assert.equal(await callee.call(proc), 'registered again');

    await callee.close();
    await caller.close();
  });

  it('leaves with GOODBYE and closes the WebSocket cleanly', TEST, async () => {
    const a = await connect();
    const b = await connect();
    const topic = uri('leave');
    const qb = await b.subscribe(topic);
    // Peer.close asserts onclose reason "closed" (not "lost") and the GOODBYE reply reason.
    await a.close();
    // The router keeps serving the other session.
    const c = await connect();
    await c.publish(topic, ['still here']);
    assertSameValue((await qb.next()).args, ['still here']);
    await b.close();
    await c.close();
  });
});
