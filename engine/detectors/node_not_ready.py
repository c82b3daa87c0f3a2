"""node_not_ready: a node is NotReady (kubelet stopped reporting, or reports not ready).

Signals (subject: the Node):
- the node's ``Ready`` condition ``False``/``Unknown`` (``nodes.ready``, ``node_conditions`` with
  reason/message such as ``NodeStatusUnknown`` / ``Kubelet stopped posting node status.``): 0.9,
  corroborated by the ``node.kubernetes.io/unreachable|not-ready`` taints and by events;
- node-controller events ``Node X status is now: NodeNotReady`` on the Node, and on its pods
  ``NodeNotReady`` ``Node is not ready`` and ``TaintManagerEviction``/``NodeControllerEviction``
  ``Marking for deletion Pod ...``: 0.7 when the node's state is unknown, 0.35 when the node is
  Ready again (it flapped), less when old.
The finding lists the focus pods on that node: investigate lets it absorb their own findings.
"""

from __future__ import annotations

from typing import Any

from engine.detectors import patterns as P
from engine.detectors.base import DetectContext, Finding
from engine.detectors.common import Hits, View, event_item, view
from engine.report import EvidenceItem, Subject

NAME = "node_not_ready"
_TAINTS = ("node.kubernetes.io/unreachable", "node.kubernetes.io/not-ready")


def detect(ctx: DetectContext) -> list[Finding]:
    v = view(ctx)
    hits = Hits(NAME)
    for (cluster, _, name), n in v.involved_nodes().items():
        if n.get("ready") in ("False", "Unknown"):
            hits.add(
                v.node_subject(cluster, name), 0.9, _node_items(v, n), "condition", **_facts(v, cluster, name)
            )
            if any(t.startswith(_TAINTS) for t in n.get("taints") or []):
                hits.add(v.node_subject(cluster, name), 0.9, [], "taint")
    for e in v.focus_events:
        node = _event_node(v, e)
        if node is None:
            continue
        cluster = e.get("cluster") or ""
        row = v.nodes.get((cluster, "", node))
        ready = row.get("ready") if row else None
        base = 0.7 if ready in (None, "False", "Unknown") else 0.35
        when = e.get("last_seen") or e.get("first_seen")
        weight = 1.0 if (when is None or v.is_recent(when)) else 0.6
        hits.add(
            v.node_subject(cluster, node), base * weight, [event_item(e)], "event", **_facts(v, cluster, node)
        )
    return list(hits.findings(_summary))


def _event_node(v: View, e: dict[str, Any]) -> str | None:
    msg = e["msg"]
    if e.get("object_kind") == "Node" and (
        e.get("reason") == "NodeNotReady" or P.NODE_NOT_READY_EVENT.search(msg)
    ):
        return e.get("object_name")
    if e.get("object_kind") == "Pod" and (
        P.NODE_NOT_READY_EVENT.search(msg) or P.MARKED_FOR_DELETION.search(msg)
    ):
        pod = v.pod_of_event(e)
        if pod is not None and pod.get("node"):
            return pod["node"]
        m = msg.rsplit(" from Node ", 1)
        return m[1].strip() if len(m) == 2 else None
    return None


def _node_items(v: View, n: dict[str, Any]) -> list[EvidenceItem]:
    cluster, name = n.get("cluster") or "", n.get("name")
    items = [
        EvidenceItem(
            kind="node",
            cluster=cluster,
            source=f"node/{name}",
            text=f"Ready={n.get('ready')}; taints {', '.join(n.get('taints') or []) or '-'}; "
            f"kubelet {n.get('kubelet_version') or '?'}",
        )
    ]
    for c in v.node_conditions:
        if c.get("node") == name and (c.get("cluster") or "") == cluster and c.get("type") == "Ready":
            items.append(
                EvidenceItem(
                    kind="node",
                    cluster=cluster,
                    source=f"node/{name}",
                    text=f"condition Ready={c.get('status')} reason {c.get('reason')}: "
                    f"{c.get('message') or ''}",
                    at=c.get("last_transition"),
                )
            )
    return items


def _facts(v: View, cluster: str, node: str) -> dict[str, Any]:
    cond = next(
        (
            c
            for c in v.node_conditions
            if c.get("node") == node and (c.get("cluster") or "") == cluster and c.get("type") == "Ready"
        ),
        {},
    )
    pods = [
        p.get("name") for p in v.focus_pods if p.get("node") == node and (p.get("cluster") or "") == cluster
    ]
    return {
        "node": node,
        "pods": pods,
        "condition_reason": cond.get("reason"),
        "condition_message": cond.get("message"),
        "since": cond.get("last_transition"),
        "last_heartbeat": cond.get("last_heartbeat"),
    }


def _summary(subject: Subject, f: dict[str, Any]) -> str:
    why = f": {f['condition_reason']}" if f.get("condition_reason") else ""
    if why and f.get("condition_message"):
        why += f" ({f['condition_message']})"
    pods = f"; {len(f['pods'])} focus pod(s) on it" if f.get("pods") else ""
    if "condition" not in f["signals"]:
        return f"Node {subject.name} was reported NotReady{pods}"
    return f"Node {subject.name} is NotReady{why}{pods}"
