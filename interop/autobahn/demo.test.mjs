// The demo in web/, in headless Chromium: two pages join, a chat message
// typed in one appears in the other, an event published over HTTP
// (POST /publish) appears in both, the backend's counter reaches both, and
// a page calls the procedure the backend (examples/python) registers; and
// the WebSocket runs with permessage-deflate, as Chromium offers it.
//
// Run by interop/web_test.go, which starts the router (serving web/ on
// the default config) and the backend. Environment:
//   SWITCHBOARD_HTTP        the router's http://host:port
//   SWITCHBOARD_CHROMIUM    the Chromium binary (/usr/bin/chromium)
//   SWITCHBOARD_SCREENSHOT  where to save a screenshot of the second page
//   SWITCHBOARD_PUBLISH     "bridge" (POST /publish) or "wamp" (a WAMP
//                           session, where the listener has no bridge)
import test from "node:test";
import assert from "node:assert/strict";
import { chromium } from "playwright-core";
import autobahn from "autobahn";

const base = process.env.SWITCHBOARD_HTTP;
const executablePath = process.env.SWITCHBOARD_CHROMIUM || "/usr/bin/chromium";
const screenshot = process.env.SWITCHBOARD_SCREENSHOT;
const publishVia = process.env.SWITCHBOARD_PUBLISH || "bridge";

// Only bounds a hang: every wait below is for a condition.
const timeout = 30000;

test("demo in two browser pages", { timeout: 120000 }, async (t) => {
  assert.ok(base, "SWITCHBOARD_HTTP not set");
  const browser = await chromium.launch({
    executablePath,
    // As root (CI) Chromium refuses its sandbox; nothing but our own page
    // runs in it.
    args: ["--no-sandbox", "--disable-dev-shm-usage"],
  });
  t.after(() => browser.close());

  const errors = [];
  const open = async (name) => {
    // ignoreHTTPSErrors: behind the test's nginx the certificate is
    // self-signed.
    const ctx = await browser.newContext({ viewport: { width: 1100, height: 900 }, ignoreHTTPSErrors: true });
    const page = await ctx.newPage();
    page.setDefaultTimeout(timeout);
    page.on("pageerror", (err) => errors.push(`${name}: ${err.message}`));
    page.on("console", (msg) => {
      if (msg.type() === "error") errors.push(`${name} console: ${msg.text()}`);
    });
    // The WebSocket handshake as Chromium saw it (DevTools protocol):
    // Chromium offers permessage-deflate, and the router takes it.
    const cdp = await ctx.newCDPSession(page);
    const handshakes = [];
    cdp.on("Network.webSocketHandshakeResponseReceived", (e) => handshakes.push(e.response));
    await cdp.send("Network.enable");
    const resp = await page.goto(base + "/");
    assert.equal(resp.status(), 200, "GET / status");
    await page.waitForSelector("body[data-ready=true]");
    assert.equal(handshakes.length, 1, `${name}: WebSocket handshakes seen`);
    const h = handshakes[0];
    assert.equal(h.status, 101, `${name}: handshake status`);
    const ext = Object.entries(h.headers).find(([k]) => k.toLowerCase() === "sec-websocket-extensions");
    assert.ok(ext && ext[1].startsWith("permessage-deflate"), `${name}: Sec-WebSocket-Extensions ${JSON.stringify(h.headers)}`);
    return page;
  };
  const alice = await open("alice");
  const bob = await open("bob");
  const ids = await Promise.all([alice, bob].map((p) => p.getAttribute("body", "data-session")));
  assert.notEqual(ids[0], ids[1], "two sessions");
  // ws:// for a page from http://, wss:// from https:// (behind a TLS proxy).
  assert.equal(await alice.textContent("#url"), base.replace(/^http/, "ws") + "/ws");

  // Chat: typed in one page, shown in the other (and in the first).
  await alice.fill("#name", "alice");
  await alice.fill("#message", "hello from alice");
  await alice.click("#send");
  for (const page of [alice, bob]) {
    await page.locator("#messages li", { hasText: "alice: hello from alice" }).waitFor();
  }

  // An event from the server side appears in both.
  const text = "hello over HTTP " + Date.now();
  if (publishVia === "bridge") {
    const resp = await fetch(base + "/publish", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ topic: "com.switchboard.demo.announce", args: [text] }),
    });
    const body = await resp.text();
    assert.equal(resp.status, 200, `POST /publish: ${resp.status} ${body}`);
    assert.ok(Number.isInteger(JSON.parse(body).id), `POST /publish answer ${body}`);
  } else {
    t.diagnostic("SWITCHBOARD_PUBLISH=wamp: publishing from a WAMP session, not POST /publish");
    await wampPublish(base.replace(/^http/, "ws") + "/ws", "com.switchboard.demo.announce", [text]);
  }
  for (const page of [alice, bob]) {
    await page.locator("#announcements li", { hasText: text }).waitFor();
  }

  // The backend's counter reaches both pages, and keeps counting.
  const counter = async (page) => {
    await page.waitForFunction(() => /^\d+$/.test(document.getElementById("counter").textContent));
    return Number(await page.textContent("#counter"));
  };
  const first = await counter(bob);
  await counter(alice);
  await bob.waitForFunction((n) => Number(document.getElementById("counter").textContent) > n, first);

  // A call to the backend's procedure.
  await bob.fill("#a", "20");
  await bob.fill("#b", "22");
  await bob.click("#call");
  await bob.waitForFunction(() => document.getElementById("result").textContent !== "…" &&
                                  document.getElementById("result").textContent !== "?");
  assert.equal(await bob.textContent("#result"), "42");

  if (screenshot) {
    await bob.screenshot({ path: screenshot, fullPage: true });
    t.diagnostic("screenshot: " + screenshot);
  }
  assert.deepEqual(errors, [], "no errors in the pages");
});

// wampPublish publishes one event from a short Node.js session.
function wampPublish(url, topic, args) {
  return new Promise((resolve, reject) => {
    const conn = new autobahn.Connection({ url, realm: "realm1", max_retries: 0 });
    conn.onopen = async (session) => {
      try {
        await session.publish(topic, args, {}, { acknowledge: true });
        resolve();
      } catch (err) {
        reject(err);
      } finally {
        conn.close();
      }
    };
    conn.onclose = (reason) => {
      if (reason !== "closed") reject(new Error("WAMP session: " + reason));
    };
    conn.open();
  });
}
