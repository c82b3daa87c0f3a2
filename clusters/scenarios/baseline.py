"""The healthy rest of a cluster, with the noise real clusters always have.

Every cluster gets a few ordinary services next to its scenarios, and among them:

* a Deployment an HPA scaled up a few minutes ago (fresh Scheduled/Pulled/Created/Started events and
  ``FailedGetResourceMetric`` warnings while the new pod has no metrics yet);
* a single ``Readiness probe failed`` on a healthy pod, most of an hour ago;
* a pod with many restarts long ago (``lastState`` from days back; sometimes even ``OOMKilled``),
  running fine since.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from . import k8s
from . import logs as applog
from .apps import APPS, AppSpec
from .behaviours import run_healthy
from .cluster import ClusterBuilder, PodRecord
from .events import Involved
from .podstatus import Instance, terminated
from .workload import Deployment

__all__ = ["add_app_objects", "add_baseline", "healthy_deployment"]


def add_app_objects(cb: ClusterBuilder, app: AppSpec, *, created: datetime) -> None:
    """The Service, ConfigMap and Secret that come with an app's Helm release."""
    ns = app.namespace
    labels = {**app.labels(), "app.kubernetes.io/managed-by": "Helm", "app.kubernetes.io/version": app.version}
    cb.add(ns, "services", k8s.service(
        app.name, ns, uid=cb.rng.uid(), rv=cb.rv(created), created=created, labels=labels,
        selector=app.labels(), ports=[{"name": "http", "protocol": "TCP", "port": 80, "targetPort": "http"}],
        cluster_ip=cb.service_ip(), annotations={"meta.helm.sh/release-name": app.name,
                                                 "meta.helm.sh/release-namespace": ns}))
    add_secret(cb, ns, f"sh.helm.release.v1.{app.name}.v{cb.rng.randrange(3, 40)}", ["release"],
               created=created, type_="helm.sh/release.v1", labels={"name": app.name, "owner": "helm",
                                                                     "status": "deployed"})


def add_configmap(cb: ClusterBuilder, ns: str, name: str, data: dict[str, str], *, created: datetime,
                  labels: dict[str, str] | None = None) -> None:
    if any(o["metadata"]["name"] == name for o in cb.objects[ns]["configmaps"]):
        return
    md = k8s.meta(name, namespace=ns, uid=cb.rng.uid(), rv=cb.rv(created), created=created, labels=labels)
    cb.add(ns, "configmaps", {"metadata": md, "data": data})


def add_secret(cb: ClusterBuilder, ns: str, name: str, keys: list[str], *, created: datetime,
               type_: str = "Opaque",
               labels: dict[str, str] | None = None) -> None:
    """Secret metadata only: the data keys are listed, every value is the empty string."""
    md = k8s.meta(name, namespace=ns, uid=cb.rng.uid(), rv=cb.rv(created), created=created, labels=labels)
    cb.add(ns, "secrets", {"metadata": md, "data": {k: "" for k in keys}, "type": type_})


def healthy_deployment(cb: ClusterBuilder, app: AppSpec, *, days: float | None = None,
                       replicas: int | None = None, template: dict[str, Any] | None = None,
                       run: Callable[[PodRecord, datetime], None] | None = None, finish: bool = True) -> Deployment:
    """An app that has run its current revision for days, with an older revision scaled to zero.

    ``run(pod, started)`` replaces the healthy behaviour of each pod; ``finish=False`` leaves the
    Deployment open for a rollout on top of it.
    """
    cb.namespace(app.namespace)
    replicas = replicas or app.replicas
    created = cb.now - timedelta(days=cb.rng.uniform(90, 400))
    dep = Deployment(cb, app.namespace, app.name, replicas=replicas, created=created, labels=app.labels(),
                     app=app)
    older = app.with_(version=_previous(app.version))
    rollout = cb.now - timedelta(days=days if days is not None else cb.rng.uniform(2, 20))
    number = cb.rng.randrange(3, 30)
    dep.revision(older.template(), created=rollout - timedelta(days=cb.rng.uniform(3, 30)), replicas=0,
                 number=number).scales = 1
    rev = dep.revision(template or app.template(), created=rollout, replicas=replicas, number=number + 1)
    for _ in range(replicas):
        start = rollout + timedelta(seconds=cb.rng.between(1, 90))
        pod = dep.pod(rev, created=start - timedelta(seconds=cb.rng.between(2, 5)))
        if run:
            run(pod, start)
        else:
            run_healthy(cb, pod, app, started=start)
    if finish:
        dep.finish()
    add_app_objects(cb, app, created=created)
    return dep


def _previous(version: str) -> str:
    major, minor, patch = (int(x) for x in version.split("."))
    return f"{major}.{minor}.{patch - 1}" if patch else f"{major}.{minor - 1}.{3 + minor % 5}" if minor else \
        f"{major - 1}.9.2"


