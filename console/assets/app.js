// The console page: polls api/state once a second and renders it; the
// kill and reload actions POST with the CSRF header the server requires.
"use strict";

const pollMs = 1000;
const csrf = { "X-Switchboard-Console": "1" };
const $ = (sel) => document.querySelector(sel);
let updates = 0;
let killTarget = null;

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v;
    else if (k.startsWith("data-")) e.setAttribute(k, v);
    else e[k] = v;
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(c ?? ""));
  return e;
}

function table(head, rows, numeric) {
  const t = el("table");
  t.append(el("thead", {}, el("tr", {}, ...head.map((h, i) => el("th", { class: numeric.includes(i) ? "num" : "" }, h)))));
  const body = el("tbody");
  for (const r of rows) body.append(r);
  t.append(body);
  return t;
}

function duration(s) {
  s = Math.floor(s);
  const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
  if (d) return `${d}d ${h}h`;
  if (h) return `${h}h ${m}m`;
  if (m) return `${m}m ${s % 60}s`;
  return `${s}s`;
}

function rate(v) {
  return v >= 100 ? String(Math.round(v)) : v.toFixed(1);
}

function flash(msg, err) {
  const f = $("#flash");
  f.textContent = msg;
  f.className = err ? "err" : "";
  f.hidden = false;
}

function renderRates(d) {
  const r = d.rates;
  for (const fig of document.querySelectorAll("figure[data-chart]")) {
    const names = [...fig.querySelectorAll("[data-series]")].map((li) => li.dataset.series);
    drawChart(fig.querySelector("canvas"), r.times, names.map((n) => r.series[n] || []));
    for (const n of names) {
      const s = r.series[n] || [];
      $("#rate-" + n).textContent = s.length ? rate(s[s.length - 1]) : "0";
    }
  }
  const t = d.totals;
  $("#totals").textContent = t.metrics_disabled
    ? "metrics are disabled on this node (metrics.enabled: false): no rates"
    : `${t.events_published} events published, ${t.events_delivered} delivered, ${t.events_dropped} dropped; ` +
      `${t.calls} calls; ${t.sessions_opened} sessions opened, ${t.sessions_closed} closed; ` +
      `${t.bytes_in} bytes in, ${t.bytes_out} out`;
  $("#totals").dataset.eventsPublished = String(t.events_published);
}

function renderRealms(d) {
  const box = $("#realms");
  box.replaceChildren(el("h2", {}, "Realms"));
  for (const r of d.realms) {
    const sec = el("div", { class: "realm", "data-realm": r.name });
    sec.append(el("h3", {}, r.name + " ", el("small", {},
      `${r.session_count} sessions, ${r.subscriptions.length} subscriptions, ${r.registrations.length} registrations, ${r.pending_calls} pending calls`)));
    const rows = r.sessions.map((s) => {
      const kill = el("button", { type: "button", class: "kill", textContent: "Kill" });
      kill.addEventListener("click", () => askKill(r.name, s.id));
      return el("tr", { "data-session": String(s.id), "data-authid": s.authid },
        el("td", {}, String(s.id)), el("td", {}, s.authid), el("td", {}, s.authrole),
        el("td", {}, s.transport), el("td", {}, s.serializer), el("td", {}, s.remote),
        el("td", { title: s.joined }, new Date(s.joined).toLocaleTimeString()),
        el("td", { class: "num" }, String(s.queue)), el("td", { class: "num" }, String(s.dropped)),
        el("td", {}, kill));
    });
    sec.append(table(["session", "authid", "authrole", "transport", "serializer", "remote", "joined", "queue", "dropped", ""], rows, [7, 8]));
    if (r.sessions.length < r.session_count) {
      sec.append(el("p", { class: "muted" }, `showing ${r.sessions.length} of ${r.session_count} sessions`));
    }
    if (r.subscriptions.length) {
      sec.append(table(["subscription", "topic", "match", "subscribers"],
        r.subscriptions.map((s) => el("tr", { "data-subscription": s.uri },
          el("td", {}, String(s.id)), el("td", {}, s.uri), el("td", {}, s.match), el("td", { class: "num" }, String(s.subscribers)))), [3]));
    }
    if (r.registrations.length) {
      sec.append(table(["registration", "procedure", "match", "invoke", "callees"],
        r.registrations.map((g) => el("tr", { "data-registration": g.uri },
          el("td", {}, String(g.id)), el("td", {}, g.uri), el("td", {}, g.match), el("td", {}, g.invoke), el("td", { class: "num" }, String(g.callees)))), [4]));
    }
    box.append(sec);
  }
}

