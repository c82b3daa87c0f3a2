"""cpu_throttling: a CPU limit throttles the workload.

The evidence tables hold no metrics, so the signal is the alert itself: a firing
``CPUThrottlingHigh`` (kubernetes-mixin, from cadvisor's ``container_cpu_cfs_throttled_periods``)
for a focus container, 0.7 when that container has a CPU limit (the cause the alert means), 0.5
when the limit is unknown (the pod row is missing). A container without any CPU limit cannot be
throttled by one: 0.2. Probes of that pod that time out (kubelet ``Unhealthy`` ... ``context
deadline exceeded``/``timed out``) are what throttling does to a server: +0.12, so a throttled
pod that also turns unready is reported as throttled, its probe failures as the symptom.
"""

from __future__ import annotations

from typing import Any

from engine.detectors import patterns as P
from engine.detectors.base import DetectContext, Finding
from engine.detectors.common import Hits, View, event_item, ref, resources_item, view
from engine.report import EvidenceItem, Subject

NAME = "cpu_throttling"


def detect(ctx: DetectContext) -> list[Finding]:
    v = view(ctx)
    hits = Hits(NAME)
    slow = _probe_timeouts(v)
    for a in ctx.alerts:
        if a.alertname != "CPUThrottlingHigh" or a.status != "firing":
            continue
        t = a.target()
        item = EvidenceItem(
            kind="event",
            cluster=a.cluster,
            source=f"alert/{a.alertname}",
            text=a.annotations.get("description") or a.annotations.get("summary") or a.alertname,
            at=a.startsAt,
        )
        pods = [p for p in v.focus_pods if p.get("name") == t.pod and p.get("namespace") == t.namespace]
        rows = [(p, c) for p in pods for c in v.containers_of(p) if c.get("container") == t.container]
        if not rows:
            hits.add(
                Subject(kind="Pod", namespace=t.namespace, name=t.pod or t.name, cluster=a.cluster),
                0.5,
                [item],
                "alert",
                container=t.container,
            )
            continue
        for pod, c in rows:
            conf = 0.7 if c.get("cpu_limit") else 0.2
            timeouts = slow.get((pod.get("cluster") or "", pod.get("namespace") or "", pod.get("name") or ""), [])
            if timeouts and c.get("cpu_limit"):
                conf += 0.12
                hits.add(v.subject_for_pod(pod), conf, [event_item(timeouts[0])], "probe-timeouts")
            hits.add(
                v.subject_for_pod(pod),
                conf,
                [item, resources_item(c)],
                "alert",
                container=c.get("container"),
                cpu_limit=c.get("cpu_limit"),
                cpu_request=c.get("cpu_request"),
                pods=[pod.get("name")],
            )
    return list(hits.findings(_summary))


def _probe_timeouts(v: View) -> dict[tuple[str, str, str], list[dict[str, Any]]]:
    """Probe failures that are timeouts, by pod."""
    out: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for e in v.focus_events:
        if e.get("object_kind") == "Pod" and P.PROBE_FAILED.match(e["msg"]) and P.PROBE_TIMEOUT.search(e["msg"]):
            key = (e.get("cluster") or "", e.get("namespace") or "", e.get("object_name") or "")
            out.setdefault(key, []).append(e)
    return out


def _summary(subject: Subject, f: dict[str, Any]) -> str:
    lim = f"its CPU limit {f['cpu_limit']}" if f.get("cpu_limit") else "a CPU limit"
    slow = "; its probes time out" if "probe-timeouts" in f.get("signals", []) else ""
    return f"container {f.get('container')} of {ref(subject)} is throttled by {lim}{slow}"
