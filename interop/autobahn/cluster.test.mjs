// A three-node cluster (examples/cluster) with AutobahnJS clients on
// different nodes. interop/cluster_test.go starts the nodes and runs this
// file twice:
//
//   SWITCHBOARD_PHASE=before  SWITCHBOARD_URLS=ws://node1/ws,ws://node2/ws,ws://node3/ws
//     pub/sub and RPC across all three nodes;
//   SWITCHBOARD_PHASE=after   SWITCHBOARD_URLS=ws://node1/ws,ws://node2/ws
//     after node 3 was killed with SIGKILL while a session on it had
//     registered SWITCHBOARD_VICTIM_PROC: that registration is gone from
//     the survivors, and pub/sub and RPC between them still work.
//
// Events and registrations reach the other nodes shortly after SUBSCRIBED
// and REGISTERED; the tests wait for them through the meta API, never by
// sleeping a fixed time.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import autobahn from 'autobahn';

if (!process.env.SWITCHBOARD_INTEROP_VERBOSE) {
  autobahn.log.warn = () => {};
}

const URLS = (process.env.SWITCHBOARD_URLS || '').split(',').filter(Boolean);
const PHASE = process.env.SWITCHBOARD_PHASE || 'before';
const TEST = { timeout: 60_000 };
assert.ok(URLS.length >= 2, 'SWITCHBOARD_URLS must list at least two node URLs');

const open = [];

function connect(url) {
  return new Promise((resolve, reject) => {
    const connection = new autobahn.Connection({
      url,
      realm: 'realm1',
      use_es6_promises: true,
      max_retries: 0,
      retry_if_unreachable: false,
    });
    connection.onopen = (session) => {
      open.push(connection);
      resolve(session);
    };
    connection.onclose = (reason, details) => {
      reject(new Error(`connection to ${url} closed: ${reason} ${JSON.stringify(details)}`));
      return true;
    };
    connection.open();
  });
}

after(() => {
  for (const c of open) {
    try {
      c.close();
    } catch {
      // already closed
    }
  }
});

const uri = (kind) => `com.example.cluster.${kind}.${randomBytes(4).toString('hex')}`;
const pause = (ms) => new Promise((r) => setTimeout(r, ms));

// until polls cond (async) until it is true; the test timeout bounds it.
async function until(cond) {
  while (!(await cond())) {
    await pause(20);
  }
}

// subscribers returns how many sessions of the cluster subscribe to topic
// (exact), as node of session s sees it.
async function subscribers(s, topic) {
  const id = await s.call('wamp.subscription.lookup', [topic]);
  return id === null ? 0 : s.call('wamp.subscription.count_subscribers', [id]);
}

async function pubsubAcross(urls) {
  const topic = uri('topic');
  const pub = await connect(urls[0]);
  const got = [];
  for (const url of urls.slice(1)) {
    const s = await connect(url);
    const events = [];
    got.push(events);
    await s.subscribe(topic, (args) => events.push(args[0]));
  }
  await until(async () => (await subscribers(pub, topic)) === urls.length - 1);
  for (let i = 0; i < 20; i++) {
    await pub.publish(topic, [i], {}, { acknowledge: true });
  }
  await until(async () => got.every((e) => e.length >= 20));
  for (const events of got) {
    assert.deepEqual(events, [...Array(20).keys()], 'every event once, in publication order');
  }
}

async function rpcAcross(urls) {
  const proc = uri('add');
  const callee = await connect(urls[urls.length - 1]);
  await callee.register(proc, (args) => args[0] + args[1]);
  const caller = await connect(urls[0]);
  await until(async () => (await caller.call('wamp.registration.lookup', [proc])) !== null);
  assert.equal(await caller.call(proc, [2, 3]), 5);
  const other = await connect(urls[1]);
  await assert.rejects(other.register(proc, () => 0), (err) => err.error === 'wamp.error.procedure_already_exists');
}

// retainedAcross publishes a retained event on the first node and
// subscribes with get_retained on the second until the event has reached
// it (each try waits a moment for the retained EVENT behind SUBSCRIBED).
async function retainedAcross(urls) {
  const topic = uri('retained');
  const pub = await connect(urls[0]);
  await pub.publish(topic, ['kept'], {}, { retain: true, acknowledge: true });
  const sub = await connect(urls[1]);
  let got = null;
  await until(async () => {
    let timer;
    let onEvent;
    const seen = new Promise((resolve) => {
      onEvent = resolve;
      timer = setTimeout(() => resolve(null), 200);
    });
    const s = await sub.subscribe(topic, (args, kwargs, details) => onEvent({ args, details }), { get_retained: true });
    got = await seen;
    clearTimeout(timer);
    await sub.unsubscribe(s);
    return got !== null;
  });
  assert.deepEqual(got.args, ['kept']);
  assert.equal(got.details.retained, true);
}

describe(`cluster ${PHASE}`, () => {
  it('keeps retained events on every node', TEST, () => retainedAcross(URLS));
  it('delivers events across nodes exactly once and in order', TEST, () => pubsubAcross(URLS));
  it('routes calls across nodes and refuses a second registration', TEST, () => rpcAcross(URLS));
  if (PHASE === 'after') {
    it('forgets the registrations of the killed node', TEST, async () => {
      const proc = process.env.SWITCHBOARD_VICTIM_PROC;
      assert.ok(proc, 'SWITCHBOARD_VICTIM_PROC is not set');
      const s = await connect(URLS[0]);
      await until(async () => (await s.call('wamp.registration.lookup', [proc])) === null);
      await assert.rejects(s.call(proc), (err) => err.error === 'wamp.error.no_such_procedure');
    });
  }
});
