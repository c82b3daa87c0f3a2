"""Evidence → report: run the detectors, choose the root cause, explain it (pure, no Ray).

``investigate(incident, evidence)`` is deterministic: the same evidence and alerts give the same
report, whatever the wall clock says. Its clock is the incident's: the newest of the alerts'
``startsAt`` and the evidence's timestamps (or the ``clock`` argument).

Choosing the root cause:

1. Every detector's findings are candidates (a detector that raised is listed in ``missing``).
2. Precedence absorbs symptoms into causes: a finding W absorbs a finding L when L's category is
   in ``PRECEDENCE[W]``, W has confidence >= ``ABSORB_MIN`` and they concern the same thing (same
   subject, or shared pods, or — for node categories — L's pods run on W's node). The rules:
   ``oom_killed`` > probe_failure, app_crash; ``missing_secret_or_configmap`` > config_error,
   app_crash, volume_error, probe_failure; ``config_error`` > app_crash, probe_failure;
   ``dependency_unavailable`` > app_crash, probe_failure; ``certificate_error`` >
   dependency_unavailable, app_crash, probe_failure; ``disk_full`` > app_crash, volume_error,
   probe_failure; ``insufficient_resources`` > scheduling_constraints; ``node_not_ready`` and
   ``node_pressure`` > every pod-level category of the pods on that node; every category >
   job_failed (the Job's pods' own cause explains the Job's failure).
3. Among the rest the highest confidence wins; ties go to the more specific category
   (``RANK``). Below ``UNKNOWN_BELOW`` (0.4) the answer is ``unknown``: a healthy pod with an old
   failure (confidence scaled by 0.4) never becomes a confident incident.
4. Confidence is lowered (x0.9) when collection errors left evidence missing (any failed call but
   the logs of containers the root cause is not about), and again (x0.95) when a detector failed.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from engine.detectors import DetectContext, Finding, run_detectors
from engine.detectors.common import OWNER_KINDS, View, view
from engine.evidence_query import IncidentEvidence
from engine.incident import Incident
from engine.recommend import recommend
from engine.report import Report, RootCause, Subject
from engine.timeline import build_evidence, build_timeline
from engine.trigger import NODE_CATEGORIES, find_trigger

__all__ = ["ABSORB_MIN", "PRECEDENCE", "RANK", "UNKNOWN_BELOW", "choose", "incident_clock", "investigate"]

ABSORB_MIN = 0.5
UNKNOWN_BELOW = 0.4
ALSO_MIN = 0.7
RANK = (
    "missing_secret_or_configmap",
    "image_pull_error",
    "oom_killed",
    "node_not_ready",
    "node_pressure",
    "disk_full",
    "certificate_error",
    "config_error",
    "dependency_unavailable",
    "insufficient_resources",
    "scheduling_constraints",
    "node_cordoned",
    "volume_error",
    "probe_failure",
    "cpu_throttling",
    "app_crash",
    "job_failed",
)
_POD_LEVEL = tuple(c for c in RANK if c not in NODE_CATEGORIES)
PRECEDENCE: dict[str, tuple[str, ...]] = {
    "oom_killed": ("probe_failure", "app_crash"),
    "missing_secret_or_configmap": ("config_error", "app_crash", "volume_error", "probe_failure"),
    "config_error": ("app_crash", "probe_failure"),
    "dependency_unavailable": ("app_crash", "probe_failure"),
    "certificate_error": ("dependency_unavailable", "app_crash", "probe_failure"),
    "disk_full": ("app_crash", "volume_error", "probe_failure"),
    "insufficient_resources": ("scheduling_constraints",),
    "node_not_ready": _POD_LEVEL,
    "node_pressure": _POD_LEVEL,
}
_TIMESTAMPS = {
    "events": ("first_seen", "last_seen"),
    "logs": ("ts",),
    "changes": ("created_at",),
    "containers": ("started_at", "finished_at", "last_started_at", "last_finished_at"),
    "pods": ("created_at", "started_at"),
    "node_conditions": ("last_heartbeat", "last_transition"),
    "workloads": ("created_at",),
}


def investigate(
    incident: Incident,
    evidence: IncidentEvidence,
    *,
    clock: datetime | None = None,
    recent_rollout_s: float = 3600,
) -> Report:
    clock = _utc(clock) if clock else incident_clock(incident, evidence)
    ctx = DetectContext(
        incident_id=incident.id,
        cluster=incident.cluster,
        alerts=list(incident.alerts),
        subject=incident.subject,
        clock=clock,
        evidence=evidence,
    )
    run = run_detectors(ctx)
    v = view(ctx)
    missing = summarise_errors(evidence.rows("errors"), len(incident.clusters) > 1)
    missing += [f"detector {name} failed: {msg}" for name, msg in run.errors]
    chosen, absorbed, others = choose(run.findings)
    subject = chosen.subject if chosen else default_subject(incident, v)
    trigger = find_trigger(chosen, v, recent_rollout_s)
    root = RootCause(
        category=chosen.category if chosen else "unknown",
        summary=_summary(chosen, others) if chosen else _unknown_summary(v, others),
        confidence=_confidence(
            chosen, others, _relevant_errors(evidence.rows("errors"), chosen), bool(run.errors)
        ),
        subject=subject,
        trigger=trigger,
    )
    return Report(
        incident_id=incident.id,
        cluster=incident.cluster,
        alerts=incident.fingerprints,
        root_cause=root,
        timeline=build_timeline(incident, v, ([chosen] if chosen else []) + absorbed),
        evidence=build_evidence(v, chosen, absorbed, others, subject),
        recommendations=recommend(chosen, subject, trigger),
        missing=missing,
        backend="rules",
        generated_at=clock,
    )


def incident_clock(incident: Incident, evidence: IncidentEvidence) -> datetime:
    """The newest of the alerts' startsAt and every timestamp in the evidence; never the wall clock."""
    times = [_utc(a.startsAt) for a in incident.alerts]
    for table, cols in _TIMESTAMPS.items():
        expr = ", ".join(f"max({c})" for c in cols)
        row = evidence.con.execute(f"SELECT {expr} FROM {table}").fetchone() or ()
        times += [_utc(t) for t in row if t is not None]
    return max(times) if times else _utc(incident.updated_at)


