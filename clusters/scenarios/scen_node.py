"""Node scenarios beside ``node_not_ready``: a node under memory or disk pressure whose kubelet
evicts pods, and a node whose kubelet was stopped while it hosted a StatefulSet member.

Both are node-level (built before the baseline): they decide which node suffers, and pods placed
later keep off it.
"""

from __future__ import annotations

import copy
from datetime import datetime, timedelta
from typing import Any

from . import k8s
from ._time import rfc3339
from .baseline import healthy_deployment
from .cluster import ClusterBuilder, Incident, PodRecord
from .controllers import stateful_pod, statefulset_object
from .events import Involved
from .faults import minutes_ago, pick_app, variant
from .podstatus import condition
from .profiles import NodeInfo
from .scen_infra import move, node_down
from .scen_storage import STORAGE_CLASS

__all__ = ["kubelet_stopped", "node_pressure"]

#: (condition, reason, message, taint, node event, eviction signal, resource)
_PRESSURE = {
    "memory": ("MemoryPressure", "KubeletHasInsufficientMemory", "kubelet has insufficient memory available",
               "node.kubernetes.io/memory-pressure", "NodeHasInsufficientMemory", "memory"),
    "disk": ("DiskPressure", "KubeletHasDiskPressure", "kubelet has disk pressure",
             "node.kubernetes.io/disk-pressure", "NodeHasDiskPressure", "ephemeral-storage"),
}
_ROOT_FS = {"eks": ("/dev/nvme0n1p1", "xfs", "/"), "gke": ("/dev/sda1", "ext4", "/mnt/stateful_partition"),
            "kubeadm": ("/dev/mapper/ubuntu--vg-ubuntu--lv", "ext4", "/")}


def _s(x: float) -> timedelta:
    return timedelta(seconds=x)


def node_pressure(cb: ClusterBuilder, *, seed: int = 0, app: str | None = None,
                  namespace: str | None = None) -> Incident:
    """A worker runs low on memory (system daemons outside any pod grew) or on its root filesystem
    (images and logs): ``MemoryPressure``/``DiskPressure`` turns True, the node is tainted, and the
    kubelet evicts pods one after another (``Evicted``: ``The node was low on resource: ...``);
    their ReplicaSets recreate them elsewhere."""
    v = variant("node_pressure", seed)
    kind = v.choice(["memory", "disk"])
    spec = pick_app(v, ["catalog", "cart", "storefront", "notifier", "email-worker"], app, namespace)
    node = cb.workers()[-1]
    since = minutes_ago(cb, 30, 44)
    cond, reason, message, taint, _, _ = _PRESSURE[kind]
    state = cb.node_state[node.name]
    state.conditions[cond] = ("True", reason, message, since)
    state.taints.append({"key": taint, "effect": "NoSchedule", "timeAdded": rfc3339(since + _s(cb.rng.between(1, 5)))})
    state.closed_at = since
    inc = cb.incident("node_pressure", "node", "Node", "", node.name, "node_pressure")
    dep = healthy_deployment(cb, spec, replicas=3, finish=False)
    for pod in dep.revisions[-1].pods[-2:]:
        move(cb, pod, node)
    dep.finish()
    cb.fault(lambda: _pressure(cb, inc, node, kind, since, spec.name))
    return inc


def _pressure(cb: ClusterBuilder, inc: Incident, node: NodeInfo, kind: str, since: datetime, first: str) -> None:
    cond, _, _, _, event, res = _PRESSURE[kind]
    inv = Involved("Node", node.name, cb.node_uids[node.name])
    cb.event(inv, event, f"Node {node.name} status is now: {event}", component="kubelet", host=node.name,
             first=since)
    others = {(i.subject.get("namespace"), i.subject["name"]) for i in cb.incidents if i is not inc}
    victims = [p for p in cb.pods if p.node is node and p.owner_kind == "ReplicaSet" and p.replace is not None
               and _created(p) < since and (p.namespace, p.owner_name.rsplit("-", 1)[0]) not in others]
    victims.sort(key=lambda p: (not p.owner_name.startswith(f"{first}-"), _created(p)))
    at = since + _s(cb.rng.between(8, 40))
    tries = 0
    for pod in victims[:3]:
        _evict(cb, pod, node, res, at)
        at += _s(cb.rng.between(60, 420))
        tries += 1
    cb.event(inv, "EvictionThresholdMet", f"Attempting to reclaim {res}", component="kubelet", host=node.name,
             first=since + _s(2), last=at, count=tries + 1, warning=True)
    if kind == "disk":
        gib = cb.rng.randrange(6, 18) * 1073741824 + cb.rng.randrange(0, 1073741824)
        cb.event(inv, "FreeDiskSpaceFailed", f"Failed to garbage collect required amount of images. Attempted to free "
                 f"{gib} bytes, but only found 0 bytes eligible to free.", component="kubelet", host=node.name,
                 first=since + _s(5), last=cb.now - _s(cb.rng.between(10, 280)),
                 count=int((cb.now - since).total_seconds() / 300) + 1, warning=True)
    _alerts(cb, inc, node, kind, cond, since)


