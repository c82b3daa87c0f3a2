"""Scenarios where the scheduler has no node for new pods: a placement constraint no node meets, a
pool that got tainted for another team, and the one node of a dedicated pool cordoned for
maintenance."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from . import k8s
from ._time import rfc3339
from .apps import AppSpec
from .baseline import healthy_deployment
from .behaviours import run_healthy, run_pending
from .cluster import ClusterBuilder, Incident, PodRecord
from .events import Involved
from .faults import deployment_alerts, fit_error, minutes_ago, pick_app, stuck_rollout, variant
from .profiles import NodeInfo
from .scen_crash import bump

__all__ = ["node_cordoned", "scheduling_affinity", "scheduling_taint"]

_MISMATCH = "node(s) didn't match Pod's node affinity/selector"
_CP_TAINT = "node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }"


def _s(x: float) -> timedelta:
    return timedelta(seconds=x)


def _attempts(cb: ClusterBuilder, since: datetime) -> int:
    """Scheduling attempts of an unschedulable pod: back-off, then a retry at least every 5 minutes."""
    return 3 + int((cb.now - since).total_seconds() / 300)


def _reasons(cb: ClusterBuilder, counts: dict[str, int]) -> dict[str, int]:
    """Per-node reasons, plus the control-plane node every pod without its toleration skips."""
    cp = len(cb.nodes) - len(cb.workers())
    return {**({_CP_TAINT: cp} if cp else {}), **counts}


def _pending(cb: ClusterBuilder, inc: Incident, pod: PodRecord, message: str, created: datetime) -> None:
    run_pending(cb, pod, message=message, attempts=_attempts(cb, created))
    inc.add(cb.pod_alert("KubePodNotReady", pod, created))


def scheduling_affinity(cb: ClusterBuilder, *, seed: int = 0, app: str | None = None,
                        namespace: str | None = None) -> Incident:
    """A release pins the app to a node pool that does not exist (a ``nodeSelector`` for an instance
    type or pool label no node has, or a zone the cluster does not span): the new pods stay Pending
    with ``didn't match Pod's node affinity/selector``."""
    v = variant("scheduling_affinity", seed)
    spec = pick_app(v, ["search-api", "recommendations", "checkout", "catalog", "tax-engine"], app, namespace)
    released = spec.with_(version=bump(spec.version, v))
    tpl = released.template()
    if v.random() < 0.5:
        selector = {"node.kubernetes.io/instance-type": v.choice(["m6i.2xlarge", "c6i.2xlarge", "r6i.xlarge"])}
        tpl["spec"] = k8s.with_pod_fields(tpl["spec"], nodeSelector=selector)
    else:
        zone = {"kubeadm": "dc1-r4", "gke": "us-central1-c"}.get(cb.profile.provider, "eu-west-1d")
        term = {"matchExpressions": [{"key": "topology.kubernetes.io/zone", "operator": "In", "values": [zone]}]}
        affinity = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [term]}}}
        tpl["spec"] = k8s.with_pod_fields(tpl["spec"], affinity=affinity)
    inc = cb.incident("scheduling_constraints", "rollout", "Deployment", spec.namespace, spec.name,
                      "scheduling_affinity")
    at = minutes_ago(cb, 27, 42)
    message = fit_error(len(cb.nodes), _reasons(cb, {_MISMATCH: len(cb.workers())}))

    def run_new(pod: PodRecord, created: datetime) -> None:
        _pending(cb, inc, pod, message, created)

    ro = stuck_rollout(cb, spec, tpl, at=at, run_new=run_new, replicas=v.choice([3, 4]), placed=False)
    deployment_alerts(cb, inc, ro.dep, mismatch_from=at + timedelta(minutes=10) if ro.short else None)
    inc.extra["replicaset"] = ro.new.name
    return inc


def _pool(cb: ClusterBuilder, nodes: list[NodeInfo], labels: dict[str, str], taint: dict[str, Any] | None = None,
          *, dedicated: bool = False) -> None:
    for n in nodes:
        state = cb.node_state[n.name]
        state.labels.update(labels)
        if taint:
            state.taints.append(taint)
        state.dedicated = state.dedicated or dedicated


def _pinned(cb: ClusterBuilder, spec: AppSpec, nodes: list[NodeInfo], extra: dict[str, Any],
            replicas: int) -> Any:
    """A healthy Deployment whose pods run on ``nodes`` only (its template carries ``extra``)."""
    tpl = spec.template()
    tpl["spec"] = k8s.with_pod_fields(tpl["spec"], **extra)
    turn = iter(range(10_000))

    def run(pod: PodRecord, started: datetime) -> None:
        node = nodes[next(turn) % len(nodes)]
        pod.node = node
        pod.obj["spec"]["nodeName"] = node.name
        run_healthy(cb, pod, spec, started=started)

    return healthy_deployment(cb, spec, template=tpl, run=run, finish=False, replicas=replicas)


def scheduling_taint(cb: ClusterBuilder, *, seed: int = 0, app: str | None = None,
                     namespace: str | None = None) -> Incident:
    """The app is pinned to the ``compute`` pool; the platform team tainted that pool for another
    team (``dedicated=analytics:NoSchedule``). Running pods stay, but when the HPA scales up the new
    pods fit nowhere: ``had untolerated taint {dedicated: analytics}``."""
    v = variant("scheduling_taint", seed)
    spec = pick_app(v, ["search-api", "recommendations", "report-builder", "catalog"], app, namespace)
    pool = cb.workers()[:2]
    tainted = minutes_ago(cb, 70, 150)
    _pool(cb, pool, {"node-pool": "compute"}, {"key": "dedicated", "value": "analytics", "effect": "NoSchedule"})
    for n in pool:
        cb.node_state[n.name].closed_at = tainted
    inc = cb.incident("scheduling_constraints", "unknown", "Deployment", spec.namespace, spec.name,
                      "scheduling_taint")
    at = minutes_ago(cb, 28, 45)
    dep = _pinned(cb, spec, pool, {"nodeSelector": {"node-pool": "compute"}}, replicas=2)
    rev = dep.revisions[-1]
    target = 2 * len(rev.pods)
    hpa = Involved("HorizontalPodAutoscaler", spec.name, cb.rng.uid(), spec.namespace, "autoscaling/v2")
    cb.controller_event(hpa, "horizontal-pod-autoscaler", "SuccessfulRescale",
                        f"New size: {target}; reason: cpu resource utilization (percentage of request) above target",
                        first=at - _s(1))
    dep.scaled(rev, at, len(rev.pods), target)
    dep.replicas = rev.replicas = target
    others = len(cb.workers()) - len(pool)
    message = fit_error(len(cb.nodes), _reasons(cb, {
        _MISMATCH: others, "node(s) had untolerated taint {dedicated: analytics}": len(pool)}))
    for i in range(target - len(pool)):
        created = at + _s(0.2 + 0.3 * i)
        pod = dep.pod(rev, created=created, placed=False)
        dep.pod_created_event(rev, pod)
        _pending(cb, inc, pod, message, created)
    dep.unavailable_since = at
    dep.finish()
    deployment_alerts(cb, inc, dep, mismatch_from=at + timedelta(minutes=10))
    return inc


def node_cordoned(cb: ClusterBuilder, *, seed: int = 0, app: str | None = None,
                  namespace: str | None = None) -> Incident:
    """The one node of a dedicated pool was cordoned and drained for kernel patching, and the
    maintenance stalled: the pool's pods were evicted and their replacements stay Pending with
    ``node(s) were unschedulable`` (the other nodes do not match their selector)."""
    v = variant("node_cordoned", seed)
    spec = pick_app(v, ["search-api", "recommendations", "report-builder"], app, namespace)
    node = cb.workers()[-1]
    labels = {"workload-class": "highmem"}
    _pool(cb, [node], labels, {"key": "workload-class", "value": "highmem", "effect": "NoSchedule"}, dedicated=True)
    toleration = [{"key": "workload-class", "operator": "Equal", "value": "highmem", "effect": "NoSchedule"}]
    dep = _pinned(cb, spec, [node], {"nodeSelector": labels, "tolerations": toleration}, replicas=v.choice([2, 3]))
    inc = cb.incident("node_cordoned", "node", "Deployment", spec.namespace, spec.name, "node_cordoned")
    cordon = minutes_ago(cb, 42, 56)
    _cordon(cb, node, cordon)
    rev = dep.revisions[-1]
    message = fit_error(len(cb.nodes), _reasons(cb, {
        _MISMATCH: len(cb.workers()) - 1, "node(s) were unschedulable": 1}))
    drained = cordon + _s(cb.rng.between(4, 40))
    for old in list(rev.pods):
        at = drained + _s(cb.rng.between(0.1, 2))
        _evicted_by_drain(cb, rev, old, at)
        pod = dep.pod(rev, created=at + _s(0.1), placed=False)
        dep.pod_created_event(rev, pod)
        _pending(cb, inc, pod, message, at + _s(0.1))
    dep.unavailable_since = drained
    dep.finish()
    deployment_alerts(cb, inc, dep, mismatch_from=drained)
    inc.extra["node"] = node.name
    return inc


def _cordon(cb: ClusterBuilder, node: NodeInfo, at: datetime) -> None:
    """``kubectl cordon``: spec.unschedulable, the node controller's taint, the kubelet's event."""
    state = cb.node_state[node.name]
    state.unschedulable = True
    state.closed_at = at
    state.taints.append({"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule",
                         "timeAdded": rfc3339(at + _s(cb.rng.between(0.2, 1.5)))})
    inv = Involved("Node", node.name, cb.node_uids[node.name])
    cb.event(inv, "NodeNotSchedulable", f"Node {node.name} status is now: NodeNotSchedulable", component="kubelet",
             host=node.name, first=at + _s(cb.rng.between(1, 9)))


def _evicted_by_drain(cb: ClusterBuilder, rev: Any, pod: PodRecord, at: datetime) -> None:
    """``kubectl drain`` evicts through the API: the pod is stopped and deleted, its ReplicaSet replaces it."""
    rev.pods.remove(pod)
    cb.pods.remove(pod)
    c = pod.obj["spec"]["containers"][0]["name"]
    cb.kubelet_event(pod, "Killing", f"Stopping container {c}", first=at, container=c)
