"""probe_failure: liveness, readiness or startup probes fail while the process runs.

Signals: kubelet ``Unhealthy`` events ``Liveness|Readiness|Startup probe failed: <detail>`` and the
restarts they cause, ``Killing`` ``Container X failed liveness probe, will be restarted`` (and the
<1.14 ``Killing container with id docker://x:Container failed liveness probe..``), plus a last
termination of ``Error`` with exit 137/143 (SIGKILL/SIGTERM from the kubelet).

Confidence: liveness or startup failures with a restart to show for it 0.85, without 0.65;
readiness failures while the pod is not ready 0.7, otherwise 0.5; times the event's weight now.
A container whose last termination is ``OOMKilled`` gets at most 0.4: the probe failed because
the process was dying of memory, and ``oom_killed`` is the cause.
"""

from __future__ import annotations

from typing import Any

from engine.detectors import patterns as P
from engine.detectors.base import DetectContext, Finding
from engine.detectors.common import Hits, View, event_container, event_item, ref, status_item, view
from engine.report import Subject

NAME = "probe_failure"


def detect(ctx: DetectContext) -> list[Finding]:
    v = view(ctx)
    hits = Hits(NAME)
    kills = {
        (e.get("cluster"), e.get("namespace"), e.get("object_name"), event_container(e))
        for e in v.focus_events
        if P.PROBE_KILL.search(e["msg"])
    }
    for e in v.focus_events:
        m = P.PROBE_FAILED.match(e["msg"])
        if e.get("object_kind") != "Pod" or not (m or P.PROBE_KILL.search(e["msg"])):
            continue
        probe = m.group("probe") if m else "Liveness"
        cname = event_container(e)
        pod = v.pod_of_event(e)
        c = _container(v, pod, cname)
        killed = (e.get("cluster"), e.get("namespace"), e.get("object_name"), cname) in kills or _sigkilled(c)
        conf = _base(probe, killed, pod) * v.event_factor(e)
        if c is not None and c.get("last_reason") == "OOMKilled":
            conf = min(conf, 0.4)
        items = [event_item(e)] + ([status_item(c)] if c is not None else [])
        hits.add(
            v.subject_for_event(e),
            conf,
            items,
            "kill" if killed else "event",
            probe=probe,
            detail=(m.group("detail") if m else e["msg"])[:200] or "(empty probe output)",
            container=cname or (c.get("container") if c else None),
            pods=[e.get("object_name")],
            probe_config=_probe_config(c, probe),
            restarted=killed or None,
        )
    return list(hits.findings(_summary))


def _base(probe: str, killed: bool, pod: dict[str, Any] | None) -> float:
    if probe in ("Liveness", "Startup"):
        return 0.85 if killed else 0.65
    return 0.7 if pod is None or pod.get("ready") is False else 0.5


def _container(v: View, pod: dict[str, Any] | None, name: str | None) -> dict[str, Any] | None:
    if pod is None:
        return None
    rows = v.containers_of(pod)
    return next((c for c in rows if c.get("container") == name), rows[0] if len(rows) == 1 else None)


def _sigkilled(c: dict[str, Any] | None) -> bool:
    return c is not None and c.get("last_reason") == "Error" and c.get("last_exit_code") in (137, 143)


def _probe_config(c: dict[str, Any] | None, probe: str) -> str | None:
    return (c or {}).get(f"{probe.lower()}_probe")


def _summary(subject: Subject, f: dict[str, Any]) -> str:
    restarted = ", and the kubelet restarts the container" if f.get("restarted") else ""
    cont = f"container {f['container']} of " if f.get("container") else ""
    return f"{f.get('probe')} probe of {cont}{ref(subject)} fails: {str(f.get('detail'))[:140]}{restarted}"
