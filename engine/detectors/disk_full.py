"""disk_full: a filesystem or volume is out of space.

Signals:
- ``no space left on device`` / ``ENOSPC`` / ``database or disk is full`` / ``Disk quota exceeded``
  in the logs of focus containers: 0.75 when the container crashed, 0.6 otherwise (times health);
- the same words in kubelet events (a failed mount, container create or image pull): 0.8;
  on a Node (``FreeDiskSpaceFailed``, ``ImageGCFailed``) the subject is the node;
- pods evicted for exceeding their own ephemeral-storage limit: 0.75.
"""

from __future__ import annotations

from typing import Any

from engine.detectors import patterns as P
from engine.detectors.base import DetectContext, Finding
from engine.detectors.common import (
    Hits,
    View,
    add_log_hit,
    crash_info,
    event_item,
    is_crashing,
    ref,
    scan_logs,
    view,
)
from engine.report import EvidenceItem, Subject

NAME = "disk_full"


def detect(ctx: DetectContext) -> list[Finding]:
    v = view(ctx)
    hits = Hits(NAME)
    for pod, c in v.focus_containers():
        found = scan_logs(v.log_rows(pod, c["container"]), P.DISK_FULL)
        if found:
            crash = crash_info(c)
            base = 0.75 if (crash or is_crashing(c)) else 0.6
            add_log_hit(v, hits, pod, c, found, base, line=(found[0][0].get("line") or "")[:200])
    _events(v, hits)
    for pod in v.focus_pods:
        if pod.get("reason") == "Evicted" and P.EPHEMERAL_LIMIT.search(pod.get("message") or ""):
            item = EvidenceItem(
                kind="status",
                cluster=pod.get("cluster") or "",
                source=f"pod/{pod.get('namespace')}/{pod.get('name')}",
                text=f"Evicted: {pod.get('message')}",
            )
            hits.add(
                v.subject_for_pod(pod),
                0.75,
                [item],
                "eviction",
                pods=[pod.get("name")],
                line=pod.get("message"),
                ephemeral=True,
            )
    return list(hits.findings(_summary))


def _events(v: View, hits: Hits) -> None:
    for e in v.focus_events:
        if P.first_match(P.DISK_FULL, e["msg"]):
            hits.add(
                v.subject_for_event(e),
                0.8 * v.event_factor(e),
                [event_item(e)],
                "event",
                line=e["msg"][:200],
                node=e.get("object_name") if e.get("object_kind") == "Node" else None,
            )
        elif e.get("reason") == "Evicted" and P.EPHEMERAL_LIMIT.search(e["msg"]):
            hits.add(
                v.subject_for_event(e),
                0.75 * v.event_factor(e),
                [event_item(e)],
                "eviction",
                line=e["msg"][:200],
                ephemeral=True,
                pods=[e.get("object_name")],
            )


def _summary(subject: Subject, f: dict[str, Any]) -> str:
    if f.get("ephemeral"):
        return f"{ref(subject)} pods were evicted for exceeding their ephemeral-storage limit"
    return f"{ref(subject)} is out of disk space: {str(f.get('line'))[:160]}"
