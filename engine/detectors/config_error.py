"""config_error: the app rejects or lacks its configuration (env var, flag, config file, pod spec).

Signals:
- log lines of a crashing focus container (previous instance first) that a runtime prints when
  configuration is missing or invalid (``patterns.CONFIG``: bash ``X: unbound variable``, Spring
  ``Could not resolve placeholder``, Go ``flag provided but not defined``, argparse errors, YAML /
  JSON / TOML parse errors, ``open x.yaml: no such file or directory``, nginx ``[emerg]``...):
  0.8 when the container crashed, 0.6 when it runs but is not ready, scaled by health;
- ``CreateContainerConfigError`` whose message is not a missing Secret/ConfigMap (e.g.
  ``container has runAsNonRoot and image will run as root``): 0.8;
- ``StartError`` (containerd, exit 128) / ``RunContainerError`` / ``ContainerCannotRun`` /
  ``CreateContainerError`` with ``exec: "x": executable file not found in $PATH``: 0.85. Decision:
  this is a configuration error, not an app crash: the pod spec's ``command``/``args`` name an
  executable the image does not have, so the process never ran; the fix is the spec (or the image
  tag it was written for), which is what config_error's recommendations say;
- ``FailedCreate`` ``serviceaccount "x" not found`` from the workload controller: 0.8.
"""

from __future__ import annotations

from typing import Any

from engine.detectors import patterns as P
from engine.detectors.base import DetectContext, Finding
from engine.detectors.common import (
    Hits,
    View,
    add_log_hit,
    container_problem,
    crash_info,
    event_item,
    is_crashing,
    ref,
    scan_logs,
    status_item,
    view,
)
from engine.detectors.missing_secret_or_configmap import parse as parse_missing
from engine.report import Subject

NAME = "config_error"
START_REASONS = ("StartError", "RunContainerError", "ContainerCannotRun", "CreateContainerError")


def detect(ctx: DetectContext) -> list[Finding]:
    v = view(ctx)
    hits = Hits(NAME)
    for pod, c in v.focus_containers():
        _status(v, hits, pod, c)
        _logs(v, hits, pod, c)
    for e in v.focus_events:
        _event(v, hits, e)
    return list(hits.findings(_summary))


def _status(v: View, hits: Hits, pod: dict[str, Any], c: dict[str, Any]) -> None:
    subj = v.subject_for_pod(pod)
    base = {"pods": [pod.get("name")], "container": c.get("container")}
    if c.get("state") == "waiting" and c.get("reason") == "CreateContainerConfigError":
        msg = c.get("message") or ""
        if msg and not parse_missing(msg, pod.get("namespace")):
            hits.add(subj, 0.8, [status_item(c)], "status", problem=msg[:200], **base)
        return
    for reason, msg, when in (
        (c.get("reason"), c.get("message"), c.get("finished_at")),
        (c.get("last_reason"), c.get("last_message"), c.get("last_finished_at")),
    ):
        m = P.EXEC_NOT_FOUND.search(msg or "")
        if reason in START_REASONS and m:
            hits.add(
                subj,
                0.85 * v.history_factor(pod, when),
                [status_item(c)],
                "status",
                executable=m.groupdict().get("exe"),
                problem=m.group(0),
                **base,
            )
            return


def _logs(v: View, hits: Hits, pod: dict[str, Any], c: dict[str, Any]) -> None:
    found = scan_logs(v.log_rows(pod, c["container"]), P.CONFIG)
    if not found:
        return
    crash = crash_info(c)
    base = 0.8 if (crash or is_crashing(c)) else (0.6 if container_problem(c) else 0.55)
    row, m = found[0]
    # pydantic-settings prints the model field; it reads the env var of that name, case-insensitively
    var = m.groupdict().get("var") or (m.groupdict().get("field") or "").upper() or None
    add_log_hit(
        v, hits, pod, c, found, base, lines=4,
        problem=(row.get("line") or "")[:200],
        variable=var,
    )


def _event(v: View, hits: Hits, e: dict[str, Any]) -> None:
    sa = P.MISSING_SERVICE_ACCOUNT.search(e["msg"])
    exe = P.EXEC_NOT_FOUND.search(e["msg"]) if e.get("object_kind") == "Pod" else None
    if sa and e.get("reason") == "FailedCreate":
        hits.add(
            v.subject_for_event(e),
            0.8 * v.event_factor(e),
            [event_item(e)],
            "event",
            service_account=sa.group("name"),
            problem=e["msg"][:200],
        )
    elif exe and e.get("type") == "Warning":
        hits.add(
            v.subject_for_event(e),
            0.8 * v.event_factor(e),
            [event_item(e)],
            "event",
            pods=[e.get("object_name")],
            executable=exe.groupdict().get("exe"),
            problem=exe.group(0),
        )


def _summary(subject: Subject, f: dict[str, Any]) -> str:
    if f.get("service_account"):
        return f"{ref(subject)} cannot create pods: ServiceAccount {f['service_account']} does not exist"
    if f.get("executable"):
        return (
            f"{ref(subject)}: container {f.get('container') or ''} command {f['executable']!r} is not in the "
            f"image (StartError)"
        ).replace("container  ", "")
    if f.get("variable"):
        return f"{ref(subject)} fails on its configuration: {f['variable']} ({str(f.get('problem'))[:140]})"
    return f"{ref(subject)} fails on its configuration: {str(f.get('problem'))[:160]}"
