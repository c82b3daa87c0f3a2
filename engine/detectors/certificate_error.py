"""certificate_error: a TLS certificate is expired, not yet valid, for another name, or untrusted.

Signals: log lines of focus containers (``patterns.CERT``): Go ``x509: certificate has expired or
is not yet valid`` / ``signed by unknown authority`` / ``is valid for a, not b``, JVM ``PKIX path
building failed``, OpenSSL/CPython ``certificate verify failed``, Node ``CERT_HAS_EXPIRED``.
0.8 when the container crashed, 0.7 when it is failing otherwise, 0.65 when it runs; scaled by
the pod's health now.
"""

from __future__ import annotations

from typing import Any

from engine.detectors import patterns as P
from engine.detectors.base import DetectContext, Finding
from engine.detectors.common import (
    Hits,
    add_log_hit,
    container_problem,
    crash_info,
    is_crashing,
    ref,
    scan_logs,
    view,
)
from engine.report import Subject

NAME = "certificate_error"


def detect(ctx: DetectContext) -> list[Finding]:
    v = view(ctx)
    hits = Hits(NAME)
    for pod, c in v.focus_containers():
        found = scan_logs(v.log_rows(pod, c["container"]), P.CERT)
        if not found:
            continue
        crash = crash_info(c)
        base = 0.8 if (crash or is_crashing(c)) else (0.7 if container_problem(c) else 0.65)
        line = found[0][0].get("line") or ""
        until = next((m for r, _ in found for m in [P.CERT_NOT_AFTER.search(r.get("line") or "")] if m), None)
        add_log_hit(
            v, hits, pod, c, found, base,
            expired=bool(P.CERT_EXPIRED.search(line)),
            not_after=((until.group("t") or until.group("jvm")).strip() if until else None),
            line=line[:200],
        )
    return list(hits.findings(_summary))


def _summary(subject: Subject, f: dict[str, Any]) -> str:
    what = (
        "an expired (or not yet valid) certificate"
        if f.get("expired")
        else "an untrusted or mismatched certificate"
    )
    return f"{ref(subject)} fails TLS verification: {what} ({str(f.get('line'))[:140]})"
