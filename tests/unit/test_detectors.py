"""Detectors against evidence built from the real strings of the shared samples (no Ray, tmp_path only).

Every case writes Parquet with ``write_evidence`` and reads it back through ``IncidentEvidence``,
so the detectors see exactly what the investigator sees. Strings come from
``samples/k8s/real-event-messages.json``, ``container-status-examples.json`` and
``app-logs/real-app-log-samples.json`` through the ``sample_*`` helpers; the few formats the samples
lack (a registry's 401, a containerd StartError, ENOSPC) are built from the format strings that
``real-formats.md`` cites and are marked "format-derived".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from engine.detectors import REGISTRY, run_detectors
from engine.detectors import patterns as P
from engine.detectors.common import event_container, view
from tests.unit.detector_fixtures import (
    CLUSTER,
    T0,
    ago,
    alert,
    container,
    context,
    crashloop_alert,
    event,
    from_status,
    incident,
    logs,
    pod,
    sample_event,
    sample_log,
    sample_status,
    write,
)

POD = "checkout-7d9c5b6f4-x2kqp"
DETECTORS = dict(REGISTRY)


def crashing(**kw: Any) -> dict[str, Any]:
    """A crash-looping container of POD whose last instance exited with ``last_exit_code``."""
    base = dict(
        state="waiting",
        reason="CrashLoopBackOff",
        last_state="terminated",
        last_reason="Error",
        last_exit_code=1,
        last_finished_at=ago(3),
        restart_count=6,
    )
    return container(POD, **{**base, **kw})


@dataclass
class Case:
    id: str
    detector: str
    tables: Callable[[], dict[str, list[dict[str, Any]]]]
    expect: bool = True
    min_conf: float = 0.0
    max_conf: float = 1.0
    facts: dict[str, Any] = field(default_factory=dict)
    alerts: list[Any] | None = None


CASES = [
    # -- oom_killed --------------------------------------------------------------------------------
    Case(
        "oom-last-state",
        "oom_killed",
        lambda: {
            "pods": [pod(POD)],
            "containers": [
                crashing(
                    last_reason="OOMKilled",
                    last_exit_code=137,
                    memory_limit="256Mi",
                    memory_limit_bytes=256 * 2**20,
                )
            ],
        },
        min_conf=0.9,
        facts={"memory_limit": "256Mi", "container": "app"},
    ),
    Case(
        "exit-137-error-is-not-oom (AKS tunnelfront)",
        "oom_killed",
        lambda: {
            "pods": [pod(POD, ready=True)],
            "containers": [from_status(POD, sample_status("tunnelfront"))],
        },
        expect=False,
    ),
    Case(
        "npd-OOMKilling-combined-on-node",
        "oom_killed",
        lambda: {
            "pods": [pod(POD)],
            "containers": [crashing(last_exit_code=137)],
            "events": [
                event(
                    "node-a",
                    "OOMKilling",
                    sample_event("Memory cgroup out of memory"),
                    kind="Node",
                    ns=None,
                    source="kernel-monitor",
                )
            ],
        },
        min_conf=0.65,
        facts={"process": "java", "node": "node-a"},
    ),
    Case(
        "jvm-heap-oom-log",
        "oom_killed",
        lambda: {"pods": [pod(POD)], "containers": [crashing()], "logs": logs(POD, sample_log("java_oom"))},
        min_conf=0.6,
        max_conf=0.8,
    ),
    # -- image_pull_error --------------------------------------------------------------------------
    Case(
        "containerd-not-found (komari)",
        "image_pull_error",
        lambda: {
            "pods": [pod(POD, phase="Pending")],
            "containers": [
                container(
                    POD,
                    state="waiting",
                    reason="ImagePullBackOff",
                    message=sample_event('Back-off pulling image "ghcr.io/komari-monitor/komari:1.0.0"'),
                    image="ghcr.io/komari-monitor/komari:1.0.0",
                )
            ],
            "events": [
                event(POD, "Failed", sample_event('Failed to pull image "ghcr.io/komari')),
                event(POD, "Failed", sample_event("Error: ErrImagePull")),
                event(POD, "BackOff", sample_event('Back-off pulling image "ghcr.io/komari'), type_="Normal"),
            ],
        },
        min_conf=0.9,
        facts={"image": "ghcr.io/komari-monitor/komari:1.0.0", "answer": "not found", "registry": "ghcr.io"},
    ),
    Case(
        "waiting-message-carries-cause (sympozium)",
        "image_pull_error",
        lambda: {
            "pods": [pod(POD, phase="Pending")],
            "containers": [
                container(
                    POD,
                    state="waiting",
                    reason="ImagePullBackOff",
                    message=sample_event('ghcr.io/alexsjones/sympozium/node-probe:v0.1.8": ErrImagePull'),
                )
            ],
        },
        min_conf=0.85,
        facts={"image": "ghcr.io/alexsjones/sympozium/node-probe:v0.1.8", "answer": "not found"},
    ),
    Case(
        "dockershim-dns-to-registry",
        "image_pull_error",
        lambda: {
            "pods": [pod(POD, phase="Pending")],
            "events": [event(POD, "Failed", sample_event('Failed to pull image "nginx"'))],
        },
        min_conf=0.8,
        facts={"image": "nginx", "answer": "unreachable", "registry": "docker.io"},
    ),
    Case(
        "containerd-401 (format-derived)",
        "image_pull_error",
        lambda: {
            "pods": [pod(POD, phase="Pending")],
            "events": [
                event(
                    POD,
                    "Failed",
                    'Failed to pull image "registry.example.com/shop/app:2.0": rpc error: code = '
                    'Unknown desc = failed to pull and unpack image "registry.example.com/shop/app:2.0": failed to '
                    'resolve reference "registry.example.com/shop/app:2.0": pulling from host registry.example.com '
                    "failed with status code [manifests 2.0]: 401 Unauthorized",
                )
            ],
        },
        facts={"answer": "unauthorized", "registry": "registry.example.com"},
    ),
    # -- missing_secret_or_configmap ---------------------------------------------------------------
    Case(
        "secret-not-found (minikube 2019)",
        "missing_secret_or_configmap",
        lambda: {
            "pods": [pod(POD, phase="Pending")],
            "containers": [
                container(
                    POD,
                    state="waiting",
                    reason="CreateContainerConfigError",
                    message='secret "pgpassword" not found',
                    env_refs=["secret:pgpassword:PGPASSWORD"],
                )
            ],
            "events": [event(POD, "Failed", sample_event('Error: secret "pgpassword" not found'), count=8)],
        },
        min_conf=0.95,
        facts={"kind": "Secret", "name": "pgpassword", "namespace": "shop"},
    ),
    Case(
        "missing-key-in-secret (aegis)",
        "missing_secret_or_configmap",
        lambda: {
            "pods": [pod(POD, phase="Pending")],
            "events": [event(POD, "Failed", sample_event("couldn't find key VALUE"))],
        },
        min_conf=0.85,
        facts={
            "kind": "Secret",
            "key": "VALUE",
            "name": "aegis-secret-aegis-workload-demo",
            "namespace": "default",
        },
    ),
    Case(
        "plural-secrets",
        "missing_secret_or_configmap",
        lambda: {
            "events": [event(POD, "Failed", sample_event('secrets "my-password"'))],
            "pods": [pod(POD, phase="Pending")],
        },
        facts={"kind": "Secret", "name": "my-password"},
    ),
    Case(
        "plural-configmaps",
        "missing_secret_or_configmap",
        lambda: {
            "events": [event(POD, "Failed", sample_event('configmaps "webapp"'))],
            "pods": [pod(POD, phase="Pending")],
        },
        facts={"kind": "ConfigMap", "name": "webapp"},
    ),
    Case(
        "failedmount-secret (contour)",
        "missing_secret_or_configmap",
        lambda: {
            "pods": [pod(POD, phase="Pending")],
            "events": [event(POD, "FailedMount", sample_event('volume "contourcert"'))],
        },
        min_conf=0.85,
        facts={"kind": "Secret", "name": "contourcert", "volume": "contourcert"},
    ),
    Case(
        "configmap-cache-timeout-is-not-missing",
        "missing_secret_or_configmap",
        lambda: {
            "pods": [pod(POD, phase="Pending")],
            "events": [event(POD, "FailedMount", sample_event("failed to sync configmap cache"))],
        },
        expect=False,
    ),
    # -- config_error ------------------------------------------------------------------------------
    Case(
        "bash-unbound-variable (keycloak)",
        "config_error",
        lambda: {
            "pods": [pod(POD)],
            "containers": [crashing()],
            "logs": logs(POD, sample_log("missing_env_var")),
        },
        min_conf=0.75,
        facts={"variable": "DB_ADDR"},
    ),
    Case(
        "spring-placeholder",
        "config_error",
        lambda: {
            "pods": [pod(POD)],
            "containers": [crashing()],
            "logs": logs(POD, sample_log("missing_config", "java/spring")),
        },
        min_conf=0.75,
        facts={"variable": "ENABLE_TRACING"},
    ),
    Case(
        "spring6-placeholder",
        "config_error",
        lambda: {
            "pods": [pod(POD)],
            "containers": [crashing()],
            "logs": logs(POD, sample_log("missing_config", "java/spring (6.x)")),
        },
        facts={"variable": "REPOSITORY_URL"},
    ),
    Case(
        "node-env-var-required (format-derived)",
        "config_error",
        lambda: {
            "pods": [pod(POD)],
            "containers": [crashing()],
            "logs": logs(
                POD,
                [
                    'EnvVarError: env-var: "UPSTREAM_API_URL" is a required variable, but it was not set',
                    "    at raiseError (/app/node_modules/env-var/lib/variable.js:47:11)",
                ],
            ),
        },
        facts={"variable": "UPSTREAM_API_URL"},
    ),
    Case(
        "pydantic-settings-field-required (format-derived)",
        "config_error",
        lambda: {
            "pods": [pod(POD)],
            "containers": [crashing()],
            "logs": logs(
                POD,
                [
                    "Traceback (most recent call last):",
                    "pydantic_core._pydantic_core.ValidationError: 1 validation error for Settings",
                    "db_host",
                    "  Field required [type=missing, input_value={}, input_type=dict]",
                ],
            ),
        },
        facts={"variable": "DB_HOST"},
    ),
    Case(
        "v8-json-config-parse (format-derived)",
        "config_error",
        lambda: {
            "pods": [pod(POD)],
            "containers": [crashing()],
            "logs": logs(
                POD,
                [
                    "/etc/app/config.json: SyntaxError: Expected double-quoted property name in JSON at "
                    "position 73 (line 6 column 3)",
                    "    at JSON.parse (<anonymous>)",
                ],
            ),
        },
        min_conf=0.75,
    ),
    Case(
        "starterror-executable-not-found (format-derived)",
        "config_error",
        lambda: {
            "pods": [pod(POD)],
            "containers": [
                crashing(
                    last_reason="StartError",
                    last_exit_code=128,
                    last_message="failed to create containerd task: failed to create "
                    "shim task: OCI runtime create failed: runc create failed: unable "
                    'to start container process: exec: "gunicorn": executable file not '
                    "found in $PATH: unknown",
                )
            ],
        },
        min_conf=0.8,
        facts={"executable": "gunicorn"},
    ),
    Case(
        "service-account-missing (minikube 2019)",
        "config_error",
        lambda: {
            "events": [
                event(
                    "checkout-7d9c5b6f4",
                    "FailedCreate",
                    sample_event('serviceaccount "nginx-ingress"'),
                    kind="ReplicaSet",
                    source="replicaset-controller",
                )
            ]
        },
        facts={"service_account": "nginx-ingress"},
        alerts=[
            alert(
                {"alertname": "KubeDeploymentReplicasMismatch", "namespace": "shop", "deployment": "checkout"}
            )
        ],
    ),
    # -- dependency_unavailable --------------------------------------------------------------------
    Case(
        "psycopg2-libpq<14 three lines",
        "dependency_unavailable",
        lambda: {
            "pods": [pod(POD)],
            "containers": [crashing()],
            "logs": logs(POD, sample_log("db_connection_refused", "python/sqlalchemy+psycopg2")),
        },
        min_conf=0.8,
        facts={"dependency": "postgres:5432", "failure": "connection refused"},
    ),
    Case(
        "libpq>=14",
        "dependency_unavailable",
        lambda: {
            "pods": [pod(POD)],
            "containers": [crashing()],
            "logs": logs(POD, sample_log("db_connection_refused", "psql")),
        },
        facts={"dependency": "10.92.2.59:5432"},
    ),
    Case(
        "pgjdbc-hikari",
        "dependency_unavailable",
        lambda: {
            "pods": [pod(POD)],
            "containers": [crashing()],
            "logs": logs(POD, sample_log("db_connection_refused", "java/spring+hikari+pgjdbc")),
        },
        facts={"dependency": "postgres:5432"},
    ),
    Case(
        "go-logfmt-dial",
        "dependency_unavailable",
        lambda: {
            "pods": [pod(POD)],
            "containers": [crashing()],
            "logs": logs(POD, sample_log("db_connection_refused", "go (postgres_exporter, logfmt)")),
        },
        facts={"dependency": "127.0.0.1:5432"},
    ),
    Case(
        "ioredis-econnrefused",
        "dependency_unavailable",
        lambda: {
            "pods": [pod(POD)],
            "containers": [crashing()],
            "logs": logs(POD, sample_log("cache_connection_refused", "node/ioredis")),
        },
        facts={"dependency": "127.0.0.1:6379"},
    ),
    Case(
        "java-unknown-host",
        "dependency_unavailable",
        lambda: {
            "pods": [pod(POD)],
            "containers": [crashing()],
            "logs": logs(POD, sample_log("dns_resolution_failure", "java")),
        },
        facts={"dependency": "pod1", "failure": "name resolution failed"},
    ),
    Case(
        "go-no-such-host",
        "dependency_unavailable",
        lambda: {
            "pods": [pod(POD)],
            "containers": [crashing()],
            "logs": logs(POD, sample_log("dns_resolution_failure", "go")),
        },
        facts={"dependency": "juliette"},
    ),
    Case(
        "refusals-of-a-healthy-pod-stay-weak",
        "dependency_unavailable",
        lambda: {
            "pods": [pod(POD, ready=True)],
            "containers": [container(POD, ready=True)],
            "logs": logs(POD, sample_log("cache_connection_refused", "node (newer)"), previous=False),
        },
        max_conf=0.39,
    ),
    # -- insufficient_resources / scheduling_constraints / node_cordoned -------------------------------
    Case(
        "insufficient-cpu (minikube 2019)",
        "insufficient_resources",
        lambda: {
            "pods": [pod(POD, phase="Pending", node=None)],
            "events": [
                event(
                    POD,
                    "FailedScheduling",
                    sample_event("1 Insufficient cpu."),
                    count=38,
                    source="default-scheduler",
                )
            ],
        },
        min_conf=0.9,
        facts={"resources": ["cpu"], "nodes_total": 1},
    ),
    Case(
        "legacy-predicates",
        "insufficient_resources",
        lambda: {
            "pods": [pod(POD, phase="Pending", node=None)],
            "events": [event(POD, "FailedScheduling", sample_event("No nodes are available that match"))],
        },
        min_conf=0.8,
        facts={"resources": ["pods"]},
    ),
    Case(
        "kubelet-OutOfcpu",
        "insufficient_resources",
        lambda: {
            "pods": [pod(POD, phase="Failed", reason="OutOfcpu")],
            "events": [event(POD, "OutOfcpu", sample_event("Node didn't have enough resource: cpu"))],
        },
        min_conf=0.85,
        facts={"resources": ["cpu"]},
    ),
    Case(
        "untolerated-taint",
        "scheduling_constraints",
        lambda: {
            "pods": [pod(POD, phase="Pending", node=None)],
            "events": [event(POD, "FailedScheduling", sample_event("untolerated taint {node-role"))],
        },
        min_conf=0.8,
        facts={"taints": ["node-role.kubernetes.io/control-plane: "]},
    ),
    Case(
        "taint-is-not-insufficient",
        "insufficient_resources",
        lambda: {
            "pods": [pod(POD, phase="Pending", node=None)],
            "events": [
                event(POD, "FailedScheduling", sample_event("had taints that the pod didn't tolerate"))
            ],
        },
        expect=False,
    ),
    Case(
        "all-nodes-cordoned (format-derived)",
        "node_cordoned",
        lambda: {
            "pods": [pod(POD, phase="Pending", node=None)],
            "events": [
                event(
                    POD,
                    "FailedScheduling",
                    "0/3 nodes are available: 3 node(s) were unschedulable. preemption: "
                    "0/3 nodes are available: 3 Preemption is not helpful for scheduling.",
                )
            ],
        },
        min_conf=0.8,
    ),
    # -- probe_failure -----------------------------------------------------------------------------
    Case(
        "liveness-kill-137-error (AKS)",
        "probe_failure",
        lambda: {
            "pods": [pod(POD)],
            "containers": [from_status(POD, sample_status("tunnelfront"), ready=False)],
            "events": [
                event(
                    POD,
                    "Unhealthy",
                    sample_event("Liveness probe failed: HTTP probe failed with statuscode: 500"),
                    count=40,
                    field_path="spec.containers{tunnel-front}",
                ),
                event(
                    POD,
                    "Killing",
                    "Container tunnel-front failed liveness probe, will be restarted",
                    type_="Normal",
                    field_path="spec.containers{tunnel-front}",
                ),
            ],
        },
        min_conf=0.85,
        facts={"probe": "Liveness", "container": "tunnel-front", "restarted": True},
    ),
    Case(
        "legacy-1.8-kill-message",
        "probe_failure",
        lambda: {
            "pods": [pod(POD)],
            "events": [
                event(
                    POD, "Killing", sample_event("Killing container with id docker://dnsmasq"), type_="Normal"
                )
            ],
        },
        facts={"container": "dnsmasq"},
    ),
    Case(
        "probe-failures-of-an-oomkilled-container-are-weak",
        "probe_failure",
        lambda: {
            "pods": [pod(POD)],
            "containers": [crashing(last_reason="OOMKilled", last_exit_code=137)],
            "events": [
                event(
                    POD,
                    "Unhealthy",
                    sample_event("Liveness probe failed: "),
                    field_path="spec.containers{app}",
                )
            ],
        },
        max_conf=0.4,
    ),
    # -- node_not_ready ----------------------------------------------------------------------------
    Case(
        "node-unknown",
        "node_not_ready",
        lambda: {
            "pods": [pod(POD, node="ip-10-0-3-41.eu-west-1.compute.internal")],
            "nodes": [
                {
                    "name": "ip-10-0-3-41.eu-west-1.compute.internal",
                    "ready": "Unknown",
                    "unschedulable": False,
                    "taints": [
                        "node.kubernetes.io/unreachable:NoSchedule",
                        "node.kubernetes.io/unreachable:NoExecute",
                    ],
                }
            ],
            "node_conditions": [
                {
                    "node": "ip-10-0-3-41.eu-west-1.compute.internal",
                    "type": "Ready",
                    "status": "Unknown",
                    "reason": "NodeStatusUnknown",
                    "message": "Kubelet stopped posting node status.",
                    "last_transition": ago(20),
                }
            ],
            "events": [
                event(
                    "ip-10-0-3-41.eu-west-1.compute.internal",
                    "NodeNotReady",
                    sample_event("status is now: NodeNotReady"),
                    kind="Node",
                    ns=None,
                    type_="Normal",
                ),
                event(POD, "NodeNotReady", sample_event("Node is not ready")),
            ],
        },
        min_conf=0.9,
        facts={
            "node": "ip-10-0-3-41.eu-west-1.compute.internal",
            "pods": [POD],
            "condition_reason": "NodeStatusUnknown",
        },
    ),
    Case(
        "node-ready-again-only-old-event",
        "node_not_ready",
        lambda: {
            "pods": [pod(POD, ready=True)],
            "nodes": [{"name": "node-a", "ready": "True"}],
            "events": [
                event(
                    "node-a",
                    "NodeNotReady",
                    "Node node-a status is now: NodeNotReady",
                    kind="Node",
                    ns=None,
                    type_="Normal",
                    last=ago(300),
                )
            ],
        },
        max_conf=0.39,
    ),
    # -- app_crash ---------------------------------------------------------------------------------
    Case(
        "go-panic-crashloop (dashboard status)",
        "app_crash",
        lambda: {
            "pods": [pod(POD)],
            "containers": [from_status(POD, sample_status("kubernetes-dashboard"))],
            "logs": logs(POD, sample_log("go_panic")[:6], container_name="kubernetes-dashboard"),
        },
        min_conf=0.75,
        facts={
            "exit_code": 2,
            "exception": "panic: runtime error: invalid memory address or nil pointer dereference",
        },
    ),
    Case(
        "exit-code-alone",
        "app_crash",
        lambda: {"pods": [pod(POD)], "containers": [crashing(last_exit_code=1)]},
        min_conf=0.5,
        max_conf=0.6,
    ),
    Case(
        "reboot-255-unknown-is-not-a-crash (RKE2)",
        "app_crash",
        lambda: {
            "pods": [pod(POD, ready=True)],
            "containers": [from_status(POD, sample_status("rke2-metrics-server"))],
        },
        expect=False,
    ),
    Case(
        "old-exit-1-of-a-ready-pod-is-weak (RKE2)",
        "app_crash",
        lambda: {
            "pods": [pod(POD, ready=True)],
            "containers": [from_status(POD, sample_status("kube-controller-manager"))],
        },
        max_conf=0.39,
    ),
    # -- volume / cert / disk / pressure / job / throttling ---------------------------------------------
    Case(
        "multi-attach",
        "volume_error",
        lambda: {
            "pods": [pod(POD, phase="Pending")],
            "events": [
                event(
                    POD,
                    "FailedAttachVolume",
                    sample_event("Volume is already exclusively attached"),
                    source="attachdetach-controller",
                )
            ],
        },
        min_conf=0.8,
        facts={"problem": "multi-attach", "volume": "pvc-7a81d56f-1cf9-11eb-8295-b6961e0a47ed"},
    ),
    Case(
        "x509-expired",
        "certificate_error",
        lambda: {
            "pods": [pod(POD)],
            "containers": [crashing()],
            "logs": logs(POD, sample_log("tls_cert_expired", "go")),
        },
        min_conf=0.75,
        facts={"expired": True},
    ),
    Case(
        "pkix-untrusted",
        "certificate_error",
        lambda: {
            "pods": [pod(POD)],
            "containers": [crashing()],
            "logs": logs(POD, sample_log("tls_untrusted_ca")),
        },
        facts={"expired": False},
    ),
    Case(
        "enospc (format-derived)",
        "disk_full",
        lambda: {
            "pods": [pod(POD)],
            "containers": [crashing()],
            "logs": logs(POD, ['level=fatal msg="write /var/lib/app/wal/0001: no space left on device"']),
        },
        min_conf=0.7,
    ),
    Case(
        "evicted-node-low-on-memory",
        "node_pressure",
        lambda: {
            "pods": [
                pod(
                    POD,
                    phase="Failed",
                    reason="Evicted",
                    message=sample_event("The node was low on resource"),
                )
            ],
            "events": [event(POD, "Evicted", sample_event("The node was low on resource"))],
        },
        min_conf=0.85,
        facts={"node": "node-a", "evicted": [POD]},
    ),
    Case(
        "job-backoff-limit",
        "job_failed",
        lambda: {
            "workloads": [
                {
                    "namespace": "batch",
                    "kind": "Job",
                    "name": "cronjob-account-01-29169240",
                    "conditions": '[{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", '
                    '"message": "Job has reached the specified backoff limit"}]',
                }
            ],
            "events": [
                event(
                    "cronjob-account-01-29169240",
                    "BackoffLimitExceeded",
                    sample_event("specified backoff limit"),
                    kind="Job",
                    ns="batch",
                    source="job-controller",
                )
            ],
        },
        min_conf=0.75,
        facts={"reason": "BackoffLimitExceeded"},
        alerts=[
            alert(
                {
                    "alertname": "KubeJobFailed",
                    "namespace": "batch",
                    "job_name": "cronjob-account-01-29169240",
                    "pod": "kube-prometheus-stack-kube-state-metrics-6f664bc8c4-5lwq6",
                }
            )
        ],
    ),
    Case(
        "cpu-throttling-alert",
        "cpu_throttling",
        lambda: {
            "pods": [pod(POD, ready=True)],
            "containers": [container(POD, ready=True, cpu_limit="500m")],
        },
        min_conf=0.65,
        facts={"cpu_limit": "500m"},
        alerts=[
            alert({"alertname": "CPUThrottlingHigh", "namespace": "shop", "pod": POD, "container": "app"})
        ],
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_detector_cases(case: Case, tmp_path) -> None:
    write(tmp_path, **case.tables())
    ctx = context(tmp_path, incident(case.alerts or [crashloop_alert(POD)]))
    found = sorted(DETECTORS[case.detector](ctx), key=lambda f: -f.confidence)
    if not case.expect:
        assert found == [], [f.summary for f in found]
        return
    assert found, f"{case.detector} found nothing"
    top = found[0]
    assert top.category == case.detector
    assert case.min_conf <= top.confidence <= case.max_conf, (top.confidence, top.summary)
    for key, value in case.facts.items():
        assert top.facts.get(key) == value, (key, top.facts)
    assert top.subject.cluster == CLUSTER and top.summary and top.evidence


def test_every_registered_detector_survives_empty_evidence(tmp_path) -> None:
    write(tmp_path)
    ctx = context(tmp_path, incident([crashloop_alert(POD)]))
    run = run_detectors(ctx)
    assert run.errors == [] and run.findings == []
    assert [n for n, _ in REGISTRY] == list(dict.fromkeys(n for n, _ in REGISTRY))


def test_a_raising_detector_becomes_a_recorded_error(tmp_path) -> None:
    write(tmp_path, pods=[pod(POD)], containers=[crashing(last_reason="OOMKilled", last_exit_code=137)])
    ctx = context(tmp_path, incident([crashloop_alert(POD)]))

    def broken(_ctx):
        raise ValueError("boom")

    run = run_detectors(ctx, [("broken", broken), *REGISTRY])
    assert run.errors == [("broken", "ValueError: boom")]
    assert any(f.category == "oom_killed" for f in run.findings)


def test_zero_events_and_pods_running_ready_give_no_confident_finding(tmp_path) -> None:
    """The RKE2 shape: restarts from reboots (255 Unknown), an old exit 1, a 137 Error, and no events at all."""
    rows = {
        "pods": [pod(f"p{i}", ready=True) for i in range(3)],
        "containers": [
            from_status("p0", sample_status("rke2-metrics-server")),
            from_status("p1", sample_status("kube-controller-manager")),
            from_status("p2", sample_status("hubble-relay")),
        ],
    }
    write(tmp_path, **rows)
    ctx = context(
        tmp_path, incident([alert({"alertname": "KubePodNotReady", "namespace": "shop"})]), clock=T0
    )
    run = run_detectors(ctx)
    assert run.errors == []
    assert all(f.confidence < 0.4 for f in run.findings), [(f.category, f.confidence) for f in run.findings]


def test_combined_prefix_and_events_k8s_io_shape(tmp_path) -> None:
    """An aggregated message and an events.k8s.io row (eventTime only: first_seen = last_seen) both count."""
    msg = P.COMBINED_PREFIX + sample_event('Error: secret "pgpassword" not found')
    write(
        tmp_path,
        events=[
            event(POD, "Failed", msg, first=ago(1), last=ago(1), count=3),
            event(
                POD,
                "FailedScheduling",
                sample_event("1 Insufficient cpu."),
                first=None,
                last=ago(4),
                source="default-scheduler",
            ),
        ],
    )
    ctx = context(tmp_path, incident([crashloop_alert(POD)]))
    run = run_detectors(ctx)
    cats = {f.category: f for f in run.findings}
    assert cats["missing_secret_or_configmap"].facts["name"] == "pgpassword"
    assert "insufficient_resources" in cats
    assert not any(P.COMBINED_PREFIX in i.text for f in run.findings for i in f.evidence)


@pytest.mark.parametrize(
    "message,field_path,expected",
    [
        ("Created container coredns", None, "coredns"),
        ("Created container: example-container", None, "example-container"),
        ("Container created", "spec.containers{app}", "app"),
        ("Started container coredns", "spec.containers{coredns}", "coredns"),
        ("Container started", "spec.initContainers{migrate}", "migrate"),
        ("Created container", None, None),  # pre-1.14 kubelets named nothing
    ],
)
def test_created_started_message_drift(message, field_path, expected) -> None:
    assert event_container({"message": message, "field_path": field_path}) == expected


def test_focus_pods_first_other_pods_ignored(tmp_path) -> None:
    other = "payments-5f6d7c8b9-abcde"
    write(
        tmp_path,
        pods=[pod(POD, ready=True), pod(other, wl="payments", focus=False)],
        containers=[
            container(POD, ready=True),
            container(
                other,
                state="waiting",
                reason="CrashLoopBackOff",
                last_state="terminated",
                last_reason="OOMKilled",
                last_exit_code=137,
            ),
        ],
    )
    ctx = context(tmp_path, incident([crashloop_alert(POD)]))
    assert [p["name"] for p in view(ctx).focus_pods] == [POD]
    assert DETECTORS["oom_killed"](ctx) == []


def test_focus_derived_from_alerts_when_not_flagged(tmp_path) -> None:
    write(
        tmp_path,
        pods=[
            pod(POD, focus=False),
            pod("checkout-7d9c5b6f4-zzzzz", focus=False),
            pod("other-6b7c8d9f5-qqqqq", wl="other", focus=False),
        ],
    )
    ctx = context(
        tmp_path,
        incident(
            [
                alert(
                    {
                        "alertname": "KubeDeploymentReplicasMismatch",
                        "namespace": "shop",
                        "deployment": "checkout",
                        "pod": "kube-state-metrics-6f664bc8c4-5lwq6",
                    }
                )
            ]
        ),
    )
    assert sorted(p["name"] for p in view(ctx).focus_pods) == [
        "checkout-7d9c5b6f4-x2kqp",
        "checkout-7d9c5b6f4-zzzzz",
    ]


def test_events_of_vanished_pods_are_related_to_their_workload(tmp_path) -> None:
    """Pods deleted (the minikube dump): events still name the Deployment through the owner naming."""
    write(
        tmp_path,
        events=[
            event(
                "server-deployment-54b9cd5f98-m7csj",
                "Failed",
                sample_event('Error: secret "pgpassword" not found'),
                ns="default",
            )
        ],
    )
    ctx = context(tmp_path, incident([alert({"alertname": "KubePodNotReady", "namespace": "default"})]))
    found = DETECTORS["missing_secret_or_configmap"](ctx)
    assert [(f.subject.kind, f.subject.name) for f in found] == [("Deployment", "server-deployment")]
    assert T0 > found[0].evidence[0].at