function renderCluster(c) {
  const box = $("#cluster-body");
  if (!c) {
    box.replaceChildren(el("p", { class: "muted" }, "This node runs alone (no cluster: in its config)."));
    return;
  }
  const state = c.linked ? "linked" : "not linked: " + (c.not_linked_reason || "");
  const facts = el("p", {},
    `cluster ${c.name}, node ${c.node}; NATS ${c.nats_connected ? "connected" : "disconnected"}, ${state}; ` +
    `round trip ${(c.nats_rtt_seconds * 1000).toFixed(2)} ms; events forwarded ${c.events_forwarded}, received ${c.events_received}; ` +
    `disconnects ${c.disconnects}, send failures ${c.send_failures}; last failure: ` +
    (c.last_failure ? `${c.last_failure} (${new Date(c.last_failure_at).toLocaleString()})` : "none seen"));
  box.replaceChildren(facts, table(["member", "id", "alive", "synced", "sessions"],
    c.members.map((m) => el("tr", { "data-member": m.name },
      el("td", {}, m.name + (m.self ? " (this node)" : "")), el("td", {}, m.id), el("td", {}, m.alive ? "yes" : "no"),
      el("td", {}, m.synced ? "yes" : "no"), el("td", { class: "num" }, String(m.sessions)))), [4]));
}

function render(d) {
  $("#node").textContent = d.host;
  $("#version").textContent = d.version;
  $("#uptime").textContent = duration(d.uptime_seconds);
  $("#user").textContent = d.user;
  renderRates(d);
  renderRealms(d);
  renderCluster(d.cluster);
  const cfg = JSON.stringify(d.config, null, 2);
  if ($("#config-body").textContent !== cfg) $("#config-body").textContent = cfg;
}

async function poll() {
  try {
    const resp = await fetch("api/state", { headers: { Accept: "application/json" }, credentials: "same-origin" });
    if (resp.status === 401) {
      location.href = "login";
      return;
    }
    if (!resp.ok) throw new Error(`HTTP ${resp.status}`);
    render(await resp.json());
    updates++;
    document.body.dataset.updates = String(updates);
    document.body.dataset.ready = "true";
    $("#status").textContent = "live";
    $("#status").className = "status ok";
  } catch (err) {
    $("#status").textContent = "no data: " + err.message;
    $("#status").className = "status err";
  }
  setTimeout(poll, pollMs);
}

async function post(path, body) {
  const resp = await fetch(path, {
    method: "POST",
    credentials: "same-origin",
    headers: { ...csrf, "Content-Type": "application/json" },
    body: body ? JSON.stringify(body) : "{}",
  });
  let data = {};
  try { data = await resp.json(); } catch (_) { /* an empty answer */ }
  if (!resp.ok) throw new Error(data.error || `HTTP ${resp.status}`);
  return data;
}

function askKill(realm, id) {
  killTarget = { realm, session: id };
  $("#kill-realm").textContent = realm;
  $("#kill-session").textContent = String(id);
  $("#kill-reason").value = "";
  $("#kill-dialog").showModal();
}

$("#kill-dialog").addEventListener("close", async () => {
  if ($("#kill-dialog").returnValue !== "kill" || !killTarget) return;
  const t = { ...killTarget, reason: $("#kill-reason").value };
  killTarget = null;
  try {
    await post("api/kill", t);
    flash(`Session ${t.session} of ${t.realm} killed.`);
  } catch (err) {
    flash(`Kill failed: ${err.message}`, true);
  }
});

$("#kill-cancel").addEventListener("click", () => $("#kill-dialog").close("cancel"));

$("#reload").addEventListener("click", async () => {
  if (!confirm("Reload the config file now, as SIGHUP does?")) return;
  try {
    await post("api/reload");
    flash("Config reloaded.");
  } catch (err) {
    flash(`Reload refused: ${err.message}`, true);
  }
});

$("#logout").addEventListener("click", async () => {
  try { await post("logout"); } finally { location.href = "login"; }
});

poll();