def choose(findings: list[Finding]) -> tuple[Finding | None, list[Finding], list[Finding]]:
    """(root cause or None, findings it absorbed, the other findings) per the module's rules."""
    absorbed_by: dict[int, Finding] = {}
    for w in findings:
        if w.confidence < ABSORB_MIN:
            continue
        for loser in findings:
            if loser is not w and loser.category in _beats(w.category) and _overlap(w, loser):
                absorbed_by.setdefault(id(loser), w)
    standing = [f for f in findings if id(f) not in absorbed_by]
    standing.sort(key=lambda f: (-f.confidence, _rank(f.category)))
    if not standing or standing[0].confidence < UNKNOWN_BELOW:
        return None, [], sorted(findings, key=lambda f: -f.confidence)
    best = standing[0]
    absorbed = [f for f in findings if absorbed_by.get(id(f)) is best]
    others = [f for f in findings if f is not best and f not in absorbed]
    return best, absorbed, sorted(others, key=lambda f: -f.confidence)


def _beats(category: str) -> tuple[str, ...]:
    extra = ("job_failed",) if category != "job_failed" else ()
    return PRECEDENCE.get(category, ()) + extra


def _rank(category: str) -> int:
    return RANK.index(category) if category in RANK else len(RANK)


def _pods(f: Finding) -> set[tuple[str, str]]:
    facts: dict[str, Any] = getattr(f, "facts", {}) or {}
    return {(f.subject.cluster, str(p)) for p in facts.get("pods") or [] if p}


def _overlap(w: Finding, loser: Finding) -> bool:
    if (w.subject.cluster, w.subject.kind, w.subject.namespace, w.subject.name) == (
        loser.subject.cluster,
        loser.subject.kind,
        loser.subject.namespace,
        loser.subject.name,
    ):
        return True
    return bool(_pods(w) & _pods(loser))


def _relevant_errors(errors: list[dict[str, Any]], chosen: Finding | None) -> bool:
    """Whether evidence that could change the answer is missing: any failed call except the logs of
    containers the root cause is not about (a dump has no previous logs of healthy restarted pods)."""
    pods = {str(p) for p in (getattr(chosen, "facts", {}) or {}).get("pods") or []} if chosen else set()
    for e in errors:
        if e.get("resource") != "logs" or any(str(e.get("name") or "").startswith(f"{p}/") for p in pods):
            return True
    return False


