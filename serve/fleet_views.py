"""What the incident manager shows about the fleet: the change feed, the metrics and the fleet reads.

``FleetViews`` is a plain class that the ``IncidentManager`` actor owns next to its history store.
The actor tells it what happened (``on_receive`` after a webhook is stored, ``on_investigated``
after each investigation); it turns that into change-feed events and metric updates, and answers
the dashboard's reads (``summary``, ``trends``, ``incidents``, ``events``, ``metrics_text``).
It runs on the actor's event loop, like the store it reads.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from engine.feed import ChangeFeed
from engine.fleet_queries import (
    collector_errors_after,
    fleet_summary,
    fleet_trends,
    incident_ids,
    open_incidents_by_cluster,
    report_fields,
    search_incidents,
    worst_severity,
)
from engine.history import HistoryStore
from engine.incident import Incident
from serve.metrics import FleetMetrics

__all__ = ["DEFAULT_SPAN", "FleetViews"]

log = logging.getLogger("fleetsre.views")

#: How far back trends look when the caller gives no ``since``.
DEFAULT_SPAN = {"hour": timedelta(hours=48), "day": timedelta(days=30)}



def _wall_clock() -> datetime:
    # dashboards and audit times are about now: wall clock by intent (investigations never use it)
    return datetime.now(UTC)


class FleetViews:
    def __init__(self, history: HistoryStore, fleet_clusters: list[str], *,
                 feed_capacity: int = 1024, clock: Callable[[], datetime] = _wall_clock) -> None:
        self.history = history
        self.fleet_clusters = list(fleet_clusters)
        self.clock = clock
        self.feed = ChangeFeed(feed_capacity)
        self.metrics = FleetMetrics()
        self._known = incident_ids(history)  # "opened" means new to the store, across restarts too

    # -- what happened ----------------------------------------------------------------------------
    def on_receive(self, per_cluster: dict[str, int], changed: list[Incident]) -> None:
        """A webhook was stored: count its alerts (by resolved cluster) and publish the incidents it changed."""
        try:
            self._on_receive(per_cluster, changed)
        except Exception:  # the alerts are stored: a view must never turn their 2xx into a 5xx
            log.exception("updating the feed and metrics after a webhook failed")

    def on_investigated(self, inc: Incident | None, seconds: float, ok: bool) -> None:
        """An investigation ended (``inc`` as the correlator holds it now, None if it is gone)."""
        try:
            self.metrics.investigated(seconds, ok)
            if inc is not None:
                self._publish([inc], lambda _: "investigated" if ok else "investigation_failed")
        except Exception:
            log.exception("updating the feed and metrics after an investigation failed")

    def _on_receive(self, per_cluster: dict[str, int], changed: list[Incident]) -> None:
        self.metrics.received(per_cluster)
        self._publish(changed, self._change_kind)

    def _change_kind(self, inc: Incident) -> str:
        if inc.status in ("merged", "resolved"):
            return inc.status
        return "updated" if inc.id in self._known else "opened"

    def _publish(self, incidents: list[Incident], kind_of: Callable[[Incident], str]) -> None:
        """One feed event per incident: the row is built from the incident in memory plus its root
        cause (a primary-key lookup), so the webhook path never scans the history."""
        fields = report_fields(self.history, [inc.id for inc in incidents])
        for inc in incidents:
            kind = kind_of(inc)
            self._known.add(inc.id)
            self.feed.publish(kind, _row(inc, fields.get(inc.id, {})), self.clock())

    # -- reads ------------------------------------------------------------------------------------
    def summary(self) -> dict[str, Any]:
        return fleet_summary(self.history, self.fleet_clusters, self.clock())

    def trends(self, bucket: Literal["hour", "day"], since: datetime | None = None,
               until: datetime | None = None) -> dict[str, Any]:
        until = until or self.clock()
        return fleet_trends(self.history, bucket, since or until - DEFAULT_SPAN[bucket], until)

    def incidents(self, **filters: Any) -> dict[str, Any]:
        return search_incidents(self.history, **filters)

    async def events(self, after: int, timeout_s: float, limit: int = 100) -> dict[str, Any]:
        return await self.feed.wait(after, timeout_s, limit)

    def metrics_text(self) -> str:
        """The Prometheus exposition, with the scrape-time values brought up to date first."""
        m = self.metrics
        seq, errors = collector_errors_after(self.history, m.errors_seq)
        m.add_collector_errors(seq, errors)
        m.set_open(self.fleet_clusters, open_incidents_by_cluster(self.history))
        return m.text()


def _row(inc: Incident, root_cause: dict[str, Any]) -> dict[str, Any]:
    """The incident as the list shows it (``IncidentRow``)."""
    return {
        "id": inc.id, "cluster": inc.cluster, "clusters": inc.clusters or [inc.cluster], "key": inc.key,
        "subject": inc.subject.model_dump(), "status": inc.status, "opened_at": inc.opened_at,
        "updated_at": inc.updated_at, "resolved_at": inc.resolved_at, "merged_into": inc.merged_into,
        "revision": inc.revision, "alert_count": len(inc.alerts),
        "worst_severity": worst_severity(a.severity for a in inc.alerts),
        **{k: root_cause.get(k) for k in ("category", "confidence", "summary", "trigger_kind")},
    }
