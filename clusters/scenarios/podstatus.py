"""Pod and container status as the kubelet reports it, and the crash-loop timeline behind it.

:func:`crash_loop` replays the kubelet's restart back-off (``doBackOff``): the first exit is
restarted at once, later ones wait 10s, 20s, 40s ... capped at 5m0s, measured from the exit. The
returned instances give ``restartCount``, ``lastState.terminated`` and the waiting message that a
real pod shows at the capture time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ._rand import Rand, derive
from ._time import go_duration, rfc3339

__all__ = ["CrashLoop", "Instance", "condition", "container_status", "crash_loop", "image_status", "terminated"]

MAX_BACKOFF_S = 300


def image_status(image: str) -> tuple[str, str]:
    """``(status.image, status.imageID)`` containerd reports for a pulled ``image``."""
    repo, _, tag = image.rpartition(":")
    host = repo.split("/")[0]
    if "/" not in repo or ("." not in host and ":" not in host):
        repo = "docker.io/" + (repo if "/" in repo else "library/" + repo)
    return f"{repo}:{tag}", f"{repo}@{derive('digest', image).digest()}"


@dataclass
class Instance:
    """One container instance (one containerd container) of a container."""

    started: datetime
    finished: datetime | None  # None: still running at capture
    container_id: str


@dataclass
class CrashLoop:
    instances: list[Instance]
    backoff_s: int  # the back-off being waited at capture, 0 when running
    waits: list[tuple[datetime, datetime]] = field(default_factory=list)  # back-off periods

    @property
    def restart_count(self) -> int:
        return len(self.instances) - 1

    @property
    def waiting(self) -> bool:
        return self.instances[-1].finished is not None

    @property
    def first_crash(self) -> datetime:
        end = self.instances[0].finished
        assert end is not None
        return end

    def first_wait_at_least(self, seconds: float) -> datetime:
        """When the first back-off of at least ``seconds`` began (kube-state-metrics sees it)."""
        for start, end in self.waits:
            if (end - start).total_seconds() >= seconds:
                return start
        return self.waits[-1][0] if self.waits else self.first_crash


def crash_loop(start: datetime, now: datetime, rng: Rand, run_s: tuple[float, float], *,
               first_run_until: datetime | None = None) -> CrashLoop:
    """Simulate restarts from ``start`` until ``now``; each instance runs ``run_s`` seconds.

    ``first_run_until`` makes the first instance a long healthy run that ends then (a pod that
    worked for days and started crashing). The schedule is moved back a little when ``now``
    would fall inside a run, so the capture shows ``CrashLoopBackOff`` like most real captures.
    """
    first_end = first_run_until or start + timedelta(seconds=rng.between(*run_s))
    loop = CrashLoop([Instance(start, first_end, rng.container_id())], 0)
    crashes = 1
    while True:
        finished = loop.instances[-1].finished
        assert finished is not None
        loop.backoff_s = 0 if crashes == 1 else min(10 * 2 ** (crashes - 2), MAX_BACKOFF_S)
        nxt = finished + timedelta(seconds=loop.backoff_s + rng.between(0.4, 1.8))
        if loop.backoff_s:
            loop.waits.append((finished, nxt))
        if nxt >= now:
            return loop
        end = nxt + timedelta(seconds=rng.between(*run_s))
        loop.instances.append(Instance(nxt, end, rng.container_id()))
        crashes += 1
        if end >= now:  # would be running at capture: let it have crashed a moment ago instead
            _shift(loop, now - end - timedelta(seconds=rng.between(3, 25)))


def _shift(loop: CrashLoop, delta: timedelta) -> None:
    for inst in loop.instances:
        inst.started += delta
        inst.finished = inst.finished + delta if inst.finished else None
    loop.waits = [(a + delta, b + delta) for a, b in loop.waits]


def terminated(inst: Instance, *, exit_code: int, reason: str, message: str | None = None) -> dict[str, Any]:
    assert inst.finished is not None
    d: dict[str, Any] = {"exitCode": exit_code, "reason": reason}
    if message:
        d["message"] = message
    d.update(startedAt=rfc3339(inst.started), finishedAt=rfc3339(inst.finished), containerID=inst.container_id)
    return d


def container_status(spec: dict[str, Any], *, state: dict[str, Any], last: dict[str, Any] | None = None,
                     ready: bool, restarts: int = 0, image: str, image_id: str = "",
                     container_id: str | None = None, started: bool | None = None,
                     minor: int = 33, pod_security: dict[str, Any] | None = None) -> dict[str, Any]:
    """``ContainerStatus`` in field order; version-gated fields follow the kubelet ``minor``."""
    d: dict[str, Any] = {"name": spec["name"], "state": state, "lastState": last or {}, "ready": ready,
                         "restartCount": restarts, "image": image, "imageID": image_id}
    if container_id:
        d["containerID"] = container_id
    d["started"] = bool(started if started is not None else "running" in state)
    res = spec.get("resources") or {}
    if minor >= 33:
        if res.get("requests"):
            d["allocatedResources"] = dict(res["requests"])
        d["resources"] = res
    mounts = [{"name": m["name"], "mountPath": m["mountPath"],
               **({"readOnly": True, "recursiveReadOnly": "Disabled"} if m.get("readOnly") else {})}
              for m in spec.get("volumeMounts") or []]
    if mounts:
        d["volumeMounts"] = mounts
    if minor >= 33 and ("running" in state or "terminated" in state or last):
        d["user"] = {"linux": _identity(spec.get("securityContext") or {}, pod_security or {})}
    return d


def _identity(container: dict[str, Any], pod: dict[str, Any]) -> dict[str, Any]:
    """The process identity the runtime reports: explicit ids, else the image's user."""
    non_root = container.get("runAsNonRoot", pod.get("runAsNonRoot"))
    uid = container.get("runAsUser", pod.get("runAsUser", 65532 if non_root else 0))
    gid = container.get("runAsGroup", pod.get("runAsGroup", uid if uid else 0))
    groups = sorted({gid, *([pod["fsGroup"]] if "fsGroup" in pod else [])})
    return {"uid": uid, "gid": gid, "supplementalGroups": groups}


def condition(kind: str, status: bool | str, at: datetime, reason: str | None = None,
              message: str | None = None) -> dict[str, Any]:
    value = status if isinstance(status, str) else ("True" if status else "False")
    d: dict[str, Any] = {"type": kind, "status": value, "lastProbeTime": None, "lastTransitionTime": rfc3339(at)}
    if reason:
        d["reason"] = reason
    if message:
        d["message"] = message
    return d


def backoff_message(loop: CrashLoop, container: str, pod: str, namespace: str, uid: str) -> str:
    return (f"back-off {go_duration(loop.backoff_s)} restarting failed container={container} "
            f"pod={pod}_{namespace}({uid})")
