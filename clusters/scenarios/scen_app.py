"""Scenarios where a running service breaks without a new image: memory, probes, configuration,
a dependency that went away."""

from __future__ import annotations

from datetime import datetime, timedelta

from . import crashlogs, k8s
from .apps import AppSpec
from .baseline import add_configmap, healthy_deployment
from .behaviours import crash_log, run_crashloop, run_healthy
from .cluster import ClusterBuilder, Incident, PodRecord
from .controllers import stateful_pod
from .events import Involved
from .faults import crash_alerts, deployment_alerts, minutes_ago, pick_app, stuck_rollout, variant

__all__ = ["config_error", "dependency_unavailable", "oom_killed", "probe_failure"]


def _s(x: float) -> timedelta:
    return timedelta(seconds=x)


def oom_killed(cb: ClusterBuilder, *, seed: int = 0, app: str | None = None, namespace: str | None = None) -> Incident:
    """Every replica is OOMKilled (137) while warming its cache; the log just stops.

    Red herring: liveness probe timeouts while the JVM/GC thrashes just before a kill.
    """
    v = variant("oom_killed", seed)
    spec = pick_app(v, ["payments-api", "tax-engine", "catalog", "cart", "accounts"], app, namespace)
    spec = spec.with_(memory=v.choice(["256Mi", "384Mi"] if spec.runtime == "java" else ["128Mi", "192Mi"]))
    heap = spec.runtime == "java" and v.random() < 0.5
    run_s = (16.0, 26.0) if spec.runtime == "java" else (5.0, 14.0)
    inc = cb.incident("oom_killed", "unknown", "Deployment", spec.namespace, spec.name, "oom_killed")
    onset = minutes_ago(cb, 36, 52)
    loops: list[tuple[PodRecord, datetime]] = []

    def run(pod: PodRecord, started: datetime) -> None:
        until = onset + _s(cb.rng.between(0, 240))
        log = crash_log(crashlogs.oom_tail, cb.rng, heap=heap)
        loop = run_crashloop(cb, pod, spec, start=started, run_s=run_s, exit_code=137, reason="OOMKilled",
                             log_fn=log, healthy_until=until)
        crash_alerts(cb, inc, pod, loop, loop.first_crash)
        _liveness_herring(cb, pod, loop.first_crash)
        loops.append((pod, loop.first_crash))

    dep = healthy_deployment(cb, spec, run=run, finish=False, replicas=v.choice([2, 3]))
    dep.unavailable_since = min(t for _, t in loops)
    dep.finish()
    deployment_alerts(cb, inc, dep, mismatch_from=dep.unavailable_since)
    return inc


def _liveness_herring(cb: ClusterBuilder, pod: PodRecord, crash: datetime) -> None:
    spec = pod.obj["spec"]["containers"][0]
    probe = spec["livenessProbe"]["httpGet"]
    msg = (f'Liveness probe failed: Get "http://{pod.ip}:{spec["ports"][0]["containerPort"]}{probe["path"]}": '
           "context deadline exceeded (Client.Timeout exceeded while awaiting headers)")
    cb.kubelet_event(pod, "Unhealthy", msg, first=crash - _s(cb.rng.between(21, 35)), last=crash - _s(11),
                     count=2, warning=True, container=spec["name"])


def probe_failure(cb: ClusterBuilder, *, seed: int = 0, app: str | None = None,
                  namespace: str | None = None) -> Incident:
    """The process runs, but its liveness probe fails (500 or a 1s timeout) and the kubelet keeps
    killing it (exit 143/0/137, never OOMKilled); variant: readiness fails and pods stay unready."""
    v = variant("probe_failure", seed)
    spec = pick_app(v, ["cart", "auth", "notifier", "accounts", "storefront"], app, namespace)
    mode = v.choice(["timeout", "status500", "readiness"])
    inc = cb.incident("probe_failure", "unknown", "Deployment", spec.namespace, spec.name, "probe_failure")
    onset = minutes_ago(cb, 34, 50)
    firsts: list[datetime] = []

    def run(pod: PodRecord, started: datetime) -> None:
        if mode == "readiness":
            firsts.append(_readiness_stuck(cb, pod, spec, started, onset + _s(cb.rng.between(0, 90))))
            inc.add(cb.pod_alert("KubePodNotReady", pod, firsts[-1]))
            return
        firsts.append(_liveness_loop(cb, inc, pod, spec, started, onset + _s(cb.rng.between(0, 200)), mode))

    dep = healthy_deployment(cb, spec, run=run, finish=False)
    dep.unavailable_since = min(firsts)
    dep.finish()
    deployment_alerts(cb, inc, dep, mismatch_from=dep.unavailable_since)
    return inc


