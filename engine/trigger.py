"""What set an incident off: a rollout, a config change, a node, or unknown.

``find_trigger`` looks at the chosen root-cause finding and the evidence. Windows are measured
back from the incident's opening (its first alert's ``startsAt``) and forward to its clock, so a
collection that happens an hour after the alert still sees the rollout that preceded it.

- ``node`` for the node categories (NotReady, pressure, cordon), naming the node and its condition;
- ``rollout`` when the failing pods belong to a revision (``changes``: a ReplicaSet, by
  ``revision_hash``) created within ``recent_rollout_s`` before the incident while the previous
  revision was healthy (ready/available replicas, or its pods running and ready), and the two
  differ: the images, else the env var names, else template paths. A revision with no recorded
  difference is a restart, not a rollout (see ``trigger_config``). The first revision of a
  workload created in the window is a rollout too: the deployment itself is what changed;
- ``config_change`` for configuration categories (``engine.trigger_config``);
- ``external`` for an expired (or not yet valid) certificate when no rollout explains it: the
  clock passing the certificate's validity is what changed, outside the cluster (the detail names
  the ``NotAfter`` the client printed, when it did);
- otherwise ``unknown`` (an unreachable dependency names itself in the summary; the evidence
  does not show what took it down).
"""

from __future__ import annotations

from typing import Any

from engine.detectors.base import Finding
from engine.detectors.common import View
from engine.report import Trigger
from engine.revisions import failing_revision, healthy, in_window, opened, revisions, what_changed
from engine.trigger_config import CONFIG_CATEGORIES, config_change

__all__ = ["NODE_CATEGORIES", "find_trigger", "rollout_trigger"]

NODE_CATEGORIES = ("node_not_ready", "node_pressure", "node_cordoned")


def find_trigger(f: Finding | None, v: View, recent_rollout_s: float) -> Trigger:
    if f is None:
        return Trigger()
    if f.category in NODE_CATEGORIES:
        return Trigger(kind="node", detail=_node_detail(f, v))
    roll = rollout_trigger(f, v, recent_rollout_s)
    if roll is not None:
        return roll
    if f.category in CONFIG_CATEGORIES:
        change = config_change(f, v, revisions(v, f.subject), recent_rollout_s)
        if change:
            return Trigger(kind="config_change", detail=change)
    facts: dict[str, Any] = getattr(f, "facts", {}) or {}
    if f.category == "certificate_error" and facts.get("expired"):
        end = f" (valid until {facts['not_after']})" if facts.get("not_after") else ""
        return Trigger(kind="external", detail=f"a certificate the workload verifies expired{end}; no rollout or "
                       "config change in the cluster explains it")
    return Trigger()


def _node_detail(f: Finding, v: View) -> str:
    facts: dict[str, Any] = getattr(f, "facts", {}) or {}
    nodes = [f.subject.name] if f.subject.kind == "Node" else list(facts.get("nodes") or [])
    parts = []
    for name in nodes[:3]:
        row = v.nodes.get((f.subject.cluster, "", name)) or {}
        state = f"Ready={row.get('ready')}" if row else "state not collected"
        extra = f", {facts['condition_reason']}" if facts.get("condition_reason") else ""
        since = f" since {facts['since'].isoformat()}" if facts.get("since") else ""
        cordon = ", unschedulable" if row.get("unschedulable") else ""
        parts.append(f"node {name}: {state}{extra}{cordon}{since}")
    return "; ".join(parts) or f.summary


# -- rollout ------------------------------------------------------------------------------------
def rollout_trigger(f: Finding, v: View, recent_rollout_s: float) -> Trigger | None:
    revs = revisions(v, f.subject)
    new = failing_revision(f, v, revs)
    if new is None or not in_window(v, new["created_at"], recent_rollout_s):
        return None
    name = f"{f.subject.kind} {f.subject.namespace}/{f.subject.name}"
    minutes = max(0, int((opened(v) - new["created_at"]).total_seconds() // 60))
    older = [r for r in revs if r["created_at"] < new["created_at"]]
    if not older:
        return Trigger(
            kind="rollout",
            detail=f"{name} was created with {_rev(new)} {minutes} min before the incident and its first "
            f"revision fails: images {', '.join(new.get('images') or []) or '?'}",
        )
    prev = older[-1]
    change = what_changed(prev, new)
    if change is None or not healthy(prev, v):
        return None
    return Trigger(
        kind="rollout",
        detail=f"{name} rolled out {_rev(new)} {minutes} min before the incident, replacing {_rev(prev)} "
        f"(still healthy): {change}",
    )


def _rev(r: dict[str, Any]) -> str:
    num = f"revision {r['revision']} " if r.get("revision") is not None else ""
    return f"{num}({r.get('revision_name') or r.get('revision_hash')})"
