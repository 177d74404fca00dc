// Authentication and authorization with AutobahnJS against the node of
// examples/auth/config.yaml (see examples/auth/README.md): each principal
// joins with its method and gets its role, wrong credentials are refused
// with ABORT, and each role's permissions hold both ways. Besides
// lib.mjs's environment:
//
//   SWITCHBOARD_AUTH_DIR  the examples/auth directory (for carol's key pair)
//
//   SWITCHBOARD_URL=ws://127.0.0.1:8080/ws SWITCHBOARD_AUTH_DIR=../../examples/auth node --test auth.test.mjs

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, it } from 'node:test';
import nacl from 'tweetnacl';
import { SERIALIZER, TEST, abandonAll, autobahn, connect, uri } from './lib.mjs';

const AUTH_DIR = process.env.SWITCHBOARD_AUTH_DIR;
if (!AUTH_DIR) {
  throw new Error('SWITCHBOARD_AUTH_DIR is not set (want the examples/auth directory)');
}

// carol's key pair, from the example's fixture files.
const seed = Buffer.from(readFileSync(join(AUTH_DIR, 'cryptosign.key'), 'utf8').trim(), 'hex');
const carolKey = nacl.sign.keyPair.fromSeed(new Uint8Array(seed));
const carolPub = Buffer.from(carolKey.publicKey).toString('hex');
assert.equal(carolPub, readFileSync(join(AUTH_DIR, 'cryptosign.pub'), 'utf8').trim(), 'cryptosign.pub is the public key of cryptosign.key');

function ticket(authid, t) {
  return { authmethods: ['ticket'], authid, onchallenge: (session, method) => {
    assert.equal(method, 'ticket');
    return t;
  } };
}

// wampcra signs the challenge with the secret, or with the key derived from
// it when the router sends a salt.
function wampcra(authid, secret) {
  return { authmethods: ['wampcra'], authid, onchallenge: (session, method, extra) => {
    assert.equal(method, 'wampcra');
    const key = extra.salt ? autobahn.auth_cra.derive_key(secret, extra.salt, extra.iterations, extra.keylen) : secret;
    return autobahn.auth_cra.sign(key, extra.challenge);
  } };
}

function cryptosign(authid, keyPair) {
  return {
    authmethods: ['cryptosign'],
    authid,
    authextra: { pubkey: Buffer.from(keyPair.publicKey).toString('hex') },
    onchallenge: (session, method, extra) => {
      assert.equal(method, 'cryptosign');
      return autobahn.auth_cryptosign.sign_challenge(keyPair, extra);
    },
  };
}

const ALICE = ticket('alice', 'alice-ticket');
const BOB = wampcra('bob', 'bob-secret');
const CAROL = cryptosign('carol', carolKey);

function rejectsWith(uri) {
  return (err) => {
    assert.ok(err instanceof autobahn.Error, `want autobahn.Error ${uri}, got ${err}`);
    assert.equal(err.error, uri);
    return true;
  };
}

// refusedWith checks a connection that ended before it joined: the
// router's ABORT reason reaches Connection.onclose as details.reason.
function refusedWith(reason) {
  return (err) => {
    assert.ok(err.closeDetails, `want a refused connection, got ${err}`);
    assert.equal(err.closeDetails.reason, reason, `ABORT reason; close details ${JSON.stringify(err.closeDetails)}`);
    assert.ok(err.closeDetails.message, 'ABORT carries a message');
    return true;
  };
}

function assertWelcome(peer, authid, authrole, authmethod) {
  const w = peer.welcome;
  if (authid !== null) {
    assert.equal(w.authid, authid, 'WELCOME authid');
  }
  assert.equal(w.authrole, authrole, 'WELCOME authrole');
  assert.equal(w.authmethod, authmethod, 'WELCOME authmethod');
  assert.equal(w.authprovider, 'static', 'WELCOME authprovider');
}

