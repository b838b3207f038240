// futures-collector dashboard: plain JavaScript, no dependencies.
// Data: /api/status and /api/history at load, /api/events (server-sent events) for live
// updates (`tick` every few seconds, `event` for the feed), /api/funding every 10 s.
"use strict";

const PALETTE = ["#0284c7", "#db2777", "#16a34a", "#ea580c", "#7c3aed", "#0d9488", "#ca8a04", "#4f46e5", "#dc2626", "#65a30d"];
const FUNDING_REFRESH_MS = 10000;
const HISTORY_REFRESH_24H_MS = 60000;
const MAX_EVENTS = 100;
// The browser does not retry a live feed the server refused (503: [web] max_sse_clients).
const LIVE_RETRY_MS = 5000;
const RANGES = { "1h": 3600e3, "24h": 86400e3 };

const state = {
  snap: null,
  clockOffset: 0, // server ms - browser ms
  range: "1h",
  history: {}, // exchange -> [{t, p95_ms, records_per_s}]
  bucketMs: 5000,
  events: [],
  funding: null,
  ticks: 0,
};

// ---------- helpers ----------
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined) continue;
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else if (k === "color") e.style.background = v; // CSSOM: allowed by the CSP, unlike style=""
    else e.setAttribute(k, v);
  }
  for (const c of children) if (c !== null && c !== undefined) e.append(c);
  return e;
}
const $ = (id) => document.getElementById(id);
function serverNow() { return Date.now() + state.clockOffset; }
function fmtMs(v) {
  if (v === null || v === undefined || !isFinite(v)) return "–";
  if (v < 1) return v.toFixed(2) + " ms";
  if (v < 10) return v.toFixed(1) + " ms";
  if (v < 1000) return Math.round(v) + " ms";
  return (v / 1000).toFixed(v < 10000 ? 2 : 1) + " s";
}
function fmtRate(v) {
  if (v === null || v === undefined || !isFinite(v)) return "–";
  if (v === 0) return "0";
  if (v < 10) return v.toFixed(1);
  return Math.round(v).toLocaleString("en-US");
}
function fmtPct(v, digits) {
  if (v === null || v === undefined || !isFinite(v)) return "–";
  return (v * 100).toFixed(digits === undefined ? 1 : digits) + " %";
}
function fmtAge(seconds) {
  if (seconds === null || seconds === undefined || !isFinite(seconds)) return "never";
  if (seconds < 1) return "now";
  if (seconds < 90) return Math.round(seconds) + " s ago";
  if (seconds < 5400) return Math.round(seconds / 60) + " min ago";
  if (seconds < 172800) return (seconds / 3600).toFixed(1) + " h ago";
  return Math.round(seconds / 86400) + " d ago";
}
function fmtDuration(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
  if (d > 0) return d + "d " + h + "h";
  if (h > 0) return h + "h " + m + "m";
  if (m > 0) return m + "m " + (s % 60) + "s";
  return s + "s";
}
function fmtTime(ms) {
  const d = new Date(ms);
  return d.toTimeString().slice(0, 8);
}
function colorOf(id) {
  const ids = exchangeIds();
  const i = Math.max(0, ids.indexOf(id));
  return PALETTE[i % PALETTE.length];
}
function exchangeIds() {
  const ids = new Set(Object.keys(state.history));
  if (state.snap) for (const e of state.snap.exchanges) ids.add(e.id);
  return [...ids].sort();
}
async function getJson(url) {
  const r = await fetch(url, { cache: "no-store" });
  if (!r.ok && r.status !== 503) throw new Error(url + ": HTTP " + r.status);
  return r.json();
}

// ---------- header, alerts, cards ----------
function renderHeader() {
  const s = state.snap;
  if (!s) return;
  $("version").textContent = "v" + s.version;
  const ready = $("ready");
  ready.textContent = s.ready.ready ? "ready" : "not ready";
  ready.className = "badge " + (s.ready.ready ? "ok" : "bad");
  ready.title = [s.ready.config, s.ready.sink, s.ready.exchanges]
    .map((c) => (c.ok ? "✓ " : "✗ ") + c.detail).join("\n");
  const sink = $("sink");
  sink.textContent = "sink " + s.sink.state;
  sink.className = "badge " + ({ ok: "ok", spooling: "warn", failing: "bad", closed: "bad" }[s.sink.state] || "");
  sink.title = (s.sink.detail || "") + "\nconfirmed " + s.sink.confirmed + " · spooled " + s.sink.spooled + " · dropped " + s.sink.dropped + " · failed " + s.sink.failed + " · retries " + s.sink.retries + " · buffered " + s.sink.buffer_depth + " · in spool " + s.sink.spool_records;
  const cfg = $("config");
  const lr = s.config.last_reload;
  cfg.textContent = "config " + (s.config.version || "–") + (lr && lr.result !== "ok" ? " · reload " + lr.result : "");
  cfg.className = "badge " + (lr && lr.result !== "ok" ? "warn" : "plain");
  if (lr) cfg.title = "last reload: " + lr.result + " (" + lr.version + ") " + (lr.message || "");
  $("uptime").textContent = "up " + fmtDuration(s.uptime_seconds);
}

