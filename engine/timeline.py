"""The report's timeline and evidence list, built from the findings and the incident's evidence.

Timeline: the alerts (start, end), the focus events (first and last seen), the log lines chosen as
evidence and the revisions of the workloads in focus (creation), each with its cluster, sorted by
time and capped: alerts and revisions always stay, events and log lines nearest the incident
clock fill the rest. Evidence: the root cause's items, then those of the findings it absorbed,
then the status and resources of the failing containers, deduplicated and capped.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from engine.detectors.base import Finding
from engine.detectors.common import View, container_problem, resources_item, status_item
from engine.incident import Incident
from engine.report import EvidenceItem, Subject, TimelineEntry

__all__ = ["build_evidence", "build_timeline"]

TIMELINE_CAP = 50
EVIDENCE_CAP = 40
_NORMAL_REASONS = (
    "Killing",
    "NodeNotReady",
    "ScalingReplicaSet",
    "TaintManagerEviction",
    "NodeControllerEviction",
    "BackOff",
    "Evicted",
    "Preempting",
)


def _utc(dt: datetime) -> datetime:
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def build_timeline(
    incident: Incident, v: View, findings: list[Finding], cap: int = TIMELINE_CAP
) -> list[TimelineEntry]:
    keep: list[TimelineEntry] = []
    fill: list[TimelineEntry] = []
    for a in incident.alerts:
        what = f"{a.alertname} firing" + (f" ({a.severity})" if a.severity else "")
        keep.append(
            TimelineEntry(
                at=_utc(a.startsAt), kind="alert", cluster=a.cluster, text=f"{what}: {_about(a.labels)}"
            )
        )
        if a.endsAt:
            keep.append(
                TimelineEntry(
                    at=_utc(a.endsAt), kind="alert", cluster=a.cluster, text=f"{a.alertname} resolved"
                )
            )
    keep += _changes(v)
    fill += _events(v)
    fill += _terminations(v, findings[0].subject if findings else None)
    for f in findings:
        for item in f.evidence:
            if item.kind == "log" and item.at is not None:
                fill.append(
                    TimelineEntry(
                        at=_utc(item.at),
                        kind="log",
                        cluster=item.cluster,
                        text=f"{item.source}: {item.text[:300]}",
                    )
                )
    fill = _dedupe(fill)
    room = max(0, cap - len(keep))
    fill = sorted(fill, key=lambda t: abs((v.clock - t.at).total_seconds()))[:room]
    return sorted(keep[:cap] + fill, key=lambda t: t.at)


def _about(labels: dict[str, str]) -> str:
    for k in ("deployment", "statefulset", "daemonset", "job_name", "node", "pod", "persistentvolumeclaim"):
        if labels.get(k):
            ns = f"{labels['namespace']}/" if labels.get("namespace") and k != "node" else ""
            return f"{k} {ns}{labels[k]}"
    return labels.get("namespace", "")


def _changes(v: View) -> list[TimelineEntry]:
    focus = v.focus_workloads()
    out = []
    for r in v.changes:
        if (r.get("namespace") or "", r.get("workload_name") or "") not in focus or r.get(
            "created_at"
        ) is None:
            continue
        rev = f"revision {r['revision']} " if r.get("revision") is not None else ""
        out.append(
            TimelineEntry(
                at=_utc(r["created_at"]),
                kind="change",
                cluster=r.get("cluster") or "",
                text=f"{r.get('workload_kind')} {r.get('namespace')}/{r.get('workload_name')} "
                f"{rev}({r.get('revision_name')}) created: images {', '.join(r.get('images') or [])}",
            )
        )
    out.sort(key=lambda t: t.at)
    return out[-6:]


def _events(v: View) -> list[TimelineEntry]:
    out = []
    for e in v.focus_events:
        if e.get("type") != "Warning" and e.get("reason") not in _NORMAL_REASONS:
            continue
        base = f"{(e.get('object_kind') or '').lower()}/{e.get('object_name')} {e.get('reason')}: {e['msg'][:300]}"
        first, last = e.get("first_seen"), e.get("last_seen")
        if first is not None:
            out.append(
                TimelineEntry(
                    at=_utc(first),
                    kind="event",
                    cluster=e.get("cluster") or "",
                    text=base if last in (None, first) else f"{base} (first seen)",
                )
            )
        if last is not None and last != first:
            times = f", x{e['count']}" if (e.get("count") or 1) > 1 else ""
            out.append(
                TimelineEntry(
                    at=_utc(last),
                    kind="event",
                    cluster=e.get("cluster") or "",
                    text=f"{base} (last seen{times})",
                )
            )
    return out


def _terminations(v: View, subject: Subject | None) -> list[TimelineEntry]:
    """Container terminations of the subject's pods (the only timeline once events have expired)."""
    out = []
    for pod, c in v.focus_containers():
        if subject is not None and not _belongs(pod, subject):
            continue
        for state, reason, code, at in (
            ("terminated", c.get("reason"), c.get("exit_code"), c.get("finished_at")),
            ("last terminated", c.get("last_reason"), c.get("last_exit_code"), c.get("last_finished_at")),
        ):
            if at is not None and (state == "last terminated" or c.get("state") == "terminated"):
                out.append(
                    TimelineEntry(
                        at=_utc(at),
                        kind="event",
                        cluster=c.get("cluster") or "",
                        text=f"pod/{c.get('namespace')}/{c.get('pod')} ({c.get('container')}) "
                        f"container terminated: {reason or '?'} (exit {code})",
                    )
                )
    return out


def _belongs(pod: dict[str, Any], subject: Subject) -> bool:
    if subject.kind == "Node":
        return pod.get("node") == subject.name
    return pod.get("namespace") == subject.namespace and subject.name in (
        pod.get("workload_name"),
        pod.get("name"),
    )


def _dedupe(entries: list[TimelineEntry]) -> list[TimelineEntry]:
    seen: set[tuple[Any, ...]] = set()
    out = []
    for t in entries:
        k = (t.at, t.kind, t.cluster, t.text)
        if k not in seen:
            seen.add(k)
            out.append(t)
    return out


def build_evidence(
    v: View,
    chosen: Finding | None,
    absorbed: list[Finding],
    others: list[Finding],
    subject: Subject,
    cap: int = EVIDENCE_CAP,
) -> list[EvidenceItem]:
    items: list[EvidenceItem] = []
    for f in ([chosen] if chosen else []) + absorbed:
        items += f.evidence
    items += _failing_containers(v, subject)
    for f in others:
        items += f.evidence[:2]
    seen: set[tuple[str, str, str, str]] = set()
    out = []
    for i in items:
        k = (i.kind, i.cluster, i.source, i.text)
        if k not in seen:
            seen.add(k)
            out.append(i)
    return out[:cap]


def _failing_containers(v: View, subject: Subject) -> list[EvidenceItem]:
    out = []
    for pod, c in v.focus_containers():
        if _belongs(pod, subject) and (container_problem(c) or (c.get("restart_count") or 0) > 0):
            out += [status_item(c), resources_item(c)]
    return out[:12]