describe(`AutobahnJS authentication, serializer ${SERIALIZER}`, () => {
  afterEach(abandonAll);

  it('admits each principal with its role', TEST, async () => {
    const alice = await connect({ auth: ALICE });
    assertWelcome(alice, 'alice', 'frontend', 'ticket');
    const bob = await connect({ auth: BOB });
    assertWelcome(bob, 'bob', 'backend', 'wampcra');
    const carol = await connect({ auth: CAROL });
    assertWelcome(carol, 'carol', 'admin', 'cryptosign');
    assert.equal(carol.welcome.authextra?.pubkey, carolPub, 'WELCOME authextra.pubkey');
    const anon = await connect();
    assertWelcome(anon, null, 'anonymous', 'anonymous');
    for (const p of [alice, bob, carol, anon]) {
      await p.close();
    }
  });

  it('refuses wrong credentials', TEST, async () => {
    const other = nacl.sign.keyPair();
    await assert.rejects(connect({ auth: ticket('alice', 'not-alice-ticket') }), refusedWith('wamp.error.authentication_failed'));
    await assert.rejects(connect({ auth: ticket('mallory', 'alice-ticket') }), refusedWith('wamp.error.authentication_failed'));
    await assert.rejects(connect({ auth: wampcra('bob', 'not-bob-secret') }), refusedWith('wamp.error.authentication_failed'));
    await assert.rejects(connect({ auth: cryptosign('carol', other) }), refusedWith('wamp.error.authentication_failed'));
    await assert.rejects(connect({ auth: { authmethods: ['scram'], authid: 'alice' } }), refusedWith('wamp.error.no_auth_method'));
  });
});

describe(`AutobahnJS authorization, serializer ${SERIALIZER}`, () => {
  afterEach(abandonAll);

  it('enforces each role both ways', TEST, async () => {
    const [anon, alice, bob, carol] = await Promise.all([connect(), connect({ auth: ALICE }), connect({ auth: BOB }), connect({ auth: CAROL })]);
    const proc = uri('add').replace('com.example.interop', 'app');
    const events = uri('events').replace('com.example.interop', 'app');
    const news = uri('news').replace('com.example.interop', 'public');

    // bob (backend): register and publish under app., nothing else.
    let invocation = null;
    await bob.register(proc, (args, kwargs, details) => {
      invocation = details;
      return args[0] + args[1];
    });
    await assert.rejects(bob.register(news, () => null), rejectsWith('wamp.error.not_authorized'));
    await assert.rejects(bob.call(proc, [1, 2]), rejectsWith('wamp.error.not_authorized'));
    await assert.rejects(bob.subscribe(events), rejectsWith('wamp.error.not_authorized'));
    await assert.rejects(bob.publish(news, ['x']), rejectsWith('wamp.error.not_authorized'));

    // alice (frontend): call and subscribe under app., and bob learns who
    // called; no register, no publish, no meta API.
    const aliceEvents = await alice.subscribe(events);
    assert.equal(await alice.call(proc, [1, 2]), 3);
    assert.equal(invocation.caller_authid, 'alice', 'the frontend permission discloses the caller');
    assert.equal(invocation.caller_authrole, 'frontend');
    await assert.rejects(alice.register(uri('x').replace('com.example.interop', 'app'), () => null), rejectsWith('wamp.error.not_authorized'));
    await assert.rejects(alice.publish(events, ['x']), rejectsWith('wamp.error.not_authorized'));
    await assert.rejects(alice.call('wamp.session.kill', [anon.session.id]), rejectsWith('wamp.error.not_authorized'));
    await bob.publish(events, ['from bob']);
    assert.deepEqual((await aliceEvents.next()).args, ['from bob']);

    // anonymous: subscribe under public. only; the meta topics are closed.
    const anonNews = await anon.subscribe(news);
    const aliceNews = await alice.subscribe(news);
    await assert.rejects(anon.subscribe(events), rejectsWith('wamp.error.not_authorized'));
    await assert.rejects(anon.subscribe('wamp.session.on_join'), rejectsWith('wamp.error.not_authorized'));
    await assert.rejects(anon.publish(news, ['x']), rejectsWith('wamp.error.not_authorized'));
    await assert.rejects(anon.call(proc, [1, 2]), rejectsWith('wamp.error.not_authorized'));
    // An unacknowledged publication that is refused gets no ERROR (which
    // AutobahnJS would take for a protocol violation) and reaches nobody;
    // the round trip after it orders it before carol's publication.
    anon.session.publish(news, ['from anonymous']);
    await anon.subscribe(uri('sync').replace('com.example.interop', 'public'));

    // carol (admin): everything, the meta API included.
    await carol.publish(news, ['from carol']);
    assert.deepEqual((await aliceNews.next()).args, ['from carol'], 'the refused publication must not arrive');
    assert.deepEqual((await anonNews.next()).args, ['from carol']);
    const count = await carol.call('wamp.session.count');
    assert.ok(count >= 4, `wamp.session.count = ${count}`);
    await carol.call('wamp.session.kill', [anon.session.id]);
    const { details } = await anon.closed;
    assert.equal(details.reason, 'wamp.close.killed');

    for (const p of [alice, bob, carol]) {
      await p.close();
    }
  });
});
