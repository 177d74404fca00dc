// Cross-serializer checks: for every ordered pair of the serializers in
// SWITCHBOARD_SERIALIZERS, a peer using the first reaches a peer using the
// second with the same values, including integers at 2^53 and binary data
// (a NUL + Base64 string on the JSON side, bytes on msgpack and cbor).
//
//   SWITCHBOARD_URL=ws://127.0.0.1:8080/ws SWITCHBOARD_SERIALIZERS=json,msgpack,cbor node --test cross.test.mjs

import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { SERIALIZERS, TEST, abandonAll, assertSameValue, autobahn, binary, connect, uri } from './lib.mjs';

// Numbers every serializer must carry exactly. 2^53 and -2^53 are not safe
// integers in JavaScript but are exact doubles; routers must not lose them
// whether a client sent them as integers (JSON, cbor) or as floats (msgpack5
// encodes integers beyond 2^53-1 as float64, cbor as float32).
const NUMBERS = [
  0,
  -1,
  2 ** 31,
  -(2 ** 31) - 1,
  2 ** 32,
  2 ** 53 - 1,
  -(2 ** 53 - 1),
  2 ** 53,
  -(2 ** 53),
  1.5,
  -1e-7,
];

function values() {
  return {
    args: [...NUMBERS, 'ünï 😀', '', true, false, null, [1, ['two']], { k: 'v' }],
    kwargs: { big: 2 ** 53, neg: -(2 ** 53), safe: 2 ** 53 - 1, nested: { list: [1, 'a', null], f: 0.5 } },
  };
}

const BYTES = [Buffer.from([0]), Buffer.from([0xff, 0x00]), Buffer.from([0xde, 0xad, 0xbe]), Buffer.from([...Array(256).keys()])];

function binaries(serializer) {
  return {
    args: BYTES.map((b) => binary(serializer, b)),
    kwargs: { bin: binary(serializer, BYTES[1]), nested: { list: [binary(serializer, BYTES[2]), 1] } },
  };
}

const pairs = [];
for (const from of SERIALIZERS) {
  for (const to of SERIALIZERS) {
    if (from !== to) pairs.push([from, to]);
  }
}

describe(`AutobahnJS cross-serializer (${SERIALIZERS.join(', ')})`, () => {
  afterEach(abandonAll);

  it('has at least two serializers to cross', TEST, () => {
    assert.ok(SERIALIZERS.length >= 2, `SWITCHBOARD_SERIALIZERS=${SERIALIZERS.join(',')}`);
  });

  for (const [from, to] of pairs) {
    for (const [kind, make] of [
      ['values', values],
      ['binary', binaries],
    ]) {
      it(`publish ${kind}: ${from} publisher -> ${to} subscriber`, TEST, async () => {
        const sub = await connect({ serializer: to });
        const pub = await connect({ serializer: from });
        const topic = uri(`cross_${kind}`);
        const q = await sub.subscribe(topic);
        const sent = make(from);
        const want = make(to);
        const publication = await pub.publish(topic, sent.args, sent.kwargs);
        const ev = await q.next();
        assert.equal(ev.details.publication, publication.id);
        assertSameValue(ev.args, want.args, `args as seen by the ${to} subscriber`);
        assertSameValue(ev.kwargs, want.kwargs, `kwargs as seen by the ${to} subscriber`);
        await sub.close();
        await pub.close();
      });

      it(`call ${kind}: ${from} caller -> ${to} callee and back`, TEST, async () => {
        const callee = await connect({ serializer: to });
        const caller = await connect({ serializer: from });
        const proc = uri(`cross_${kind}`);
        const invocations = [];
        await callee.register(proc, (args, kwargs) => {
          invocations.push({ args, kwargs });
          return new autobahn.Result(args, kwargs);
        });
        const sent = make(from);
        const res = await caller.call(proc, sent.args, sent.kwargs);
        assert.equal(invocations.length, 1);
        const want = make(to);
        assertSameValue(invocations[0].args, want.args, `args as seen by the ${to} callee`);
        assertSameValue(invocations[0].kwargs, want.kwargs, `kwargs as seen by the ${to} callee`);
        assert.ok(res instanceof autobahn.Result);
        assertSameValue(res.args, sent.args, `result args as seen by the ${from} caller`);
        assertSameValue(res.kwargs, sent.kwargs, `result kwargs as seen by the ${from} caller`);
        await callee.close();
        await caller.close();
      });
    }

    it(`application error: ${to} callee -> ${from} caller`, TEST, async () => {
      const callee = await connect({ serializer: to });
      const caller = await connect({ serializer: from });
      const proc = uri('cross_error');
      await callee.register(proc, () => {
        throw new autobahn.Error('com.example.error.custom', [2 ** 53, 'ünï'], { a: 1, big: -(2 ** 53) });
      });
      await assert.rejects(caller.call(proc), (err) => {
        assert.ok(err instanceof autobahn.Error, `want autobahn.Error, got ${err}`);
        assert.equal(err.error, 'com.example.error.custom');
        assertSameValue(err.args, [2 ** 53, 'ünï'], 'error args');
        assertSameValue(err.kwargs, { a: 1, big: -(2 ** 53) }, 'error kwargs');
        return true;
      });
      await callee.close();
      await caller.close();
    });
  }
});
