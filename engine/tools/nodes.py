"""Nodes: ``node_ready`` and ``node_conditions`` (diagnostic), ``cordon``, ``uncordon`` and ``drain``.

Node state is read from the cluster source when there is one (the node as it is now), else from
the incident's evidence. A node is *healthy* when ``Ready`` is True and every other condition
(MemoryPressure, DiskPressure, PIDPressure, NetworkUnavailable, and any node-problem-detector
condition) is False. ``uncordon`` refuses a node that is not healthy. ``drain`` cordons, then
evicts through the Eviction API every pod on the node except DaemonSet pods (the DaemonSet would
put them back), mirror pods (the kubelet owns them), pods in ``skip_namespaces`` (kube-system by
default) and bare pods (nothing would recreate them; kubectl needs ``--force`` for those).
"""

from __future__ import annotations

from typing import Any

from engine.sources import SourceError
from engine.tools.base import Observation, Plan, Refused, Satisfied, Tool, ToolContext
from engine.writer import ClusterWriter

__all__ = ["CORDON", "DRAIN", "NODE_CONDITIONS", "NODE_READY", "UNCORDON", "drain_selection", "node_state"]

MIRROR = "kubernetes.io/config.mirror"
UNSCHEDULABLE_TAINT = "node.kubernetes.io/unschedulable"


def node_state(ctx: ToolContext, node: str) -> dict[str, Any]:
    """{"ready", "unschedulable", "conditions": {type: status}, "from"} for one node."""
    if ctx.source is not None:
        try:
            obj = ctx.source.get("nodes", None, node)
        except SourceError as exc:
            if not exc.not_found:
                raise
            raise Refused(f"node {node} does not exist") from None
        conds = {c.get("type"): c.get("status") for c in (obj.get("status") or {}).get("conditions") or []}
        return {"ready": conds.get("Ready"), "unschedulable": bool((obj.get("spec") or {}).get("unschedulable")),
                "conditions": conds, "from": "cluster"}
    row = next((n for n in ctx.rows("nodes") if n.get("name") == node), None)
    if row is None:
        raise Refused(f"node {node} is not in the evidence")
    conds = {c.get("type"): c.get("status") for c in ctx.rows("node_conditions") if c.get("node") == node}
    return {"ready": row.get("ready") or conds.get("Ready"), "unschedulable": bool(row.get("unschedulable")),
            "conditions": conds, "from": "evidence"}


def _unhealthy(state: dict[str, Any]) -> list[str]:
    bad = [f"Ready={state['ready']}"] if state["ready"] != "True" else []
    return bad + [f"{t}={s}" for t, s in sorted(state["conditions"].items()) if t != "Ready" and s != "False"]


def _node_name(ctx: ToolContext, args: dict[str, Any]) -> str:
    if args.get("node"):
        return str(args["node"])
    if ctx.subject.kind == "Node":
        return ctx.subject.name
    # a workload that cannot schedule: the cordoned node the evidence shows, else the cluster's only one
    cordoned = [str(n["name"]) for n in ctx.rows("nodes") if n.get("unschedulable")]
    if not cordoned and ctx.source is not None:
        cordoned = [str(n["metadata"]["name"]) for n in ctx.source.list("nodes") if (n.get("spec") or {}).get("unschedulable")]
    if len(cordoned) == 1:
        return cordoned[0]
    if cordoned:
        raise Refused(f"argument 'node' is empty and {len(cordoned)} nodes are cordoned ({', '.join(cordoned[:5])})")
    raise Refused("argument 'node' is empty, the subject is not a Node and no node is cordoned")


def _ready(ctx: ToolContext, args: dict[str, Any]) -> Observation:
    node = _node_name(ctx, args)
    st = node_state(ctx, node)
    return Observation(f"node {node}: Ready={st['ready']}, unschedulable={st['unschedulable']} (from the {st['from']})",
                       {"node": node, "ready": st["ready"], "unschedulable": st["unschedulable"]})


def _conditions(ctx: ToolContext, args: dict[str, Any]) -> Observation:
    node = _node_name(ctx, args)
    st = node_state(ctx, node)
    bad = _unhealthy(st)
    pressure = [t for t, s in st["conditions"].items() if t.endswith("Pressure") and s == "True"]
    text = f"node {node}: " + ", ".join(f"{t}={s}" for t, s in sorted(st["conditions"].items()))
    text += "; healthy" if not bad else f"; not healthy: {', '.join(bad)}"
    return Observation(text, {"node": node, "conditions": st["conditions"], "healthy": not bad,
                              "problems": bad, "pressure": pressure, "unschedulable": st["unschedulable"]})


def _cordon_patch(value: bool) -> dict[str, Any]:
    # what kubectl sends: the two-way strategic merge patch of spec.unschedulable (false is omitted: null)
    return {"spec": {"unschedulable": True if value else None}}


