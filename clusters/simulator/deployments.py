"""The simulated deployment controller: what a Deployment's template or replica count change does.

A template change is a rollout. A ReplicaSet whose template equals the new one (pod-template-hash
aside) is reused — that is how a rollback brings an old revision back — else a new ReplicaSet is
created; either way it becomes the newest revision. When the health model says the template is
healthy, the rollout completes at once: the new ReplicaSet runs ``replicas`` Ready pods and every
other ReplicaSet is scaled to zero. When it is not, the rollout gets stuck as a real one does: the
new ReplicaSet runs a surge of failing pods (25% of replicas, at least one) and an older
ReplicaSet that still has ready pods keeps serving. A replica change scales the newest ReplicaSet.
Statuses (ReplicaSets and the Deployment) are recomputed from the pods after every change.
"""

from __future__ import annotations

import copy
import math
from datetime import datetime
from typing import Any

from clusters.simulator.health import HealthModel, Verdict
from clusters.simulator.pods import PodFactory, pick_node, pod_ready, strip_hash, template_hash
from clusters.state import ClusterState

__all__ = ["Deployments", "controller_ref", "revision_of"]

REVISION = "deployment.kubernetes.io/revision"


def revision_of(obj: dict[str, Any]) -> int:
    value = ((obj.get("metadata") or {}).get("annotations") or {}).get(REVISION, "")
    return int(value) if str(value).isdigit() else 0


def controller_ref(obj: dict[str, Any]) -> dict[str, Any] | None:
    return next((r for r in (obj.get("metadata") or {}).get("ownerReferences") or [] if r.get("controller")), None)


