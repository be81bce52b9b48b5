"use strict";
const $ = s => document.querySelector(s);

// The control API's token comes in the URL fragment, which the browser
// never sends to a server; it is kept in this page's memory only, taken
// out of the address bar and history at once, and sent in a header with
// every request (never a cookie, which any other page's requests would
// carry too).
const token = new URLSearchParams(location.hash.slice(1)).get("token") || "";
if (location.hash) history.replaceState(null, "", location.pathname + location.search);
const authHeaders = {"X-Easlocal-Token": token};
// A slip past the Content-Security-Policy shows on the page (and to tests).
window.cspViolations = [];
document.addEventListener("securitypolicyviolation", e => {
  cspViolations.push(e.violatedDirective + " " + e.blockedURI);
  say("the page's Content-Security-Policy blocked " + e.violatedDirective + " " + e.blockedURI, true);
});
const noToken = "this page has no token: open the dashboard URL `easlocal up` printed (the token follows its #); reloading the page forgets it";
const palette = ["#0969da", "#8250df", "#bf3989", "#1a7f37", "#9a6700", "#0a7ea4", "#6e7781", "#e16f24"];
const colors = {};
let state = null;

function color(name) {
  if (!colors[name]) colors[name] = palette[Object.keys(colors).length % palette.length];
  return colors[name];
}

function el(tag, attrs, text) {
  const e = document.createElement(tag);
  for (const k in attrs || {}) e.setAttribute(k, attrs[k]);
  if (text !== undefined) e.textContent = text;
  return e;
}

function say(text, bad) {
  const m = $("#msg");
  m.textContent = text;
  m.className = bad ? "bad" : "muted";
}

async function post(url, what) {
  if (!token) { say(noToken, true); return false; }
  try {
    const r = await fetch(url, {method: "POST", headers: authHeaders, credentials: "omit", cache: "no-store"});
    const body = await r.json().catch(() => ({}));
    if (!r.ok) { say(what + " failed: " + (body.error || r.status), true); return false; }
    say(what + (body.message ? ": " + body.message : " done"));
    return true;
  } catch (e) { say(what + " failed: " + e, true); return false; }
}

function stateClass(i) {
  if (i.paused) return "info";
  if (i.state === "Running") return i.ready ? "ok" : "warn";
  if (i.state === "CrashLoopBackOff" || i.state === "Failed") return "bad";
  return "warn";
}

const probeMark = {success: "✓", failure: "✗", unknown: "?"};
const probeClass = {success: "ok", failure: "bad", unknown: "warn"};

function renderProbes(td, containers) {
  td.replaceChildren();
  for (const c of containers || []) {
    const div = el("div");
    div.append(el("span", {class: "mono"}, c.name + " "));
    const st = el("span", {class: "badge " + (c.state === "Running" ? "ok" : "warn")}, c.state + (c.reason ? " (" + c.reason + ")" : ""));
    div.append(st, " ");
    for (const k of ["startup", "liveness", "readiness"]) {
      const p = (c.probes || {})[k];
      if (!p) continue;
      const s = el("span", {class: "probe " + (probeClass[p.result] || "muted"), title: k + ": " + p.result + (p.output ? " — " + p.output : "")},
        k + " " + (probeMark[p.result] || p.result));
      div.append(s);
    }
    if (c.last_exit && c.last_exit.message) div.append(el("div", {class: "muted"}, "last exit: " + c.last_exit.message));
    td.append(div);
  }
}

function lastRate(name) {
  const r = state && state.rates;
  if (!r || !r.length || !r[r.length - 1].instances) return "–";
  const v = r[r.length - 1].instances[name];
  return v === undefined ? "0" : v.toFixed(1);
}

