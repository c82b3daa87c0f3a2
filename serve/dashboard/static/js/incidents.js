// The incident list: filters (cluster, category, status, severity, time range) kept in the URL, paging,
// and live refresh; incidents that open while the page is open are highlighted for a minute.

import { api, qs } from "./api.js";
import { badge, debounce, fmtTime, h, replace, sevClass, subjectText } from "./dom.js";

const PAGE_SIZE = 25;
const FRESH_MS = 60_000; // how long a row that arrived live stays highlighted
const RANGES = { "": "any time", "1h": "last hour", "6h": "last 6 hours", "24h": "last 24 hours", "7d": "last 7 days",
  "30d": "last 30 days", custom: "between…" };
const HOURS = { "1h": 1, "6h": 6, "24h": 24, "7d": 168, "30d": 720 };
const FILTERS = ["cluster", "category", "status", "severity", "range", "from", "until"];

/** The API's filters for the URL's: time range presets become `since`, datetime-local inputs are UTC. */
export function apiFilters(f, now = Date.now()) {
  const out = { cluster: f.cluster, category: f.category, status: f.status, severity: f.severity };
  if (HOURS[f.range]) out.since = new Date(now - HOURS[f.range] * 3600e3).toISOString();
  if (f.range === "custom") {
    if (f.from) out.since = `${f.from}:00Z`;
    if (f.until) out.until = `${f.until}:00Z`;
  }
  return out;
}

function select(name, label, options, value, onchange) {
  return h("label", {}, label, h("select", { name, onchange },
    options.map(([v, text]) => h("option", { value: v, selected: v === (value || "") }, text))));
}

function filterForm(f, summary, go) {
  const set = (name) => (e) => go({ ...f, [name]: e.target.value, page: "" });
  const opts = (values) => [["", "any"], ...values.map((v) => [v, v])];
  return h("form", { class: "filters", id: "filters", onsubmit: (e) => e.preventDefault() },
    select("cluster", "Cluster", opts(summary.clusters.map((c) => c.cluster)), f.cluster, set("cluster")),
    select("category", "Category", opts(summary.categories), f.category, set("category")),
    select("status", "Status", opts(["open", "resolved", "merged"]), f.status, set("status")),
    select("severity", "Severity", opts([...summary.severities, "none"]), f.severity, set("severity")),
    select("range", "Opened", Object.entries(RANGES), f.range, set("range")),
    f.range === "custom" ? [
      h("label", {}, "from (UTC)", h("input", { type: "datetime-local", name: "from", value: f.from || "", onchange: set("from") })),
      h("label", {}, "until (UTC)", h("input", { type: "datetime-local", name: "until", value: f.until || "", onchange: set("until") })),
    ] : null,
    h("a", { class: "clear", href: "#/incidents" }, "clear filters"));
}

function row(inc, fresh) {
  const href = `#/incidents/${encodeURIComponent(inc.id)}`;
  return h("tr", { "data-id": inc.id, class: fresh ? "fresh" : null },
    h("td", { class: "nowrap" }, fmtTime(inc.opened_at)),
    h("td", { class: "nowrap" }, inc.clusters.join(", ")),
    h("td", {}, h("a", { href }, subjectText(inc.subject))),
    h("td", {}, inc.category ? badge(inc.category, "cat") : badge("pending", "cat pending")),
    h("td", {}, inc.worst_severity ? badge(inc.worst_severity, sevClass(inc.worst_severity)) : "–"),
    h("td", {}, badge(inc.status, `status-${inc.status}`)),
    h("td", { class: "num" }, String(inc.alert_count ?? "–")),
    h("td", { class: "num" }, inc.confidence === null || inc.confidence === undefined ? "–" : inc.confidence.toFixed(2)),
    h("td", {}, inc.trigger_kind || "–"),
    h("td", { class: "mono nowrap" }, h("a", { href }, inc.id)));
}

function pager(page, total, go, f) {
  const pages = Math.max(1, Math.ceil(total / PAGE_SIZE));
  const first = total ? (page - 1) * PAGE_SIZE + 1 : 0;
  const last = Math.min(total, page * PAGE_SIZE);
  return h("div", { class: "pager" },
    h("button", { type: "button", disabled: page <= 1, onclick: () => go({ ...f, page: String(page - 1) }) }, "‹ newer"),
    h("span", { id: "page-info" }, `${first}–${last} of ${total}`, pages > 1 ? ` · page ${page} of ${pages}` : ""),
    h("button", { type: "button", disabled: page >= pages, onclick: () => go({ ...f, page: String(page + 1) }) }, "older ›"));
}

export function render(root, { live, params }) {
  const f = Object.fromEntries(FILTERS.map((k) => [k, params.get(k) || ""]));
  const page = Math.max(1, parseInt(params.get("page") || "1", 10) || 1);
  const go = (next) => { location.hash = `#/incidents${qs(next)}`; };
  const tableBox = h("div", { id: "incident-table" }, h("p", { class: "muted" }, "Loading…"));
  const formBox = h("div", {});
  const arrived = new Map(); // id -> when the live feed said it opened
  let disposed = false;
  replace(root, h("div", { class: "page-head" }, h("h1", {}, "Incidents")), formBox, tableBox);

  async function loadForm() {
    try {
      const summary = await api.summary();
      if (!disposed) replace(formBox, filterForm(f, summary, go));
    } catch (err) {
      if (!disposed) replace(formBox, h("div", { class: "error" }, `Could not load the filters: ${err.message}`));
    }
  }
  async function loadTable() {
    try {
      const res = await api.incidents({ ...apiFilters(f), limit: PAGE_SIZE, offset: (page - 1) * PAGE_SIZE });
      if (disposed) return;
      const now = Date.now();
      const rows = res.items.map((inc) => row(inc, now - (arrived.get(inc.id) ?? -Infinity) < FRESH_MS));
      replace(tableBox, res.items.length
        ? h("table", { class: "list" },
          h("thead", {}, h("tr", {}, ["opened (UTC)", "cluster", "subject", "category", "severity", "status", "alerts",
            "confidence", "trigger", "id"].map((t) => h("th", { scope: "col" }, t)))),
          h("tbody", {}, rows))
        : h("p", { class: "muted empty" }, "No incident matches these filters."),
      pager(page, res.total, go, { ...f, page: String(page) }));
    } catch (err) {
      if (!disposed) replace(tableBox, h("div", { class: "error" }, `Could not load incidents: ${err.message}`));
    }
  }
  const refresh = debounce(loadTable, 300);
  const unsubscribe = live.subscribe((m) => {
    if (m.type === "incident" && m.event.kind === "opened") arrived.set(m.event.incident.id, Date.now());
    refresh();
  });
  loadForm();
  loadTable();
  return () => { disposed = true; unsubscribe(); };
}
