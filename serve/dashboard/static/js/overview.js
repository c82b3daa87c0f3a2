// Fleet overview: a grid of clusters coloured by open incidents and worst severity, alerts over time,
// the category × cluster heat map and time to resolve over time. Refreshes on every live change.

import { api, qs } from "./api.js";
import { PALETTE, heatMap, legend, lineChart } from "./charts.js";
import { debounce, fmtAgo, h, replace, sevClass } from "./dom.js";

const RANGES = {
  "24h": { bucket: "hour", hours: 24, label: "last 24 hours" },
  "48h": { bucket: "hour", hours: 48, label: "last 48 hours" },
  "7d": { bucket: "day", hours: 7 * 24, label: "last 7 days" },
  "30d": { bucket: "day", hours: 30 * 24, label: "last 30 days" },
};
const STEP_MS = { hour: 3600e3, day: 86400e3 };
const MAX_SERIES = 8;

function tile(c) {
  const state = c.open_incidents ? sevClass(c.worst_severity) : "sev-ok";
  const openCats = c.categories.filter((x) => x.open > 0);
  return h("a", {
    class: ["tile", state], href: `#/incidents${qs({ cluster: c.cluster, status: c.open_incidents ? "open" : "" })}`,
    "data-cluster": c.cluster, "data-open": c.open_incidents, "data-severity": c.worst_severity || "",
  },
  h("div", { class: "tile-head" }, h("span", { class: "tile-name" }, c.cluster),
    c.in_fleet ? null : h("span", { class: "tag", title: "seen in alerts, not in the fleet registry" }, "not in fleet")),
  h("div", { class: "tile-open" }, h("b", {}, String(c.open_incidents)), c.open_incidents === 1 ? " open incident" : " open incidents"),
  h("div", { class: "tile-sev" }, c.open_incidents ? `worst: ${c.worst_severity}` : "healthy"),
  h("div", { class: "tile-alerts muted" }, `${c.alerts.firing} firing · ${c.alerts.total} alerts`,
    c.last_alert_at ? ` · last ${fmtAgo(c.last_alert_at)}` : ""),
  h("div", { class: "chips" }, openCats.slice(0, 3).map((x) => h("span", { class: "chip" }, `${x.category} ×${x.open}`))));
}

function alertSeries(trends, colorOf) {
  const byCluster = new Map();
  for (const p of trends.alerts) {
    if (!byCluster.has(p.cluster)) byCluster.set(p.cluster, []);
    byCluster.get(p.cluster).push({ t: new Date(p.at).getTime(), v: p.count });
  }
  const all = [...byCluster.entries()].map(([name, points]) => ({
    name, points, color: colorOf(name), total: points.reduce((a, p) => a + p.v, 0),
  })).sort((a, b) => b.total - a.total);
  if (all.length <= MAX_SERIES) return all;
  const rest = new Map();
  for (const sr of all.slice(MAX_SERIES - 1)) for (const p of sr.points) rest.set(p.t, (rest.get(p.t) || 0) + p.v);
  const points = [...rest.entries()].map(([t, v]) => ({ t, v }));
  return [...all.slice(0, MAX_SERIES - 1),
    { name: `${all.length - MAX_SERIES + 1} other clusters`, color: "#9e9e9e", points, total: points.reduce((a, p) => a + p.v, 0) }];
}

function card(title, ...body) {
  return h("section", { class: "card" }, h("h2", {}, title), ...body);
}

function draw(root, summary, trends, range, since, until) {
  const colors = new Map(summary.clusters.map((c, i) => [c.cluster, PALETTE[i % PALETTE.length]]));
  const colorOf = (name) => colors.get(name) || PALETTE[colors.size % PALETTE.length];
  const step = STEP_MS[trends.bucket];
  const series = alertSeries(trends, colorOf);
  const resolved = trends.time_to_resolve.reduce((a, b) => a + b.resolved, 0);
  const affected = summary.clusters.filter((c) => c.open_incidents > 0).length;
  const ttr = [
    { name: "median", color: "#4e79a7", points: trends.time_to_resolve.map((b) => ({ t: new Date(b.at).getTime(), v: b.median_s / 60 })) },
    { name: "longest", color: "#e15759", points: trends.time_to_resolve.map((b) => ({ t: new Date(b.at).getTime(), v: b.max_s / 60 })) },
  ];
  const stats = h("div", { class: "stats" },
    h("div", { class: "stat", "data-stat": "open" }, h("b", {}, String(summary.open_incidents)), "open incidents"),
    h("div", { class: "stat" }, h("b", {}, String(summary.firing_alerts)), "firing alerts"),
    h("div", { class: "stat" }, h("b", {}, `${affected}/${summary.clusters.length}`), "clusters with open incidents"),
    h("div", { class: "stat" }, h("b", {}, String(resolved)), `resolved, ${RANGES[range].label}`));
  const picker = h("select", { id: "range", "aria-label": "time range", onchange: (e) => { location.hash = `#/${qs({ range: e.target.value })}`; } },
    Object.entries(RANGES).map(([k, r]) => h("option", { value: k, selected: k === range }, r.label)));
  replace(root,
    h("div", { class: "page-head" }, h("h1", {}, "Fleet"), h("label", { class: "muted" }, "Trends over ", picker)),
    stats,
    h("section", { class: "tiles", id: "cluster-grid" }, summary.clusters.map(tile)),
    h("div", { class: "grid2" },
      card(`Alerts over time (per ${trends.bucket})`, series.length
        ? [lineChart({ series, from: since, to: until, stepMs: step, label: "alerts over time per cluster" }), legend(series)]
        : h("p", { class: "muted empty" }, "No alerts started in this range.")),
      card("Time to resolve", trends.time_to_resolve.length
        ? [lineChart({ series: ttr, from: since, to: until, stepMs: step, fillZero: false, yFormat: (v) => `${Math.round(v)}m`, label: "time to resolve" }), legend(ttr)]
        : h("p", { class: "muted empty" }, "No incident resolved in this range."))),
    card("Incidents by category and cluster", h("div", { id: "heat-map", class: "scroll-x" }, trends.incidents_by_category.length
      ? heatMap({ cells: trends.incidents_by_category, href: (category, cluster) => `#/incidents${qs({ category, cluster })}` })
      : h("p", { class: "muted empty" }, "No incident opened in this range."))));
}

export function render(root, { live, params }) {
  const range = RANGES[params.get("range")] ? params.get("range") : "48h";
  let disposed = false;
  async function load() {
    const until = Date.now();
    const since = until - RANGES[range].hours * 3600e3;
    try {
      const [summary, trends] = await Promise.all([api.summary(), api.trends(RANGES[range].bucket, new Date(since).toISOString())]);
      if (!disposed) draw(root, summary, trends, range, since, until);
    } catch (err) {
      if (!disposed) replace(root, h("div", { class: "error" }, `Could not load the fleet: ${err.message}`));
    }
  }
  const refresh = debounce(load, 300);
  const unsubscribe = live.subscribe(() => refresh());
  load();
  return () => { disposed = true; unsubscribe(); };
}