def _cordon(ctx: ToolContext, args: dict[str, Any]) -> Plan:
    node = _node_name(ctx, args)
    if node_state(ctx, node)["unschedulable"]:
        raise Satisfied(f"node {node} is already cordoned")

    def apply(writer: ClusterWriter) -> str:
        writer.patch_node(node, _cordon_patch(True))
        return f"node {node} cordoned"

    return Plan(f"cordon node {node} (no new pods are scheduled there)", ctx.kubectl(f"cordon {node}"),
                f"node/{node}", apply, {"node": node})


def _uncordon(ctx: ToolContext, args: dict[str, Any]) -> Plan:
    node = _node_name(ctx, args)
    st = node_state(ctx, node)
    bad = _unhealthy(st)
    if bad:
        raise Refused(f"node {node} is not healthy ({', '.join(bad)}): it stays cordoned")
    if not st["unschedulable"]:
        raise Satisfied(f"node {node} is already schedulable")

    def apply(writer: ClusterWriter) -> str:
        writer.patch_node(node, _cordon_patch(False))
        return f"node {node} uncordoned"

    return Plan(f"uncordon node {node} (Ready, no pressure: it can take pods again)", ctx.kubectl(f"uncordon {node}"),
                f"node/{node}", apply, {"node": node})


def drain_selection(pods: list[dict[str, Any]], skip_namespaces: list[str]) -> tuple[list[str], dict[str, str]]:
    """(``ns/name`` of the pods to evict, ``ns/name`` → why each other pod stays)."""
    evict, skipped = [], {}
    for p in pods:
        md = p.get("metadata") or {}
        key = f"{md.get('namespace')}/{md.get('name')}"
        owners = [r for r in md.get("ownerReferences") or [] if r.get("controller")]
        if MIRROR in (md.get("annotations") or {}):
            skipped[key] = "mirror pod (static, owned by the kubelet)"
        elif any(r.get("kind") == "DaemonSet" for r in owners):
            skipped[key] = "DaemonSet pod (the DaemonSet would recreate it on this node)"
        elif md.get("namespace") in skip_namespaces:
            skipped[key] = f"in namespace {md.get('namespace')}"
        elif md.get("deletionTimestamp"):
            skipped[key] = "already terminating"
        elif not owners:
            skipped[key] = "not managed by a controller (nothing would recreate it; kubectl drain needs --force)"
        else:
            evict.append(key)
    return evict, skipped


def _drain(ctx: ToolContext, args: dict[str, Any]) -> Plan:
    node = _node_name(ctx, args)
    skip_ns = list(args.get("skip_namespaces") or ["kube-system"])
    pods = ctx.need_source(f"the pods on node {node}").list("pods", None, field_selector=f"spec.nodeName={node}")
    evict, skipped = drain_selection(pods, skip_ns)
    cordoned = node_state(ctx, node)["unschedulable"]

    def apply(writer: ClusterWriter) -> str:
        if not cordoned:
            writer.patch_node(node, _cordon_patch(True))
        failed = []
        for key in evict:
            ns, name = key.split("/", 1)
            try:
                writer.evict_pod(ns, name)
            except SourceError as exc:
                failed.append(f"{key}: {exc.status} {exc.reason}")
        done = f"node {node} cordoned; evicted {len(evict) - len(failed)} of {len(evict)} pod(s)"
        if failed:
            raise RuntimeError(f"{done}; not evicted: {'; '.join(failed)}")
        return done

    ignore = " --ignore-daemonsets --delete-emptydir-data"
    return Plan(f"drain node {node}: cordon, then evict {len(evict)} pod(s) ({', '.join(evict) or 'none'}); "
                f"{len(skipped)} stay", ctx.kubectl(f"drain {node}{ignore}"), f"node/{node}", apply,
                {"node": node, "evict": evict, "skipped": skipped})


NODE_READY = Tool("node_ready", "whether a node is Ready and schedulable", _ready, optional=("node",),
                  outputs=("node", "ready", "unschedulable"))
NODE_CONDITIONS = Tool("node_conditions", "a node's conditions and whether it is healthy (Ready, no pressure)",
                       _conditions, optional=("node",),
                       outputs=("node", "conditions", "healthy", "problems", "pressure", "unschedulable"))
CORDON = Tool("cordon", "mark a node unschedulable (kubectl cordon)", _cordon, mutates=True, optional=("node",),
              outputs=("node",))
UNCORDON = Tool("uncordon", "mark a node schedulable again, only when it is healthy (kubectl uncordon)", _uncordon,
                mutates=True, optional=("node",), outputs=("node",))
DRAIN = Tool("drain", "cordon a node and evict its pods (skips DaemonSet, mirror and kube-system pods)", _drain,
             mutates=True, optional=("node", "skip_namespaces"), outputs=("node", "evict", "skipped"))