def _liveness_loop(cb: ClusterBuilder, inc: Incident, pod: PodRecord, spec: AppSpec, started: datetime, until: datetime,
                   mode: str) -> datetime:
    probe = spec.container()["livenessProbe"]
    fails = probe["periodSeconds"] * probe["failureThreshold"]
    graceful = spec.runtime != "node"
    kill = 30.0 if not graceful else 0.8
    code, reason = (137, "Error") if not graceful else ((143, "Error") if spec.runtime == "java" else (0, "Completed"))
    run_s = (probe.get("initialDelaySeconds", 0) + fails + kill, probe.get("initialDelaySeconds", 0) + fails + kill + 6)
    log = crash_log(crashlogs.probe_killed, cb.rng, graceful=graceful, slow_health=mode == "timeout")
    loop = run_crashloop(cb, pod, spec, start=started, run_s=run_s, exit_code=code, reason=reason, log_fn=log,
                         healthy_until=until)
    c = spec.name
    ends = [i.finished for i in loop.instances if i.finished]
    if mode == "timeout":
        msg = (f'Liveness probe failed: Get "http://{pod.ip}:{spec.port}{spec.live_path}": context deadline exceeded '
               "(Client.Timeout exceeded while awaiting headers)")
    else:
        msg = "Liveness probe failed: HTTP probe failed with statuscode: 500"
    cb.kubelet_event(pod, "Unhealthy", msg, first=ends[0] - _s(fails + kill), last=ends[-1] - _s(kill),
                     count=3 * len(ends), warning=True, container=c)
    cb.kubelet_event(pod, "Killing", f"Container {c} failed liveness probe, will be restarted",
                     first=ends[0] - _s(kill), last=ends[-1] - _s(kill), count=len(ends), container=c)
    inc.add(cb.pod_alert("KubePodCrashLooping", pod, loop.first_wait_at_least(20), container=c,
                         reason="CrashLoopBackOff"))
    return loop.first_crash


def _readiness_stuck(cb: ClusterBuilder, pod: PodRecord, spec: AppSpec, started: datetime,
                     since: datetime) -> datetime:
    run_healthy(cb, pod, spec, started=started)
    for cond in pod.obj["status"]["conditions"]:
        if cond["type"] in ("Ready", "ContainersReady"):
            cond.update(status="False", lastTransitionTime=since.strftime("%Y-%m-%dT%H:%M:%SZ"),
                        reason="ContainersNotReady", message=f"containers with unready status: [{spec.name}]")
    pod.obj["status"]["containerStatuses"][0]["ready"] = False
    n = int((cb.now - since).total_seconds() / 5)
    cb.kubelet_event(pod, "Unhealthy", "Readiness probe failed: HTTP probe failed with statuscode: 503",
                     first=since - _s(10), last=cb.now - _s(cb.rng.randrange(1, 5)), count=n, warning=True,
                     container=spec.name)
    return since


_DB = {"ledger": ("payments-db", "ledger-db"), "invoicing": ("billing-db", "billing-db"),
       "accounts": ("identity-db", "accounts-db")}


