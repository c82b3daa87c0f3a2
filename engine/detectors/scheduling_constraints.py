"""scheduling_constraints: pods cannot be scheduled because of taints, node selectors or affinity.

Signal: scheduler ``FailedScheduling`` reasons ``node(s) had untolerated taint {k: v}`` (older
``had taints that the pod didn't tolerate``), ``didn't match Pod's node affinity/selector``,
pod (anti-)affinity and topology-spread mismatches, and the <=1.9 predicate names
(``MatchNodeSelector``, ``PodToleratesNodeTaints``). 0.85 when these reasons account for every
node; 0.55 when some nodes were rejected for lack of resources (then ``insufficient_resources``
is the stronger explanation). A taint that means the node is not ready
(``node.kubernetes.io/not-ready``/``unreachable``) is a node problem, not a constraint: 0.4.
When the remaining nodes ``were unschedulable`` (cordoned), the constraint only narrowed the pod
to those nodes and the cordon is what changed: at most 0.5, and ``node_cordoned`` explains it.
The control-plane taint counts as a constraint only when it is the sole reason (every cluster's
control plane rejects ordinary pods; that is never news).
"""

from __future__ import annotations

from typing import Any

from engine.detectors import patterns as P
from engine.detectors.base import DetectContext, Finding
from engine.detectors.common import Hits, event_item, ref, view
from engine.detectors.insufficient_resources import fit_reasons
from engine.report import Subject

NAME = "scheduling_constraints"
_NODE_STATE_TAINTS = ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable")
_CONTROL_PLANE = P.R(r"\{node-role\.kubernetes\.io/(?:control-plane|master):")


def detect(ctx: DetectContext) -> list[Finding]:
    v = view(ctx)
    hits = Hits(NAME)
    for e in v.focus_events:
        if e.get("reason") != "FailedScheduling":
            continue
        total, reasons = fit_reasons(e["msg"])
        constraint = [
            (n, r) for n, r in reasons if P.UNTOLERATED_TAINT.search(r) or P.AFFINITY_MISMATCH.search(r)
        ]
        if not constraint:
            continue
        if len(reasons) > len(constraint) and all(_CONTROL_PLANE.search(r) for _, r in constraint):
            continue  # only the control plane's own taint, beside the real reasons
        taints = [
            m.group("taint")
            for _, r in constraint
            for m in [P.UNTOLERATED_TAINT.search(r)]
            if m and m.group("taint") is not None
        ]
        covered = sum(n for n, _ in constraint)
        insufficient = any(P.INSUFFICIENT.search(r) for _, r in reasons)
        base = 0.85 if (not insufficient and (total is None or covered >= total)) else 0.55
        if taints and all(t.split(":")[0].strip() in _NODE_STATE_TAINTS for t in taints):
            base = 0.4
        if any(P.UNSCHEDULABLE_NODES.search(r) for _, r in reasons):
            base = min(base, 0.5)
        hits.add(
            v.subject_for_event(e),
            base * v.event_factor(e),
            [event_item(e)],
            "scheduler",
            reasons=[r for _, r in constraint],
            taints=taints,
            nodes_total=total,
            pods=[e.get("object_name")],
        )
    return list(hits.findings(_summary))


def _summary(subject: Subject, f: dict[str, Any]) -> str:
    what = "; ".join(dict.fromkeys(f.get("reasons") or []))
    return f"{ref(subject)} pods cannot be scheduled: {what}"
