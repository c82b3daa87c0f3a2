"""Correlation (live): dedup by (cluster, fingerprint), grouping by workload or node, resolution."""

from __future__ import annotations

from engine.alerts import WebhookAlert, normalise
from engine.config import CorrelationConfig
from engine.correlate import Correlator, PodPlacement
from tests.conftest import make_alert


def alert(name, labels, fp, starts, cluster="eu", **kw):
    return normalise(WebhookAlert.model_validate(make_alert(name, labels, fp=fp, starts=starts, **kw)), cluster)


POD = {"namespace": "shop", "pod": "checkout-7d9c5b6f4-x2kqp", "container": "checkout"}
POD2 = {"namespace": "shop", "pod": "checkout-7d9c5b6f4-b8d7z"}
DEP = {"namespace": "shop", "deployment": "checkout", "pod": "kube-state-metrics-6f664bc8c4-5lwq6"}


def test_pod_and_deployment_alerts_of_one_workload_make_one_incident():
    c = Correlator()
    changed = c.ingest([
        alert("KubePodCrashLooping", POD, "a" * 16, "2026-11-22T10:00:00Z"),
        alert("KubePodNotReady", POD2, "b" * 16, "2026-11-22T10:01:00Z"),
        alert("KubeDeploymentReplicasMismatch", DEP, "c" * 16, "2026-11-22T10:02:00Z"),
    ])
    assert len(changed) == 1
    inc = changed[0]
    assert inc.key == "workload:shop/checkout"
    assert sorted(inc.fingerprints) == ["a" * 16, "b" * 16, "c" * 16]


def test_same_fingerprint_in_two_clusters_is_two_alerts():
    c = Correlator()
    c.ingest([alert("KubePodCrashLooping", POD, "a" * 16, "2026-11-22T10:00:00Z", cluster="eu"),
              alert("KubePodCrashLooping", POD, "a" * 16, "2026-11-22T10:00:00Z", cluster="us")])
    assert len(c.incidents) == 2
    assert {i.cluster for i in c.incidents.values()} == {"eu", "us"}


def test_repeat_is_deduplicated_and_does_not_reinvestigate():
    c = Correlator()
    a = alert("KubePodCrashLooping", POD, "a" * 16, "2026-11-22T10:00:00Z")
    first = c.ingest([a])[0]
    rev = first.revision
    assert c.ingest([a]) == []
    assert len(first.alerts) == 1 and first.revision == rev


def test_new_alert_joining_bumps_revision_for_reinvestigation():
    c = Correlator()
    inc = c.ingest([alert("KubePodCrashLooping", POD, "a" * 16, "2026-11-22T10:00:00Z")])[0]
    rev = inc.revision
    again = c.ingest([alert("KubePodNotReady", POD2, "b" * 16, "2026-11-22T10:05:00Z")])
    assert [i.id for i in again] == [inc.id] and inc.revision == rev + 1


def test_outside_window_opens_a_new_incident_with_a_different_id():
    c = Correlator(CorrelationConfig(group_window_s=600))
    a = c.ingest([alert("KubePodCrashLooping", POD, "a" * 16, "2026-11-22T10:00:00Z")])[0]
    # v2: a firing member holds its incident open; the window counts from the members' end
    c.ingest([alert("KubePodCrashLooping", POD, "a" * 16, "2026-11-22T10:00:00Z", status="resolved",
                    ends="2026-11-22T10:20:00Z")])
    b = c.ingest([alert("KubePodNotReady", POD2, "b" * 16, "2026-11-22T11:00:00Z")])[0]
    assert a.id != b.id


def test_incident_resolves_when_all_its_alerts_have():
    c = Correlator()
    c.ingest([alert("KubePodCrashLooping", POD, "a" * 16, "2026-11-22T10:00:00Z"),
              alert("KubePodNotReady", POD2, "b" * 16, "2026-11-22T10:01:00Z")])
    inc = next(iter(c.incidents.values()))
    c.ingest([alert("KubePodCrashLooping", POD, "a" * 16, "2026-11-22T10:00:00Z", status="resolved",
                    ends="2026-11-22T10:30:00Z")])
    assert inc.status == "open"
    changed = c.ingest([alert("KubePodNotReady", POD2, "b" * 16, "2026-11-22T10:01:00Z", status="resolved",
                              ends="2026-11-22T10:40:00Z")])
    assert changed[0].status == "resolved" and inc.resolved_at.minute == 40


