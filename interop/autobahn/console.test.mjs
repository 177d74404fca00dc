// The admin console (console/, docs/console.md) in headless Chromium: a
// wrong password is refused, the admin logs in with the form, sees the
// session of the test's client, sees the event rate move while the test
// publishes, saves a screenshot, and kills the client's session.
//
// Run by interop/console_test.go, which starts the router with console:
// on, a client whose session is to be killed, and a publisher.
// Environment:
//   SWITCHBOARD_HTTP              the router's http://host:port
//   SWITCHBOARD_CHROMIUM          the Chromium binary (/usr/bin/chromium)
//   SWITCHBOARD_SCREENSHOT        where to save the console's screenshot
//   SWITCHBOARD_CONSOLE_USER      the admin's name
//   SWITCHBOARD_CONSOLE_PASSWORD  the admin's password
//   SWITCHBOARD_KILL_SESSION      the id of the session to find and kill
import test from "node:test";
import assert from "node:assert/strict";
import { chromium } from "playwright-core";

const base = process.env.SWITCHBOARD_HTTP;
const executablePath = process.env.SWITCHBOARD_CHROMIUM || "/usr/bin/chromium";
const screenshot = process.env.SWITCHBOARD_SCREENSHOT;
const user = process.env.SWITCHBOARD_CONSOLE_USER;
const password = process.env.SWITCHBOARD_CONSOLE_PASSWORD;
const victim = process.env.SWITCHBOARD_KILL_SESSION;

// Only bounds a hang: every wait below is for a condition.
const timeout = 30000;

test("admin console in the browser", { timeout: 120000 }, async (t) => {
  assert.ok(base && user && password && victim, "environment not set");
  const browser = await chromium.launch({
    executablePath,
    // As root (CI) Chromium refuses its sandbox; nothing but our own page
    // runs in it.
    args: ["--no-sandbox", "--disable-dev-shm-usage"],
  });
  t.after(() => browser.close());
  const open = async () => {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 1000 } });
    const page = await ctx.newPage();
    page.setDefaultTimeout(timeout);
    return page;
  };

  // Nothing without a credential; a wrong password is refused.
  for (const headers of [{}, { Authorization: "Basic " + Buffer.from(`${user}:wrong`).toString("base64") }]) {
    const resp = await fetch(base + "/console/api/state", { headers });
    assert.equal(resp.status, 401, `api/state with ${JSON.stringify(headers)}`);
  }
  const intruder = await open();
  await intruder.goto(base + "/console/");
  assert.ok(intruder.url().endsWith("/console/login"), `unauthenticated page went to ${intruder.url()}`);
  await intruder.fill("#name", user);
  await intruder.fill("#password", "not the password");
  const [refused] = await Promise.all([intruder.waitForNavigation(), intruder.click("#submit")]);
  assert.equal(refused.status(), 401, "wrong password status");
  assert.match(await intruder.textContent("#error"), /Wrong name or password/);
  assert.equal(await intruder.locator("#realms").count(), 0, "console shown after a wrong password");

  // The admin logs in with the form.
  const page = await open();
  const errors = [];
  page.on("pageerror", (err) => errors.push(err.message));
  page.on("console", (msg) => {
    if (msg.type() === "error") errors.push("console: " + msg.text());
  });
  await page.goto(base + "/console/");
  await page.fill("#name", user);
  await page.fill("#password", password);
  await Promise.all([page.waitForURL(base + "/console/"), page.click("#submit")]);
  await page.waitForSelector("body[data-ready=true]");
  assert.equal(await page.textContent("#user"), user);

  // The test client's session is listed.
  const row = page.locator(`tr[data-session="${victim}"]`);
  await row.waitFor();
  assert.match(await row.textContent(), /websocket/);

  // The publisher runs: the published-events rate goes above zero, and
  // the chart gains points as the page polls.
  await page.waitForFunction(() => Number(document.getElementById("rate-events_published").textContent) > 0);
  const points = async () => Number(await page.getAttribute("figure[data-chart=events] canvas", "data-points"));
  const before = await points();
  await page.waitForFunction(
    (n) => Number(document.querySelector("figure[data-chart=events] canvas").dataset.points) > n, before);
  await page.waitForFunction(() => Number(document.getElementById("rate-events_delivered").textContent) > 0);
  const published = Number(await page.getAttribute("#totals", "data-events-published"));
  assert.ok(published > 0, `events published ${published}`);
  // The subscription of the test client, with its one subscriber.
  await page.locator('tr[data-subscription="com.switchboard.console.tick"]').waitFor();

  if (screenshot) {
    await page.screenshot({ path: screenshot, fullPage: true });
    t.diagnostic("screenshot: " + screenshot);
  }

  // Kill the session, with a reason; its row goes.
  await row.locator("button.kill").click();
  await page.fill("#kill-reason", "killed by the console test");
  await page.click("#kill-confirm");
  await page.locator("#flash", { hasText: `Session ${victim} of realm1 killed` }).waitFor();
  await row.waitFor({ state: "detached" });

  assert.deepEqual(errors, [], "no errors in the page");
});
