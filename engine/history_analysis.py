"""History-aware analysis: the past incidents like this one, and the patterns they show.

For an incident, the past incidents (any cluster, no time window, up to 50) that share one of its
alert names, its workload (namespace + name) or its node, with what was done then and how it
ended. From them: recurrence counts, the same fault across clusters, and the same remediation
applied again and again — memory raised 128Mi → 256Mi → 512Mi for a workload that keeps being
OOM-killed is a leak, not sizing. Memory limits come from the past incidents' own Parquet evidence,
so the diagnosis does not depend on who raised them (fleetsre in auto mode, or a person).

With a semantic memory (``engine.memory``), the past incidents closest in meaning — the same failure
mode on other workloads, in other clusters, under other alert names — join the list (matched on
``semantic``), deduplicated against the ones DuckDB found.
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import duckdb

from engine.history import HistoryStore
from engine.incident import Incident
from engine.report import History, PastIncident, Report

__all__ = ["SimilarIncidents", "analyse_history", "find_similar", "semantic_similar"]

log = logging.getLogger("fleetsre.history")

MAX_SIMILAR = 50
MAX_SEMANTIC = 5


class SimilarIncidents(Protocol):
    """What analyse_history needs of a memory (``engine.memory.SemanticMemory``)."""

    def similar_incidents(self, text: str, k: int = 5, exclude_id: str | None = None) -> list[dict[str, Any]]: ...


def _subject_key(inc_key: str) -> str | None:
    return inc_key if inc_key.startswith(("workload:", "node:")) else None


def find_similar(store: HistoryStore, inc: Incident, limit: int = MAX_SIMILAR) -> list[dict[str, Any]]:
    """Past incidents sharing an alert name, the workload or the node, newest first."""
    names = sorted({a.alertname for a in inc.alerts})
    key = _subject_key(inc.key)
    nodes = sorted({a.labels["node"] for a in inc.alerts if a.labels.get("node")})
    node_keys = [f"node:{n}" for n in nodes]
    rows = store.query(
        """
        WITH by_name AS (
            SELECT DISTINCT incident_id FROM alerts WHERE alertname IN (SELECT unnest(?::VARCHAR[]))
              AND incident_id IS NOT NULL)
        SELECT i.*, (i.id IN (SELECT incident_id FROM by_name)) AS m_alertname,
               (i.key = ?) AS m_workload, (i.key IN (SELECT unnest(?::VARCHAR[]))) AS m_node
        FROM incidents i
        WHERE i.id <> ? AND i.status <> 'merged' AND i.opened_at <= ?
          AND (i.id IN (SELECT incident_id FROM by_name) OR i.key = ? OR i.key IN (SELECT unnest(?::VARCHAR[])))
        ORDER BY i.opened_at DESC, i.id LIMIT ?""",
        [names, key or "", node_keys, inc.id, inc.opened_at, key or "", node_keys, limit],
    )
    return rows


def _outcome(row: dict[str, Any]) -> str:
    if row.get("resolved_at") and row.get("opened_at"):
        minutes = (row["resolved_at"] - row["opened_at"]).total_seconds() / 60
        return f"resolved after {minutes:.0f} min"
    return "still open" if row.get("status") == "open" else str(row.get("status") or "")


def _action(report: dict[str, Any] | None) -> str:
    if not report:
        return ""
    done = [a for a in report.get("actions") or [] if a.get("mutates") and a.get("status") in ("done", "recommended")]
    if done:
        a = done[0]
        verb = "did" if a["status"] == "done" else "recommended"
        return f"{verb}: {a.get('tool')} {a.get('result') or ''}".strip()
    recs = sorted(report.get("recommendations") or [], key=lambda r: r.get("priority", 99))
    return f"recommended: {recs[0]['action']}" if recs else ""


def _memory_limits(data_dir: Path, incident_ids: list[str], workload: str) -> dict[str, int]:
    """Incident id → the workload's largest container memory limit then, read from its evidence."""
    ns, _, name = workload.partition("/")
    out: dict[str, int] = {}
    root = Path(data_dir) / "evidence"
    for iid in incident_ids:
        files = sorted(root.glob(f"cluster=*/incident={iid}/containers.parquet"))
        if not files:
            continue
        paths = ", ".join("'" + str(f).replace("'", "''") + "'" for f in files)
        con = duckdb.connect(":memory:")
        try:
            found = con.execute(
                f"""SELECT max(c.memory_limit_bytes) FROM read_parquet([{paths}]) c
                    JOIN read_parquet([{paths.replace('containers.parquet', 'pods.parquet')}]) p
                      ON p.name = c.pod AND p.namespace = c.namespace
                    WHERE c.namespace = ? AND p.workload_name = ? AND NOT c.init""",
                [ns, name],
            ).fetchone()
        except duckdb.Error:
            found = None
        finally:
            con.close()
        if found and found[0]:
            out[iid] = int(found[0])
    return out


def _fmt_bytes(n: int) -> str:
    for unit, size in (("Gi", 2**30), ("Mi", 2**20), ("Ki", 2**10)):
        if n >= size and n % size == 0:
            return f"{n // size}{unit}"
    return str(n)


