"""Ray actors that work for the incident manager: collectors and the investigator.

- ``ClusterCollector``: one per cluster up to a cap, past it a shard of clusters (per zone); runs the
  engine's collection for its clusters, writes Parquet evidence, answers pod placements and runs
  runbook workflows against its clusters (reads always; mutations only in ``auto`` mode).
- ``Investigator``: reads an incident's Parquet evidence with DuckDB, runs the detectors and the
  configured reasoner; its tools read history and memory through the manager (``_ManagerReads``).

Both take ``num_cpus=0`` and restart forever; ``serve/actors.py`` holds the manager and the module
docstring there explains placement and restarts.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import ray

from clusters.fleet import Fleet
from engine.config import EngineConfig
from engine.incident import Incident
from engine.pipeline import (
    collect_cluster,
    investigate_incident,
    unreachable_summary,
)
from engine.remediate import remediate, step_events
from engine.report import Report
from engine.runbooks import Runbook, load_runbooks
from engine.sources import ClusterSource
from engine.topology import placements_for
from serve.placement import (
    collector_name,
    fleet_hash,
    persisted_fleet_json,
    plan_collectors,
    shard_of,
)

log = logging.getLogger("fleetsre.actors")

NAMESPACE = "fleetsre"
MANAGER_NAME = "fleetsre-incident-manager"
INVESTIGATOR_NAME = "fleetsre-investigator"
#: threads of one collector actor for its clusters' collections, placements and runbooks (each
#: collection runs its API calls on a pool of its own, ``CollectConfig.max_concurrency`` wide)
COLLECTOR_THREADS = 256
#: the investigator's threads: investigations in flight at once
INVESTIGATOR_THREADS = 32
FLEET_FILE = "fleet.json"  # in the data dir: the fleet restarted actors use (see the module docstring)
__all__ = ["ClusterCollector", "Investigator", "collector_name", "shard_of"]


def _restarted() -> bool:
    """Whether this actor's ``__init__`` runs for a restart (Ray re-creates it with its creation args)."""
    try:
        return bool(ray.get_runtime_context().was_current_actor_reconstructed)
    except Exception:  # not in an actor (plain unit tests)
        return False


def startup_fleet(fleet_json: str, data_dir: Path) -> Fleet:
    """The creation fleet, or after a restart the newest one the manager persisted."""
    path = data_dir / FLEET_FILE
    if _restarted() and path.is_file():
        try:
            return Fleet.model_validate_json(path.read_text())
        except Exception:  # a torn or foreign file: fall back to the creation fleet
            log.exception("cannot read %s; using the fleet the actor was created with", path)
    return Fleet.model_validate_json(fleet_json)


def persist_fleet(fleet: Fleet, data_dir: Path) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    tmp = data_dir / f".{FLEET_FILE}.tmp"
    tmp.write_text(persisted_fleet_json(fleet))
    tmp.replace(data_dir / FLEET_FILE)  # atomic: a restart never reads half a file


