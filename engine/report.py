"""The investigation report: root cause from the taxonomy, timeline, evidence, recommendations.

``Report`` is the contract every reasoner produces (rules today, an LLM later) and the JSON that
``GET /api/v1/incidents/{id}`` and ``fleetsre investigate --format json`` return.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "CATEGORIES",
    "ActionStep",
    "History",
    "PastIncident",
    "Reasoning",
    "TRIGGERS",
    "Category",
    "EvidenceItem",
    "Recommendation",
    "Report",
    "RootCause",
    "Subject",
    "TimelineEntry",
    "Trigger",
    "TriggerKind",
]

Category = Literal[
    "oom_killed",
    "app_crash",
    "config_error",
    "missing_secret_or_configmap",
    "dependency_unavailable",
    "image_pull_error",
    "insufficient_resources",
    "scheduling_constraints",
    "volume_error",
    "probe_failure",
    "node_not_ready",
    "node_pressure",
    "node_cordoned",
    "job_failed",
    "cpu_throttling",
    "disk_full",
    "certificate_error",
    "unknown",
]
CATEGORIES: tuple[str, ...] = Category.__args__  # type: ignore[attr-defined]

TriggerKind = Literal["rollout", "config_change", "node", "external", "unknown"]
TRIGGERS: tuple[str, ...] = TriggerKind.__args__  # type: ignore[attr-defined]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Subject(_Model):
    kind: str = Field(description="Deployment, StatefulSet, DaemonSet, Job, Pod, Node, ...")
    namespace: str | None = None
    name: str
    cluster: str


class Trigger(_Model):
    kind: TriggerKind = "unknown"
    detail: str = ""


class RootCause(_Model):
    category: Category
    summary: str
    confidence: float = Field(ge=0.0, le=1.0)
    subject: Subject
    trigger: Trigger = Field(default_factory=Trigger)


class TimelineEntry(_Model):
    at: datetime
    kind: Literal["alert", "event", "log", "change"]
    cluster: str
    text: str


class EvidenceItem(_Model):
    kind: Literal["log", "event", "status", "resources", "change", "node", "error"]
    cluster: str
    source: str = Field(description="the object or container the evidence is from, e.g. pod/shop/api-1 (app)")
    text: str
    at: datetime | None = None


class Recommendation(_Model):
    priority: int = Field(ge=1, description="1 is the first thing to do")
    action: str
    command: str = ""


class ActionStep(_Model):
    """One runbook step as executed or recommended (diagnostic steps too)."""

    runbook: str
    step: str = Field(description="the step's id within the runbook workflow")
    tool: str
    mode: Literal["read", "recommend", "auto"] = Field(description="read: diagnostic; recommend/auto: a mutation")
    status: Literal["done", "skipped", "recommended", "failed", "refused"]
    mutates: bool = False
    inputs: dict[str, Any] = Field(default_factory=dict)
    result: str = ""
    command: str = Field("", description="the exact kubectl command that does (or would do) the same")
    why: str = Field("", description="why the step ran, was skipped or was refused (its gate)")


class PastIncident(_Model):
    incident_id: str
    cluster: str
    opened_at: datetime
    resolved_at: datetime | None = None
    category: str | None = None
    subject: str = ""
    matched_on: list[str] = Field(default_factory=list, description="alertname, workload, node, semantic")
    action: str = Field("", description="what was done or recommended then")
    outcome: str = Field("", description="resolved after N min, still open, recurred, ...")
    score: float | None = Field(None, description="semantic similarity (memory search), when matched on meaning")
    summary: str = Field("", description="its root cause summary (semantic matches)")


class History(_Model):
    similar: list[PastIncident] = Field(default_factory=list)
    recurrence: dict[str, int] = Field(default_factory=dict, description="counts by what matched")
    clusters: list[str] = Field(default_factory=list, description="clusters where the same fault appeared")
    findings: list[str] = Field(default_factory=list, description="patterns: a leak, a fleet-wide fault, ...")
    advice: str = ""


class Hypothesis(_Model):
    """A root cause the LLM proposed but that did not replace the report's (see ``Reasoning.note``)."""

    category: Category
    summary: str
    confidence: float = Field(ge=0.0, le=1.0)
    evidence: list[str] = Field(default_factory=list, description="the evidence it cited, as quoted")


class Reasoning(_Model):
    """How the report was reasoned: which backend was asked, which produced it, and what it cost."""

    backend: str = Field(description="the backend configured: rules, vllm or claude")
    produced_by: str = Field(description="the backend whose root cause the report carries")
    model: str | None = None
    fallback_reason: str | None = Field(None, description="why the deterministic report stands, when it does")
    note: str = Field("", description="e.g. why a disagreeing LLM answer was kept as an alternative")
    alternative: Hypothesis | None = None
    rounds: int = 0
    tool_calls: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd_estimate: float = Field(0.0, description="an estimate from the configured price table, not a bill")
    latency_s: float = 0.0


