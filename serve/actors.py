"""Ray actors: thin wrappers that give the engine's plain classes concurrency and a home.

- ``IncidentManager``: owns the correlator and the DuckDB history (the one writer), answers reads,
  and schedules investigations (coalesced per incident).
- ``ClusterCollector``: one per cluster up to a cap, past it a shard of clusters; runs the
  engine's collection for its clusters and writes Parquet evidence.
- ``Investigator``: reads an incident's Parquet evidence with DuckDB and runs the detectors.

After each report the manager selects its runbook and has the subject's collector run the
workflow (``ClusterCollector.remediate``): the collector owns the cluster's source, so reads for
the plans and — in ``auto`` mode only — the mutations go through it. Every step is recorded.

Every actor takes ``num_cpus=0``: they are I/O bound and a 2-core machine must fit them all.
"""

from __future__ import annotations

import asyncio
import logging
import time
import zlib
from pathlib import Path
from typing import Any

import ray

from clusters.fleet import Fleet
from engine.alerts import Alert
from engine.config import EngineConfig
from engine.correlate import Correlator, PodPlacement, topology_ref
from engine.history import HistoryStore
from engine.incident import Incident
from engine.ingest import Ingestor, incident_from_store
from engine.pipeline import (
    Coalescer,
    collect_cluster,
    investigate_incident,
    unreachable_summary,
    with_history,
    write_missing,
)
from engine.remediate import hold_reason, record_steps, remediate, select_runbook, step_events
from engine.report import ActionStep, Report
from engine.runbooks import Runbook, load_runbooks
from engine.sources import ClusterSource
from engine.topology import placements_for
from serve.fleet_views import FleetViews

log = logging.getLogger("fleetsre.actors")

NAMESPACE = "fleetsre"
MANAGER_NAME = "fleetsre-incident-manager"
INVESTIGATOR_NAME = "fleetsre-investigator"


def collector_name(shard: int) -> str:
    return f"fleetsre-collector-{shard}"


def shard_of(cluster: str, shards: int) -> int:
    """Stable cluster → collector shard (crc32, so every process agrees)."""
    return zlib.crc32(cluster.encode()) % shards


@ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=2)
class ClusterCollector:
    def __init__(self, fleet_json: str, clusters: list[str], config_json: str) -> None:
        fleet = Fleet.model_validate_json(fleet_json)
        self.cfg = EngineConfig.model_validate_json(config_json)
        self.sources: dict[str, ClusterSource] = {}
        self.broken: dict[str, str] = {}
        for name in clusters:
            entry = fleet.get(name)
            try:
                self.sources[name] = entry.source()  # type: ignore[union-attr]
            except Exception as exc:  # a bad kubeconfig must not take the other clusters down
                self.broken[name] = f"{type(exc).__name__}: {exc}"

    async def collect(self, incident_json: str, cluster: str) -> dict[str, Any]:
        inc = Incident.model_validate_json(incident_json)
        src = self.sources.get(cluster)
        if src is None:
            return unreachable_summary(cluster, self.broken.get(cluster, f"cluster {cluster!r} is not in the fleet"))
        return await asyncio.to_thread(collect_cluster, src, inc, self.cfg)

    async def placements(self, cluster: str, pods: list[tuple[str, str]]) -> dict[str, dict[str, Any]]:
        src = self.sources.get(cluster)
        if src is None:
            return {}
        return await asyncio.to_thread(placements_for, src, pods)

    async def remediate(self, report_json: str, runbook_json: str, mode: str, alertnames: list[str],
                        hold: str) -> dict[str, Any]:
        """Run a runbook's workflow for a report against its subject's cluster; the writer (a live
        source's) is handed over in ``auto`` mode only. Returns the steps and their event payloads."""
        report, runbook = Report.model_validate_json(report_json), Runbook.model_validate_json(runbook_json)
        cluster = report.root_cause.subject.cluster
        src = self.sources.get(cluster)
        make_writer = getattr(src, "writer", None) if mode == "auto" else None
        writer = make_writer() if callable(make_writer) else None
        _, run = await asyncio.to_thread(remediate, report, runbook, Path(self.cfg.data_dir), source=src,
                                         writer=writer, mode=mode, alertnames=alertnames,  # type: ignore[arg-type]
                                         hold=hold)
        return {"actions": [s.model_dump(mode="json") for s in run.steps], "events": step_events(run)}


@ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=2)
class Investigator:
    def __init__(self, config_json: str) -> None:
        self.cfg = EngineConfig.model_validate_json(config_json)

    async def investigate(self, incident_json: str) -> str:
        inc = Incident.model_validate_json(incident_json)
        report = await asyncio.to_thread(investigate_incident, inc, self.cfg)
        return report.model_dump_json()


