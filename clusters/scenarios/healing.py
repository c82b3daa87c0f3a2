"""``fleetsre-faults.json`` beside ``dump/``: what fix heals each generated fault, for the simulator.

It lives next to ``expected.json``, outside the dump, because nothing in a dump may name its fault.

The generator knows what it broke; the simulator (``clusters/simulator/health.py``, format in
``clusters/simulator/README.md``) needs to know which change to a Deployment addresses it, so
that runbook remediation in ``auto`` mode visibly heals a scenario and a wrong action does not.
Derived from the incident's category and trigger and from the finished objects (never from a
scenario's name):

- ``oom_killed``: the killed container needs 1.5x its limit (``memory.min_bytes``);
- ``image_pull_error``: the images its pods cannot pull are missing from the registry (``images_not``);
- any other category set off by a rollout: only an earlier healthy revision's template works
  (``template_in``: their pod-template-hashes), or ``never`` when there is none;
- ``insufficient_resources``: capacity for the pods that are scheduled now (``max_replicas``);
- scheduling and node categories need nothing (the simulator's scheduler reads selectors, taints
  and cordons itself); other failing workloads ``never`` heal by a template change (the fault is a
  dependency, a ConfigMap, a certificate, ...);
- a ``node_not_ready`` node is listed as not ready.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from .cluster import ClusterBuilder, Incident, PodRecord

__all__ = ["FAULTS_FILE", "faults_document", "write_faults"]

FAULTS_FILE = "fleetsre-faults.json"
_PULL = ("ErrImagePull", "ImagePullBackOff", "InvalidImageName")
_SCHEDULER = ("scheduling_constraints", "node_cordoned", "node_not_ready", "node_pressure")
_UNITS = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}


def write_faults(cb: ClusterBuilder, root: Path) -> None:
    """Write the file into ``root``, the directory that holds ``dump/``."""
    (root / FAULTS_FILE).write_text(json.dumps(faults_document(cb), indent=2) + "\n")


def faults_document(cb: ClusterBuilder) -> dict[str, Any]:
    workloads, nodes = [], []
    for inc in cb.incidents:
        s = inc.subject
        if s.get("kind") == "Node" and inc.category == "node_not_ready":
            nodes.append({"name": s["name"], "category": inc.category, "ready": False})
        elif s.get("kind") == "Deployment":
            needs = _needs(cb, inc)
            if needs:
                workloads.append({"kind": "Deployment", "namespace": s.get("namespace"), "name": s["name"],
                                  "category": inc.category, "trigger": inc.trigger, "needs": needs})
    return {"version": 1, "workloads": workloads, "nodes": nodes}


def _needs(cb: ClusterBuilder, inc: Incident) -> dict[str, Any]:
    ns, name = inc.subject.get("namespace") or "", inc.subject["name"]
    dep = next((d for d in cb.objects[ns]["deployments"] if d["metadata"]["name"] == name), None)
    if dep is None:
        return {}
    rses = [r for r in cb.objects[ns]["replicasets"]
            if any(o.get("name") == name for o in r["metadata"].get("ownerReferences") or [])]
    pods = [p for p in cb.pods if p.namespace == ns and p.owner_name in {r["metadata"]["name"] for r in rses}]
    if inc.category == "oom_killed":
        return _memory(dep, pods)
    if inc.category == "image_pull_error":
        return {"images_not": sorted({_image(p, cs["name"]) for p in pods for cs in _statuses(p)
                                      if ((cs.get("state") or {}).get("waiting") or {}).get("reason") in _PULL} - {""})}
    if inc.category == "insufficient_resources":
        return {"max_replicas": sum(1 for p in pods if p.obj["spec"].get("nodeName"))}
    if inc.category in _SCHEDULER:
        return {}
    if inc.trigger == "rollout":
        return _earlier_healthy(rses)
    failing = any(not cs.get("ready") for p in pods for cs in _statuses(p))
    return {"never": f"{inc.category}: the fault is outside the pod template"} if failing else {}


def _statuses(pod: PodRecord) -> list[dict[str, Any]]:
    return list(pod.obj.get("status", {}).get("containerStatuses") or [])


def _image(pod: PodRecord, container: str) -> str:
    spec = pod.obj["spec"]
    return next((str(c["image"]) for c in spec.get("initContainers", []) + spec["containers"]
                 if c["name"] == container), "")


def _memory(dep: dict[str, Any], pods: list[PodRecord]) -> dict[str, Any]:
    killed = next((cs["name"] for p in pods for cs in _statuses(p)
                   if "OOMKilled" in (((cs.get("lastState") or {}).get("terminated") or {}).get("reason"),
                                      ((cs.get("state") or {}).get("terminated") or {}).get("reason"))), None)
    containers = dep["spec"]["template"]["spec"]["containers"]
    c = next((x for x in containers if x["name"] == killed), containers[0])
    limit = _bytes(((c.get("resources") or {}).get("limits") or {}).get("memory"))
    if not limit:
        return {"never": "no memory limit: the node ran out of memory"}
    return {"memory": {"container": c["name"], "min_bytes": math.ceil(limit * 1.5)}}


def _bytes(quantity: str | None) -> int | None:
    if not quantity:
        return None
    for unit, factor in _UNITS.items():
        if quantity.endswith(unit):
            return int(float(quantity[: -len(unit)]) * factor)
    return int(quantity) if quantity.isdigit() else None


def _earlier_healthy(rses: list[dict[str, Any]]) -> dict[str, Any]:
    def revision(rs: dict[str, Any]) -> int:
        value = (rs["metadata"].get("annotations") or {}).get("deployment.kubernetes.io/revision", "0")
        return int(value) if str(value).isdigit() else 0

    newest = max(rses, key=revision, default=None)
    healthy = sorted(h for r in rses if r is not newest and (r.get("status") or {}).get("readyReplicas")
                     and (h := (r["metadata"].get("labels") or {}).get("pod-template-hash")))
    return {"template_in": healthy} if healthy else {"never": "no earlier healthy revision to go back to"}