function renderInstances(st) {
  const tbody = $("#instances tbody");
  const seen = new Set();
  for (const i of st.instances) {
    seen.add(i.name);
    let tr = tbody.querySelector(`tr[data-instance="${CSS.escape(i.name)}"]`);
    if (!tr) {
      tr = el("tr", {"data-instance": i.name});
      for (const c of ["name", "ip", "state", "ready", "restarts num", "probes", "rps num", "act"]) tr.append(el("td", {class: c}));
      tr.querySelector(".name").append(el("span", {class: "mono"}, i.name), el("div", {class: "muted rev"}));
      const act = tr.querySelector(".act");
      const acts = [["kill", "Kill", "danger"], ["pause", "Pause", ""], ["unpause", "Unpause", ""]];
      const box = el("div", {class: "actions"});
      for (const [a, label, cls] of acts) {
        const b = el("button", {"data-act": a, "data-instance": i.name, class: cls, "aria-label": label + " " + i.name}, label);
        b.addEventListener("click", () => post(`../v1/instances/${encodeURIComponent(i.name)}/${a}`, label + " " + i.name));
        box.append(b);
      }
      act.append(box);
      tbody.append(tr);
    }
    const u = st.update && st.update.phase !== "Complete" ? st.update : null;
    tr.querySelector(".rev").textContent = i.revision ? "revision " + i.revision + (u ? (i.revision === u.revision ? " (new)" : " (old)") : "") : "";
    tr.querySelector(".ip").textContent = i.ip || "–";
    const s = tr.querySelector(".state");
    s.replaceChildren(el("span", {class: "badge " + stateClass(i)}, (i.paused ? "Paused" : i.state) + (i.reason ? " · " + i.reason : "")));
    if (i.message) s.append(el("div", {class: "muted"}, i.message));
    for (const f of (st.faults || []).filter(f => f.instance === i.name)) s.append(el("span", {class: "badge bad", "data-fault": f.id}, "fault: " + f.kind));
    const r = tr.querySelector(".ready");
    r.textContent = i.ready ? "✓ ready" : "✗ not ready";
    r.className = "ready " + (i.ready ? "ok" : "bad");
    tr.querySelector(".restarts").textContent = i.restarts;
    tr.querySelector(".rps").textContent = lastRate(i.name);
    renderProbes(tr.querySelector(".probes"), i.containers);
  }
  for (const tr of [...tbody.rows]) if (!seen.has(tr.dataset.instance)) tr.remove();
  if (!st.instances.length && !tbody.rows.length) {
    const tr = el("tr", {"data-instance": ""});
    tr.append(el("td", {colspan: 8, class: "muted"}, "no instances (scale up to start one)"));
    tbody.append(tr);
  }
}

function faultText(f) {
  const arg = {loss: ` ${f.percent}%`, bandwidth: ` ${f.rate}`, "http-delay": ` ${f.delay}`, "http-abort": f.reset ? " reset" : ` ${f.status}`}[f.kind] || "";
  const ends = f.ends ? "until " + new Date(f.ends).toLocaleTimeString() : "until cleared";
  return `fault ${f.id}: ${f.kind}${arg} on ${f.instance || "every instance"}, ${ends}`;
}

function renderFaults(faults) {
  $("#faults").replaceChildren(...(faults || []).map(f => el("li", {class: "bad", "data-fault": f.id}, faultText(f))));
}

function renderEndpoints(eps) {
  const ol = $("#endpoints");
  ol.replaceChildren(...eps.map(e => el("li", {class: "mono"}, `${e.instance} → ${e.ip}:${e.port}`)));
  $("#ep-count").textContent = `(${eps.length})`;
  if (!eps.length) ol.append(el("li", {class: "bad"}, "none: the gateway answers 503"));
}

function renderLoad(l) {
  const b = $("#load");
  b.disabled = !l.available;
  b.setAttribute("aria-pressed", l.on ? "true" : "false");
  b.textContent = l.on ? `Load: on (${l.rate}/s)` : "Load: off";
}

const NS = "http://www.w3.org/2000/svg";
function svg(tag, attrs, text) {
  const e = document.createElementNS(NS, tag);
  for (const k in attrs) e.setAttribute(k, attrs[k]);
  if (text !== undefined) e.textContent = text;
  return e;
}

