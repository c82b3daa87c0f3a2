"""A CronJob's Job that gives up after its back-off limit, and a service slowed down by its CPU limit.

A dump holds no Jobs or CronJobs; the Job is written to the ``jobs.json`` side file
(``clusters/DUMP_FORMAT.md``), and everything the engine needs is also in the pods'
``ownerReferences`` and the job-controller's events.
"""

from __future__ import annotations

import copy
from datetime import datetime, timedelta
from typing import Any

from . import faultlogs, k8s
from . import logs as applog
from ._time import rfc3339
from .apps import AppSpec
from .baseline import healthy_deployment
from .behaviours import run_healthy, set_status, start_events
from .cluster import ClusterBuilder, Incident, PodRecord
from .events import Involved
from .faults import minutes_ago, pick_app, variant
from .podstatus import Instance, condition, container_status, image_status, terminated
from .workload import new_pod

__all__ = ["cpu_throttling", "job_failed"]


def _s(x: float) -> timedelta:
    return timedelta(seconds=x)


def job_failed(cb: ClusterBuilder, *, seed: int = 0, app: str | None = None,
               namespace: str | None = None) -> Incident:
    """Last night's export (a CronJob) checks its own output and exits 1 on every attempt; after
    ``backoffLimit`` retries the Job fails with ``BackoffLimitExceeded`` and ``KubeJobFailed`` fires
    for the CronJob's child (``job_name=<cronjob>-<minutes since epoch>``)."""
    v = variant("job_failed", seed)
    spec = pick_app(v, ["invoicing", "report-builder", "fraud-scoring", "email-worker"], app, namespace)
    cron = f"{spec.name}-export"
    which, limit = v.randrange(3), v.choice([2, 3, 4])
    scheduled = minutes_ago(cb, 44, 56).replace(second=0, microsecond=0)
    job = f"{cron}-{int(scheduled.timestamp()) // 60}"
    inc = cb.incident("job_failed", "unknown", "Job", spec.namespace, job, "job_failed")
    cron_uid = cb.rng.uid()
    _succeeded_yesterday(cb, spec, cron, cron_uid, scheduled - timedelta(days=1))
    batch = _Job(cb, spec, cron, cron_uid, job, scheduled, limit)
    t = scheduled + _s(cb.rng.between(0.3, 1.2))
    for attempt in range(limit + 1):
        end = t + _s(cb.rng.between(35, 110))
        batch.failed_pod(t, end, which)
        t = end + _s(10 * 2 ** attempt + cb.rng.between(0.5, 2))
    failed_at = end + _s(cb.rng.between(0.2, 1))
    batch.finish(failed_at)
    inc.add(cb.object_alert("KubeJobFailed", failed_at, condition="true", job_name=job, namespace=spec.namespace))
    inc.extra["cronjob"] = cron
    return inc


def _job_template(spec: AppSpec, labels: dict[str, str]) -> dict[str, Any]:
    c = k8s.container("export", spec.image, command=["python", "-m", f"{spec.name.replace('-', '_')}.export"],
                      args=["--partition=yesterday"], env=[{"name": k, "value": val} for k, val in spec.env],
                      resources={"limits": {"memory": spec.memory}, "requests": {"cpu": "200m", "memory": spec.memory}})
    tpl = k8s.template_spec([c], service_account=spec.name)
    tpl["restartPolicy"] = "Never"
    return {"metadata": {"creationTimestamp": None, "labels": labels}, "spec": tpl}


