"""Compose clusters from scenarios and write them: the entry points behind the CLI and tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .baseline import add_baseline
from .cluster import ClusterBuilder
from .library import SCENARIOS
from .profiles import Profile, profile_for
from .system import add_system
from .write import ClusterResult, write_cluster

__all__ = ["DEFAULT_NOW", "Fault", "build_cluster", "pack_faults", "write_scenario"]

#: The default capture time (any fixed instant works; everything is relative to it).
DEFAULT_NOW = datetime(2026, 11, 22, 18, 30, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Fault:
    """One scenario placed in a cluster: which, with which seed, optionally which app/namespace."""

    scenario: str
    seed: int = 0
    app: str | None = None
    namespace: str | None = None
    kwargs: dict[str, Any] = field(default_factory=dict)


def build_cluster(name: str, faults: list[Fault], *, now: datetime = DEFAULT_NOW, seed: int = 0,
                  profile: Profile | None = None, cluster_label: bool = False, external_url: str | None = None,
                  prometheus_url: str | None = None) -> ClusterBuilder:
    """A cluster: system namespaces, node-level faults, the healthy baseline, then the other faults."""
    cb = ClusterBuilder(name, now, profile or profile_for(seed), seed=seed, cluster_label=cluster_label,
                        external_url=external_url, prometheus_url=prometheus_url)
    add_system(cb)
    for fault in sorted(faults, key=lambda f: not SCENARIOS[f.scenario].node_level):
        SCENARIOS[fault.scenario](cb, seed=fault.seed, app=fault.app, namespace=fault.namespace, **fault.kwargs)
    cb.background = True  # the baseline may use a failing node for pods older than the failure
    add_baseline(cb, exclude={i.subject["name"] for i in cb.incidents})
    cb.background = False
    return cb


def write_scenario(name: str, out_dir: str | Path, *, cluster: str = "sim-1", now: datetime = DEFAULT_NOW,
                   seed: int = 0, cluster_label: bool = False, app: str | None = None,
                   namespace: str | None = None) -> ClusterResult:
    """Write one scenario in a cluster of its own (plus the healthy baseline) to ``out_dir``."""
    if name not in SCENARIOS:
        raise KeyError(f"unknown scenario {name!r}; known: {', '.join(SCENARIOS)}")
    cb = build_cluster(cluster, [Fault(name, seed, app, namespace)], now=now, seed=seed, cluster_label=cluster_label)
    return write_cluster(cb, Path(out_dir))


def pack_faults(names: list[str], *, seed: int = 0, per_cluster: int = 5,
                now: datetime = DEFAULT_NOW) -> list[list[Fault]]:
    """Spread scenarios over few clusters: at most one that changes nodes per cluster, and no two
    that would build the same workload (a clash moves the later one to ``<namespace>-2``)."""
    from .scale_plan import NODE_TOUCHING  # the fleet modules import this one

    touching = [n for n in names if n in NODE_TOUCHING]
    count = max(len(touching), -(-len(names) // per_cluster), 1)
    packs: list[list[Fault]] = [[Fault(n, seed)] for n in touching] + [[] for _ in range(count - len(touching))]
    held = [_footprint(p[0], now)[0] if p else set() for p in packs]
    for name in (n for n in names if n not in NODE_TOUCHING):
        fault = Fault(name, seed)
        made, ns = _footprint(fault, now)
        i = min(range(count), key=lambda k: (bool(made & held[k]), len(packs[k])))
        if made & held[i]:
            fault = Fault(name, seed, namespace=f"{ns}-2")
            made, _ = _footprint(fault, now)
        packs[i].append(fault)
        held[i] |= made
    return [p for p in packs if p]


def _footprint(fault: Fault, now: datetime) -> tuple[set[tuple[str, str]], str]:
    """(workloads the fault builds, its subject's namespace), from a throwaway cluster."""
    from .alerts import StackLabels

    cb = ClusterBuilder("scratch", now, profile_for(fault.seed), seed=fault.seed)
    cb.stack = StackLabels("kube-state-metrics-0", "10.0.0.1")
    inc = SCENARIOS[fault.scenario](cb, seed=fault.seed, app=fault.app, namespace=fault.namespace)
    return set(cb.workloads) | {(inc.subject.get("namespace", ""), inc.subject["name"])}, \
        inc.subject.get("namespace") or "default"
