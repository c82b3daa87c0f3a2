"""Diagnostics over the subject's pods: their events, their logs, and the runbook's parameters."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from engine.tools._evidence import containers_of, subject_pods
from engine.tools.base import Observation, Tool, ToolContext

__all__ = ["LOGS", "POD_EVENTS", "RUNBOOK_PARAMS"]

_ERROR = re.compile(r"\b(error|exception|fatal|panic|refused|timeout|failed|denied|not found)\b", re.I)


def _events(ctx: ToolContext, args: dict[str, Any]) -> Observation:
    pods = subject_pods(ctx, args.get("kind"), args.get("namespace"), args.get("name"))
    names = {p.get("name") for p in pods} | {ctx.subject.name}
    prefix = f"{ctx.subject.name}-"
    rows = [e for e in ctx.rows("events") if e.get("object_name") in names
            or (ctx.subject.kind != "Node" and str(e.get("object_name") or "").startswith(prefix))]
    warnings = [e for e in rows if e.get("type") == "Warning"]
    reasons = Counter()
    for e in rows:
        reasons[str(e.get("reason"))] += int(e.get("count") or 1)
    latest = max(warnings, key=lambda e: str(e.get("last_seen") or ""), default=None)
    top = ", ".join(f"{r} ×{n}" for r, n in reasons.most_common(4)) or "none"
    text = f"{len(rows)} event(s), {len(warnings)} warning(s): {top}"
    if latest:
        text += f"; latest warning {latest.get('reason')}: {str(latest.get('message') or '')[:200]}"
    return Observation(text, {"events": len(rows), "warnings": len(warnings), "reasons": dict(reasons),
                              "latest_warning": (latest or {}).get("message")})


def _logs(ctx: ToolContext, args: dict[str, Any]) -> Observation:
    pods = subject_pods(ctx, args.get("kind"), args.get("namespace"), args.get("name"))
    containers = containers_of(ctx, pods)
    wanted = args.get("container")
    failing = [c for c in containers if (not wanted or c.get("container") == wanted) and not c.get("ready")]
    pick = (failing or [c for c in containers if not wanted or c.get("container") == wanted] or [None])[0]
    if pick is None:
        return Observation("no container of the subject in the evidence", {"lines": 0})
    key = (pick.get("namespace"), pick.get("pod"), pick.get("container"))
    rows = [r for r in ctx.rows("logs") if (r.get("namespace"), r.get("pod"), r.get("container")) == key]
    previous = [r for r in rows if r.get("previous")]
    chosen = sorted(previous or rows, key=lambda r: r.get("seq") or 0)
    n = int(args.get("lines") or 20)
    tail = [str(r.get("line") or "") for r in chosen][-n:]
    errors = [line for line in tail if _ERROR.search(line)]
    where = f"pod/{key[1]} ({key[2]}{', previous instance' if previous else ''})"
    last = errors[-1] if errors else (tail[-1] if tail else "")
    text = f"{len(chosen)} log line(s) of {where}" + (f"; last error: {last[:240]}" if last else "")
    return Observation(text, {"pod": key[1], "container": key[2], "lines": len(chosen), "tail": tail,
                              "error_lines": len(errors), "previous": bool(previous)})


def _params(ctx: ToolContext, args: dict[str, Any]) -> Observation:
    shown = ", ".join(f"{k}={v}" for k, v in sorted(ctx.params.items())) or "none"
    return Observation(f"runbook parameters: {shown}", dict(ctx.params))


POD_EVENTS = Tool("pod_events", "events about the subject's pods (or node): counts by reason, the latest warning",
                  _events, optional=("kind", "namespace", "name"),
                  outputs=("events", "warnings", "reasons", "latest_warning"))
LOGS = Tool("logs", "the last log lines of the subject's failing container (previous instance first)", _logs,
            optional=("kind", "namespace", "name", "container", "lines"),
            outputs=("pod", "container", "lines", "tail", "error_lines", "previous"))
RUNBOOK_PARAMS = Tool("runbook_params", "the runbook's parameters, recorded with the incident", _params)
