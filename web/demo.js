// The Switchboard demo: one WAMP session per page, with AutobahnJS.
//
//   com.switchboard.demo.chat      chat messages, published by pages
//   com.switchboard.demo.counter   a counter a backend publishes (retained)
//   com.switchboard.demo.announce  events from backends (POST /publish)
//   com.switchboard.demo.add2      a procedure a backend registers
"use strict";

const CHAT = "com.switchboard.demo.chat";
const COUNTER = "com.switchboard.demo.counter";
const ANNOUNCE = "com.switchboard.demo.announce";
const ADD2 = "com.switchboard.demo.add2";

const $ = (id) => document.getElementById(id);

// The WebSocket endpoint of the router that served this page: same host,
// wss:// when the page came over https:// (as behind a TLS proxy).
const url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws";
$("url").textContent = url;
$("origin").textContent = location.origin;

const nameInput = $("name");
nameInput.value = "guest-" + Math.floor(1000 + Math.random() * 9000);

function addItem(list, parts) {
  const li = document.createElement("li");
  for (const [cls, text] of parts) {
    const span = document.createElement("span");
    span.className = cls;
    span.textContent = text; // never innerHTML: messages come from others
    li.appendChild(span);
  }
  list.appendChild(li);
  list.scrollTop = list.scrollHeight;
}

function setStatus(text, ok) {
  $("status").textContent = text;
  $("status").className = "status " + (ok ? "ok" : "down");
  $("send").disabled = !ok;
  $("call").disabled = !ok;
}

let session = null;

const connection = new autobahn.Connection({
  url: url,
  realm: "realm1",
  // Keep retrying while the router restarts.
  max_retries: -1,
  max_retry_delay: 5,
});

connection.onopen = async (s) => {
  session = s;
  setStatus("connected", true);
  $("session").textContent = "(session " + s.id + ")";
  document.body.dataset.session = String(s.id);
  try {
    await s.subscribe(CHAT, (args, kwargs) => {
      addItem($("messages"), [["who", String(kwargs.name || "?") + ": "], ["text", String(kwargs.text || "")]]);
    });
    await s.subscribe(COUNTER, (args) => {
      $("counter").textContent = String(args[0]);
      $("counter-hint").hidden = true;
    }, { get_retained: true });
    await s.subscribe(ANNOUNCE, (args, kwargs) => {
      const text = args.length ? args.map(String).join(" ") : JSON.stringify(kwargs);
      addItem($("announcements"), [["text", text]]);
    });
    // Tests (and curious readers) can wait for this.
    document.body.dataset.ready = "true";
  } catch (err) {
    setStatus("subscribe failed: " + (err.error || err), false);
  }
};

connection.onclose = (reason, details) => {
  session = null;
  document.body.dataset.ready = "false";
  setStatus(reason === "lost" || reason === "unreachable" ? "reconnecting…" : reason, false);
};

$("chat-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const text = $("message").value.trim();
  if (!text || !session) return;
  $("message").value = "";
  try {
    // exclude_me: false, so that our own message comes back as an event
    // and every page shows the chat in the router's order.
    await session.publish(CHAT, [], { name: nameInput.value, text: text },
                          { exclude_me: false, acknowledge: true });
  } catch (err) {
    addItem($("messages"), [["error", "not sent: " + (err.error || err)]]);
  }
});

$("call-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  if (!session) return;
  $("result").textContent = "…";
  try {
    const sum = await session.call(ADD2, [Number($("a").value), Number($("b").value)]);
    $("result").textContent = String(sum);
  } catch (err) {
    $("result").textContent = err.error === "wamp.error.no_such_procedure"
      ? "no backend registered " + ADD2 + " (start examples/python/service.py)"
      : "error: " + (err.error || err);
  }
});

setStatus("connecting…", false);
connection.open();
