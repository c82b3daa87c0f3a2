"""The simulated control plane behind the simulator's writes, one per cluster.

- ``patch_deployment`` / ``patch_scale``: the deployment controller (``deployments.py``) rolls a
  changed template out (a healthy one completes, a failing one gets stuck) or scales;
- ``patch_node``: ``spec.unschedulable`` set or cleared, with the
  ``node.kubernetes.io/unschedulable:NoSchedule`` taint the node lifecycle controller adds; an
  uncordoned node takes the Pending pods that now fit;
- ``delete_pod`` / ``evict_pod``: the pod goes at once (no kubelet to wait for), and its controller
  replaces it — a ReplicaSet with a new pod on a schedulable node, a StatefulSet with a pod of the
  same name, a DaemonSet on the same node; a bare pod is simply gone.

Time: the state answers as of its capture time, and each write advances a simulated clock by one
second past it, so new objects are stamped after everything in the dump (never the wall clock).
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

from clusters.simulator.deployments import Deployments, controller_ref
from clusters.simulator.health import HealthModel, Verdict
from clusters.simulator.patching import PatchError, apply_patch
from clusters.simulator.pods import PodFactory, pick_node, strip_hash
from clusters.state import ClusterState
from engine.sources import SourceError

__all__ = ["Controller", "UNSCHEDULABLE_TAINT"]

UNSCHEDULABLE_TAINT = "node.kubernetes.io/unschedulable"


class Controller:
    def __init__(self, state: ClusterState, health: HealthModel | None = None) -> None:
        self.state = state
        self.health = health or HealthModel.load(None, state)
        self.factory = PodFactory(f"fleetsre-simulator/{state.name}")
        self.deployments = Deployments(state, self.health, self.factory)
        self._ticks = 0

    def now(self) -> datetime:
        self._ticks += 1
        return (self.state.captured_at or datetime(2000, 1, 1, tzinfo=UTC)) + timedelta(seconds=self._ticks)

    # -- Deployments ------------------------------------------------------------------------------
    def patch_deployment(self, namespace: str, name: str, body: Any, kind: str) -> dict[str, Any]:
        with self.state.lock:
            old = self.state.get("deployments", namespace, name)
            new = apply_patch(old, body, kind)
            _check_identity(old, new)
            _check_deployment(new)
            return self._apply_deployment(old, new)

    def get_scale(self, namespace: str, name: str) -> dict[str, Any]:
        dep = self.state.get("deployments", namespace, name)
        md, spec = dep["metadata"], dep.get("spec") or {}
        selector = ",".join(f"{k}={v}" for k, v in ((spec.get("selector") or {}).get("matchLabels") or {}).items())
        return {"kind": "Scale", "apiVersion": "autoscaling/v1",
                "metadata": {"name": md["name"], "namespace": md.get("namespace"), "uid": md.get("uid"),
                             "resourceVersion": md.get("resourceVersion"),
                             "creationTimestamp": md.get("creationTimestamp")},
                "spec": {"replicas": spec.get("replicas", 1)},
                "status": {"replicas": (dep.get("status") or {}).get("replicas", 0), "selector": selector}}

    def patch_scale(self, namespace: str, name: str, body: Any, kind: str) -> dict[str, Any]:
        with self.state.lock:
            scale = apply_patch(self.get_scale(namespace, name), body, kind)
            replicas = (scale.get("spec") or {}).get("replicas")
            if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
                raise PatchError(422, "Invalid", f"Scale.autoscaling \"{name}\" is invalid: spec.replicas: "
                                                 f"Invalid value: {replicas!r}: must be greater than or equal to 0")
            old = self.state.get("deployments", namespace, name)
            new = copy.deepcopy(old)
            new["spec"]["replicas"] = replicas
            self._apply_deployment(old, new)
            return self.get_scale(namespace, name)

    def _apply_deployment(self, old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
        now = self.now()
        if new.get("spec") != old.get("spec"):
            new["metadata"]["generation"] = int(old["metadata"].get("generation", 1)) + 1
        self.state.put("deployments", new)
        if strip_hash(new["spec"]["template"]) != strip_hash(old["spec"]["template"]):
            self.deployments.rollout(new, now)
        elif new["spec"].get("replicas") != old["spec"].get("replicas"):
            self.deployments.scale(new, now)
        self.deployments.refresh(new, now)
        md = new["metadata"]
        return self.state.get("deployments", md.get("namespace"), md["name"])

    # -- Nodes ------------------------------------------------------------------------------------
    def patch_node(self, name: str, body: Any, kind: str) -> dict[str, Any]:
        with self.state.lock:
            old = self.state.get("nodes", None, name)
            new = apply_patch(old, body, kind)
            _check_identity(old, new)
            now = self.now()
            spec = new.setdefault("spec", {})
            taints = [t for t in spec.get("taints") or [] if t.get("key") != UNSCHEDULABLE_TAINT]
            if spec.get("unschedulable"):
                kept = next((t for t in spec.get("taints") or [] if t.get("key") == UNSCHEDULABLE_TAINT), None)
                taints.append(kept or {"key": UNSCHEDULABLE_TAINT, "effect": "NoSchedule",
                                       "timeAdded": now.strftime("%Y-%m-%dT%H:%M:%SZ")})
            else:
                spec.pop("unschedulable", None)
            if taints:
                spec["taints"] = taints
            else:
                spec.pop("taints", None)
            put = self.state.put("nodes", new)
            if not spec.get("unschedulable"):
                self._schedule_pending(now)
            return put

    def _schedule_pending(self, now: datetime) -> None:
        """Pending ReplicaSet pods get a node when one is usable again (and capacity allows)."""
        for pod in self.state.list("pods"):
            if (pod.get("spec") or {}).get("nodeName") or (pod.get("status") or {}).get("phase") != "Pending":
                continue
            rs, dep = self._owners(pod)
            if rs is None or dep is None:
                continue
            verdict = self.deployments.verdict(dep, rs)
            scheduled = sum(1 for p in self.deployments.pods_of(rs) if (p.get("spec") or {}).get("nodeName"))
            if verdict.capacity is not None and scheduled >= verdict.capacity:
                continue
            node = pick_node(self.state, self.health, pod.get("spec") or {})
            if node is None:
                continue
            placed = copy.deepcopy(pod)
            placed["spec"]["nodeName"] = node["metadata"]["name"]
            placed["status"] = self.factory.status(placed, node, verdict, now)
            self.state.put("pods", placed)
            self.deployments.refresh(dep, now)

    # -- Pods -------------------------------------------------------------------------------------
    def delete_pod(self, namespace: str, name: str) -> dict[str, Any]:
        with self.state.lock:
            now = self.now()
            gone = copy.deepcopy(self.state.remove("pods", namespace, name))
            gone["metadata"].update(deletionTimestamp=now.strftime("%Y-%m-%dT%H:%M:%SZ"), deletionGracePeriodSeconds=0)
            self._replace(gone, now)
            return gone

    def evict_pod(self, namespace: str, name: str) -> None:
        """An Eviction (policy/v1): no PodDisruptionBudgets are simulated, so it always proceeds."""
        self.delete_pod(namespace, name)

    def _replace(self, gone: dict[str, Any], now: datetime) -> None:
        ref = controller_ref(gone) or {}
        kind = ref.get("kind")
        if kind == "ReplicaSet":
            rs, dep = self._owners(gone)
            if rs is not None and dep is not None:
                self.deployments.ensure_pods(rs, int(rs["spec"].get("replicas", 0)), self.deployments.verdict(dep, rs),
                                             now)
                self.deployments.refresh(dep, now)
        elif kind in ("StatefulSet", "DaemonSet"):
            self._recreate(gone, kind, now)

    def _recreate(self, gone: dict[str, Any], kind: str, now: datetime) -> None:
        md = gone["metadata"]
        template = {"metadata": {"labels": md.get("labels") or {}, "annotations": md.get("annotations") or {}},
                    "spec": {k: v for k, v in (gone.get("spec") or {}).items() if k != "nodeName"}}
        if kind == "DaemonSet":  # the DaemonSet runs one pod per node, cordoned or not
            node = self._node(gone["spec"].get("nodeName"))
            name = f"{md.get('generateName') or md['name'] + '-'}{self.factory.suffix()}"
        else:  # a StatefulSet pod keeps its name and moves
            node, name = pick_node(self.state, self.health, template["spec"]), md["name"]
        pod = self.factory.pod(namespace=md.get("namespace") or "", name=name, template=template,
                               owner=controller_ref(gone), node=node, verdict=Verdict(True), now=now,
                               generate_name=md.get("generateName"))
        self.state.put("pods", pod)

    def _node(self, name: str | None) -> dict[str, Any] | None:
        try:
            return self.state.get("nodes", None, name) if name else None
        except SourceError:
            return None

    def _owners(self, pod: dict[str, Any]) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """(its ReplicaSet, that ReplicaSet's Deployment) when both exist."""
        ref = controller_ref(pod) or {}
        ns = pod["metadata"].get("namespace")
        try:
            rs = self.state.get("replicasets", ns, ref.get("name", "")) if ref.get("kind") == "ReplicaSet" else None
            dep_ref = controller_ref(rs) if rs else None
            dep = self.state.get("deployments", ns, dep_ref["name"]) if dep_ref else None
        except SourceError:
            return None, None
        return rs, dep


def _check_identity(old: dict[str, Any], new: dict[str, Any]) -> None:
    for key in ("name", "namespace", "uid"):
        if (new.get("metadata") or {}).get(key) != (old.get("metadata") or {}).get(key):
            raise PatchError(422, "Invalid", f"metadata.{key}: Invalid value: field is immutable")


def _check_deployment(dep: dict[str, Any]) -> None:
    spec = dep.get("spec") or {}
    template = spec.get("template")
    if not isinstance(template, dict) or not ((template.get("spec") or {}).get("containers")):
        raise PatchError(422, "Invalid", "spec.template.spec.containers: Required value")
    replicas = spec.get("replicas", 1)
    if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
        raise PatchError(422, "Invalid", f"spec.replicas: Invalid value: {replicas!r}: must be greater than or equal to 0")

