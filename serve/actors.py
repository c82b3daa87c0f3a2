"""Ray actors: thin wrappers that give the engine's plain classes concurrency and a home.

The incident manager lives here; the actors that work for it (collectors, the investigator) live in
``serve/workers.py`` and are re-exported from here.

- ``IncidentManager``: owns the correlator and the DuckDB history (the one writer), answers reads,
  and schedules investigations (coalesced per incident).
- ``ClusterCollector``: one per cluster up to a cap, past it a shard of clusters; runs the
  engine's collection for its clusters and writes Parquet evidence.
- ``Investigator``: reads an incident's Parquet evidence with DuckDB and runs the detectors.

After each report the manager selects its runbook and has the subject's collector run the
workflow (``ClusterCollector.remediate``): the collector owns the cluster's source, so reads for
the plans and — in ``auto`` mode only — the mutations go through it. Every step is recorded.

Every actor takes ``num_cpus=0``: they are I/O bound and a 2-core machine must fit them all.

Placement and restarts (``serve/placement.py`` says where; ``serve/app.py`` passes the options): a
collector of zone-pinned clusters runs only on nodes advertising ``zone:<zone>``; the manager runs
on the node advertising ``fleetsre-history`` (the data volume). All restart forever
(``max_restarts=-1``). A restarted actor re-runs ``__init__`` with its *creation* arguments, so the
manager persists the current fleet (without tokens) as ``<data_dir>/fleet.json`` and restarted
actors read it from there; the manager also rebuilds its correlator from DuckDB (on a restart, and
on a new Ray over an existing data dir) and re-runs the investigations that were interrupted.
``reload`` / ``reload_fleet`` switch live actors to a new fleet (``build_app`` calls them), so adding
a cluster needs no new Ray cluster.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from pathlib import Path
from typing import Any

import orjson
import ray

from clusters.fleet import Fleet
from engine.alerts import Alert
from engine.config import EngineConfig
from engine.correlate import Correlator, PodPlacement, topology_ref
from engine.history import HistoryStore
from engine.incident import Incident
from engine.ingest import Ingestor, ReceiveResult, incident_from_store, restore_correlator, stale_incidents
from engine.pipeline import (
    Coalescer,
    unreachable_summary,
    with_history,
    write_missing,
)
from engine.remediate import hold_reason, record_steps, select_runbook
from engine.report import ActionStep, Report
from engine.runbooks import load_runbooks
from engine.spool import PriorityLock, SpoolConsumer
from serve.fleet_views import FleetViews
from serve.placement import (
    collector_name,
    collector_of,
    fleet_hash,
    plan_collectors,
    shard_of,
)
from serve.workers import (
    INVESTIGATOR_NAME,
    MANAGER_NAME,
    NAMESPACE,
    ClusterCollector,
    Investigator,
    log,
    persist_fleet,
    startup_fleet,
)

__all__ = ["INVESTIGATOR_NAME", "MANAGER_NAME", "NAMESPACE", "ClusterCollector", "IncidentManager", "Investigator",
           "collector_name", "shard_of"]


@ray.remote(num_cpus=0, max_restarts=-1)
class IncidentManager:
    def __init__(self, fleet_json: str, config_json: str) -> None:
        self.cfg = EngineConfig.model_validate_json(config_json)
        Path(self.cfg.data_dir).mkdir(parents=True, exist_ok=True)
        self.fleet = startup_fleet(fleet_json, Path(self.cfg.data_dir))
        persist_fleet(self.fleet, Path(self.cfg.data_dir))
        self.history = HistoryStore(Path(self.cfg.data_dir) / "history.duckdb")
        self.runbooks = load_runbooks(self.cfg.runbooks_dir)
        self._placements: dict[tuple[str, str, str], PodPlacement | None] = {}
        self.correlator = Correlator(self.cfg.correlation, topology=self._topology)
        self.ingestor = Ingestor(self.history, self.correlator, self.fleet.url_map())
        self.plan = plan_collectors(self.fleet)
        self.coalescer: Coalescer | None = None
        self._scheduled_revision: dict[str, int] = {}
        self.lock = PriorityLock()  # storing the spool goes first (engine/spool.py)
        # the change feed, the metrics and the dashboard's reads (it sees every webhook and investigation)
        self.views = FleetViews(self.history, [c.name for c in self.fleet.clusters])
        # a restart, or a new Ray over an existing data dir (`fleetsre serve` again): carry on from DuckDB
        self._resume: list[str] = self._restore()
        # the webhook spool (engine/spool.py): ingress replicas append and fsync, this actor stores in order
        self.spool = SpoolConsumer(Path(self.cfg.data_dir) / "spool", self.history.spool_positions())
        self._drain_lock = asyncio.Lock()
        self._spool_wake = asyncio.Event()
        self._spool_task: asyncio.Task[None] | None = None
        self._spooled_stored = 0  # records stored from the spool since start (status, benchmarks)
        if self.cfg.ingest.ack == "spooled" and self.cfg.ingest.manager_niceness:
            try:  # the ack path (ingress replicas, HAProxy) first; storing is background work with a bounded lag
                os.nice(self.cfg.ingest.manager_niceness)
            except OSError:
                pass
        self._ensure_spool_loop()
        # semantic memory (Qdrant): this actor is its one writer; opened, and the runbooks indexed, off the
        # constructor (a dense model takes seconds to load) — until then reports go without semantic matches
        self.memory: Any = None
        threading.Thread(target=self._open_memory, name="fleetsre-memory", daemon=True).start()

    # -- ingest -------------------------------------------------------------------------------
    async def receive(self, body: Any, path_cluster: str | None) -> dict[str, Any]:
        """Store and correlate one webhook payload; raises PayloadError for an unusable envelope."""
        prepared = self.ingestor.prepare(body, path_cluster)  # the one parse of this body in the actor
        await self._prefetch_placements(prepared.alerts)
        async with self.lock:  # correlation and the DuckDB writes are one critical section
            result = self.ingestor.receive(body, path_cluster, prepared=prepared)
            self.views.on_receive(result.per_cluster, result.changed)
        self._after_receive(result.changed)
        return result.summary()

    def _after_receive(self, changed: list[Incident]) -> None:
        """What follows a stored webhook (synchronous or spooled): schedule investigations, remember."""
        # a fleet incident's first members are investigated, the others point at it: a storm of one bad
        # rollout across the fleet costs fleet_investigate_max investigations, not one per cluster
        worth = {i.id for i in self.correlator.to_investigate(changed)}
        for inc in changed:
            # investigate when an alert joined (revision bump); a repeat or a resolve needs no new look,
            # and merged incidents are investigated as part of the incident that absorbed them
            if inc.id in worth and inc.revision > self._scheduled_revision.get(inc.id, 0):
                self._scheduled_revision[inc.id] = inc.revision
                self._schedule(inc.id)
            elif inc.status == "resolved" and self.memory is not None:
                asyncio.get_running_loop().create_task(self._remember(inc.model_copy(deep=True)))

    # -- the webhook spool ------------------------------------------------------------------------
    def _ensure_spool_loop(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # constructed outside the actor's loop: the first async call starts it
            return
        if self._spool_task is None or self._spool_task.done():
            self._spool_task = loop.create_task(self._spool_loop())

    async def spool_notify(self) -> None:
        """An ingress replica spooled something: look now rather than at the next poll."""
        self._ensure_spool_loop()
        self._spool_wake.set()

    async def _spool_loop(self) -> None:
        idle_polls = 0
        while True:
            try:
                async with self._drain_lock:
                    n = await self._drain_once()
                if n == 0:
                    idle_polls += 1
                    if idle_polls % 100 == 1:  # now and then: dead writers' fully stored directories
                        for spool in self.spool.cleanup():
                            async with self.lock:
                                self.history.drop_spool_position(spool)
                    self._spool_wake.clear()
                    try:
                        await asyncio.wait_for(self._spool_wake.wait(), self.cfg.ingest.poll_interval_s)
                    except TimeoutError:
                        pass
                else:
                    idle_polls = 0
                    await asyncio.sleep(0)  # let reads and investigations in between batches
            except asyncio.CancelledError:
                raise
            except Exception:  # e.g. the disk is full: keep the records, try again
                log.exception("storing spooled webhooks failed; retrying")
                await asyncio.sleep(1.0)

    async def _drain_once(self) -> int:
        """Store one batch of spooled webhooks in one transaction with the new positions; how many."""
        batches = self.spool.poll(self.cfg.ingest.batch_bytes)
        if not batches:
            return 0
        items: list[tuple[Any, Any, str | None]] = []  # (record, prepared, error)
        for _, records, _ in batches:
            for r in records:
                try:
                    items.append((r, self.ingestor.prepare(orjson.loads(r.body), r.cluster), None))
                except Exception as exc:  # screened by the ingress, so unexpected: record it, never block
                    items.append((r, None, f"{type(exc).__name__}: {exc}"))
        await self._prefetch_placements([a for _, p, _ in items if p is not None for a in p.alerts])
        good = [p for _, p, _ in items if p is not None]
        result = None
        async with self.lock.first():
            with self.history.transaction():
                try:  # the whole batch is one correlation pass and one upsert (engine/ingest.py)
                    result = self.ingestor.receive_many(good)
                except Exception:  # a poison record must not block the spool: one by one, record the failures
                    log.exception("storing %d spooled webhooks as one failed; one by one", len(good))
                    items, result = self._one_by_one(items)
                for r, p, err in items:
                    if p is None:
                        self.history.add_event(None, "spool_record_failed", {
                            "error": err, "cluster": r.cluster, "received_at_ns": r.received_at_ns,
                            "body": r.body[:65536].decode(errors="replace")})
                for spool, _, end in batches:
                    self.history.set_spool_position(spool, end.segment, end.offset)
            if result is not None:
                self.views.on_receive(result.per_cluster, result.changed)
        self._last_commit_at = time.time()  # wall clock: benchmarks compare it with their last ack
        for spool, _, end in batches:
            self.spool.committed(spool, end)
        if result is not None:
            self._after_receive(result.changed)
        self._spooled_stored += len(items)
        return len(items)

    def _one_by_one(self, items: list[tuple[Any, Any, str | None]]) -> tuple[list[tuple[Any, Any, str | None]], Any]:
        out, changed, per_cluster = [], {}, {}
        for r, p, err in items:
            if p is not None:
                try:
                    res = self.ingestor.receive_many([p])
                    changed.update((i.id, i) for i in res.changed)
                    for c, n in res.per_cluster.items():
                        per_cluster[c] = per_cluster.get(c, 0) + n
                except Exception as exc:
                    p, err = None, f"{type(exc).__name__}: {exc}"
            out.append((r, p, err))
        return out, ReceiveResult(accepted=sum(per_cluster.values()), changed=list(changed.values()),
                                  per_cluster=per_cluster)

    async def spool_barrier(self, timeout_s: float | None = None) -> bool:
        """Store what is spooled now (and whatever comes meanwhile) before returning; False on timeout."""
        self._ensure_spool_loop()
        limit = self.cfg.ingest.read_barrier_s if timeout_s is None else timeout_s
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit
        while loop.time() < deadline:
            try:
                async with asyncio.timeout(max(0.0, deadline - loop.time())):
                    async with self._drain_lock:
                        if await self._drain_once() == 0:
                            return True
            except TimeoutError:
                return False
        return False

    async def spool_status(self) -> dict[str, Any]:
        return {"stored": self._spooled_stored, "pending_bytes": self.spool.pending_bytes(),
                "positions": {k: list(v) for k, v in self.spool.positions.items()},
                "incidents_scheduled": len(self._scheduled_revision),
                "last_commit_at": getattr(self, "_last_commit_at", None)}

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
        return ray.get_actor(collector_of(self.plan, cluster) or collector_name(0), namespace=NAMESPACE)

    # -- restart and fleet changes ------------------------------------------------------------
    def _restore(self) -> list[str]:
        """The correlator rebuilt from DuckDB (nothing to do on a new store); the ids whose investigation
        a restart interrupted, to re-run."""
        opened = restore_correlator(self.history, self.correlator)
        for inc in opened:
            self._scheduled_revision[inc.id] = inc.revision  # a repeated alert must not re-investigate
        stale = stale_incidents(self.history, opened)
        if opened:
            log.warning("%d open incident(s) restored from history, %d investigation(s) to re-run",
                        len(opened), len(stale))
        if stale:  # scheduling needs the event loop, which __init__ does not run in: ask ourselves
            ray.get_runtime_context().current_actor.resume.remote()
        return stale

    async def resume(self) -> int:
        """Re-run the investigations a restart interrupted (called once by the restarted actor itself)."""
        ids, self._resume = self._resume, []
        for incident_id in ids:
            async with self.lock:
                self.history.add_event(incident_id, "reinvestigate_requested", {"reason": "manager restarted"})
            self._schedule(incident_id)
        return len(ids)

    @ray.method(max_task_retries=-1)
    async def info(self) -> dict[str, Any]:
        """Where the manager runs and which fleet it uses (placement checks, ops)."""
        return {"node_id": ray.get_runtime_context().get_node_id(), "fleet_hash": fleet_hash(self.fleet),
                "collectors": {n: list(s.clusters) for n, s in self.plan.items()}}

    @ray.method(max_task_retries=-1)
    async def reload_fleet(self, fleet_json: str) -> bool:
        """Switch to a changed fleet (clusters added, removed, re-zoned); True if it changed. Idempotent."""
        fleet = Fleet.model_validate_json(fleet_json)
        if fleet_hash(fleet) == fleet_hash(self.fleet):
            return False
        async with self.lock:
            self.fleet, self.plan = fleet, plan_collectors(fleet)
            self.ingestor.url_map = {k.rstrip("/"): v for k, v in fleet.url_map().items()}
            self.views.fleet_clusters = fleet.names()
            persist_fleet(fleet, Path(self.cfg.data_dir))
        return True

    async def _investigate(self, incident_id: str) -> None:
        inc = self.correlator.incidents[incident_id].model_copy(deep=True)
        payload = inc.model_dump_json()
        try:
            summaries = await asyncio.gather(*[self._collect(payload, c) for c in inc.clusters])
            async with self.lock:  # one commit for the clusters' collection events
                self.history.add_events([(inc.id, "collected", s) for s in summaries])
            investigator = ray.get_actor(INVESTIGATOR_NAME, namespace=NAMESPACE)
            out = json.loads(await investigator.investigate.remote(payload))
            async with self.lock:  # the reasoner's audit trail: prompts, tool calls, tokens, cost (one commit)
                self.history.add_events([(inc.id, kind, event) for kind, event in out["events"]])
            report = await self._remediate(inc, Report.model_validate(out["report"]))
        except Exception as exc:
            log.exception("investigation of %s failed", incident_id)
            async with self.lock:
                self.history.add_event(inc.id, "investigation_failed", {"error": f"{type(exc).__name__}: {exc}"})
            raise
        async with self.lock:
            current = self.correlator.incidents[incident_id]
            report = with_history(report, current, self.history, self.cfg, memory=self.memory)
            with self.history.transaction():  # the report and its event land together, in one commit
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
            # a Parquet write: off the event loop, which must keep storing spooled webhooks meanwhile
            await asyncio.to_thread(write_missing, Path(self.cfg.data_dir), Incident.model_validate_json(payload).id,
                                    cluster, summary)
            return summary
        timeout = self.cfg.collect.collect_timeout_s + 30
        try:
            return await asyncio.wait_for(self._collector(cluster).collect.remote(payload, cluster), timeout)
        except Exception as exc:
            return unreachable_summary(cluster, f"collector failed: {type(exc).__name__}: {exc}")

    # -- semantic memory ----------------------------------------------------------------------
    def _open_memory(self) -> None:
        from engine.memory import open_memory

        memory = open_memory(self.cfg)
        if memory is None:
            return
        try:
            memory.index_runbooks(self.runbooks.runbooks)
        except Exception:  # a broken runbook index still leaves incident memory usable
            log.exception("indexing runbooks into semantic memory failed")
        try:
            memory.backfill(self.history)  # resolved incidents it lacks (memory just enabled, mode changed)
        except Exception:
            log.exception("backfilling semantic memory from the history failed")
        self.memory = memory

    async def _remember(self, inc: Incident) -> None:
        """Index a resolved incident's latest report (re-indexing the same incident replaces it)."""
        latest = self.history.latest_reports([inc.id]).get(inc.id)
        if latest is None:
            return
        try:
            await asyncio.to_thread(self.memory.index_report, Report.model_validate(latest),
                                    alertnames=[a.alertname for a in inc.alerts], opened_at=inc.opened_at,
                                    resolved_at=inc.resolved_at)
        except Exception:
            log.exception("indexing %s into semantic memory failed", inc.id)

    async def similar_incidents(self, text: str, k: int = 5, exclude_id: str | None = None) -> list[dict[str, Any]]:
        """The memory's search, for LLM tools running in other processes ([] until memory is open)."""
        if self.memory is None:
            return []
        return await asyncio.to_thread(self.memory.similar_incidents, text, k, exclude_id)

    async def history_read(self, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
        """A read of the history for the LLM tools of the investigator (one SELECT, nothing else)."""
        import duckdb

        with duckdb.connect(":memory:") as parser:  # not the store's connection: it is in use elsewhere
            statements = parser.extract_statements(sql)
        if len(statements) != 1 or statements[0].type.name != "SELECT":
            raise ValueError("history_read takes one SELECT statement")
        return await asyncio.to_thread(self.history.query, sql, params)

    async def runbook_sections(self, text: str, k: int = 5) -> list[dict[str, Any]]:
        if self.memory is None:
            return []
        return await asyncio.to_thread(self.memory.runbook_sections, text, k)

    # -- reads --------------------------------------------------------------------------------
    @ray.method(max_task_retries=-1)
    async def list_alerts(self, **filters: Any) -> list[dict[str, Any]]:
        await self.spool_barrier()  # reads see what was acknowledged before them (bounded wait)
        return self.history.list_alerts(**filters)

    @ray.method(max_task_retries=-1)
    async def list_incidents(self, **filters: Any) -> list[dict[str, Any]]:
        await self.spool_barrier()
        return self.history.list_incidents(**filters)

    @ray.method(max_task_retries=-1)
    async def get_incident(self, incident_id: str) -> dict[str, Any] | None:
        await self.spool_barrier()
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

    @ray.method(max_task_retries=-1)
    async def status(self) -> dict[str, Any]:
        busy = self.coalescer.busy() if self.coalescer else 0
        return {"investigations_in_flight": busy, "counts": self.history.counts(),
                "incidents_open": len(self.correlator.open_incidents())}

    # -- the dashboard: fleet reads, the change feed, metrics ----------------------------------
    @ray.method(max_task_retries=-1)
    async def fleet_summary(self) -> dict[str, Any]:
        await self.spool_barrier()
        return self.views.summary()

    @ray.method(max_task_retries=-1)
    async def fleet_trends(self, bucket: str, since: Any = None, until: Any = None) -> dict[str, Any]:
        return self.views.trends(bucket, since, until)  # type: ignore[arg-type]

    @ray.method(max_task_retries=-1)
    async def search_incidents(self, **filters: Any) -> dict[str, Any]:
        await self.spool_barrier()
        return self.views.incidents(**filters)

    async def events_since(self, after: int, timeout_s: float = 0.0, limit: int = 100) -> dict[str, Any]:
        """Change-feed events after ``after`` (-1: from now), waiting up to ``timeout_s`` for one."""
        return await self.views.events(after, timeout_s, limit)

    @ray.method(max_task_retries=-1)
    async def metrics_text(self) -> str:
        return self.views.metrics_text()

    @ray.method(max_task_retries=-1)
    async def wait_idle(self, timeout_s: float = 120.0) -> bool:
        """Wait until the webhook spool is stored and no investigation is in flight (demo and tests)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            if not await self.spool_barrier(max(0.0, deadline - loop.time())):
                return False
            if not (self.coalescer and self.coalescer.busy()):
                return True
            if loop.time() > deadline:
                return False
            await asyncio.sleep(0.1)