class Report(_Model):
    incident_id: str
    cluster: str = Field(description="the incident's cluster, or 'fleet' when it spans clusters")
    alerts: list[str] = Field(default_factory=list, description="fingerprints of the incident's alerts")
    root_cause: RootCause
    timeline: list[TimelineEntry] = Field(default_factory=list)
    evidence: list[EvidenceItem] = Field(default_factory=list)
    recommendations: list[Recommendation] = Field(default_factory=list)
    missing: list[str] = Field(default_factory=list, description="what could not be collected, and why")
    runbook: str | None = Field(None, description="id of the runbook that matched")
    actions: list[ActionStep] = Field(default_factory=list)
    history: History | None = None
    postmortem: str | None = Field(None, description="Markdown, once the incident has resolved")
    backend: str = Field("rules", description="the backend that produced the root cause (see reasoning)")
    reasoning: Reasoning | None = None
    generated_at: datetime = Field(description="the incident's clock when the report was made")


def render_markdown(report: Report) -> str:
    """The report for people: summary, root cause, timeline, evidence, what to do, what is missing."""
    rc = report.root_cause
    s = rc.subject
    subject = f"{s.kind} {s.namespace + '/' if s.namespace else ''}{s.name} ({s.cluster})"
    out = [
        f"# Incident {report.incident_id}",
        "",
        f"**{rc.category}** on {subject}, confidence {rc.confidence:.2f}",
        "",
        rc.summary,
        "",
        f"Trigger: **{rc.trigger.kind}**" + (f": {rc.trigger.detail}" if rc.trigger.detail else ""),
        "",
    ]
    if report.recommendations:
        out += ["## What to do", ""]
        for r in sorted(report.recommendations, key=lambda r: r.priority):
            out.append(f"{r.priority}. {r.action}" + (f"\n   ```\n   {r.command}\n   ```" if r.command else ""))
        out.append("")
    if report.actions:
        out += [f"## Runbook `{report.runbook}`" if report.runbook else "## Runbook steps", ""]
        for a in report.actions:
            cmd = f" — `{a.command}`" if a.command else ""
            why = f" ({a.why})" if a.why else ""
            out.append(f"- **{a.status}** [{a.mode}] {a.tool}: {a.result}{cmd}{why}")
        out.append("")
    if report.history and (report.history.similar or report.history.findings):
        h = report.history
        counts = ", ".join(f"{n} by {k}" for k, n in sorted(h.recurrence.items()))
        out += ["## History", "", f"{len(h.similar)} similar past incident(s)" + (f" ({counts})." if counts else ".")]
        out += [f"- **{f}**" for f in h.findings]
        if h.advice:
            out += ["", f"What to do about it: {h.advice}"]
        out += ["", "| opened | cluster | category | subject | matched on | action | outcome |",
                "| --- | --- | --- | --- | --- | --- | --- |"]
        out += [f"| {p.opened_at:%Y-%m-%d %H:%M} | {p.cluster} | {p.category or '-'} | {p.subject} | "
                f"{', '.join(p.matched_on)} | {p.action or '-'} | {p.outcome} |" for p in h.similar[:10]]
        out.append("")
    if report.evidence:
        out += ["## Evidence", ""]
        out += [f"- `{e.source}` ({e.kind}): {e.text}" for e in report.evidence]
        out.append("")
    if report.timeline:
        out += ["## Timeline", "", "| time (UTC) | what | cluster | detail |", "| --- | --- | --- | --- |"]
        for t in report.timeline:
            text = t.text.replace("|", "\\|").replace("\n", " ")
            out.append(f"| {t.at:%Y-%m-%d %H:%M:%S} | {t.kind} | {t.cluster} | {text} |")
        out.append("")
    if report.missing:
        out += ["## Not collected", ""] + [f"- {m}" for m in report.missing] + [""]
    if report.reasoning and report.reasoning.backend != "rules":
        out += _render_reasoning(report.reasoning)
    if report.postmortem:
        out += ["---", "", report.postmortem]
    out.append(f"_Alerts: {', '.join(report.alerts)}. Produced by the `{report.backend}` backend._")
    return "\n".join(out) + "\n"


def _render_reasoning(r: Reasoning) -> list[str]:
    out = ["## Reasoning", "", f"Asked `{r.backend}`" + (f" ({r.model})" if r.model else "")
           + f"; the root cause is from `{r.produced_by}`."]
    if r.fallback_reason:
        out.append(f"Fell back to the deterministic report: {r.fallback_reason}.")
    if r.note:
        out.append(r.note)
    if r.alternative:
        a = r.alternative
        out += ["", f"Alternative hypothesis: **{a.category}** ({a.confidence:.2f}): {a.summary}"]
        out += [f"- {e}" for e in a.evidence]
    out += ["", f"{r.rounds} round(s), {r.tool_calls} tool call(s), {r.tokens_in} tokens in, {r.tokens_out} out, "
            f"~${r.cost_usd_estimate:.4f} (estimate), {r.latency_s:.1f} s", ""]
    return out


__all__ += ["Hypothesis", "render_markdown"]
