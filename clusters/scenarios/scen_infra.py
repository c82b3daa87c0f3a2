"""Scenarios below the workloads: a node that stops reporting, and pods no node has room for."""

from __future__ import annotations

from datetime import datetime, timedelta

from . import k8s
from .baseline import healthy_deployment
from .behaviours import run_pending
from .cluster import ClusterBuilder, Incident, PodRecord
from .controllers import stateful_pod
from .events import Involved
from .faults import deployment_alerts, minutes_ago, pick_app, variant
from .nodes import NOT_READY_GRACE
from .profiles import NodeInfo

__all__ = ["insufficient_resources", "node_down", "node_not_ready"]


def _s(x: float) -> timedelta:
    return timedelta(seconds=x)


def node_not_ready(cb: ClusterBuilder, *, seed: int = 0, app: str | None = None,
                   namespace: str | None = None) -> Incident:
    """A worker's kubelet stops posting status (the VM hung). The node turns Unknown and is tainted
    unreachable; its pods turn unready, Deployment pods are evicted after 300s and replaced
    elsewhere, the StatefulSet pod and DaemonSet pods stay behind. One incident, subject the Node.

    Must run before other scenarios place pods, so that only what the node hosts is affected.
    """
    v = variant("node_not_ready", seed)
    spec = pick_app(v, ["catalog", "cart", "auth", "storefront"], app, namespace)
    node = cb.workers()[-1]
    down = minutes_ago(cb, 38, 52)
    cb.down_nodes[node.name] = down
    inc = cb.incident("node_not_ready", "node", "Node", "", node.name, "node_not_ready")
    dep = healthy_deployment(cb, spec, replicas=3, finish=False)
    _move(cb, dep.revisions[-1].pods[-1], node)  # make sure the app has a replica on the node
    dep.finish()
    _stateful(cb, spec.namespace, node)
    cb.fault(lambda: _node_down(cb, inc, node.name, down))
    return inc


def node_down(cb: ClusterBuilder, inc: Incident, node: str, down: datetime, *, host_up: bool = False) -> None:
    """Register ``node`` as having stopped reporting at ``down`` (applied once every pod exists)."""
    cb.fault(lambda: _node_down(cb, inc, node, down, host_up=host_up))


def move(cb: ClusterBuilder, pod: PodRecord, node: NodeInfo) -> None:
    """Put ``pod`` (already running) on ``node`` instead of where round-robin placed it."""
    _move(cb, pod, node)


def _move(cb: ClusterBuilder, pod: PodRecord, node: NodeInfo) -> None:
    pod.node = node
    status = pod.obj["status"]
    pod.obj["spec"]["nodeName"] = node.name
    ip = cb.pod_ip(node)
    status.update(hostIP=node.ip, hostIPs=[{"ip": node.ip}], podIP=ip, podIPs=[{"ip": ip}])


def _stateful(cb: ClusterBuilder, namespace: str, node: NodeInfo) -> None:
    labels = {"app.kubernetes.io/name": "rabbitmq", "app.kubernetes.io/instance": "events"}
    tpl = {"metadata": {"creationTimestamp": None, "labels": labels},
           "spec": k8s.template_spec([k8s.container("rabbitmq", "docker.io/library/rabbitmq:3.13.7-management",
                                                    ports=[("amqp", 5672), ("management", 15672)], hardened=False,
                                                    resources={"limits": {"memory": "1Gi"},
                                                               "requests": {"cpu": "250m", "memory": "1Gi"}})],
                                     service_account="events-rabbitmq")}
    uid, created = cb.rng.uid(), cb.now - timedelta(days=cb.rng.uniform(20, 60))
    nodes = [n for n in cb.workers() if n is not node][:2] + [node]
    for i, n in enumerate(nodes):
        log = {"rabbitmq": f"{created:%Y-%m-%d %H:%M:%S}.118432+00:00 [info] <0.230.0> Server startup complete; "
                           "6 plugins started.\n"}
        stateful_pod(cb, namespace, "events-rabbitmq", uid, i, tpl, node=n, created=created + _s(40 * i),
                     revision="6b9f7c5d84", service="events-rabbitmq-headless", logs=log)


def _node_down(cb: ClusterBuilder, inc: Incident, name: str, down: datetime, *, host_up: bool = False) -> None:
    """The node controller's view of a silent kubelet; ``host_up``: only the kubelet stopped (the host
    and its node-exporter still answer, the kubelet port refuses connections)."""
    node = next(n for n in cb.nodes if n.name == name)
    unknown = down + NOT_READY_GRACE
    inv = Involved("Node", name, cb.node_uids[name])
    cb.controller_event(inv, "node-controller", "NodeNotReady", f"Node {name} status is now: NodeNotReady",
                        first=unknown)
    inc.add(cb.object_alert("KubeNodeNotReady", unknown, condition="Ready", node=name, status="true"),
            cb.object_alert("KubeNodeUnreachable", unknown, effect="NoSchedule",
                            key="node.kubernetes.io/unreachable", node=name))
    evict = unknown + _s(300 + cb.rng.between(0.5, 3))
    daemonsets: set[tuple[str, str]] = set()
    for pod in [p for p in cb.pods if p.node is node]:
        _unready(cb, pod, unknown, refused=host_up)
        if pod.owner_kind != "Job":
            inc.add(cb.pod_alert("KubePodNotReady", pod, unknown))
        if pod.owner_kind == "DaemonSet":
            daemonsets.add((pod.namespace, pod.owner_name))
        elif pod.owner_kind == "StatefulSet":
            inc.add(cb.object_alert("KubeStatefulSetReplicasMismatch", unknown, namespace=pod.namespace,
                                    statefulset=pod.owner_name))
        if pod.owner_kind != "DaemonSet" and pod.owner_kind != "Node":
            _evict(cb, pod, evict)
    for ns, ds in sorted(daemonsets):
        inc.add(cb.object_alert("KubeDaemonSetRolloutStuck", unknown, namespace=ns, daemonset=ds))
    total = len(cb.nodes)
    value = f"{100 / total:.4g}"
    agents = [("node-exporter", "monitoring", "kube-prometheus-stack-prometheus-node-exporter"),
              ("kubelet", "kube-system", "kube-prometheus-stack-kubelet")]
    for job, ns, svc in agents[1:] if host_up else agents:
        inc.add(cb.alert("TargetDown", {"job": job, "namespace": ns, "service": svc}, down + _s(20), value=value))


