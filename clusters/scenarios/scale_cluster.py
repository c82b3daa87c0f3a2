"""Build and write one cluster of a fleet at scale, from its :class:`~.scale_plan.ClusterPlan`.

The dump is the cluster at the capture time: system namespaces, the faults still on then (built
with the scenario library), the healthy baseline, and healthy Deployments of the workloads that
failed earlier and were fixed. Earlier faults are built in a *shadow* of the cluster anchored at
their own time (same nodes, same kube-state-metrics, same rule evaluation phases); only their
alerts, fired then and resolved when the fault was fixed, join the cluster, as a real replay of
the last hours would show them. A fault whose alerts or subject would clash with one already
placed moves to a tenant namespace (``shop-b2b``) or is dropped, so every alert belongs to exactly
one incident. Flapping: a pod whose readiness came and went, firing and resolving
``KubePodNotReady`` (and its Deployment's ``KubeDeploymentReplicasMismatch``) several times.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from ._rand import Rand, derive
from ._time import rfc3339
from .alerts import Alert, encode
from .apps import APPS
from .baseline import add_baseline, healthy_deployment
from .cluster import ClusterBuilder, Incident
from .healing import FAULTS_FILE, faults_document
from .library import SCENARIOS
from .profiles import PROFILES
from .scale_plan import NODE_LEVEL, NODE_TOUCHING, ClusterPlan, FaultPlan, next_fault
from .system import add_system
from .write import write_cluster

__all__ = ["BuiltCluster", "build_cluster_at_scale"]

_TENANTS = ("b2b", "eu", "internal", "partners", "canary")


@dataclass
class BuiltCluster:
    name: str
    root: Path
    external_url: str
    lines: list[tuple[datetime, str]]  # (sent at, webhook body) in send order
    incidents: list[dict[str, Any]]
    alerts: int  # distinct alerts sent: (fingerprint, startsAt)
    dropped: int  # planned faults left out (clash, or nothing fired before capture)


class _Placed:
    """What the cluster already holds: subjects and alert identities per incident."""

    def __init__(self) -> None:
        self.subjects: set[tuple[str, str, str]] = set()
        self.fingerprints: set[str] = set()
        self.named: set[tuple[str, str]] = set()  # (namespace, pod/workload) any alert names

    def clashes(self, inc: Incident, alerts: list[Alert], *, reserved: bool = False) -> bool:
        """Whether the incident's subject (unless reserved for it) or an alert is taken already."""
        return (not reserved and _subject(inc) in self.subjects) or any(
            a.fingerprint in self.fingerprints for a in alerts)

    def reserve(self, plan: ClusterPlan) -> None:
        """Keep the workloads of the cluster's storm parts free for them."""
        for f in plan.faults:
            if f.storm and f.app in APPS:
                self.subjects.add(("Deployment", APPS[f.app].namespace, f.app))

    def take(self, inc: Incident, alerts: list[Alert]) -> None:
        self.subjects.add(_subject(inc))
        self.fingerprints.update(a.fingerprint for a in alerts)
        for a in alerts:
            for key in ("pod", "deployment", "statefulset"):
                if a.labels.get(key) and a.labels.get("container") != "kube-state-metrics":
                    self.named.add((a.labels.get("namespace", ""), a.labels[key]))


def _subject(inc: Incident) -> tuple[str, str, str]:
    s = inc.subject
    return s["kind"], s.get("namespace", ""), s["name"]


def build_cluster_at_scale(plan: ClusterPlan, root: Path, *, now: datetime, hours: float) -> BuiltCluster:
    cb = ClusterBuilder(plan.name, now, PROFILES[plan.provider], seed=plan.seed, cluster_label=True,
                        external_url=f"https://alertmanager.{plan.name}.northwind.internal",
                        prometheus_url=f"https://prometheus.{plan.name}.northwind.internal")
    add_system(cb)
    placed, meta = _Placed(), dict[int, dict[str, Any]]()
    placed.reserve(plan)
    dropped = _active(cb, plan, placed, meta)
    cb.background = True
    add_baseline(cb, exclude={i.subject["name"] for i in cb.incidents})
    cb.background = False
    cb.apply_faults()  # a failed node's alerts exist once every pod on it does
    for inc in cb.incidents:
        placed.take(inc, inc.alerts)
    rng = derive("past", plan.seed)
    for k, fault in enumerate(f for f in plan.faults if not f.active):
        dropped += not _past(cb, fault, placed, meta, rng, k)
    k, tries = 100, 0
    while _count(cb) < plan.budget - 6 and tries < plan.budget:
        dropped += not _past(cb, next_fault(rng, now=now, hours=hours), placed, meta, rng, k)
        k, tries = k + 1, tries + 1
    _flap(cb, rng, placed, meta, now=now, hours=hours)
    result = write_cluster(cb, root, drop_silent=True)
    _heal_only_current(cb, root)
    lines = [(n.at, encode(n.body)) for n in result.sent]
    sent = {(a["fingerprint"], a["startsAt"]) for n in result.sent for a in n.body["alerts"]}
    incidents = [_truth(cb, inc, meta.get(id(inc), {}), result.sent) for inc in cb.incidents]
    kept = [i for i in incidents if i is not None]
    return BuiltCluster(plan.name, root, cb.external_url, lines, kept, len(sent),
                        dropped + len(incidents) - len(kept))


