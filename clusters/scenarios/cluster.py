"""The state of one simulated cluster while scenarios add to it.

A :class:`ClusterBuilder` holds nodes, namespaced objects, pods with their logs, events, the alerts
Prometheus would fire and the incidents they belong to. Scenarios and the baseline add to it;
``write.py`` renders it as a dump, ``dispatch.py`` turns its alerts into webhook payloads.
Everything random comes from ``self.rng`` so one seed gives one cluster.
"""

from __future__ import annotations

import base64
import json
import math
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from ._rand import Rand, derive
from .alerts import Alert, StackLabels
from .events import Involved, legacy_event, scheduler_event
from .k8s import meta
from .profiles import NodeInfo, Profile, make_nodes
from .rules import RULES

__all__ = ["ClusterBuilder", "Incident", "NodeState", "PodRecord"]

#: kube-prometheus rule groups are evaluated every 30s, each group at its own offset.
EVAL_INTERVAL_S = 30
_KINDS = ("deployments", "replicasets", "daemonsets", "services", "replication-controllers", "configmaps",
          "secrets", "statefulsets", "jobs")
#: The rule groups whose evaluation phase is drawn from the cluster's own generator (the first ones).
_FIRST_GROUPS = ("general.rules", "kubernetes-apps", "kubernetes-system-kubelet")


@dataclass
class PodRecord:
    namespace: str
    name: str
    obj: dict[str, Any]
    node: NodeInfo | None
    owner_kind: str
    owner_name: str
    logs: dict[str, str] = field(default_factory=dict)  # container -> current logs (or a log error)
    previous: dict[str, str] = field(default_factory=dict)  # container -> previous instance's logs
    #: Creates the pod the owner would start in this one's place (``None``: nothing replaces it).
    replace: Callable[[datetime], PodRecord] | None = None

    @property
    def uid(self) -> str:
        return str(self.obj["metadata"]["uid"])

    @property
    def ip(self) -> str:
        return str(self.obj["status"].get("podIP", ""))

    def involved(self) -> Involved:
        return Involved("Pod", self.name, self.uid, self.namespace,
                        resource_version=self.obj["metadata"]["resourceVersion"])


@dataclass
class NodeState:
    """What scenarios change on a Node: pool labels, taints, a cordon, pressure conditions.

    ``closed_at``: from then on no new pod is placed there (cordoned, tainted by pressure);
    ``dedicated``: a tainted pool only the pods that tolerate it use (never placed round-robin).
    ``conditions``: type -> (status, reason, message, lastTransitionTime).
    """

    labels: dict[str, str] = field(default_factory=dict)
    taints: list[dict[str, Any]] = field(default_factory=list)
    unschedulable: bool = False
    conditions: dict[str, tuple[str, str, str, datetime]] = field(default_factory=dict)
    closed_at: datetime | None = None
    dedicated: bool = False
    volumes: list[str] = field(default_factory=list)  # attached and in use (``status.volumesInUse``)


@dataclass
class Incident:
    category: str
    trigger: str
    subject: dict[str, str]
    alerts: list[Alert] = field(default_factory=list)
    scenario: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def add(self, *alerts: Alert) -> None:
        self.alerts.extend(alerts)