def dependency_unavailable(cb: ClusterBuilder, *, seed: int = 0, app: str | None = None,
                           namespace: str | None = None) -> Incident:
    """The app crash-loops because its PostgreSQL is gone: the StatefulSet was scaled to zero (the
    Service has no endpoints, connections are refused) or the Service was renamed (no such host)."""
    v = variant("dependency_unavailable", seed)
    spec = pick_app(v, list(_DB), app, namespace)
    db_ns, db_name = _DB.get(spec.name, (f"{spec.name}-db", f"{spec.name}-db"))
    host = f"{db_name}.{db_ns}.svc.cluster.local"
    nxdomain = v.random() < 0.35
    inc = cb.incident("dependency_unavailable", "unknown", "Deployment", spec.namespace, spec.name,
                      "dependency_unavailable")
    down = minutes_ago(cb, 38, 55)
    svc_ip = _database(cb, db_ns, db_name, down, renamed=nxdomain)
    inc.extra["dependency"] = {"kind": "Service", "namespace": db_ns, "name": db_name}
    run_s = {"go": (5.2, 5.6), "java": (9.0, 13.0)}.get(spec.runtime, (1.5, 3.0))
    firsts: list[datetime] = []

    def run(pod: PodRecord, started: datetime) -> None:
        log = crash_log(crashlogs.db_unreachable, cb.rng, host=host, ip=svc_ip, port=5432, dns_ip=cb.profile.dns_ip,
                        nxdomain=nxdomain)
        loop = run_crashloop(cb, pod, spec, start=started, run_s=run_s, exit_code=1, reason="Error", log_fn=log,
                             healthy_until=down + _s(cb.rng.between(2, 70)))
        crash_alerts(cb, inc, pod, loop, loop.first_crash)
        firsts.append(loop.first_crash)

    dep = healthy_deployment(cb, spec, run=run, finish=False)
    dep.unavailable_since = min(firsts)
    dep.finish()
    deployment_alerts(cb, inc, dep, mismatch_from=dep.unavailable_since)
    return inc


def _database(cb: ClusterBuilder, ns: str, name: str, down: datetime, *, renamed: bool) -> str:
    """The database's namespace: a Service left without pods, or a renamed Service with healthy pods."""
    created = cb.now - timedelta(days=cb.rng.uniform(100, 300))
    cb.namespace(ns, created)
    labels = {"app.kubernetes.io/name": "postgresql", "app.kubernetes.io/instance": name}
    svc_name = f"{name}-rw" if renamed else name
    ip = cb.service_ip()
    cb.add(ns, "services", k8s.service(svc_name, ns, uid=cb.rng.uid(), rv=cb.rv(created), created=created,
                                       labels=labels, selector=labels, cluster_ip=ip,
                                       ports=[{"name": "tcp-postgresql", "protocol": "TCP", "port": 5432,
                                               "targetPort": "tcp-postgresql"}]))
    sts = Involved("StatefulSet", name, cb.rng.uid(), ns, "apps/v1", cb.rv(down))
    if renamed:
        tpl = {"metadata": {"creationTimestamp": None, "labels": labels},
               "spec": k8s.template_spec([k8s.container("postgresql", "docker.io/bitnami/postgresql:16.4.0",
                                                        ports=[("tcp-postgresql", 5432)], hardened=False)],
                                         service_account=name)}
        stateful_pod(cb, ns, f"{name}-rw", sts.uid, 0, tpl, node=cb.place(), created=down - timedelta(days=2),
                     revision="7d4f9c8b6", service=f"{name}-hl", logs={"postgresql": _pg_log()})
        return ip
    pod = Involved("Pod", f"{name}-0", cb.rng.uid(), ns, resource_version=cb.rv(down))
    cb.controller_event(sts, "statefulset-controller", "SuccessfulDelete",
                        f"delete Pod {name}-0 in StatefulSet {name} successful", first=down)
    cb.event(pod.container("postgresql"), "Killing", "Stopping container postgresql", component="kubelet",
             host=cb.place().name, first=down + _s(0.3))
    return ip


def _pg_log() -> str:
    return ("postgresql 09:12:01.18 INFO  ==> ** Starting PostgreSQL **\n"
            "2026-11-20 09:12:01.204 GMT [1] LOG:  starting PostgreSQL 16.4 on x86_64-pc-linux-gnu\n"
            "2026-11-20 09:12:01.211 GMT [1] LOG:  listening on IPv4 address \"0.0.0.0\", port 5432\n"
            "2026-11-20 09:12:01.256 GMT [1] LOG:  database system is ready to accept connections\n")


