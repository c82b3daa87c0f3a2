"""The simulator's health model: is a pod template of a Deployment healthy, and is a node usable?

A fix heals only when it addresses the fault. What addresses which fault comes from the optional
side file ``fleetsre-faults.json`` (written by ``clusters.scenarios`` for generated scenarios;
``clusters/simulator/README.md`` documents it)::

    {"version": 1,
     "workloads": [{"kind": "Deployment", "namespace": "shop", "name": "checkout", "category": "...",
                    "needs": {"memory": {"container": "app", "min_bytes": 402653184},
                              "images_not": ["repo/app:v2-typo"],
                              "template_in": ["6d8bdd6f65"],
                              "max_replicas": 3,
                              "never": "the ConfigMap it reads is broken"}}],
     "nodes": [{"name": "worker-3", "category": "node_not_ready", "ready": false}]}

The file is looked for beside the dump directory (``DIR/../fleetsre-faults.json``, where the
generator writes it, next to ``expected.json``: never inside the dump, which must not name its
fault), then in it (``DIR/fleetsre-faults.json``).

Every ``needs`` entry must hold for a template to be healthy: a memory limit of that container of
at least ``min_bytes``; no container image in ``images_not`` (the registry lacks them: any other
image pulls, e.g. an earlier revision's or a runbook's fallback); a template equal to one of the
ReplicaSets ``template_in`` (by pod-template-hash: an earlier healthy revision); ``never``: no
template change heals it (the fault is elsewhere). ``max_replicas`` is capacity: pods past it stay
Pending. Workloads the file does not list are healthy. Nodes it lists as not ready take no pods.

Without the side file (a real dump), a template is healthy when it equals a ReplicaSet that had
ready pods when the dump was taken, or when the Deployment was healthy then; otherwise it fails
the way the Deployment's pods failed in the dump.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clusters.state import ClusterState
from engine.quantity import format_bytes, parse_quantity

__all__ = ["FAULTS_FILE", "HealthModel", "Verdict"]

FAULTS_FILE = "fleetsre-faults.json"


@dataclass(frozen=True)
class Verdict:
    healthy: bool
    reason: str = ""
    #: how a failing pod's app container looks: {"container", "phase", "state", "lastState", "restartCount"}
    failure: dict[str, Any] | None = None
    capacity: int | None = None  # pods of the Deployment past this many stay Pending


class HealthModel:
    def __init__(self, workloads: dict[tuple[str, str], dict[str, Any]] | None = None,
                 nodes: dict[str, dict[str, Any]] | None = None, *, has_file: bool = False,
                 baseline: dict[tuple[str, str], dict[str, Any]] | None = None) -> None:
        self.workloads = workloads or {}
        self.nodes = nodes or {}
        self.has_file = has_file
        self.baseline = baseline or {}

    @classmethod
    def load(cls, dump_dir: Path | str | None, state: ClusterState) -> HealthModel:
        """The side file beside a dump (if any) plus what the state itself shows (the baseline)."""
        found = [p for p in (Path(dump_dir).parent / FAULTS_FILE, Path(dump_dir) / FAULTS_FILE) if p.is_file()] \
            if dump_dir else []
        doc = json.loads(found[0].read_text()) if found else None
        workloads = {(w.get("namespace") or "", w["name"]): w for w in (doc or {}).get("workloads") or []}
        nodes = {n["name"]: n for n in (doc or {}).get("nodes") or []}
        return cls(workloads, nodes, has_file=doc is not None, baseline=_baseline(state))

    def node_usable(self, name: str) -> bool:
        entry = self.nodes.get(name)
        return entry is None or bool(entry.get("ready", True))

    def verdict(self, namespace: str, name: str, template: dict[str, Any], rs_hash: str) -> Verdict:
        entry = self.workloads.get((namespace, name))
        base = self.baseline.get((namespace, name), {})
        if entry is None:
            if self.has_file or rs_hash in base.get("ready_hashes", ()) or base.get("healthy", True):
                return Verdict(True)
            return Verdict(False, "it failed this way in the dump", base.get("failure") or _crash(template))
        needs = entry.get("needs") or {}
        for check in (_memory, _images, _template, _never):
            bad = check(needs, template, rs_hash, base)
            if bad is not None:
                return bad
        return Verdict(True, capacity=needs.get("max_replicas"))


def _containers(template: dict[str, Any]) -> list[dict[str, Any]]:
    return list(((template.get("spec") or {}).get("containers")) or [])


def _memory(needs: dict[str, Any], template: dict[str, Any], rs_hash: str, base: dict[str, Any]) -> Verdict | None:
    want = needs.get("memory")
    if not want:
        return None
    c = next((x for x in _containers(template) if x.get("name") == want.get("container")), None)
    limit = parse_quantity(((c or {}).get("resources") or {}).get("limits", {}).get("memory")) if c else None
    if limit is not None and limit >= int(want["min_bytes"]):
        return None
    name = want.get("container") or "?"
    why = f"container {name} needs {format_bytes(int(want['min_bytes']))}; its limit is {format_bytes(limit) if limit else 'unset'}"
    return Verdict(False, why, _oom(name))


def _images(needs: dict[str, Any], template: dict[str, Any], rs_hash: str, base: dict[str, Any]) -> Verdict | None:
    bad = set(needs.get("images_not") or ())
    for c in _containers(template):
        if c.get("image") in bad:
            return Verdict(False, f"image {c['image']} does not exist in its registry", _pull(c["name"], c["image"]))
    return None


def _template(needs: dict[str, Any], template: dict[str, Any], rs_hash: str, base: dict[str, Any]) -> Verdict | None:
    healthy = needs.get("template_in")
    if healthy is None or rs_hash in healthy:
        return None
    return Verdict(False, "only an earlier healthy revision's template works", base.get("failure") or _crash(template))


def _never(needs: dict[str, Any], template: dict[str, Any], rs_hash: str, base: dict[str, Any]) -> Verdict | None:
    if not needs.get("never"):
        return None
    return Verdict(False, str(needs["never"]), base.get("failure") or _crash(template))


def _oom(container: str) -> dict[str, Any]:
    return {"container": container, "phase": "Running", "restartCount": 1,
            "state": {"waiting": {"reason": "CrashLoopBackOff",
                                  "message": f"back-off 10s restarting failed container={container}"}},
            "lastState": {"terminated": {"exitCode": 137, "reason": "OOMKilled"}}}


def _pull(container: str, image: str) -> dict[str, Any]:
    ref = image if "." in image.split("/")[0] else f"docker.io/{image}"
    message = (f'Back-off pulling image "{image}": ErrImagePull: rpc error: code = NotFound desc = failed to pull '
               f'and unpack image "{ref}": failed to resolve reference "{ref}": {ref}: not found')
    return {"container": container, "phase": "Pending", "restartCount": 0,
            "state": {"waiting": {"reason": "ImagePullBackOff", "message": message}}, "lastState": {}}


def _crash(template: dict[str, Any]) -> dict[str, Any]:
    name = (_containers(template) or [{"name": "app"}])[0]["name"]
    return {"container": name, "phase": "Running", "restartCount": 1,
            "state": {"waiting": {"reason": "CrashLoopBackOff",
                                  "message": f"back-off 10s restarting failed container={name}"}},
            "lastState": {"terminated": {"exitCode": 1, "reason": "Error"}}}


def _baseline(state: ClusterState) -> dict[tuple[str, str], dict[str, Any]]:
    """Per Deployment, as the dump shows it: healthy or not, its ready ReplicaSets, how its pods fail."""
    rs_by_owner: dict[str, list[dict[str, Any]]] = {}
    for rs in state.list("replicasets"):
        for ref in (rs.get("metadata") or {}).get("ownerReferences") or []:
            rs_by_owner.setdefault(str(ref.get("uid")), []).append(rs)
    failing = _failures_by_owner(state)
    out = {}
    for dep in state.list("deployments"):
        md, status = dep.get("metadata") or {}, dep.get("status") or {}
        rses = rs_by_owner.get(str(md.get("uid")), [])
        ready = {(r["metadata"].get("labels") or {}).get("pod-template-hash") for r in rses
                 if (r.get("status") or {}).get("readyReplicas")}
        want = (dep.get("spec") or {}).get("replicas", 1)
        failure = next((failing[r["metadata"].get("uid")] for r in rses if r["metadata"].get("uid") in failing), None)
        out[(md.get("namespace") or "", md.get("name") or "")] = {
            "ready_hashes": ready, "failure": failure,
            "healthy": (status.get("readyReplicas") or 0) >= want and not status.get("unavailableReplicas")}
    return out


def _failures_by_owner(state: ClusterState) -> dict[str, dict[str, Any]]:
    """ReplicaSet uid → how one of its not-ready pods' app container looks (waiting, last state)."""
    out: dict[str, dict[str, Any]] = {}
    for pod in state.list("pods"):
        owner = next((r.get("uid") for r in (pod.get("metadata") or {}).get("ownerReferences") or []), None)
        status = pod.get("status") or {}
        for cs in status.get("containerStatuses") or []:
            if owner and not cs.get("ready") and "waiting" in (cs.get("state") or {}) and owner not in out:
                out[str(owner)] = {"container": cs.get("name"), "phase": status.get("phase", "Pending"),
                                   "state": cs.get("state"), "lastState": cs.get("lastState") or {},
                                   "restartCount": int(cs.get("restartCount") or 0)}
    return out
