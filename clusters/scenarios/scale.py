"""A fleet at scale: M clusters, faults on a schedule over hours, storms, flapping, resolves.

:func:`write_fleet_at_scale` plans the fleet (:mod:`.scale_plan`), builds and writes every cluster
(:mod:`.scale_cluster`; optionally in a few worker processes), then merges every cluster's
webhooks into one ``alerts.jsonl`` in global send order and writes ``ground-truth.json``::

    OUT/<cluster>/dump/            a kubectl cluster-info dump as of the capture time
    OUT/<cluster>/alerts.jsonl     that cluster's Alertmanager webhooks, in send order
    OUT/<cluster>/expected.json    that cluster's incidents (scenario ground truth format)
    OUT/alerts.jsonl               every webhook of the fleet, in send order
    OUT/ground-truth.json          clusters, incidents (cluster and fleet scope), counts

Every alert carries a ``cluster`` external label, so one receiver can route the merged stream.
The format of ``ground-truth.json`` is documented in ``clusters/scenarios/README.md``.
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from ._time import rfc3339
from .compose import DEFAULT_NOW
from .scale_cluster import BuiltCluster, build_cluster_at_scale
from .scale_plan import ClusterPlan, StormPlan, plan_fleet

__all__ = ["ScaleManifest", "write_fleet_at_scale"]


@dataclass(frozen=True)
class ScaleManifest:
    """What was written: where, how much, and the ground truth's path."""

    root: Path
    clusters: int
    alerts: int  # distinct (cluster, fingerprint, startsAt) sent
    webhooks: int
    incidents: int
    fleet_incidents: int

    @property
    def ground_truth(self) -> Path:
        return self.root / "ground-truth.json"

    @property
    def alerts_file(self) -> Path:
        return self.root / "alerts.jsonl"


def write_fleet_at_scale(out_dir: str | Path, *, clusters: int = 100, target_alerts: int = 10_000, seed: int = 0,
                         now: datetime = DEFAULT_NOW, hours: float = 6.0, workers: int = 1) -> ScaleManifest:
    """Write ``clusters`` clusters whose alerts add up to about ``target_alerts`` over ``hours``
    before ``now`` (the capture time of every dump). ``workers`` > 1 builds clusters in that many
    processes; the output is the same."""
    if clusters < 1 or target_alerts < clusters:
        raise ValueError(f"need at least one cluster and one alert per cluster, got {clusters=} {target_alerts=}")
    root = Path(out_dir)
    root.mkdir(parents=True, exist_ok=True)
    plans, storms = plan_fleet(clusters, target_alerts, seed=seed, now=now, hours=hours)
    built = _build_all(plans, root, now=now, hours=hours, workers=workers)
    # send time, then cluster; a cluster's own webhooks keep their order (two groups can flush at once)
    lines = sorted((at, i, k, body) for i, b in enumerate(built) for k, (at, body) in enumerate(b.lines))
    with (root / "alerts.jsonl").open("w") as fh:
        fh.writelines(body for *_, body in lines)
    truth = _ground_truth(built, storms, now=now, hours=hours)
    truth["counts"].update(webhooks=len(lines))
    (root / "ground-truth.json").write_text(json.dumps(truth, indent=1) + "\n")
    c = truth["counts"]
    return ScaleManifest(root, len(built), c["alerts"], len(lines), c["incidents"], c["fleet_incidents"])


def _build_all(plans: list[ClusterPlan], root: Path, *, now: datetime, hours: float,
               workers: int) -> list[BuiltCluster]:
    if workers <= 1:
        return [build_cluster_at_scale(p, root / p.name, now=now, hours=hours) for p in plans]
    workers = min(workers, os.cpu_count() or 1, len(plans))
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(build_cluster_at_scale, p, root / p.name, now=now, hours=hours) for p in plans]
        return [f.result() for f in futures]


def _ground_truth(built: list[BuiltCluster], storms: list[StormPlan], *, now: datetime,
                  hours: float) -> dict[str, Any]:
    incidents: list[dict[str, Any]] = []
    parts: dict[str, list[dict[str, Any]]] = {}
    for b in built:
        for n, inc in enumerate(b.incidents):
            inc = {"id": f"{b.name}/{n + 1:03d}", **inc}
            if inc.get("storm"):
                parts.setdefault(inc["storm"], []).append(inc)
            else:
                incidents.append(inc)
    fleet = [_fleet_incident(s, parts[s.id]) for s in storms if parts.get(s.id)]
    clusters = [{"name": b.name, "external_url": b.external_url, "webhook_path": f"/webhook/alertmanager/{b.name}",
                 "dump": f"{b.name}/dump", "alerts": f"{b.name}/alerts.jsonl", "expected": f"{b.name}/expected.json",
                 "alerts_sent": b.alerts, "faults_dropped": b.dropped} for b in built]
    counts = {"clusters": len(built), "alerts": sum(b.alerts for b in built),
              "incidents": len(incidents) + len(fleet), "fleet_incidents": len(fleet),
              "flapping": sum(1 for i in incidents if i.get("flapping")),
              "resolved": sum(1 for i in incidents if i.get("resolved_at"))}
    return {"captured_at": rfc3339(now), "window": {"start": rfc3339(now - timedelta(hours=hours)),
                                                    "end": rfc3339(now)},
            "clusters": clusters, "counts": counts, "incidents": fleet + incidents}


def _fleet_incident(storm: StormPlan, parts: list[dict[str, Any]]) -> dict[str, Any]:
    """One change seen in several clusters: the union of its parts, same subject and ReplicaSet."""
    first = min(parts, key=lambda p: p["onset"])
    return {
        "id": storm.id, "scope": "fleet", "cluster": "fleet", "clusters": [p["cluster"] for p in parts],
        "alerts": [pair for p in parts for pair in p["alerts"]], "category": first["category"],
        "trigger": first["trigger"], "subject": first["subject"], "scenario": first["scenario"],
        "replicaset": first.get("replicaset"), "onset": first["onset"],
        "resolved_at": None if any(p["resolved_at"] is None for p in parts) else max(p["resolved_at"] for p in parts),
        "parts": [{k: p[k] for k in ("id", "cluster", "alerts", "onset", "resolved_at", "replicaset")} for p in parts],
    }