def add_baseline(cb: ClusterBuilder, *, exclude: set[str], count: int = 5) -> None:
    """Healthy services not used by the cluster's scenarios, three of them carrying noise."""
    pool = [a for a in APPS.values() if a.name not in exclude and (a.namespace, a.name) not in cb.workloads]
    cb.rng.shuffle(pool)
    chosen = sorted(pool[:count], key=lambda a: a.name)
    for i, app in enumerate(chosen):
        if i == 0:
            _scaled_up(cb, app)
        elif i == 1:
            dep = healthy_deployment(cb, app)
            _one_probe_blip(cb, dep)
        elif i == 2:
            _old_restarts(cb, app)
        else:
            healthy_deployment(cb, app)


def _scaled_up(cb: ClusterBuilder, app: AppSpec) -> None:
    dep = healthy_deployment(cb, app, replicas=app.replicas)
    rev = dep.revisions[-1]
    at = cb.now - timedelta(minutes=cb.rng.uniform(6, 25))
    pod = dep.pod(rev, created=at)
    run_healthy(cb, pod, app, started=at + timedelta(seconds=cb.rng.between(2, 5)))
    dep.replicas += 1
    rev.replicas += 1
    dep.scaled(rev, at, dep.replicas - 1, dep.replicas)
    dep.pod_created_event(rev, pod)
    hpa = Involved("HorizontalPodAutoscaler", app.name, cb.rng.uid(), app.namespace, "autoscaling/v2")
    cb.controller_event(hpa, "horizontal-pod-autoscaler", "SuccessfulRescale",
                        f"New size: {dep.replicas}; reason: cpu resource utilization (percentage of request) above "
                        "target", first=at - timedelta(seconds=1))
    miss = "unable to get metrics for resource cpu: no metrics returned from resource metrics API"
    first, last = at + timedelta(seconds=15), at + timedelta(seconds=cb.rng.randrange(60, 100))
    cb.controller_event(hpa, "horizontal-pod-autoscaler", "FailedGetResourceMetric",
                        f"failed to get cpu utilization: {miss}", first=first, last=last, count=4, warning=True)
    cb.controller_event(hpa, "horizontal-pod-autoscaler", "FailedComputeMetricsReplicas",
                        "invalid metrics (1 invalid out of 1), first error is: failed to get cpu resource metric "
                        f"value: failed to get cpu utilization: {miss}", first=first, last=last, count=4,
                        warning=True)


def _one_probe_blip(cb: ClusterBuilder, dep: Deployment) -> None:
    pod = dep.revisions[-1].pods[0]
    spec = pod.obj["spec"]["containers"][0]
    probe = spec["readinessProbe"]["httpGet"]
    at = cb.now - timedelta(minutes=cb.rng.uniform(38, 56))
    msg = (f'Readiness probe failed: Get "http://{pod.ip}:{dep.app.port if dep.app else 8080}{probe["path"]}": '
           "context deadline exceeded (Client.Timeout exceeded while awaiting headers)")
    cb.kubelet_event(pod, "Unhealthy", msg, first=at, warning=True, container=spec["name"])


def _old_restarts(cb: ClusterBuilder, app: AppSpec) -> None:
    dep = healthy_deployment(cb, app, days=cb.rng.uniform(12, 30))
    pod = dep.revisions[-1].pods[-1]
    status = pod.obj["status"]["containerStatuses"][0]
    ended = cb.now - timedelta(days=cb.rng.uniform(3, 9), minutes=cb.rng.uniform(0, 600))
    inst = Instance(ended - timedelta(hours=cb.rng.uniform(2, 40)), ended, cb.rng.container_id())
    code, reason = cb.rng.choice([(1, "Error"), (255, "Unknown"), (137, "OOMKilled"), (143, "Error")])
    status["lastState"] = {"terminated": terminated(inst, exit_code=code, reason=reason)}
    status["restartCount"] = cb.rng.randrange(9, 40)
    started = ended + timedelta(seconds=cb.rng.between(1, 40))
    status["state"] = {"running": {"startedAt": started.strftime("%Y-%m-%dT%H:%M:%SZ")}}
    entries = applog.startup(app, started, cb.rng, pod=pod.name) + applog.traffic(
        app, cb.now - timedelta(minutes=15), cb.now, cb.rng, pod=pod.name)
    pod.logs[status["name"]] = applog.text(entries)
    before = applog.startup(app, inst.started, cb.rng, pod=pod.name) + applog.traffic(
        app, ended - timedelta(minutes=20), ended, cb.rng, pod=pod.name)
    pod.previous[status["name"]] = applog.text(before)
    for cond in pod.obj["status"]["conditions"]:
        if cond["type"] in ("Ready", "ContainersReady"):
            cond["lastTransitionTime"] = (started + timedelta(seconds=25)).strftime("%Y-%m-%dT%H:%M:%SZ")