# collect, placements, info, reload: reads of the clusters (or idempotent), retried on a restarted actor
# with no limit: while a lost node's actor restarts elsewhere, each failed connection attempt uses a retry
# up, so a small count runs out before the restart completes (seen in tests/integration/test_multinode.py).
# Only actor failures are retried, never a method's own exception, so a retry never loops on a bad cluster.
@ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=-1)
class ClusterCollector:
    def __init__(self, fleet_json: str, clusters: list[str], config_json: str) -> None:
        self.cfg = EngineConfig.model_validate_json(config_json)
        # Its own pool, not asyncio.to_thread's default (cpu_count + 4 = 6 threads on 2 cores): a
        # shard's clusters must all collect at once, or at fleet scale they wait in line behind each
        # other (and behind a hung cluster). Threads are made only as calls need them.
        self._pool = ThreadPoolExecutor(max_workers=COLLECTOR_THREADS, thread_name_prefix="collector")
        fleet = startup_fleet(fleet_json, Path(self.cfg.data_dir))
        if _restarted():  # the persisted fleet may have moved clusters between shards since creation
            shard = plan_collectors(fleet).get(ray.get_runtime_context().get_actor_name() or "")
            clusters = list(shard.clusters) if shard else clusters
        self._load(fleet, clusters)

    def _load(self, fleet: Fleet, clusters: list[str]) -> None:
        sources: dict[str, ClusterSource] = {}
        broken: dict[str, str] = {}
        for name in clusters:
            entry = fleet.get(name)
            try:
                sources[name] = entry.source()  # type: ignore[union-attr]
            except Exception as exc:  # a bad kubeconfig must not take the other clusters down
                broken[name] = f"{type(exc).__name__}: {exc}"
        # swapped whole: a collection in flight keeps the source object it already holds
        self.sources, self.broken, self.fleet_hash = sources, broken, fleet_hash(fleet)

    async def reload(self, fleet_json: str, clusters: list[str]) -> bool:
        """Collect ``clusters`` of this fleet from now on (a changed fleet file); True if anything changed."""
        fleet = Fleet.model_validate_json(fleet_json)
        if fleet_hash(fleet) == self.fleet_hash and sorted([*self.sources, *self.broken]) == sorted(clusters):
            return False
        await asyncio.to_thread(self._load, fleet, clusters)
        return True

    async def info(self) -> dict[str, Any]:
        """Where this collector runs and what it collects (placement checks, ``fleetsre`` ops)."""
        ctx = ray.get_runtime_context()
        return {"name": ctx.get_actor_name(), "node_id": ctx.get_node_id(), "clusters": sorted(self.sources),
                "broken": sorted(self.broken), "fleet_hash": self.fleet_hash}

    async def collect(self, incident_json: str, cluster: str) -> dict[str, Any]:
        inc = Incident.model_validate_json(incident_json)
        src = self.sources.get(cluster)
        if src is None:
            return unreachable_summary(cluster, self.broken.get(cluster, f"cluster {cluster!r} is not in the fleet"))
        return await self._in_pool(collect_cluster, src, inc, self.cfg)

    async def placements(self, cluster: str, pods: list[tuple[str, str]]) -> dict[str, dict[str, Any]]:
        src = self.sources.get(cluster)
        if src is None:
            return {}
        # one pod's lookup (pod, then its ReplicaSet) per thread: the pods are independent, and the
        # manager correlates only once they are answered
        found = await asyncio.gather(*[self._in_pool(placements_for, src, [p]) for p in dict.fromkeys(map(tuple, pods))])
        return {k: v for f in found for k, v in f.items()}

    async def _in_pool(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._pool, functools.partial(fn, *args, **kwargs))

    @ray.method(max_task_retries=0)  # in auto mode it changes the cluster: never re-run on a restarted actor
    async def remediate(self, report_json: str, runbook_json: str, mode: str, alertnames: list[str],
                        hold: str) -> dict[str, Any]:
        """Run a runbook's workflow for a report against its subject's cluster; the writer (a live
        source's) is handed over in ``auto`` mode only. Returns the steps and their event payloads."""
        report, runbook = Report.model_validate_json(report_json), Runbook.model_validate_json(runbook_json)
        cluster = report.root_cause.subject.cluster
        src = self.sources.get(cluster)
        make_writer = getattr(src, "writer", None) if mode == "auto" else None
        writer = make_writer() if callable(make_writer) else None
        _, run = await self._in_pool(remediate, report, runbook, Path(self.cfg.data_dir), source=src,
                                     writer=writer, mode=mode, alertnames=alertnames, hold=hold)
        return {"actions": [s.model_dump(mode="json") for s in run.steps], "events": step_events(run)}


@ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=-1)  # investigate reads evidence only: idempotent
class Investigator:
    def __init__(self, config_json: str) -> None:
        from engine.reasoning import make_reasoner

        self.cfg = EngineConfig.model_validate_json(config_json)
        # the history and the semantic memory belong to the manager: the LLM tools ask it
        manager = _ManagerReads()
        self.reasoner = make_reasoner(self.cfg.reasoner, history=manager, memory=manager,
                                      runbooks=load_runbooks(self.cfg.runbooks_dir))
        # not asyncio.to_thread's 6 threads: a fleet's worth of incidents arrives at once, and a
        # reasoner that asks an LLM spends its time waiting on the network
        self._pool = ThreadPoolExecutor(max_workers=INVESTIGATOR_THREADS, thread_name_prefix="investigator")

    async def investigate(self, incident_json: str) -> str:
        """The report (refined by the configured reasoner) and its audit trail, as JSON
        ``{"report": ..., "events": [[kind, payload], ...]}``: the manager records the events."""
        inc = Incident.model_validate_json(incident_json)
        events: list[tuple[str, dict[str, Any]]] = []
        report = await asyncio.get_running_loop().run_in_executor(self._pool, functools.partial(
            investigate_incident, inc, self.cfg, reasoner=self.reasoner,
            record=lambda kind, payload: events.append((kind, payload))))
        return json.dumps({"report": report.model_dump(mode="json"), "events": events}, default=str)


class _ManagerReads:
    """History reads and semantic-memory searches for the LLM tools, asked of the manager (their one
    owner); called from the investigation's worker thread, so blocking ``ray.get`` is fine."""

    def _manager(self) -> Any:
        return ray.get_actor(MANAGER_NAME, namespace=NAMESPACE)

    def query(self, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
        return ray.get(self._manager().history_read.remote(sql, params), timeout=30)

    def similar_incidents(self, text: str, k: int = 5, exclude_id: str | None = None) -> list[dict[str, Any]]:
        return ray.get(self._manager().similar_incidents.remote(text, k, exclude_id), timeout=30)

    def runbook_sections(self, text: str, k: int = 5) -> list[dict[str, Any]]:
        return ray.get(self._manager().runbook_sections.remote(text, k), timeout=30)


# No class-wide task retries: receive and the scheduling methods are not idempotent. The pure reads
# (list_*, get_incident, status, fleet_*, search_incidents, metrics_text, wait_idle) and reload_fleet
# are, and retry across a restart (@ray.method below).
