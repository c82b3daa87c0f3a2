"""Building blocks the scenarios share: a rolling update that gets stuck, failing image pulls,
and the alert bundles kube-prometheus fires for a broken workload."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ._rand import Rand, derive
from .apps import APPS, AppSpec
from .baseline import healthy_deployment
from .behaviours import log_error, run_waiting
from .cluster import ClusterBuilder, Incident, PodRecord
from .podstatus import CrashLoop
from .workload import Deployment, Revision

__all__ = ["Rollout", "crash_alerts", "deployment_alerts", "fit_error", "image_pull_failure", "minutes_ago",
           "pick_app", "stuck_rollout", "variant"]


def variant(name: str, seed: int) -> Rand:
    """The generator for a scenario's *content* (app, runtime flavour, bad value): it depends on the
    scenario and seed only, so the same fault rolled out to two clusters is the same change."""
    return derive("scenario", name, seed)


def pick_app(v: Rand, candidates: list[str], name: str | None, namespace: str | None) -> AppSpec:
    app = APPS[name] if name else APPS[v.choice(candidates)]
    return app.with_(namespace=namespace) if namespace else app


def minutes_ago(cb: ClusterBuilder, low: float, high: float) -> datetime:
    return cb.now - timedelta(minutes=cb.rng.uniform(low, high))


def crash_alerts(cb: ClusterBuilder, inc: Incident, pod: PodRecord, loop: CrashLoop, not_ready: datetime) -> None:
    container = pod.obj["spec"]["containers"][0]["name"]
    inc.add(cb.pod_alert("KubePodCrashLooping", pod, loop.first_wait_at_least(20), container=container,
                         reason="CrashLoopBackOff"),
            cb.pod_alert("KubePodNotReady", pod, not_ready))


def deployment_alerts(cb: ClusterBuilder, inc: Incident, dep: Deployment, *, mismatch_from: datetime | None) -> None:
    """ReplicasMismatch when availability is short, RolloutStuck once the progress deadline passed."""
    if mismatch_from is not None:
        inc.add(cb.object_alert("KubeDeploymentReplicasMismatch", mismatch_from, deployment=dep.name,
                                namespace=dep.namespace))
    if dep.deadline_at and dep.deadline_at < cb.now:
        inc.add(cb.object_alert("KubeDeploymentRolloutStuck", dep.deadline_at, condition="Progressing",
                                deployment=dep.name, namespace=dep.namespace, status="false"))


@dataclass
class Rollout:
    dep: Deployment
    old: Revision
    new: Revision
    pods: list[PodRecord]  # the new revision's pods
    at: datetime

    @property
    def short(self) -> bool:
        """Whether fewer pods than desired are available (ReplicasMismatch will fire)."""
        return len([p for p in self.old.pods if "deletionTimestamp" not in p.obj["metadata"]]) < self.dep.replicas


def _steps(replicas: int, surge: int, unavailable: int) -> list[tuple[str, int, int]]:
    """The deployment controller's scaling steps when no new pod ever becomes available."""
    old, new, steps = replicas, 0, []
    while True:
        up = replicas + surge - old - new
        if up > 0:
            steps.append(("new", new, new + up))
            new += up
            continue
        down = min(old, old - (replicas - unavailable))
        if down <= 0:
            return steps
        steps.append(("old", old, old - down))
        old -= down


def stuck_rollout(cb: ClusterBuilder, app: AppSpec, new_template: dict[str, Any], *, at: datetime,
                  replicas: int | None = None, run_new: Callable[[PodRecord, datetime], None],
                  old_template: dict[str, Any] | None = None, placed: bool = True) -> Rollout:
    """Roll ``app`` out to ``new_template`` at ``at``; the new pods never become available
    (``placed=False``: the scheduler found no node for them)."""
    replicas = replicas or app.replicas
    dep = healthy_deployment(cb, app, replicas=replicas, finish=False, template=old_template)
    old = dep.revisions[-1]
    new = dep.revision(new_template, created=at, replicas=0)
    dep.generation = new.number + cb.rng.randrange(0, 3)
    dep.start_rollout(at)
    surge = math.ceil(replicas * 0.25)
    unavailable = math.floor(replicas * 0.25) or (0 if surge else 1)
    t = at
    for which, frm, to in _steps(replicas, surge, unavailable):
        rev = new if which == "new" else old
        dep.scaled(rev, t, frm, to)
        rev.replicas = to
        if which == "old":
            for victim in sorted(old.pods, key=lambda p: p.obj["metadata"]["creationTimestamp"])[to:]:
                _delete(cb, dep, old, victim, t)
        t += timedelta(seconds=cb.rng.between(0.3, 1.5))
    pods = []
    for i in range(new.replicas):
        created = at + timedelta(seconds=0.2 + i * cb.rng.between(0.6, 1.6))
        pod = dep.pod(new, created=created, placed=placed)
        dep.pod_created_event(new, pod)
        run_new(pod, created)
        pods.append(pod)
    dep.finish()
    return Rollout(dep, old, new, pods, at)


