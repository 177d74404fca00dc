// AutobahnJS over WAMP's HTTP long-poll transport, in headless Chromium
// (AutobahnJS's long-poll client needs a browser's XMLHttpRequest): a
// session over long-poll only, a Connection falling back to long-poll in
// a browser without WebSocket, and a page from an origin the router
// refuses. The page is interop/testdata/longpoll/index.html, whose
// window.lp the tests drive.
//
// Run by interop/longpoll_test.go, which starts the router and, on the
// router's WebSocket endpoint, a nexus client that registers the
// procedures called below. Environment:
//   SWITCHBOARD_LONGPOLL_CASE  "session" (the session and fallback tests)
//                              or "refused" (the page's origin is refused)
//   SWITCHBOARD_LONGPOLL_PAGE  the page's URL
//   SWITCHBOARD_LONGPOLL_URL   the router's long-poll base, http://host:port/lp
//   SWITCHBOARD_URL            the router's WebSocket endpoint, ws://host:port/ws
//   SWITCHBOARD_CHROMIUM       the Chromium binary (/usr/bin/chromium)
//   SWITCHBOARD_LONGPOLL_IDLE  if set, the router's request_timeout is
//                              short: the session test also waits for a
//                              receive the router held to its end (204)
import test from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { chromium } from "playwright-core";

const which = process.env.SWITCHBOARD_LONGPOLL_CASE || "session";
const pageURL = process.env.SWITCHBOARD_LONGPOLL_PAGE;
const lpURL = process.env.SWITCHBOARD_LONGPOLL_URL;
const wsURL = process.env.SWITCHBOARD_URL;
const executablePath = process.env.SWITCHBOARD_CHROMIUM || "/usr/bin/chromium";
const idle = Boolean(process.env.SWITCHBOARD_LONGPOLL_IDLE);

// The procedures of the nexus client (interop/longpoll_test.go).
const ADD2 = "com.example.longpoll.add2"; // [a, b] -> a + b
const BURST = "com.example.longpoll.burst"; // [topic, n] publishes 0..n-1 on topic, acknowledged, then -> n

// Only bounds a hang: every wait below is for a condition.
const TEST = { timeout: 120000 };

const uri = (kind) => `com.example.longpoll.${kind}.${randomBytes(6).toString("hex")}`;

let browser;
test.before(async () => {
  assert.ok(pageURL && lpURL && wsURL, "SWITCHBOARD_LONGPOLL_PAGE, SWITCHBOARD_LONGPOLL_URL and SWITCHBOARD_URL must be set");
  browser = await chromium.launch({
    executablePath,
    // As root (CI) Chromium refuses its sandbox; nothing but our own page
    // runs in it.
    args: ["--no-sandbox", "--disable-dev-shm-usage"],
  });
});
test.after(() => browser?.close());

// openPage loads the test page (with query, if any) in a fresh context
// and collects the page's errors into errors.
async function openPage(t, query = "") {
  const ctx = await browser.newContext();
  t.after(() => ctx.close());
  const page = await ctx.newPage();
  page.setDefaultTimeout(30000);
  const errors = [];
  page.on("pageerror", (err) => errors.push(err.message));
  page.on("console", (msg) => {
    if (msg.type() === "error") errors.push(`console: ${msg.text()} (${msg.location().url})`);
  });
  const resp = await page.goto(pageURL + query);
  assert.equal(resp.status(), 200, `GET ${pageURL + query}`);
  assert.equal(await page.evaluate(() => typeof autobahn.Connection), "function", "autobahn.min.js loaded");
  return { page, errors };
}

// checkSession asserts what the router reports about the page's session:
// a long-poll transport with the JSON serializer.
async function checkSession(page, id) {
  const details = await page.evaluate((id) => lp.call("wamp.session.get", [id]), id);
  assert.equal(details.session, id, "wamp.session.get: session");
  assert.equal(details.transport.type, "longpoll", `the router's view of the transport: ${JSON.stringify(details.transport)}`);
  assert.equal(details.transport.serializer, "json", "the router's view of the serializer");
}

// closeCleanly leaves the realm and asserts that the connection closed
// cleanly: GOODBYE answered, then POST <transport>/close answered 204.
async function closeCleanly(page) {
  const closed = await page.evaluate(() => lp.close());
  assert.equal(closed.reason, "closed", `onclose reason: ${JSON.stringify(closed)}`);
  assert.equal(closed.details.reason, "wamp.close.goodbye_and_out", `GOODBYE reply reason: ${JSON.stringify(closed)}`);
  assert.deepEqual(closed.transport, { code: 1000, reason: "transport closed", wasClean: true }, "long-poll transport close");
}

