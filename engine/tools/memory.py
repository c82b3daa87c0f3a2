"""Memory: ``oom_check`` (which container was OOMKilled, at what limit) and ``raise_memory_limit``.

The raise is ``factor`` × the current limit (default 2), at least ``floor`` and at most ``cap``;
a limit already at the cap is refused (more memory is not the answer any more: a leak, or the
workload needs resizing by a person). A container without a memory limit is refused too: its
OOM kill came from the node, not from a limit.
"""

from __future__ import annotations

from typing import Any

from engine.quantity import format_bytes, parse_quantity
from engine.tools._evidence import containers_of, deployment_target, subject_pods
from engine.tools.base import Observation, Plan, Refused, Tool, ToolContext
from engine.writer import ClusterWriter

__all__ = ["OOM_CHECK", "RAISE_MEMORY_LIMIT", "memory_target"]


def _oom(ctx: ToolContext, args: dict[str, Any]) -> Observation:
    pods = subject_pods(ctx, args.get("kind"), args.get("namespace"), args.get("name"))
    killed = [c for c in containers_of(ctx, pods) if "OOMKilled" in (c.get("reason"), c.get("last_reason"))]
    if not killed:
        return Observation("no container of the subject was OOMKilled", {"oom_killed": False, "pods": 0})
    c = killed[0]
    restarts = sum(int(x.get("restart_count") or 0) for x in killed)
    text = (f"{len(killed)} container(s) OOMKilled: {c.get('container')} (memory limit "
            f"{c.get('memory_limit') or 'unset'}, request {c.get('memory_request') or 'unset'}), {restarts} restarts")
    return Observation(text, {"oom_killed": True, "container": c.get("container"), "pods": len(killed),
                              "memory_limit": c.get("memory_limit"), "memory_limit_bytes": c.get("memory_limit_bytes"),
                              "memory_request": c.get("memory_request"), "restarts": restarts})


def memory_target(current: int, *, factor: float, floor: int, cap: int) -> int:
    """The new limit: factor × current, at least the floor, at most the cap; Refused at the cap."""
    if floor > cap:
        raise Refused(f"floor {format_bytes(floor)} is above cap {format_bytes(cap)}")
    target = min(max(int(current * factor), floor), cap)
    if target <= current:
        raise Refused(f"memory limit {format_bytes(current)} is already at or above the cap {format_bytes(cap)}: "
                      "a person must look (a leak, or the workload needs resizing)")
    return target


def _quantity(args: dict[str, Any], name: str, default: str) -> int:
    raw = args.get(name) or default
    value = parse_quantity(raw)
    if value is None or value <= 0:
        raise Refused(f"argument {name}={raw!r} is not a memory quantity")
    return value


def _raise(ctx: ToolContext, args: dict[str, Any]) -> Plan:
    namespace, name = deployment_target(ctx, args)
    container, current = _current_limit(ctx, namespace, name, args.get("container"))
    floor, cap = _quantity(args, "floor", "256Mi"), _quantity(args, "cap", "4Gi")
    factor = float(args.get("factor") or 2)
    new = format_bytes(memory_target(current, factor=factor, floor=floor, cap=cap))
    patch = {"spec": {"template": {"spec": {"containers": [
        {"name": container, "resources": {"limits": {"memory": new}}}]}}}}

    def apply(writer: ClusterWriter) -> str:
        writer.patch_deployment(namespace, name, patch, patch_type="strategic")
        return f"deployment {namespace}/{name}: memory limit of {container} raised to {new}"

    return Plan(f"raise the memory limit of container {container} of deployment {namespace}/{name} from "
                f"{format_bytes(current)} to {new} (x{factor:g}, floor {format_bytes(floor)}, cap {format_bytes(cap)})",
                ctx.kubectl(f"set resources deployment/{name} -c {container} --limits=memory={new}", namespace),
                f"deployment/{namespace}/{name}", apply,
                {"container": container, "from": format_bytes(current), "to": new})


def _current_limit(ctx: ToolContext, namespace: str, name: str, container: Any) -> tuple[str, int]:
    """(container, its memory limit in bytes) from the live Deployment, else from the evidence."""
    if ctx.source is not None:
        spec = ctx.source.get("deployments", namespace, name)["spec"]["template"]["spec"]
        containers = spec.get("containers") or []
        c = next((x for x in containers if x.get("name") == container), None) if container else \
            (containers[0] if len(containers) == 1 else None)
        if c is None:
            raise Refused(f"deployment {namespace}/{name}: say which container ({', '.join(x['name'] for x in containers)})")
        limit = parse_quantity(((c.get("resources") or {}).get("limits") or {}).get("memory"))
        cname = str(c["name"])
    else:
        rows = [r for r in containers_of(ctx, subject_pods(ctx, "Deployment", namespace, name))
                if not container or r.get("container") == container]
        if not rows:
            raise Refused(f"no container {container or ''} of deployment {namespace}/{name} in the evidence")
        limit, cname = rows[0].get("memory_limit_bytes"), str(rows[0].get("container"))
    if not limit:
        raise Refused(f"container {cname} has no memory limit: the OOM kill was the node's, not the container's")
    return cname, int(limit)


OOM_CHECK = Tool("oom_check", "containers of the subject that were OOMKilled, with their limits", _oom,
                 optional=("kind", "namespace", "name"),
                 outputs=("oom_killed", "container", "pods", "memory_limit", "memory_limit_bytes",
                          "memory_request", "restarts"))
RAISE_MEMORY_LIMIT = Tool(
    "raise_memory_limit", "raise a Deployment container's memory limit (x2, floor 256Mi, cap 4Gi by default)",
    _raise, mutates=True, optional=("kind", "namespace", "name", "container", "floor", "cap", "factor"),
    outputs=("container", "from", "to"))