def test_ids_are_deterministic_across_correlators():
    stream = [alert("KubePodCrashLooping", POD, "a" * 16, "2026-11-22T10:00:00Z"),
              alert("KubeNodeNotReady", {"node": "n1", "namespace": "monitoring"}, "d" * 16, "2026-11-22T10:03:00Z")]
    ids1 = sorted({i.id for i in Correlator().ingest(stream)})
    ids2 = sorted({i.id for i in Correlator().ingest(stream)})
    assert ids1 == ids2 and len(ids2) == 2


def test_node_incident_absorbs_pods_on_that_node_and_later_pod_alerts_join():
    where = {"api-6d4cf56db6-aaaaa": "n1", "web-6d4cf56db6-bbbbb": "n1", "db-0": "n2"}

    def topo(cluster, ns, pod):
        return PodPlacement(node=where.get(pod), workload_kind="Deployment", workload_name=pod.split("-")[0])

    c = Correlator(topology=topo)
    c.ingest([alert("KubePodNotReady", {"namespace": "a", "pod": "api-6d4cf56db6-aaaaa"}, "1" * 16,
                    "2026-11-22T10:00:00Z"),
              alert("KubePodNotReady", {"namespace": "b", "pod": "db-0"}, "2" * 16, "2026-11-22T10:00:00Z")])
    node = c.ingest([alert("KubeNodeNotReady", {"node": "n1", "namespace": "monitoring"}, "3" * 16,
                           "2026-11-22T10:02:00Z")])[0]
    later = c.ingest([alert("KubePodNotReady", {"namespace": "c", "pod": "web-6d4cf56db6-bbbbb"}, "4" * 16,
                            "2026-11-22T10:04:00Z")])
    assert later[0].id == node.id
    assert sorted(node.fingerprints) == ["1" * 16, "3" * 16, "4" * 16]
    open_keys = sorted(i.key for i in c.open_incidents())
    assert open_keys == ["node:n1", "workload:b/db"]
    assert sum(i.status == "merged" for i in c.incidents.values()) == 1


def test_node_incident_absorbs_workload_alerts_of_its_pods_and_node_level_target_down():
    def topo(cluster, ns, pod):
        return PodPlacement(node="n1", workload_kind="DaemonSet", workload_name="kube-proxy")

    c = Correlator(topology=topo)
    ksm = "kube-prometheus-stack-kube-state-metrics-94f799d56-jt9tb"
    c.ingest([
        alert("TargetDown", {"job": "kubelet", "namespace": "kube-system", "service": "x-kubelet"}, "1" * 16,
              "2026-11-22T10:00:00Z"),
        alert("TargetDown", {"job": "my-app", "namespace": "shop", "service": "my-app"}, "5" * 16,
              "2026-11-22T10:00:00Z"),
        alert("KubeDaemonSetRolloutStuck", {"daemonset": "kube-proxy", "namespace": "kube-system", "pod": ksm},
              "2" * 16, "2026-11-22T10:05:00Z"),
        alert("KubePodNotReady", {"namespace": "kube-system", "pod": "kube-proxy-75r92"}, "3" * 16,
              "2026-11-22T10:05:00Z"),
    ])
    changed = c.ingest([alert("KubeNodeNotReady", {"node": "n1", "namespace": "monitoring", "pod": ksm}, "4" * 16,
                              "2026-11-22T10:06:00Z")])
    node = changed[0]
    # the absorbed incidents are reported as changed too, so the store records them as merged
    assert sorted(i.status for i in changed) == ["merged", "merged", "open"]
    assert sorted(node.fingerprints) == ["1" * 16, "2" * 16, "3" * 16, "4" * 16]
    assert node.opened_at.minute == 0
    # an application's own TargetDown is not a node symptom
    assert [i.key for i in c.open_incidents() if i.id != node.id] == ["namespace:shop/shop"]
    # a later alert about the absorbed workload joins the node incident
    later = c.ingest([alert("KubeDaemonSetNotScheduled", {"daemonset": "kube-proxy", "namespace": "kube-system"},
                            "6" * 16, "2026-11-22T10:08:00Z")])
    assert later[0].id == node.id