def _alerts(cb: ClusterBuilder, inc: Incident, node: NodeInfo, kind: str, cond: str, since: datetime) -> None:
    inc.add(cb.object_alert("KubeNodePressure", since, condition=cond, node=node.name, status="true"))
    exporter = next(p for p in cb.pods if p.node is node and p.owner_name.endswith("prometheus-node-exporter"))
    target = {"container": "node-exporter", "endpoint": "http-metrics", "instance": f"{node.ip}:9100",
              "job": "node-exporter", "namespace": "monitoring", "pod": exporter.name,
              "service": "kube-prometheus-stack-prometheus-node-exporter"}
    if kind == "memory":
        inc.add(cb.alert("NodeMemoryHighUtilization", target, since - timedelta(minutes=cb.rng.uniform(6, 12)),
                         value=f"{cb.rng.uniform(96.5, 99.4):.2f}"))
        return
    device, fstype, mount = _ROOT_FS[cb.profile.provider]
    inc.add(cb.alert("NodeFilesystemAlmostOutOfSpace", {**target, "device": device, "fstype": fstype,
                                                        "mountpoint": mount},
                     since - timedelta(minutes=cb.rng.uniform(22, 30)), value=f"{cb.rng.uniform(2.1, 4.9):.2f}"))


def _threshold(cb: ClusterBuilder, res: str) -> tuple[str, str]:
    """(threshold quantity, available) as the eviction manager prints them."""
    if res == "memory":
        return "100Mi", f"{cb.rng.randrange(61_000, 98_000)}Ki"
    capacity = int(cb.profile.capacity["ephemeral-storage"].removesuffix("Ki")) * 1024
    threshold = capacity // 10
    return str(threshold), f"{int(threshold / 1024 * cb.rng.uniform(0.82, 0.98))}Ki"


def _evict(cb: ClusterBuilder, pod: PodRecord, node: NodeInfo, res: str, at: datetime) -> None:
    """The kubelet's eviction manager kills the pod and fails it; its ReplicaSet makes a new one."""
    quantity, available = _threshold(cb, res)
    message = f"The node was low on resource: {res}. Threshold quantity: {quantity}, available: {available}. "
    c = pod.obj["spec"]["containers"][0]["name"]
    cb.kubelet_event(pod, "Evicted", message, first=at, warning=True)
    cb.kubelet_event(pod, "Killing", f"Stopping container {c}", first=at + _s(0.1), container=c)
    st = pod.obj["status"]
    stop = at + _s(cb.rng.between(0.5, 3))
    for cs in st.get("containerStatuses") or []:
        started = (cs.get("state") or {}).get("running", {}).get("startedAt") or rfc3339(_created(pod))
        cs.update(state={"terminated": {"exitCode": 137, "reason": "Error", "startedAt": started,
                                        "finishedAt": rfc3339(stop), "containerID": cs.get("containerID", "")}},
                  ready=False, started=False)
    conds = [c for c in st["conditions"] if c["type"] in ("PodReadyToStartContainers", "Initialized", "PodScheduled")]
    failed = [condition("Ready", False, stop, "PodFailed"), condition("ContainersReady", False, stop, "PodFailed")]
    disruption = condition("DisruptionTarget", True, at, "TerminationByKubelet", message)
    for cnd in conds:
        if cnd["type"] == "PodReadyToStartContainers":
            cnd.update(status="False", lastTransitionTime=rfc3339(stop + _s(1)))
    generation = {"observedGeneration": 1} if cb.profile.minor >= 34 else {}
    ordered = [disruption, *conds[:1], *conds[1:2], *failed, *conds[2:]]
    pod.obj["status"] = k8s.order({**st, "phase": "Failed", "message": message, "reason": "Evicted",
                                   "conditions": [{**({"type": c["type"]} | generation), **c} for c in ordered]},
                                  _STATUS_ORDER)
    if pod.replace is not None:
        pod.replace(at + _s(cb.rng.between(0.05, 0.4)))
        pod.replace = None


