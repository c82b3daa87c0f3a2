"""Storage scenarios: a StatefulSet pod whose volume is still attached to its old node, a release
whose new claim names a StorageClass that does not exist, and a database whose volume is full."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from . import faultlogs, k8s
from ._rand import Rand, safe_encode
from .apps import AppSpec
from .behaviours import crash_log, run_crashloop, run_pending, run_waiting
from .cluster import ClusterBuilder, Incident, PodRecord
from .controllers import stateful_pod, statefulset_object
from .events import Involved
from .faults import crash_alerts, deployment_alerts, fit_error, minutes_ago, pick_app, stuck_rollout, variant
from .profiles import NodeInfo

__all__ = ["disk_full", "volume_multi_attach", "volume_pvc_pending"]

#: Stateful services: (namespace, StatefulSet, container, image, port, volume size).
_STATEFUL = [
    ("orders-db", "orders-postgresql", "postgresql", "docker.io/bitnami/postgresql:16.4.0", 5432, "50Gi"),
    ("billing-db", "billing-postgresql", "postgresql", "docker.io/bitnami/postgresql:16.4.0", 5432, "30Gi"),
    ("catalog-db", "catalog-postgresql", "postgresql", "docker.io/bitnami/postgresql:16.4.0", 5432, "20Gi"),
]
STORAGE_CLASS = {"eks": ("gp3", "ebs.csi.aws.com"), "gke": ("standard-rwo", "pd.csi.storage.gke.io"),
          "kubeadm": ("ceph-rbd", "rbd.csi.ceph.com")}


def _s(x: float) -> timedelta:
    return timedelta(seconds=x)


def _database(v: Rand, namespace: str | None) -> tuple[str, str, str, str, int, str]:
    ns, sts, c, image, port, size = v.choice(_STATEFUL)
    return namespace or ns, sts, c, image, port, size


def _pg_template(sts: str, c: str, image: str, port: int) -> dict[str, Any]:
    labels = {"app.kubernetes.io/component": "primary", "app.kubernetes.io/instance": sts.rsplit("-", 1)[0],
              "app.kubernetes.io/name": "postgresql"}
    ready = {"exec": {"command": ["/bin/sh", "-c", "-e", 'exec pg_isready -U "postgres" -h 127.0.0.1 -p 5432']},
             "initialDelaySeconds": 5, "timeoutSeconds": 5, "periodSeconds": 10, "successThreshold": 1,
             "failureThreshold": 6}
    container = k8s.container(c, image, ports=[("tcp-postgresql", port)], hardened=False, readiness=ready,
                              env=[{"name": "POSTGRESQL_PORT_NUMBER", "value": str(port)},
                                   {"name": "PGDATA", "value": "/bitnami/postgresql/data"}],
                              mounts=[{"name": "data", "mountPath": "/bitnami/postgresql"}],
                              resources={"limits": {"memory": "2Gi"}, "requests": {"cpu": "250m", "memory": "2Gi"}})
    return {"metadata": {"creationTimestamp": None, "labels": labels},
            "spec": k8s.template_spec([container], service_account=sts,
                                      extra={"securityContext": {"fsGroup": 1001}})}


def _stateful(cb: ClusterBuilder, ns: str, sts: str, tpl: dict[str, Any], node: NodeInfo, size: str,
              behave: Callable[[PodRecord], None], *, created: datetime) -> PodRecord:
    """A one-replica StatefulSet with a data claim; its pod behaves as ``behave`` says."""
    cb.namespace(ns, created - timedelta(days=1))
    uid, revision = cb.rng.uid(), safe_encode(str(cb.rng.randrange(10**8, 2**32)))[:10]
    pod = stateful_pod(cb, ns, sts, uid, 0, tpl, node=node, created=created, revision=revision, service=f"{sts}-hl",
                       claims=["data"], behave=behave)
    cb.defer(lambda: statefulset_object(cb, ns, sts, uid, tpl, pods=[pod], replicas=1, revision=revision,
                                        created=created - timedelta(days=cb.rng.uniform(60, 300)),
                                        service=f"{sts}-hl", claims={"data": (size, STORAGE_CLASS[cb.profile.provider][0])}))
    return pod


def volume_multi_attach(cb: ClusterBuilder, *, seed: int = 0, app: str | None = None,
                        namespace: str | None = None) -> Incident:
    """A node was drained for maintenance and the database pod moved; the old node never finished
    unmounting its volume, so the RWO disk is still attached there: ``Multi-Attach error`` on the new
    node and the pod waits in ``ContainerCreating``."""
    v = variant("volume_multi_attach", seed)
    ns, sts, c, image, port, size = _database(v, namespace)
    old, new = cb.workers()[0], cb.workers()[1]
    inc = cb.incident("volume_error", "unknown", "StatefulSet", ns, sts, "volume_multi_attach")
    drained = minutes_ago(cb, 38, 54)
    pv = f"pvc-{cb.rng.uid()}"
    created = drained + _s(cb.rng.between(31, 34))

    def behave(pod: PodRecord) -> None:
        run_waiting(cb, pod, reason="ContainerCreating", message=None, sandbox=False,
                    log_error='Request log error: container "{container}" in pod "{pod}" is waiting to start: '
                              "ContainerCreating\n")
        first = created + _s(cb.rng.between(0.5, 2))
        ctl = Involved("Pod", pod.name, pod.uid, ns, resource_version=pod.obj["metadata"]["resourceVersion"])
        cb.controller_event(ctl, "attachdetach-controller", "FailedAttachVolume",
                            f'Multi-Attach error for volume "{pv}" Volume is already exclusively attached to one '
                            "node and can't be attached to another", first=first, last=cb.now - _s(cb.rng.between(5, 90)),
                            count=max(2, int((cb.now - first).total_seconds() / 97)), warning=True)
        vols = next(vol["name"] for vol in pod.obj["spec"]["volumes"] if vol["name"].startswith("kube-api-access"))
        waits = max(1, int((cb.now - first).total_seconds() / 122))
        cb.kubelet_event(pod, "FailedMount", f"Unable to attach or mount volumes: unmounted volumes=[data], unattached "
                         f"volumes=[data {vols}]: timed out waiting for the condition", first=first + _s(122),
                         last=first + _s(122 * waits), count=waits, warning=True)
        inc.add(cb.pod_alert("KubePodNotReady", pod, created))

    pod = _stateful(cb, ns, sts, _pg_template(sts, c, image, port), new, size, behave,
                    created=created)
    _drained_node(cb, old, pod, drained, pv)
    inc.add(cb.object_alert("KubeStatefulSetReplicasMismatch", drained, namespace=ns, statefulset=sts))
    return inc


def _drained_node(cb: ClusterBuilder, node: NodeInfo, pod: PodRecord, at: datetime, pv: str) -> None:
    """The old node: cordoned, drained, uncordoned again; its kubelet still holds the volume."""
    inv = Involved("Node", node.name, cb.node_uids[node.name])
    cb.event(inv, "NodeNotSchedulable", f"Node {node.name} status is now: NodeNotSchedulable", component="kubelet",
             host=node.name, first=at - _s(cb.rng.between(5, 20)))
    cb.event(inv, "NodeSchedulable", f"Node {node.name} status is now: NodeSchedulable", component="kubelet",
             host=node.name, first=at + timedelta(minutes=cb.rng.uniform(8, 20)))
    old = Involved("Pod", pod.name, cb.rng.uid(), pod.namespace, resource_version=cb.rv(at))
    for c in pod.obj["spec"]["containers"]:
        cb.event(old.container(c["name"]), "Killing", f"Stopping container {c['name']}", component="kubelet",
                 host=node.name, first=at + _s(0.3))
    driver = STORAGE_CLASS[cb.profile.provider][1]
    cb.node_state[node.name].volumes = [f"kubernetes.io/csi/{driver}^{_volume_handle(cb, pv)}"]


def _volume_handle(cb: ClusterBuilder, pv: str) -> str:
    provider = cb.profile.provider
    if provider == "eks":
        return "vol-0" + pv.replace("-", "")[4:20]
    if provider == "gke":
        return f"projects/acme-{cb.name}/zones/{cb.profile.zones[0]}/disks/{pv}"
    return f"0001-0009-rook-ceph-0000000000000002-{pv[4:]}"


def volume_pvc_pending(cb: ClusterBuilder, *, seed: int = 0, app: str | None = None,
                       namespace: str | None = None) -> Incident:
    """A release adds a cache volume claimed from a StorageClass that does not exist in this
    cluster: the claim stays Pending (``ProvisioningFailed``) and the new pods cannot be scheduled
    (``pod has unbound immediate PersistentVolumeClaims``)."""
    v = variant("volume_pvc_pending", seed)
    spec = pick_app(v, ["report-builder", "search-api", "recommendations", "catalog"], app, namespace)
    claim = f"{spec.name}-cache"
    klass = v.choice(["fast-ssd", "gp3-encrypted", "premium-rwo", "io2-high"])
    mount = [{"name": "cache", "mountPath": f"/var/cache/{spec.name}"}]
    tpl = spec.template(container=spec.container(mounts=mount),
                        volumes=[{"name": "cache", "persistentVolumeClaim": {"claimName": claim}}])
    inc = cb.incident("volume_error", "rollout", "Deployment", spec.namespace, spec.name, "volume_pvc_pending")
    at = minutes_ago(cb, 27, 42)
    _pending_claim(cb, spec, claim, klass, at - _s(cb.rng.between(2, 6)))
    message = fit_error(len(cb.nodes), {}, prefilter="pod has unbound immediate PersistentVolumeClaims")

    def run_new(pod: PodRecord, created: datetime) -> None:
        run_pending(cb, pod, message=message, attempts=3 + int((cb.now - created).total_seconds() / 300))
        inc.add(cb.pod_alert("KubePodNotReady", pod, created))

    ro = stuck_rollout(cb, spec, tpl, at=at, run_new=run_new, replicas=v.choice([2, 3]), placed=False)
    deployment_alerts(cb, inc, ro.dep, mismatch_from=at + timedelta(minutes=10) if ro.short else None)
    inc.extra.update(replicaset=ro.new.name, claim=claim)
    return inc


def _pending_claim(cb: ClusterBuilder, spec: AppSpec, claim: str, klass: str, created: datetime) -> None:
    """The claim's own events: the PV controller cannot find its class and retries with back-off."""
    inv = Involved("PersistentVolumeClaim", claim, cb.rng.uid(), spec.namespace, resource_version=cb.rv(created))
    n = 6 + int((cb.now - created).total_seconds() / 15)
    cb.controller_event(inv, "persistentvolume-controller", "ProvisioningFailed",
                        f'storageclass.storage.k8s.io "{klass}" not found', first=created + _s(0.1),
                        last=cb.now - _s(cb.rng.between(2, 14)), count=n, warning=True)


