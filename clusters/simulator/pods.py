"""Pods the simulated controllers create: names, placement and a status that follows the verdict.

Placement is the scheduler's simplest honest version: a node takes a new pod when it is Ready, not
cordoned (``spec.unschedulable``), every ``NoSchedule``/``NoExecute`` taint is tolerated by the pod
(control-plane and unreachable nodes usually are not), its labels satisfy the pod's
``nodeSelector`` and required node affinity, and the health model does not list it as down; among
those, the one running the fewest pods. Capacity is not modelled (the health model's
``max_replicas`` stands in for it). A pod with no node stays Pending with the scheduler's
``Unschedulable`` condition.
"""

from __future__ import annotations

import copy
import hashlib
import json
import random
import uuid
from datetime import datetime
from typing import Any

from clusters.simulator.health import HealthModel, Verdict
from clusters.state import ClusterState

__all__ = ["PodFactory", "pick_node", "pod_ready", "strip_hash", "template_hash"]

_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # what the apiserver's SafeEncodeString uses
_CONDITIONS = ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled")


def strip_hash(template: dict[str, Any]) -> dict[str, Any]:
    t = copy.deepcopy(template)
    labels = (t.get("metadata") or {}).get("labels") or {}
    labels.pop("pod-template-hash", None)
    return t


def template_hash(template: dict[str, Any]) -> str:
    digest = hashlib.sha256(json.dumps(strip_hash(template), sort_keys=True).encode()).digest()
    return "".join(_ALPHABET[b % len(_ALPHABET)] for b in digest[:10])


def _ts(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def pod_ready(pod: dict[str, Any]) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or [])


def _tolerated(taint: dict[str, Any], tolerations: list[dict[str, Any]]) -> bool:
    for t in tolerations:
        if t.get("effect") and t.get("effect") != taint.get("effect"):
            continue
        if t.get("operator") == "Exists" and (not t.get("key") or t.get("key") == taint.get("key")):
            return True
        if t.get("key") == taint.get("key") and (t.get("value") or "") == (taint.get("value") or ""):
            return True
    return False


def _expression(labels: dict[str, str], e: dict[str, Any]) -> bool:
    value, op, values = labels.get(e.get("key", "")), e.get("operator"), e.get("values") or []
    return {"In": value in values, "NotIn": value not in values, "Exists": value is not None,
            "DoesNotExist": value is None}.get(op, False)


def _fits(node: dict[str, Any], pod_spec: dict[str, Any]) -> bool:
    labels = (node.get("metadata") or {}).get("labels") or {}
    if any(labels.get(k) != v for k, v in (pod_spec.get("nodeSelector") or {}).items()):
        return False
    required = (((pod_spec.get("affinity") or {}).get("nodeAffinity") or {})
                .get("requiredDuringSchedulingIgnoredDuringExecution") or {}).get("nodeSelectorTerms") or []
    if required and not any(all(_expression(labels, e) for e in term.get("matchExpressions") or [])
                            for term in required):
        return False
    tolerations = pod_spec.get("tolerations") or []
    return all(_tolerated(t, tolerations) for t in (node.get("spec") or {}).get("taints") or []
               if t.get("effect") in ("NoSchedule", "NoExecute"))


def _usable(node: dict[str, Any], health: HealthModel, pod_spec: dict[str, Any]) -> bool:
    name = (node.get("metadata") or {}).get("name", "")
    conds = {c.get("type"): c.get("status") for c in (node.get("status") or {}).get("conditions") or []}
    return (conds.get("Ready") == "True" and not (node.get("spec") or {}).get("unschedulable")
            and health.node_usable(name) and _fits(node, pod_spec))


