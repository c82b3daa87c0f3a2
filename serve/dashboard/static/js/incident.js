// One incident: its report rendered (root cause, trigger, recommendations, runbook actions, history,
// timeline, evidence, what is missing, postmortem), its alerts and audit trail, and a re-investigate
// button. Reloads when the live feed says this incident changed.

import { api } from "./api.js";
import { badge, debounce, fmtDuration, fmtTime, h, replace, sevClass, subjectText, toast } from "./dom.js";

const ACTION_CLASS = { done: "taken", recommended: "recommended", failed: "failed", refused: "failed", skipped: "skipped" };
const ACTION_LABEL = { done: "taken", recommended: "recommended", failed: "failed", refused: "refused", skipped: "skipped" };

function section(title, id, ...body) {
  return h("section", { class: "card", id }, h("h2", {}, title), ...body);
}

function table(headers, rows, cls = "list") {
  return h("table", { class: cls }, h("thead", {}, h("tr", {}, headers.map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, rows));
}

function worstSeverity(alerts) {
  const order = ["critical", "error", "warning", "info"];
  const ranked = alerts.map((a) => a.severity).filter(Boolean).sort((a, b) => {
    const ia = order.indexOf(a.toLowerCase());
    const ib = order.indexOf(b.toLowerCase());
    return (ia < 0 ? 9 : ia) - (ib < 0 ? 9 : ib);
  });
  return ranked[0] || null;
}

function head(inc, report, onReinvestigate, note) {
  const rc = report && report.root_cause;
  const sev = worstSeverity(inc.alerts || []);
  const took = inc.resolved_at ? fmtDuration((new Date(inc.resolved_at) - new Date(inc.opened_at)) / 1000) : null;
  return h("div", { class: "incident-head" },
    h("div", {},
      h("h1", {}, rc ? subjectText(rc.subject) : subjectText(inc.subject)),
      h("div", { class: "badges" },
        h("span", { id: "incident-category" }, badge(inc.category || "pending", inc.category ? "cat" : "cat pending")),
        badge(inc.status, `status-${inc.status}`), sev ? badge(sev, sevClass(sev)) : null,
        badge(inc.cluster, "cluster"),
        rc ? h("span", { class: "muted" }, `confidence ${rc.confidence.toFixed(2)}`) : null),
      h("div", { class: "muted" }, h("span", { class: "mono" }, inc.id), ` · opened ${fmtTime(inc.opened_at)} UTC`,
        inc.resolved_at ? ` · resolved ${fmtTime(inc.resolved_at)} (${took})` : "",
        inc.merged_into ? [" · merged into ", h("a", { href: `#/incidents/${inc.merged_into}` }, inc.merged_into)] : "")),
    h("div", { class: "actions-box" },
      h("button", { type: "button", id: "reinvestigate", onclick: onReinvestigate }, "Re-investigate"),
      h("div", { id: "reinvestigate-status", class: "muted" }, note)));
}

function rootCause(rc) {
  return section("Root cause", "root-cause",
    h("p", { class: "lead" }, rc.summary),
    h("dl", { class: "kv" },
      h("dt", {}, "category"), h("dd", {}, badge(rc.category, "cat")),
      h("dt", {}, "confidence"), h("dd", {}, h("meter", { min: 0, max: 1, value: rc.confidence }), ` ${rc.confidence.toFixed(2)}`),
      h("dt", {}, "subject"), h("dd", {}, `${subjectText(rc.subject)} in ${rc.subject.cluster}`)));
}

function trigger(t) {
  return section("Trigger", "trigger", h("p", {}, badge(t.kind, `trigger-${t.kind}`), " ", t.detail || "no detail"));
}

function recommendations(recs) {
  return section("What to do", "recommendations", h("ol", { class: "recs" },
    [...recs].sort((a, b) => a.priority - b.priority).map((r) => h("li", {}, r.action,
      r.command ? h("pre", { class: "cmd" }, h("code", {}, r.command)) : null))));
}

function actions(report) {
  const items = report.actions.map((a) => h("li", { class: ["action", `action-${ACTION_CLASS[a.status] || "skipped"}`], "data-status": a.status },
    h("span", { class: "action-status" }, ACTION_LABEL[a.status] || a.status),
    h("b", {}, a.tool), h("span", { class: "muted" }, ` [${a.mode}] ${a.step}`),
    a.result ? h("div", {}, a.result) : null,
    a.command ? h("pre", { class: "cmd" }, h("code", {}, a.command)) : null,
    a.why ? h("div", { class: "muted" }, a.why) : null));
  return section(report.runbook ? `Runbook ${report.runbook}` : "Runbook actions", "actions",
    h("p", { class: "legend-inline muted" }, h("span", { class: "action-taken dot" }), "taken ",
      h("span", { class: "action-recommended dot" }), "recommended ", h("span", { class: "action-failed dot" }), "failed"),
    h("ul", { class: "action-list" }, items));
}

function history(hist) {
  const counts = Object.entries(hist.recurrence || {}).map(([k, n]) => `${n} by ${k}`).join(", ");
  return section("History", "history",
    h("p", {}, `${hist.similar.length} similar past incident(s)`, counts ? ` (${counts})` : "",
      hist.clusters.length ? ` · also seen in ${hist.clusters.join(", ")}` : ""),
    hist.findings.length ? h("ul", { class: "findings" }, hist.findings.map((f) => h("li", {}, h("b", {}, f)))) : null,
    hist.advice ? h("p", {}, "What to do about it: ", hist.advice) : null,
    hist.similar.length ? table(["opened", "cluster", "category", "subject", "matched on", "action", "outcome"],
      hist.similar.map((p) => h("tr", {},
        h("td", { class: "nowrap" }, h("a", { href: `#/incidents/${p.incident_id}` }, fmtTime(p.opened_at))), h("td", {}, p.cluster),
        h("td", {}, p.category || "–"), h("td", {}, p.subject), h("td", {}, p.matched_on.join(", ")),
        h("td", {}, p.action || "–"), h("td", {}, p.outcome)))) : null);
}

function timeline(entries) {
  return section("Timeline", "timeline", table(["time (UTC)", "what", "cluster", "detail"],
    entries.map((t) => h("tr", { class: `tl-${t.kind}` }, h("td", { class: "nowrap mono" }, fmtTime(t.at)),
      h("td", {}, badge(t.kind, `kind-${t.kind}`)), h("td", {}, t.cluster), h("td", { class: "wrap" }, t.text)))));
}

function evidence(items) {
  const kinds = [...new Set(items.map((e) => e.kind))];
  return section("Evidence", "evidence", kinds.map((k) => h("div", { class: "evidence-group" }, h("h3", {}, k),
    table(["source", "cluster", "at (UTC)", "text"], items.filter((e) => e.kind === k).map((e) => h("tr", {},
      h("td", { class: "mono" }, e.source), h("td", {}, e.cluster), h("td", { class: "nowrap" }, fmtTime(e.at)),
      h("td", { class: "wrap" }, e.text)))))));
}

function alertsTable(alerts) {
  return section(`Alerts (${alerts.length})`, "alerts", table(["alert", "severity", "status", "cluster", "target", "starts (UTC)", "ends (UTC)"],
    alerts.map((a) => h("tr", {}, h("td", {}, a.alertname), h("td", {}, a.severity ? badge(a.severity, sevClass(a.severity)) : "–"),
      h("td", {}, a.status), h("td", {}, a.cluster),
      h("td", { class: "mono" }, [a.labels.namespace, a.labels.pod || a.labels.deployment || a.labels.node].filter(Boolean).join("/")),
      h("td", { class: "nowrap" }, fmtTime(a.starts_at)), h("td", { class: "nowrap" }, a.status === "resolved" ? fmtTime(a.ends_at) : "–")))));
}

function auditTrail(events) {
  return h("details", { class: "card", id: "audit" }, h("summary", {}, `Audit trail (${events.length} events)`),
    table(["#", "at (UTC)", "kind", "payload"], events.map((e) => h("tr", {}, h("td", {}, String(e.seq)),
      h("td", { class: "nowrap" }, fmtTime(e.at)), h("td", {}, e.kind),
      h("td", { class: "wrap mono small" }, JSON.stringify(e.payload))))));
}

function body(inc) {
  const r = inc.report;
  if (!r) return [h("div", { class: "card notice", id: "pending" }, "Investigation pending: the report appears here when it is ready."),
    alertsTable(inc.alerts), auditTrail(inc.events)];
  return [rootCause(r.root_cause), trigger(r.root_cause.trigger),
    r.recommendations.length ? recommendations(r.recommendations) : null,
    r.actions && r.actions.length ? actions(r) : null,
    r.history && (r.history.similar.length || r.history.findings.length) ? history(r.history) : null,
    r.timeline.length ? timeline(r.timeline) : null,
    r.evidence.length ? evidence(r.evidence) : null,
    r.missing.length ? section("Not collected", "missing", h("ul", {}, r.missing.map((m) => h("li", {}, m)))) : null,
    r.postmortem ? section("Postmortem", "postmortem", h("pre", { class: "md" }, r.postmortem)) : null,
    alertsTable(inc.alerts), auditTrail(inc.events)];
}

export function render(root, { live, id }) {
  let disposed = false;
  let note = ""; // the re-investigation's state survives the page's live re-renders
  let waiting = false;
  const setNote = (text) => {
    note = text;
    const el = document.getElementById("reinvestigate-status");
    if (el) el.textContent = text;
  };
  async function reinvestigate(e) {
    const btn = e.currentTarget;
    btn.disabled = true;
    waiting = true;
    try {
      await api.reinvestigate(id);
      if (waiting) setNote("scheduled: the report refreshes when it is done");
      toast("Re-investigation scheduled", "ok");
    } catch (err) {
      waiting = false;
      const unsupported = err.status === 405 || (err.status === 404 && err.field !== "incident_id");
      setNote(unsupported ? "re-investigation is not available on this server yet" : `failed: ${err.message}`);
      toast(note, unsupported ? "warn" : "error");
    } finally {
      btn.disabled = false;
    }
  }
  async function load() {
    try {
      const inc = await api.incident(id);
      if (!disposed) replace(root, head(inc, inc.report, reinvestigate, note), body(inc));
    } catch (err) {
      if (!disposed) replace(root, h("div", { class: "error" }, err.status === 404 ? `No incident ${id}.` : `Could not load ${id}: ${err.message}`),
        h("p", {}, h("a", { href: "#/incidents" }, "back to the incident list")));
    }
  }
  const refresh = debounce(load, 300);
  const unsubscribe = live.subscribe((m) => {
    const mine = m.type === "incident" && m.event.incident.id === id;
    if (mine && waiting && ["investigated", "investigation_failed"].includes(m.event.kind)) {
      waiting = false;
      setNote(m.event.kind === "investigated" ? `re-investigated at ${fmtTime(m.event.at)} UTC: the report below is the new one`
        : `the re-investigation failed at ${fmtTime(m.event.at)} UTC (see the audit trail)`);
    }
    if (m.type !== "incident" || mine || m.event.incident.merged_into === id) refresh();
  });
  load();
  return () => { disposed = true; unsubscribe(); };
}
