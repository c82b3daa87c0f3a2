"""node_cordoned: a node is marked unschedulable (cordoned) and pods have nowhere (else) to go.

Signals:
- scheduler ``FailedScheduling`` with ``node(s) were unschedulable`` (legacy ``NodeUnschedulable``):
  0.85 when every node the pod could use is unschedulable (the others are excluded by its own
  selector, affinity or an untolerated taint, such as a dedicated pool's only node being cordoned),
  0.55 when other reasons (lack of resources) are mixed in;
- a node of the focus pods, or the incident's node, with ``spec.unschedulable`` (``unschedulable``
  column) or the ``node.kubernetes.io/unschedulable`` taint: 0.6 when focus pods are failing or
  pending, 0.3 when everything runs (a cordon alone harms nothing).
"""

from __future__ import annotations

from typing import Any

from engine.detectors import patterns as P
from engine.detectors.base import DetectContext, Finding
from engine.detectors.common import Hits, event_item, ref, view
from engine.detectors.insufficient_resources import fit_reasons
from engine.report import EvidenceItem, Subject

NAME = "node_cordoned"


def detect(ctx: DetectContext) -> list[Finding]:
    v = view(ctx)
    hits = Hits(NAME)
    cordoned = [
        n
        for n in v.nodes.values()
        if n.get("unschedulable")
        or any(t.startswith("node.kubernetes.io/unschedulable") for t in n.get("taints") or [])
    ]
    for e in v.focus_events:
        if e.get("reason") != "FailedScheduling":
            continue
        total, reasons = fit_reasons(e["msg"])
        unsched = sum(n for n, r in reasons if P.UNSCHEDULABLE_NODES.search(r))
        if not unsched:
            continue
        never = sum(n for n, r in reasons if P.AFFINITY_MISMATCH.search(r) or P.UNTOLERATED_TAINT.search(r))
        base = 0.85 if total is not None and unsched + never >= total else 0.55
        hits.add(
            v.subject_for_event(e),
            base * v.event_factor(e),
            [event_item(e)],
            "scheduler",
            nodes=[n.get("name") for n in cordoned],
            pods=[e.get("object_name")],
        )
    failing = any(v.pod_failing(p) for p in v.focus_pods)
    involved = v.involved_nodes()
    for n in (n for n in cordoned if (n.get("cluster") or "", "", n.get("name") or "") in involved):
        on_node = [p.get("name") for p in v.focus_pods if p.get("node") == n.get("name")]
        item = EvidenceItem(
            kind="node",
            cluster=n.get("cluster") or "",
            source=f"node/{n.get('name')}",
            text=f"unschedulable={n.get('unschedulable')}; taints {', '.join(n.get('taints') or []) or '-'}",
        )
        hits.add(
            v.node_subject(n.get("cluster") or "", n.get("name") or ""),
            0.6 if failing else 0.3,
            [item],
            "node",
            nodes=[n.get("name")],
            pods=on_node,
        )
    return list(hits.findings(_summary))


def _summary(subject: Subject, f: dict[str, Any]) -> str:
    if subject.kind == "Node":
        return f"Node {subject.name} is cordoned (unschedulable)"
    nodes = f" ({', '.join(f['nodes'][:3])})" if f.get("nodes") else ""
    return f"{ref(subject)} pods cannot be scheduled: node(s) are cordoned{nodes}"
