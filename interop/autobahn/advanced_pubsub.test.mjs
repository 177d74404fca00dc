// Advanced-profile pub/sub with AutobahnJS over WebSocket: pattern-based
// subscriptions, subscriber black/white-listing, publisher identification,
// event retention and the errors for bad options. The suite runs once per
// serializer in SWITCHBOARD_SERIALIZERS, with the publisher on the next
// serializer of the list, so that every event also crosses serializers.
//
//   SWITCHBOARD_URL=ws://127.0.0.1:8080/ws SWITCHBOARD_SERIALIZERS=json,msgpack,cbor node --test advanced_pubsub.test.mjs

import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { SERIALIZERS, TEST, abandonAll, assertSameValue, assertWampID, autobahn, connect, uri } from './lib.mjs';

const FEATURES = [
  'event_history',
  'event_retention',
  'pattern_based_subscription',
  'payload_passthru_mode',
  'payload_transparency',
  'publication_trustlevels',
  'publisher_exclusion',
  'publisher_identification',
  'session_meta_api',
  'subscriber_blackwhite_listing',
  'subscription_meta_api',
];

// untilMarker returns the events of q that come before the one whose first
// argument is 'marker'. A marker published after other publications of the
// same session arrives after all their events (WAMP ordering), so what it
// returns is everything that was delivered.
async function untilMarker(q) {
  const got = [];
  for (;;) {
    const ev = await q.next();
    if (ev.args[0] === 'marker') {
      return got;
    }
    got.push(ev);
  }
}

// subscribeAll subscribes peer to each [topic, options] with one queue, so
// that events of all the subscriptions arrive in the order they were sent.
async function subscribeAll(peer, subs) {
  const q = await peer.subscribe(subs[0][0], subs[0][1]);
  q.ids = [q.subscription.id];
  for (const [topic, options] of subs.slice(1)) {
    const s = await peer.guard(
      peer.session.subscribe(topic, (args, kwargs, details) => q.push({ args, kwargs, details }), options),
      `SUBSCRIBED ${topic}`,
    );
    q.ids.push(s.id);
  }
  return q;
}

function isWampError(uri) {
  return (err) => {
    assert.ok(err instanceof autobahn.Error, `want autobahn.Error ${uri}, got ${err}`);
    assert.equal(err.error, uri);
    return true;
  };
}