def _heal_only_current(cb: ClusterBuilder, root: Path) -> None:
    """The simulator's health model lists what is broken at capture: faults fixed earlier are not."""
    everything = cb.incidents
    cb.incidents = [i for i in everything if not all(a.ends_at is not None and a.ends_at <= cb.now for a in i.alerts)]
    try:
        (root / FAULTS_FILE).write_text(json.dumps(faults_document(cb), indent=2) + "\n")
    finally:
        cb.incidents = everything


# -- faults on at capture --------------------------------------------------------------------
def _active(cb: ClusterBuilder, plan: ClusterPlan, placed: _Placed, meta: dict[int, dict[str, Any]]) -> int:
    """Build the faults still on at capture into the cluster itself (node-level first)."""
    dropped, touched = 0, False
    faults = sorted((f for f in plan.faults if f.active), key=lambda f: (f.scenario not in NODE_LEVEL, f.storm is None))
    for fault in faults:
        if fault.scenario in NODE_TOUCHING and touched:
            dropped += 1
            continue
        fault = _free_namespace(cb, fault, placed)
        if fault is None:
            dropped += 1
            continue
        touched |= fault.scenario in NODE_TOUCHING
        inc = SCENARIOS[fault.scenario](cb, seed=fault.seed, app=fault.app, namespace=fault.namespace)
        placed.take(inc, inc.alerts)
        meta[id(inc)] = {"storm": fault.storm}
    return dropped


def _free_namespace(cb: ClusterBuilder, fault: FaultPlan, placed: _Placed) -> FaultPlan | None:
    """The fault as built in a throwaway shadow shows which workloads it creates; when one exists
    already it moves to a tenant namespace (storm parts never move: their template is shared)."""
    inc, made = _dry_run(cb, fault)
    if fault.storm is not None:
        return fault if not made & cb.workloads else None
    if not (made & cb.workloads) and _subject(inc) not in placed.subjects:
        return fault
    trial = replace(fault, namespace=f"{inc.subject.get('namespace') or 'default'}-{_TENANTS[cb.seed % 5]}")
    inc, made = _dry_run(cb, trial)
    return trial if not (made & cb.workloads) and _subject(inc) not in placed.subjects else None


def _dry_run(cb: ClusterBuilder, fault: FaultPlan) -> tuple[Incident, set[tuple[str, str]]]:
    shadow = _shadow(cb, fault, 0)
    before = set(shadow.workloads)
    inc = SCENARIOS[fault.scenario](shadow, seed=fault.seed, app=fault.app, namespace=fault.namespace)
    return inc, shadow.workloads - before


# -- faults fixed before capture -------------------------------------------------------------------
def _past(cb: ClusterBuilder, fault: FaultPlan, placed: _Placed, meta: dict[int, dict[str, Any]], rng: Rand,
          k: int) -> bool:
    """Build the fault as of its anchor in a shadow; keep its alerts, resolved when it was fixed."""
    fixed = fault.anchor + timedelta(seconds=fault.fix_after_s)
    inc = _built(cb, fault, k)
    alerts = _fired(inc, fixed)
    if placed.clashes(inc, alerts) and fault.storm is None:
        inc = _built(cb, replace(fault, namespace=f"{inc.subject.get('namespace') or 'default'}-"
                                                  f"{rng.choice(_TENANTS)}"), k)
        alerts = _fired(inc, fixed)
    if not alerts or placed.clashes(inc, alerts, reserved=fault.storm is not None):
        return False
    for a in alerts:
        cb.resolve(a, fixed + timedelta(seconds=rng.uniform(20, 240)))
    inc.alerts = alerts
    cb.alerts.extend(alerts)
    cb.incidents.append(inc)
    placed.take(inc, alerts)
    meta[id(inc)] = {"storm": fault.storm}
    _recovered(cb, inc)
    return True


def _fired(inc: Incident, fixed: datetime) -> list[Alert]:
    """The alerts that fired before the fix (the others never got past their ``for``)."""
    return [a for a in inc.alerts if a.starts_at is not None and a.starts_at < fixed]


def _built(cb: ClusterBuilder, fault: FaultPlan, k: int) -> Incident:
    shadow = _shadow(cb, fault, k)
    inc = SCENARIOS[fault.scenario](shadow, seed=fault.seed, app=fault.app, namespace=fault.namespace)
    if fault.scenario in NODE_LEVEL:
        shadow.background = True
        add_baseline(shadow, exclude={inc.subject["name"]})
        shadow.background = False
    shadow.finalize()
    return inc