def _leak_finding(past: list[dict[str, Any]], inc: Incident, report: Report, current_limit: int | None,
                  data_dir: Path) -> str | None:
    """The workload was OOM-killed again and again while its memory limit kept rising."""
    if report.root_cause.category != "oom_killed" or not inc.key.startswith("workload:"):
        return None
    ooms = [p for p in past if p.get("category") == "oom_killed" and p.get("key") == inc.key]
    if len(ooms) < 2:
        return None
    limits = _memory_limits(data_dir, [p["id"] for p in ooms], inc.key.removeprefix("workload:"))
    series = [limits[p["id"]] for p in sorted(ooms, key=lambda p: p["opened_at"]) if p["id"] in limits]
    if current_limit:
        series.append(current_limit)
    rising = [b for a, b in zip(series, series[1:], strict=False) if b > a]
    if len(series) >= 3 and len(rising) == len(series) - 1:
        steps = " → ".join(_fmt_bytes(x) for x in series)
        return (f"memory limit raised {steps} and the workload is still OOM-killed: that is a leak (or "
                f"unbounded growth), not sizing; raising it again only delays the next kill")
    return None


def _current_limit(data_dir: Path, inc: Incident) -> int | None:
    if not inc.key.startswith("workload:"):
        return None
    return _memory_limits(data_dir, [inc.id], inc.key.removeprefix("workload:")).get(inc.id)


def _when(value: Any) -> datetime | None:
    if isinstance(value, datetime) or value is None:
        return value
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None


def semantic_similar(memory: SimilarIncidents, inc: Incident, report: Report, known: set[str],
                     k: int = MAX_SEMANTIC) -> list[PastIncident]:
    """Past incidents of the same category closest in meaning to this report, not already in ``known``.

    Same category only: in a rules report a neighbour of another failure mode is noise (the LLM tools
    see every hit with its score). Incidents opened after this one are left out, as in find_similar,
    so a replay reads as it did then."""
    from engine.memory import incident_text

    try:
        hits = memory.similar_incidents(incident_text(report, [a.alertname for a in inc.alerts]),
                                        k=k + len(known), exclude_id=inc.id)
    except Exception:  # memory enriches the report; it must never cost the report
        log.warning("semantic memory search failed for %s", inc.id, exc_info=True)
        return []
    floor = getattr(memory, "min_score", 0.0)
    out: list[PastIncident] = []
    for h in hits:
        opened, resolved = _when(h.get("opened_at")), _when(h.get("resolved_at"))
        if (h.get("incident_id") in known or h.get("incident_id") == inc.id or h.get("score", 0) < floor
                or h.get("category") != report.root_cause.category or (opened and opened > inc.opened_at)):
            continue
        when = opened or resolved or report.generated_at
        outcome = (f"resolved after {(resolved - opened).total_seconds() / 60:.0f} min" if opened and resolved
                   else ("resolved" if resolved else ""))
        subject = str(h.get("subject") or "")
        out.append(PastIncident(
            incident_id=h["incident_id"], cluster=h.get("cluster") or "", opened_at=when, resolved_at=resolved,
            category=h.get("category"), subject=subject.split(" ", 1)[-1], matched_on=["semantic"],
            outcome=outcome, score=h.get("score"), summary=h.get("summary") or ""))
        if len(out) >= k:
            break
    return out


def analyse_history(store: HistoryStore, inc: Incident, report: Report, data_dir: Path,
                    memory: SimilarIncidents | None = None) -> History:
    """The history section of ``report`` for ``inc``, from the store and the past incidents' evidence
    (and, with ``memory``, the past incidents closest in meaning)."""
    rows = find_similar(store, inc)
    reports = store.latest_reports([r["id"] for r in rows])
    similar = [
        PastIncident(
            incident_id=r["id"], cluster=r["cluster"], opened_at=r["opened_at"], resolved_at=r.get("resolved_at"),
            category=r.get("category"), subject=(r.get("key") or "").split(":", 1)[-1],
            matched_on=[m for m in ("alertname", "workload", "node") if r.get(f"m_{m}")],
            action=_action(reports.get(r["id"])), outcome=_outcome(r),
        )
        for r in rows
    ]
    semantic = semantic_similar(memory, inc, report, {p.incident_id for p in similar}) if memory else []
    similar += semantic
    recurrence = Counter(m for p in similar for m in p.matched_on)
    same_fault = [r for r in rows if r.get("key") == inc.key and r.get("category") == report.root_cause.category]
    clusters = sorted({r["cluster"] for r in same_fault} | ({inc.cluster} if same_fault else set()))
    findings = []
    if len(same_fault) >= 2:
        findings.append(f"{report.root_cause.category} on {inc.key.split(':', 1)[-1]} has happened "
                        f"{len(same_fault)} times before")
    if len(clusters) >= 2:
        findings.append(f"the same fault appeared in {len(clusters)} clusters: {', '.join(clusters)}")
    leak = _leak_finding(rows, inc, report, _current_limit(data_dir, inc), data_dir)
    if leak:
        findings.append(leak)
    elsewhere = [p for p in semantic if p.subject != inc.key.split(":", 1)[-1]]
    if elsewhere:
        where = ", ".join(f"{p.subject} ({p.cluster})" for p in elsewhere)
        findings.append(f"the same failure mode ({report.root_cause.category}) was seen on other workloads: {where}")
    return History(similar=similar, recurrence=dict(recurrence), clusters=clusters if len(clusters) >= 2 else [],
                   findings=findings, advice=_advice(leak, clusters, same_fault))


def _advice(leak: str | None, clusters: list[str], same_fault: list[dict[str, Any]]) -> str:
    if leak:
        return ("Stop raising the limit: take a heap profile or memory dump of the next instance before it is "
                "killed, and fix the growth; keep the current limit meanwhile.")
    if len(clusters) >= 2:
        return "Fix it once at the source (the shared image, chart or config) rather than cluster by cluster."
    if len(same_fault) >= 2:
        return "This keeps coming back: treat the remediation as a stopgap and file a fix for the root cause."
    return ""

