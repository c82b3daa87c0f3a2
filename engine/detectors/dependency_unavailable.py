"""dependency_unavailable: the app cannot reach something it depends on (database, cache, service, DNS name).

Signals: log lines of focus containers (previous instance first, then current) in the wordings of
``patterns.DEPENDENCY_REFUSED`` (Go ``dial tcp h:p: connect: connection refused``, Node
``ECONNREFUSED h:p``, libpq old and new, pgjdbc, redis-py, MySQL, urllib3, Kafka...),
``DEPENDENCY_DNS`` (Go ``lookup h ... no such host``, Java ``UnknownHostException``, glibc
``Temporary failure in name resolution``) and ``DEPENDENCY_TIMEOUT`` (``i/o timeout`` to h:p).
The dependency is named as ``host:port`` (or the host) most lines point at.

Confidence: 0.8 when the container crashed, 0.7 when it runs but is not ready, 0.75 otherwise;
+0.03 per further line about the same dependency (up to three); scaled by the pod's health, so a
healthy pod that logged refusals while its node rebooted stays below 0.5.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from engine.detectors import patterns as P
from engine.detectors.base import DetectContext, Finding
from engine.detectors.common import (
    Hits,
    clamp,
    container_problem,
    crash_info,
    group,
    is_crashing,
    log_item,
    ref,
    scan_logs,
    status_item,
    view,
)
from engine.report import Subject

NAME = "dependency_unavailable"
_KINDS = (
    ("connection refused", P.DEPENDENCY_REFUSED),
    ("name resolution failed", P.DEPENDENCY_DNS),
    ("timed out", P.DEPENDENCY_TIMEOUT),
)
_DEFAULT_PORTS = {"MySQL": "3306"}


def detect(ctx: DetectContext) -> list[Finding]:
    v = view(ctx)
    hits = Hits(NAME)
    for pod, c in v.focus_containers():
        found = scan(v.log_rows(pod, c["container"]))
        if not found:
            continue
        deps = Counter(dep for _, dep, _ in found)
        top, n = deps.most_common(1)[0]
        kind = next(k for _, d, k in found if d == top)
        crash = crash_info(c)
        base = 0.8 if (crash or is_crashing(c)) else (0.7 if container_problem(c) else 0.75)
        conf = clamp(base + 0.03 * min(3, n - 1)) * v.history_factor(pod, crash[2] if crash else None)
        rows = [r for r, d, _ in found if d == top][:3] + [r for r, d, _ in found if d != top][:1]
        hits.add(
            v.subject_for_pod(pod),
            conf,
            [log_item(r) for r in rows] + [status_item(c)],
            "log",
            dependency=top if top != "?" else None,
            failure=kind,
            pods=[pod.get("name")],
            container=c.get("container"),
            dependencies=[d for d, _ in deps.most_common(5) if d != "?"],
        )
    return list(hits.findings(_summary))


def scan(rows: list[dict[str, Any]]) -> list[tuple[dict[str, Any], str, str]]:
    """(row, "host:port" or "host" or "?", failure kind) for each line about an unreachable dependency."""
    out = []
    for kind, pats in _KINDS:
        for row, m in scan_logs(rows, pats):
            out.append((row, _dep(m), kind))
    out.sort(key=lambda x: (not x[0].get("previous"), x[0].get("seq") or 0))
    seen: set[int] = set()
    unique = []
    for row, dep, kind in out:  # a line matched by two families counts once
        if id(row) not in seen:
            seen.add(id(row))
            unique.append((row, dep, kind))
    return unique


def _dep(m: Any) -> str:
    host, port = group(m, "host"), group(m, "port")
    if port is None and host and "MySQL" in m.re.pattern:
        port = _DEFAULT_PORTS["MySQL"]
    if host and port:
        return f"{host}:{port}"
    if port:
        return f":{port}"
    return host or "?"


def _summary(subject: Subject, f: dict[str, Any]) -> str:
    dep = f.get("dependency") or "a dependency (not named in the logs)"
    others = [d for d in f.get("dependencies") or [] if d != f.get("dependency")]
    more = f" (also {', '.join(others[:2])})" if others else ""
    return f"{ref(subject)} cannot reach {dep}: {f.get('failure')}{more}"
