"""investigate() on the two real sample dumps.

Each goes through ``clusters.dump.DumpSource`` and ``engine.collect.collect_incident`` to Parquet,
then ``investigate``: the RKE2 dump (healthy, noisy past, zero events) must not produce a confident
incident, the 2019 minikube dump's ``Insufficient cpu`` and ``secret "pgpassword" not found`` must
be found.
"""

from __future__ import annotations

import pytest

from engine.detectors import run_detectors
from engine.evidence_query import IncidentEvidence
from engine.investigate import investigate
from tests.unit.detector_fixtures import context

dump = pytest.importorskip("clusters.dump")
collect = pytest.importorskip("engine.collect")


def dump_report(tmp_path, folder, cluster, labels, iid):
    from engine.alerts import Alert
    from engine.evidence import write_evidence
    from engine.incident import Incident
    from tests.conftest import DUMPS

    src = dump.DumpSource(DUMPS / folder, name=cluster)
    at = src.captured_at()
    a = Alert(cluster=cluster, fingerprint="0123456789abcdef", status="firing", labels=labels, startsAt=at)
    inc = Incident(
        id=iid, cluster=cluster, key="k", subject=a.target(), opened_at=at, updated_at=at, alerts=[a]
    )
    ev = collect.collect_incident(src, collect.CollectRequest(cluster, iid, [a.target()], at))
    write_evidence(tmp_path, ev)
    evidence = IncidentEvidence(tmp_path, iid)
    report = investigate(inc, evidence)
    findings = run_detectors(context(tmp_path, inc, report.generated_at)).findings
    return report, findings


@pytest.mark.parametrize(
    "labels",
    [
        {"alertname": "KubePodNotReady", "namespace": "kube-system"},
        {
            "alertname": "KubePodCrashLooping",
            "namespace": "kube-system",
            "container": "kube-controller-manager",
            "pod": "kube-controller-manager-omen-omen-25l-desktop-gt12-0xxx",
        },
        {
            "alertname": "KubePodCrashLooping",
            "namespace": "kube-system",
            "container": "hubble-relay",
            "pod": "hubble-relay-ff8d445c-nxfsn",
        },
    ],
    ids=["namespace", "kube-controller-manager", "hubble-relay"],
)
def test_rke2_healthy_dump_with_a_noisy_past_is_no_confident_incident(tmp_path, labels):
    report, findings = dump_report(tmp_path, "rke2-2025-after-reboot", "rke2", labels, "inc-rke2")
    assert report.root_cause.category == "unknown" or report.root_cause.confidence < 0.5
    assert all(f.confidence < 0.5 for f in findings), [
        (f.category, f.confidence, f.summary) for f in findings
    ]
    assert report.generated_at.year == 2025


def test_minikube_2019_dump_finds_insufficient_cpu_and_the_missing_secret(tmp_path):
    labels = {
        "alertname": "KubeDeploymentReplicasMismatch",
        "namespace": "default",
        "deployment": "server-deployment",
        "pod": "kube-state-metrics-6f664bc8c4-5lwq6",
    }
    report, findings = dump_report(tmp_path, "minikube-2019-internal-types", "minikube", labels, "inc-mk")
    by = {f.category: f for f in findings}
    assert (
        by["insufficient_resources"].facts["resources"] == ["cpu"]
        and by["insufficient_resources"].confidence >= 0.85
    )
    assert by["missing_secret_or_configmap"].facts["name"] == "pgpassword"
    assert all(f.subject.name == "server-deployment" for f in by.values())
    assert report.root_cause.category in ("insufficient_resources", "missing_secret_or_configmap")
    assert "pgpassword" in report.root_cause.summary and "cpu" in report.root_cause.summary
    assert any('secret "pgpassword" not found' in e.text for e in report.evidence)
    assert report.generated_at.year == 2019


def test_minikube_namespace_incident_groups_vanished_pods_by_workload(tmp_path):
    labels = {"alertname": "KubePodNotReady", "namespace": "default"}
    report, findings = dump_report(tmp_path, "minikube-2019-internal-types", "minikube", labels, "inc-mk-ns")
    subjects = {(f.subject.kind, f.subject.name) for f in findings if f.category == "insufficient_resources"}
    assert {("Deployment", "postgres-deployment"), ("Deployment", "server-deployment")} <= subjects
    assert report.root_cause.category == "insufficient_resources"
    assert "The same in" in report.root_cause.summary