@ray.remote(num_cpus=0, max_restarts=-1)
class IncidentManager:
    def __init__(self, fleet_json: str, config_json: str, shards: int) -> None:
        self.fleet = Fleet.model_validate_json(fleet_json)
        self.cfg = EngineConfig.model_validate_json(config_json)
        Path(self.cfg.data_dir).mkdir(parents=True, exist_ok=True)
        self.history = HistoryStore(Path(self.cfg.data_dir) / "history.duckdb")
        self.runbooks = load_runbooks(self.cfg.runbooks_dir)
        self._placements: dict[tuple[str, str, str], PodPlacement | None] = {}
        self.correlator = Correlator(self.cfg.correlation, topology=self._topology)
        self.ingestor = Ingestor(self.history, self.correlator, self.fleet.url_map())
        self.shards = shards
        self.coalescer: Coalescer | None = None
        self._scheduled_revision: dict[str, int] = {}
        self.lock = asyncio.Lock()
        # the change feed, the metrics and the dashboard's reads (it sees every webhook and investigation)
        self.views = FleetViews(self.history, [c.name for c in self.fleet.clusters])

    # -- ingest -------------------------------------------------------------------------------
    async def receive(self, body: Any, path_cluster: str | None) -> dict[str, Any]:
        """Store and correlate one webhook payload; raises PayloadError for an unusable envelope."""
        prepared = self.ingestor.prepare(body, path_cluster)  # the one parse of this body in the actor
        await self._prefetch_placements(prepared.alerts)
        async with self.lock:  # correlation and the DuckDB writes are one critical section
            result = self.ingestor.receive(body, path_cluster, prepared=prepared)
            self.views.on_receive(result.per_cluster, result.changed)
        for inc in result.changed:
            # investigate when an alert joined (revision bump); a repeat or a resolve needs no new look,
            # and merged incidents are investigated as part of the incident that absorbed them
            if inc.status == "open" and inc.revision > self._scheduled_revision.get(inc.id, 0):
                self._scheduled_revision[inc.id] = inc.revision
                self._schedule(inc.id)
        return result.summary()

    def _topology(self, cluster: str, ns: str, pod: str) -> PodPlacement | None:
        return self._placements.get((cluster, ns, pod))

    async def _prefetch_placements(self, alerts: list[Alert]) -> None:
        """Ask the collectors where the alerts' pods run (pod → node, owner) before correlating."""
        wanted: dict[str, list[tuple[str, str]]] = {}
        for a in alerts:
            t = a.target()
            ref = topology_ref(t)
            if ref and (a.cluster, t.namespace, ref) not in self._placements:
                wanted.setdefault(a.cluster, []).append((t.namespace or "", ref))
        calls = {c: self._collector(c).placements.remote(c, pods) for c, pods in wanted.items() if self.fleet.get(c)}
        for cluster, ref in calls.items():
            try:
                found = await asyncio.wait_for(ref, timeout=5.0)
            except Exception:  # enrichment only: correlation by names still works
                continue
            for ns, pod in wanted[cluster]:
                p = found.get(f"{ns}/{pod}")
                self._placements[(cluster, ns, pod)] = PodPlacement(**p) if p else None

    # -- investigations -----------------------------------------------------------------------
    def _schedule(self, incident_id: str) -> None:
        if self.coalescer is None:
            self.coalescer = Coalescer(self._investigate_observed)
        self.coalescer.request(incident_id)

    def _collector(self, cluster: str) -> Any:
        return ray.get_actor(collector_name(shard_of(cluster, self.shards)), namespace=NAMESPACE)

    async def _investigate(self, incident_id: str) -> None:
        inc = self.correlator.incidents[incident_id].model_copy(deep=True)
        payload = inc.model_dump_json()
        try:
            summaries = await asyncio.gather(*[self._collect(payload, c) for c in inc.clusters])
            async with self.lock:
                for s in summaries:
                    self.history.add_event(inc.id, "collected", s)
            investigator = ray.get_actor(INVESTIGATOR_NAME, namespace=NAMESPACE)
            report = Report.model_validate_json(await investigator.investigate.remote(payload))
            report = await self._remediate(inc, report)
        except Exception as exc:
            log.exception("investigation of %s failed", incident_id)
            async with self.lock:
                self.history.add_event(inc.id, "investigation_failed", {"error": f"{type(exc).__name__}: {exc}"})
            raise
        async with self.lock:
            current = self.correlator.incidents[incident_id]
            report = with_history(report, current, self.history, self.cfg)
            self.history.save_report(current, report)
            self.history.add_event(inc.id, "investigated", {
                "revision": inc.revision, "category": report.root_cause.category,
                "confidence": report.root_cause.confidence, "backend": report.backend, "missing": report.missing})

    async def _investigate_observed(self, incident_id: str) -> None:
        """``_investigate``, timed for the metrics and announced on the change feed."""
        started, ok = time.monotonic(), False
        try:
            await self._investigate(incident_id)
            ok = True
        finally:
            self.views.on_investigated(self.correlator.incidents.get(incident_id), time.monotonic() - started, ok)

    async def _remediate(self, inc: Incident, report: Report) -> Report:
        """The report's runbook, run by the subject's collector in the configured mode; each step is
        recorded as a ``runbook_step`` event. A failure is recorded and leaves the report as it was."""
        names = [a.alertname for a in inc.alerts]
        runbook = select_runbook(self.runbooks, report, names)
        if runbook is None:
            return report
        queued = bool(self.coalescer and self.coalescer.queued(inc.id))
        async with self.lock:
            hold = hold_reason(self.history, inc.id, queued=queued)
        cluster = report.root_cause.subject.cluster
        try:
            out = await asyncio.wait_for(self._collector(cluster).remediate.remote(
                report.model_dump_json(), runbook.model_dump_json(), self.cfg.remediation_mode, names, hold),
                self.cfg.collect.collect_timeout_s + 30)
        except Exception as exc:  # remediation must never cost the incident its report
            log.exception("runbook %s for %s failed", runbook.id, inc.id)
            async with self.lock:
                self.history.add_event(inc.id, "runbook_failed", {"runbook": runbook.id,
                                                                  "error": f"{type(exc).__name__}: {exc}"})
            return report.model_copy(update={"runbook": runbook.id})
        async with self.lock:
            record_steps(self.history, inc.id, out["events"])
        return report.model_copy(update={"runbook": runbook.id,
                                         "actions": [ActionStep.model_validate(a) for a in out["actions"]]})

    async def _collect(self, payload: str, cluster: str) -> dict[str, Any]:
        if self.fleet.get(cluster) is None:
            summary = unreachable_summary(cluster, f"cluster {cluster!r} is not in the fleet registry")
            write_missing(Path(self.cfg.data_dir), Incident.model_validate_json(payload).id, cluster, summary)
            return summary
        timeout = self.cfg.collect.collect_timeout_s + 30
        try:
            return await asyncio.wait_for(self._collector(cluster).collect.remote(payload, cluster), timeout)
        except Exception as exc:
            return unreachable_summary(cluster, f"collector failed: {type(exc).__name__}: {exc}")

    # -- reads --------------------------------------------------------------------------------
    async def list_alerts(self, **filters: Any) -> list[dict[str, Any]]:
        return self.history.list_alerts(**filters)

    async def list_incidents(self, **filters: Any) -> list[dict[str, Any]]:
        return self.history.list_incidents(**filters)

    async def get_incident(self, incident_id: str) -> dict[str, Any] | None:
        return self.history.get_incident(incident_id)

    async def reinvestigate(self, incident_id: str) -> str | None:
        """Schedule a fresh investigation (with today's history); the incident's id, or None if unknown."""
        inc = self.correlator.incidents.get(incident_id)
        if inc is None:  # e.g. after a restart: rebuild it from the store
            inc = incident_from_store(self.history, incident_id)
            if inc is None:
                return None
            self.correlator.incidents[inc.id] = inc
        while inc.status == "merged" and inc.merged_into:
            inc = self.correlator.incidents[inc.merged_into]
        async with self.lock:
            self.history.add_event(inc.id, "reinvestigate_requested", {"revision": inc.revision})
        self._schedule(inc.id)
        return inc.id

    async def status(self) -> dict[str, Any]:
        busy = self.coalescer.busy() if self.coalescer else 0
        return {"investigations_in_flight": busy, "counts": self.history.counts(),
                "incidents_open": len(self.correlator.open_incidents())}

    # -- the dashboard: fleet reads, the change feed, metrics ----------------------------------
    async def fleet_summary(self) -> dict[str, Any]:
        return self.views.summary()

    async def fleet_trends(self, bucket: str, since: Any = None, until: Any = None) -> dict[str, Any]:
        return self.views.trends(bucket, since, until)  # type: ignore[arg-type]

    async def search_incidents(self, **filters: Any) -> dict[str, Any]:
        return self.views.incidents(**filters)

    async def events_since(self, after: int, timeout_s: float = 0.0, limit: int = 100) -> dict[str, Any]:
        """Change-feed events after ``after`` (-1: from now), waiting up to ``timeout_s`` for one."""
        return await self.views.events(after, timeout_s, limit)

    async def metrics_text(self) -> str:
        return self.views.metrics_text()

    async def wait_idle(self, timeout_s: float = 120.0) -> bool:
        """Wait until no investigation is in flight (demo and tests)."""
        deadline = asyncio.get_running_loop().time() + timeout_s
        while self.coalescer and self.coalescer.busy():
            if asyncio.get_running_loop().time() > deadline:
                return False
            await asyncio.sleep(0.1)
        return True
