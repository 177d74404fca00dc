// The WAMP meta API with AutobahnJS: session count, list, get and kill,
// on_join and on_leave, subscription and registration queries, and a
// testament published when its session closes. See lib.mjs for the
// environment.
//
//   SWITCHBOARD_URL=ws://127.0.0.1:8080/ws node --test meta.test.mjs
//
// Other suites share the realm and may leave sessions behind for a moment,
// so counts are checked against this suite's own sessions, and events are
// picked by session id. kill_all and kill_by_authrole, which would reach
// beyond this suite, are left to the nexus tests, which run each case in a
// realm of its own.

import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { SERIALIZER, TEST, abandonAll, assertWampID, autobahn, connect, uri } from './lib.mjs';

function rejectsWith(uri) {
  return (err) => {
    assert.ok(err instanceof autobahn.Error, `want autobahn.Error ${uri}, got ${err}`);
    assert.equal(err.error, uri);
    return true;
  };
}

// nextAbout returns the next event of q about session id: on_join's
// details.session or the first argument of the other meta events.
async function nextAbout(q, id) {
  for (;;) {
    const ev = await q.next();
    const about = ev.args[0] !== null && typeof ev.args[0] === 'object' ? ev.args[0].session : ev.args[0];
    if (about === id) {
      return ev;
    }
  }
}

// An id that no session, subscription or registration has.
const UNKNOWN_ID = 2 ** 53 - 3;