def config_error(cb: ClusterBuilder, *, seed: int = 0, app: str | None = None,
                 namespace: str | None = None) -> Incident:
    """Someone edited the app's ConfigMap and ran ``kubectl rollout restart``: the template changed
    only by ``restartedAt``, the new pods reject the file and crash, the old ones keep serving."""
    v = variant("config_error", seed)
    spec = pick_app(v, ["catalog", "cart", "search-api", "report-builder", "notifier"], app, namespace)
    path, data, problem = _broken_config(spec, v.randrange(3))
    inc = cb.incident("config_error", "config_change", "Deployment", spec.namespace, spec.name, "config_error")
    at = minutes_ago(cb, 28, 42)
    volume = [{"name": "config", "configMap": {"name": f"{spec.name}-config", "defaultMode": 420}}]
    mount = [{"name": "config", "readOnly": True, "mountPath": path.rsplit("/", 1)[0]}]
    base = spec.template(container=spec.container(mounts=mount), volumes=volume)
    restarted = {"kubectl.kubernetes.io/restartedAt": (at - _s(3)).strftime("%Y-%m-%dT%H:%M:%SZ")}
    new = spec.template(container=spec.container(mounts=mount), volumes=volume, annotations=restarted)
    add_configmap(cb, spec.namespace, f"{spec.name}-config", {path.rsplit("/", 1)[1]: data}, created=at - _s(90))
    run_s = (9.0, 14.0) if spec.runtime == "java" else (0.3, 1.5)

    def run_new(pod: PodRecord, created: datetime) -> None:
        log = crash_log(crashlogs.bad_config, cb.rng, path=path, problem=problem)
        loop = run_crashloop(cb, pod, spec, start=created + _s(1.5), run_s=run_s, exit_code=1, reason="Error",
                             log_fn=log)
        crash_alerts(cb, inc, pod, loop, created)

    ro = stuck_rollout(cb, spec, new, at=at, run_new=run_new, replicas=v.choice([3, 4]), old_template=base)
    deployment_alerts(cb, inc, ro.dep, mismatch_from=at + timedelta(minutes=10) if ro.short else None)
    inc.extra["replicaset"] = ro.new.name
    return inc


def _broken_config(spec: AppSpec, which: int) -> tuple[str, str, str]:
    """(path, file content, the parser's complaint) for a config file with one bad edit."""
    path = f"/etc/{spec.name}/" + ("config.json" if spec.runtime == "node" else
                                   "application.yaml" if spec.runtime == "java" else "config.yaml")
    if spec.runtime == "java":
        data = ("server:\n  shutdown: graceful\nsearch:\n  index:\n    name: products-v7\n"
                "    refresh-interval: 30 seconds\n    replicas: 2\n")
        problem = ("Failed to bind properties under 'search.index.refresh-interval' to java.time.Duration:\n\n"
                   "    Property: search.index.refresh-interval\n    Value: \"30 seconds\"\n"
                   f"    Origin: URL [file:{path}] - 6:23\n    Reason: failed to convert java.lang.String to "
                   "java.time.Duration (caused by java.lang.IllegalArgumentException: '30 seconds' is not a valid "
                   "duration)")
        return path, data, problem
    if spec.runtime == "node":
        data = '{\n  "port": 3000,\n  "providers": {\n    "email": "ses",\n    "sms": "twilio",\n  }\n}\n'
        return path, data, "SyntaxError: Expected double-quoted property name in JSON at position 73 (line 6 column 3)"
    if which == 0 or spec.runtime == "python":
        data = "listen: :8080\nstore:\n  driver: postgres\n  max_conns: 20\n cache:\n  ttl: 15m\n"
        if spec.runtime == "python":
            return path, data, ("yaml.parser.ParserError: while parsing a block mapping\n"
                                f'  in "{path}", line 1, column 1\n'
                                "expected <block end>, but found '<block mapping start>'\n"
                                f'  in "{path}", line 5, column 2')
        return path, data, "yaml: line 5: did not find expected key"
    data = "listen: :8080\ncache:\n  ttl: 15mins\n  size: 50000\n"
    return path, data, 'cache.ttl: time: unknown unit "mins" in duration "15mins"'
