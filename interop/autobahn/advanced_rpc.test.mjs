// WAMP advanced-profile RPC checks with AutobahnJS: shared and pattern-based
// registrations, progressive call results, call canceling, call timeouts,
// caller identification, and invalid options. See lib.mjs for the
// environment.
//
//   SWITCHBOARD_URL=ws://127.0.0.1:8080/ws node --test advanced_rpc.test.mjs
//
// What AutobahnJS 22 does not do, and so is not tested here: progressive
// call invocations (it has no such feature); INTERRUPT (its callees do not
// announce call_canceling, so the router cancels them in mode skip); and
// cancel modes skip and killnowait, for which AutobahnJS rejects the call
// itself and then takes the router's ERROR, which the specification
// requires, for a reply to an unknown request and fails the connection
// (Crossbar.io answers the same way). The nexus tests cover those.

import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { SERIALIZER, TEST, abandonAll, assertWampID, autobahn, connect, uri } from './lib.mjs';

// rejectsWith checks a rejection from AutobahnJS (an autobahn.Error, which
// is not a JavaScript Error) against the expected WAMP error URI.
function rejectsWith(uri) {
  return (err) => {
    assert.ok(err instanceof autobahn.Error, `want autobahn.Error ${uri}, got ${err}`);
    assert.equal(err.error, uri);
    return true;
  };
}

// never returns a promise that never settles: an endpoint that does not
// answer, so that only the router can end the call.
function never() {
  return new Promise(() => {});
}

// signal is a promise with its resolve function.
function signal() {
  let resolve;
  const p = new Promise((r) => {
    resolve = r;
  });
  p.resolve = resolve;
  return p;
}

