"""Webhook ingestion: parse the envelope, resolve each alert's cluster, correlate, persist.

``Ingestor.receive`` is what ``POST /webhook/alertmanager[/{cluster}]`` does after reading the body:
an unusable envelope raises ``PayloadError`` (the HTTP layer answers 4xx naming the field); the
valid alerts of a partly invalid group are stored and the rejected ones named and recorded. When
it returns, the alerts are in the history store.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from engine.alerts import (
    Alert,
    PayloadError,
    RejectedAlert,
    WebhookPayload,
    normalise,
    parse_alert,
    parse_envelope,
    parse_payload,
)
from engine.correlate import Correlator
from engine.history import HistoryStore
from engine.incident import Incident

__all__ = ["UNKNOWN_CLUSTER", "Ingestor", "Prepared", "ReceiveResult", "incident_from_store", "resolve_cluster",
           "restore_correlator", "stale_incidents"]

UNKNOWN_CLUSTER = "unknown"


@dataclass
class Prepared:
    """A parsed webhook: its envelope and its valid alerts, each with its cluster resolved."""

    payload: WebhookPayload
    alerts: list[Alert]
    rejected: list[RejectedAlert]
    unresolved: int


@dataclass
class ReceiveResult:
    accepted: int
    rejected: list[RejectedAlert] = field(default_factory=list)
    changed: list[Incident] = field(default_factory=list)
    unresolved_cluster: int = 0
    per_cluster: dict[str, int] = field(default_factory=dict)  # accepted alerts by resolved cluster

    def summary(self) -> dict[str, Any]:
        return {
            "status": "stored",
            "accepted": self.accepted,
            "rejected": [r.model_dump() for r in self.rejected],
            "incidents": sorted({i.id for i in self.changed}),
            "unresolved_cluster": self.unresolved_cluster,
        }


_FINGERPRINT = re.compile(r"[0-9a-fA-F]{1,16}").fullmatch


def _str_map(v: Any) -> bool:
    return type(v) is dict and all(type(x) is str for x in v.values())


def _looks_valid(a: Any) -> bool:
    """A fast screen of one webhook alert: True only for what ``WebhookAlert`` accepts as well."""
    if type(a) is not dict or a.get("status") not in ("firing", "resolved"):
        return False
    labels = a.get("labels")
    if not _str_map(labels) or not labels.get("alertname"):
        return False
    if "annotations" in a and not _str_map(a["annotations"]):
        return False
    fp, gen = a.get("fingerprint"), a.get("generatorURL", "")
    if type(fp) is not str or not _FINGERPRINT(fp) or type(gen) is not str:
        return False
    try:
        for key in ("startsAt", "endsAt"):
            if key in a or key == "startsAt":
                t = a[key]
                if type(t) is not str or "T" not in t:
                    return False
                datetime.fromisoformat(t)
    except (KeyError, ValueError):
        return False
    return True


def screen_payload(body: Any) -> tuple[int, list[RejectedAlert]]:
    """What the ingress checks before spooling a webhook: the envelope (raises ``PayloadError``, a
    4xx) and each alert, cheaply — pydantic runs only on alerts the fast screen doubts, to name the
    field. Returns (accepted, rejected) as ``parse_payload`` would; the manager re-parses for real."""
    payload = parse_envelope(body)
    doubted = (parse_alert(i, raw) for i, raw in enumerate(payload.alerts) if not _looks_valid(raw))
    rejected = [r for r in doubted if isinstance(r, RejectedAlert)]
    return len(payload.alerts) - len(rejected), rejected


def resolve_cluster(path_cluster: str | None, labels: Mapping[str, str], external_url: str,
                    url_map: Mapping[str, str]) -> tuple[str, bool]:
    """Path, then the ``cluster`` label, then the registry's externalURL mapping, else ``unknown``."""
    if path_cluster:
        return path_cluster, True
    if labels.get("cluster"):
        return labels["cluster"], True
    mapped = url_map.get(external_url.rstrip("/"))
    if mapped:
        return mapped, True
    return UNKNOWN_CLUSTER, False


