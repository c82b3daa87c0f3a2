"""Pod placement (node and owning workload) read from a cluster source, for correlation.

Live correlation asks this before grouping so that a pod's alert joins its workload's incident
(by the real owner chain, not a name guess) or the incident of the node it runs on.
"""

from __future__ import annotations

from typing import Any

from engine.alerts import workload_from_pod_name
from engine.sources import ClusterSource, SourceError

__all__ = ["CLAIM_PREFIX", "claim_placement", "placement_of", "placements_for", "pod_placement"]


CLAIM_PREFIX = "persistentvolumeclaim/"


def placement_of(source: ClusterSource, namespace: str, ref: str) -> dict[str, Any] | None:
    """Placement of a pod (``ref`` is its name) or of the pods that mount a claim
    (``ref`` is ``persistentvolumeclaim/<claim>``)."""
    if ref.startswith(CLAIM_PREFIX):
        return claim_placement(source, namespace, ref.removeprefix(CLAIM_PREFIX))
    return pod_placement(source, namespace, ref)


def claim_placement(source: ClusterSource, namespace: str, claim: str) -> dict[str, Any] | None:
    """The placement of a pod that mounts the claim: a PVC alert is about that pod's workload."""
    try:
        pods = source.list("pods", namespace)
    except SourceError:
        return None
    for pod in pods:
        for v in (pod.get("spec") or {}).get("volumes") or []:
            if ((v.get("persistentVolumeClaim") or {}).get("claimName")) == claim:
                return _placement(source, namespace, pod)
    return None


def pod_placement(source: ClusterSource, namespace: str, pod: str) -> dict[str, Any] | None:
    """``{"node", "workload_kind", "workload_name"}`` for a pod, or None when it cannot be read."""
    try:
        obj = source.get("pods", namespace, pod)
    except SourceError:
        return None
    return _placement(source, namespace, obj)


def _placement(source: ClusterSource, namespace: str, obj: dict[str, Any]) -> dict[str, Any]:
    pod = (obj.get("metadata") or {}).get("name") or ""
    node = (obj.get("spec") or {}).get("nodeName")
    refs = (obj.get("metadata") or {}).get("ownerReferences") or []
    ref = next((r for r in refs if r.get("controller")), refs[0] if refs else None)
    if ref is None:
        return {"node": node, "workload_kind": "Pod", "workload_name": pod}
    kind, name = ref.get("kind"), ref.get("name")
    if kind == "ReplicaSet":
        try:
            rs = source.get("replicasets", namespace, name)
            rs_refs = (rs.get("metadata") or {}).get("ownerReferences") or []
            if rs_refs:
                kind, name = rs_refs[0].get("kind"), rs_refs[0].get("name")
        except SourceError:
            kind, name = "Deployment", workload_from_pod_name(pod)
    return {"node": node, "workload_kind": kind, "workload_name": name}


def placements_for(source: ClusterSource, pods: list[tuple[str, str]]) -> dict[str, dict[str, Any]]:
    out = {}
    for ns, pod in pods:
        p = placement_of(source, ns, pod)
        if p is not None:
            out[f"{ns}/{pod}"] = p
    return out