_STATUS_ORDER = ["observedGeneration", "phase", "conditions", "message", "reason", "hostIP", "hostIPs", "podIP",
                 "podIPs", "startTime", "initContainerStatuses", "containerStatuses", "qosClass"]


def _created(pod: PodRecord) -> datetime:
    return datetime.fromisoformat(pod.obj["metadata"]["creationTimestamp"].replace("Z", "+00:00"))


_BROKER = {"kafka": ("streaming", "events-kafka-controller", "kafka", "docker.io/bitnami/kafka:3.8.1",
                     [("client", 9092), ("controller", 9093)], "events-kafka-controller-headless"),
           "elasticsearch": ("search", "logs-es-master", "elasticsearch",
                             "docker.elastic.co/elasticsearch/elasticsearch:8.15.3", [("http", 9200), ("transport", 9300)],
                             "logs-es-master-headless")}


def kubelet_stopped(cb: ClusterBuilder, *, seed: int = 0, app: str | None = None,
                    namespace: str | None = None) -> Incident:
    """The kubelet on a worker was stopped (a botched kubelet upgrade left the unit down) while
    the host kept running: the node turns Unknown, its pods unready, the taint manager marks them
    for deletion, and the StatefulSet member on it stays Terminating (nothing confirms it stopped),
    so the StatefulSet stays short. node-exporter still answers; the kubelet port refuses."""
    v = variant("kubelet_stopped", seed)
    broker = v.choice(sorted(_BROKER))
    node = cb.workers()[-1]
    down = minutes_ago(cb, 36, 50)
    cb.down_nodes[node.name] = down
    inc = cb.incident("node_not_ready", "node", "Node", "", node.name, "kubelet_stopped")
    spec = pick_app(v, ["catalog", "notifier", "auth", "storefront"], app, namespace)
    dep = healthy_deployment(cb, spec, replicas=3, finish=False)
    move(cb, dep.revisions[-1].pods[-1], node)
    dep.finish()
    _members(cb, broker, node)
    node_down(cb, inc, node.name, down, host_up=True)
    return inc


def _members(cb: ClusterBuilder, broker: str, node: NodeInfo) -> None:
    ns, sts, c, image, ports, service = _BROKER[broker]
    labels = {"app.kubernetes.io/instance": sts.rsplit("-", 1)[0], "app.kubernetes.io/name": broker}
    container = k8s.container(c, image, ports=ports, hardened=False,
                              mounts=[{"name": "data", "mountPath": f"/bitnami/{c}" if broker == "kafka"
                                       else "/usr/share/elasticsearch/data"}],
                              resources={"limits": {"memory": "4Gi"}, "requests": {"cpu": "500m", "memory": "4Gi"}})
    tpl: dict[str, Any] = {"metadata": {"creationTimestamp": None, "labels": labels},
                           "spec": k8s.template_spec([container], service_account=sts)}
    uid, created = cb.rng.uid(), cb.now - timedelta(days=cb.rng.uniform(20, 90))
    revision = f"{cb.rng.randrange(10**9, 10**10):x}"[:10]
    nodes = [n for n in cb.workers() if n is not node][:2] + [node]
    cb.namespace(ns, created - timedelta(days=1))
    pods = []
    for i, n in enumerate(nodes):
        log = {c: f"[{(created + _s(60 * i)):%Y-%m-%d %H:%M:%S},412] INFO [{broker} node {i}] started\n"}
        pods.append(stateful_pod(cb, ns, sts, uid, i, copy.deepcopy(tpl), node=n, created=created + _s(60 * i),
                                 revision=revision, service=service, logs=log, claims=["data"]))
    cb.defer(lambda: statefulset_object(cb, ns, sts, uid, tpl, pods=pods, replicas=3, created=created,
                                        revision=revision, service=service, claims={"data": ("100Gi", STORAGE_CLASS[cb.profile.provider][0])}))