describe(`AutobahnJS meta API, serializer ${SERIALIZER}`, () => {
  afterEach(abandonAll);

  it('announces the meta API features', TEST, async () => {
    const a = await connect();
    const { broker, dealer } = a.welcome.roles;
    for (const f of ['session_meta_api', 'subscription_meta_api']) {
      assert.equal(broker.features[f], true, `broker feature ${f}`);
    }
    for (const f of ['session_meta_api', 'registration_meta_api', 'testament_meta_api']) {
      assert.equal(dealer.features[f], true, `dealer feature ${f}`);
    }
    await a.close();
  });

  it('counts, lists and describes sessions', TEST, async () => {
    const a = await connect();
    const b = await connect();
    const ids = [a.session.id, b.session.id];
    const list = await a.call('wamp.session.list');
    assert.ok(Array.isArray(list), `list ${JSON.stringify(list)}`);
    for (const id of ids) {
      assert.ok(list.includes(id), `session ${id} not in list ${JSON.stringify(list)}`);
    }
    const count = await a.call('wamp.session.count');
    assert.ok(Number.isInteger(count) && count >= 2, `count ${count}`);
    assert.equal(await a.call('wamp.session.count', [['nobody']]), 0);
    assert.deepEqual(await a.call('wamp.session.list', [['nobody']]), []);
    const listed = await a.call('wamp.session.list', [['anonymous']]);
    for (const id of ids) {
      assert.ok(listed.includes(id), `session ${id} not among the anonymous ${JSON.stringify(listed)}`);
    }

    const d = await a.call('wamp.session.get', [b.session.id]);
    assert.deepEqual(Object.keys(d).sort(), ['authid', 'authmethod', 'authprovider', 'authrole', 'session', 'transport']);
    assert.equal(d.session, b.session.id);
    assert.equal(d.authid, b.welcome.authid);
    assert.equal(d.authrole, 'anonymous');
    assert.equal(d.authmethod, 'anonymous');
    assert.equal(typeof d.authprovider, 'string');
    assert.equal(d.transport.type, 'websocket');
    assert.equal(d.transport.serializer, SERIALIZER);

    await assert.rejects(a.call('wamp.session.get', [UNKNOWN_ID]), rejectsWith('wamp.error.no_such_session'));
    await assert.rejects(a.call('wamp.session.get', ['x']), rejectsWith('wamp.error.invalid_argument'));
    await a.close();
    await b.close();
  });

  it('publishes on_join and on_leave', TEST, async () => {
    const w = await connect();
    const q = await w.subscribe('wamp.session.on_join');
    await w.guard(
      w.session.subscribe('wamp.session.on_leave', (args, kwargs, details) => q.push({ args, kwargs, details })),
      'SUBSCRIBED on_leave',
    );
    const x = await connect();
    const id = x.session.id;
    const join = await nextAbout(q, id);
    assert.equal(join.args.length, 1);
    assert.equal(join.args[0].authid, x.welcome.authid);
    assert.equal(join.args[0].authrole, 'anonymous');
    await x.close();
    const leave = await nextAbout(q, id);
    assert.deepEqual(leave.args, [id, x.welcome.authid, 'anonymous']);
    await w.close();
  });

  it('looks up subscriptions and counts subscribers', TEST, async () => {
    const a = await connect();
    const b = await connect();
    const topic = uri('meta.sub');
    const qa = await a.subscribe(topic);
    const id = qa.subscription.id;
    assert.equal(await a.call('wamp.subscription.lookup', [topic]), id);
    assert.equal(await a.call('wamp.subscription.lookup', [topic, { match: 'prefix' }]), null);
    assert.equal(await a.call('wamp.subscription.count_subscribers', [id]), 1);
    const qb = await b.subscribe(topic);
    assert.equal(qb.subscription.id, id, 'subscribers of one topic share the subscription');
    assert.equal(await a.call('wamp.subscription.count_subscribers', [id]), 2);
    assert.deepEqual(
      (await a.call('wamp.subscription.list_subscribers', [id])).sort(),
      [a.session.id, b.session.id].sort(),
    );
    const lists = await a.call('wamp.subscription.list');
    assert.ok(lists.exact.includes(id), `list ${JSON.stringify(lists)} lacks ${id}`);
    const prefix = await b.subscribe(uri('meta.prefix'), { match: 'prefix' });
    const lists2 = await a.call('wamp.subscription.list');
    assert.ok(lists2.prefix.includes(prefix.subscription.id), `list ${JSON.stringify(lists2)}`);
    const got = await a.call('wamp.subscription.get', [id]);
    assert.equal(got.uri, topic);
    assert.equal(got.match, 'exact');
    assert.deepEqual(await a.call('wamp.subscription.match', [topic]), [id]);
    await assert.rejects(a.call('wamp.subscription.count_subscribers', [UNKNOWN_ID]), rejectsWith('wamp.error.no_such_subscription'));
    await a.close();
    await b.close();
  });

  it('looks up registrations and lists callees', TEST, async () => {
    const a = await connect();
    const b = await connect();
    const proc = uri('meta.proc');
    const reg = await a.register(proc, () => 'a', { invoke: 'roundrobin' });
    assertWampID(reg.id, 'registration id');
    assert.equal(await b.call('wamp.registration.lookup', [proc]), reg.id);
    assert.equal(await b.call('wamp.registration.match', [proc]), reg.id);
    assert.deepEqual(await b.call('wamp.registration.list_callees', [reg.id]), [a.session.id]);
    await b.register(proc, () => 'b', { invoke: 'roundrobin' });
    assert.equal(await b.call('wamp.registration.count_callees', [reg.id]), 2);
    assert.deepEqual(await b.call('wamp.registration.list_callees', [reg.id]), [a.session.id, b.session.id]);
    const got = await b.call('wamp.registration.get', [reg.id]);
    assert.equal(got.uri, proc);
    assert.equal(got.invoke, 'roundrobin');
    assert.equal(await b.call('wamp.registration.lookup', ['wamp.session.count']), null);
    await assert.rejects(b.call('wamp.registration.list_callees', [UNKNOWN_ID]), rejectsWith('wamp.error.no_such_registration'));
    await a.close();
    await b.close();
  });

  it('publishes a testament when its session closes', TEST, async () => {
    const w = await connect();
    const topic = uri('meta.will');
    const q = await w.subscribe(topic);
    const d = await connect();
    assert.equal(await d.call('wamp.session.add_testament', [topic, ['bye', 1], { k: 'v' }]), null);
    assert.equal(await d.call('wamp.session.add_testament', [topic, ['detached']], { scope: 'detached' }), null);
    await assert.rejects(
      d.call('wamp.session.add_testament', [topic], { scope: 'forever' }),
      rejectsWith('wamp.error.invalid_argument'),
    );
    await d.close();
    const first = await q.next();
    assert.deepEqual(first.args, ['detached'], 'detached testaments come first');
    const second = await q.next();
    assert.deepEqual(second.args, ['bye', 1]);
    assert.deepEqual(second.kwargs, { k: 'v' });
    await w.close();
  });

  it('kills a session with a reason and message', TEST, async () => {
    const caller = await connect();
    const victim = await connect();
    const q = await caller.subscribe('wamp.session.on_leave');
    await assert.rejects(
      caller.call('wamp.session.kill', [caller.session.id]),
      rejectsWith('wamp.error.no_such_session'),
    );
    await assert.rejects(
      caller.call('wamp.session.kill', [victim.session.id], { reason: 'not a uri' }),
      rejectsWith('wamp.error.invalid_uri'),
    );
    const id = victim.session.id;
    await caller.call('wamp.session.kill', [id], { reason: 'com.example.kicked', message: 'enough' });
    const { details } = await victim.closed;
    assert.equal(details.reason, 'com.example.kicked', `close details ${JSON.stringify(details)}`);
    assert.equal(details.message, 'enough');
    const leave = await nextAbout(q, id);
    assert.deepEqual(leave.args, [id, victim.welcome.authid, 'anonymous']);
    assert.deepEqual(await caller.call('wamp.session.kill_by_authid', [caller.welcome.authid]), [], 'the caller is spared');
    await caller.close();
  });
});
