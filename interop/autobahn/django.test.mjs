// examples/django in headless Chromium: a user logs in to the Django site,
// its page's AutobahnJS joins the router with the JWT that Django issues
// for that user (GET /wamp-token), and the router's permissions for the
// user's role apply. The example's tokens are short-lived here: the router
// closes the session when its token expires (switchboard.close.token_expired) and
// the page rejoins with a fresh one.
//
// Run by interop/jwt_test.go (TestDjangoJWT), which starts the router on
// examples/django/config.yaml and Django with DJANGO_WAMP_TOKEN_TTL set.
// Environment:
//   SWITCHBOARD_DJANGO    Django's http://host:port
//   SWITCHBOARD_CHROMIUM  the Chromium binary (/usr/bin/chromium)
import test from "node:test";
import assert from "node:assert/strict";
import { chromium } from "playwright-core";

const base = process.env.SWITCHBOARD_DJANGO;
const executablePath = process.env.SWITCHBOARD_CHROMIUM || "/usr/bin/chromium";

// Only bounds a hang: every wait below is for a condition.
const timeout = 30000;

test("Django users join as themselves with a JWT", { timeout: 120000 }, async (t) => {
  assert.ok(base, "SWITCHBOARD_DJANGO not set");

  // No token without a login.
  const anon = await fetch(base + "/wamp-token");
  assert.equal(anon.status, 401, "GET /wamp-token without a session");

  const browser = await chromium.launch({
    executablePath,
    // As root (CI) Chromium refuses its sandbox; nothing but our own page
    // runs in it.
    args: ["--no-sandbox", "--disable-dev-shm-usage"],
  });
  t.after(() => browser.close());

  const errors = [];
  const login = async (user, password) => {
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    page.setDefaultTimeout(timeout);
    page.on("pageerror", (err) => errors.push(`${user}: ${err.message}`));
    page.on("console", (msg) => {
      // AutobahnJS 22.11 in a browser answers the router's GOODBYE after
      // it has begun to close the WebSocket (its send awaits the
      // serializer, its close does not), and Chromium reports that send.
      // The router takes the Close frame for the answer.
      if (msg.type() === "error" && msg.text() !== "WebSocket is already in CLOSING or CLOSED state.") {
        errors.push(`${user} console: ${msg.text()}`);
      }
    });
    await page.goto(base + "/");
    assert.ok(page.url().endsWith("/login"), `the live page sends strangers to /login, got ${page.url()}`);
    await page.fill("#username", user);
    await page.fill("#password", password);
    await Promise.all([page.waitForNavigation(), page.click("#login")]);
    return page;
  };

  // A wrong password: no session, no page.
  const wrong = await login("alice", "not-her-password");
  assert.ok(wrong.url().endsWith("/login"), "a wrong password stays on /login");
  assert.match(await wrong.textContent("#error"), /Wrong username or password/);
  errors.length = 0; // the 401 of the refused form is the test's doing

  // alice (customer): joined as herself, with her name from WELCOME
  // authextra; her role may not announce orders.
  const alice = await login("alice", "alice-password");
  await alice.waitForSelector("body[data-ready=true]");
  const attrs = (page) => page.evaluate(() => ({ ...document.body.dataset }));
  let a = await attrs(alice);
  assert.equal(a.authid, "alice");
  assert.equal(a.authrole, "customer");
  assert.equal(a.name, "Alice Liddell");
  assert.equal(a.publish, "wamp.error.not_authorized", "a customer announcing an order");

  // carol (staff) may.
  const carol = await login("carol", "carol-password");
  await carol.waitForSelector("body[data-ready=true]");
  const c = await attrs(carol);
  assert.equal(c.authid, "carol");
  assert.equal(c.authrole, "staff");
  assert.equal(c.publish, "published", "staff announcing an order");

  // An order taken by Django (POST /orders, published through the bridge)
  // reaches alice's page. Her session ends every few seconds with its
  // token, so an order published while she rejoins is missed: post again
  // until one shows.
  for (let i = 0; ; i++) {
    const item = `book-${i}`;
    const resp = await fetch(base + "/orders", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ item, qty: 2 }),
    });
    assert.equal(resp.status, 201, `POST /orders: ${resp.status} ${await resp.text()}`);
    try {
      await alice.locator("#orders li", { hasText: `2 × ${item}` }).waitFor({ timeout: 3000 });
      break;
    } catch (err) {
      if (i >= 10) throw err;
    }
  }

  // The token expires: the router says GOODBYE switchboard.close.token_expired,
  // and AutobahnJS rejoins with a fresh token from Django, as alice still.
  const first = a.session;
  await alice.waitForFunction((s) => document.body.dataset.ready === "true" && document.body.dataset.session !== s, first);
  a = await attrs(alice);
  assert.equal(a.closed, "switchboard.close.token_expired", "why the first session ended");
  assert.equal(a.authid, "alice");
  assert.ok(Number(a.joins) >= 2, `joins ${a.joins}`);

  assert.deepEqual(errors, [], "no errors in the pages");
});
