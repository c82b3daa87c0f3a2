"""The kube-prometheus-stack alerting rules the scenarios fire, as Prometheus evaluates them.

``expr`` is the rule's query as Prometheus re-prints it for ``generatorURL``
(``rule.Query().String()``): normalised spacing, matchers sorted, and the ``namespace=~".*"``
selector the Helm chart injects into the ``kubernetes-apps`` rules. The five captured in
``reference/samples/alertmanager/captured-0.25.0`` are copied from there verbatim; the others are
normalised the same way from ``alerts-summary.json``. Annotation templates are verbatim from the
mixin (``reference/real-formats.md`` §2.2).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

__all__ = ["RULES", "Rule", "render"]

_KSM = 'job="kube-state-metrics",namespace=~".*"'


@dataclass(frozen=True)
class Rule:
    name: str
    group: str
    for_: timedelta
    severity: str
    expr: str
    description: str
    summary: str

    @property
    def runbook_url(self) -> str:
        return f"https://runbooks.prometheus-operator.dev/runbooks/{self._runbook_dir}/{self.name.lower()}"

    @property
    def _runbook_dir(self) -> str:
        return {"general.rules": "general", "node-exporter": "node"}.get(self.group, "kubernetes")


def _m(minutes: float) -> timedelta:
    return timedelta(minutes=minutes)


_POD_NOT_READY = (
    "sum by (namespace, pod, job, cluster) (max by (namespace, pod, job, cluster) "
    f'(kube_pod_status_phase{{{_KSM},phase=~"Pending|Unknown"}} or '
    f'(kube_pod_status_phase{{{_KSM},phase="Running"}} == 1 and on (namespace, pod, cluster) '
    f'kube_pod_status_ready{{condition="true",{_KSM}}} == 0)) * on (namespace, pod, cluster) '
    "group_left () topk by (namespace, pod, cluster) (1, max by (namespace, pod, owner_kind, cluster) "
    '(kube_pod_owner{owner_kind!="Job"}))) > 0 unless on (namespace, pod, cluster) '
    'kube_pod_status_reason{job="kube-state-metrics",reason="SchedulingGated"} == 1'
)

_DS_STUCK = (
    f"((kube_daemonset_status_current_number_scheduled{{{_KSM}}} != "
    f"kube_daemonset_status_desired_number_scheduled{{{_KSM}}}) or "
    f"(kube_daemonset_status_number_misscheduled{{{_KSM}}} != 0) or "
    f"(kube_daemonset_status_updated_number_scheduled{{{_KSM}}} != "
    f"kube_daemonset_status_desired_number_scheduled{{{_KSM}}}) or "
    f"(kube_daemonset_status_number_available{{{_KSM}}} != "
    f"kube_daemonset_status_desired_number_scheduled{{{_KSM}}})) and "
    f"(changes(kube_daemonset_status_updated_number_scheduled{{{_KSM}}}[5m]) == 0)"
)

_NE = 'fstype!="",job="node-exporter",mountpoint!=""'
_KUBELET_VOL = 'job="kubelet",metrics_path="/metrics",namespace=~".*"'
_CADVISOR = 'job="kubelet",metrics_path="/metrics/cadvisor"'
_THROTTLE_SUM = ("sum without (id, metrics_path, name, image, endpoint, job, node) (topk by (cluster, namespace, "
                 "pod, container, instance) (1, increase({metric}{{{sel}}}[5m])))")

#: Rules of the newer scenarios (storage, batch, node pressure, throttling).
_MORE = [
    Rule(
        "KubeJobFailed", "kubernetes-apps", _m(15), "warning",
        f"kube_job_failed{{{_KSM}}} > 0",
        "Job {namespace}/{job_name} failed to complete. Removing failed job after investigation should clear "
        "this alert on cluster {cluster}.",
        "Job failed to complete.",
    ),
    Rule(
        "CPUThrottlingHigh", "kubernetes-resources", _m(15), "info",
        _THROTTLE_SUM.format(metric="container_cpu_cfs_throttled_periods_total", sel=f'container!="",{_CADVISOR}')
        + " / on (cluster, namespace, pod, container, instance) group_left () "
        + _THROTTLE_SUM.format(metric="container_cpu_cfs_periods_total", sel=_CADVISOR) + " > (25 / 100)",
        "{value} throttling of CPU in namespace {namespace} for container {container} in pod {pod} on cluster "
        "{cluster}.",
        "Processes experience elevated CPU throttling.",
    ),
    Rule(
        "KubePersistentVolumeFillingUp", "kubernetes-storage", _m(1), "critical",
        f"(kubelet_volume_stats_available_bytes{{{_KUBELET_VOL}}} / kubelet_volume_stats_capacity_bytes"
        f"{{{_KUBELET_VOL}}}) < 0.03 and kubelet_volume_stats_used_bytes{{{_KUBELET_VOL}}} > 0 unless on "
        "(cluster, namespace, persistentvolumeclaim) kube_persistentvolumeclaim_access_mode{access_mode="
        '"ReadOnlyMany",namespace=~".*"} == 1 unless on (cluster, namespace, persistentvolumeclaim) '
        'kube_persistentvolumeclaim_labels{label_excluded_from_alerts="true",namespace=~".*"} == 1',
        "The PersistentVolume claimed by {persistentvolumeclaim} in Namespace {namespace} {on_cluster} is only "
        "{value} free.",
        "PersistentVolume is filling up.",
    ),
    Rule(
        "KubeNodePressure", "kubernetes-system-kubelet", _m(10), "info",
        'kube_node_status_condition{condition=~"(MemoryPressure|DiskPressure|PIDPressure)",job="kube-state-metrics",'
        'status="true"} == 1 and on (cluster, node) kube_node_spec_unschedulable{job="kube-state-metrics"} == 0',
        "{node} on cluster {cluster} has active Condition {condition}. This is caused by resource usage exceeding "
        "eviction thresholds.",
        "Node has as active Condition.",
    ),
    Rule(
        "NodeMemoryHighUtilization", "node-exporter", _m(15), "warning",
        '100 - (node_memory_MemAvailable_bytes{job="node-exporter"} / node_memory_MemTotal_bytes'
        '{job="node-exporter"} * 100) > 90',
        "Memory is filling up at {instance}, has been above 90% for the last 15 minutes, is currently at "
        "{value}%.\n",
        "Host is running out of memory.",
    ),
    Rule(
        "NodeFilesystemAlmostOutOfSpace", "node-exporter", _m(30), "warning",
        f"(node_filesystem_avail_bytes{{{_NE}}} / node_filesystem_size_bytes{{{_NE}}} * 100 < 5 and "
        f"node_filesystem_readonly{{{_NE}}} == 0)",
        "Filesystem on {device}, mounted on {mountpoint}, at {instance} has only {value}% available space left.",
        "Filesystem has less than 5% space left.",
    ),
]

_RULES = [
    Rule(
        "KubePodCrashLooping", "kubernetes-apps", _m(15), "warning",
        f'max_over_time(kube_pod_container_status_waiting_reason{{{_KSM},reason="CrashLoopBackOff"}}[5m]) >= 1',
        'Pod {namespace}/{pod} ({container}) is in waiting state (reason: "CrashLoopBackOff") on cluster {cluster}.',
        "Pod is crash looping.",
    ),
    Rule(
        "KubePodNotReady", "kubernetes-apps", _m(15), "warning", _POD_NOT_READY,
        "Pod {namespace}/{pod} has been in a non-ready state for longer than 15 minutes on cluster {cluster}.",
        "Pod has been in a non-ready state for more than 15 minutes.",
    ),
    Rule(
        "KubeDeploymentReplicasMismatch", "kubernetes-apps", _m(15), "warning",
        f"(kube_deployment_spec_replicas{{{_KSM}}} > kube_deployment_status_replicas_available{{{_KSM}}}) "
        f"and (changes(kube_deployment_status_replicas_updated{{{_KSM}}}[10m]) == 0)",
        "Deployment {namespace}/{deployment} has not matched the expected number of replicas for longer "
        "than 15 minutes on cluster {cluster}.",
        "Deployment has not matched the expected number of replicas.",
    ),
    Rule(
        "KubeDeploymentRolloutStuck", "kubernetes-apps", _m(15), "warning",
        f'kube_deployment_status_condition{{condition="Progressing",{_KSM},status="false"}} != 0',
        "Rollout of deployment {namespace}/{deployment} is not progressing for longer than 15 minutes "
        "on cluster {cluster}.",
        "Deployment rollout is not progressing.",
    ),
    Rule(
        "KubeStatefulSetReplicasMismatch", "kubernetes-apps", _m(15), "warning",
        f"(kube_statefulset_status_replicas_ready{{{_KSM}}} != kube_statefulset_replicas{{{_KSM}}}) "
        f"and (changes(kube_statefulset_status_replicas_updated{{{_KSM}}}[10m]) == 0)",
        "StatefulSet {namespace}/{statefulset} has not matched the expected number of replicas for "
        "longer than 15 minutes on cluster {cluster}.",
        "StatefulSet has not matched the expected number of replicas.",
    ),
    Rule(
        "KubeDaemonSetRolloutStuck", "kubernetes-apps", _m(15), "warning", _DS_STUCK,
        "DaemonSet {namespace}/{daemonset} has not finished or progressed for at least 15m on cluster {cluster}.",
        "DaemonSet rollout is stuck.",
    ),
    Rule(
        "KubeContainerWaiting", "kubernetes-apps", _m(60), "warning",
        f'kube_pod_container_status_waiting_reason{{{_KSM},reason!="CrashLoopBackOff"}} > 0',
        "pod/{pod} in namespace {namespace} on container {container} has been in waiting state for "
        'longer than 1 hour. (reason: "{reason}") on cluster {cluster}.',
        "Pod container waiting longer than 1 hour",
    ),
    Rule(
        "KubeNodeNotReady", "kubernetes-system-kubelet", _m(15), "warning",
        'kube_node_status_condition{condition="Ready",job="kube-state-metrics",status="true"} == 0 and on '
        '(cluster, node) kube_node_spec_unschedulable{job="kube-state-metrics"} == 0',
        "{node} has been unready for more than 15 minutes on cluster {cluster}.",
        "Node is not ready.",
    ),
    Rule(
        "KubeNodeUnreachable", "kubernetes-system-kubelet", _m(15), "warning",
        '(kube_node_spec_taint{effect="NoSchedule",job="kube-state-metrics",key="node.kubernetes.io/unreachable"} '
        'unless ignoring (key, value) kube_node_spec_taint{job="kube-state-metrics",key=~"ToBeDeletedByClusterAutoscaler'
        '|cloud.google.com/impending-node-termination|aws-node-termination-handler/spot-itn"}) == 1',
        "{node} is unreachable and some workloads may be rescheduled on cluster {cluster}.",
        "Node is unreachable.",
    ),
    Rule(
        "TargetDown", "general.rules", _m(10), "warning",
        "100 * (count by (cluster, job, namespace, service) (up == 0) / count by (cluster, job, namespace, "
        "service) (up)) > 10",
        "{value}% of the {job}/{service} targets in {namespace} namespace are down.",
        "One or more targets are unreachable.",
    ),
    *_MORE,
]

#: Rules by alert name.
RULES: dict[str, Rule] = {r.name: r for r in _RULES}


def render(template: str, labels: dict[str, str], value: str = "") -> str:
    """Expand a description the way Prometheus does from the alert's *query* labels.

    ``$labels.cluster`` is empty unless the series itself carries ``cluster``: a Prometheus
    external label is not visible to templates, which is why real descriptions end
    ``on cluster .`` even when the alert carries a ``cluster`` label.
    """
    cluster = labels.get("cluster", "")
    fields = _Fields(labels, value=value, on_cluster=f"on Cluster {cluster}" if cluster else "")
    return template.format_map(fields)


class _Fields(dict[str, str]):
    """Template fields: the query labels, ``value``; a label the series lacks renders empty (as in Go)."""

    def __init__(self, labels: dict[str, str], **extra: str) -> None:
        super().__init__(labels, **extra)

    def __missing__(self, key: str) -> str:
        return ""
