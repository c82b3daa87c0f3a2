"""DaemonSets, StatefulSet pods and static (mirror) pods, for the system namespaces and apps.

A dump holds DaemonSets but no StatefulSets; StatefulSet pods still name their owner in
``ownerReferences`` and carry ``controller-revision-hash`` and ``statefulset.kubernetes.io/pod-name``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from . import k8s
from ._rand import safe_encode
from .behaviours import run_healthy
from .cluster import ClusterBuilder, PodRecord
from .profiles import NodeInfo
from .workload import new_pod

__all__ = ["DaemonSet", "statefulset_object", "static_pod", "stateful_pod"]

_DS_TOLERATIONS = [
    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/disk-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/memory-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/pid-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"},
]

#: (pod, node, started) -> the pod's logs, per container.
LogsFn = Callable[[PodRecord, NodeInfo, datetime], dict[str, str]]


def _rev_hash(cb: ClusterBuilder) -> str:
    return safe_encode(str(cb.rng.randrange(10**8, 2**32)))


class DaemonSet:
    """A DaemonSet with one healthy pod per node; status is derived at render time."""

    def __init__(self, cb: ClusterBuilder, namespace: str, name: str, template: dict[str, Any], *,
                 created: datetime, labels: dict[str, str], selector: dict[str, str], logs: LogsFn,
                 nodes: list[NodeInfo] | None = None, host_network: bool = False, generation: int = 1) -> None:
        self.cb, self.namespace, self.name, self.template = cb, namespace, name, template
        self.uid, self.created, self.labels, self.selector = cb.rng.uid(), created, labels, selector
        self.generation = generation
        self.pods: list[PodRecord] = []
        rev = _rev_hash(cb)
        for node in nodes or cb.nodes:
            self.pods.append(self._pod(node, rev, logs, host_network))
        cb.defer(self._write)

    def _pod(self, node: NodeInfo, rev: str, logs: LogsFn, host_network: bool) -> PodRecord:
        cb = self.cb
        tpl = copy.deepcopy(self.template)
        tpl["spec"]["tolerations"] = tpl["spec"].get("tolerations", []) + _DS_TOLERATIONS
        tpl["spec"]["affinity"] = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In",
                                                    "values": [node.name]}]}]}}}
        started = node_ready_at(cb, node) + timedelta(seconds=cb.rng.between(8, 40))
        pod = new_pod(cb, self.namespace, f"{self.name}-{cb.rng.suffix()}", tpl, node=node,
                      created=started - timedelta(seconds=3),
                      owner=k8s.owner_ref("DaemonSet", self.name, self.uid), generate_name=f"{self.name}-",
                      extra_labels={"controller-revision-hash": rev, "pod-template-generation": str(self.generation)})
        run_healthy(cb, pod, None, started=started, log=logs(pod, node, started), host_network=host_network)
        return pod

    def _write(self) -> None:
        cb = self.cb
        desired = len(self.pods)
        ready = sum(1 for p in self.pods if _ready(p))
        md = k8s.meta(self.name, namespace=self.namespace, uid=self.uid, rv=cb.rv(cb.now - timedelta(minutes=3)),
                      created=self.created, labels=self.labels,
                      annotations={"deprecated.daemonset.template.generation": str(self.generation)},
                      generation=self.generation)
        status: dict[str, Any] = {"currentNumberScheduled": desired, "numberMisscheduled": 0,
                                  "desiredNumberScheduled": desired, "numberReady": ready,
                                  "observedGeneration": self.generation, "updatedNumberScheduled": desired,
                                  "numberAvailable": ready}
        if desired - ready:
            status["numberUnavailable"] = desired - ready
        spec = {"selector": {"matchLabels": self.selector}, "template": self.template,
                "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}},
                "revisionHistoryLimit": 10}
        cb.add(self.namespace, "daemonsets", {"metadata": md, "spec": spec, "status": status})


def node_ready_at(cb: ClusterBuilder, node: NodeInfo) -> datetime:
    """When the node (re)joined: its pods started shortly after."""
    return cb.node_booted[node.name]


def static_pod(cb: ClusterBuilder, namespace: str, base: str, node: NodeInfo, template: dict[str, Any], *,
               logs: dict[str, str]) -> PodRecord:
    """A mirror pod for a manifest in ``/etc/kubernetes/manifests`` on ``node``."""
    started = node_ready_at(cb, node) + timedelta(seconds=cb.rng.between(1, 6))
    config_hash = cb.rng.hexstr(32)
    seen = started - timedelta(seconds=2)
    annotations = {"kubernetes.io/config.hash": config_hash, "kubernetes.io/config.mirror": config_hash,
                   "kubernetes.io/config.seen": seen.strftime("%Y-%m-%dT%H:%M:%S.%f") + "123Z",
                   "kubernetes.io/config.source": "file"}
    owner = {"apiVersion": "v1", "kind": "Node", "name": node.name, "uid": cb.node_uids[node.name],
             "controller": True}
    tpl = copy.deepcopy(template)
    tpl["spec"].update(hostNetwork=True, priorityClassName="system-node-critical", priority=2000001000,
                       tolerations=[{"operator": "Exists", "effect": "NoExecute"}])
    tpl["spec"]["automountServiceAccountToken"] = False
    pod = new_pod(cb, namespace, f"{base}-{node.name}", tpl, node=node, created=started, owner=owner,
                  annotations=annotations)
    run_healthy(cb, pod, None, started=started, log=logs, host_network=True)
    return pod


def stateful_pod(cb: ClusterBuilder, namespace: str, sts: str, sts_uid: str, ordinal: int,
                 template: dict[str, Any], *, node: NodeInfo | None, created: datetime, revision: str,
                 service: str, logs: dict[str, str] | Callable[[datetime], dict[str, str]] | None = None,
                 claims: list[str] | None = None, behave: Callable[[PodRecord], None] | None = None) -> PodRecord:
    """A StatefulSet's pod ``<sts>-<ordinal>``; ``logs`` may depend on when its containers started.

    ``claims``: names of its ``volumeClaimTemplates`` (volumes ``<claim>-<sts>-<ordinal>``);
    ``behave(pod)`` replaces the healthy behaviour.
    """
    name = f"{sts}-{ordinal}"
    cb.workloads.add((namespace, sts))
    tpl = copy.deepcopy(template)
    tpl["spec"].update(hostname=name, subdomain=service)
    if claims:
        pvcs = [{"name": c, "persistentVolumeClaim": {"claimName": f"{c}-{name}"}} for c in claims]
        tpl["spec"] = k8s.with_pod_fields(tpl["spec"], volumes=pvcs + (tpl["spec"].get("volumes") or []))
    labels = {"apps.kubernetes.io/pod-index": str(ordinal), "controller-revision-hash": f"{sts}-{revision}",
              "statefulset.kubernetes.io/pod-name": name}
    pod = new_pod(cb, namespace, name, tpl, node=node, created=created, generate_name=f"{sts}-",
                  owner=k8s.owner_ref("StatefulSet", sts, sts_uid), extra_labels=labels)
    if behave is not None:
        behave(pod)
        return pod
    started = created + timedelta(seconds=cb.rng.between(3, 9))
    run_healthy(cb, pod, None, started=started, log=logs(started) if callable(logs) else logs)
    return pod


def statefulset_object(cb: ClusterBuilder, namespace: str, name: str, uid: str, template: dict[str, Any], *,
                       pods: list[PodRecord], replicas: int, created: datetime, revision: str, service: str,
                       claims: dict[str, tuple[str, str]] | None = None, generation: int = 1) -> dict[str, Any]:
    """The StatefulSet as the API returns it (status from its pods); ``claims``: name -> (size, class)."""
    ready = sum(1 for p in pods if _ready(p))
    labels = template["metadata"].get("labels") or {}
    md = k8s.meta(name, namespace=namespace, uid=uid, rv=cb.rv(cb.now - timedelta(minutes=2)), created=created,
                  labels=labels, generation=generation)
    vct = [{"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": c, "creationTimestamp": None},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}},
                     "storageClassName": sc, "volumeMode": "Filesystem"}, "status": {"phase": "Pending"}}
           for c, (size, sc) in (claims or {}).items()]
    spec: dict[str, Any] = {"replicas": replicas, "selector": {"matchLabels": labels}, "template": template}
    if vct:
        spec["volumeClaimTemplates"] = vct
    spec.update(serviceName=service, podManagementPolicy="OrderedReady",
                updateStrategy={"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}, revisionHistoryLimit=10,
                persistentVolumeClaimRetentionPolicy={"whenDeleted": "Retain", "whenScaled": "Retain"})
    status: dict[str, Any] = {"observedGeneration": generation, "replicas": len(pods)}
    if ready:
        status["readyReplicas"] = ready
    status.update(currentReplicas=len(pods), updatedReplicas=len(pods), currentRevision=f"{name}-{revision}",
                  updateRevision=f"{name}-{revision}", collisionCount=0, availableReplicas=ready)
    obj = {"metadata": md, "spec": spec, "status": status}
    cb.add(namespace, "statefulsets", obj)
    return obj


def _ready(pod: PodRecord) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True" for c in pod.obj["status"].get("conditions", []))


def klog(t: datetime, source: str, msg: str, level: str = "I") -> str:
    """A klog line: ``I1122 09:14:07.118301       1 server.go:66] msg``."""
    return f"{level}{t.strftime('%m%d %H:%M:%S.%f')}       1 {source}] {msg}"
