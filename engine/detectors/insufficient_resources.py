"""insufficient_resources: pods cannot be scheduled or admitted for lack of CPU, memory or pods.

Signals:
- scheduler ``FailedScheduling`` ``0/N nodes are available: ... Insufficient cpu|memory|pods|...``
  (the reasons before `` preemption:``), and the legacy (<=1.9) ``No nodes are available that
  match all of the predicates: Insufficient pods (1), ...``: 0.9 when Insufficient is the only
  kind of reason, 0.85 when mixed with taints/affinity;
- kubelet admission ``OutOfcpu`` / ``OutOfmemory`` / ``OutOfpods`` events (``Node didn't have enough
  resource: cpu, requested: 500, used: 1775, capacity: 2000``) and pods failed with that reason: 0.85;
- controller ``FailedCreate`` ``exceeded quota``: 0.8.
Scaled by the pod's health now (a pod that got scheduled later weighs less).
"""

from __future__ import annotations

from typing import Any

from engine.detectors import patterns as P
from engine.detectors.base import DetectContext, Finding
from engine.detectors.common import Hits, View, event_item, ref, resources_item, view
from engine.report import EvidenceItem, Subject

NAME = "insufficient_resources"


def fit_reasons(msg: str) -> tuple[int | None, list[tuple[int, str]]]:
    """(node total, [(count, reason)]) of a scheduler FitError message, current or legacy format."""
    head = msg.split(" preemption: ")[0]
    m = P.NODES_AVAILABLE.search(head)
    if m:
        body = head[m.end() :].lstrip(": ")
        reasons = []
        for part in body.split(", "):
            cm = P.COUNTED_REASON.match(part.strip())
            if cm:
                reasons.append((int(cm.group("n")), cm.group("reason")))
        return int(m.group("total")), reasons
    m = P.LEGACY_PREDICATES.search(head)
    if m:
        reasons = []
        for part in m.group("reasons").rstrip(".").split(", "):
            name, _, count = part.partition(" (")
            reasons.append((int(count.rstrip(")")) if count.rstrip(")").isdigit() else 1, name))
        return None, reasons
    return None, []


def detect(ctx: DetectContext) -> list[Finding]:
    v = view(ctx)
    hits = Hits(NAME)
    for e in v.focus_events:
        if e.get("reason") == "FailedScheduling":
            _scheduling(v, hits, e)
        elif (e.get("reason") or "").startswith("OutOf") or P.KUBELET_ADMISSION.search(e["msg"]):
            m = P.KUBELET_ADMISSION.search(e["msg"])
            res = m.group("res") if m else (e.get("reason") or "")[len("OutOf") :]
            hits.add(
                v.subject_for_event(e),
                0.85 * v.event_factor(e),
                [event_item(e), *_requests(v, e)],
                "admission",
                resources=[res],
                pods=[e.get("object_name")],
            )
        elif e.get("reason") == "FailedCreate" and P.QUOTA_EXCEEDED.search(e["msg"]):
            hits.add(
                v.subject_for_event(e),
                0.8 * v.event_factor(e),
                [event_item(e)],
                "quota",
                quota=P.QUOTA_EXCEEDED.search(e["msg"]).group("quota"),
                resources=["quota"],
            )
    for pod in v.focus_pods:
        if pod.get("phase") == "Failed" and (pod.get("reason") or "").startswith("OutOf"):
            item = EvidenceItem(
                kind="status",
                cluster=pod.get("cluster") or "",
                source=f"pod/{pod.get('namespace')}/{pod.get('name')}",
                text=f"phase Failed, reason {pod.get('reason')}: {pod.get('message') or ''}",
            )
            hits.add(
                v.subject_for_pod(pod),
                0.8,
                [item],
                "status",
                resources=[pod["reason"][len("OutOf") :]],
                pods=[pod.get("name")],
            )
    return list(hits.findings(_summary))


def _scheduling(v: View, hits: Hits, e: dict[str, Any]) -> None:
    total, reasons = fit_reasons(e["msg"])
    res = [m.group("res") for _, r in reasons for m in [P.INSUFFICIENT.search(r)] if m]
    if not res:
        return
    only = all(P.INSUFFICIENT.search(r) for _, r in reasons)
    hits.add(
        v.subject_for_event(e),
        (0.9 if only else 0.85) * v.event_factor(e),
        [event_item(e), *_requests(v, e)],
        "scheduler",
        resources=res,
        nodes_total=total,
        pods=[e.get("object_name")],
        other_reasons=[r for _, r in reasons if not P.INSUFFICIENT.search(r)],
    )


def _requests(v: View, e: dict[str, Any]) -> list[EvidenceItem]:
    pod = v.pod_of_event(e)
    return [resources_item(c) for c in v.containers_of(pod)] if pod is not None else []


def _summary(subject: Subject, f: dict[str, Any]) -> str:
    res = ", ".join(f.get("resources") or []) or "resources"
    if f.get("quota"):
        return f"{ref(subject)} cannot create pods: ResourceQuota {f['quota']} exceeded"
    nodes = f" on any of {f['nodes_total']} node(s)" if f.get("nodes_total") else ""
    return f"{ref(subject)} pods cannot be placed{nodes}: insufficient {res}"