function renderAlerts() {
  const box = $("alerts");
  const alerts = (state.snap && state.snap.alerts) || [];
  box.hidden = alerts.length === 0;
  box.replaceChildren(...alerts.map((a) => el("div", { class: "alert " + a.severity },
    el("span", { class: "rule", text: a.rule + (a.subject ? " · " + a.subject : "") }),
    el("span", { text: a.summary }),
    el("span", { class: "muted", text: "since " + fmtTime(a.since_ms) }))));
}

function statusOf(e) { return e.status || "unknown"; }

function cardFor(e) {
  const status = statusOf(e);
  const plugin = e.plugin ? "plugin " + e.plugin.version : "no plugin loaded";
  const breaker = "breaker " + e.breaker.replace("_", "-");
  const stat = (label, key, value, title) => el("div", null, el("dt", { text: label }), el("dd", { "data-k": key, text: value, title: title || null }));
  const age = e.data_age_seconds;
  const card = el("article", { class: "card " + status, "data-exchange": e.id },
    el("div", { class: "card-head" }, el("h3", { text: e.id }), el("span", { class: "pill " + status, text: status })),
    el("div", { class: "sub", text: plugin + " · " + breaker }),
    el("dl", { class: "stats" },
      stat("p50", "p50", fmtMs(e.latency_ms.p50), "request latency, 50th percentile, last minute"),
      stat("p95", "p95", fmtMs(e.latency_ms.p95), "request latency, 95th percentile, last minute"),
      stat("records/s", "rps", fmtRate(e.records_per_second), "records parsed per second, last minute"),
      stat("req/s", "reqps", fmtRate(e.requests_per_second), "requests per second, last minute"),
      stat("errors", "err", fmtPct(e.error_ratio), "failed share of requests, last minute"),
      stat("updated", "age", fmtAge(age), "age of the newest data")));
  if (age !== null && age !== undefined) card.dataset.dataTs = String(state.snap.now_ms - age * 1000);
  if (e.last_error && status !== "healthy") {
    const when = e.last_error_ms ? fmtAge((state.snap.now_ms - e.last_error_ms) / 1000) + ": " : "";
    card.append(el("div", { class: "lasterr", title: e.last_error, text: "last error " + when + e.last_error }));
  }
  return card;
}

function renderCards() {
  const s = state.snap;
  if (!s) return;
  const box = $("cards");
  if (s.exchanges.length === 0) {
    box.replaceChildren(el("p", { class: "empty", text: "No exchange has reported yet." }));
  } else {
    box.replaceChildren(...s.exchanges.map(cardFor));
  }
  const counts = {};
  for (const e of s.exchanges) counts[statusOf(e)] = (counts[statusOf(e)] || 0) + 1;
  $("exchange-summary").textContent = Object.entries(counts).map(([k, v]) => v + " " + k).join(" · ");
  updateAges();
}

function updateAges() {
  const now = serverNow();
  for (const card of document.querySelectorAll(".card[data-data-ts]")) {
    const dd = card.querySelector('dd[data-k="age"]');
    const age = (now - Number(card.dataset.dataTs)) / 1000;
    dd.textContent = fmtAge(age);
    dd.classList.toggle("stale", age > 120);
  }
  if (state.snap) $("uptime").textContent = "up " + fmtDuration((now - state.snap.started_ms) / 1000);
}

// ---------- charts ----------
// A round grid step so that 4 steps cover `v` (0, 50, 100, 150, 200 rather than 0, 63, 125 …).
function niceStep(v) {
  const raw = v > 0 ? v / 4 : 0.25;
  const p = Math.pow(10, Math.floor(Math.log10(raw)));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= raw) return m * p;
  return 10 * p;
}