def _ts(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


class Deployments:
    def __init__(self, state: ClusterState, health: HealthModel, factory: PodFactory) -> None:
        self.state, self.health, self.factory = state, health, factory

    # -- reads ------------------------------------------------------------------------------------
    def replicasets(self, dep: dict[str, Any]) -> list[dict[str, Any]]:
        md = dep["metadata"]
        return [rs for rs in self.state.list("replicasets", md.get("namespace"))
                if (ref := controller_ref(rs)) and ref.get("kind") == "Deployment"
                and (ref.get("uid") == md.get("uid") if md.get("uid") else ref.get("name") == md.get("name"))]

    def pods_of(self, owner: dict[str, Any]) -> list[dict[str, Any]]:
        md = owner["metadata"]
        return [p for p in self.state.list("pods", md.get("namespace"))
                if (ref := controller_ref(p)) and ref.get("uid") == md.get("uid")]

    def verdict(self, dep: dict[str, Any], rs: dict[str, Any]) -> Verdict:
        md = dep["metadata"]
        h = (rs["metadata"].get("labels") or {}).get("pod-template-hash", "")
        return self.health.verdict(md.get("namespace") or "", md["name"], rs["spec"]["template"], h)

    # -- changes ----------------------------------------------------------------------------------
    def rollout(self, dep: dict[str, Any], now: datetime) -> None:
        template = strip_hash(dep["spec"]["template"])
        rses = self.replicasets(dep)
        revision = max((revision_of(r) for r in rses), default=0) + 1
        same = next((r for r in rses if strip_hash(r["spec"]["template"]) == template), None)
        rs = copy.deepcopy(same) if same else self._new_replicaset(dep, template, now)
        rs["metadata"].setdefault("annotations", {})[REVISION] = str(revision)
        verdict = self.verdict(dep, rs)
        replicas = int(dep["spec"].get("replicas", 1))
        target = replicas if verdict.healthy else max(1, math.ceil(replicas * 0.25))
        for other in rses:
            if other["metadata"]["uid"] != rs["metadata"]["uid"] and (
                    verdict.healthy or not any(pod_ready(p) for p in self.pods_of(other))):
                self._set_replicas(other, 0)
        rs["spec"]["replicas"] = target
        self.state.put("replicasets", rs)
        self.ensure_pods(rs, target, verdict, now)
        meta = dep["metadata"]
        current = self.state.get("deployments", meta.get("namespace"), meta["name"])
        annotated = copy.deepcopy(current)
        annotated["metadata"].setdefault("annotations", {})[REVISION] = str(revision)
        self.state.put("deployments", annotated)

    def scale(self, dep: dict[str, Any], now: datetime) -> None:
        rses = self.replicasets(dep)
        if not rses:
            return self.rollout(dep, now)
        newest = copy.deepcopy(max(rses, key=revision_of))
        newest["spec"]["replicas"] = int(dep["spec"].get("replicas", 1))
        self.state.put("replicasets", newest)
        self.ensure_pods(newest, newest["spec"]["replicas"], self.verdict(dep, newest), now)

    def ensure_pods(self, rs: dict[str, Any], count: int, verdict: Verdict, now: datetime) -> None:
        """Make ``rs`` run ``count`` pods in the verdict's state (kept where they already are)."""
        pods = self.pods_of(rs)
        keep = sorted((p for p in pods if pod_ready(p) == verdict.healthy and _scheduled(p)),
                      key=lambda p: p["metadata"].get("creationTimestamp") or "")[:count]
        keep_names = {p["metadata"]["name"] for p in keep}
        for p in pods:
            if p["metadata"]["name"] not in keep_names:
                self.state.remove("pods", p["metadata"].get("namespace"), p["metadata"]["name"])
        scheduled = len(keep)
        for _ in range(count - len(keep)):
            pod = self.new_pod(rs, verdict, now, scheduled)
            scheduled += bool(pod["spec"].get("nodeName"))
            self.state.put("pods", pod)

    def new_pod(self, rs: dict[str, Any], verdict: Verdict, now: datetime, scheduled: int) -> dict[str, Any]:
        md = rs["metadata"]
        full = verdict.capacity is not None and scheduled >= verdict.capacity
        node = None if full else pick_node(self.state, self.health, rs["spec"]["template"].get("spec") or {})
        total = len(self.state.list("nodes"))
        pending = (f"0/{total} nodes are available: {total} Insufficient memory." if full else
                   f"0/{total} nodes are available: no node is Ready, schedulable and untainted.")
        owner = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": md["name"], "uid": md["uid"],
                 "controller": True, "blockOwnerDeletion": True}
        return self.factory.pod(namespace=md.get("namespace") or "", name=f"{md['name']}-{self.factory.suffix()}",
                                generate_name=f"{md['name']}-", template=rs["spec"]["template"], owner=owner,
                                node=node, verdict=verdict, now=now, pending=pending)

    def refresh(self, dep: dict[str, Any], now: datetime) -> None:
        """Recompute the ReplicaSets' and the Deployment's status from their pods."""
        meta = dep["metadata"]
        dep = self.state.get("deployments", meta.get("namespace"), meta["name"])
        rses = self.replicasets(dep)
        pods_by_rs = {r["metadata"]["uid"]: self.pods_of(r) for r in rses}
        for rs in rses:
            pods = pods_by_rs[rs["metadata"]["uid"]]
            status = _counts(pods) | {"observedGeneration": rs["metadata"].get("generation", 1)}
            if status != {k: v for k, v in (rs.get("status") or {}).items() if k in status}:
                self.state.put("replicasets", {**rs, "status": status})
        all_pods = [p for ps in pods_by_rs.values() for p in ps]
        newest = max(rses, key=revision_of, default=None)
        updated = len(pods_by_rs.get(newest["metadata"]["uid"], [])) if newest else 0
        self.state.put("deployments", {**dep, "status": _deployment_status(dep, all_pods, updated, newest, now)})

    def _set_replicas(self, rs: dict[str, Any], n: int) -> None:
        if n == 0:
            for p in self.pods_of(rs):
                self.state.remove("pods", p["metadata"].get("namespace"), p["metadata"]["name"])
        changed = copy.deepcopy(rs)
        changed["spec"]["replicas"] = n
        changed["metadata"]["generation"] = int(changed["metadata"].get("generation", 1)) + 1
        self.state.put("replicasets", changed)

    def _new_replicaset(self, dep: dict[str, Any], template: dict[str, Any], now: datetime) -> dict[str, Any]:
        md, h = dep["metadata"], template_hash(template)
        tpl = copy.deepcopy(template)
        tpl.setdefault("metadata", {}).setdefault("labels", {})["pod-template-hash"] = h
        selector = copy.deepcopy((dep["spec"].get("selector") or {}).get("matchLabels") or {})
        replicas = int(dep["spec"].get("replicas", 1))
        return {"kind": "ReplicaSet", "apiVersion": "apps/v1",
                "metadata": {"name": f"{md['name']}-{h}", "namespace": md.get("namespace"),
                             "uid": self.factory.uid(), "generation": 1, "creationTimestamp": _ts(now),
                             "labels": dict(tpl["metadata"]["labels"]),
                             "annotations": {"deployment.kubernetes.io/desired-replicas": str(replicas),
                                             "deployment.kubernetes.io/max-replicas": str(replicas + 1)},
                             "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": md["name"],
                                                  "uid": md.get("uid"), "controller": True,
                                                  "blockOwnerDeletion": True}]},
                "spec": {"replicas": 0, "selector": {"matchLabels": {**selector, "pod-template-hash": h}},
                         "template": tpl},
                "status": {"replicas": 0, "observedGeneration": 1}}


