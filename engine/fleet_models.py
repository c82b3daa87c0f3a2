"""Response models of the fleet API (``/api/v1/fleet/*``, ``/api/v1/events``): the dashboard's contract.

They document the OpenAPI schema and validate what the ingress returns. Times are UTC; counts are
over the history store, so they survive restarts. An incident that spans clusters (cluster
``fleet``) counts once under each cluster it has alerts in.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

__all__ = [
    "SEVERITIES",
    "AlertBucket",
    "AlertCounts",
    "CategoryCell",
    "CategoryCount",
    "ClusterSummary",
    "FeedEvent",
    "FeedPage",
    "FleetSummary",
    "FleetTrends",
    "IncidentPage",
    "IncidentRow",
    "ResolveBucket",
]

#: Severity labels from worst to least; any other value ranks below ``info``.
SEVERITIES: tuple[str, ...] = ("critical", "error", "warning", "info")

Bucket = Literal["hour", "day"]


class AlertCounts(BaseModel):
    firing: int = Field(0, description="alerts of the cluster whose last state is firing")
    resolved: int = Field(0, description="alerts of the cluster whose last state is resolved")
    total: int = Field(0, description="every alert (cluster, fingerprint) ever stored for the cluster")


class CategoryCount(BaseModel):
    category: str = Field(description="root-cause category, or 'pending' before the first report")
    open: int = Field(description="open incidents with this category")
    total: int = Field(description="incidents (open or resolved, not merged) with this category")


class ClusterSummary(BaseModel):
    cluster: str
    in_fleet: bool = Field(description="the cluster is in the fleet registry (else only seen in alerts)")
    open_incidents: int = Field(description="incidents with status open that have alerts in this cluster")
    incidents_total: int = Field(description="incidents, open or resolved, not merged")
    worst_severity: str | None = Field(
        description="the worst severity label among the firing alerts of its open incidents "
                    "(critical > error > warning > info > anything else); null when nothing is open")
    alerts: AlertCounts
    categories: list[CategoryCount] = Field(description="incidents by root-cause category, most open first")
    last_alert_at: datetime | None = Field(description="newest startsAt among the cluster's alerts")


class FleetSummary(BaseModel):
    generated_at: datetime = Field(description="when the summary was computed (wall clock)")
    clusters: list[ClusterSummary] = Field(description="every fleet cluster, then every other cluster seen")
    open_incidents: int = Field(description="open incidents in the fleet (a multi-cluster incident counts once)")
    firing_alerts: int
    severities: list[str] = Field(description="severity labels from worst to least, for colouring")
    categories: list[str] = Field(description="the root-cause taxonomy, plus 'pending' (not investigated yet)")


class AlertBucket(BaseModel):
    at: datetime = Field(description="start of the bucket (UTC)")
    cluster: str
    count: int = Field(description="alerts of the cluster whose startsAt falls in the bucket")


class CategoryCell(BaseModel):
    category: str
    cluster: str
    count: int = Field(description="incidents opened since `since` with this category in this cluster")


class ResolveBucket(BaseModel):
    at: datetime = Field(description="start of the bucket (UTC) in which the incidents resolved")
    resolved: int = Field(description="incidents resolved in the bucket")
    mean_s: float = Field(description="mean time to resolve (resolved_at - opened_at), seconds")
    median_s: float = Field(description="median time to resolve, seconds")
    max_s: float = Field(description="longest time to resolve, seconds")


class FleetTrends(BaseModel):
    bucket: Bucket
    since: datetime
    until: datetime
    alerts: list[AlertBucket] = Field(description="alerts over time per cluster; empty buckets are omitted")
    incidents_by_category: list[CategoryCell] = Field(description="the category × cluster heat map")
    time_to_resolve: list[ResolveBucket] = Field(description="time to resolve over time; empty buckets omitted")


class IncidentRow(BaseModel):
    id: str
    cluster: str = Field(description="the incident's cluster, or 'fleet' when it spans clusters")
    clusters: list[str] = Field(description="every cluster the incident has alerts in")
    key: str | None = None
    subject: dict[str, Any] | None = None
    status: str
    opened_at: datetime | None = None
    updated_at: datetime | None = None
    resolved_at: datetime | None = None
    merged_into: str | None = None
    revision: int | None = None
    alert_count: int | None = None
    category: str | None = Field(None, description="latest root cause; null until the first report")
    confidence: float | None = None
    summary: str | None = None
    trigger_kind: str | None = None
    worst_severity: str | None = Field(None, description="worst severity label among the incident's alerts")


class IncidentPage(BaseModel):
    total: int = Field(description="incidents matching the filters (all pages)")
    limit: int
    offset: int
    items: list[IncidentRow]


class FeedEvent(BaseModel):
    seq: int = Field(description="the change's sequence number: strictly increasing within one manager")
    kind: Literal["opened", "updated", "resolved", "merged", "investigated", "investigation_failed"]
    at: datetime = Field(description="when fleetsre saw the change (wall clock)")
    incident: IncidentRow


class FeedPage(BaseModel):
    last_seq: int = Field(description="pass it back as `after` to get what follows")
    reset: bool = Field(
        description="true when changes were missed (the reader fell behind the bounded feed, or the manager "
                    "restarted): reload the lists instead of applying events")
    events: list[FeedEvent]
