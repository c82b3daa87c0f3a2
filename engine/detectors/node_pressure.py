"""node_pressure: a node reports memory, disk or PID pressure and evicts pods.

Signals (subject: the Node):
- ``node_conditions`` ``MemoryPressure``/``DiskPressure``/``PIDPressure`` = ``True`` on a node of the
  focus pods (or the incident's node): 0.8 when the incident is about that node or focus pods on it
  were evicted; otherwise the pressure is only where the failing pods happen to run (a crash with
  its own signature on a node low on disk is not explained by it): 0.55, and the finding claims no
  pods, so it absorbs none of their own findings;
- kubelet eviction: ``Evicted`` events and pods ``phase=Failed reason=Evicted`` with ``The node was
  low on resource: memory|ephemeral-storage|pids.``: 0.85 (times the event's weight now).
A pod evicted for exceeding its own ephemeral-storage limit is left to ``disk_full``.
"""

from __future__ import annotations

from typing import Any

from engine.detectors import patterns as P
from engine.detectors.base import DetectContext, Finding
from engine.detectors.common import Hits, View, event_item, view
from engine.report import EvidenceItem, Subject

NAME = "node_pressure"
_PRESSURES = ("MemoryPressure", "DiskPressure", "PIDPressure")


def detect(ctx: DetectContext) -> list[Finding]:
    v = view(ctx)
    hits = Hits(NAME)
    involved = v.involved_nodes()
    targets = {t.name for _, t in v.targets if t.kind == "Node"}
    evicted_on = {p.get("node") for p in v.focus_pods if p.get("reason") == "Evicted"}
    for c in v.node_conditions:
        key = (c.get("cluster") or "", "", c.get("node") or "")
        if c.get("type") in _PRESSURES and c.get("status") == "True" and key in involved:
            explains = key[2] in targets or key[2] in evicted_on
            item = EvidenceItem(
                kind="node",
                cluster=key[0],
                source=f"node/{key[2]}",
                text=f"condition {c['type']}=True reason {c.get('reason')}: {c.get('message') or ''}",
                at=c.get("last_transition"),
            )
            hits.add(
                v.node_subject(key[0], key[2]),
                0.8 if explains else 0.55,
                [item],
                "condition",
                pressure=[c["type"]],
                node=key[2],
                pods=_pods_on(v, key[0], key[2]) if explains else None,
            )
    for e in v.focus_events:
        m = P.NODE_LOW_ON.search(e["msg"])
        if m and e.get("reason") == "Evicted" and not P.EPHEMERAL_LIMIT.search(e["msg"]):
            _evicted(
                v,
                hits,
                e.get("cluster") or "",
                v.pod_of_event(e),
                m.group("res"),
                [event_item(e)],
                0.85 * v.event_factor(e),
                e.get("object_name"),
            )
    for pod in v.focus_pods:
        m = P.NODE_LOW_ON.search(pod.get("message") or "")
        if pod.get("reason") == "Evicted" and m:
            item = EvidenceItem(
                kind="status",
                cluster=pod.get("cluster") or "",
                source=f"pod/{pod.get('namespace')}/{pod.get('name')}",
                text=f"phase {pod.get('phase')} reason Evicted: {pod.get('message')}",
            )
            _evicted(v, hits, pod.get("cluster") or "", pod, m.group("res"), [item], 0.85, pod.get("name"))
    return list(hits.findings(_summary))


def _evicted(
    v: View,
    hits: Hits,
    cluster: str,
    pod: dict[str, Any] | None,
    res: str,
    items: list[EvidenceItem],
    conf: float,
    pod_name: str | None,
) -> None:
    node = (pod or {}).get("node")
    subject = v.node_subject(cluster, node) if node else (v.subject_for_pod(pod) if pod else None)
    if subject is None:
        return
    hits.add(subject, conf, items, "eviction", pressure=[f"low {res}"], node=node, evicted=[pod_name],
             pods=[pod_name])


def _pods_on(v: View, cluster: str, node: str) -> list[str]:
    return [
        p.get("name") for p in v.focus_pods if p.get("node") == node and (p.get("cluster") or "") == cluster
    ]


def _summary(subject: Subject, f: dict[str, Any]) -> str:
    what = ", ".join(f.get("pressure") or []) or "resource pressure"
    ev = f"; evicted {len(f['evicted'])} pod(s)" if f.get("evicted") else ""
    if subject.kind != "Node":
        return f"pods of {subject.kind} {subject.namespace}/{subject.name} were evicted: node {what}{ev}"
    return f"Node {subject.name} is under pressure: {what}{ev}"