describe(`AutobahnJS advanced RPC, serializer ${SERIALIZER}`, () => {
  afterEach(abandonAll);

  it('announces the advanced dealer features', TEST, async () => {
    const a = await connect();
    const features = a.welcome.roles.dealer.features || {};
    for (const f of [
      'progressive_call_results',
      'progressive_call_invocations',
      'call_canceling',
      'call_timeout',
      'caller_identification',
      'shared_registration',
      'pattern_based_registration',
    ]) {
      assert.equal(features[f], true, `dealer feature ${f} in ${JSON.stringify(features)}`);
    }
    await a.close();
  });

  it('shares a registration round-robin and refuses a different policy', TEST, async () => {
    const a = await connect();
    const b = await connect();
    const caller = await connect();
    const proc = uri('shared');
    const ra = await a.register(proc, () => 'a', { invoke: 'roundrobin' });
    const rb = await b.register(proc, () => 'b', { invoke: 'roundrobin' });
    assertWampID(ra.id, 'registration id');
    assert.equal(ra.id, rb.id, 'a shared registration has one id');
    const got = [];
    for (let i = 0; i < 4; i++) {
      got.push(await caller.call(proc));
    }
    assert.deepEqual(got, ['a', 'b', 'a', 'b']);

    const c = await connect();
    await assert.rejects(
      c.register(proc, () => 'c', { invoke: 'last' }),
      rejectsWith('wamp.error.procedure_exists_with_different_invocation_policy'),
    );
    const single = uri('single');
    await a.register(single, () => 'a');
    await assert.rejects(c.register(single, () => 'c', { invoke: 'roundrobin' }), rejectsWith('wamp.error.procedure_already_exists'));
    for (const p of [a, b, c, caller]) await p.close();
  });

  it('routes by exact, longest prefix, then wildcard, and tells the callee the procedure', TEST, async () => {
    const callee = await connect();
    const caller = await connect();
    const base = uri('pattern');
    const seen = [];
    const endpoint = (tag) => (args, kwargs, details) => {
      seen.push(details.procedure);
      return tag;
    };
    await callee.register(`${base}.exact`, endpoint('exact'));
    await callee.register(base, endpoint('prefix'), { match: 'prefix' });
    await callee.register(`${base}.long`, endpoint('longer prefix'), { match: 'prefix' });
    const wild = uri('wild');
    await callee.register(`${wild}..leaf`, endpoint('wildcard'), { match: 'wildcard' });

    assert.equal(await caller.call(`${base}.exact`), 'exact');
    assert.equal(await caller.call(`${base}.other`), 'prefix');
    assert.equal(await caller.call(`${base}.long.er`), 'longer prefix');
    assert.equal(await caller.call(`${wild}.any.leaf`), 'wildcard');
    assert.deepEqual(seen, [`${base}.exact`, `${base}.other`, `${base}.long.er`, `${wild}.any.leaf`]);
    await assert.rejects(caller.call(`${wild}.any.other`), rejectsWith('wamp.error.no_such_procedure'));
    await callee.close();
    await caller.close();
  });

  it('streams progressive results', TEST, async () => {
    const callee = await connect();
    const caller = await connect();
    const proc = uri('progress');
    const asked = [];
    await callee.register(proc, (args, kwargs, details) => {
      // details.progress is there when INVOCATION carries receive_progress.
      asked.push(typeof details.progress === 'function');
      if (details.progress) {
        details.progress([1]);
        details.progress([2], { k: 'v' });
      }
      return 'done';
    });
    // AutobahnJS reports progress through when.js promises (its default
    // when when.js is installed); lib.mjs opens sessions with ES6
    // promises, which have no notify, so this session switches back.
    assert.ok(autobahn.when, 'when.js is needed for progressive results');
    caller.session._defer = autobahn.when.defer;
    const progress = [];
    const p = caller.session.call(proc, [], {}, { receive_progress: true });
    p.then(null, null, (r) => progress.push(r));
    const result = await caller.guard(p, 'final RESULT');
    assert.equal(result, 'done');
    assert.equal(progress.length, 2, `progressive results ${JSON.stringify(progress)}`);
    assert.equal(progress[0], 1);
    assert.deepEqual(progress[1].args, [2]);
    assert.deepEqual(progress[1].kwargs, { k: 'v' });

    // Without receive_progress the callee is not asked for progress.
    assert.equal(await caller.call(proc), 'done');
    assert.deepEqual(asked, [true, false], 'INVOCATION.Details.receive_progress per call');
    await callee.close();
    await caller.close();
  });

  it('cancels a call (mode kill)', TEST, async () => {
    const callee = await connect();
    const caller = await connect();
    const proc = uri('cancel');
    const invoked = signal();
    await callee.register(proc, () => {
      invoked.resolve();
      return never();
    });
    const p = caller.session.call(proc);
    await caller.guard(invoked, 'INVOCATION');
    p.cancel({ mode: 'kill' });
    await assert.rejects(caller.guard(p, 'ERROR for the canceled call'), rejectsWith('wamp.error.canceled'));
    // Both sessions carry on.
    const echo = uri('echo');
    await callee.register(echo, (args) => args[0]);
    assert.equal(await caller.call(echo, ['still here']), 'still here');
    await callee.close();
    await caller.close();
  });

  it('times a call out', TEST, async () => {
    const callee = await connect();
    const caller = await connect();
    const proc = uri('timeout');
    await callee.register(proc, never);
    await assert.rejects(caller.call(proc, [], {}, { timeout: 50 }), rejectsWith('wamp.error.timeout'));
    await callee.close();
    await caller.close();
  });

  it('discloses the caller on request', TEST, async () => {
    const callee = await connect();
    const caller = await connect();
    const proc = uri('disclose');
    const seen = [];
    await callee.register(proc, (args, kwargs, details) => {
      seen.push({ caller: details.caller, authid: details.caller_authid, authrole: details.caller_authrole });
      return null; // AutobahnJS yields [undefined] otherwise, which msgpack cannot encode
    });
    await caller.call(proc, [], {}, { disclose_me: true });
    await caller.call(proc);
    assert.deepEqual(seen[0], {
      caller: caller.session.id,
      authid: caller.welcome.authid,
      authrole: caller.welcome.authrole,
    });
    assert.deepEqual(seen[1], { caller: undefined, authid: undefined, authrole: undefined });
    await callee.close();
    await caller.close();
  });

  it('answers invalid options with wamp.error.invalid_argument', TEST, async () => {
    const callee = await connect();
    const caller = await connect();
    const proc = uri('options');
    await callee.register(proc, () => 'ok');
    for (const options of [
      { timeout: -5 },
      { timeout: 'soon' },
      { timeout: 2.5 },
      { receive_progress: 'yes' },
      { disclose_me: 1 },
      { progress: 'no' },
    ]) {
      // The message naming the option is in ERROR.Details, which
      // AutobahnJS does not pass on; the nexus tests check it.
      await assert.rejects(caller.call(proc, [], {}, options), rejectsWith('wamp.error.invalid_argument'));
    }
    for (const options of [{ invoke: 'bogus' }, { invoke: 7 }, { match: 'regex' }, { match: true }]) {
      await assert.rejects(callee.register(uri('bad'), () => 'x', options), rejectsWith('wamp.error.invalid_argument'));
    }
    assert.equal(await caller.call(proc), 'ok');
    await callee.close();
    await caller.close();
  });
});
