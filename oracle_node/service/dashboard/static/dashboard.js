// The node dashboard: polls /dashboard/state.json and redraws each panel (no libraries, no CDN).
"use strict";

const SHORT = {
  volatility: "vol", var99: "VaR99", es99: "ES99", initial_margin: "IM", maintenance_margin: "MM",
  liquidation_threshold: "LT", risk_score: "score", confidence: "conf",
};
const COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf", "#7f7f7f"];

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v !== null && v !== undefined) node.setAttribute(k, v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

const fmt = (v, digits) => (v === null || v === undefined ? "–" : Number(v).toFixed(digits ?? 0));
const pct = (v) => (v === null || v === undefined ? "–" : `${Number(v).toFixed(1)} %`);
const short = (a) => (a ? `${a.slice(0, 6)}…${a.slice(-4)}` : "–");
const ago = (now, t) => (t ? `${Math.max(0, now - t).toFixed(0)} s ago` : "–");

function chip(text, kind) {
  return el("span", { class: `chip ${kind || ""}` }, text);
}

function flagChip(flag) {
  const bad = /paused|breaker|drift|retrain|degraded|unrepresentable|not_listed/.test(flag);
  return chip(flag, bad ? "bad" : flag.startsWith("near_") || flag === "bounded_by_dao" ? "warn" : "");
}

function bar(row) {
  // floor -> ceiling, the on-chain value as a filled bar, the wanted value as a tick
  const box = el("div", { class: "bar", title: `${pct(row.position_pct)} of floor→ceiling` });
  if (row.position_pct !== null) {
    box.append(el("div", { class: `fill ${row.near ? "near" : ""}`, style: `width:${Math.min(100, Math.max(0, row.position_pct))}%` }));
  }
  if (row.wanted_pct !== null) {
    box.append(el("div", { class: "tick", style: `left:${Math.min(100, Math.max(0, row.wanted_pct))}%` }));
  }
  return box;
}

function marketCard(m) {
  const head = el("div", { class: "card-head" },
    el("strong", {}, m.market),
    ` on-chain round `, el("span", { "data-market": m.market, "data-col": "round" }, m.round),
    `, computed round ${m.computed_round ?? "–"}, confidence ${m.confidence === null ? "–" : (100 * m.confidence).toFixed(1) + " %"}`,
    m.error ? chip(m.error, "bad") : null);
  const flags = el("div", { class: "flags" }, m.flags.length ? m.flags.map(flagChip) : chip("no flags", "ok"));
  const table = el("table", { class: "fields" },
    el("tr", {}, ["field", "on-chain", "wanted", "signed", "floor", "ceiling", "floor → ceiling", "position",
      "max step", "step used"].map((h) => el("th", {}, h))));
  for (const r of m.fields) {
    const cell = (col, v) => el("td", { "data-market": m.market, "data-field": r.field, "data-col": col }, v);
    table.append(el("tr", { class: r.held_back ? "held" : "" },
      el("td", {}, SHORT[r.field] || r.field),
      cell("onchain", fmt(r.onchain)), cell("wanted", fmt(r.wanted)), cell("signed", fmt(r.signed)),
      cell("floor", r.floor), cell("ceiling", r.ceiling),
      el("td", {}, bar(r)), cell("position", pct(r.position_pct)),
      cell("step", r.step_bp === null ? "–" : `±${r.step_bp}${r.relative ? " (rel)" : ""}`),
      cell("step_used", r.held_back ? `${pct(r.step_used_pct)} held` : pct(r.step_used_pct))));
  }
  return el("div", { class: "card" }, head, flags, table);
}

function renderMarkets(s) {
  return s.markets.map(marketCard);
}

function renderRounds(s) {
  const r = s.rounds;
  const led = r.led === null ? "– (no metrics)"
    : Object.entries(r.led).filter(([, n]) => n > 0).map(([k, n]) => `${k} ${n}`).join(", ") || "none";
  const summary = el("p", {},
    `chain stored round `, el("span", { id: "stored-round" }, s.chain.stored_round),
    ` · epoch ${s.chain.epoch}, k = ${s.chain.threshold} of ${s.chain.signers.length}`,
    ` · this node led: ${led} · co-signed ${r.cosigned ?? "–"} · misses `, el("span", { id: "misses" }, r.misses ?? "–"),
    r.missed_rounds.length ? ` (rounds ${r.missed_rounds.join(", ")})` : "",
    s.chain.error ? chip(s.chain.error, "bad") : null);
  const table = el("table", {}, el("tr", {}, ["round", "leader", "signers", "gas", "latency", "block"].map((h) => el("th", {}, h))));
  r.recent.slice(0, 12).forEach((x, i) => {
    const cell = (col, v, title) => el("td", { "data-row": i, "data-col": col, title }, v);
    table.append(el("tr", {},
      cell("round", x.round), cell("leader", `${short(x.leader)}${x.leader_is_me ? " (this node)" : ""}`, x.leader),
      cell("signers", `${x.signer_count}: ${x.signers.map(short).join(" ")}`),
      cell("gas", x.gas_used.toLocaleString("en")), cell("latency", x.latency_s === null ? `${fmt(x.block_latency_s, 0)} s (block)` : `${fmt(x.latency_s, 2)} s`,
        `slot start → receipt seen by this node; block timestamp − slot start: ${fmt(x.block_latency_s, 0)} s`), cell("block", x.block)));
  });
  return [summary, r.recent.length ? table : el("p", {}, "no accepted round yet")];
}

function renderPeers(s) {
  const table = el("table", {}, el("tr", {}, ["signer", "health", "last co-signed", "last observation", "observed IM / MM / LT (bp)"].map((h) => el("th", {}, h))));
  for (const p of s.peers) {
    const o = p.last_observation;
    const params = o ? Object.entries(o.markets).map(([m, v]) =>
      el("div", {}, `${m} ${v.initial_margin} / ${v.maintenance_margin} / ${v.liquidation_threshold}`)) : "–";
    table.append(el("tr", {},
      el("td", { title: p.url || "" }, `${short(p.address)}${p.me ? " (this node)" : ""}`),
      el("td", {}, chip(p.health, p.health === "ok" ? "ok" : "bad")),
      el("td", {}, p.last_signed_round ?? "–"),
      el("td", {}, o ? `round ${o.round}, ${ago(s.node.now, o.observed_at)}` : "–"),
      el("td", {}, params)));
  }
  return [table];
}

function renderModel(s) {
  const out = [el("p", {}, "model ", el("code", { id: "model-hash" }, s.model.hash), " ",
    s.model.allowed ? chip("allow-listed on-chain", "ok") : chip("NOT allow-listed", "bad"))];
  for (const m of s.markets) {
    const d = m.drivers;
    if (!d) { out.push(el("p", {}, `${m.market}: no attribution record yet`)); continue; }
    const lines = Object.entries(d.outputs || {}).filter(([, xs]) => xs.length).map(([o, xs]) =>
      el("li", {}, `${o}: `, xs.map((x) => `${x.feature} ${x.contribution >= 0 ? "+" : ""}${x.contribution.toPrecision(3)} (${(100 * x.share).toFixed(0)} %)`).join(", ")));
    out.push(el("div", {}, el("strong", {}, `${m.market}`), ` round ${d.round}, values set by ${d.branch}`,
      d.error ? chip(d.error, "bad") : null, lines.length ? el("ul", {}, lines) : el("p", {}, "no feature attribution")));
  }
  return out;
}

function smileSvg(u) {
  const W = 360, H = 180, pad = 30;
  const pts = u.expiries.flatMap((e) => e.curve.filter((p) => p[1] !== null));
  if (!pts.length) return el("p", {}, "no curve");
  const ks = pts.map((p) => p[0]), vs = pts.map((p) => p[1]);
  const [k0, k1, v0, v1] = [Math.min(...ks), Math.max(...ks), Math.min(...vs), Math.max(...vs)];
  const x = (k) => pad + ((k - k0) / (k1 - k0 || 1)) * (W - 2 * pad);
  const y = (v) => H - pad - ((v - v0) / (v1 - v0 || 1)) * (H - 2 * pad);
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  svg.setAttribute("class", "smile");
  const add = (tag, attrs, text) => {
    const n = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, v);
    if (text) n.textContent = text;
    svg.append(n);
  };
  add("line", { x1: pad, y1: H - pad, x2: W - pad, y2: H - pad, stroke: "#999" });
  add("line", { x1: pad, y1: pad, x2: pad, y2: H - pad, stroke: "#999" });
  add("text", { x: W / 2, y: H - 6, "text-anchor": "middle" }, "log-moneyness k");
  add("text", { x: 4, y: pad - 8 }, `IV ${(100 * v1).toFixed(0)} %`);
  add("text", { x: 4, y: H - pad + 14 }, `${(100 * v0).toFixed(0)} %`);
  u.expiries.forEach((e, i) => {
    const d = e.curve.filter((p) => p[1] !== null).map((p, j) => `${j ? "L" : "M"}${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join(" ");
    add("path", { d, fill: "none", stroke: COLOURS[i % COLOURS.length], "stroke-width": 1.5 });
  });
  return svg;
}

function renderSmiles(s) {
  const sm = s.smiles;
  if (!sm) return [el("p", {}, "this node publishes no surfaces (no surfaces: section), or none signed yet")];
  const out = [el("p", {}, `surface report round ${sm.round} (${sm.status})`)];
  for (const u of sm.underlyings) {
    const table = el("table", {}, el("tr", {}, ["", "days", "ATM vol", "a", "b", "ρ", "m", "σ", "forward"].map((h) => el("th", {}, h))));
    u.expiries.forEach((e, i) => table.append(el("tr", {},
      el("td", {}, el("span", { class: "swatch", style: `background:${COLOURS[i % COLOURS.length]}` })),
      el("td", {}, fmt(e.tau_days, 1)), el("td", { "data-col": "atm_vol" }, pct(e.atm_vol === null ? null : 100 * e.atm_vol)),
      el("td", {}, fmt(e.a, 5)), el("td", {}, fmt(e.b, 5)), el("td", {}, fmt(e.rho, 3)), el("td", {}, fmt(e.m, 4)),
      el("td", {}, fmt(e.sigma, 4)), el("td", {}, fmt(e.forward, 1)))));
    out.push(el("div", { class: "underlying" }, el("h3", {}, u.underlying), smileSvg(u), table));
  }
  return out;
}

function renderDrift(s) {
  const table = el("table", {}, el("tr", {}, ["market", "drift flag", "retrain requested"].map((h) => el("th", {}, h))));
  for (const m of s.markets) {
    table.append(el("tr", {}, el("td", {}, m.market),
      el("td", {}, m.drift.flag ? chip("drift", "bad") : chip("none", "ok")),
      el("td", {}, m.drift.retrain ? chip("retrain", "bad") : chip("no", "ok"))));
  }
  return [table];
}

const PANELS = { markets: renderMarkets, rounds: renderRounds, peers: renderPeers, model: renderModel, smiles: renderSmiles, drift: renderDrift };

function render(s) {
  for (const [id, fn] of Object.entries(PANELS)) {
    document.querySelector(`#${id} .body`).replaceChildren(...fn(s));
  }
  const status = document.getElementById("status");
  status.replaceChildren(`signer ${short(s.node.signer)} · round now ${s.node.round_now} · `,
    `chain read ${ago(s.node.now, s.chain.read_at)} · `,
    `updated ${new Date(s.node.now * 1000).toISOString().slice(11, 19)} UTC`);
  status.className = "";
}

async function poll() {
  try {
    const response = await fetch("/dashboard/state.json", { cache: "no-store" });
    const body = await response.json();
    if (!response.ok) throw new Error(body.error || response.statusText);
    render(body);
  } catch (err) {
    const status = document.getElementById("status");
    status.textContent = `no state: ${err.message}`;
    status.className = "stale";
  }
}

poll();
setInterval(poll, Number(document.body.dataset.refreshMs) || 2000);
