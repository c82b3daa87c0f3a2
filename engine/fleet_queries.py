"""Fleet-wide read queries over the history store: the dashboard's and ``/api/v1/fleet/*``'s data.

- ``fleet_summary``: per cluster, open incidents, worst severity, alert counts and categories.
- ``fleet_trends``: alerts over time per cluster, incidents by category × cluster, time to resolve.
- ``search_incidents``: the incident list with filters (cluster, category, status, severity, time
  range) and a total for paging.
- ``incident_ids``, ``report_fields``, ``worst_severity`` and ``collector_errors_after``: what the
  change feed and the metrics need, cheap enough for the webhook path (primary-key lookups).

An incident counts under every cluster it has alerts in, so a fleet-wide incident shows in each of
its clusters. Time comes in as arguments (``now``, ``since``, ``until``): nothing here reads the
clock. Buckets are truncated in UTC whatever DuckDB's session time zone.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Literal

from engine.fleet_models import SEVERITIES
from engine.history import HistoryStore
from engine.report import CATEGORIES

__all__ = [
    "PENDING",
    "collector_errors_after",
    "fleet_summary",
    "fleet_trends",
    "incident_ids",
    "open_incidents_by_cluster",
    "report_fields",
    "search_incidents",
    "worst_severity",
]

#: The category of an incident that has no report yet.
PENDING = "pending"

_RANK = ("CASE lower(coalesce({col}, '')) "
         + " ".join(f"WHEN '{s}' THEN {len(SEVERITIES) - i}" for i, s in enumerate(SEVERITIES))
         + " ELSE 0 END")

# ``inc``: every incident (merged included) with the clusters of its alerts and its worst severity
_INCIDENTS = f"""
WITH per_incident AS (
    SELECT i.id,
           list_sort(list(DISTINCT a.cluster) FILTER (WHERE a.cluster IS NOT NULL)) AS alert_clusters,
           arg_max(a.severity, {_RANK.format(col='a.severity')}) AS worst_severity
    FROM incidents i LEFT JOIN alerts a ON a.incident_id = i.id
    GROUP BY i.id),
inc AS (
    SELECT i.*, coalesce(p.alert_clusters, [i.cluster]) AS clusters,
           nullif(p.worst_severity, '') AS worst_severity
    FROM incidents i JOIN per_incident p USING (id))
"""


# (incident, cluster) pairs of the incidents that are not merged away
_INCIDENT_CLUSTERS = """
WITH ic AS (
    SELECT DISTINCT i.id, coalesce(a.cluster, i.cluster) AS cluster, i.status,
           coalesce(i.category, 'pending') AS category, i.opened_at
    FROM incidents i LEFT JOIN alerts a ON a.incident_id = i.id
    WHERE i.status <> 'merged')
