"""The plan of a fleet at scale: cluster names and providers, the faults each cluster gets and when,
and the fleet-wide storms (one bad image rolled out to several clusters minutes apart).

Pure data from a seed: the same arguments give the same plan, so building clusters in parallel
processes gives the same fleet as building them one after another.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ._rand import Rand, derive

__all__ = ["BACKGROUND", "NODE_LEVEL", "NODE_TOUCHING", "ClusterPlan", "FaultPlan", "StormPlan", "plan_fleet"]

#: Faults a cluster gets on its own, with their weight in the mix.
BACKGROUND = {
    "oom_killed": 4, "image_pull_error": 2, "bad_rollout_image": 2, "bad_rollout_config": 2,
    "dependency_unavailable": 3, "missing_secret": 2, "missing_configmap_key": 1, "missing_configmap_volume": 1,
    "config_error": 2, "insufficient_resources": 2, "probe_failure": 3, "app_crash_panic": 2,
    "app_crash_traceback": 2, "crash_missing_configmap_key": 1, "dependency_dns": 2, "certificate_expired": 1,
    "certificate_untrusted": 1, "scheduling_affinity": 1, "scheduling_taint": 1, "volume_multi_attach": 1,
    "volume_pvc_pending": 1, "disk_full": 2, "job_failed": 3, "cpu_throttling": 2,
}
#: Faults of a whole node: one alert per pod on it (a storm inside the cluster).
NODE_LEVEL = {"node_not_ready": 3, "kubelet_stopped": 2, "node_pressure": 2, "node_cordoned": 1}
#: Scenarios that change nodes (taints, pools, a failed node): one per cluster at a time.
NODE_TOUCHING = frozenset(NODE_LEVEL) | {"scheduling_taint", "volume_multi_attach"}
#: Apps the shared bad rollout may hit (the ``bad_rollout_image`` candidates).
_STORM_APPS = ["checkout", "payments-api", "catalog", "storefront", "auth"]
_REGIONS = [("eu", "eks"), ("us", "gke"), ("ap", "eks"), ("dc", "kubeadm"), ("eu", "gke"), ("us", "eks")]
_ENVS = ["prod", "prod", "prod", "staging", "dev"]


@dataclass(frozen=True)
class FaultPlan:
    """One fault in one cluster. ``anchor`` is the moment its scenario is built as of (the capture
    time for faults still on at capture); past faults are fixed ``fix_after_s`` after it."""

    scenario: str
    seed: int
    anchor: datetime
    fix_after_s: float = 0.0
    app: str | None = None
    namespace: str | None = None
    storm: str | None = None

    @property
    def active(self) -> bool:
        return self.fix_after_s <= 0


@dataclass
class ClusterPlan:
    name: str
    provider: str
    index: int
    seed: int
    budget: int  # alerts to aim for (storm alerts included)
    faults: list[FaultPlan] = field(default_factory=list)


@dataclass(frozen=True)
class StormPlan:
    """One change shipped to several clusters: same app, same seed, so the same new ReplicaSet."""

    id: str
    scenario: str
    seed: int
    app: str
    clusters: tuple[str, ...]


def cluster_name(i: int, rng: Rand) -> tuple[str, str]:
    region, provider = _REGIONS[i % len(_REGIONS)]
    env = _ENVS[(i // len(_REGIONS)) % len(_ENVS)]
    return f"{env}-{region}-{i + 1:03d}", provider


def plan_fleet(clusters: int, target_alerts: int, *, seed: int, now: datetime,
               hours: float) -> tuple[list[ClusterPlan], list[StormPlan]]:
    """Clusters with their active faults and storm parts; past background faults are drawn while
    building (until each cluster's alert budget is met) from :func:`next_fault`."""
    rng = derive("fleet-scale", seed)
    plans = []
    for i in range(clusters):
        name, provider = cluster_name(i, rng)
        plans.append(ClusterPlan(name, provider, i, seed * 100_000 + i, max(8, target_alerts // clusters)))
    storms = _storms(plans, rng, seed=seed, now=now, hours=hours)
    for plan in plans:
        _active(plan, derive("active", seed, plan.name), now)
    return plans, storms


def _storms(plans: list[ClusterPlan], rng: Rand, *, seed: int, now: datetime, hours: float) -> list[StormPlan]:
    """One bad rollout per 20 clusters (at least one), each in up to five clusters; the first is
    still on at capture, the others were rolled back."""
    out = []
    count = max(1, len(plans) // 20)
    offset = rng.randrange(len(_STORM_APPS))
    for k in range(count):
        members = [plans[(k * 7 + j * max(1, len(plans) // 5)) % len(plans)] for j in range(min(5, len(plans)))]
        members = list(dict.fromkeys(p.name for p in members))
        app = _STORM_APPS[(offset + k) % len(_STORM_APPS)]  # one storm per app while there are apps enough
        storm = StormPlan(f"fleet-{k + 1:03d}", "bad_rollout_image", 9000 + seed * 100 + k, app, tuple(members))
        base = now if k == 0 else now - timedelta(hours=rng.uniform(1.2, max(1.3, hours - 0.6)))
        for j, name in enumerate(storm.clusters):
            plan = next(p for p in plans if p.name == name)
            if k == 0:
                anchor, fix = now, 0.0
            else:
                anchor, fix = base + timedelta(minutes=j * rng.uniform(3, 8)), rng.uniform(600, 1800)
                anchor = min(anchor, now - timedelta(minutes=40))
            plan.faults.append(FaultPlan(storm.scenario, storm.seed, anchor, fix, app=storm.app, storm=storm.id))
        out.append(storm)
    return out


def _active(plan: ClusterPlan, rng: Rand, now: datetime) -> None:
    """What is still broken at capture: sometimes a node, and one or two workload faults (at most
    one of them touching nodes)."""
    touching = rng.random() < 0.3
    if touching:
        plan.faults.append(FaultPlan(_weighted(rng, NODE_LEVEL), rng.randrange(1000), now))
    table = {k: v for k, v in BACKGROUND.items() if not (touching and k in NODE_TOUCHING)}
    for _ in range(rng.choice([1, 1, 2])):
        name = _weighted(rng, table)
        plan.faults.append(FaultPlan(name, rng.randrange(1000), now))
        if name in NODE_TOUCHING:
            touching = True
            table = {k: v for k, v in table.items() if k not in NODE_TOUCHING}


def next_fault(rng: Rand, *, now: datetime, hours: float, node_share: float = 0.15) -> FaultPlan:
    """A past fault: built as of a moment in the window, fixed 5-40 minutes later."""
    latest = now - timedelta(minutes=45)
    earliest = now - timedelta(hours=hours) + timedelta(minutes=60)
    span = max(60.0, (latest - earliest).total_seconds())
    anchor = earliest + timedelta(seconds=rng.uniform(0, span))
    table = NODE_LEVEL if rng.random() < node_share else BACKGROUND
    fix = rng.uniform(300, 2400)
    fix = min(fix, max(60.0, (now - anchor).total_seconds() - 120))
    return FaultPlan(_weighted(rng, table), rng.randrange(1000), anchor, fix)


def _weighted(rng: Rand, table: dict[str, int]) -> str:
    names = sorted(table)
    return rng.choices(names, weights=[table[n] for n in names])[0]