class _Job:
    """One Job of the CronJob, its pods and its events."""

    def __init__(self, cb: ClusterBuilder, spec: AppSpec, cron: str, cron_uid: str, name: str, at: datetime,
                 limit: int) -> None:
        self.cb, self.spec, self.name, self.at, self.limit = cb, spec, name, at, limit
        self.uid = cb.rng.uid()
        self.labels = {"batch.kubernetes.io/controller-uid": self.uid, "batch.kubernetes.io/job-name": name,
                       "controller-uid": self.uid, "job-name": name}
        self.template = _job_template(spec, self.labels)
        self.owner = {**k8s.owner_ref("CronJob", cron, cron_uid, "batch/v1")}
        self.cron = Involved("CronJob", cron, cron_uid, spec.namespace, "batch/v1")
        self.pods: list[PodRecord] = []
        cb.controller_event(self.cron, "cronjob-controller", "SuccessfulCreate", f"Created job {name}", first=at)

    def involved(self) -> Involved:
        return Involved("Job", self.name, self.uid, self.spec.namespace, "batch/v1", self.cb.rv(self.at))

    def failed_pod(self, created: datetime, end: datetime, which: int) -> PodRecord:
        cb = self.cb
        pod = new_pod(cb, self.spec.namespace, f"{self.name}-{cb.rng.suffix()}", self.template, node=cb.place(created),
                      created=created, owner=k8s.owner_ref("Job", self.name, self.uid, "batch/v1"),
                      generate_name=f"{self.name}-")
        cb.controller_event(self.involved(), "job-controller", "SuccessfulCreate", f"Created pod: {pod.name}",
                            first=created)
        started = created + _s(cb.rng.between(1.5, 4))
        c = pod.obj["spec"]["containers"][0]
        start_events(cb, pod, c, created, started, fresh_pull=False)
        inst = Instance(started, end, cb.rng.container_id())
        img, img_id = image_status(c["image"])
        status = container_status(c, state={"terminated": terminated(inst, exit_code=1, reason="Error")}, ready=False,
                                  image=img, image_id=img_id, container_id=inst.container_id, started=False,
                                  minor=cb.profile.minor, pod_security=pod.obj["spec"].get("securityContext"))
        stop = end + _s(1)
        conds = [condition("PodReadyToStartContainers", False, stop), condition("Initialized", True, created + _s(1)),
                 condition("Ready", False, stop, "PodFailed"), condition("ContainersReady", False, stop, "PodFailed"),
                 condition("PodScheduled", True, created)]
        set_status(cb, pod, phase="Failed", conditions=conds, statuses=[status], started=created + _s(1))
        pod.logs["export"] = applog.text(faultlogs.batch_failure(self.spec, started, end, cb.rng, pod=pod.name,
                                                                 job=self.name, which=which))
        self.pods.append(pod)
        return pod

    def finish(self, failed_at: datetime) -> None:
        cb = self.cb
        cb.controller_event(self.involved(), "job-controller", "BackoffLimitExceeded",
                            "Job has reached the specified backoff limit", first=failed_at, warning=True)
        cb.controller_event(self.cron, "cronjob-controller", "SawCompletedJob",
                            f"Saw completed job: {self.name}, condition: Failed", first=failed_at + _s(0.4))
        cond = {"status": "True", "lastProbeTime": rfc3339(failed_at), "lastTransitionTime": rfc3339(failed_at),
                "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit"}
        status = {"conditions": [{"type": "FailureTarget", **cond}, {"type": "Failed", **cond}],
                  "startTime": rfc3339(self.at), "failed": len(self.pods), "terminating": 0,
                  "uncountedTerminatedPods": {}, "ready": 0}
        _write_job(cb, self.spec.namespace, self.name, self.uid, self.at, self.labels, self.owner, self.template,
                   status, backoff=self.limit)


def _write_job(cb: ClusterBuilder, ns: str, name: str, uid: str, at: datetime, labels: dict[str, str],
               owner: dict[str, Any], template: dict[str, Any], status: dict[str, Any], *, backoff: int) -> None:
    md = k8s.meta(name, namespace=ns, uid=uid, rv=cb.rv(cb.now - _s(30)), created=at, labels=labels,
                  annotations={"batch.kubernetes.io/cronjob-scheduled-timestamp": rfc3339(at)}, generation=1,
                  ownerReferences=[owner])
    spec = {"parallelism": 1, "completions": 1, "backoffLimit": backoff,
            "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}, "manualSelector": False,
            "template": copy.deepcopy(template), "completionMode": "NonIndexed", "suspend": False,
            "podReplacementPolicy": "TerminatingOrFailed"}
    cb.add(ns, "jobs", {"metadata": md, "spec": spec, "status": status})


def _succeeded_yesterday(cb: ClusterBuilder, spec: AppSpec, cron: str, cron_uid: str, at: datetime) -> None:
    """The previous run, kept by ``successfulJobsHistoryLimit``: one Succeeded pod, no events left."""
    name = f"{cron}-{int(at.timestamp()) // 60}"
    uid = cb.rng.uid()
    labels = {"batch.kubernetes.io/controller-uid": uid, "batch.kubernetes.io/job-name": name,
              "controller-uid": uid, "job-name": name}
    tpl = _job_template(spec, labels)
    created = at + _s(cb.rng.between(0.3, 1.2))
    pod = new_pod(cb, spec.namespace, f"{name}-{cb.rng.suffix()}", tpl, node=cb.place(created), created=created,
                  owner=k8s.owner_ref("Job", name, uid, "batch/v1"), generate_name=f"{name}-")
    started, end = created + _s(3), created + _s(cb.rng.between(60, 140))
    inst = Instance(started, end, cb.rng.container_id())
    c = pod.obj["spec"]["containers"][0]
    img, img_id = image_status(c["image"])
    st = container_status(c, state={"terminated": terminated(inst, exit_code=0, reason="Completed")}, ready=False,
                          image=img, image_id=img_id, container_id=inst.container_id, started=False,
                          minor=cb.profile.minor, pod_security=pod.obj["spec"].get("securityContext"))
    conds = [condition("PodReadyToStartContainers", False, end + _s(1)), condition("Initialized", True, created),
             condition("Ready", False, end + _s(1), "PodCompleted"),
             condition("ContainersReady", False, end + _s(1), "PodCompleted"), condition("PodScheduled", True, created)]
    set_status(cb, pod, phase="Succeeded", conditions=conds, statuses=[st], started=created + _s(1))
    pod.logs["export"] = ""
    done = end + _s(1)
    cond = {"status": "True", "lastProbeTime": rfc3339(done), "lastTransitionTime": rfc3339(done)}
    status = {"conditions": [{"type": "SuccessCriteriaMet", **cond}, {"type": "Complete", **cond}],
              "startTime": rfc3339(at), "completionTime": rfc3339(done), "succeeded": 1, "terminating": 0,
              "uncountedTerminatedPods": {}, "ready": 0}
    _write_job(cb, spec.namespace, name, uid, at, labels, k8s.owner_ref("CronJob", cron, cron_uid, "batch/v1"), tpl,
               status, backoff=3)