def test_slow_rule_joins_the_open_incident_and_a_flap_reopens_it():
    c = Correlator()
    inc = c.ingest([alert("KubePodNotReady", POD2, "b" * 16, "2026-11-22T10:00:00Z")])[0]
    waiting = c.ingest([alert("KubeContainerWaiting", POD, "e" * 16, "2026-11-22T11:10:00Z")])
    assert waiting[0].id == inc.id
    # a resolve repeats its episode's startsAt (Alertmanager keeps it): (fingerprint, startsAt) is the episode
    for fp, starts in (("b" * 16, "2026-11-22T10:00:00Z"), ("e" * 16, "2026-11-22T11:10:00Z")):
        c.ingest([alert("X", POD, fp, starts, status="resolved", ends="2026-11-22T11:20:00Z")])
    assert inc.status == "resolved"
    again = c.ingest([alert("KubePodCrashLooping", POD, "f" * 16, "2026-11-22T11:40:00Z")])
    assert again[0].id == inc.id and inc.status == "open"
    c.ingest([alert("KubePodCrashLooping", POD, "f" * 16, "2026-11-22T11:40:00Z", status="resolved",
                    ends="2026-11-22T12:00:00Z")])
    much_later = c.ingest([alert("KubePodCrashLooping", POD, "9" * 16, "2026-11-23T11:40:00Z")])
    assert much_later[0].id != inc.id


def test_object_alert_before_its_pod_joined_the_node_incident_is_folded_in():
    def topo(cluster, ns, pod):
        return PodPlacement(node="n1", workload_kind="StatefulSet", workload_name="events-rabbitmq")

    c = Correlator(topology=topo)
    node = c.ingest([alert("KubeNodeNotReady", {"node": "n1", "namespace": "monitoring"}, "1" * 16,
                           "2026-11-22T10:00:00Z")])[0]
    c.ingest([alert("KubeStatefulSetReplicasMismatch", {"statefulset": "events-rabbitmq", "namespace": "identity"},
                    "2" * 16, "2026-11-22T10:05:00Z")])
    assert len(c.open_incidents()) == 2
    c.ingest([alert("KubePodNotReady", {"namespace": "identity", "pod": "events-rabbitmq-2"}, "3" * 16,
                    "2026-11-22T10:05:00Z")])
    assert [i.id for i in c.open_incidents()] == [node.id]
    assert sorted(node.fingerprints) == ["1" * 16, "2" * 16, "3" * 16]


def test_a_pod_alert_does_not_reopen_a_recovered_node_incident():
    def topo(cluster, ns, pod):
        return PodPlacement(node="n1", workload_kind="Deployment", workload_name="api")

    c = Correlator(topology=topo)
    node = c.ingest([alert("KubeNodeNotReady", {"node": "n1", "namespace": "monitoring"}, "1" * 16,
                           "2026-11-22T10:00:00Z")])[0]
    c.ingest([alert("KubeNodeNotReady", {"node": "n1", "namespace": "monitoring"}, "1" * 16,
                    "2026-11-22T10:00:00Z", status="resolved", ends="2026-11-22T10:20:00Z")])
    assert node.status == "resolved"
    later = c.ingest([alert("KubePodCrashLooping", {"namespace": "shop", "pod": "api-6d4cf56db6-bbbbb"}, "2" * 16,
                            "2026-11-22T11:00:00Z")])
    assert later[0].id != node.id and node.status == "resolved"


def test_a_volume_alert_joins_the_incident_of_the_workload_mounting_the_claim():
    def topo(cluster, ns, ref):
        assert ref in ("persistentvolumeclaim/data-postgres-0", "postgres-0")
        return PodPlacement(node="n1", workload_kind="StatefulSet", workload_name="postgres")

    c = Correlator(topology=topo)
    inc = c.ingest([alert("KubePodCrashLooping", {"namespace": "db", "pod": "postgres-0"}, "1" * 16,
                          "2026-11-22T10:00:00Z")])[0]
    vol = c.ingest([alert("KubePersistentVolumeFillingUp", {"namespace": "db", "persistentvolumeclaim": "data-postgres-0",
                                                            "node": "n1"}, "2" * 16, "2026-11-22T10:01:00Z")])
    assert vol[0].id == inc.id and inc.subject.kind == "StatefulSet"
    # without topology the claim is its own subject
    alone = Correlator().ingest([alert("KubePersistentVolumeFillingUp", {"namespace": "db",
                                       "persistentvolumeclaim": "data-postgres-0"}, "2" * 16, "2026-11-22T10:01:00Z")])
    assert alone[0].key == "persistentvolumeclaim:db/data-postgres-0"
