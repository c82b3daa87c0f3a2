"""The demo fleet: three clusters, six faults, one bad rollout shipped to two production clusters.

=========  =========  =========================================================================
cluster    provider   faults
=========  =========  =========================================================================
prod-eu-1  EKS 1.32   ``bad_rollout_config`` (shop/checkout), ``oom_killed``
prod-us-1  GKE 1.33   ``bad_rollout_config`` (shop/checkout, the same new revision), ``missing_secret``
staging-1  kubeadm    ``node_not_ready``, ``dependency_unavailable``
=========  =========  =========================================================================

Each cluster's Alertmanager has its own ``externalURL`` and, by default, no ``cluster`` label:
the demo posts each ``alerts.jsonl`` to ``/webhook/alertmanager/<cluster>``.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from ._time import rfc3339
from .compose import DEFAULT_NOW, Fault, build_cluster
from .profiles import PROFILES
from .write import ClusterResult, write_cluster

__all__ = ["FLEET", "FleetManifest", "write_fleet"]

#: The shared change: one seed, one app, so both clusters get the identical new pod template.
_SHARED = Fault("bad_rollout_config", seed=7, app="checkout", namespace="shop")

FLEET: dict[str, tuple[str, list[Fault]]] = {
    "prod-eu-1": ("eks", [_SHARED, Fault("oom_killed", seed=3)]),
    "prod-us-1": ("gke", [_SHARED, Fault("missing_secret", seed=5)]),
    "staging-1": ("kubeadm", [Fault("node_not_ready", seed=2), Fault("dependency_unavailable", seed=1)]),
}


@dataclass(frozen=True)
class FleetManifest:
    """Where the fleet was written and what it contains."""

    root: Path
    captured_at: str
    clusters: dict[str, ClusterResult]

    @property
    def ground_truth(self) -> Path:
        return self.root / "ground-truth.json"

    @property
    def incidents(self) -> list[dict[str, Any]]:
        return [{"cluster": name, **inc} for name, c in self.clusters.items() for inc in c.incidents]


def write_fleet(out_dir: str | Path, *, now: datetime = DEFAULT_NOW, seed: int = 0,
                cluster_label: bool = False) -> FleetManifest:
    """Write every cluster of :data:`FLEET` under ``out_dir/<cluster>/`` plus ``ground-truth.json``."""
    root = Path(out_dir)
    results: dict[str, ClusterResult] = {}
    for i, (name, (provider, faults)) in enumerate(FLEET.items()):
        cb = build_cluster(name, faults, now=now, seed=seed * 10 + i, profile=PROFILES[provider],
                           cluster_label=cluster_label,
                           external_url=f"https://alertmanager.{name}.northwind.internal",
                           prometheus_url=f"https://prometheus.{name}.northwind.internal")
        results[name] = write_cluster(cb, root / name)
    manifest = FleetManifest(root, rfc3339(now), results)
    root.joinpath("ground-truth.json").write_text(json.dumps(_ground_truth(manifest), indent=2) + "\n")
    return manifest


def _ground_truth(m: FleetManifest) -> dict[str, Any]:
    clusters = [{"name": c.name, "external_url": c.external_url, "webhook_path": f"/webhook/alertmanager/{c.name}",
                 "dump": str(c.dump.relative_to(m.root)), "alerts": str(c.alerts.relative_to(m.root)),
                 "expected": str(c.expected.relative_to(m.root))} for c in m.clusters.values()]
    return {"captured_at": m.captured_at, "clusters": clusters, "incidents": m.incidents,
            "fleet_incidents": _shared_changes(m.incidents)}


def _shared_changes(incidents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Incidents that are one change seen in several clusters (same workload, same new ReplicaSet)."""
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for inc in incidents:
        if "replicaset" in inc:
            groups[(inc["subject"]["namespace"], inc["subject"]["name"], inc["replicaset"])].append(inc)
    return [{"category": g[0]["category"], "trigger": g[0]["trigger"], "subject": g[0]["subject"],
             "replicaset": key[2], "clusters": [i["cluster"] for i in g]}
            for key, g in sorted(groups.items()) if len(g) > 1]