function renderChart(rates) {
  const W = 600, H = 180, L = 34, B = 18, T = 6;
  const c = $("#chart");
  c.querySelectorAll(":not(desc)").forEach(n => n.remove());
  // The axis grows with the history from 1 to 3 minutes, so a fresh page is not all empty.
  const now = rates.length ? rates[rates.length - 1].t : Date.now();
  const span = Math.min(180000, Math.max(60000, rates.length ? now - rates[0].t : 0));
  const names = new Set();
  let max = 1;
  for (const r of rates) {
    max = Math.max(max, r.total, r.errors);
    for (const n in r.instances || {}) { names.add(n); max = Math.max(max, r.instances[n]); }
  }
  max = Math.ceil(max * 1.15);
  const x = t => L + (W - L - 4) * (1 - (now - t) / span);
  const y = v => T + (H - T - B) * (1 - v / max);
  for (const v of [0, max / 2, max]) {
    c.append(svg("line", {x1: L, x2: W - 4, y1: y(v), y2: y(v), stroke: "#d0d7de"}));
    c.append(svg("text", {x: L - 4, y: y(v) + 4, "text-anchor": "end", "font-size": 11, fill: "#57606a"}, Math.round(v)));
  }
  c.append(svg("text", {x: L, y: H - 3, "font-size": 11, fill: "#57606a"}, span > 90000 ? "−" + Math.round(span / 60000) + " min" : "−" + Math.round(span / 1000) + " s"));
  c.append(svg("text", {x: W - 4, y: H - 3, "font-size": 11, fill: "#57606a", "text-anchor": "end"}, "now"));
  const line = (get, stroke, dash) => {
    const pts = rates.map(r => `${x(r.t).toFixed(1)},${y(get(r) || 0).toFixed(1)}`).join(" ");
    if (pts) c.append(svg("polyline", {points: pts, fill: "none", stroke, "stroke-width": 2, "stroke-dasharray": dash || "none"}));
  };
  const legend = $("#legend");
  legend.replaceChildren();
  const key = (name, col, dash) => {
    const s = el("span");
    const i = el("i");
    i.style.background = dash ? `repeating-linear-gradient(90deg, ${col} 0 4px, transparent 4px 7px)` : col;
    s.append(i, name);
    legend.append(s);
  };
  line(r => r.total, "#24292f", "5 3"); key("all requests/s", "#24292f", true);
  for (const n of [...names].sort()) { line(r => (r.instances || {})[n], color(n)); key(n, color(n)); }
  line(r => r.errors, "#cf222e"); key("errors/s (5xx, 429, 450)", "#cf222e");
  const last = rates[rates.length - 1];
  $("#chart-note").textContent = !rates.length ? "collecting…" :
    `now: ${last.total.toFixed(1)} req/s, error rate ${last.total ? (100 * last.errors / last.total).toFixed(0) : 0}%` +
    (names.size ? "" : " · per-instance rates need the gateway's upstream hook");
}

function render(st) {
  state = st;
  const s = st.status;
  $("#svc").textContent = s.name;
  $("#gw").textContent = (s.gateway_url || "") + "/api/predict/" + s.name;
  const ready = s.instances.filter(i => i.ready).length;
  $("#counts").textContent = `${ready}/${s.desired} ready` +
    (s.update && s.update.phase !== "Complete" ? ` · rolling update to revision ${s.update.revision}: ${s.update.phase.toLowerCase()}, ${s.update.new_ready}/${s.update.new} new ready, ${s.update.old} old` : "");
  renderInstances(s);
  renderFaults(s.faults);
  renderEndpoints(st.endpoints);
  renderLoad(st.load);
  renderChart(st.rates);
}

