// JWT tickets with AutobahnJS: the client joins with authmethods ["ticket"]
// and a JSON Web Token as its ticket, as a browser page does with the
// token its web backend issued. The tokens are signed here with
// node:crypto, an implementation of JWS independent of the router's.
//
// Run by interop/jwt_test.go (TestJWTAutobahnJS), which starts a router
// with the realms of its jwtRealms: hs (HS256 secret, issuer, audience,
// authextra name and email), rs (RSA public key), es (P-256 public key),
// ed (a JWKS with the Ed25519 key "ed1"; role viewer for tokens without
// one; sessions close when their tokens expire). Roles: user may do
// everything under com.example., viewer only subscribe. Besides lib.mjs's
// environment:
//
//   SWITCHBOARD_JWT_DIR         directory with rsa.key, ec.key, ed1.key (PKCS #8 PEM)
//   SWITCHBOARD_TEST_JWT_SECRET the HMAC secret of realm hs
//   SWITCHBOARD_JWT_SOURCE_NET  n: refused clients connect from 127.n.x.y,
//                               an address each, so that the router's
//                               slow-down of addresses with failed logins
//                               never delays this run

import assert from 'node:assert/strict';
import { createHmac, createPrivateKey, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { join } from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { ROUTER_URL, SERIALIZER, TEST, abandonAll, connect, makeSerializer, uri } from './lib.mjs';

const DIR = process.env.SWITCHBOARD_JWT_DIR;
const SECRET = process.env.SWITCHBOARD_TEST_JWT_SECRET;
const SOURCE_NET = Number(process.env.SWITCHBOARD_JWT_SOURCE_NET || 30);
assert.ok(DIR && SECRET, 'SWITCHBOARD_JWT_DIR and SWITCHBOARD_TEST_JWT_SECRET must be set');

const keys = Object.fromEntries(['rsa', 'ec', 'ed1'].map((k) => [k, createPrivateKey(readFileSync(join(DIR, `${k}.key`)))]));

const b64url = (b) => Buffer.from(b).toString('base64url');

// jws signs claims in the JWS compact form with alg, per RFC 7515/7518:
// HMAC over "header.payload", RSA PKCS #1 v1.5, ECDSA as r||s, Ed25519.
function jws(alg, claims, header = {}) {
  const input = `${b64url(JSON.stringify({ alg, typ: 'JWT', ...header }))}.${b64url(JSON.stringify(claims))}`;
  let sig;
  switch (alg) {
    case 'HS256':
      sig = createHmac('sha256', SECRET).update(input).digest();
      break;
    case 'RS256':
      sig = sign('sha256', Buffer.from(input), keys.rsa);
      break;
    case 'ES256':
      sig = sign('sha256', Buffer.from(input), { key: keys.ec, dsaEncoding: 'ieee-p1363' });
      break;
    case 'EdDSA':
      sig = sign(null, Buffer.from(input), keys.ed1);
      break;
    case 'none':
      sig = Buffer.alloc(0);
      break;
    default:
      throw new Error(`no signer for ${alg}`);
  }
  return `${input}.${b64url(sig)}`;
}

// claims for alice, role user, an hour to live, with changes (undefined
// drops a claim).
function claims(changes = {}) {
  const now = Math.floor(Date.now() / 1000);
  const c = {
    sub: 'alice', role: 'user', iss: 'https://app.example.com', aud: 'switchboard',
    name: 'Alice Liddell', email: 'alice@example.com', iat: now, exp: now + 3600,
    ...changes,
  };
  for (const [k, v] of Object.entries(c)) {
    if (v === undefined) delete c[k];
  }
  return c;
}

let sourceSeq = 0;

// jwtAuth returns connect()'s options for joining with token as ticket;
// fresh: from an address of its own (for refusals).
function jwtAuth(token, { fresh = false, authid } = {}) {
  const auth = {
    authmethods: ['ticket'],
    onchallenge: (session, method) => {
      assert.equal(method, 'ticket');
      return token;
    },
  };
  if (authid) auth.authid = authid;
  if (fresh) {
    sourceSeq++;
    const agent = new Agent({ localAddress: `127.${SOURCE_NET}.${sourceSeq >> 8}.${sourceSeq & 255}` });
    auth.transports = [{ type: 'websocket', url: ROUTER_URL, serializers: [makeSerializer(SERIALIZER)], agent }];
  }
  return auth;
}

function refusedWith(reason, text) {
  return (err) => {
    assert.ok(err.closeDetails, `want a refused connection, got ${err}`);
    assert.equal(err.closeDetails.reason, reason, `ABORT reason; close details ${JSON.stringify(err.closeDetails)}`);
    assert.ok(String(err.closeDetails.message).includes(text), `ABORT message ${JSON.stringify(err.closeDetails.message)} does not say ${JSON.stringify(text)}`);
    assert.ok(!String(err.closeDetails.message).includes(SECRET), 'ABORT message carries the secret');
    return true;
  };
}

describe(`AutobahnJS with JWT tickets, serializer ${SERIALIZER}`, () => {
  afterEach(abandonAll);

  it('joins each realm as the token says', TEST, async () => {
    for (const [realm, alg, header, changes, role] of [
      ['hs', 'HS256', {}, {}, 'user'],
      ['rs', 'RS256', {}, {}, 'user'],
      ['es', 'ES256', {}, {}, 'user'],
      ['ed', 'EdDSA', { kid: 'ed1' }, { role: undefined }, 'viewer'],
    ]) {
      const p = await connect({ realm, auth: jwtAuth(jws(alg, claims(changes), header), { authid: 'alice' }) });
      const w = p.welcome;
      assert.equal(w.authid, 'alice', `${realm}: WELCOME authid`);
      assert.equal(w.authrole, role, `${realm}: WELCOME authrole`);
      assert.equal(w.authmethod, 'ticket', `${realm}: WELCOME authmethod`);
      assert.equal(w.authprovider, 'jwt', `${realm}: WELCOME authprovider`);
      if (realm === 'hs') {
        assert.deepEqual({ ...w.authextra }, { name: 'Alice Liddell', email: 'alice@example.com' }, 'WELCOME authextra');
      }
      await p.close();
    }
  });

  it("applies the role's permissions", TEST, async () => {
    const topic = uri('news');
    const user = await connect({ realm: 'ed', auth: jwtAuth(jws('EdDSA', claims(), { kid: 'ed1' })) });
    const viewer = await connect({ realm: 'ed', auth: jwtAuth(jws('EdDSA', claims({ sub: 'bob', role: 'viewer' }), { kid: 'ed1' })) });
    assert.equal(viewer.welcome.authrole, 'viewer');
    const events = await viewer.subscribe(topic);
    await user.publish(topic, ['hello']);
    assert.deepEqual((await events.next()).args, ['hello']);
    await assert.rejects(viewer.publish(topic, ['no']), (err) => err.error === 'wamp.error.not_authorized');
    await user.close();
    await viewer.close();
  });

  it('is refused with the failed check named', TEST, async () => {
    const past = Math.floor(Date.now() / 1000) - 60;
    const future = Math.floor(Date.now() / 1000) + 3600;
    const rsaPublicPEM = readFileSync(join(DIR, 'rsa.pem'));
    // An HS256 token whose HMAC key is the RSA public key: what an attacker
    // can compute, since the key is public.
    const input = `${b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }))}.${b64url(JSON.stringify(claims()))}`;
    const confused = `${input}.${b64url(createHmac('sha256', rsaPublicPEM).update(input).digest())}`;
    const forged = jws('HS256', claims()).replace(/\.[^.]+$/, `.${b64url(createHmac('sha256', 'not the secret').update('x').digest())}`);
    for (const [name, realm, token, reason, text, opts] of [
      ['expired', 'hs', jws('HS256', claims({ exp: past })), 'wamp.error.authentication_failed', 'exp: the token expired'],
      ['future nbf', 'hs', jws('HS256', claims({ nbf: future })), 'wamp.error.authentication_failed', 'nbf: the token is not valid before'],
      ['wrong signature', 'hs', forged, 'wamp.error.authentication_failed', 'signature:'],
      ['alg none', 'rs', jws('none', claims()), 'wamp.error.authentication_failed', 'alg: unsigned token (alg none) refused'],
      ['HS256 with the RSA public key', 'rs', confused, 'wamp.error.authentication_failed', 'alg: HS256 fits none of the configured keys'],
      ['wrong issuer', 'hs', jws('HS256', claims({ iss: 'https://evil.example.com' })), 'wamp.error.authentication_failed', 'iss: wrong issuer'],
      ['wrong audience', 'rs', jws('RS256', claims({ aud: ['api', 'other'] })), 'wamp.error.authentication_failed', 'aud: wrong audience'],
      ['realm claim for another realm', 'es', jws('ES256', claims({ realm: 'hs' })), 'wamp.error.authentication_failed', 'realm: the token is for realm "hs"'],
      ['authid is not sub', 'hs', jws('HS256', claims()), 'wamp.error.authentication_failed', 'authid: HELLO authid "mallory"', { authid: 'mallory' }],
      ['role not in the realm', 'hs', jws('HS256', claims({ role: 'admin' })), 'wamp.error.no_such_role', '"admin"'],
    ]) {
      await assert.rejects(
        connect({ realm, auth: jwtAuth(token, { fresh: true, ...opts }) }),
        refusedWith(reason, text),
        name,
      );
    }
  });

  it('is closed when its token expires', TEST, async () => {
    const exp = Math.floor(Date.now() / 1000) + 2;
    const p = await connect({ realm: 'ed', auth: jwtAuth(jws('EdDSA', claims({ exp }), { kid: 'ed1' })) });
    // Waits on the close itself; TEST's timeout only bounds a hang.
    const { reason, details } = await p.closed;
    assert.equal(details.reason, 'switchboard.close.token_expired', `close ${reason} ${JSON.stringify(details)}`);
    assert.ok(Date.now() / 1000 >= exp - 1, 'closed before its token expired');
  });
});
