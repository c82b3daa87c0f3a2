"""The incident history: one DuckDB file (one writer: whoever owns this object).

Tables: ``alerts`` (one row per (cluster, fingerprint), updated in place), ``incidents`` (one row
per incident with its latest root cause), ``incident_events`` (the audit trail: webhook_received,
alert_rejected, collected, investigated, ... each with its JSON payload) and ``reports`` (every
report version). DuckDB allows one writing process per file, so in the Ray deployment a single
actor owns the store and everything else asks it.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from engine.alerts import Alert
from engine.incident import Incident
from engine.report import Report

__all__ = ["HistoryStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS alerts (
    cluster VARCHAR NOT NULL, fingerprint VARCHAR NOT NULL, status VARCHAR, alertname VARCHAR,
    severity VARCHAR, namespace VARCHAR, labels JSON, annotations JSON, starts_at TIMESTAMPTZ,
    ends_at TIMESTAMPTZ, generator_url VARCHAR, cluster_resolved BOOLEAN, incident_id VARCHAR,
    first_received_at TIMESTAMPTZ, last_received_at TIMESTAMPTZ, receive_count BIGINT,
    PRIMARY KEY (cluster, fingerprint));
CREATE TABLE IF NOT EXISTS incidents (
    id VARCHAR PRIMARY KEY, cluster VARCHAR, key VARCHAR, subject JSON, status VARCHAR,
    opened_at TIMESTAMPTZ, updated_at TIMESTAMPTZ, resolved_at TIMESTAMPTZ, merged_into VARCHAR,
    revision BIGINT, alert_count BIGINT, category VARCHAR, confidence DOUBLE, summary VARCHAR,
    trigger_kind VARCHAR);
CREATE SEQUENCE IF NOT EXISTS incident_events_seq;
CREATE TABLE IF NOT EXISTS incident_events (
    seq BIGINT DEFAULT nextval('incident_events_seq'), incident_id VARCHAR, "at" TIMESTAMPTZ,
    kind VARCHAR, payload JSON);
CREATE TABLE IF NOT EXISTS reports (
    incident_id VARCHAR, revision BIGINT, generated_at TIMESTAMPTZ, recorded_at TIMESTAMPTZ,
    backend VARCHAR, category VARCHAR, report JSON);
"""


def _now() -> datetime:
    # audit timestamps record when fleetsre did something: wall clock by intent
    return datetime.now(UTC)