function drawChart(canvas, key, fmt) {
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth || 600, h = canvas.clientHeight || 220;
  if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
    canvas.width = Math.round(w * dpr);
    canvas.height = Math.round(h * dpr);
  }
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, w, h);
  const pad = { l: 52, r: 10, t: 8, b: 22 };
  const to = serverNow(), from = to - RANGES[state.range];
  let max = 0;
  const series = [];
  for (const id of exchangeIds()) {
    const pts = (state.history[id] || []).filter((p) => p.t >= from && p[key] !== null && p[key] !== undefined);
    for (const p of pts) max = Math.max(max, p[key]);
    series.push([id, pts]);
  }
  const stepY = niceStep(max * 1.05);
  max = stepY * 4;
  const x = (t) => pad.l + ((t - from) / (to - from)) * (w - pad.l - pad.r);
  const y = (v) => pad.t + (1 - v / max) * (h - pad.t - pad.b);
  ctx.font = "11px system-ui, sans-serif";
  ctx.lineWidth = 1;
  ctx.strokeStyle = "#e2e8f0";
  ctx.fillStyle = "#64748b";
  ctx.textAlign = "right";
  ctx.textBaseline = "middle";
  for (let i = 0; i <= 4; i++) {
    const v = (max / 4) * i, yy = Math.round(y(v)) + 0.5;
    ctx.beginPath(); ctx.moveTo(pad.l, yy); ctx.lineTo(w - pad.r, yy); ctx.stroke();
    ctx.fillText(fmt(v), pad.l - 6, yy);
  }
  ctx.textAlign = "center";
  ctx.textBaseline = "top";
  const step = state.range === "1h" ? 10 * 60e3 : 4 * 3600e3;
  for (let t = Math.ceil(from / step) * step; t <= to; t += step) {
    const xx = Math.round(x(t)) + 0.5;
    ctx.beginPath(); ctx.moveTo(xx, pad.t); ctx.lineTo(xx, h - pad.b); ctx.stroke();
    ctx.fillText(new Date(t).toTimeString().slice(0, 5), xx, h - pad.b + 5);
  }
  let any = false;
  const gap = state.bucketMs * 3;
  for (const [id, pts] of series) {
    if (pts.length === 0) continue;
    any = true;
    ctx.strokeStyle = colorOf(id);
    ctx.fillStyle = colorOf(id);
    ctx.lineWidth = 1.75;
    ctx.beginPath();
    let prev = null;
    for (const p of pts) {
      const xx = x(p.t + state.bucketMs / 2), yy = y(p[key]);
      if (prev === null || p.t - prev > gap) ctx.moveTo(xx, yy); else ctx.lineTo(xx, yy);
      prev = p.t;
    }
    ctx.stroke();
    const last = pts[pts.length - 1];
    ctx.beginPath(); ctx.arc(x(last.t + state.bucketMs / 2), y(last[key]), 2.5, 0, 2 * Math.PI); ctx.fill();
  }
  if (!any) {
    ctx.fillStyle = "#94a3b8";
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    ctx.font = "13px system-ui, sans-serif";
    ctx.fillText("No data in this range yet", (w + pad.l) / 2, h / 2);
  }
}

function renderCharts() {
  drawChart($("latency-chart"), "p95_ms", (v) => (v >= 1000 ? (v / 1000).toFixed(1) + " s" : Math.round(v) + ""));
  drawChart($("throughput-chart"), "records_per_s", (v) => (v >= 1000 ? (v / 1000).toFixed(1) + "k" : v >= 10 || v === 0 ? Math.round(v) + "" : v.toFixed(1)));
  $("legend").replaceChildren(...exchangeIds().map((id) => el("span", null, el("i", { color: colorOf(id) }), id)));
}

async function loadHistory() {
  const h = await getJson("/api/history?range=" + state.range);
  state.bucketMs = h.bucket_seconds * 1000;
  state.history = {};
  for (const [id, pts] of Object.entries(h.exchanges)) state.history[id] = pts;
  renderCharts();
}

function appendPoints(snap) {
  if (state.range !== "1h") return; // 24 h shows minute buckets: refreshed from /api/history
  const from = snap.now_ms - RANGES["1h"];
  for (const e of snap.exchanges) {
    if (!e.point) continue;
    const pts = state.history[e.id] || (state.history[e.id] = []);
    const last = pts[pts.length - 1];
    if (last && last.t === e.point.t) pts[pts.length - 1] = e.point;
    else if (!last || last.t < e.point.t) pts.push(e.point);
    while (pts.length && pts[0].t < from - state.bucketMs) pts.shift();
  }
}

