"""job_failed: a Job hit its backoff limit or active deadline (for a reason the pod detectors don't explain).

Signals: the Job's ``Failed`` condition (``workloads.conditions``) with reason
``BackoffLimitExceeded`` (``Job has reached the specified backoff limit``) or ``DeadlineExceeded``
(``Job was active longer than specified deadline``): 0.75; the job-controller's Warning events of
the same reasons: 0.7. Deliberately modest: investigate prefers any pod-level cause of the Job's
pods (an OOM, a config error, a crash) and keeps this as the fallback.
"""

from __future__ import annotations

import json
from typing import Any

from engine.detectors import patterns as P
from engine.detectors.base import DetectContext, Finding
from engine.detectors.common import Hits, event_item, ref, view
from engine.report import EvidenceItem, Subject

NAME = "job_failed"
_REASONS = ("BackoffLimitExceeded", "DeadlineExceeded")


def detect(ctx: DetectContext) -> list[Finding]:
    v = view(ctx)
    hits = Hits(NAME)
    focus = v.focus_workloads()
    for w in v.workloads:
        if w.get("kind") != "Job" or (w.get("namespace") or "", w.get("name") or "") not in focus:
            continue
        cond = _failed_condition(w.get("conditions"))
        if cond is None:
            continue
        subject = Subject(
            kind="Job", namespace=w.get("namespace"), name=w.get("name") or "", cluster=w.get("cluster") or ""
        )
        item = EvidenceItem(
            kind="status",
            cluster=subject.cluster,
            source=f"job/{w.get('namespace')}/{w.get('name')}",
            text=f"condition Failed reason {cond.get('reason')}: {cond.get('message') or ''}",
        )
        hits.add(
            subject,
            0.75,
            [item],
            "condition",
            reason=cond.get("reason"),
            message=cond.get("message"),
            failed=w.get("unavailable_replicas"),
        )
    for e in v.focus_events:
        if e.get("object_kind") == "Job" and (
            e.get("reason") in _REASONS or P.JOB_BACKOFF.search(e["msg"]) or P.JOB_DEADLINE.search(e["msg"])
        ):
            hits.add(
                v.subject_for_event(e),
                0.7 * v.event_factor(e),
                [event_item(e)],
                "event",
                reason=e.get("reason"),
                message=e["msg"],
            )
    return list(hits.findings(_summary))


def _failed_condition(raw: str | None) -> dict[str, Any] | None:
    try:
        conds = json.loads(raw or "[]") or []
    except ValueError:
        return None
    return next((c for c in conds if c.get("type") == "Failed" and c.get("status") == "True"), None)


def _summary(subject: Subject, f: dict[str, Any]) -> str:
    return f"{ref(subject)} failed: {f.get('reason') or 'Failed'} ({f.get('message') or ''})".replace(
        " ()", ""
    )
