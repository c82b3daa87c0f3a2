"""fleetsre's Prometheus metrics: one registry, owned by the incident manager, which sees every event.

The ingress serves ``GET /metrics`` by asking the manager for ``FleetMetrics.text()``. These metrics
come from fleetsre's own registry (``prometheus_client``), not from Ray's metrics agent, so their
names carry no ``ray_`` prefix; Ray's own (``ray_serve_*``) stay on Ray's metrics port.

| metric | type | labels |
| --- | --- | --- |
| ``fleetsre_alerts_received_total`` | counter | ``cluster`` |
| ``fleetsre_incidents_open`` | gauge | ``cluster`` (a multi-cluster incident counts in each) |
| ``fleetsre_investigation_duration_seconds`` | histogram | ``outcome`` (``ok`` or ``failed``) |
| ``fleetsre_collector_errors_total`` | counter | ``cluster``, ``resource`` |
| ``fleetsre_llm_tokens_total`` | counter | ``direction`` (``prompt``, ``completion``); 0 until an LLM runs |
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = ["CONTENT_TYPE", "METRIC_NAMES", "FleetMetrics"]

CONTENT_TYPE = CONTENT_TYPE_LATEST

#: Family names as a scrape shows them (counters with ``_total``; the histogram's
#: ``_bucket``/``_sum``/``_count`` series derive from its name).
METRIC_NAMES = (
    "fleetsre_alerts_received_total",
    "fleetsre_incidents_open",
    "fleetsre_investigation_duration_seconds",
    "fleetsre_collector_errors_total",
    "fleetsre_llm_tokens_total",
)

#: Investigations take seconds (collection, then detectors) up to the collect deadline and beyond.
DURATION_BUCKETS_S = (0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0)


class FleetMetrics:
    """The registry and its instruments; plain Python, so it is testable without Ray."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.alerts_received = Counter("fleetsre_alerts_received", "Alerts received in webhooks, by resolved cluster",
                                       ["cluster"], registry=r)
        self.incidents_open = Gauge("fleetsre_incidents_open", "Open incidents with alerts in the cluster",
                                    ["cluster"], registry=r)
        self.investigation_duration = Histogram(
            "fleetsre_investigation_duration_seconds", "Wall time of one investigation (collect, detect, store)",
            ["outcome"], buckets=DURATION_BUCKETS_S, registry=r)
        self.collector_errors = Counter("fleetsre_collector_errors",
                                        "Evidence that could not be collected, by cluster and resource",
                                        ["cluster", "resource"], registry=r)
        self.llm_tokens = Counter("fleetsre_llm_tokens", "Tokens sent to and received from an LLM backend",
                                  ["direction"], registry=r)
        for direction in ("prompt", "completion"):  # present (as 0) before any LLM exists
            self.llm_tokens.labels(direction=direction)
        for outcome in ("ok", "failed"):
            self.investigation_duration.labels(outcome=outcome)
        self._errors_seq = 0

    def received(self, by_cluster: Mapping[str, int]) -> None:
        for cluster, n in by_cluster.items():
            self.alerts_received.labels(cluster=cluster).inc(n)

    def investigated(self, seconds: float, ok: bool) -> None:
        self.investigation_duration.labels(outcome="ok" if ok else "failed").observe(max(0.0, seconds))

    def llm_used(self, prompt_tokens: int, completion_tokens: int) -> None:
        self.llm_tokens.labels(direction="prompt").inc(prompt_tokens)
        self.llm_tokens.labels(direction="completion").inc(completion_tokens)

    def set_open(self, clusters: Iterable[str], open_by_cluster: Mapping[str, int]) -> None:
        """Every known cluster gets a value, so a cluster whose incidents all closed reads 0, not stale."""
        for cluster in set(clusters) | set(open_by_cluster):
            self.incidents_open.labels(cluster=cluster).set(open_by_cluster.get(cluster, 0))

    def add_collector_errors(self, upto_seq: int, counts: Mapping[tuple[str, str], int]) -> None:
        """Count the errors of audit-trail events up to ``upto_seq`` (each event once)."""
        for (cluster, resource), n in counts.items():
            self.collector_errors.labels(cluster=cluster, resource=resource).inc(n)
        self._errors_seq = max(self._errors_seq, upto_seq)

    @property
    def errors_seq(self) -> int:
        return self._errors_seq

    def text(self) -> str:
        return generate_latest(self.registry).decode()
