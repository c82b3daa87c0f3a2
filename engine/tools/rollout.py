"""A Deployment's revisions: ``rollout_history`` (diagnostic) and ``rollback`` (kubectl rollout undo).

A revision is *healthy* when its ReplicaSet had ready or available replicas. ``rollback`` does
what ``kubectl rollout undo --to-revision=N`` does: it reads the target ReplicaSet, drops its
``pod-template-hash`` label, and sends a JSON patch that replaces the Deployment's
``spec.template`` (and its annotations, keeping kubectl's skipped ones), so the deployment
controller rolls back to that template.
"""

from __future__ import annotations

import json
from typing import Any

from engine.revisions import what_changed
from engine.tools._evidence import deployment_target
from engine.tools.base import Observation, Plan, Refused, Tool, ToolContext
from engine.writer import ClusterWriter

__all__ = ["ROLLBACK", "ROLLOUT_HISTORY", "healthy_revision", "revision_of"]

REVISION = "deployment.kubernetes.io/revision"
#: Deployment annotations kubectl keeps on rollback (and never copies from the ReplicaSet).
_SKIP = ("kubectl.kubernetes.io/last-applied-configuration", REVISION, "deployment.kubernetes.io/revision-history",
         "deployment.kubernetes.io/desired-replicas", "deployment.kubernetes.io/max-replicas",
         "deprecated.deployment.rollback.to")


def _revisions(ctx: ToolContext, namespace: str, name: str) -> list[dict[str, Any]]:
    rows = [r for r in ctx.rows("changes") if r.get("namespace") == namespace and r.get("workload_name") == name
            and r.get("revision") is not None]
    return sorted(rows, key=lambda r: r["revision"])


def healthy_revision(row: dict[str, Any]) -> bool:
    return bool((row.get("ready_replicas") or 0) > 0 or (row.get("available_replicas") or 0) > 0)


def _history(ctx: ToolContext, args: dict[str, Any]) -> Observation:
    namespace, name = deployment_target(ctx, args)
    revs = _revisions(ctx, namespace, name)
    if not revs:
        return Observation(f"no revisions of deployment {namespace}/{name} in the evidence",
                           {"revisions": 0, "has_previous_healthy": False})
    current = revs[-1]
    earlier = [r for r in revs[:-1] if healthy_revision(r)]
    prev = earlier[-1] if earlier else None
    changed = what_changed(prev, current) if prev else None
    text = (f"{len(revs)} revision(s); current {current['revision']} ({current.get('revision_name')}) "
            f"{'healthy' if healthy_revision(current) else 'not healthy'}; previous healthy: "
            + (f"{prev['revision']} ({prev.get('revision_name')})" if prev else "none"))
    return Observation(text + (f"; changed: {changed}" if changed else ""), {
        "revisions": len(revs), "current": current["revision"], "current_healthy": healthy_revision(current),
        "previous_healthy": prev["revision"] if prev else None, "has_previous_healthy": prev is not None,
        "previous_images": list(prev.get("images") or []) if prev else [], "changed": changed,
        "previous_template": json.loads(prev["template"]) if prev and prev.get("template") else None})


def revision_of(obj: dict[str, Any]) -> int:
    value = ((obj.get("metadata") or {}).get("annotations") or {}).get(REVISION, "")
    return int(value) if str(value).isdigit() else 0


def _owned(rs: dict[str, Any], uid: str | None, name: str) -> bool:
    refs = (rs.get("metadata") or {}).get("ownerReferences") or []
    return any(r.get("kind") == "Deployment" and (r.get("uid") == uid if uid else r.get("name") == name)
               for r in refs if r.get("controller"))


def _ready(rs: dict[str, Any]) -> bool:
    status = rs.get("status") or {}
    return bool(status.get("readyReplicas") or status.get("availableReplicas"))


def _without_hash(template: dict[str, Any]) -> dict[str, Any]:
    t = json.loads(json.dumps(template))
    (t.get("metadata") or {}).get("labels", {}).pop("pod-template-hash", None)
    return t


def _rollback(ctx: ToolContext, args: dict[str, Any]) -> Plan:
    namespace, name = deployment_target(ctx, args)
    source = ctx.need_source("the Deployment's ReplicaSets")
    dep = source.get("deployments", namespace, name)
    uid = (dep.get("metadata") or {}).get("uid")
    rses = [rs for rs in source.list("replicasets", namespace) if _owned(rs, uid, name)]
    current = revision_of(dep) or max((revision_of(rs) for rs in rses), default=0)
    target = _target(rses, current, args.get("to_revision"))
    template = _without_hash(target["spec"]["template"])
    if template == _without_hash(dep["spec"]["template"]):
        raise Refused(f"deployment {namespace}/{name} already runs the template of revision {revision_of(target)}")
    annotations = {k: v for k, v in ((dep.get("metadata") or {}).get("annotations") or {}).items() if k in _SKIP}
    annotations.update({k: v for k, v in ((target.get("metadata") or {}).get("annotations") or {}).items()
                        if k not in _SKIP})
    patch = [{"op": "replace", "path": "/spec/template", "value": template},
             {"op": "replace", "path": "/metadata/annotations", "value": annotations}]
    to = revision_of(target)

    def apply(writer: ClusterWriter) -> str:
        writer.patch_deployment(namespace, name, patch, patch_type="json")
        return f"deployment {namespace}/{name} rolled back to revision {to} ({target['metadata']['name']})"

    return Plan(f"roll deployment {namespace}/{name} back from revision {current} to revision {to} "
                f"({target['metadata']['name']}, the newest earlier revision that was healthy)",
                ctx.kubectl(f"rollout undo deployment/{name} --to-revision={to}", namespace),
                f"deployment/{namespace}/{name}", apply, {"to_revision": to, "from_revision": current})


def _target(rses: list[dict[str, Any]], current: int, wanted: Any) -> dict[str, Any]:
    if wanted not in (None, ""):
        found = [rs for rs in rses if revision_of(rs) == int(wanted)]
        if not found:
            raise Refused(f"revision {wanted} not found")
        return found[0]
    earlier = sorted((rs for rs in rses if 0 < revision_of(rs) < current and _ready(rs)), key=revision_of)
    if not earlier:
        raise Refused(f"no earlier healthy revision to roll back to (current revision {current})")
    return earlier[-1]


ROLLOUT_HISTORY = Tool(
    "rollout_history", "a Deployment's revisions from the evidence: current, previous healthy, what changed",
    _history, optional=("kind", "namespace", "name"),
    outputs=("revisions", "current", "current_healthy", "previous_healthy", "has_previous_healthy",
             "previous_images", "changed", "previous_template"))
ROLLBACK = Tool(
    "rollback", "roll a Deployment back to its previous healthy revision (kubectl rollout undo)", _rollback,
    mutates=True, optional=("kind", "namespace", "name", "to_revision"), outputs=("to_revision", "from_revision"))