def _scheduled(pod: dict[str, Any]) -> bool:
    return bool((pod.get("spec") or {}).get("nodeName"))


def _counts(pods: list[dict[str, Any]]) -> dict[str, int]:
    ready = sum(1 for p in pods if pod_ready(p))
    out = {"replicas": len(pods)}
    if pods:
        out["fullyLabeledReplicas"] = len(pods)
    if ready:
        out.update(readyReplicas=ready, availableReplicas=ready)
    return out


def _deployment_status(dep: dict[str, Any], pods: list[dict[str, Any]], updated: int,
                       newest: dict[str, Any] | None, now: datetime) -> dict[str, Any]:
    replicas = int(dep["spec"].get("replicas", 1))
    ready = sum(1 for p in pods if pod_ready(p))
    status: dict[str, Any] = {"observedGeneration": dep["metadata"].get("generation", 1), "replicas": len(pods),
                              "updatedReplicas": updated}
    if ready:
        status.update(readyReplicas=ready, availableReplicas=ready)
    if replicas - ready > 0:
        status["unavailableReplicas"] = replicas - ready
    old = {c.get("type"): c for c in (dep.get("status") or {}).get("conditions") or []}
    available = ready >= replicas - math.floor(replicas * 0.25)
    done = newest is not None and updated == replicas and ready >= replicas
    name = newest["metadata"]["name"] if newest else dep["metadata"]["name"]
    status["conditions"] = [
        _cond(old.get("Available"), "Available", available,
              "MinimumReplicasAvailable" if available else "MinimumReplicasUnavailable",
              "Deployment has minimum availability." if available else "Deployment does not have minimum availability.",
              now),
        _cond(old.get("Progressing"), "Progressing", True, "NewReplicaSetAvailable" if done else "ReplicaSetUpdated",
              f'ReplicaSet "{name}" has successfully progressed.' if done else f'ReplicaSet "{name}" is progressing.',
              now),
    ]
    return status


def _cond(old: dict[str, Any] | None, kind: str, ok: bool, reason: str, message: str,
          now: datetime) -> dict[str, Any]:
    status = "True" if ok else "False"
    kept = (old or {}).get("lastTransitionTime") if (old or {}).get("status") == status else None
    return {"type": kind, "status": status, "lastUpdateTime": _ts(now), "lastTransitionTime": kept or _ts(now),
            "reason": reason, "message": message}
