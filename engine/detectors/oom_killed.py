"""oom_killed: a container exceeded its memory limit.

Signals, strongest first:
- container status ``OOMKilled`` (current ``terminated`` or ``last_terminated``), set by the CRI
  runtime from the cgroup OOM event: 0.95. Exit code 137 alone is any SIGKILL (a liveness kill,
  a grace-period expiry) and is NOT taken as OOM.
- node events ``OOMKilling`` (node-problem-detector kernel monitor) and ``SystemOOM`` (kubelet),
  both on the Node: 0.7 when a focus container on that node was SIGKILLed (exit 137), else a
  0.45 finding about the node itself.
- a runtime's own out-of-memory line (``java.lang.OutOfMemoryError``, V8 "JavaScript heap out of
  memory", Go "fatal error: runtime: out of memory", ``MemoryError``): supporting evidence that
  corroborates the status; alone 0.65 when the container crashed (the heap limit, not the cgroup,
  was hit, so the fix is the same: memory sizing), 0.45 otherwise.
Every signal is scaled by the pod's health now (see ``common``).
"""

from __future__ import annotations

from typing import Any

from engine.detectors import patterns as P
from engine.detectors.base import DetectContext, Finding
from engine.detectors.common import (
    Hits,
    View,
    crash_info,
    event_item,
    log_item,
    ref,
    resources_item,
    scan_logs,
    status_item,
    view,
)
from engine.report import Subject

NAME = "oom_killed"


def detect(ctx: DetectContext) -> list[Finding]:
    v = view(ctx)
    hits = Hits(NAME)
    _status(v, hits)
    _heap_logs(v, hits)
    _node_events(v, hits)
    return list(hits.findings(_summary))


def _status(v: View, hits: Hits) -> None:
    for pod, c in v.focus_containers():
        current = c.get("state") == "terminated" and c.get("reason") == "OOMKilled"
        if not current and c.get("last_reason") != "OOMKilled":
            continue
        when = c.get("finished_at") if current else c.get("last_finished_at")
        hits.add(
            v.subject_for_pod(pod),
            0.95 * v.history_factor(pod, when),
            [status_item(c), resources_item(c)],
            "status",
            **_facts(pod, c),
        )


def _heap_logs(v: View, hits: Hits) -> None:
    for pod, c in v.focus_containers():
        found = scan_logs(v.log_rows(pod, c["container"]), P.HEAP_OOM)
        if not found:
            continue
        crash = crash_info(c)
        base = 0.65 if crash else 0.45
        hits.add(
            v.subject_for_pod(pod),
            base * v.history_factor(pod, crash[2] if crash else None),
            [log_item(r) for r, _ in found[:3]] + [status_item(c), resources_item(c)],
            "log",
            heap_error=found[0][0].get("line"),
            **_facts(pod, c),
        )


def _node_events(v: View, hits: Hits) -> None:
    for e in v.focus_events:
        if e.get("object_kind") != "Node" or not _is_node_oom(e):
            continue
        m = P.NPD_KILLED.search(e["msg"]) or P.SYSTEM_OOM.search(e["msg"])
        proc = m.groupdict().get("proc") if m else None
        node, cluster = e.get("object_name") or "", e.get("cluster") or ""
        killed = [
            (p, c)
            for p, c in v.focus_containers()
            if p.get("node") == node
            and (p.get("cluster") or "") == cluster
            and 137 in (c.get("exit_code"), c.get("last_exit_code"))
        ]
        for pod, c in killed:
            hits.add(
                v.subject_for_pod(pod),
                0.7 * v.history_factor(pod, c.get("last_finished_at")),
                [event_item(e), status_item(c), resources_item(c)],
                "node_event",
                process=proc,
                **_facts(pod, c),
            )
        if not killed:
            hits.add(
                Subject(kind="Node", name=node, cluster=cluster),
                0.45 * v.event_factor(e),
                [event_item(e)],
                "node_event",
                node=node,
                process=proc,
            )


def _is_node_oom(e: dict[str, Any]) -> bool:
    msg = e["msg"]
    return e.get("reason") in ("OOMKilling", "SystemOOM") or bool(
        P.SYSTEM_OOM.search(msg) or P.NPD_CGROUP_OOM.search(msg)
    )


def _facts(pod: dict[str, Any], c: dict[str, Any]) -> dict[str, Any]:
    return {
        "pods": [pod.get("name")],
        "container": c.get("container"),
        "namespace": pod.get("namespace"),
        "memory_limit": c.get("memory_limit"),
        "memory_limit_bytes": c.get("memory_limit_bytes"),
        "memory_request": c.get("memory_request"),
        "restarts": c.get("restart_count"),
        "node": pod.get("node"),
    }


def _summary(subject: Subject, f: dict[str, Any]) -> str:
    if subject.kind == "Node":
        proc = f" (victim process {f['process']})" if f.get("process") else ""
        return f"Node {subject.name} reports out-of-memory kills{proc}"
    what = f"container {f.get('container')} of {ref(subject)}"
    limit = f"memory limit {f['memory_limit']}" if f.get("memory_limit") else "no memory limit set"
    if "status" in f["signals"]:
        restarts = f", {f['restarts']} restarts" if f.get("restarts") else ""
        return f"{what} was OOMKilled (exit 137, {limit}{restarts})"
    if "log" in f["signals"]:
        return f"{what} ran out of memory: {str(f.get('heap_error'))[:120]} ({limit})"
    return f"{what} was SIGKILLed while its node reported an OOM kill ({limit})"
