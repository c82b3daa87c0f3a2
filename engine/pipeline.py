"""Stages after correlation: collect each cluster of an incident, write Parquet, investigate.

``collect_cluster`` and ``investigate_incident`` are the two halves the Ray layer runs in different
actors (collectors per cluster, one investigator); ``run_incident`` composes them in-process for
``fleetsre investigate --dump``. ``Coalescer`` keeps re-investigations to at most one in flight and
one queued per incident.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

from engine.collect import CollectRequest, collect_incident
from engine.config import EngineConfig
from engine.evidence import write_evidence
from engine.evidence_query import IncidentEvidence
from engine.history import HistoryStore
from engine.incident import Incident
from engine.reasoning import Reasoner, Record, make_reasoner
from engine.remediate import remediate_incident
from engine.report import Report
from engine.runbooks import RunbookSet
from engine.sources import ClusterSource
from engine.writer import ClusterWriter

__all__ = ["Coalescer", "collect_cluster", "investigate_incident", "run_incident", "unreachable_summary", "write_missing"]


def collect_cluster(source: ClusterSource, inc: Incident, cfg: EngineConfig) -> dict[str, Any]:
    """Collect one cluster's share of an incident and write it as Parquet; returns a summary."""
    cluster = source.name
    targets = [a.target() for a in inc.alerts if a.cluster == cluster]
    if inc.subject.kind == "Node" and all(t.name != inc.subject.name for t in targets):
        targets.append(inc.subject)
    req = CollectRequest(cluster=cluster, incident_id=inc.id, targets=targets, clock=inc.updated_at)
    ev = collect_incident(source, req, cfg.collect)
    path = write_evidence(cfg.data_dir, ev)
    return {"cluster": cluster, "path": str(path), "rows": ev.counts(),
            "errors": [{k: e[k] for k in ("resource", "namespace", "name", "status", "reason", "message")}
                       for e in ev.rows["errors"]]}


def investigate_incident(inc: Incident, cfg: EngineConfig, *, reasoner: Reasoner | None = None,
                         record: Record | None = None) -> Report:
    """The deterministic report, refined by ``reasoner`` when one is given (its audit trail goes to
    ``record(kind, payload)``)."""
    from engine.investigate import investigate

    with IncidentEvidence(cfg.data_dir, inc.id) as evidence:
        report = investigate(inc, evidence, recent_rollout_s=cfg.investigation.recent_rollout_s)
        return reasoner.refine(inc, evidence, report, record) if reasoner else report


def with_history(report: Report, inc: Incident, history: HistoryStore, cfg: EngineConfig,
                 memory: Any = None) -> Report:
    """Add the history section (past incidents like this one, and their patterns) to a report; with
    ``memory`` (engine.memory.SemanticMemory) the semantically similar ones too."""
    from engine.history_analysis import analyse_history

    return report.model_copy(update={"history": analyse_history(history, inc, report, Path(cfg.data_dir),
                                                                memory=memory)})


def unreachable_summary(cluster: str, reason: str) -> dict[str, Any]:
    return {"cluster": cluster, "path": None, "rows": {},
            "errors": [{"resource": "cluster", "namespace": None, "name": cluster, "status": None,
                        "reason": "NoSource", "message": reason}]}


def run_incident(inc: Incident, sources: dict[str, ClusterSource], cfg: EngineConfig,
                 history: HistoryStore | None = None, *, runbooks: RunbookSet | None = None,
                 writers: Mapping[str, ClusterWriter] | None = None, reasoner: Reasoner | None = None) -> Report:
    """Collect every cluster of the incident, then investigate (refined by ``reasoner``, default:
    the one ``cfg.reasoner`` configures), recording the audit trail; with ``runbooks``, run the
    matching runbook in ``cfg.remediation_mode`` (mutations only through ``writers``, by cluster)."""
    for cluster in inc.clusters:
        src = sources.get(cluster)
        summary = collect_cluster(src, inc, cfg) if src else unreachable_summary(
            cluster, f"no source configured for cluster {cluster!r}")
        if src is None:
            write_missing(cfg.data_dir, inc.id, cluster, summary)
        if history:
            history.add_event(inc.id, "collected", summary)
    if reasoner is None:
        reasoner = make_reasoner(cfg.reasoner, history=history, runbooks=runbooks)
    record = (lambda kind, payload: history.add_event(inc.id, kind, payload)) if history else None
    report = investigate_incident(inc, cfg, reasoner=reasoner, record=record)
    if runbooks is not None:
        cluster = report.root_cause.subject.cluster
        report = remediate_incident(report, runbooks, Path(cfg.data_dir), mode=cfg.remediation_mode,
                                    alertnames=[a.alertname for a in inc.alerts], source=sources.get(cluster),
                                    writer=(writers or {}).get(cluster), history=history)
    if history:
        report = with_history(report, inc, history, cfg)
        history.save_report(inc, report)
        history.add_event(inc.id, "investigated", {
            "revision": inc.revision, "category": report.root_cause.category,
            "confidence": report.root_cause.confidence, "backend": report.backend, "missing": report.missing})
    return report


def write_missing(data_dir: Path, incident_id: str, cluster: str, summary: dict[str, Any]) -> None:
    from engine.evidence import EvidenceSet

    ev = EvidenceSet(cluster=cluster, incident_id=incident_id)
    ev.extend("errors", [{**e, "retryable": True} for e in summary["errors"]])
    write_evidence(data_dir, ev)


class Coalescer:
    """Per incident: at most one run in flight and one queued; further requests fold into the queued one."""

    def __init__(self, run: Callable[[str], Awaitable[None]]) -> None:
        self._run = run
        self._inflight: dict[str, asyncio.Task[None]] = {}
        self._queued: set[str] = set()
        self.runs = 0
        self.failures = 0

    def request(self, incident_id: str) -> None:
        if incident_id in self._inflight:
            self._queued.add(incident_id)
            return
        self._inflight[incident_id] = asyncio.get_running_loop().create_task(self._loop(incident_id))

    async def _loop(self, incident_id: str) -> None:
        try:
            while True:
                self.runs += 1
                try:
                    await self._run(incident_id)
                except Exception:  # the run records its own failure; a queued request still runs
                    self.failures += 1
                if incident_id not in self._queued:
                    return
                self._queued.discard(incident_id)
        finally:
            self._inflight.pop(incident_id, None)

    def busy(self) -> int:
        return len(self._inflight)

    def queued(self, incident_id: str) -> bool:
        """Whether another run of this incident waits behind the one in flight."""
        return incident_id in self._queued

    async def drain(self) -> None:
        while self._inflight:
            await asyncio.gather(*list(self._inflight.values()), return_exceptions=True)
