"""A workload's revisions and its failing pods: what the rollout and config-change triggers compare.

``revisions`` lists the subject workload's revisions (``changes`` rows), ``failing_revision`` finds
the one the failing pods belong to, ``healthy`` says whether a revision was serving,
``what_changed`` names the difference between two revisions (images, env names, template paths).
Windows are measured back from the incident's opening (its first alert) and forward to its clock.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from engine.detectors.base import Finding
from engine.detectors.common import View, pkey
from engine.report import Subject

__all__ = [
    "SLACK",
    "failing_pods",
    "failing_revision",
    "healthy",
    "in_window",
    "opened",
    "revisions",
    "template_diff",
    "what_changed",
]

SLACK = timedelta(minutes=5)


def opened(v: View) -> datetime:
    """When the incident opened: its first alert's start, else the clock."""
    starts = [a.startsAt for a in v.ctx.alerts]
    return min(starts) if starts else v.clock


def in_window(v: View, when: datetime | None, window_s: float) -> bool:
    return when is not None and opened(v) - timedelta(seconds=window_s) <= when <= v.clock + SLACK


def revisions(v: View, s: Subject) -> list[dict[str, Any]]:
    """The subject workload's revisions, oldest first."""
    rows = [
        r
        for r in v.changes
        if (r.get("cluster") or "") == s.cluster
        and r.get("namespace") == s.namespace
        and r.get("workload_name") == s.name
        and r.get("created_at") is not None
    ]
    return sorted(rows, key=lambda r: r["created_at"])


def failing_revision(f: Finding, v: View, revs: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The newest revision the finding's failing pods belong to (by hash, else by RS name prefix)."""
    names = set((getattr(f, "facts", {}) or {}).get("pods") or [])
    hashes = {p.get("revision_hash") for p in failing_pods(f, v) if p.get("revision_hash")}
    found = [r for r in revs if r.get("revision_hash") in hashes]
    if not found and names:  # the pods are gone (expired events only): RS pods are named <rs>-<suffix>
        found = [r for r in revs if any(str(n).startswith(f"{r.get('revision_name')}-") for n in names)]
    return found[-1] if found else None


def failing_pods(f: Finding, v: View) -> list[dict[str, Any]]:
    names = set((getattr(f, "facts", {}) or {}).get("pods") or [])
    s = f.subject
    return [
        p
        for p in v.focus_pods
        if (p.get("cluster") or "") == s.cluster
        and p.get("namespace") == s.namespace
        and v.pod_failing(p)
        and (p.get("name") in names or (not names and p.get("workload_name") == s.name))
    ]


def healthy(rev: dict[str, Any], v: View) -> bool:
    if (rev.get("ready_replicas") or 0) > 0 or (rev.get("available_replicas") or 0) > 0:
        return True
    pods = [
        p
        for p in v.pods
        if p.get("revision_hash") == rev.get("revision_hash")
        and pkey(p)[:2] == ((rev.get("cluster") or ""), rev.get("namespace") or "")
    ]
    return bool(pods) and all(p.get("phase") == "Running" and p.get("ready") for p in pods)


def what_changed(old: dict[str, Any], new: dict[str, Any]) -> str | None:
    """Images, else env var names, else template paths that differ; None when nothing recorded does."""
    oi, ni = list(old.get("images") or []), list(new.get("images") or [])
    if oi != ni:
        pairs = [f"{a} → {b}" for a, b in zip(oi, ni, strict=False) if a != b]
        pairs += [f"+{b}" for b in ni[len(oi) :]] + [f"-{a}" for a in oi[len(ni) :]]
        return "image " + ", ".join(pairs)
    same = f"same image {', '.join(ni) or '?'}"
    oe, ne = set(old.get("env_names") or []), set(new.get("env_names") or [])
    if oe != ne:
        added, removed = sorted(ne - oe), sorted(oe - ne)
        parts = [f"added {', '.join(added)}"] if added else []
        parts += [f"removed {', '.join(removed)}"] if removed else []
        return f"{same}; template env changed: {'; '.join(parts)}"
    paths = template_diff(old.get("template"), new.get("template"))
    return f"{same}; template changed at {', '.join(paths[:5])}" if paths else None


def template_diff(a: str | None, b: str | None) -> list[str]:
    """Paths where two pod templates (JSON, env values already removed) differ; containers by name."""
    try:
        ja, jb = json.loads(a or "{}"), json.loads(b or "{}")
    except ValueError:
        return []
    out: list[str] = []
    _diff(ja, jb, "", out)
    return out


def _diff(a: Any, b: Any, path: str, out: list[str]) -> None:
    if len(out) >= 10 or a == b:
        return
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            _diff(a.get(k), b.get(k), f"{path}.{k}" if path else k, out)
    elif (
        isinstance(a, list)
        and isinstance(b, list)
        and all(isinstance(x, dict) and "name" in x for x in a + b)
    ):
        na, nb = {x["name"]: x for x in a}, {x["name"]: x for x in b}
        for k in sorted(set(na) | set(nb)):
            _diff(na.get(k), nb.get(k), f"{path}[{k}]", out)
    else:
        out.append(path or "(root)")