// follow reads a server-sent event stream with fetch, since EventSource
// cannot send the token header; onEvent gets (type, data) per event. It
// reconnects after a second (url() may then ask for what was missed),
// except when the token is refused.
async function follow(url, onEvent, onStatus) {
  for (;;) {
    try {
      const r = await fetch(url(), {headers: {...authHeaders, "Accept": "text/event-stream"}, credentials: "omit", cache: "no-store"});
      if (!r.ok) {
        const body = await r.json().catch(() => ({}));
        onStatus(false, body.error || ("HTTP " + r.status));
        if (r.status === 401 || r.status === 403) return;
      } else {
        onStatus(true);
        const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
        let buf = "";
        for (;;) {
          const {value, done} = await reader.read();
          if (done) break;
          buf += value; // the control API ends lines with \n alone
          let i;
          while ((i = buf.indexOf("\n\n")) >= 0) {
            const block = buf.slice(0, i);
            buf = buf.slice(i + 2);
            let type = "message";
            const data = [];
            for (const line of block.split("\n")) {
              if (line.startsWith("event:")) type = line.slice(6).trim();
              else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
            }
            if (data.length) onEvent(type, data.join("\n"));
          }
        }
        onStatus(false, "the stream ended");
      }
    } catch (e) { onStatus(false, String(e)); }
    await new Promise(res => setTimeout(res, 1000));
  }
}

function connect() {
  follow(() => "stream", (type, data) => { if (type === "state") render(JSON.parse(data)); },
    (live, why) => {
      $("#conn").textContent = live ? "live" : "disconnected (" + why + "), retrying…";
      if (!live && why && /token/.test(why)) say(why, true);
    });
}

let lastSeq = -1;
function addEvent(ev) {
  if (ev.seq <= lastSeq) return;
  lastSeq = ev.seq;
  const ul = $("#events");
  const li = el("li", {"data-reason": ev.reason, "data-instance": ev.instance || ""});
  li.append(el("time", {datetime: ev.time}, new Date(ev.time).toLocaleTimeString()));
  li.append(el("span", {class: ev.type === "Warning" ? "bad" : "ok"}, ev.reason), " ");
  li.append(el("span", {}, (ev.instance ? ev.instance + (ev.container ? "/" + ev.container : "") + ": " : "") + ev.message));
  ul.prepend(li);
  while (ul.children.length > 200) ul.lastChild.remove();
}

function followEvents() {
  follow(() => "../v1/events?follow=1&since=" + (lastSeq + 1), (type, data) => { if (type === "event") addEvent(JSON.parse(data)); }, () => {});
}

$("#scale-up").addEventListener("click", () => state && post(`../v1/scale?n=${state.status.desired + 1}`, "Scale to " + (state.status.desired + 1)));
$("#scale-down").addEventListener("click", () => state && state.status.desired > 0 && post(`../v1/scale?n=${state.status.desired - 1}`, "Scale to " + (state.status.desired - 1)));
$("#load").addEventListener("click", async () => {
  const on = $("#load").getAttribute("aria-pressed") !== "true";
  if (await post("load?on=" + (on ? 1 : 0), on ? "Load on" : "Load off")) renderLoad({available: true, on, rate: state ? state.load.rate : 20});
});
// Probe settings at risk on EAS (easlocal advise), refreshed every 5 s.
async function pollAdvice() {
  try {
    const r = await fetch("../v1/advice", {headers: authHeaders, credentials: "omit", cache: "no-store"});
    if (!r.ok) return;
    const risks = (await r.json()).advice.filter(a => a.risk);
    const ul = $("#advice");
    ul.replaceChildren(...risks.map(a => el("li", {class: "bad"},
      "advice: " + a.container + (a.probe ? " " + a.probe : "") + (a.instance ? " (" + a.instance + ")" : "") + ": " + a.message)));
    ul.hidden = risks.length === 0;
  } catch (e) { /* the service is going away */ }
}

if (!token) {
  say(noToken, true);
  $("#conn").textContent = "no token";
} else {
  connect();
  followEvents();
  pollAdvice();
  setInterval(pollAdvice, 5000);
}
