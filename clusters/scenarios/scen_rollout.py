"""Scenarios set off by a change to a workload: a new Deployment or a new revision whose pods
cannot start (missing image, missing setting, missing Secret or ConfigMap)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from . import crashlogs
from ._rand import Rand
from .apps import AppSpec
from .baseline import add_app_objects, add_configmap, add_secret, healthy_deployment
from .behaviours import crash_log, log_error, run_crashloop, run_waiting
from .cluster import ClusterBuilder, Incident, PodRecord
from .faults import (
    crash_alerts,
    deployment_alerts,
    image_pull_failure,
    minutes_ago,
    pick_app,
    pull_error,
    stuck_rollout,
    variant,
)
from .workload import Deployment

__all__ = ["bad_rollout_config", "bad_rollout_image", "image_pull_error", "missing_configmap_key",
           "missing_configmap_volume", "missing_secret"]


def _s(x: float) -> timedelta:
    return timedelta(seconds=x)


def _bump(version: str, v: Rand) -> str:
    major, minor, _ = (int(x) for x in version.split("."))
    return f"{major}.{minor + 1}.{v.choice([0, 0, 1])}"


def image_pull_error(cb: ClusterBuilder, *, seed: int = 0, app: str | None = None,
                     namespace: str | None = None) -> Incident:
    """A brand-new Deployment whose image cannot be pulled (tag missing, or a repository the
    cluster may not read): every pod sits in ImagePullBackOff."""
    v = variant("image_pull_error", seed)
    spec = pick_app(v, ["report-builder", "email-worker", "notifier", "fraud-scoring"], app, namespace)
    denied = v.random() < 0.4
    image = f"northwind/{spec.name}:{spec.version}" if denied else f"{spec.image.rsplit(':', 1)[0]}:{_bump(spec.version, v)}"
    inc = cb.incident("image_pull_error", "rollout", "Deployment", spec.namespace, spec.name, "image_pull_error")
    at = minutes_ago(cb, 27, 45)
    replicas = v.choice([2, 3])
    dep = Deployment(cb, spec.namespace, spec.name, replicas=replicas, created=at, labels=spec.labels(), app=spec,
                     generation=1)
    rev = dep.revision(spec.template(container=spec.container(image=image)), created=at, replicas=replicas)
    dep.start_rollout(at)
    dep.scaled(rev, at, 0, replicas)
    for i in range(replicas):
        created = at + _s(0.3 + 0.4 * i)
        pod = dep.pod(rev, created=created)
        dep.pod_created_event(rev, pod)
        image_pull_failure(cb, pod, created, error=pull_error(image, denied=denied))
        inc.add(cb.pod_alert("KubePodNotReady", pod, created))
    dep.finish()
    add_app_objects(cb, spec, created=at)
    deployment_alerts(cb, inc, dep, mismatch_from=at + timedelta(minutes=10))
    return inc


def bad_rollout_image(cb: ClusterBuilder, *, seed: int = 0, app: str | None = None,
                      namespace: str | None = None) -> Incident:
    """A new revision points at a tag that was never pushed (``v2.14.0`` for ``2.14.0``, a typo);
    the old ReplicaSet keeps serving."""
    v = variant("bad_rollout_image", seed)
    spec = pick_app(v, ["checkout", "payments-api", "catalog", "storefront", "auth"], app, namespace)
    good = _bump(spec.version, v)
    tag = v.choice([f"v{good}", good.replace(".", "-", 1), f"{good}-rc.1"])
    image = f"{spec.image.rsplit(':', 1)[0]}:{tag}"
    inc = cb.incident("image_pull_error", "rollout", "Deployment", spec.namespace, spec.name, "bad_rollout_image")
    at = minutes_ago(cb, 28, 40)

    def run_new(pod: PodRecord, created: datetime) -> None:
        image_pull_failure(cb, pod, created, error=pull_error(image, denied=False))
        inc.add(cb.pod_alert("KubePodNotReady", pod, created))

    ro = stuck_rollout(cb, spec, spec.template(container=spec.container(image=image)), at=at, run_new=run_new,
                       replicas=v.choice([3, 4]))
    deployment_alerts(cb, inc, ro.dep, mismatch_from=at + timedelta(minutes=10) if ro.short else None)
    inc.extra["replicaset"] = ro.new.name
    return inc


def _drop_env(spec: AppSpec, v: Rand) -> tuple[dict[str, Any], dict[str, Any], str, str, AppSpec]:
    """(old template, new template, removed variable, flavour, new app) for a config-losing release."""
    env = [{"name": k, "value": val} for k, val in spec.env]
    required = next((k for k, _ in spec.env if k.endswith("_URL") or k.endswith("_HOST")), None)
    if required is None:
        required = v.choice(["UPSTREAM_API_URL", "TOKEN_ISSUER_URL", "QUEUE_URL"])
        env.append({"name": required, "value": f"http://{required.split('_')[0].lower()}.platform:8080"})
    new_spec = spec.with_(version=_bump(spec.version, v))
    old = spec.template(container=spec.container(env=env))
    new_env = [e for e in env if e["name"] != required]
    flavour = "flag" if spec.runtime == "go" and v.random() < 0.4 else "env"
    if flavour == "flag":
        container = new_spec.container(env=env, args=[f"-listen-addr=:{spec.port}"])
    else:
        container = new_spec.container(env=new_env, env_from=[{"configMapRef": {"name": f"{spec.name}-env"}}])
    return old, new_spec.template(container=container), required, flavour, new_spec


def bad_rollout_config(cb: ClusterBuilder, *, seed: int = 0, app: str | None = None,
                       namespace: str | None = None) -> Incident:
    """A new revision moved settings into a ConfigMap and lost one required variable (or passes a
    flag the binary does not know): new pods exit 1 (2 for a bad flag) at start-up."""
    v = variant("bad_rollout_config", seed)
    spec = pick_app(v, ["checkout", "ledger", "invoicing", "notifier", "auth"], app, namespace)
    old, new, var, flavour, released = _drop_env(spec, v)
    inc = cb.incident("config_error", "rollout", "Deployment", spec.namespace, spec.name, "bad_rollout_config")
    at = minutes_ago(cb, 28, 40)
    if flavour == "env":
        keys = {e["name"]: e["value"] for e in new["spec"]["containers"][0].get("env", [])}
        add_configmap(cb, spec.namespace, f"{spec.name}-env", {"LOG_LEVEL": "info", "LOG_FORMAT": "json",
                                                               **{k: keys[k] for k in list(keys)[:1]}},
                      created=at - _s(20))
    run_s = (8.0, 13.0) if spec.runtime == "java" else (0.2, 1.2)
    code = 2 if flavour == "flag" else 1

    def run_new(pod: PodRecord, created: datetime) -> None:
        if flavour == "flag":
            log = crash_log(crashlogs.bad_flag, cb.rng, flag="listen-addr")
        else:
            log = crash_log(crashlogs.missing_env, cb.rng, var=var)
        loop = run_crashloop(cb, pod, released, start=created + _s(cb.rng.between(1.5, 4)), run_s=run_s,
                             exit_code=code, reason="Error", log_fn=log, fresh_pull=True)
        crash_alerts(cb, inc, pod, loop, created)

    ro = stuck_rollout(cb, spec, new, at=at, run_new=run_new, replicas=v.choice([4, 4, 3]), old_template=old)
    deployment_alerts(cb, inc, ro.dep, mismatch_from=at + timedelta(minutes=10) if ro.short else None)
    inc.extra["replicaset"] = ro.new.name
    return inc


def _config_error(cb: ClusterBuilder, pod: PodRecord, created: datetime, message: str) -> None:
    """``CreateContainerConfigError``: the kubelet retries each sync, re-checking the image each time."""
    spec = pod.obj["spec"]["containers"][0]
    run_waiting(cb, pod, reason="CreateContainerConfigError", message=message,
                log_error=log_error("CreateContainerConfigError"))
    first = created + _s(cb.rng.between(1.5, 3))
    n = max(2, int((cb.now - first).total_seconds() / 38))
    last = cb.now - _s(cb.rng.randrange(5, 40))
    cb.kubelet_event(pod, "Pulled", f'Container image "{spec["image"]}" already present on machine', first=first,
                     last=last, count=n, container=spec["name"])
    cb.kubelet_event(pod, "Failed", f"Error: {message}", first=first, last=last, count=n, warning=True,
                     container=spec["name"])


def missing_secret(cb: ClusterBuilder, *, seed: int = 0, app: str | None = None,
                   namespace: str | None = None) -> Incident:
    """A new revision reads a password from a Secret under a new name that was never created."""
    v = variant("missing_secret", seed)
    spec = pick_app(v, ["invoicing", "ledger", "accounts", "payments-api", "tax-engine"], app, namespace)
    existing = f"{spec.name}-db"
    wanted = v.choice([f"{spec.name}-db-credentials", f"{spec.namespace}-db", f"{spec.name}-postgres"])
    env: list[dict[str, Any]] = [{"name": k, "value": val} for k, val in spec.env]
    old_env = [*env, {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": existing, "key": "password"}}}]
    new_env = [*env, {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": wanted, "key": "password"}}}]
    old = spec.template(container=spec.container(env=old_env))
    released = spec.with_(version=_bump(spec.version, v))
    new = released.template(container=released.container(env=new_env))
    inc = cb.incident("missing_secret_or_configmap", "rollout", "Deployment", spec.namespace, spec.name,
                      "missing_secret")
    at = minutes_ago(cb, 28, 40)
    add_secret(cb, spec.namespace, existing, ["password", "username"], created=at - timedelta(days=120))

    def run_new(pod: PodRecord, created: datetime) -> None:
        _config_error(cb, pod, created, f'secret "{wanted}" not found')
        inc.add(cb.pod_alert("KubePodNotReady", pod, created))

    ro = stuck_rollout(cb, spec, new, at=at, run_new=run_new, replicas=v.choice([3, 4]), old_template=old)
    deployment_alerts(cb, inc, ro.dep, mismatch_from=at + timedelta(minutes=10) if ro.short else None)
    inc.extra["replicaset"] = ro.new.name
    return inc


def missing_configmap_key(cb: ClusterBuilder, *, seed: int = 0, app: str | None = None,
                          namespace: str | None = None) -> Incident:
    """A key was removed from a ConfigMap the pods read with ``configMapKeyRef``; running pods do
    not notice, but the one pod recreated since cannot start."""
    v = variant("missing_configmap_key", seed)
    spec = pick_app(v, ["tax-engine", "accounts", "cart", "storefront"], app, namespace)
    cm, key = f"{spec.name}-settings", v.choice(["FEATURE_FLAGS_URL", "RATES_API_URL", "SESSION_STORE_URL"])
    env: list[dict[str, Any]] = [*({"name": k, "value": val} for k, val in spec.env),
                                 {"name": key, "valueFrom": {"configMapKeyRef": {"name": cm, "key": key}}}]
    template = spec.template(container=spec.container(env=env))
    inc = cb.incident("missing_secret_or_configmap", "config_change", "Deployment", spec.namespace, spec.name,
                      "missing_configmap_key")
    edited = minutes_ago(cb, 40, 55)
    add_configmap(cb, spec.namespace, cm, {"LOG_LEVEL": "info", "REGION": cb.profile.region}, created=edited
                  - timedelta(days=200))
    dep = healthy_deployment(cb, spec, template=template, finish=False)
    rev = dep.revisions[-1]
    gone = rev.pods.pop(cb.rng.randrange(len(rev.pods)))
    cb.pods.remove(gone)
    at = edited + timedelta(minutes=cb.rng.uniform(6, 12))
    c = spec.name
    cb.kubelet_event(gone, "Killing", f"Stopping container {c}", first=at, container=c)
    pod = dep.pod(rev, created=at + _s(0.4))
    dep.pod_created_event(rev, pod)
    _config_error(cb, pod, at + _s(0.4), f"couldn't find key {key} in ConfigMap {spec.namespace}/{cm}")
    inc.add(cb.pod_alert("KubePodNotReady", pod, at))
    dep.unavailable_since = at
    dep.finish()
    deployment_alerts(cb, inc, dep, mismatch_from=at)
    return inc


def missing_configmap_volume(cb: ClusterBuilder, *, seed: int = 0, app: str | None = None,
                             namespace: str | None = None) -> Incident:
    """A new revision mounts a ConfigMap that does not exist: pods stay ``ContainerCreating`` with
    ``FailedMount`` for over an hour (so KubeContainerWaiting fires too)."""
    v = variant("missing_configmap_volume", seed)
    spec = pick_app(v, ["search-api", "report-builder", "notifier", "catalog"], app, namespace)
    wanted = v.choice([f"{spec.name}-config", f"{spec.name}-rules", f"{spec.name}-templates"])
    mount = [{"name": "config", "readOnly": True, "mountPath": f"/etc/{spec.name}"}]
    vol = [{"name": "config", "configMap": {"name": wanted, "defaultMode": 420}}]
    new = spec.template(container=spec.container(mounts=mount), volumes=vol)
    inc = cb.incident("missing_secret_or_configmap", "rollout", "Deployment", spec.namespace, spec.name,
                      "missing_configmap_volume")
    at = minutes_ago(cb, 66, 80)
    add_configmap(cb, spec.namespace, f"{spec.name}-settings", {"settings.yaml": "log_level: info\n"},
                  created=at - timedelta(days=90))

    def run_new(pod: PodRecord, created: datetime) -> None:
        run_waiting(cb, pod, reason="ContainerCreating", message=None, sandbox=False,
                    log_error=log_error("ContainerCreating"))
        first = created + _s(cb.rng.between(0.5, 1.5))
        n = 7 + int((cb.now - first).total_seconds() / 122)
        cb.kubelet_event(pod, "FailedMount", f'MountVolume.SetUp failed for volume "config" : configmap "{wanted}" '
                         "not found", first=first, last=cb.now - _s(cb.rng.randrange(5, 120)), count=n, warning=True)
        inc.add(cb.pod_alert("KubePodNotReady", pod, created))
        inc.add(cb.pod_alert("KubeContainerWaiting", pod, created, container=spec.name, reason="ContainerCreating"))

    ro = stuck_rollout(cb, spec, new, at=at, run_new=run_new, replicas=v.choice([3, 4]))
    deployment_alerts(cb, inc, ro.dep, mismatch_from=at + timedelta(minutes=10) if ro.short else None)
    inc.extra["replicaset"] = ro.new.name
    return inc

