"""Shared reads for the tools: the subject's pods and containers in the evidence, owner chains."""

from __future__ import annotations

from typing import Any

from engine.sources import SourceError
from engine.tools.base import Refused, ToolContext

CONTROLLERS = ("Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "ReplicaSet", "ReplicationController")


def subject_pods(ctx: ToolContext, kind: str | None = None, namespace: str | None = None,
                 name: str | None = None) -> list[dict[str, Any]]:
    """Pods of a subject (default: the report's): a node's pods, a workload's pods, or the pod itself."""
    s = ctx.subject
    kind, namespace, name = kind or s.kind, namespace if namespace is not None else s.namespace, name or s.name
    pods = ctx.rows("pods")
    if kind == "Node":
        return [p for p in pods if p.get("node") == name]
    mine = [p for p in pods if p.get("namespace") == namespace
            and name in (p.get("workload_name"), p.get("owner_name"), p.get("name"))]
    return mine or [p for p in pods if p.get("in_focus") and (namespace is None or p.get("namespace") == namespace)]


def containers_of(ctx: ToolContext, pods: list[dict[str, Any]]) -> list[dict[str, Any]]:
    keys = {(p.get("namespace"), p.get("name")) for p in pods}
    return [c for c in ctx.rows("containers") if (c.get("namespace"), c.get("pod")) in keys and not c.get("init")]


def controller_of(ctx: ToolContext, kind: str, namespace: str | None, name: str) -> tuple[str, str]:
    """Follow the owner chain from (kind, name) up to the controlling object: Pod → ReplicaSet →
    Deployment. Uses the evidence first (the collector resolved owners), then the cluster source."""
    if kind == "Pod":
        row = next((p for p in ctx.rows("pods") if p.get("namespace") == namespace and p.get("name") == name), None)
        if row and row.get("workload_kind"):
            return str(row["workload_kind"]), str(row["workload_name"])
        owner = _owner(ctx, "pods", namespace, name)
        if owner is None:
            return "Pod", name
        return controller_of(ctx, owner[0], namespace, owner[1])
    if kind == "ReplicaSet":
        owner = _owner(ctx, "replicasets", namespace, name)
        return (owner[0], owner[1]) if owner else ("ReplicaSet", name)
    return kind, name


def _owner(ctx: ToolContext, plural: str, namespace: str | None, name: str) -> tuple[str, str] | None:
    if ctx.source is None:
        return None
    try:
        obj = ctx.source.get(plural, namespace, name)
    except SourceError as exc:
        if exc.not_found:
            return None
        raise
    return controller_ref(obj)


def controller_ref(obj: dict[str, Any]) -> tuple[str, str] | None:
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return str(ref.get("kind")), str(ref.get("name"))
    return None


def deployment_target(ctx: ToolContext, args: dict[str, Any]) -> tuple[str, str]:
    """(namespace, name) of the Deployment a workload mutation acts on, through the owner chain."""
    kind = str(args.get("kind") or ctx.subject.kind)
    namespace = args.get("namespace") or ctx.subject.namespace
    name = str(args.get("name") or ctx.subject.name)
    if not namespace:
        raise Refused(f"{kind} {name} has no namespace: only namespaced workloads are patched")
    top_kind, top_name = controller_of(ctx, kind, namespace, name)
    if top_kind != "Deployment":
        raise Refused(f"{kind} {namespace}/{name} is controlled by {top_kind} {top_name}: only Deployments are "
                      "patched by this tool")
    return str(namespace), top_name