def cpu_throttling(cb: ClusterBuilder, *, seed: int = 0, app: str | None = None,
                   namespace: str | None = None) -> Incident:
    """Traffic grew and a service hit its CPU limit: cadvisor reports most CFS periods throttled
    (``CPUThrottlingHigh``), requests get slow, readiness probes time out and some pods stay
    unready; nothing crashes and nothing restarts."""
    v = variant("cpu_throttling", seed)
    spec = pick_app(v, ["checkout", "search-api", "catalog", "tax-engine", "auth"], app, namespace)
    limit = "500m" if spec.runtime == "java" else "200m"
    since = minutes_ago(cb, 40, 55)
    inc = cb.incident("cpu_throttling", "unknown", "Deployment", spec.namespace, spec.name, "cpu_throttling")
    container = spec.container()
    container["livenessProbe"].update(timeoutSeconds=5, failureThreshold=6)
    container["resources"] = {"limits": {"cpu": limit, "memory": spec.memory},
                              "requests": {"cpu": "250m" if spec.runtime == "java" else "100m", "memory": spec.memory}}
    tpl = spec.template(container=container)
    replicas = v.choice([3, 4])
    stuck = v.choice([1, 2])
    pods: list[PodRecord] = []

    def run(pod: PodRecord, started: datetime) -> None:
        run_healthy(cb, pod, spec, started=started)
        pod.logs[spec.name] = applog.text(faultlogs.throttled(spec, started, cb.now, cb.rng, pod=pod.name))
        pods.append(pod)

    dep = healthy_deployment(cb, spec, template=tpl, run=run, finish=False, replicas=replicas)
    for i, pod in enumerate(pods):
        _throttled(cb, inc, spec, pod, since, unready=i < stuck)
    dep.unavailable_since = since + timedelta(minutes=cb.rng.uniform(1, 4))
    dep.finish()
    inc.add(cb.object_alert("KubeDeploymentReplicasMismatch", dep.unavailable_since, deployment=spec.name,
                            namespace=spec.namespace))
    return inc


def _throttled(cb: ClusterBuilder, inc: Incident, spec: AppSpec, pod: PodRecord, since: datetime, *,
               unready: bool) -> None:
    node = pod.node
    assert node is not None
    share = cb.rng.uniform(0.55, 0.93)
    inc.add(cb.alert("CPUThrottlingHigh", {"container": spec.name, "instance": f"{node.ip}:10250",
                                           "namespace": spec.namespace, "pod": pod.name,
                                           "service": "kube-prometheus-stack-kubelet"},
                     since + _s(cb.rng.between(0, 120)), value=f"{share * 100:.4g}%"))
    msg = (f'Readiness probe failed: Get "http://{pod.ip}:{spec.port}{spec.ready_path}": context deadline exceeded '
           "(Client.Timeout exceeded while awaiting headers)")
    first = since + _s(cb.rng.between(30, 240))
    if not unready:
        cb.kubelet_event(pod, "Unhealthy", msg, first=first, last=cb.now - _s(cb.rng.between(30, 600)),
                         count=cb.rng.randrange(4, 14), warning=True, container=spec.name)
        return
    cb.kubelet_event(pod, "Unhealthy", msg, first=first, last=cb.now - _s(cb.rng.between(1, 6)),
                     count=int((cb.now - first).total_seconds() / 5), warning=True, container=spec.name)
    for cond in pod.obj["status"]["conditions"]:
        if cond["type"] in ("Ready", "ContainersReady"):
            cond.update(status="False", lastTransitionTime=rfc3339(first + _s(10)), reason="ContainersNotReady",
                        message=f"containers with unready status: [{spec.name}]")
    pod.obj["status"]["containerStatuses"][0]["ready"] = False
    inc.add(cb.pod_alert("KubePodNotReady", pod, first + _s(10)))
