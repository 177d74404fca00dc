// permessage-deflate (RFC 7692) with the ws package for Node.js, which
// offers it on every connection (its perMessageDeflate option is true by
// default), as Chromium does. Raw WAMP JSON messages over ws, so that the
// test sees the socket itself: the negotiated extension, and the bytes on
// the wire.
//
//   SWITCHBOARD_URL=ws://127.0.0.1:8080/ws node --test deflate.test.mjs

import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import WebSocket from 'ws';
import { ROUTER_URL, TEST, assertWampID, uri } from './lib.mjs';

// WAMP message types used here.
const HELLO = 1, WELCOME = 2, GOODBYE = 6;
const PUBLISH = 16, PUBLISHED = 17, SUBSCRIBE = 32, SUBSCRIBED = 33, EVENT = 36;
const CALL = 48, RESULT = 50, REGISTER = 64, REGISTERED = 65, INVOCATION = 68, YIELD = 70;

// A compressible payload of 64 KiB of JSON: a quote feed.
function payload() {
  const rows = [];
  let size = 2;
  for (let i = 0; size < 64 * 1024; i++) {
    const row = { id: i, symbol: `SYM${String(i % 97).padStart(3, '0')}`, bid: 100 + (i % 50) / 4, ask: 100.25 + (i % 50) / 4 };
    size += JSON.stringify(row).length + 1;
    rows.push(row);
  }
  return rows;
}

const open = new Set();

// Peer is one WebSocket with a queue of the WAMP messages it received.
class Peer {
  static async connect() {
    const ws = new WebSocket(ROUTER_URL, ['wamp.2.json']); // perMessageDeflate: true, the default
    const p = new Peer(ws);
    open.add(p);
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: HTTP ${res.statusCode}`)));
    });
    return p;
  }

  constructor(ws) {
    this.ws = ws;
    this.queue = [];
    this.waiters = [];
    this.isClosed = null; // {code, reason} once closed
    this.closed = new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: String(reason) })));
    this.closed.then((c) => {
      this.isClosed = c;
      this.wake();
    });
    ws.on('message', (data) => {
      this.queue.push(JSON.parse(data));
      this.wake();
    });
  }

  wake() {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  send(msg) {
    this.ws.send(JSON.stringify(msg));
  }

  // next resolves with the first message of type want not yet taken,
  // leaving the others queued (WAMP orders PUBLISHED and the publisher's
  // own EVENT in no particular way); it rejects if the connection closes
  // first, or on an ABORT or ERROR.
  async next(want) {
    for (;;) {
      const bad = this.queue.find((m) => m[0] === 3 || m[0] === 8);
      assert.equal(bad, undefined, `router sent ${JSON.stringify(bad)}`);
      const i = this.queue.findIndex((m) => m[0] === want);
      if (i >= 0) {
        return this.queue.splice(i, 1)[0];
      }
      if (this.isClosed) {
        throw new Error(`connection closed (${this.isClosed.code} ${this.isClosed.reason}) while waiting for message type ${want}`);
      }
      await new Promise((resolve) => this.waiters.push(resolve));
    }
  }

  async join() {
    this.send([HELLO, 'realm1', { roles: { publisher: {}, subscriber: {}, caller: {}, callee: {} } }]);
    const welcome = await this.next(WELCOME);
    assertWampID(welcome[1], 'session id');
  }

  // bytesRead and bytesWritten count what crossed the socket, compressed.
  get bytesRead() {
    return this.ws._socket.bytesRead;
  }
  get bytesWritten() {
    return this.ws._socket.bytesWritten;
  }

  async leave() {
    this.send([GOODBYE, {}, 'wamp.close.close_realm']);
    await this.next(GOODBYE);
    this.ws.close(1000);
    const { code } = await this.closed;
    assert.equal(code, 1000, 'close code');
    open.delete(this);
  }
}

after(() => {
  for (const p of open) p.ws.terminate();
});

describe('permessage-deflate with the ws package', () => {
  it('is negotiated, and a 64 KiB payload crosses compressed both ways', TEST, async () => {
    const sub = await Peer.connect();
    const pub = await Peer.connect();
    for (const p of [sub, pub]) {
      assert.equal(p.ws.protocol, 'wamp.2.json', 'subprotocol');
      assert.ok(p.ws.extensions.split(',').includes('permessage-deflate'), `extensions ${JSON.stringify(p.ws.extensions)}`);
      await p.join();
    }

    const topic = uri('deflate');
    sub.send([SUBSCRIBE, 1, {}, topic]);
    await sub.next(SUBSCRIBED);
    pub.send([SUBSCRIBE, 1, {}, topic]);
    await pub.next(SUBSCRIBED);

    const rows = payload();
    const size = JSON.stringify(rows).length;
    assert.ok(size >= 64 * 1024, `payload of ${size} bytes`);
    const subBefore = sub.bytesRead;
    const pubBefore = pub.bytesWritten;
    pub.send([PUBLISH, 2, { acknowledge: true, exclude_me: false }, topic, [rows], { n: rows.length }]);
    const published = await pub.next(PUBLISHED);
    assert.equal(published[1], 2, 'PUBLISHED request id');
    assertWampID(published[2], 'publication id');
    for (const p of [sub, pub]) {
      const ev = await p.next(EVENT);
      assert.equal(ev[2], published[2], 'EVENT publication id');
      assert.deepEqual(ev[4], [rows], 'EVENT args');
      assert.deepEqual(ev[5], { n: rows.length }, 'EVENT kwargs');
    }
    // Compressed, the payload is a fraction of its size on the wire.
    const wrote = pub.bytesWritten - pubBefore;
    const read = sub.bytesRead - subBefore;
    assert.ok(wrote < size / 4, `publisher wrote ${wrote} bytes for a ${size}-byte payload`);
    assert.ok(read < size / 4, `subscriber read ${read} bytes for a ${size}-byte payload`);

    // A call: INVOCATION and RESULT are compressed per connection.
    const proc = uri('deflate.echo');
    sub.send([REGISTER, 3, {}, proc]);
    const registered = await sub.next(REGISTERED);
    pub.send([CALL, 4, {}, proc, [rows]]);
    const inv = await sub.next(INVOCATION);
    assert.equal(inv[2], registered[2], 'INVOCATION registration id');
    assert.deepEqual(inv[4], [rows], 'INVOCATION args');
    sub.send([YIELD, inv[1], {}, inv[4]]);
    const before = pub.bytesRead;
    const result = await pub.next(RESULT);
    assert.equal(result[1], 4, 'RESULT request id');
    assert.deepEqual(result[3], [rows], 'RESULT args');
    assert.ok(pub.bytesRead - before < size / 4, `caller read ${pub.bytesRead - before} bytes for the result`);

    for (const p of [sub, pub]) await p.leave();
  });
});
