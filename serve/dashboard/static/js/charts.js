// Hand-written SVG charts: a time-series line chart and a category × cluster heat map (an HTML table).
// No library: a few hundred data points at most, drawn once per refresh.

import { h, s } from "./dom.js";

export const PALETTE = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7",
  "#9c755f", "#bab0ac"];

const W = 720;
const M = { left: 48, right: 14, top: 12, bottom: 30 };
const pad = (n) => String(n).padStart(2, "0");

/** 1, 2, 5 × 10^k step that gives about `count` ticks up to `max`. */
function niceStep(max, count) {
  const raw = Math.max(max, 1) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((m) => m * mag).find((st) => st >= raw);
}

function tickLabel(t, stepMs) {
  const d = new Date(t);
  const day = `${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
  if (stepMs >= 86400000) return day;
  return d.getUTCHours() === 0 ? day : `${pad(d.getUTCHours())}:00`;
}

/** Bucket starts (UTC-aligned, like the API's) from `from` to `to`. */
export function buckets(from, to, stepMs) {
  const out = [];
  for (let t = Math.floor(from / stepMs) * stepMs; t <= to; t += stepMs) out.push(t);
  return out;
}

/**
 * series: [{name, color, points: [{t: epoch ms, v}]}]; with fillZero every bucket between from and to
 * gets a point (counts), without it only the buckets that have data (measurements such as durations).
 */
export function lineChart({ series, from, to, stepMs, height = 220, yFormat = String, fillZero = true, label }) {
  const iw = W - M.left - M.right;
  const ih = height - M.top - M.bottom;
  const xs = buckets(from, to, stepMs);
  const x0 = xs[0];
  const x1 = Math.max(xs[xs.length - 1], x0 + stepMs);
  const x = (t) => M.left + ((t - x0) / (x1 - x0)) * iw;
  const lines = series.map((sr) => {
    const byT = new Map(sr.points.map((p) => [p.t, p.v]));
    const pts = fillZero ? xs.map((t) => ({ t, v: byT.get(t) || 0 })) : [...sr.points].sort((a, b) => a.t - b.t);
    return { ...sr, pts };
  });
  const maxV = Math.max(1, ...lines.flatMap((l) => l.pts.map((p) => p.v)));
  const yStep = niceStep(maxV, 4);
  const yMax = Math.ceil(maxV / yStep) * yStep;
  const y = (v) => M.top + ih - (v / yMax) * ih;
  const svg = s("svg", { viewBox: `0 0 ${W} ${height}`, class: "chart", role: "img", "aria-label": label || "chart" });
  for (let v = 0; v <= yMax + 1e-9; v += yStep) {
    svg.append(s("line", { x1: M.left, x2: W - M.right, y1: y(v), y2: y(v), class: "grid" }),
      s("text", { x: M.left - 6, y: y(v) + 4, class: "tick", "text-anchor": "end" }, yFormat(v)));
  }
  const every = Math.max(1, Math.ceil(xs.length / 7));
  xs.forEach((t, i) => {
    if (i % every) return;
    svg.append(s("line", { x1: x(t), x2: x(t), y1: M.top + ih, y2: M.top + ih + 4, class: "axis" }),
      s("text", { x: x(t), y: height - 8, class: "tick", "text-anchor": "middle" }, tickLabel(t, stepMs)));
  });
  svg.append(s("line", { x1: M.left, x2: W - M.right, y1: M.top + ih, y2: M.top + ih, class: "axis" }));
  for (const l of lines) {
    if (!l.pts.length) continue;
    const d = l.pts.map((p, i) => `${i ? "L" : "M"}${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`).join("");
    svg.append(s("path", { d, class: "series", stroke: l.color, "data-series": l.name }));
    for (const p of l.pts) {
      if (!p.v && fillZero) continue;
      svg.append(s("circle", { cx: x(p.t), cy: y(p.v), r: 3, fill: l.color, class: "point" },
        s("title", {}, `${l.name} · ${tickLabel(p.t, stepMs)} (${new Date(p.t).toISOString().slice(0, 16)}Z): ${yFormat(p.v)}`)));
    }
  }
  return svg;
}

export function legend(series) {
  return h("ul", { class: "legend" }, series.map((sr) =>
    h("li", {}, h("span", { class: "swatch", style: `background:${sr.color}` }), sr.name,
      sr.total !== undefined ? h("span", { class: "muted" }, ` ${sr.total}`) : null)));
}

/**
 * The category × cluster heat map as a table: rows are categories, columns clusters, each cell the
 * number of incidents; `href(category, cluster)` links a cell to the filtered incident list.
 */
export function heatMap({ cells, href }) {
  const categories = [...new Set(cells.map((c) => c.category))].sort();
  const clusters = [...new Set(cells.map((c) => c.cluster))].sort();
  const count = new Map(cells.map((c) => [`${c.category}\u0000${c.cluster}`, c.count]));
  const max = Math.max(1, ...cells.map((c) => c.count));
  const head = h("tr", {}, h("th", { scope: "col" }, "category \\ cluster"),
    clusters.map((cl) => h("th", { scope: "col", class: "rot" }, h("span", {}, cl))));
  const rows = categories.map((cat) => h("tr", {}, h("th", { scope: "row" }, cat), clusters.map((cl) => {
    const n = count.get(`${cat}\u0000${cl}`) || 0;
    const alpha = n ? 0.18 + 0.82 * (n / max) : 0;
    return h("td", { class: n ? "hot" : "cold", style: n ? `background:rgba(198,40,40,${alpha.toFixed(2)})` : null,
      "data-category": cat, "data-cluster": cl, title: `${cat} in ${cl}: ${n} incident(s)` },
    n ? h("a", { href: href(cat, cl) }, String(n)) : "");
  })));
  return h("table", { class: "heat" }, h("thead", {}, head), h("tbody", {}, rows));
}