def _delete(cb: ClusterBuilder, dep: Deployment, rev: Revision, pod: PodRecord, at: datetime) -> None:
    """An old pod scaled away: gone from the API, but its events outlive it."""
    rev.pods.remove(pod)
    cb.pods.remove(pod)
    dep.pod_deleted_event(rev, pod.name, at)
    c = pod.obj["spec"]["containers"][0]["name"]
    cb.kubelet_event(pod, "Killing", f"Stopping container {c}", first=at + timedelta(seconds=0.2), container=c)


def pull_backoff_times(start: datetime, now: datetime, rng: Rand) -> list[datetime]:
    """Image pull attempts: the kubelet's image back-off (10s doubling to 5m)."""
    out, t, wait = [], start + timedelta(seconds=rng.between(0.5, 1.5)), 10.0
    while t < now:
        out.append(t)
        t += timedelta(seconds=wait + rng.between(0.5, 3))
        wait = min(wait * 2, 300)
    return out


def image_pull_failure(cb: ClusterBuilder, pod: PodRecord, created: datetime, *, error: str) -> None:
    """A container whose image cannot be pulled: ``ImagePullBackOff`` and the kubelet's event trail."""
    spec = pod.obj["spec"]["containers"][0]
    c, image = spec["name"], spec["image"]
    run_waiting(cb, pod, reason="ImagePullBackOff", message=f'Back-off pulling image "{image}": ErrImagePull: {error}',
                log_error=log_error("ImagePullBackOff"))
    tries = pull_backoff_times(created, cb.now, cb.rng)
    n, first, last = len(tries), tries[0], tries[-1]
    for reason, msg, warn in (("Pulling", f'Pulling image "{image}"', False),
                              ("Failed", f'Failed to pull image "{image}": {error}', True),
                              ("Failed", "Error: ErrImagePull", True)):
        cb.kubelet_event(pod, reason, msg, first=first, last=last + timedelta(seconds=0.6), count=n, warning=warn,
                         container=c)
    backoffs = max(1, int((cb.now - first).total_seconds() / 14))
    recent = cb.now - timedelta(seconds=cb.rng.randrange(3, 40))
    cb.kubelet_event(pod, "BackOff", f'Back-off pulling image "{image}"', first=first + timedelta(seconds=1),
                     last=recent, count=backoffs, container=c)
    cb.kubelet_event(pod, "Failed", "Error: ImagePullBackOff", first=first + timedelta(seconds=1), last=recent,
                     count=backoffs, warning=True, container=c)


def pull_error(image: str, *, denied: bool) -> str:
    """containerd's error for a tag that does not exist, or a repository it may not read."""
    ref = image if "." in image.split("/")[0] else f"docker.io/{image}"
    if denied:
        return (f'rpc error: code = Unknown desc = failed to pull and unpack image "{ref}": failed to resolve '
                f'reference "{ref}": pull access denied, repository does not exist or may require authorization: '
                "server message: insufficient_scope: authorization failed")
    return (f'rpc error: code = NotFound desc = failed to pull and unpack image "{ref}": failed to resolve '
            f'reference "{ref}": {ref}: not found')


def fit_error(total: int, reasons: dict[str, int], *, prefilter: str | None = None) -> str:
    """The scheduler's ``FitError``: per-node reasons counted and sorted as strings, then the
    preemption post-filter (never helpful for these reasons). ``prefilter``: a PreFilter failure
    (e.g. unbound PVCs), which names no nodes."""
    body = prefilter or ", ".join(sorted(f"{n} {r}" for r, n in reasons.items() if n))
    return (f"0/{total} nodes are available: {body}. preemption: 0/{total} nodes are available: {total} Preemption "
            "is not helpful for scheduling.")