// ---------- plugins ----------
const CANARY_STATE = { comparing: "comparing", promoting: "promoting", held_back: "held back" };

function canaryBlock(c) {
  const kinds = (c.kinds || []).map((k) => k.exchange + " " + k.kind + " " + k.agreed + "/" + c.cycles_required +
    (k.diverged ? " (" + k.diverged + " diverged)" : "") + (k.required ? "" : " · not waited for")).join(" · ");
  const rows = (c.divergences || []).map((d) => {
    const e = (d.examples || [])[0];
    const example = e ? e.raw_symbol + ": " + JSON.stringify(e.active) + " → " + JSON.stringify(e.candidate) : "";
    return el("tr", { "data-field": d.field }, el("td", { text: d.field }),
      el("td", { text: String(d.instruments) }), el("td", { class: "example", text: example }));
  });
  const extra = [];
  if (c.missing_instruments && c.missing_instruments.count) extra.push(c.missing_instruments.count + " instruments missing in the new version");
  if (c.added_instruments && c.added_instruments.count) extra.push(c.added_instruments.count + " instruments only in the new version");
  if (c.new_errors) extra.push(c.new_errors + " new errors" + (c.error_examples && c.error_examples[0] ? ": " + c.error_examples[0] : ""));
  return el("div", { class: "canary " + c.state, "data-canary": c.exchange_id },
    el("div", { class: "canary-head" },
      el("strong", { text: c.exchange_id + " " + c.version }),
      el("span", { class: "pill " + c.state, text: CANARY_STATE[c.state] || c.state }),
      el("span", { class: "muted", text: "running " + c.active_version + " keeps serving · " + c.records_compared + " records compared" })),
    el("div", { class: "small", text: kinds || "waiting for the first compared cycle" }),
    rows.length ? el("table", { class: "divergences" },
      el("thead", null, el("tr", null, el("th", { text: "Field that differs" }), el("th", { text: "Instruments" }), el("th", { text: "Example (running → new)" }))),
      el("tbody", null, ...rows)) : null,
    extra.length ? el("div", { class: "small", text: extra.join(" · ") }) : null,
    c.state === "held_back" ? el("div", { class: "small muted", text: "Decide: futures-collector canary promote " + c.exchange_id + " (serve it anyway) or canary reject " + c.exchange_id }) : null);
}

function renderPlugins() {
  const s = state.snap;
  if (!s) return;
  const plugins = s.plugins || [];
  const canaries = s.plugin_canaries || [];
  const refusals = s.plugin_refusals || [];
  const retired = s.retired_plugins || { versions: 0, mapped_bytes: 0, max: 0 };
  $("canaries").replaceChildren(...canaries.map(canaryBlock));
  const body = $("plugins").tBodies[0];
  if (plugins.length === 0) {
    body.replaceChildren(el("tr", null, el("td", { class: "empty", text: "No plugin loaded yet." })));
  } else {
    body.replaceChildren(...plugins.map((p) => el("tr", { "data-plugin": p.exchange_id },
      el("td", { text: p.exchange_id }), el("td", { text: p.version }), el("td", { text: p.file }),
      el("td", { text: fmtTime(p.loaded_ms) + (p.replaced ? " (replaced)" : "") }))));
  }
  $("plugin-refusals").replaceChildren(...refusals.map((r) => el("li", { class: r.reason === "duplicate" ? "warning" : "critical", text: r.message })));
  const parts = [plugins.length + " loaded"];
  if (canaries.length) parts.push(canaries.length + " canary");
  if (refusals.length) parts.push(refusals.length + " refused");
  parts.push(retired.versions + " retired (" + (retired.mapped_bytes / 1048576).toFixed(1) + " MiB mapped, alert above " + retired.max + ")");
  $("plugin-summary").textContent = parts.join(" · ");
}

