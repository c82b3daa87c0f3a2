"""Webhook ingestion: parse the envelope, resolve each alert's cluster, correlate, persist.

``Ingestor.receive`` is what ``POST /webhook/alertmanager[/{cluster}]`` does after reading the body:
an unusable envelope raises ``PayloadError`` (the HTTP layer answers 4xx naming the field); the
valid alerts of a partly invalid group are stored and the rejected ones named and recorded. When
it returns, the alerts are in the history store.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from engine.alerts import Alert, PayloadError, RejectedAlert, WebhookPayload, normalise, parse_payload
from engine.correlate import Correlator
from engine.history import HistoryStore
from engine.incident import Incident

__all__ = ["UNKNOWN_CLUSTER", "Ingestor", "Prepared", "ReceiveResult", "incident_from_store", "resolve_cluster"]

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
        p = prepared or self.prepare(body, path_cluster)
        payload, alerts, rejected, unresolved = p.payload, p.alerts, p.rejected, p.unresolved
        changed = self.correlator.ingest(alerts)
        incident_of = dict(self.correlator.alert_incident)
        self.history.record_alerts(alerts, incident_of)
        for inc in changed:
            self.history.upsert_incident(inc)
            if inc.status == "merged":
                self.history.add_event(inc.id, "merged", {"into": inc.merged_into, "alerts": inc.fingerprints})
                continue
            if inc.status == "resolved":
                self._write_postmortem(inc)
            mine = [a.fingerprint for a in alerts if incident_of.get((a.cluster, a.fingerprint)) == inc.id]
            self.history.add_event(inc.id, "webhook_received", {
                "receiver": payload.receiver, "groupKey": payload.groupKey, "status": payload.status,
                "externalURL": payload.externalURL, "alerts": mine, "revision": inc.revision,
                "incident_status": inc.status,
            })
        if rejected:
            self.history.add_event(None, "alert_rejected", {
                "groupKey": payload.groupKey, "receiver": payload.receiver,
                "rejected": [r.model_dump() for r in rejected],
                "raw": [payload.alerts[r.index] for r in rejected],
            })
        if payload.truncatedAlerts:
            self.history.add_event(None, "alerts_truncated", {
                "groupKey": payload.groupKey, "truncatedAlerts": payload.truncatedAlerts})
        per_cluster: dict[str, int] = {}
        for a in alerts:
            per_cluster[a.cluster] = per_cluster.get(a.cluster, 0) + 1
        return ReceiveResult(accepted=len(alerts), rejected=rejected, changed=changed, unresolved_cluster=unresolved,
                             per_cluster=per_cluster)


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
