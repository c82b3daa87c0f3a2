"""The incident: a group of correlated alerts that gets one investigation.

Its id is deterministic (cluster or ``fleet``, the grouping key, the first alert's ``startsAt``)
so that live ingestion and replay produce the same ids. A per-cluster incident that is part of a
fleet-wide one (the same workload failing the same way in several clusters) names it in ``fleet_id``.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from engine.alerts import Alert, AlertTarget

__all__ = ["Incident", "incident_id"]


def incident_id(cluster: str, key: str, first_starts_at: datetime) -> str:
    raw = f"{cluster}|{key}|{first_starts_at.isoformat()}"
    return "inc-" + hashlib.sha1(raw.encode()).hexdigest()[:16]


class Incident(BaseModel):
    id: str
    cluster: str = Field(description="the cluster, or 'fleet' for an incident spanning clusters")
    key: str = Field(description="grouping key: 'workload:<ns>/<name>', 'node:<name>', ...")
    subject: AlertTarget
    status: Literal["open", "resolved", "merged"] = "open"
    opened_at: datetime = Field(description="first alert's startsAt")
    updated_at: datetime = Field(description="newest alert activity (startsAt/endsAt) seen")
    resolved_at: datetime | None = None
    merged_into: str | None = None
    alerts: list[Alert] = Field(default_factory=list)
    revision: int = Field(0, description="bumped whenever an alert joins: each bump asks for a re-investigation")
    fleet_id: str | None = Field(None, description="the fleet incident ('fleet-<sha1>') this one is a member of")
    fleet_rank: int | None = Field(None, description="0-based place among the fleet incident's members, by opening")

    @property
    def fingerprints(self) -> list[str]:
        return [a.fingerprint for a in self.alerts]

    @property
    def clusters(self) -> list[str]:
        return sorted({a.cluster for a in self.alerts})
