"""A short blameless postmortem for a resolved incident, in Markdown.

Written from what fleetsre saw: the alerts and their times, the report's root cause, timeline and
actions, and the history section. Blameless by construction: it names systems and changes, never
people, and it turns recommendations that were not acted on into follow-ups.
"""

from __future__ import annotations

from engine.incident import Incident
from engine.report import Report

__all__ = ["render_postmortem"]


def _duration(inc: Incident) -> str:
    if not inc.resolved_at:
        return "not resolved"
    minutes = (inc.resolved_at - inc.opened_at).total_seconds() / 60
    return f"{minutes:.0f} min" if minutes < 120 else f"{minutes / 60:.1f} h"


def render_postmortem(inc: Incident, report: Report) -> str:
    rc = report.root_cause
    s = rc.subject
    subject = f"{s.kind} {s.namespace + '/' if s.namespace else ''}{s.name}"
    done = [a for a in report.actions if a.mutates and a.status == "done"]
    follow = [r for r in sorted(report.recommendations, key=lambda r: r.priority)
              if not any(a.command and a.command == r.command for a in done)]
    out = [
        f"# Postmortem: {rc.category} on {subject} ({', '.join(inc.clusters)})",
        "",
        f"- **Opened** {inc.opened_at:%Y-%m-%d %H:%M} UTC, **resolved** "
        f"{inc.resolved_at:%Y-%m-%d %H:%M} UTC: time to resolve **{_duration(inc)}**."
        if inc.resolved_at else f"- **Opened** {inc.opened_at:%Y-%m-%d %H:%M} UTC.",
        f"- **Impact**: {len(inc.alerts)} alert(s) "
        f"({', '.join(sorted({a.alertname for a in inc.alerts}))}) in {len(inc.clusters)} cluster(s).",
        f"- **Root cause** ({rc.confidence:.0%} confidence): {rc.summary}",
        f"- **Trigger**: {rc.trigger.kind}" + (f" — {rc.trigger.detail}" if rc.trigger.detail else ""),
        "",
        "## What was done",
        "",
    ]
    out += [f"- {a.tool}: {a.result or a.status} (`{a.command}`)" if a.command else f"- {a.tool}: {a.result}"
            for a in done] or ["- No change was made by fleetsre; the alerts resolved on their own or by hand."]
    out += ["", "## Timeline", ""]
    for t in report.timeline[:20]:
        out.append(f"- {t.at:%H:%M:%S} [{t.cluster}] {t.kind}: {t.text}")
    ends = sorted(a.endsAt for a in inc.alerts if a.endsAt)
    if ends:
        out.append(f"- {ends[-1]:%H:%M:%S} last alert resolved")
    out += ["", "## Follow-ups", ""]
    out += [f"- {r.action}" for r in follow[:5]]
    if report.history and report.history.advice:
        out.append(f"- {report.history.advice}")
    if len(out) and out[-1] == "":
        out.append("- None.")
    if report.missing:
        out += ["", f"_Evidence was incomplete: {len(report.missing)} item(s) could not be collected._"]
    return "\n".join(out) + "\n"