if (which === "session") {
  test("AutobahnJS over long-poll only", TEST, async (t) => {
    const { page, errors } = await openPage(t);
    const opened = await page.evaluate((url) => lp.open([{ type: "longpoll", url }]), lpURL);
    assert.ok(opened.ok, `open over long-poll: ${JSON.stringify(opened)}`);
    assert.ok(Number.isInteger(opened.id) && opened.id > 0, `session id ${opened.id}`);
    assert.equal(opened.transport.type, "longpoll", "transport type");
    assert.equal(opened.transport.protocol, "wamp.2.json", "transport protocol");
    assert.ok(opened.transport.url.startsWith(lpURL + "/"), `transport URL ${opened.transport.url} under ${lpURL}`);
    await checkSession(page, opened.id);

    // Subscribe, and receive our own acknowledged publication.
    const topic = uri("topic");
    await page.evaluate((topic) => lp.subscribe(topic), topic);
    const pubID = await page.evaluate((topic) => lp.publish(topic, ["hello over long-poll"], { exclude_me: false }), topic);
    assert.ok(Number.isInteger(pubID) && pubID > 0, `publication id ${pubID}`);
    assert.deepEqual(await page.evaluate((topic) => lp.waitEvents(topic, 1), topic), ["hello over long-poll"], "own event");

    // A procedure of the nexus client, over WebSocket.
    assert.equal(await page.evaluate((p) => lp.call(p, [20, 22]), ADD2), 42, `${ADD2}(20, 22)`);

    // A burst the nexus client publishes: every event, in order. (Not
    // published from the page: AutobahnJS's long-poll transport sends
    // each message in a request of its own without waiting for the one
    // before, so messages it sends unawaited may reach the router in
    // another order.)
    const n = 100;
    const burst = uri("burst");
    await page.evaluate((topic) => lp.subscribe(topic), burst);
    assert.equal(await page.evaluate(([p, topic, n]) => lp.call(p, [topic, n]), [BURST, burst, n]), n, `${BURST} answer`);
    const got = await page.evaluate(([topic, n]) => lp.waitEvents(topic, n), [burst, n]);
    assert.deepEqual(got, Array.from({ length: n }, (_, i) => i), "the burst, in publication order");

    if (idle) {
      // Nothing more for the page: a receive is held until the router's
      // request_timeout and answered 204; the next one goes out, and the
      // session carries on.
      const held = await page.waitForResponse(
        (r) => r.url().startsWith(opened.transport.url + "/receive") && r.status() === 204,
        { timeout: 60000 },
      );
      t.diagnostic(`a receive answered ${held.status()} after the router held it`);
      assert.equal(await page.evaluate((p) => lp.call(p, [2, 2]), ADD2), 4, `${ADD2}(2, 2) after an idle receive`);
    }

    await closeCleanly(page);
    assert.deepEqual(await page.evaluate(() => lp.internalErrors), [], "AutobahnJS internal errors");
    assert.deepEqual(errors, [], "no errors in the page");
  });

  test("fallback to long-poll in a browser without WebSocket", TEST, async (t) => {
    const { page, errors } = await openPage(t, "?nows");
    assert.equal(await page.evaluate(() => typeof window.WebSocket), "undefined", "the page hid WebSocket");
    const opened = await page.evaluate(
      ([ws, lpu]) => lp.open([{ type: "websocket", url: ws }, { type: "longpoll", url: lpu }]),
      [wsURL, lpURL],
    );
    assert.ok(opened.ok, `open with websocket, then longpoll: ${JSON.stringify(opened)}`);
    assert.equal(opened.transport.type, "longpoll", "transport type after the fallback");
    // The WebSocket transport was tried first and failed.
    const internal = await page.evaluate(() => lp.internalErrors);
    assert.equal(internal.length, 1, `AutobahnJS internal errors: ${JSON.stringify(internal)}`);
    assert.match(internal[0], /could not create WAMP transport 'websocket'/);
    await checkSession(page, opened.id);

    assert.equal(await page.evaluate((p) => lp.call(p, [1, 2]), ADD2), 3, `${ADD2}(1, 2)`);
    const topic = uri("fallback");
    await page.evaluate((topic) => lp.subscribe(topic), topic);
    const pubID = await page.evaluate((topic) => lp.publish(topic, ["after the fallback"], { exclude_me: false }), topic);
    assert.ok(Number.isInteger(pubID) && pubID > 0, `publication id ${pubID}`);
    assert.deepEqual(await page.evaluate((topic) => lp.waitEvents(topic, 1), topic), ["after the fallback"], "own event");

    await closeCleanly(page);
    assert.deepEqual(errors, [], "no errors in the page");
  });
} else if (which === "refused") {
  test("long-poll from a refused origin", TEST, async (t) => {
    assert.notEqual(new URL(pageURL).origin, new URL(lpURL).origin, "the page must come from another origin");
    const { page, errors } = await openPage(t);
    const opened = await page.evaluate((url) => lp.open([{ type: "longpoll", url }]), lpURL);
    assert.equal(opened.ok, false, `the connection opened: ${JSON.stringify(opened)}`);
    // No transport ever opened: unreachable, as AutobahnJS calls it.
    assert.equal(opened.reason, "unreachable", `onclose reason: ${JSON.stringify(opened)}`);
    // The browser refused the answer to the preflight (403, no CORS
    // headers): XMLHttpRequest reports status 0.
    assert.ok(opened.transport, `no long-poll transport close reported: ${JSON.stringify(opened)}`);
    assert.equal(opened.transport.wasClean, false, "transport close");
    assert.match(opened.transport.reason, /^transport open failure \(HTTP\/POST status 0\b/, "transport close reason");
    t.diagnostic(`page errors (the browser's CORS refusal): ${JSON.stringify(errors)}`);
  });
} else {
  throw new Error(`SWITCHBOARD_LONGPOLL_CASE=${which}: want session or refused`);
}