def _rows(cur: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    names = [d[0] for d in cur.description]
    out = []
    for row in cur.fetchall():
        d = dict(zip(names, row, strict=True))
        for k in ("labels", "annotations", "subject", "payload", "report"):
            if isinstance(d.get(k), str):
                d[k] = json.loads(d[k])
        out.append(d)
    return out


class HistoryStore:
    def __init__(self, path: Path | str) -> None:
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.con = duckdb.connect(str(path))
        self.con.execute(_SCHEMA)
        self._lock = threading.Lock()

    def close(self) -> None:
        self.con.close()

    # -- writes -------------------------------------------------------------------------------
    def record_alerts(self, alerts: list[Alert], incident_of: dict[tuple[str, str], str]) -> None:
        """Upsert alerts in one transaction (the webhook's 2xx waits for this)."""
        now = _now()
        rows = [
            (a.cluster, a.fingerprint, a.status, a.alertname, a.severity, a.labels.get("namespace"),
             json.dumps(a.labels), json.dumps(a.annotations), a.startsAt, a.endsAt, a.generatorURL,
             a.cluster_resolved, incident_of.get((a.cluster, a.fingerprint)), now, now, 1)
            for a in alerts
        ]
        if not rows:
            return
        with self._lock:
            self.con.executemany(
                """INSERT INTO alerts VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
                ON CONFLICT (cluster, fingerprint) DO UPDATE SET status=excluded.status,
                  annotations=excluded.annotations, ends_at=excluded.ends_at,
                  incident_id=coalesce(excluded.incident_id, alerts.incident_id),
                  last_received_at=excluded.last_received_at, receive_count=alerts.receive_count + 1""",
                rows,
            )

    def upsert_incident(self, inc: Incident, report: Report | None = None) -> None:
        rc = report.root_cause if report else None
        with self._lock:
            self.con.execute(
                """INSERT INTO incidents VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
                ON CONFLICT (id) DO UPDATE SET status=excluded.status, updated_at=excluded.updated_at,
                  resolved_at=excluded.resolved_at, merged_into=excluded.merged_into, revision=excluded.revision,
                  alert_count=excluded.alert_count, subject=excluded.subject,
                  category=coalesce(excluded.category, incidents.category),
                  confidence=coalesce(excluded.confidence, incidents.confidence),
                  summary=coalesce(excluded.summary, incidents.summary),
                  trigger_kind=coalesce(excluded.trigger_kind, incidents.trigger_kind)""",
                [inc.id, inc.cluster, inc.key, inc.subject.model_dump_json(), inc.status, inc.opened_at,
                 inc.updated_at, inc.resolved_at, inc.merged_into, inc.revision, len(inc.alerts),
                 rc.category if rc else None, rc.confidence if rc else None, rc.summary if rc else None,
                 rc.trigger.kind if rc else None],
            )
            for a in inc.alerts:
                self.con.execute("UPDATE alerts SET incident_id=? WHERE cluster=? AND fingerprint=?",
                                 [inc.id, a.cluster, a.fingerprint])

    def add_event(self, incident_id: str | None, kind: str, payload: dict[str, Any]) -> None:
        with self._lock:
            self.con.execute("INSERT INTO incident_events (incident_id, \"at\", kind, payload) VALUES (?,?,?,?)",
                             [incident_id, _now(), kind, json.dumps(payload, default=str)])

    def save_report(self, inc: Incident, report: Report) -> None:
        with self._lock:
            self.con.execute("INSERT INTO reports VALUES (?,?,?,?,?,?,?)",
                             [inc.id, inc.revision, report.generated_at, _now(), report.backend,
                              report.root_cause.category, report.model_dump_json()])
        self.upsert_incident(inc, report)

    # -- reads --------------------------------------------------------------------------------
    def list_alerts(self, *, cluster: str | None = None, status: str | None = None, limit: int = 100,
                    offset: int = 0) -> list[dict[str, Any]]:
        where, params = self._where(cluster=cluster, status=status)
        with self._lock:
            return _rows(self.con.execute(
                f"SELECT * FROM alerts {where} ORDER BY starts_at DESC, fingerprint LIMIT ? OFFSET ?",
                [*params, limit, offset]))

    def list_incidents(self, *, cluster: str | None = None, status: str | None = None,
                       category: str | None = None, limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
        where, params = self._where(cluster=cluster, status=status, category=category)
        with self._lock:
            return _rows(self.con.execute(
                f"SELECT * FROM incidents {where} ORDER BY opened_at DESC, id LIMIT ? OFFSET ?",
                [*params, limit, offset]))

    def get_incident(self, incident_id: str) -> dict[str, Any] | None:
        with self._lock:
            found = _rows(self.con.execute("SELECT * FROM incidents WHERE id = ?", [incident_id]))
            if not found:
                return None
            inc = found[0]
            reports = _rows(self.con.execute(
                "SELECT report FROM reports WHERE incident_id = ? ORDER BY recorded_at DESC LIMIT 1", [incident_id]))
            inc["report"] = reports[0]["report"] if reports else None
            inc["alerts"] = _rows(self.con.execute(
                "SELECT * FROM alerts WHERE incident_id = ? ORDER BY starts_at, fingerprint", [incident_id]))
            inc["events"] = _rows(self.con.execute(
                "SELECT seq, \"at\", kind, payload FROM incident_events WHERE incident_id = ? ORDER BY seq", [incident_id]))
        return inc

    def query(self, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
        """A read query over the store (JSON columns decoded)."""
        with self._lock:
            return _rows(self.con.execute(sql, params or []))

    def latest_reports(self, incident_ids: list[str]) -> dict[str, dict[str, Any]]:
        """incident id → its newest report (as JSON), for the ids that have one."""
        if not incident_ids:
            return {}
        rows = self.query(
            """SELECT incident_id, report FROM (
                 SELECT incident_id, report, row_number() OVER (PARTITION BY incident_id
                   ORDER BY recorded_at DESC) AS rn FROM reports
                 WHERE incident_id IN (SELECT unnest(?::VARCHAR[]))) WHERE rn = 1""",
            [incident_ids])
        return {r["incident_id"]: r["report"] for r in rows}

    def counts(self) -> dict[str, int]:
        with self._lock:
            return {t: self.con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]  # type: ignore[index]
                    for t in ("alerts", "incidents", "incident_events", "reports")}

    @staticmethod
    def _where(**filters: str | None) -> tuple[str, list[Any]]:
        parts, params = [], []
        for col, val in filters.items():
            if val is not None:
                parts.append(f"{col} = ?")
                params.append(val)
        return ("WHERE " + " AND ".join(parts)) if parts else "", params