def incident_from_store(history: HistoryStore, incident_id: str) -> Incident | None:
    """Rebuild an incident (with its alerts) from the history store, e.g. after a restart."""
    from engine.alerts import AlertTarget

    row = history.get_incident(incident_id)
    if row is None:
        return None
    alerts = [
        Alert(cluster=a["cluster"], fingerprint=a["fingerprint"], status=a["status"], labels=a["labels"],
              annotations=a["annotations"] or {}, startsAt=a["starts_at"], endsAt=a["ends_at"],
              generatorURL=a["generator_url"] or "", cluster_resolved=bool(a["cluster_resolved"]))
        for a in row["alerts"]
    ]
    return Incident(id=row["id"], cluster=row["cluster"], key=row["key"],
                    subject=AlertTarget.model_validate(row["subject"]), status=row["status"],
                    opened_at=row["opened_at"], updated_at=row["updated_at"], resolved_at=row["resolved_at"],
                    merged_into=row["merged_into"], alerts=alerts, revision=row["revision"] or 0)


class Ingestor:
    def __init__(self, history: HistoryStore, correlator: Correlator,
                 url_map: Mapping[str, str] | None = None) -> None:
        self.history = history
        self.correlator = correlator
        self.url_map = {k.rstrip("/"): v for k, v in (url_map or {}).items()}

    def prepare(self, body: Any, path_cluster: str | None = None) -> Prepared:
        """Parse and normalise a webhook body; raises PayloadError for an unusable envelope."""
        payload, good, rejected = parse_payload(body)
        alerts: list[Alert] = []
        unresolved = 0
        for wa in good:
            cluster, ok = resolve_cluster(path_cluster, wa.labels, payload.externalURL, self.url_map)
            unresolved += not ok
            alerts.append(normalise(wa, cluster, cluster_resolved=ok))
        return Prepared(payload, alerts, rejected, unresolved)

    def receive(self, body: Any, path_cluster: str | None = None, *, prepared: Prepared | None = None) -> ReceiveResult:
        """Store and correlate one webhook (``prepared``: the body already parsed by ``prepare``)."""
        return self.receive_many([prepared or self.prepare(body, path_cluster)])

    def receive_many(self, batch: list[Prepared]) -> ReceiveResult:
        """Store and correlate several webhooks (in arrival order) as one: one correlation pass, one
        alert upsert, each changed incident written once; each webhook keeps its own audit events."""
        alerts = [a for p in batch for a in p.alerts]
        changed = self.correlator.ingest(alerts) if alerts else []
        incident_of = self.correlator.alert_incident  # read only: never copied (it holds every alert)
        self.history.record_alerts(alerts, incident_of)
        live: list[Incident] = []
        for inc in changed:
            self.history.upsert_incident(inc)
            if inc.status == "merged":
                self.history.add_event(inc.id, "merged", {"into": inc.merged_into, "alerts": inc.fingerprints})
                continue
            if inc.status == "resolved":
                self._write_postmortem(inc)
            live.append(inc)
        rejected: list[RejectedAlert] = []
        events: list[tuple[str | None, str, dict[str, Any]]] = []  # written at once, in this order
        for p in batch:
            payload = p.payload
            mine: dict[str | None, list[str]] = {}
            for a in p.alerts:
                mine.setdefault(incident_of.get((a.cluster, a.fingerprint)), []).append(a.fingerprint)
            for inc in live:
                if inc.id in mine or len(batch) == 1:
                    events.append((inc.id, "webhook_received", {
                        "receiver": payload.receiver, "groupKey": payload.groupKey, "status": payload.status,
                        "externalURL": payload.externalURL, "alerts": mine.get(inc.id, []), "revision": inc.revision,
                        "incident_status": inc.status,
                    }))
            if p.rejected:
                events.append((None, "alert_rejected", {
                    "groupKey": payload.groupKey, "receiver": payload.receiver,
                    "rejected": [r.model_dump() for r in p.rejected],
                    "raw": [payload.alerts[r.index] for r in p.rejected],
                }))
                rejected.extend(p.rejected)
            if payload.truncatedAlerts:
                events.append((None, "alerts_truncated", {
                    "groupKey": payload.groupKey, "truncatedAlerts": payload.truncatedAlerts}))
        self.history.add_events(events)
        per_cluster: dict[str, int] = {}
        for a in alerts:
            per_cluster[a.cluster] = per_cluster.get(a.cluster, 0) + 1
        return ReceiveResult(accepted=len(alerts), rejected=rejected, changed=changed,
                             unresolved_cluster=sum(p.unresolved for p in batch), per_cluster=per_cluster)

    def _write_postmortem(self, inc: Incident) -> None:
        """A resolved incident with a report gets its blameless postmortem (a new report version)."""
        from engine.postmortem import render_postmortem
        from engine.report import Report

        latest = self.history.latest_reports([inc.id]).get(inc.id)
        if latest is None:
            return
        report = Report.model_validate(latest)
        report = report.model_copy(update={"postmortem": render_postmortem(inc, report)})
        self.history.save_report(inc, report)
        self.history.add_event(inc.id, "postmortem", {"resolved_at": inc.resolved_at,
                                                      "time_to_resolve_s": (inc.resolved_at - inc.opened_at)
                                                      .total_seconds() if inc.resolved_at else None})