def _shadow(cb: ClusterBuilder, fault: FaultPlan, k: int) -> ClusterBuilder:
    """The cluster as of ``fault.anchor``: same nodes (the failing one rotated by ``k``), same
    kube-state-metrics, same evaluation phases; system pods only where a whole node fails."""
    shadow = ClusterBuilder(cb.name, fault.anchor, cb.profile, seed=cb.seed * 1000 + k, cluster_label=cb.cluster_label,
                            external_url=cb.external_url, prometheus_url=cb.prometheus_url)
    workers = cb.workers()
    turn = k % len(workers)
    shadow.nodes = [n for n in cb.nodes if n.role != "worker"] + workers[turn:] + workers[:turn]
    shadow.node_uids, shadow.node_booted, shadow._phase = cb.node_uids, cb.node_booted, cb._phase
    if fault.scenario in NODE_LEVEL:
        add_system(shadow)
    shadow.stack = cb.stack
    return shadow


def _recovered(cb: ClusterBuilder, inc: Incident) -> None:
    """The fixed workload runs healthy in the dump."""
    s = inc.subject
    app = APPS.get(s["name"])
    if s["kind"] == "Deployment" and app is not None and (s["namespace"], s["name"]) not in cb.workloads:
        healthy_deployment(cb, app.with_(namespace=s["namespace"]))


def _count(cb: ClusterBuilder) -> int:
    return sum(1 for a in cb.alerts if a.labels.get("severity") != "info")


# -- flapping ----------------------------------------------------------------------------------------
def _flap(cb: ClusterBuilder, rng: Rand, placed: _Placed, meta: dict[int, dict[str, Any]], *, now: datetime,
          hours: float) -> None:
    """A pod whose readiness probe failed for a while, then passed, several times over the window."""
    taken = {(ns, name) for _, ns, name in placed.subjects} | placed.named
    pods = [p for p in cb.pods if p.owner_kind == "ReplicaSet" and p.obj["status"].get("phase") == "Running"
            and p.node is not None and p.node.name not in cb.down_nodes and (p.namespace, p.name) not in taken
            and (p.namespace, p.owner_name.rsplit("-", 1)[0]) not in taken
            and p.namespace not in ("kube-system", "monitoring")]
    if not pods or cb.stack is None:
        return
    pod = rng.choice(sorted(pods, key=lambda p: p.name))
    deployment = pod.owner_name.rsplit("-", 1)[0]
    inc = cb.incident("probe_failure", "unknown", "Deployment", pod.namespace, deployment, "readiness_flap")
    t = now - timedelta(hours=hours) + timedelta(minutes=rng.uniform(30, 90))
    episodes = 0
    while t + timedelta(minutes=45) < now - timedelta(minutes=10) and episodes < rng.choice([3, 4, 5]):
        unready = timedelta(minutes=15 + rng.uniform(4, 22))
        for a in (cb.alert("KubePodNotReady", {"job": "kube-state-metrics", "namespace": pod.namespace,
                                               "pod": pod.name}, t, episode=True),
                  cb.alert("KubeDeploymentReplicasMismatch", {**cb.stack.ksm_target(), "deployment": deployment,
                                                              "namespace": pod.namespace}, t, episode=True)):
            cb.resolve(a, t + unready)
            inc.add(a)
        episodes += 1
        t += unready + timedelta(minutes=rng.uniform(8, 40))
    meta[id(inc)] = {"flapping": episodes}
    placed.take(inc, inc.alerts)


# -- ground truth ------------------------------------------------------------------------------------
def _truth(cb: ClusterBuilder, inc: Incident, meta: dict[str, Any], sent: Any) -> dict[str, Any] | None:
    fps = {a.fingerprint for a in inc.alerts}
    shown = [(n.at, a) for n in sent for a in n.body["alerts"] if a["fingerprint"] in fps]
    if not shown:
        return None
    order = list(dict.fromkeys(a["fingerprint"] for _, a in shown))
    resolved = all(a.ends_at is not None and a.ends_at <= cb.now for a in inc.alerts)
    out: dict[str, Any] = {
        "scope": "cluster", "cluster": cb.name, "alerts": [[cb.name, fp] for fp in order],
        "category": inc.category, "trigger": inc.trigger, "subject": inc.subject, "scenario": inc.scenario,
        "onset": rfc3339(min(a.starts_at for a in inc.alerts if a.starts_at and a.fingerprint in order)),
        "first_sent": rfc3339(shown[0][0]),
        "resolved_at": rfc3339(max(a.ends_at for a in inc.alerts if a.ends_at)) if resolved else None,
        **inc.extra,
    }
    if meta.get("storm"):
        out["storm"] = meta["storm"]
    if meta.get("flapping"):
        out["flapping"] = True
        out["episodes"] = meta["flapping"]
    return out
