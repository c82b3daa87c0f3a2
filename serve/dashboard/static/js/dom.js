// DOM helpers: build elements from data without ever parsing HTML (alert labels are untrusted text).

const SVG_NS = "http://www.w3.org/2000/svg";

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function setAttrs(el, attrs) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "class") el.setAttribute("class", Array.isArray(v) ? v.filter(Boolean).join(" ") : v);
    else if (k === "value" && "value" in el) el.value = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  return el;
}

/** h("a", {href: "#/", class: "x"}, "text", child, [more]) */
export function h(tag, attrs, ...children) {
  return append(setAttrs(document.createElement(tag), attrs), children);
}

/** The same for SVG elements. */
export function s(tag, attrs, ...children) {
  return append(setAttrs(document.createElementNS(SVG_NS, tag), attrs), children);
}

export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

export function toast(text, kind = "info") {
  const box = document.getElementById("toasts");
  const t = h("div", { class: `toast toast-${kind}` }, text);
  box.append(t);
  setTimeout(() => t.remove(), 6000);
}

const pad = (n) => String(n).padStart(2, "0");

/** UTC, as everything in fleetsre: "2026-11-23 14:05:09". */
export function fmtTime(iso) {
  if (!iso) return "–";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ` +
    `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
}

export function fmtDuration(seconds) {
  if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return "–";
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.round(s / 60)}m`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.round((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d ${Math.round((s % 86400) / 3600)}h`;
}

export function fmtAgo(iso, now = Date.now()) {
  if (!iso) return "";
  return `${fmtDuration((now - new Date(iso).getTime()) / 1000)} ago`;
}

/** The CSS class for a severity label (critical, error, warning, info, none). */
export function sevClass(sev) {
  const known = ["critical", "error", "warning", "info"];
  const v = (sev || "").toLowerCase();
  return `sev-${known.includes(v) ? v : "none"}`;
}

export function badge(text, cls) {
  return h("span", { class: ["badge", cls] }, text);
}

export function subjectText(subject) {
  if (!subject) return "–";
  const ns = subject.namespace ? `${subject.namespace}/` : "";
  return `${subject.kind || ""} ${ns}${subject.name || ""}`.trim();
}

/** Run fn at most once per `ms`, trailing (live events arrive in bursts). */
export function debounce(fn, ms) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}
