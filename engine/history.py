"""The incident history: one DuckDB file (one writer: whoever owns this object).

Tables: ``alerts`` (one row per (cluster, fingerprint), updated in place), ``incidents`` (one row
per incident with its latest root cause), ``incident_events`` (the audit trail: webhook_received,
alert_rejected, collected, investigated, ... each with its JSON payload) and ``reports`` (every
report version), ``fleet_members`` (the fleet incident a per-cluster incident belongs to: one
workload failing the same way in several clusters). DuckDB allows one writing process per file, so
in the Ray deployment a single actor owns the store and everything else asks it.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

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
CREATE TABLE IF NOT EXISTS spool_offsets (
    spool VARCHAR PRIMARY KEY, segment BIGINT, "offset" BIGINT, updated_at TIMESTAMPTZ);
CREATE TABLE IF NOT EXISTS fleet_members (
    incident_id VARCHAR PRIMARY KEY, fleet_id VARCHAR, fleet_rank BIGINT);
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
        # (cluster, fingerprint) -> incident_id as written by this process: lets upsert_incident touch only
        # the alerts that moved (after a restart, the first upsert of each incident rewrites its alerts once)
        self._incident_of: dict[tuple[str, str], str] = {}

    def close(self) -> None:
        self.con.close()

    # -- writes -------------------------------------------------------------------------------
    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """One DuckDB transaction (one commit, one WAL sync) around a batch of writes; rolled back on error.

        The owner calls it from one thread with no await inside, so no other write joins it."""
        self.con.begin()
        try:
            yield
        except BaseException:
            self.con.rollback()
            raise
        self.con.commit()

    def spool_positions(self) -> dict[str, tuple[int, int]]:
        """The webhook spool's committed positions: writer id -> (segment, offset) (engine/spool.py)."""
        with self._lock:
            rows = self.con.execute('SELECT spool, segment, "offset" FROM spool_offsets').fetchall()
        return {r[0]: (int(r[1]), int(r[2])) for r in rows}

    def set_spool_position(self, spool: str, segment: int, offset: int) -> None:
        """Advance a writer's committed position (in the transaction that stored its records)."""
        with self._lock:
            self.con.execute(
                """INSERT INTO spool_offsets VALUES (?,?,?,?) ON CONFLICT (spool) DO UPDATE SET
                  segment=excluded.segment, "offset"=excluded."offset", updated_at=excluded.updated_at""",
                [spool, segment, offset, _now()])

    def drop_spool_position(self, spool: str) -> None:
        with self._lock:
            self.con.execute("DELETE FROM spool_offsets WHERE spool = ?", [spool])

    def record_alerts(self, alerts: list[Alert], incident_of: Mapping[tuple[str, str], str]) -> None:
        """Upsert alerts with one set-based statement over an Arrow table (row inserts cost ~100x more).

        An alert repeated in the batch keeps its last state and counts every receipt."""
        if not alerts:
            return
        now = _now()
        last: dict[tuple[str, str], Alert] = {}
        seen: dict[tuple[str, str], int] = {}
        for a in alerts:
            k = (a.cluster, a.fingerprint)
            last[k] = a
            seen[k] = seen.get(k, 0) + 1
        batch = list(last.values())
        table = pa.table({
            "cluster": [a.cluster for a in batch], "fingerprint": [a.fingerprint for a in batch],
            "status": [a.status for a in batch], "alertname": [a.alertname for a in batch],
            "severity": [a.severity for a in batch], "namespace": [a.labels.get("namespace") for a in batch],
            "labels": [json.dumps(a.labels) for a in batch], "annotations": [json.dumps(a.annotations) for a in batch],
            "starts_at": pa.array([a.startsAt for a in batch], pa.timestamp("us", tz="UTC")),
            "ends_at": pa.array([a.endsAt for a in batch], pa.timestamp("us", tz="UTC")),
            "generator_url": [a.generatorURL for a in batch], "cluster_resolved": [a.cluster_resolved for a in batch],
            "incident_id": pa.array([incident_of.get((a.cluster, a.fingerprint)) for a in batch], pa.string()),
            "receive_count": pa.array([seen[(a.cluster, a.fingerprint)] for a in batch], pa.int64()),
        })
        with self._lock:
            self.con.register("_alert_batch", table)
            try:
                self.con.execute(
                    """INSERT INTO alerts SELECT cluster, fingerprint, status, alertname, severity, namespace,
                      labels::JSON, annotations::JSON, starts_at, ends_at, generator_url, cluster_resolved, incident_id,
                      ?::TIMESTAMPTZ, ?::TIMESTAMPTZ, receive_count FROM _alert_batch
                    ON CONFLICT (cluster, fingerprint) DO UPDATE SET status=excluded.status,
                      annotations=excluded.annotations, ends_at=excluded.ends_at,
                      incident_id=coalesce(excluded.incident_id, alerts.incident_id),
                      last_received_at=excluded.last_received_at,
                      receive_count=alerts.receive_count + excluded.receive_count""",
                    [now, now])
            finally:
                self.con.unregister("_alert_batch")
            for k in last:  # what the table now holds (coalesce: an alert without an incident keeps its old one)
                iid = incident_of.get(k)
                if iid is not None:
                    self._incident_of[k] = iid

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
            # only the alerts whose stored incident differs (a merge, a regrouping): an incident may hold
            # thousands of alerts, and a statement over all of them costs a scan of the table per change
            known = self._incident_of
            moved = [a for a in inc.alerts if known.get((a.cluster, a.fingerprint)) != inc.id]
            if moved:
                self.con.execute(
                    """UPDATE alerts SET incident_id = ? FROM (SELECT unnest(?::VARCHAR[]) AS c,
                         unnest(?::VARCHAR[]) AS f) m
                       WHERE alerts.cluster = m.c AND alerts.fingerprint = m.f""",
                    [inc.id, [a.cluster for a in moved], [a.fingerprint for a in moved]])
                for a in moved:
                    known[(a.cluster, a.fingerprint)] = inc.id
            if inc.fleet_id is not None:
                self.con.execute("INSERT OR REPLACE INTO fleet_members VALUES (?,?,?)",
                                 [inc.id, inc.fleet_id, inc.fleet_rank])
            else:
                self.con.execute("DELETE FROM fleet_members WHERE incident_id = ?", [inc.id])

    def add_event(self, incident_id: str | None, kind: str, payload: dict[str, Any]) -> None:
        with self._lock:
            self.con.execute("INSERT INTO incident_events (incident_id, \"at\", kind, payload) VALUES (?,?,?,?)",
                             [incident_id, _now(), kind, json.dumps(payload, default=str)])

    def add_events(self, events: list[tuple[str | None, str, dict[str, Any]]]) -> None:
        """Several ``add_event`` in one statement over an Arrow table, in order (a batch of webhooks)."""
        if not events:
            return
        if len(events) == 1:
            self.add_event(*events[0])
            return
        now = _now()
        table = pa.table({"incident_id": pa.array([e[0] for e in events], pa.string()),
                          "kind": [e[1] for e in events],
                          "payload": [json.dumps(e[2], default=str) for e in events],
                          "i": pa.array(range(len(events)), pa.int64())})
        with self._lock:
            self.con.register("_event_batch", table)
            try:
                self.con.execute("""INSERT INTO incident_events (incident_id, "at", kind, payload)
                                    SELECT incident_id, ?::TIMESTAMPTZ, kind, payload::JSON FROM _event_batch ORDER BY i""",
                                 [now])
            finally:
                self.con.unregister("_event_batch")

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
            # fleet_id: the fleet incident this one belongs to (the same workload failing in several clusters)
            return _rows(self.con.execute(
                f"SELECT i.*, f.fleet_id, f.fleet_rank FROM (SELECT * FROM incidents {where} "
                "ORDER BY opened_at DESC, id LIMIT ? OFFSET ?) i LEFT JOIN fleet_members f ON f.incident_id = i.id "
                "ORDER BY i.opened_at DESC, i.id",
                [*params, limit, offset]))

    def get_incident(self, incident_id: str) -> dict[str, Any] | None:
        with self._lock:
            found = _rows(self.con.execute(
                "SELECT i.*, f.fleet_id, f.fleet_rank FROM incidents i LEFT JOIN fleet_members f ON f.incident_id = i.id "
                "WHERE i.id = ?", [incident_id]))
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