class ClusterBuilder:
    """One cluster under construction. ``now`` is the capture time everything is anchored on."""

    def __init__(self, name: str, now: datetime, profile: Profile, *, seed: int = 0,
                 cluster_label: bool = False, external_url: str | None = None,
                 prometheus_url: str | None = None, receiver: str = "Default") -> None:
        self.name = name
        self.now = now.astimezone(UTC)
        self.profile = profile
        self.seed = seed
        self.rng: Rand = derive("cluster", name, seed)
        self.cluster_label = cluster_label
        self.external_url = external_url or "http://kube-prometheus-stack-alertmanager.monitoring:9093"
        self.prometheus_url = prometheus_url or "http://kube-prometheus-stack-prometheus.monitoring:9090"
        self.receiver = receiver
        body = self.rng.randbytes(600)
        self._root_ca = "-----BEGIN CERTIFICATE-----\n" + "\n".join(
            base64.b64encode(body).decode()[i:i + 64] for i in range(0, 800, 64)) + "\n-----END CERTIFICATE-----\n"
        self.nodes: list[NodeInfo] = make_nodes(profile, name, self.rng)
        self.node_uids = {n.name: self.rng.uid() for n in self.nodes}
        managed = profile.provider != "kubeadm"  # managed node groups are replaced every few weeks
        self.node_booted = {n.name: self.now - timedelta(days=self.rng.uniform(4, 19) if managed and n.role == "worker"
                                                         else self.rng.uniform(40, 160)) for n in self.nodes}
        self.down_nodes: dict[str, datetime] = {}  # node -> when its kubelet stopped posting status
        self.node_state: dict[str, NodeState] = defaultdict(NodeState)
        self.namespaces: dict[str, datetime] = {}
        self.objects: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
        self.pods: list[PodRecord] = []
        self.workloads: set[tuple[str, str]] = set()  # (namespace, name) of Deployments/StatefulSets built
        self.events: list[dict[str, Any]] = []
        self.alerts: list[Alert] = []
        self.incidents: list[Incident] = []
        self.stack: StackLabels | None = None
        self._rv_base = self.rng.randrange(3_000_000, 90_000_000)
        self._service_ips: set[str] = set()
        self._phase = {g: self.rng.uniform(0, EVAL_INTERVAL_S) for g in _FIRST_GROUPS}
        self._placement = 0
        self.background = False  # set while the healthy baseline is built
        self._faults: list[Callable[[], None]] = []
        self._renderers: list[Callable[[], None]] = []
        self._finalized = False

    # -- late work: faults that touch everything, then controller status -------------------------
    def fault(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` once every workload exists (a node failure affects all pods on the node)."""
        self._faults.append(fn)

    def defer(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` after the faults (controllers derive their status from the final pods)."""
        self._renderers.append(fn)

    def apply_faults(self) -> None:
        """Run the registered faults now (once): every pod they touch must exist already."""
        faults, self._faults = self._faults, []
        for fn in faults:
            fn()

    def finalize(self) -> None:
        if self._finalized:
            return
        self._finalized = True
        self.apply_faults()
        for fn in self._renderers:
            fn()
        for pod in self.pods:  # a pod's resourceVersion is that of its last status write
            stamps = _STAMP.findall(json.dumps(pod.obj["status"])) + [pod.obj["metadata"]["creationTimestamp"]]
            pod.obj["metadata"]["resourceVersion"] = self.rv(max(_parse(t) for t in stamps))
        for ns, created in sorted(self.namespaces.items()):  # the root CA every namespace gets
            if not any(o["metadata"]["name"] == "kube-root-ca.crt" for o in self.objects[ns]["configmaps"]):
                md = meta("kube-root-ca.crt", namespace=ns, uid=self.rng.uid(), rv=self.rv(created), created=created,
                          annotations={"kubernetes.io/description": _ROOT_CA_DESCRIPTION})
                self.add(ns, "configmaps", {"metadata": md, "data": {"ca.crt": self._root_ca}})

    # -- identity, versions, addresses -------------------------------------------------------
    def rv(self, at: datetime) -> str:
        """A resourceVersion that grows with time, as etcd revisions do."""
        age = (self.now - at).total_seconds()
        return str(self._rv_base - int(age * 2.7) + self.rng.randrange(0, 3))

    def namespace(self, name: str, created: datetime | None = None) -> str:
        if name not in self.namespaces:
            self.namespaces[name] = created or self.now - timedelta(days=self.rng.randrange(60, 400))
        return name

    def add(self, namespace: str, kind: str, obj: dict[str, Any]) -> dict[str, Any]:
        assert kind in _KINDS, kind
        self.namespace(namespace)
        self.objects[namespace][kind].append(obj)
        return obj

    def workers(self) -> list[NodeInfo]:
        return [n for n in self.nodes if n.role == "worker"]

    def place(self, at: datetime | None = None) -> NodeInfo:
        """Round-robin over worker nodes.

        A node that goes down, is cordoned or comes under pressure only takes background pods
        (:attr:`background`) created before that, so one scenario's pods never end up on another
        scenario's node by accident; a dedicated pool's nodes take no round-robin pods at all.
        """
        def ok(n: NodeInfo) -> bool:
            state = self.node_state.get(n.name)
            if state is not None and state.dedicated:
                return False
            blocked = self.down_nodes.get(n.name) or (state.closed_at if state is not None else None)
            return blocked is None or (self.background and at is not None and at < blocked - timedelta(minutes=2))

        pool = [n for n in self.workers() if ok(n)] or self.workers()  # never nowhere: the last resort is any worker
        node = pool[self._placement % len(pool)]
        self._placement += 1
        return node

    def pod_ip(self, node: NodeInfo) -> str:
        node.next_ip += self.rng.randrange(1, 7)
        if node.pod_cidr + f".{node.next_ip}" == node.ip:
            node.next_ip += 1
        return f"{node.pod_cidr}.{node.next_ip}"

    def service_ip(self) -> str:
        while True:
            ip = f"{self.profile.service_prefix}.{self.rng.randrange(1, 255)}.{self.rng.randrange(2, 255)}"
            if ip not in self._service_ips and ip != self.profile.dns_ip:
                self._service_ips.add(ip)
                return ip

    # -- events ---------------------------------------------------------------------------
    def event(self, inv: Involved, reason: str, message: str, *, component: str, host: str = "",
              first: datetime, last: datetime | None = None, count: int = 1, warning: bool = False) -> None:
        """A legacy-recorder event (dropped if it expired before the capture)."""
        self._emit(legacy_event(inv, reason=reason, message=message, type_="Warning" if warning else "Normal",
                                component=component, host=host, first=first, last=last, count=count,
                                uid=self.rng.uid(), rv=self.rv(last or first)))

    def kubelet_event(self, pod: PodRecord, reason: str, message: str, *, first: datetime,
                      last: datetime | None = None, count: int = 1, warning: bool = False,
                      container: str | None = None) -> None:
        inv = pod.involved().container(container) if container else pod.involved()
        self.event(inv, reason, message, component="kubelet", host=pod.node.name if pod.node else "", first=first,
                   last=last, count=count, warning=warning)

    def controller_event(self, inv: Involved, component: str, reason: str, message: str, *,
                         first: datetime, last: datetime | None = None, count: int = 1,
                         warning: bool = False) -> None:
        self.event(inv, reason, message, component=component, first=first, last=last, count=count, warning=warning)

    def scheduler_event(self, pod: PodRecord, reason: str, message: str, *, first: datetime,
                        last: datetime | None = None, count: int = 1) -> None:
        failed = reason == "FailedScheduling"
        if first.microsecond == 0:  # a decision takes a few milliseconds after the pod was created
            first += timedelta(microseconds=self.rng.randrange(2_000, 60_000))
        self._emit(scheduler_event(pod.involved(), reason=reason, message=message,
                                   type_="Warning" if failed else "Normal",
                                   action="Scheduling" if failed else "Binding", instance=self.scheduler_instance,
                                   first=first, last=last, count=count, uid=self.rng.uid(),
                                   rv=self.rv(last or first)))

    @property
    def scheduler_instance(self) -> str:
        host = {"eks": "ip-172-16-61-140.eu-west-1.compute.internal", "gke": "gke-2b3c4d5e6f7a8b9c-f1e2-vm"}
        return "default-scheduler-" + host.get(self.profile.provider, f"{self.name}-cp-1")

    def _emit(self, event: dict[str, Any]) -> None:
        last = event["lastTimestamp"] or event.get("series", {}).get("lastObservedTime") or event["eventTime"]
        if _parse(last) < self.now - timedelta(hours=1):
            return  # expired: kube-apiserver --event-ttl=1h
        self.namespace(event["metadata"]["namespace"])
        self.events.append(event)

    # -- alerts and incidents -------------------------------------------------------------------
    def alert(self, name: str, query_labels: dict[str, str], onset: datetime, value: str = "", *,
              episode: bool = False) -> Alert:
        """An alert whose expression became true at ``onset``; it fires ``for`` later, on an eval tick.

        One series is one alert; ``episode=True`` adds a further firing of a series that resolved
        in between (a flapping alert: same labels and fingerprint, a new ``startsAt``).
        """
        assert self.stack is not None, "build the monitoring namespace first"
        stack = StackLabels(self.stack.ksm_pod, self.stack.ksm_ip, cluster=self.name if self.cluster_label else None)
        a = Alert(RULES[name], query_labels, stack, onset, value)
        a.starts_at = self._tick(onset + a.rule.for_, a.rule.group)
        for known in self.alerts if not episode else ():
            if known.labels == a.labels:
                return known
        self.alerts.append(a)
        return a

    def resolve(self, alert: Alert, cleared: datetime) -> Alert:
        """The alert's expression stopped being true at ``cleared``: it resolves on the next evaluation."""
        alert.ends_at = max(self._tick(cleared, alert.rule.group), (alert.starts_at or cleared) + timedelta(seconds=1))
        return alert

    def _tick(self, t: datetime, group: str) -> datetime:
        if group not in self._phase:  # later groups: their own phase, not a draw from the cluster's sequence
            self._phase[group] = derive("phase", self.name, self.seed, group).uniform(0, EVAL_INTERVAL_S)
        phase = self._phase[group]
        k = math.ceil((t.timestamp() - phase) / EVAL_INTERVAL_S)
        ms = round((k * EVAL_INTERVAL_S + phase) * 1000)
        return datetime.fromtimestamp(ms / 1000, UTC)

    def pod_alert(self, name: str, pod: PodRecord, onset: datetime, *, container: str = "",
                  reason: str = "") -> Alert:
        """KubePodCrashLooping / KubeContainerWaiting (pod series) or KubePodNotReady."""
        if name == "KubePodNotReady":
            labels = {"job": "kube-state-metrics", "namespace": pod.namespace, "pod": pod.name}
        else:
            assert self.stack is not None
            labels = {**self.stack.ksm_target(), "namespace": pod.namespace, "pod": pod.name,
                      "container": container, "reason": reason, "uid": pod.uid}
        return self.alert(name, labels, onset)

    def object_alert(self, name: str, onset: datetime, **subject: str) -> Alert:
        """An object-level kube-state-metrics alert: ``pod``/``container`` are the KSM pod's own."""
        assert self.stack is not None
        return self.alert(name, {**self.stack.ksm_target(), **subject}, onset)

    def incident(self, category: str, trigger: str, kind: str, namespace: str, name: str,
                 scenario: str = "") -> Incident:
        inc = Incident(category, trigger, {"kind": kind, "namespace": namespace, "name": name}, scenario=scenario)
        self.incidents.append(inc)
        return inc


_ROOT_CA_DESCRIPTION = ("Contains a CA bundle that can be used to verify the kube-apiserver when using "
                        "internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage "
                        "is guaranteed across distributions of Kubernetes clusters.")


_STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


def _parse(ts: str) -> datetime:
    return datetime.fromisoformat(ts.replace("Z", "+00:00"))
