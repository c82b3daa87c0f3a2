"""In-process investigation, no Ray: ``fleetsre investigate --dump DIR --alerts FILE``.

The same engine stages as the Ray deployment (ingest → correlate → collect → Parquet →
investigate → runbook → DuckDB history), run one after another against a dump directory (or any
one cluster source).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from clusters.dump import DumpSource
from engine.config import EngineConfig
from engine.correlate import Correlator, PodPlacement
from engine.history import HistoryStore
from engine.ingest import Ingestor
from engine.pipeline import run_incident
from engine.report import Report
from engine.runbooks import RunbookSet
from engine.sources import ClusterSource
from engine.topology import placement_of
from engine.writer import ClusterWriter

__all__ = ["investigate_dump", "investigate_source"]


def investigate_dump(dump: Path, payloads: list[dict[str, Any]], cfg: EngineConfig, *,
                     cluster: str | None = None,
                     runbooks: RunbookSet | None = None) -> tuple[list[Report], list[dict[str, Any]]]:
    """Investigate every incident the payloads open against one dump; returns reports and rejects.

    With ``runbooks`` each report gets its runbook's steps; a dump has no writer, so in ``auto``
    mode the steps that would change the cluster are refused (the CLI refuses ``--mode auto`` first).
    """
    source = DumpSource(dump, name=cluster) if cluster else DumpSource(dump)
    return investigate_source(source, payloads, cfg, runbooks=runbooks)


def investigate_source(source: ClusterSource, payloads: list[dict[str, Any]], cfg: EngineConfig, *,
                       runbooks: RunbookSet | None = None,
                       writer: ClusterWriter | None = None) -> tuple[list[Report], list[dict[str, Any]]]:
    """The same stages against any one cluster source (a live API through ``clusters.live`` too);
    ``writer`` is where ``auto`` runbook steps act."""
    name = source.name

    def topology(c: str, ns: str, pod: str) -> PodPlacement | None:
        p = placement_of(source, ns, pod) if c == name else None
        return PodPlacement(**p) if p else None

    cfg.data_dir.mkdir(parents=True, exist_ok=True)
    history = HistoryStore(cfg.data_dir / "history.duckdb")
    try:
        correlator = Correlator(cfg.correlation, topology=topology)
        ingestor = Ingestor(history, correlator)
        rejected: list[dict[str, Any]] = []
        for body in payloads:
            result = ingestor.receive(body, path_cluster=name)
            rejected += [r.model_dump() for r in result.rejected]
        incidents = [i for i in correlator.incidents.values() if i.status != "merged"]
        writers = {name: writer} if writer is not None else None
        reports = [run_incident(inc, {name: source}, cfg, history, runbooks=runbooks, writers=writers)
                   for inc in incidents]
    finally:
        history.close()
    return reports, rejected