def _confidence(chosen: Finding | None, others: list[Finding], errors: bool, detector_errors: bool) -> float:
    if chosen is None:
        return 0.2 if others else 0.1
    conf = chosen.confidence * (0.9 if errors else 1.0) * (0.95 if detector_errors else 1.0)
    return round(conf, 2)


def _no_previous_logs(e: dict[str, Any]) -> bool:
    return e.get("resource") == "logs" and e.get("status") == 400 and str(e.get("name", "")).endswith("(previous)")


def summarise_errors(errors: list[dict[str, Any]], with_cluster: bool = False) -> list[str]:
    """One line per failed call, except previous logs the API no longer has (or a dump never held),
    which fold into one line: a dump never carries them and a live kubelet drops them on restart."""
    lines = [describe_error(e, with_cluster) for e in errors if not _no_previous_logs(e)]
    gone = sorted(str(e["name"]).removesuffix(" (previous)") for e in errors if _no_previous_logs(e))
    if gone:
        shown = ", ".join(gone[:5]) + (f" and {len(gone) - 5} more" if len(gone) > 5 else "")
        lines.append(f"previous container logs not available for {len(gone)} container(s): {shown}")
    return lines


def describe_error(e: dict[str, Any], with_cluster: bool = False) -> str:
    """One ``errors`` row as a sentence: "pods in shop: 403 Forbidden — pods is forbidden: ..."."""
    what = e.get("resource") or "request"
    if e.get("name"):
        what += f" {e['name']}"
    where = f" in {e['namespace']}" if e.get("namespace") else ""
    status = " ".join(str(x) for x in (e.get("status"), e.get("reason")) if x) or "failed"
    msg = f" — {e['message']}" if e.get("message") else ""
    retry = " (retryable)" if e.get("retryable") else ""
    prefix = f"[{e.get('cluster')}] " if with_cluster and e.get("cluster") else ""
    return f"{prefix}{what}{where}: {status}{msg}{retry}"


def default_subject(incident: Incident, v: View) -> Subject:
    """The incident's own subject, with the real workload kind when the focus pods know it."""
    t = incident.subject
    cluster = (
        incident.cluster
        if incident.cluster != "fleet" or len(incident.clusters) != 1
        else incident.clusters[0]
    )
    kind = t.kind
    if kind in ("Workload", "Pod"):
        owners = {
            (p.get("workload_kind"), p.get("workload_name")) for p in v.focus_pods if p.get("workload_kind")
        }
        if len(owners) == 1:
            k, n = owners.pop()
            if k in OWNER_KINDS and n:
                return Subject(kind=k, namespace=t.namespace, name=n, cluster=cluster)
    return Subject(
        kind="Deployment" if kind == "Workload" else kind,
        namespace=t.namespace,
        name=t.name or "-",
        cluster=cluster,
    )


def _summary(chosen: Finding, others: list[Finding]) -> str:
    """The root cause's summary, plus a strong finding of another category about the same subject."""
    also = [
        f
        for f in others
        if f.category != chosen.category and f.confidence >= ALSO_MIN and f.subject == chosen.subject
    ]
    same = sorted(
        {
            f"{f.subject.kind} {f.subject.namespace + '/' if f.subject.namespace else ''}{f.subject.name}"
            for f in others
            if f.category == chosen.category and f.subject != chosen.subject and f.confidence >= UNKNOWN_BELOW
        }
    )
    text = chosen.summary + (f". Also: {also[0].summary} ({also[0].confidence:.2f})" if also else "")
    if same:
        text += f". The same in {len(same)} more: {', '.join(same[:3])}{', ...' if len(same) > 3 else ''}"
    return text


def _unknown_summary(v: View, weak: list[Finding]) -> str:
    pods = v.focus_pods
    failing = [p for p in pods if v.pod_failing(p)]
    parts = ["No failure mode is supported by the evidence"]
    if pods:
        parts.append(f"{len(pods) - len(failing)} of {len(pods)} pods in focus are running and ready now")
    lost = sum(
        1 for c in v.containers if c.get("last_reason") == "Unknown" and c.get("last_exit_code") == 255
    )
    if lost:
        parts.append(
            f"{lost} container(s) were last lost across a node or runtime restart (exit 255 Unknown)"
        )
    if weak:
        parts.append(f"weak signal: {weak[0].summary} ({weak[0].confidence:.2f})")
    return "; ".join(parts)


def _utc(dt: datetime) -> datetime:
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)