// ---------- funding ----------
function renderFunding() {
  const f = state.funding;
  const table = $("funding");
  if (!f || f.rows.length === 0) {
    table.tHead.replaceChildren();
    table.tBodies[0].replaceChildren(el("tr", null, el("td", { class: "empty", text: "No funding rates yet." })));
    $("funding-note").textContent = "";
    return;
  }
  const filter = $("filter").value.trim().toUpperCase();
  const rows = f.rows.filter((r) => !filter || r.symbol.toUpperCase().includes(filter));
  table.tHead.replaceChildren(el("tr", null, el("th", { text: "Symbol" }),
    ...f.exchanges.map((x) => el("th", { text: x })), el("th", { text: "Spread" })));
  table.tBodies[0].replaceChildren(...rows.map((r) => {
    const cells = f.exchanges.map((x) => {
      const c = r.rates[x];
      if (!c || c.annualized === null || c.annualized === undefined) return el("td", { class: "na", text: "–" });
      let cls = c.annualized > 0 ? "pos" : c.annualized < 0 ? "neg" : "";
      if (r.highest === x) cls += " hi";
      if (r.lowest === x) cls += " lo";
      const title = (c.rate !== null ? (c.rate * 100).toFixed(4) + " % per " + (c.interval_hours || "?") + " h" : "") +
        (c.next_funding_ts ? " · next funding " + fmtTime(c.next_funding_ts) : "");
      return el("td", { class: cls.trim(), title: title, text: fmtPct(c.annualized, 2) });
    });
    return el("tr", { "data-symbol": r.symbol }, el("td", { text: r.symbol }), ...cells,
      el("td", { class: "spread", text: r.spread === null ? "–" : fmtPct(r.spread, 2) }));
  }));
  $("funding-note").textContent = rows.length + " of " + f.rows.length + " symbols shown · rate per period in the tooltip · green: longs pay shorts";
}

async function loadFunding() {
  try {
    state.funding = await getJson("/api/funding?limit=300");
    renderFunding();
  } catch (e) { /* next refresh retries */ }
}

// ---------- events ----------
function renderEvents() {
  const list = $("events");
  if (state.events.length === 0) {
    list.replaceChildren(el("li", { class: "empty", text: "No events yet." }));
    return;
  }
  list.replaceChildren(...state.events.map((e) => el("li", { class: e.severity },
    el("time", { text: fmtTime(e.ts_ms), title: new Date(e.ts_ms).toISOString() }),
    el("div", null, el("span", { class: "tag", text: e.kind.replace("_", " ") }),
      e.exchange ? el("span", { class: "ex", text: e.exchange }) : null,
      el("span", { text: e.message })))));
}

function addEvent(e) {
  if (state.events.some((x) => x.id === e.id)) return;
  state.events.unshift(e);
  state.events.sort((a, b) => b.id - a.id);
  state.events.length = Math.min(state.events.length, MAX_EVENTS);
  renderEvents();
}

// ---------- live feed ----------
function applySnapshot(snap) {
  state.snap = snap;
  state.clockOffset = snap.now_ms - Date.now();
  renderHeader();
  renderAlerts();
  renderCards();
  renderPlugins();
  document.body.dataset.state = "live";
}

function connect() {
  const live = $("live");
  const source = new EventSource("/api/events");
  source.addEventListener("open", () => { live.textContent = "● live"; live.className = "badge live on"; });
  source.addEventListener("error", () => {
    live.textContent = "● reconnecting";
    live.className = "badge live off";
    if (source.readyState === EventSource.CLOSED) setTimeout(connect, LIVE_RETRY_MS);
  });
  source.addEventListener("tick", (m) => {
    const snap = JSON.parse(m.data);
    state.ticks += 1;
    document.body.dataset.ticks = String(state.ticks);
    appendPoints(snap);
    applySnapshot(snap);
    renderCharts();
  });
  source.addEventListener("event", (m) => addEvent(JSON.parse(m.data)));
}

async function start() {
  document.querySelectorAll(".range button").forEach((b) => b.addEventListener("click", () => {
    state.range = b.dataset.range;
    document.querySelectorAll(".range button").forEach((o) => o.classList.toggle("on", o === b));
    loadHistory().catch(() => {});
  }));
  $("filter").addEventListener("input", renderFunding);
  window.addEventListener("resize", renderCharts);
  try {
    const status = await getJson("/api/status");
    applySnapshot(status);
    for (const e of status.recent_events.slice().reverse()) addEvent(e);
  } catch (e) {
    $("cards").replaceChildren(el("p", { class: "empty", text: "Cannot reach the collector: " + e.message }));
  }
  await Promise.all([loadHistory().catch(() => {}), loadFunding()]);
  connect();
  setInterval(loadFunding, FUNDING_REFRESH_MS);
  setInterval(() => { if (state.range === "24h") loadHistory().catch(() => {}); }, HISTORY_REFRESH_24H_MS);
  setInterval(updateAges, 1000);
}

start();
