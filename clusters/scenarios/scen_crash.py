"""Scenarios where the process itself dies: a release that panics, a poison message, a setting a
ConfigMap key no longer provides (the crash is only the symptom), a cache whose name stopped
resolving."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from . import faultlogs
from ._rand import Rand
from .baseline import add_configmap, healthy_deployment
from .behaviours import crash_log, run_crashloop
from .cluster import ClusterBuilder, Incident, PodRecord
from .events import Involved
from .faults import crash_alerts, deployment_alerts, minutes_ago, pick_app, stuck_rollout, variant

__all__ = ["app_crash_panic", "app_crash_traceback", "crash_missing_configmap_key", "dependency_dns"]

#: How long each runtime takes from exec to the failure at start-up.
RUN_S = {"go": (0.2, 0.9), "java": (8.0, 14.0), "python": (1.2, 2.6), "node": (0.5, 1.4)}


def _s(x: float) -> timedelta:
    return timedelta(seconds=x)


def bump(version: str, v: Rand) -> str:
    major, minor, _ = (int(x) for x in version.split("."))
    return f"{major}.{minor + 1}.{v.choice([0, 0, 1])}"


def app_crash_panic(cb: ClusterBuilder, *, seed: int = 0, app: str | None = None,
                    namespace: str | None = None) -> Incident:
    """A new release dereferences a client it never initialised: Go ``panic: runtime error: invalid
    memory address or nil pointer dereference`` (exit 2; an NPE/TypeError/AttributeError elsewhere)
    at start-up, while the previous ReplicaSet keeps serving."""
    v = variant("app_crash_panic", seed)
    spec = pick_app(v, ["cart", "catalog", "ledger", "auth"], app, namespace)
    released = spec.with_(version=bump(spec.version, v))
    where = v.choice(["pricing.Client", "ratelimit.Limiter", "audit.Publisher", "featureflags.Store"])
    inc = cb.incident("app_crash", "rollout", "Deployment", spec.namespace, spec.name, "app_crash_panic")
    at = minutes_ago(cb, 27, 42)
    code = 2 if spec.runtime == "go" else 1

    def run_new(pod: PodRecord, created: datetime) -> None:
        log = crash_log(faultlogs.startup_crash, cb.rng, where=where)
        loop = run_crashloop(cb, pod, released, start=created + _s(cb.rng.between(1.5, 4)), run_s=RUN_S[spec.runtime],
                             exit_code=code, reason="Error", log_fn=log, fresh_pull=True)
        crash_alerts(cb, inc, pod, loop, created)

    ro = stuck_rollout(cb, spec, released.template(), at=at, run_new=run_new, replicas=v.choice([3, 4]))
    deployment_alerts(cb, inc, ro.dep, mismatch_from=at + timedelta(minutes=10) if ro.short else None)
    inc.extra["replicaset"] = ro.new.name
    return inc


def app_crash_traceback(cb: ClusterBuilder, *, seed: int = 0, app: str | None = None,
                        namespace: str | None = None) -> Incident:
    """A Python queue consumer meets a message it cannot handle; the message is redelivered on every
    restart and every replica dies on it with the same traceback (exit 1). No change in the cluster."""
    v = variant("app_crash_traceback", seed)
    spec = pick_app(v, ["email-worker", "invoicing", "fraud-scoring"], app, namespace)
    which = v.randrange(3)
    inc = cb.incident("app_crash", "unknown", "Deployment", spec.namespace, spec.name, "app_crash_traceback")
    poisoned = minutes_ago(cb, 35, 52)
    firsts: list[datetime] = []

    def run(pod: PodRecord, started: datetime) -> None:
        log = crash_log(faultlogs.py_poison_message, cb.rng, which=which)
        loop = run_crashloop(cb, pod, spec, start=started, run_s=(1.4, 3.2), exit_code=1, reason="Error",
                             log_fn=log, healthy_until=poisoned + _s(cb.rng.between(0.5, 90)))
        crash_alerts(cb, inc, pod, loop, loop.first_crash)
        firsts.append(loop.first_crash)

    dep = healthy_deployment(cb, spec, run=run, finish=False, replicas=v.choice([2, 3]))
    dep.unavailable_since = min(firsts)
    dep.finish()
    deployment_alerts(cb, inc, dep, mismatch_from=dep.unavailable_since)
    return inc


def crash_missing_configmap_key(cb: ClusterBuilder, *, seed: int = 0, app: str | None = None,
                                namespace: str | None = None) -> Incident:
    """Red herring: the pods crash with a panic/traceback, but the cause is a ConfigMap key. The
    Deployment reads a setting with an *optional* ``configMapKeyRef``; someone renamed the key and
    ran ``kubectl rollout restart``, so the kubelet starts the new pods without the variable."""
    v = variant("crash_missing_configmap_key", seed)
    spec = pick_app(v, ["cart", "storefront", "tax-engine", "invoicing", "notifier"], app, namespace)
    var = v.choice(["RATES_API_URL", "SESSION_STORE_URL", "PRICING_SERVICE_URL", "QUEUE_URL"])
    cm = f"{spec.name}-settings"
    env: list[dict[str, Any]] = [*({"name": k, "value": val} for k, val in spec.env),
                                 {"name": var, "valueFrom": {"configMapKeyRef": {"name": cm, "key": var,
                                                                                 "optional": True}}}]
    base = spec.template(container=spec.container(env=env))
    inc = cb.incident("missing_secret_or_configmap", "config_change", "Deployment", spec.namespace, spec.name,
                      "crash_missing_configmap_key")
    at = minutes_ago(cb, 26, 40)
    edited = at - _s(cb.rng.between(40, 300))
    renamed = var.replace("_URL", "_ENDPOINT")
    add_configmap(cb, spec.namespace, cm, {"LOG_LEVEL": "info", "REGION": cb.profile.region,
                                           renamed: f"http://{var.split('_')[0].lower()}.platform.svc:8080"},
                  created=edited - timedelta(days=cb.rng.uniform(60, 300)))
    restarted = {"kubectl.kubernetes.io/restartedAt": (at - _s(2)).strftime("%Y-%m-%dT%H:%M:%SZ")}
    new = spec.template(container=spec.container(env=env), annotations=restarted)

    def run_new(pod: PodRecord, created: datetime) -> None:
        log = crash_log(faultlogs.missing_setting, cb.rng, var=var)
        loop = run_crashloop(cb, pod, spec, start=created + _s(1.5), run_s=RUN_S[spec.runtime],
                             exit_code=2 if spec.runtime == "go" else 1, reason="Error", log_fn=log)
        crash_alerts(cb, inc, pod, loop, created)

    ro = stuck_rollout(cb, spec, new, at=at, run_new=run_new, replicas=v.choice([3, 4]), old_template=base)
    deployment_alerts(cb, inc, ro.dep, mismatch_from=at + timedelta(minutes=10) if ro.short else None)
    inc.extra.update(replicaset=ro.new.name, configmap={"namespace": spec.namespace, "name": cm, "key": var})
    return inc




def dependency_dns(cb: ClusterBuilder, *, seed: int = 0, app: str | None = None,
                   namespace: str | None = None) -> Incident:
    """The app's Redis was uninstalled (its Service is gone): the name no longer resolves (NXDOMAIN)
    and the app, which needs its cache at start-up, crash-loops (``getaddrinfo ENOTFOUND``,
    ``UnknownHostException``, ``no such host``)."""
    v = variant("dependency_dns", seed)
    spec = pick_app(v, ["storefront", "checkout", "cart"], app, namespace)
    name = f"{spec.name}-redis-master"
    host = f"{name}.{spec.namespace}.svc.cluster.local"
    inc = cb.incident("dependency_unavailable", "unknown", "Deployment", spec.namespace, spec.name, "dependency_dns")
    gone = minutes_ago(cb, 36, 52)
    inc.extra["dependency"] = {"kind": "Service", "namespace": spec.namespace, "name": name}
    _uninstalled(cb, spec.namespace, name, gone)
    firsts: list[datetime] = []

    def run(pod: PodRecord, started: datetime) -> None:
        log = crash_log(faultlogs.dns_failure, cb.rng, host=host, port=6379, dns_ip=cb.profile.dns_ip)
        run_s = (5.0, 7.0) if spec.runtime != "java" else (10.0, 15.0)
        loop = run_crashloop(cb, pod, spec, start=started, run_s=run_s, exit_code=1, reason="Error", log_fn=log,
                             healthy_until=gone + _s(cb.rng.between(3, 60)))
        crash_alerts(cb, inc, pod, loop, loop.first_crash)
        firsts.append(loop.first_crash)

    dep = healthy_deployment(cb, spec, run=run, finish=False)
    dep.unavailable_since = min(firsts)
    dep.finish()
    deployment_alerts(cb, inc, dep, mismatch_from=dep.unavailable_since)
    return inc


def _uninstalled(cb: ClusterBuilder, ns: str, name: str, at: datetime) -> None:
    """``helm uninstall`` of the Redis release: its StatefulSet deletes the pod, the kubelet stops it."""
    sts = Involved("StatefulSet", name, cb.rng.uid(), ns, "apps/v1", cb.rv(at))
    cb.controller_event(sts, "statefulset-controller", "SuccessfulDelete",
                        f"delete Pod {name}-0 in StatefulSet {name} successful", first=at)
    pod = Involved("Pod", f"{name}-0", cb.rng.uid(), ns, resource_version=cb.rv(at))
    node = cb.place()
    for c in ("redis", "metrics"):
        cb.event(pod.container(c), "Killing", f"Stopping container {c}", component="kubelet", host=node.name,
                 first=at + _s(0.2))