def _unready(cb: ClusterBuilder, pod: PodRecord, at: datetime, *, refused: bool = False) -> None:
    """``MarkPodsNotReady``: only the Ready condition flips; nothing else is reported any more."""
    for cond in pod.obj["status"].get("conditions", []):
        if cond["type"] == "Ready":
            cond["status"] = "False"
            cond["lastTransitionTime"] = at.strftime("%Y-%m-%dT%H:%M:%SZ")
    cb.controller_event(pod.involved(), "node-controller", "NodeNotReady", "Node is not ready", first=at,
                        warning=True)
    host = pod.node.ip if pod.node else ""
    for c in pod.obj["spec"]["containers"]:
        why = "connect: connection refused" if refused else "i/o timeout"
        pod.logs[c["name"]] = (f'Request log error: Get "https://{host}:10250/containerLogs/{pod.namespace}/'
                               f'{pod.name}/{c["name"]}": dial tcp {host}:10250: {why}\n')


def _evict(cb: ClusterBuilder, pod: PodRecord, at: datetime) -> None:
    """The taint manager deletes the pod; the kubelet never confirms, so it stays Terminating."""
    grace = pod.obj["spec"].get("terminationGracePeriodSeconds", 30)
    md = pod.obj["metadata"]
    md["deletionTimestamp"] = (at + _s(grace)).strftime("%Y-%m-%dT%H:%M:%SZ")
    md["deletionGracePeriodSeconds"] = grace
    md["resourceVersion"] = cb.rv(at)
    pod.obj["metadata"] = k8s.order(md, k8s.META_ORDER)
    generation = {"observedGeneration": 1} if cb.profile.minor >= 34 else {}
    pod.obj["status"]["conditions"].insert(0, {
        "type": "DisruptionTarget", **generation, "status": "True", "lastProbeTime": None,
        "lastTransitionTime": at.strftime("%Y-%m-%dT%H:%M:%SZ"), "reason": "DeletionByTaintManager",
        "message": "Taint manager: deleting due to NoExecute taint"})
    cb.controller_event(pod.involved(), "taint-eviction-controller", "TaintManagerEviction",
                        f"Marking for deletion Pod {pod.namespace}/{pod.name}", first=at)
    if pod.replace is not None:
        pod.replace(at + _s(cb.rng.between(0.05, 0.4)))


def insufficient_resources(cb: ClusterBuilder, *, seed: int = 0, app: str | None = None,
                           namespace: str | None = None) -> Incident:
    """The HPA scaled a memory-hungry service up; no node has the memory for the new pods."""
    v = variant("insufficient_resources", seed)
    spec = pick_app(v, ["search-api", "report-builder", "recommendations"], app, namespace)
    spec = spec.with_(memory=v.choice(["6Gi", "8Gi"]), replicas=3)
    inc = cb.incident("insufficient_resources", "unknown", "Deployment", spec.namespace, spec.name,
                      "insufficient_resources")
    at = minutes_ago(cb, 30, 48)
    dep = healthy_deployment(cb, spec, finish=False)
    rev = dep.revisions[-1]
    target = spec.replicas * 2
    hpa = Involved("HorizontalPodAutoscaler", spec.name, cb.rng.uid(), spec.namespace, "autoscaling/v2")
    cb.controller_event(hpa, "horizontal-pod-autoscaler", "SuccessfulRescale",
                        f"New size: {target}; reason: cpu resource utilization (percentage of request) above target",
                        first=at - _s(1))
    dep.scaled(rev, at, spec.replicas, target)
    dep.replicas = rev.replicas = target
    message = _fit_error(cb)
    for i in range(target - spec.replicas):
        created = at + _s(0.2 + 0.3 * i)
        pod = dep.pod(rev, created=created, placed=False)
        dep.pod_created_event(rev, pod)
        run_pending(cb, pod, message=message, attempts=3 + int((cb.now - created).total_seconds() / 300))
        inc.add(cb.pod_alert("KubePodNotReady", pod, created))
    dep.unavailable_since = at
    dep.finish()
    deployment_alerts(cb, inc, dep, mismatch_from=at + timedelta(minutes=10))
    return inc


def _fit_error(cb: ClusterBuilder) -> str:
    workers, total = len(cb.workers()), len(cb.nodes)
    reasons = [f"{workers} Insufficient memory"]
    post = [f"{workers} No preemption victims found for incoming pod"]
    if total > workers:
        reasons.insert(0, f"{total - workers} node(s) had untolerated taint {{node-role.kubernetes.io/control-plane: }}")
        post.insert(0, f"{total - workers} Preemption is not helpful for scheduling")
    return (f"0/{total} nodes are available: {', '.join(sorted(reasons))}. preemption: 0/{total} nodes are "
            f"available: {', '.join(sorted(post))}.")
