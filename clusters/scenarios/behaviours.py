"""What the kubelet reports for a pod in each state, with the events and logs that go with it.

Each ``run_*`` function fills a :class:`PodRecord`'s ``status``, emits the kubelet events a real
node would have recorded (those still inside the one-hour event TTL survive), and writes the
container logs a dump would contain.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from . import logs as applog
from ._time import rfc3339
from .apps import AppSpec
from .cluster import ClusterBuilder, PodRecord
from .podstatus import (
    CrashLoop,
    Instance,
    backoff_message,
    condition,
    container_status,
    crash_loop,
    image_status,
    terminated,
)

__all__ = ["LogFn", "crash_log", "log_error", "run_crashloop", "run_healthy", "run_pending", "run_waiting", "set_status",
           "start_events"]

#: Builds a container instance's output: (app, pod, started, ended) -> log entries.
LogFn = Callable[[AppSpec, PodRecord, datetime, datetime], applog.Log]


def crash_log(fn: Callable[..., applog.Log], rng: Any, **kwargs: Any) -> LogFn:
    """Adapt a ``crashlogs`` function ``fn(app, start, end, rng, *, pod, **kwargs)`` to :data:`LogFn`."""
    def log(app: AppSpec, pod: PodRecord, start: datetime, end: datetime) -> applog.Log:
        return fn(app, start, end, rng, pod=pod.name, **kwargs)
    return log


def _s(seconds: float) -> timedelta:
    return timedelta(seconds=seconds)


def _qos(spec: dict[str, Any]) -> str:
    res = [c.get("resources") or {} for c in spec["containers"]]
    if not any(r.get("requests") or r.get("limits") for r in res):
        return "BestEffort"
    guaranteed = all(r.get("limits") and all(r["limits"].get(k) == (r.get("requests") or r["limits"]).get(k)
                                             for k in ("cpu", "memory")) for r in res)
    return "Guaranteed" if guaranteed else "Burstable"


def set_status(cb: ClusterBuilder, pod: PodRecord, *, phase: str, conditions: list[dict[str, Any]],
               statuses: list[dict[str, Any]] | None, started: datetime | None,
               init_statuses: list[dict[str, Any]] | None = None, host_network: bool = False,
               sandbox: bool = True) -> None:
    if cb.profile.minor >= 34:  # PodObservedGenerationTracking (beta, on by default)
        conditions = [{"type": c["type"], "observedGeneration": 1, **c} for c in conditions]
    st: dict[str, Any] = {"observedGeneration": 1} if cb.profile.minor >= 34 else {}
    st.update(phase=phase, conditions=conditions)
    if pod.node and started:
        st.update(hostIP=pod.node.ip, hostIPs=[{"ip": pod.node.ip}])
        if sandbox:
            ip = pod.node.ip if host_network else cb.pod_ip(pod.node)
            st.update(podIP=ip, podIPs=[{"ip": ip}])
        st["startTime"] = rfc3339(started)
    if init_statuses:
        st["initContainerStatuses"] = init_statuses
    if statuses is not None:
        st["containerStatuses"] = statuses
    st["qosClass"] = _qos(pod.obj["spec"])
    pod.obj["status"] = st


def _scheduled_conditions(created: datetime, ready_at: datetime | None, *, not_ready_since: datetime | None = None,
                          unready: list[str] | None = None, sandbox: bool = True) -> list[dict[str, Any]]:
    msg = f"containers with unready status: [{' '.join(unready or [])}]"
    if ready_at is not None:
        ready = [condition("Ready", True, ready_at), condition("ContainersReady", True, ready_at)]
    else:
        at = not_ready_since or created
        ready = [condition("Ready", False, at, "ContainersNotReady", msg),
                 condition("ContainersReady", False, at, "ContainersNotReady", msg)]
    return [condition("PodReadyToStartContainers", sandbox, created + _s(2)),
            condition("Initialized", True, created + _s(1)), *ready, condition("PodScheduled", True, created)]


def start_events(cb: ClusterBuilder, pod: PodRecord, spec: dict[str, Any], created: datetime,
                 first_start: datetime, *, fresh_pull: bool) -> None:
    """Scheduled, then Pulling/Pulled, Created, Started for the first start of ``spec``."""
    c, image = spec["name"], spec["image"]
    if pod.node:
        cb.scheduler_event(pod, "Scheduled", f"Successfully assigned {pod.namespace}/{pod.name} to {pod.node.name}",
                           first=created)
    if fresh_pull:
        took = (first_start - created).total_seconds() - 0.3
        cb.kubelet_event(pod, "Pulling", f'Pulling image "{image}"', first=created + _s(1), container=c)
        size = cb.rng.randrange(38_000_000, 420_000_000)
        cb.kubelet_event(pod, "Pulled", f'Successfully pulled image "{image}" in {took:.3f}s ({took:.3f}s '
                         f"including waiting). Image size: {size} bytes.", first=first_start, container=c)
    else:
        cb.kubelet_event(pod, "Pulled", f'Container image "{image}" already present on machine',
                         first=first_start, container=c)
    cb.kubelet_event(pod, "Created", cb.profile.created_message(c), first=first_start, container=c)
    cb.kubelet_event(pod, "Started", cb.profile.started_message(c), first=first_start, container=c)


def run_healthy(cb: ClusterBuilder, pod: PodRecord, app: AppSpec | None, *, started: datetime,
                restarts: int = 0, last: dict[str, Any] | None = None, log: str | dict[str, str] | None = None,
                fresh_pull: bool = False, host_network: bool = False) -> None:
    """A running, ready pod; events only if it started within the last hour."""
    created = _created(pod)
    statuses = []
    for spec in pod.obj["spec"]["containers"]:
        img, img_id = image_status(spec["image"])
        statuses.append(container_status(spec, state={"running": {"startedAt": rfc3339(started)}}, last=last,
                                         ready=True, restarts=restarts, image=img, image_id=img_id,
                                         container_id=cb.rng.container_id(), minor=cb.profile.minor,
                                         pod_security=pod.obj["spec"].get("securityContext")))
        if isinstance(log, dict):
            pod.logs[spec["name"]] = log.get(spec["name"], "")
        elif log is not None or app is None:
            pod.logs[spec["name"]] = log or ""
        else:
            entries = applog.startup(app, started, cb.rng, pod=pod.name) + applog.traffic(
                app, max(started + _s(30), cb.now - _s(900)), cb.now - _s(2), cb.rng, pod=pod.name)
            pod.logs[spec["name"]] = applog.text(entries)
        if (started - created) < _s(120):
            start_events(cb, pod, spec, created, started, fresh_pull=fresh_pull)
        else:
            restart_events(cb, pod, spec, started)
    ready_at = started + _s(cb.rng.randrange(4, 30) if app and app.runtime == "java" else cb.rng.randrange(2, 8))
    set_status(cb, pod, phase="Running", conditions=_scheduled_conditions(created, ready_at), statuses=statuses,
               started=created + _s(1), host_network=host_network, init_statuses=_init_done(cb, pod, started, log))


def _init_done(cb: ClusterBuilder, pod: PodRecord, started: datetime,
               log: str | dict[str, str] | None) -> list[dict[str, Any]] | None:
    """Init containers that ran to completion just before the app containers started."""
    specs = pod.obj["spec"].get("initContainers") or []
    out = []
    for i, spec in enumerate(specs):
        begin = started - _s(2.5 - i * 0.8)
        inst = Instance(begin, begin + _s(0.6), cb.rng.container_id())
        img, img_id = image_status(spec["image"])
        out.append(container_status(spec, state={"terminated": terminated(inst, exit_code=0, reason="Completed")},
                                    ready=True, image=img, image_id=img_id, container_id=inst.container_id,
                                    started=False, minor=cb.profile.minor,
                                    pod_security=pod.obj["spec"].get("securityContext")))
        pod.logs[spec["name"]] = log.get(spec["name"], "") if isinstance(log, dict) else ""
        if cb.now - begin < _s(3600):
            for reason, msg in (("Pulled", f'Container image "{spec["image"]}" already present on machine'),
                                ("Created", cb.profile.created_message(spec["name"])),
                                ("Started", cb.profile.started_message(spec["name"]))):
                cb.event(pod.involved().container(spec["name"], init=True), reason, msg, component="kubelet",
                         host=pod.node.name if pod.node else "", first=begin)
    return out or None


def restart_events(cb: ClusterBuilder, pod: PodRecord, spec: dict[str, Any], at: datetime) -> None:
    c = spec["name"]
    cb.kubelet_event(pod, "Pulled", f'Container image "{spec["image"]}" already present on machine', first=at,
                     container=c)
    cb.kubelet_event(pod, "Created", cb.profile.created_message(c), first=at, container=c)
    cb.kubelet_event(pod, "Started", cb.profile.started_message(c), first=at, container=c)


def run_crashloop(cb: ClusterBuilder, pod: PodRecord, app: AppSpec, *, start: datetime,
                  run_s: tuple[float, float], exit_code: int, reason: str, log_fn: LogFn,
                  healthy_until: datetime | None = None, fresh_pull: bool = False,
                  message_fn: Callable[[str], str] | None = None) -> CrashLoop:
    """The app container exits again and again; the pod ends up in ``CrashLoopBackOff``.

    ``healthy_until``: the container ran fine from ``start`` until then, and crashes since.
    """
    spec = pod.obj["spec"]["containers"][0]
    c = spec["name"]
    loop = crash_loop(start, cb.now, cb.rng, run_s, first_run_until=healthy_until)
    runs = loop.instances
    last_run = runs[-1]
    prev_log = applog.text(log_fn(app, pod, last_run.started, last_run.finished or cb.now))
    msg = message_fn(prev_log) if message_fn else None
    last = {"terminated": terminated(last_run, exit_code=exit_code, reason=reason, message=msg)}
    img, img_id = image_status(spec["image"])
    waiting = {"waiting": {"reason": "CrashLoopBackOff",
                           "message": backoff_message(loop, c, pod.name, pod.namespace, pod.uid)}}
    status = container_status(spec, state=waiting, last=last, ready=False, restarts=loop.restart_count, image=img,
                              image_id=img_id, container_id=last_run.container_id, started=False,
                              minor=cb.profile.minor, pod_security=pod.obj["spec"].get("securityContext"))
    # While waiting, `kubectl logs` (and so the dump) shows the last terminated instance.
    pod.logs[c] = prev_log
    pod.previous[c] = prev_log
    created = _created(pod)
    not_ready = healthy_until or created
    set_status(cb, pod, phase="Running", statuses=[status], started=created + _s(1),
               conditions=_scheduled_conditions(created, None, not_ready_since=not_ready, unready=[c]))
    _crash_events(cb, pod, spec, loop, created, fresh_pull=fresh_pull and healthy_until is None)
    return loop


def _crash_events(cb: ClusterBuilder, pod: PodRecord, spec: dict[str, Any], loop: CrashLoop, created: datetime,
                  *, fresh_pull: bool) -> None:
    c, starts = spec["name"], [i.started for i in loop.instances]
    restarted = starts[1:] if starts[0] < cb.now - _s(3600) else starts
    if starts[0] >= cb.now - _s(3600):
        cb.scheduler_event(pod, "Scheduled", f"Successfully assigned {pod.namespace}/{pod.name} to "
                           f"{pod.node.name if pod.node else ''}", first=created)
    if fresh_pull:
        took = (starts[0] - created).total_seconds() - 0.4
        cb.kubelet_event(pod, "Pulling", f'Pulling image "{spec["image"]}"', first=created + _s(1), container=c)
        cb.kubelet_event(pod, "Pulled", f'Successfully pulled image "{spec["image"]}" in {took:.3f}s ({took:.3f}s '
                         f"including waiting). Image size: {cb.rng.randrange(60_000_000, 380_000_000)} bytes.",
                         first=starts[0], container=c)
        cached = restarted[1:] if restarted and restarted[0] == starts[0] else restarted
    else:
        cached = restarted
    if cached:
        cb.kubelet_event(pod, "Pulled", f'Container image "{spec["image"]}" already present on machine',
                         first=cached[0], last=cached[-1], count=len(cached), container=c)
    if restarted:
        for reason, msg in (("Created", cb.profile.created_message(c)), ("Started", cb.profile.started_message(c))):
            cb.kubelet_event(pod, reason, msg, first=restarted[0], last=restarted[-1], count=len(restarted),
                             container=c)
    if loop.waits:
        waited = sum((b - a).total_seconds() for a, b in loop.waits)
        last = cb.now - _s(cb.rng.randrange(2, 25)) if loop.waiting else loop.waits[-1][1]
        cb.kubelet_event(pod, "BackOff", f"Back-off restarting failed container {c} in pod "
                         f"{pod.name}_{pod.namespace}({pod.uid})", first=loop.waits[0][0], last=last,
                         count=max(1, int(waited / 14)), warning=True, container=c)


def run_waiting(cb: ClusterBuilder, pod: PodRecord, *, reason: str, message: str | None,
                sandbox: bool = True, log_error: str) -> None:
    """A container that never started (image pull, config error, volume mount)."""
    created = _created(pod)
    statuses = []
    for spec in pod.obj["spec"]["containers"]:
        state = {"waiting": {"reason": reason, **({"message": message} if message else {})}}
        statuses.append(container_status(spec, state=state, ready=False, image=spec["image"], started=False,
                                         minor=cb.profile.minor))
        pod.logs[spec["name"]] = log_error.format(container=spec["name"], pod=pod.name)
    names = [s["name"] for s in pod.obj["spec"]["containers"]]
    set_status(cb, pod, phase="Pending", statuses=statuses, started=created + _s(1), sandbox=sandbox,
               conditions=_scheduled_conditions(created, None, unready=names, sandbox=sandbox))
    cb.scheduler_event(pod, "Scheduled", f"Successfully assigned {pod.namespace}/{pod.name} to "
                       f"{pod.node.name if pod.node else ''}", first=created)


def run_pending(cb: ClusterBuilder, pod: PodRecord, *, message: str, attempts: int) -> None:
    """An unschedulable pod: ``PodScheduled=False`` and the scheduler's ``FailedScheduling``."""
    created = _created(pod)
    cond = condition("PodScheduled", False, created, "Unschedulable", message)
    set_status(cb, pod, phase="Pending", conditions=[cond], statuses=None, started=None)
    for spec in pod.obj["spec"]["containers"]:
        pod.logs[spec["name"]] = ""
    last = cb.now - _s(cb.rng.uniform(20, 280))
    cb.scheduler_event(pod, "FailedScheduling", message, first=created, last=last, count=attempts)


def log_error(kind: str) -> str:
    """Template of the dump's log-request error for a container that has no logs yet."""
    why = {"ErrImagePull": "image can't be pulled", "ImagePullBackOff": "trying and failing to pull image"}
    return 'Request log error: container "{container}" in pod "{pod}" is waiting to start: ' + why.get(kind, kind) + "\n"


def _created(pod: PodRecord) -> datetime:
    return datetime.fromisoformat(pod.obj["metadata"]["creationTimestamp"].replace("Z", "+00:00"))