"""


def _utc(t: datetime | None) -> datetime | None:
    """DuckDB hands back naive UTC for ``AT TIME ZONE 'UTC'`` values; make them aware."""
    if t is None or t.tzinfo is not None:
        return t
    return t.replace(tzinfo=UTC)


# -- summary ----------------------------------------------------------------------------------

def fleet_summary(store: HistoryStore, fleet_clusters: list[str], now: datetime) -> dict[str, Any]:
    """Per cluster: open incidents, worst severity, alert counts, categories (fleet order, then the rest)."""
    alerts = {r["cluster"]: r for r in store.query(
        """SELECT cluster, count(*) FILTER (WHERE status = 'firing') AS firing,
                  count(*) FILTER (WHERE status = 'resolved') AS resolved, count(*) AS total,
                  max(starts_at) AS last_alert_at
           FROM alerts GROUP BY cluster""")}
    cats: dict[str, list[dict[str, Any]]] = {}
    for r in store.query(_INCIDENT_CLUSTERS + """
            SELECT cluster, category, count(*) FILTER (WHERE status = 'open') AS open, count(*) AS total
            FROM ic GROUP BY cluster, category ORDER BY open DESC, total DESC, category"""):
        cats.setdefault(r["cluster"], []).append({k: r[k] for k in ("category", "open", "total")})
    worst = {r["cluster"]: r["severity"] for r in store.query(
        f"""SELECT a.cluster, arg_max(coalesce(a.severity, ''), {_RANK.format(col='a.severity')}) AS severity
            FROM alerts a JOIN incidents i ON a.incident_id = i.id
            WHERE i.status = 'open' AND a.status = 'firing' GROUP BY a.cluster""")}
    names = list(dict.fromkeys(fleet_clusters)) + sorted((set(alerts) | set(cats)) - set(fleet_clusters))
    clusters = [_cluster_summary(n, n in fleet_clusters, alerts.get(n), cats.get(n, []), worst.get(n))
                for n in names]
    open_total = store.query("SELECT count(*) AS n FROM incidents WHERE status = 'open'")[0]["n"]
    return {"generated_at": now, "clusters": clusters, "open_incidents": open_total,
            "firing_alerts": sum(int(a["firing"]) for a in alerts.values()),
            "severities": list(SEVERITIES), "categories": [*CATEGORIES, PENDING]}


def _cluster_summary(name: str, in_fleet: bool, alerts: dict[str, Any] | None, cats: list[dict[str, Any]],
                     worst: str | None) -> dict[str, Any]:
    open_n = sum(c["open"] for c in cats)
    return {
        "cluster": name, "in_fleet": in_fleet, "open_incidents": open_n,
        "incidents_total": sum(c["total"] for c in cats),
        "worst_severity": (worst or "none") if open_n else None,
        "alerts": {k: int((alerts or {}).get(k) or 0) for k in ("firing", "resolved", "total")},
        "categories": cats, "last_alert_at": (alerts or {}).get("last_alert_at"),
    }


def open_incidents_by_cluster(store: HistoryStore) -> dict[str, int]:
    rows = store.query(_INCIDENT_CLUSTERS + "SELECT cluster, count(*) AS n FROM ic WHERE status = 'open' GROUP BY cluster")
    return {r["cluster"]: int(r["n"]) for r in rows}


# -- trends -----------------------------------------------------------------------------------

def fleet_trends(store: HistoryStore, bucket: Literal["hour", "day"], since: datetime,
                 until: datetime) -> dict[str, Any]:
    """Alerts over time per cluster, incidents by category × cluster, time to resolve over time."""
    if bucket not in ("hour", "day"):
        raise ValueError(f"bucket must be 'hour' or 'day', not {bucket!r}")
    trunc = "date_trunc('{b}', {col} AT TIME ZONE 'UTC')"
    alerts = store.query(
        f"""SELECT {trunc.format(b=bucket, col='starts_at')} AS "at", cluster, count(*) AS count FROM alerts
            WHERE starts_at >= ? AND starts_at < ? GROUP BY ALL ORDER BY "at", cluster""", [since, until])
    heat = store.query(_INCIDENT_CLUSTERS + """
        SELECT category, cluster, count(*) AS count FROM ic WHERE opened_at >= ? AND opened_at < ?
        GROUP BY ALL ORDER BY category, cluster""", [since, until])
    ttr = store.query(
        f"""SELECT {trunc.format(b=bucket, col='resolved_at')} AS "at", count(*) AS resolved, avg(d) AS mean_s,
                   median(d) AS median_s, max(d) AS max_s
            FROM (SELECT resolved_at, greatest(0, epoch(resolved_at) - epoch(opened_at)) AS d FROM incidents
                  WHERE status = 'resolved' AND resolved_at >= ? AND resolved_at < ?)
            GROUP BY ALL ORDER BY 1""", [since, until])
    for row in alerts + ttr:
        row["at"] = _utc(row["at"])
    return {"bucket": bucket, "since": since, "until": until, "alerts": alerts,
            "incidents_by_category": heat, "time_to_resolve": ttr}


# -- the incident list ------------------------------------------------------------------------

def search_incidents(store: HistoryStore, *, cluster: str | None = None, category: str | None = None,
                     status: str | None = None, severity: str | None = None, since: datetime | None = None,
                     until: datetime | None = None, limit: int = 25, offset: int = 0) -> dict[str, Any]:
    """Incidents newest first (by opened_at) matching every filter given, with the total for paging.

    ``category='pending'`` finds incidents without a report; ``severity='none'`` those whose alerts
    carry no known severity; ``since``/``until`` bound ``opened_at`` (since inclusive).
    """
    where, params = _filters(cluster, category, status, severity, since, until)
    total = store.query(f"{_INCIDENTS} SELECT count(*) AS n FROM inc {where}", params)[0]["n"]
    items = store.query(f"{_INCIDENTS} SELECT * FROM inc {where} ORDER BY opened_at DESC, id LIMIT ? OFFSET ?",
                        [*params, limit, offset])
    return {"total": int(total), "limit": limit, "offset": offset, "items": items}


def _filters(cluster: str | None, category: str | None, status: str | None, severity: str | None,
             since: datetime | None, until: datetime | None) -> tuple[str, list[Any]]:
    parts: list[str] = []
    params: list[Any] = []
    if cluster is not None:
        parts.append("(cluster = ? OR list_contains(clusters, ?))")
        params += [cluster, cluster]
    if category == PENDING:
        parts.append("category IS NULL")
    elif category is not None:
        parts.append("category = ?")
        params.append(category)
    if status is not None:
        parts.append("status = ?")
        params.append(status)
    if severity == "none":
        parts.append(f"{_RANK.format(col='worst_severity')} = 0")
    elif severity is not None:
        parts.append("lower(worst_severity) = ?")
        params.append(severity.lower())
    for col_op, value in (("opened_at >= ?", since), ("opened_at < ?", until)):
        if value is not None:
            parts.append(col_op)
            params.append(value)
    return ("WHERE " + " AND ".join(parts)) if parts else "", params


# -- what the feed and the metrics read -------------------------------------------------------

def incident_ids(store: HistoryStore) -> set[str]:
    """Every incident id in the store (read once at start: the feed tells new incidents from known ones)."""
    return {r["id"] for r in store.query("SELECT id FROM incidents")}


def report_fields(store: HistoryStore, ids: list[str]) -> dict[str, dict[str, Any]]:
    """id → its latest root cause (category, confidence, summary, trigger_kind); primary-key lookups only."""
    if not ids:
        return {}
    marks = ", ".join("?" * len(ids))  # a literal IN list keeps DuckDB on the primary-key index
    rows = store.query(f"SELECT id, category, confidence, summary, trigger_kind FROM incidents WHERE id IN ({marks})",
                       list(ids))
    return {r.pop("id"): r for r in rows}


def worst_severity(labels: Iterable[str | None]) -> str | None:
    """The worst severity label, ranked as in SQL: critical > error > warning > info > any other label."""
    best: tuple[int, str] | None = None
    for label in labels:
        if not label:
            continue
        low = label.lower()
        rank = len(SEVERITIES) - SEVERITIES.index(low) if low in SEVERITIES else 0
        if best is None or rank > best[0]:
            best = (rank, label)
    return best[1] if best else None


def collector_errors_after(store: HistoryStore, after_seq: int) -> tuple[int, Counter[tuple[str, str]]]:
    """Collection errors recorded in the audit trail after ``after_seq``: (newest seq, (cluster, resource) → n)."""
    rows = store.query("SELECT seq, payload FROM incident_events WHERE kind = 'collected' AND seq > ? ORDER BY seq",
                       [after_seq])
    counts: Counter[tuple[str, str]] = Counter()
    for r in rows:
        payload = r["payload"] or {}
        for err in payload.get("errors") or []:
            counts[(str(payload.get("cluster") or "unknown"), str(err.get("resource") or "unknown"))] += 1
    return (rows[-1]["seq"] if rows else after_seq), counts