def disk_full(cb: ClusterBuilder, *, seed: int = 0, app: str | None = None,
              namespace: str | None = None) -> Incident:
    """A PostgreSQL data volume filled up: the WAL write PANICs, and every restart fails recovery
    with ``could not write to file "pg_wal/...": No space left on device``. The kubelet's volume
    stats fire ``KubePersistentVolumeFillingUp`` (critical, to the ``Critical`` receiver)."""
    v = variant("disk_full", seed)
    ns, sts, c, image, port, size = _database(v, namespace)
    inc = cb.incident("disk_full", "unknown", "StatefulSet", ns, sts, "disk_full")
    full = minutes_ago(cb, 34, 50)
    node = cb.place()
    carrier = AppSpec(sts, ns, "go", image.rsplit(":", 1)[1])

    def behave(pod: PodRecord) -> None:
        started = datetime.fromisoformat(pod.obj["metadata"]["creationTimestamp"].replace("Z", "+00:00")) + _s(4)
        log = crash_log(faultlogs.db_disk_full, cb.rng, first=False)
        loop = run_crashloop(cb, pod, carrier, start=started, run_s=(1.0, 2.5), exit_code=1, reason="Error",
                             log_fn=log, healthy_until=full + _s(cb.rng.between(5, 60)))
        crash_alerts(cb, inc, pod, loop, loop.first_crash)
        claim = f"data-{pod.name}"
        free = f"{v.uniform(0.4, 2.6):.4g}%"
        inc.add(cb.alert("KubePersistentVolumeFillingUp", {
            "endpoint": "https-metrics", "instance": f"{node.ip}:10250", "job": "kubelet", "metrics_path": "/metrics",
            "namespace": ns, "node": node.name, "persistentvolumeclaim": claim,
            "service": "kube-prometheus-stack-kubelet"}, full - timedelta(minutes=cb.rng.uniform(3, 12)), value=free))
        inc.extra["claim"] = claim

    created = cb.now - timedelta(days=cb.rng.uniform(3, 30))
    _stateful(cb, ns, sts, _pg_template(sts, c, image, port), node, size, behave, created=created)
    inc.add(cb.object_alert("KubeStatefulSetReplicasMismatch", full + _s(20), namespace=ns, statefulset=sts))
    return inc