for (const [i, serializer] of SERIALIZERS.entries()) {
  const pubSerializer = SERIALIZERS[(i + 1) % SERIALIZERS.length];
  const sub = () => connect({ serializer });
  const pub = () => connect({ serializer: pubSerializer });

  describe(`AutobahnJS advanced pub/sub, subscriber ${serializer}, publisher ${pubSerializer}`, () => {
    afterEach(abandonAll);

    it('announces exactly the broker features that work', TEST, async () => {
      const a = await sub();
      const features = a.welcome.roles.broker.features || {};
      assert.deepEqual(Object.keys(features).sort(), FEATURES, `broker features ${JSON.stringify(features)}`);
      for (const f of FEATURES) {
        assert.equal(features[f], true, f);
      }
      await a.close();
    });

    it('prefix subscription: string prefix, concrete topic in details', TEST, async () => {
      const s = await sub();
      const p = await pub();
      const base = uri('prefix');
      const q = await s.subscribe(base, { match: 'prefix' });
      for (const topic of [`${base}.a`, `${base}bc`, base, `${base.slice(0, -1)}q`, 'com.other']) {
        await p.publish(topic, [topic]);
      }
      await p.publish(`${base}.z`, ['marker']);
      const evs = await untilMarker(q);
      assert.deepEqual(
        evs.map((e) => e.details.topic),
        [`${base}.a`, `${base}bc`, base],
      );
      for (const e of evs) {
        assert.equal(e.args[0], e.details.topic, 'details.topic is the topic published to');
      }
      await s.close();
      await p.close();
    });

    it('wildcard subscription: an empty component matches one component', TEST, async () => {
      const s = await sub();
      const p = await pub();
      const base = uri('wildcard');
      const q = await s.subscribe(`${base}..leaf`, { match: 'wildcard' });
      for (const topic of [`${base}.x.leaf`, `${base}.x.y.leaf`, `${base}.leaf`, `${base}.y.leaf`, `${base}.x.leafy`]) {
        await p.publish(topic, [topic]);
      }
      await p.publish(`${base}.m.leaf`, ['marker']);
      const evs = await untilMarker(q);
      assert.deepEqual(
        evs.map((e) => e.details.topic),
        [`${base}.x.leaf`, `${base}.y.leaf`],
      );
      await s.close();
      await p.close();
    });

    it('delivers one event per matching subscription with the same publication id', TEST, async () => {
      const s = await sub();
      const p = await pub();
      const base = uri('every');
      const topic = `${base}.dev.temp`;
      const q = await subscribeAll(s, [
        [topic, {}],
        [base, { match: 'prefix' }],
        [`${base}..temp`, { match: 'wildcard' }],
      ]);
      assert.equal(new Set(q.ids).size, 3, `three subscriptions, three ids: ${q.ids}`);
      const pubd = await p.publish(topic, ['x']);
      await p.publish(topic, ['marker']);
      const evs = await untilMarker(q);
      assert.equal(evs.length, 3);
      for (const e of evs) {
        assert.equal(e.details.publication, pubd.id);
      }
      // The same (topic, match) is one subscription, shared by subscribers.
      const other = await sub();
      const q2 = await other.subscribe(base, { match: 'prefix' });
      assert.equal(q2.subscription.id, q.ids[1], 'subscribers of one prefix share its subscription id');
      await s.close();
      await p.close();
      await other.close();
    });

    it('black- and whitelists subscribers by session id, authid and authrole', TEST, async () => {
      const p = await pub();
      const peers = [await sub(), await sub(), await sub()];
      const topic = uri('bw');
      const qs = [];
      for (const x of peers) {
        qs.push(await x.subscribe(topic));
      }
      const [a, b, c] = peers;
      const id = (x) => x.session.id;
      const authid = (x) => x.welcome.authid;
      assert.equal(a.welcome.authrole, 'anonymous');
      const cases = [
        ['exclude', { exclude: [id(b)] }, [a, c]],
        ['eligible', { eligible: [id(a), id(c)] }, [a, c]],
        ['eligible_exclude', { eligible: [id(a), id(c)], exclude: [id(c)] }, [a]],
        ['exclude_authid', { exclude_authid: [authid(a), authid(b)] }, [c]],
        ['eligible_authid', { eligible_authid: [authid(b)] }, [b]],
        ['eligible_authrole', { eligible_authrole: ['anonymous'] }, [a, b, c]],
        ['exclude_authrole', { exclude_authrole: ['anonymous'] }, []],
        ['eligible_empty', { eligible: [] }, []],
      ];
      for (const [name, options] of cases) {
        await p.publish(topic, [name], undefined, options);
      }
      await p.publish(topic, ['marker']);
      for (const [k, x] of peers.entries()) {
        const got = (await untilMarker(qs[k])).map((e) => e.args[0]);
        const want = cases.filter(([, , to]) => to.includes(x)).map(([name]) => name);
        assert.deepEqual(got, want, `session ${id(x)}`);
      }
      for (const x of [p, ...peers]) await x.close();
    });

    it('discloses the publisher with disclose_me only', TEST, async () => {
      const s = await sub();
      const p = await pub();
      const topic = uri('disclose');
      const q = await s.subscribe(topic);
      await p.publish(topic, ['disclosed'], undefined, { disclose_me: true });
      await p.publish(topic, ['anonymous']);
      await p.publish(topic, ['marker']);
      const [disclosed, anon] = await untilMarker(q);
      assert.equal(disclosed.details.publisher, p.session.id);
      assert.equal(disclosed.details.publisher_authid, p.welcome.authid);
      assert.equal(disclosed.details.publisher_authrole, p.welcome.authrole);
      assert.equal(anon.details.publisher, undefined);
      assert.equal(anon.details.publisher_authid, undefined);
      await s.close();
      await p.close();
    });

    it('retains the last retain:true event and sends it first on get_retained', TEST, async () => {
      const p = await pub();
      const base = uri('retain');
      const topic = `${base}.sensor`;
      await p.publish(topic, ['old'], undefined, { retain: true });
      await p.publish(topic, ['kept'], { t: 21.5 }, { retain: true });
      await p.publish(topic, ['not retained']);

      const s = await sub();
      // The retained event arrives right after SUBSCRIBED, before any live event.
      const q = await s.subscribe(topic, { get_retained: true });
      await p.publish(topic, ['live']);
      const first = await q.next();
      assertSameValue(first.args, ['kept']);
      assertSameValue(first.kwargs, { t: 21.5 });
      assert.equal(first.details.retained, true);
      const live = await q.next();
      assertSameValue(live.args, ['live']);
      assert.equal(live.details.retained, false);

      // A prefix subscription gets every matching topic's retained event.
      await p.publish(`${base}.other`, ['other'], undefined, { retain: true });
      const qp = await s.subscribe(base, { match: 'prefix', get_retained: true });
      const r1 = await qp.next();
      const r2 = await qp.next();
      assert.deepEqual([r1.details.topic, r2.details.topic].sort(), [`${base}.other`, topic].sort());
      assert.ok(r1.details.retained && r2.details.retained);

      // Without get_retained, nothing but live events.
      const plain = await sub();
      const q3 = await plain.subscribe(topic);
      await p.publish(topic, ['marker']);
      assert.deepEqual(await untilMarker(q3), []);
      await s.close();
      await p.close();
      await plain.close();
    });

    it('answers bad options with wamp.error.invalid_argument and invalid patterns with invalid_uri', TEST, async () => {
      const p = await pub();
      const topic = uri('bad');
      const badPublish = [
        { exclude: 'me' },
        { exclude: ['x'] },
        { eligible: 5 },
        { exclude_authid: [1] },
        { eligible_authrole: 'admin' },
        { retain: 'yes' },
        { disclose_me: 1 },
        { exclude_me: 'no' },
      ];
      for (const options of badPublish) {
        await assert.rejects(p.publish(topic, [1], undefined, options), isWampError('wamp.error.invalid_argument'), JSON.stringify(options));
      }
      await assert.rejects(p.session.subscribe(topic, () => {}, { match: 'regex' }), isWampError('wamp.error.invalid_argument'));
      await assert.rejects(p.session.subscribe(topic, () => {}, { get_retained: 'yes' }), isWampError('wamp.error.invalid_argument'));
      await assert.rejects(p.session.subscribe(`${topic}..x`, () => {}, { match: 'prefix' }), isWampError('wamp.error.invalid_uri'));
      // The session is still served.
      assertWampID((await p.publish(topic, ['ok'])).id, 'publication id');
      await p.close();
    });
  });
}
