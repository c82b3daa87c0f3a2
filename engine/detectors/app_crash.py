"""app_crash: the process exits with an application error (panic, exception) not explained by another detector.

Signals, per focus container that crashed (``CrashLoopBackOff``, or terminated / last terminated
with a non-zero exit):
- a crash in its logs (previous instance first, then current, then the termination message that
  ``FallbackToLogsOnError`` stores): Go ``panic:``/``fatal error:``, a CPython traceback and its
  final ``XError: ...`` line, a JVM ``Exception in thread``/``Caused by:``, Rust ``panicked at``,
  .NET ``Unhandled exception``, Node unhandled errors, segfaults: 0.8;
- the exit code alone (1, 2, 134 SIGABRT, 139 SIGSEGV, 255): 0.55; other codes 0.45;
  exit 0 in a crash loop (the process just ends): 0.5. A Job's pod that exits non-zero without a
  crash in its logs gets 0.45: a batch program's exit status is its verdict on the work, not a
  crash, and ``job_failed`` tells why the Job gave up.
Not crashes: ``OOMKilled`` (oom_killed), exit 137/143 ``Error`` (a kill from outside, 0.3 at most),
``Unknown``/255 (the container was lost across a node or containerd restart — the RKE2 reboot
signature, ignored), ``StartError``/``ContainerCannotRun`` (config_error).
Everything is scaled by the pod's health now.
"""

from __future__ import annotations

from typing import Any

from engine.detectors import patterns as P
from engine.detectors.base import DetectContext, Finding
from engine.detectors.common import Hits, View, crash_info, log_item, ref, scan_logs, status_item, view
from engine.report import Subject

NAME = "app_crash"
_APP_EXITS = (1, 2, 134, 139, 255)
_NOT_CRASHES = ("OOMKilled", "Unknown", "StartError", "ContainerCannotRun", "Completed", "DeadlineExceeded")


def detect(ctx: DetectContext) -> list[Finding]:
    v = view(ctx)
    hits = Hits(NAME)
    for pod, c in v.focus_containers():
        info = crash_info(c)
        looping = c.get("state") == "waiting" and c.get("reason") == "CrashLoopBackOff"
        if info is None and not looping:
            continue
        code, reason, when = (
            info if info else (c.get("last_exit_code"), c.get("last_reason"), c.get("last_finished_at"))
        )
        if reason in _NOT_CRASHES[:4] or (code in (137, 143) and reason in ("Error", None) and not looping):
            continue
        lines = _crash_lines(v, pod, c)
        conf = _base(code, reason, bool(lines), looping) * v.history_factor(pod, when)
        if not lines and "Job" in (pod.get("owner_kind"), pod.get("workload_kind")):
            conf = min(conf, 0.45)
        hits.add(
            v.subject_for_pod(pod),
            conf,
            [log_item(r) for r in lines[:4]] + [status_item(c)],
            "log" if lines else "status",
            pods=[pod.get("name")],
            container=c.get("container"),
            exit_code=code,
            reason=reason,
            restarts=c.get("restart_count"),
            exception=_headline(lines),
            crash_loop=looping or None,
        )
    return list(hits.findings(_summary))


def _base(code: int | None, reason: str | None, logged: bool, looping: bool) -> float:
    if code in (137, 143):
        return 0.3
    if logged:
        return 0.8
    if code == 0 and looping:
        return 0.5
    return 0.55 if code in _APP_EXITS else 0.45


def _crash_lines(v: View, pod: dict[str, Any], c: dict[str, Any]) -> list[dict[str, Any]]:
    rows = list(v.log_rows(pod, c["container"]))
    for i, line in enumerate((c.get("last_message") or c.get("message") or "").splitlines()):
        rows.append(
            {
                "cluster": c.get("cluster"),
                "namespace": c.get("namespace"),
                "pod": c.get("pod"),
                "container": c.get("container"),
                "previous": True,
                "seq": 10**6 + i,
                "ts": None,
                "line": line,
            }
        )
    heads = [r for r, _ in scan_logs(rows, P.CRASH_HEAD)]
    if not heads:
        return []
    tail = [r for r, _ in scan_logs(rows[rows.index(heads[0]) :], [P.EXCEPTION_LINE])]
    ordered = heads[:2] + [r for r in tail[-2:] if r not in heads[:2]]
    return ordered


def _headline(lines: list[dict[str, Any]]) -> str | None:
    """The line that says what crashed: a CPython final exception line beats the Traceback header."""
    if not lines:
        return None
    texts = [r.get("line") or "" for r in lines]
    if texts[0].startswith("Traceback") and len(texts) > 1:
        return texts[-1][:200]
    return texts[0][:200]


def _summary(subject: Subject, f: dict[str, Any]) -> str:
    cont = f"container {f.get('container')} of {ref(subject)}"
    code = f" with exit code {f['exit_code']}" if f.get("exit_code") is not None else ""
    if f.get("exception"):
        return f"{cont} crashes{code}: {f['exception']}"
    if f.get("exit_code") in (137, 143):
        return f"{cont} is killed from outside (exit {f['exit_code']}, not OOM); no crash in its logs"
    if f.get("exit_code") == 0:
        return f"{cont} exits immediately with 0 and is restarted (a long-running container that ends)"
    loop = " and is in CrashLoopBackOff" if f.get("crash_loop") else ""
    return f"{cont} exits{code}{loop}; its logs show no stack trace"
