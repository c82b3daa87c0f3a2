"""Reading one container or one event: health now, crashes, the container an event names, log scanning.

Small pure functions over evidence rows that several detectors share.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from engine.detectors import patterns as P

__all__ = ["container_problem", "crash_info", "event_container", "group", "is_crashing", "scan_logs"]


def container_problem(c: dict[str, Any]) -> str | None:
    """Why a (non-init) container is unhealthy now, or None when it is running and ready."""
    state = c.get("state")
    if state == "waiting":
        return c.get("reason") or "Waiting"
    if state == "terminated":
        if (c.get("exit_code") or 0) != 0 or (c.get("reason") not in (None, "Completed")):
            return c.get("reason") or f"exit {c.get('exit_code')}"
        return None
    if state == "running" and c.get("ready") is False:
        return "NotReady"
    return None


def event_container(e: dict[str, Any]) -> str | None:
    """The container an event is about: ``spec.containers{x}`` first, then the message's own naming."""
    m = re.search(r"(?:initContainers|containers)\{([^}]+)\}", e.get("field_path") or "")
    if m:
        return m.group(1)
    msg = e.get("msg") or P.strip_combined(e.get("message"))
    for pat in (P.CREATED, P.STARTED):
        mm = pat.match(msg)
        if mm and mm.group("c"):
            return mm.group("c")
    mm = P.PROBE_KILL.search(msg)
    if mm:
        return mm.group("c") or mm.group("c_old")
    return None


def scan_logs(
    rows: list[dict[str, Any]], patterns: list[re.Pattern[str]], window: int = 3
) -> list[tuple[dict[str, Any], re.Match[str]]]:
    """Lines matching any pattern (first pattern wins per line); multi-line patterns see a window."""
    lines = [r.get("line") or "" for r in rows]
    hits = []
    for i, row in enumerate(rows):
        for p in patterns:
            text = "\n".join(lines[i : i + window]) if "\\n" in p.pattern else lines[i]
            m = p.search(text)
            if m:
                hits.append((row, m))
                break
    return hits


def group(m: re.Match[str], name: str) -> str | None:
    """A named group's value, None when the pattern has no such group or it did not take part."""
    return m.groupdict().get(name) or None


def crash_info(c: dict[str, Any]) -> tuple[int | None, str | None, datetime | None] | None:
    """(exit code, reason, when) of the container's current or last abnormal termination.

    ``Unknown`` (exit 255: the container was lost across a node or containerd restart) is not one.
    """
    if (
        c.get("state") == "terminated"
        and c.get("reason") != "Unknown"
        and ((c.get("exit_code") or 0) != 0 or c.get("reason") not in (None, "Completed"))
    ):
        return c.get("exit_code"), c.get("reason"), c.get("finished_at")
    if (
        c.get("last_state") == "terminated"
        and c.get("last_reason") != "Unknown"
        and ((c.get("last_exit_code") or 0) != 0 or c.get("last_reason") not in (None, "Completed"))
    ):
        return c.get("last_exit_code"), c.get("last_reason"), c.get("last_finished_at")
    return None


def is_crashing(c: dict[str, Any]) -> bool:
    """Crash-looping or terminated with an error right now (not a restart long ago)."""
    if c.get("state") == "waiting" and c.get("reason") == "CrashLoopBackOff":
        return True
    return c.get("state") == "terminated" and (c.get("exit_code") or 0) != 0