def pick_node(state: ClusterState, health: HealthModel, pod_spec: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """The node a pod with ``pod_spec`` fits that runs the fewest pods (ties: by name), or None."""
    load: dict[str, int] = {}
    for p in state.list("pods"):
        node = (p.get("spec") or {}).get("nodeName")
        if node:
            load[node] = load.get(node, 0) + 1
    usable = [n for n in state.list("nodes") if _usable(n, health, pod_spec or {})]
    return min(usable, key=lambda n: (load.get(n["metadata"]["name"], 0), n["metadata"]["name"]), default=None)


class PodFactory:
    """Deterministic names, uids and IPs per cluster (a seeded RNG, never the wall clock)."""

    def __init__(self, seed: str) -> None:
        self.rng = random.Random(seed)

    def suffix(self) -> str:
        return "".join(self.rng.choice(_ALPHABET) for _ in range(5))

    def uid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def ip(self) -> str:
        return f"10.{self.rng.randrange(64, 128)}.{self.rng.randrange(0, 256)}.{self.rng.randrange(2, 255)}"

    def pod(self, *, namespace: str, name: str, template: dict[str, Any], owner: dict[str, Any] | None,
            node: dict[str, Any] | None, verdict: Verdict, now: datetime, generate_name: str | None = None,
            pending: str = "") -> dict[str, Any]:
        md = template.get("metadata") or {}
        meta: dict[str, Any] = {"name": name, "namespace": namespace, "uid": self.uid(),
                                "creationTimestamp": _ts(now), "labels": dict(md.get("labels") or {})}
        if generate_name:
            meta["generateName"] = generate_name
        if md.get("annotations"):
            meta["annotations"] = dict(md["annotations"])
        if owner:
            meta["ownerReferences"] = [owner]
        spec = copy.deepcopy(template.get("spec") or {})
        if node is not None:
            spec["nodeName"] = node["metadata"]["name"]
        pod = {"kind": "Pod", "apiVersion": "v1", "metadata": meta, "spec": spec}
        pod["status"] = self.status(pod, node, verdict, now, pending)
        return pod

    def status(self, pod: dict[str, Any], node: dict[str, Any] | None, verdict: Verdict, now: datetime,
               pending: str = "") -> dict[str, Any]:
        ts = _ts(now)
        if node is None:
            message = pending or "0/0 nodes are available: no node is schedulable."
            return {"phase": "Pending", "qosClass": "Burstable", "conditions": [
                {"type": "PodScheduled", "status": "False", "lastProbeTime": None, "lastTransitionTime": ts,
                 "reason": "Unschedulable", "message": message}]}
        ip, host = self.ip(), _node_ip(node)
        ok = verdict.healthy
        failure = verdict.failure or {}
        conds = [{"type": t, "status": "True" if ok or t in ("PodScheduled", "Initialized", "PodReadyToStartContainers")
                  else "False", "lastProbeTime": None, "lastTransitionTime": ts} for t in _CONDITIONS]
        for c in conds:
            if c["status"] == "False":
                c.update(reason="ContainersNotReady", message=f"containers with unready status: [{failure.get('container')}]")
        statuses = [self._container(c, ok or c["name"] != failure.get("container"), failure, ts)
                    for c in (pod["spec"].get("containers") or [])]
        return {"phase": "Running" if ok else failure.get("phase", "Running"), "conditions": conds,
                "hostIP": host, "hostIPs": [{"ip": host}], "podIP": ip, "podIPs": [{"ip": ip}], "startTime": ts,
                "containerStatuses": statuses, "qosClass": "Burstable"}

    def _container(self, c: dict[str, Any], ok: bool, failure: dict[str, Any], ts: str) -> dict[str, Any]:
        image = str(c.get("image") or "")
        base = {"name": c["name"], "image": image, "imageID": "", "containerID": ""}
        if ok:
            digest = hashlib.sha256(image.encode()).hexdigest()
            return {**base, "imageID": f"{image.split(':')[0]}@sha256:{digest}",
                    "containerID": f"containerd://{self.rng.getrandbits(256):064x}", "ready": True, "started": True,
                    "restartCount": 0, "state": {"running": {"startedAt": ts}}, "lastState": {}}
        last = copy.deepcopy(failure.get("lastState") or {})
        for key in ("startedAt", "finishedAt"):
            if "terminated" in last:
                last["terminated"][key] = ts
        return {**base, "ready": False, "started": False, "restartCount": int(failure.get("restartCount") or 0),
                "state": copy.deepcopy(failure.get("state") or {}), "lastState": last}


def _node_ip(node: dict[str, Any]) -> str:
    for a in (node.get("status") or {}).get("addresses") or []:
        if a.get("type") == "InternalIP":
            return str(a.get("address"))
    return "10.0.0.1"