__all__ += ["PayloadError"]


def restore_correlator(history: HistoryStore, correlator: Correlator) -> list[Incident]:
    """Rebuild a fresh correlator's state from the history store (the incident manager's restart).

    The stored alerts of every open incident, and of incidents resolved within ``group_window_s`` of the
    store's newest activity (a re-firing alert can still reopen those), are replayed through the
    correlator's own ``ingest`` in ``startsAt`` order: incident ids are deterministic, so the replay
    finds the same incidents; their revisions are then set back to the stored ones (the replay folds
    many webhooks into one). Not restored: pod placements (no collector is asked during the replay,
    so pod → node grouping falls back to names until the next alert) and incidents older than that
    window. Only the public ``ingest`` is used, so this survives changes to the correlator's internals.
    Returns the open incidents.
    """
    from datetime import timedelta

    newest = history.query("SELECT max(updated_at) AS t FROM incidents")[0]["t"]
    if newest is None:
        return []
    since = newest - timedelta(seconds=correlator.cfg.group_window_s)
    ids = [r["id"] for r in history.query(
        "SELECT id FROM incidents WHERE status = 'open' OR (status = 'resolved' AND updated_at >= ?)", [since])]
    stored = {i: incident_from_store(history, i) for i in ids}
    alerts = sorted({(a.cluster, a.fingerprint): a for inc in stored.values() if inc for a in inc.alerts}.values(),
                    key=lambda a: (a.startsAt, a.cluster, a.fingerprint))
    if alerts:
        correlator.ingest(alerts)
    for inc_id, inc in stored.items():
        live = correlator.incidents.get(inc_id)
        if inc is not None and live is not None:
            live.revision = max(live.revision, inc.revision)
    return correlator.open_incidents()


def stale_incidents(history: HistoryStore, incidents: list[Incident]) -> list[str]:
    """The ids of incidents whose newest report is older than their revision (or missing): the
    investigations a restart interrupted, to run again."""
    if not incidents:
        return []
    rows = history.query("SELECT incident_id, max(revision) AS r FROM reports WHERE incident_id IN "
                         "(SELECT unnest(?::VARCHAR[])) GROUP BY incident_id", [[i.id for i in incidents]])
    done = {r["incident_id"]: r["r"] for r in rows}
    return [i.id for i in incidents if done.get(i.id, -1) < i.revision]
