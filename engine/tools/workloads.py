"""Workloads: ``workload_status`` (diagnostic), ``scale`` a Deployment and ``delete_pod`` (only pods a
controller recreates)."""

from __future__ import annotations

from typing import Any

from engine.sources import SourceError
from engine.tools._evidence import CONTROLLERS, controller_ref, deployment_target, subject_pods
from engine.tools.base import Observation, Plan, Refused, Tool, ToolContext, need
from engine.writer import ClusterWriter

__all__ = ["DELETE_POD", "SCALE", "WORKLOAD_STATUS"]


def _status(ctx: ToolContext, args: dict[str, Any]) -> Observation:
    kind, namespace = args.get("kind") or ctx.subject.kind, args.get("namespace") or ctx.subject.namespace
    name = args.get("name") or ctx.subject.name
    pods = [p for p in subject_pods(ctx, kind, namespace, name) if p.get("phase") not in ("Succeeded", "Failed")]
    running = [p for p in pods if p.get("phase") == "Running"]
    ready = [p for p in running if p.get("ready")]
    pending = [p for p in pods if p.get("phase") == "Pending"]
    row = next((w for w in ctx.rows("workloads") if w.get("namespace") == namespace and w.get("name") == name), {})
    desired = row.get("replicas")
    text = (f"{kind} {namespace}/{name}: desired {desired if desired is not None else '?'}, {len(pods)} pod(s): "
            f"{len(running)} running ({len(ready)} ready), {len(pending)} pending")
    return Observation(text, {"desired": desired, "pods": len(pods), "running": len(running), "ready": len(ready),
                              "pending": len(pending)})


def _scale(ctx: ToolContext, args: dict[str, Any]) -> Plan:
    raw = need(args, "replicas")
    try:
        replicas = int(raw)
    except (TypeError, ValueError):
        raise Refused(f"argument replicas={raw!r} is not a whole number") from None
    if replicas < 0:
        raise Refused(f"argument replicas={replicas} is negative")
    namespace, name = deployment_target(ctx, args)
    current = None
    if ctx.source is not None:
        current = (ctx.source.get("deployments", namespace, name).get("spec") or {}).get("replicas")
        if current == replicas:
            raise Refused(f"deployment {namespace}/{name} already has {replicas} replicas")

    def apply(writer: ClusterWriter) -> str:
        writer.scale_deployment(namespace, name, replicas)
        return f"deployment {namespace}/{name} scaled to {replicas} replicas"

    was = f" from {current}" if current is not None else ""
    return Plan(f"scale deployment {namespace}/{name}{was} to {replicas} replicas",
                ctx.kubectl(f"scale deployment/{name} --replicas={replicas}", namespace),
                f"deployment/{namespace}/{name}", apply, {"replicas": replicas, "from": current})


def _delete_pod(ctx: ToolContext, args: dict[str, Any]) -> Plan:
    pod = str(need(args, "pod"))
    namespace = str(args.get("namespace") or ctx.subject.namespace or "")
    owner = _pod_controller(ctx, namespace, pod)
    if owner is None:
        raise Refused(f"pod {namespace}/{pod} is not owned by a controller: deleting it would lose it for good")

    def apply(writer: ClusterWriter) -> str:
        writer.delete_pod(namespace, pod)
        return f"pod {namespace}/{pod} deleted; {owner[0]} {owner[1]} recreates it"

    return Plan(f"delete pod {namespace}/{pod} so that its {owner[0]} {owner[1]} recreates it",
                ctx.kubectl(f"delete pod {pod}", namespace), f"pod/{namespace}/{pod}", apply,
                {"owner": f"{owner[0]}/{owner[1]}"})


def _pod_controller(ctx: ToolContext, namespace: str, pod: str) -> tuple[str, str] | None:
    if ctx.source is not None:
        try:
            ref = controller_ref(ctx.source.get("pods", namespace, pod))
        except SourceError as exc:
            if exc.not_found:
                raise Refused(f"pod {namespace}/{pod} does not exist any more") from None
            raise
        return ref if ref and ref[0] in CONTROLLERS else None
    row = next((p for p in ctx.rows("pods") if p.get("namespace") == namespace and p.get("name") == pod), None)
    if row is None:
        raise Refused(f"pod {namespace}/{pod} is not in the evidence")
    kind = row.get("owner_kind")
    return (str(kind), str(row.get("owner_name"))) if kind in CONTROLLERS else None


WORKLOAD_STATUS = Tool("workload_status", "a workload's desired replicas and its pods: running, ready, pending",
                       _status, optional=("kind", "namespace", "name"),
                       outputs=("desired", "pods", "running", "ready", "pending"))
SCALE = Tool("scale", "set a Deployment's replicas (kubectl scale)", _scale, mutates=True,
             required=("replicas",), optional=("kind", "namespace", "name"), outputs=("replicas", "from"))
DELETE_POD = Tool("delete_pod", "delete a pod its controller recreates (refuses bare pods)", _delete_pod,
                  mutates=True, required=("pod",), optional=("namespace",), outputs=("owner",))
