"""Webhook parsing against byte-exact Alertmanager 0.25 captures, and subject resolution."""

from __future__ import annotations

import pytest

from engine.alerts import PayloadError, alert_target, normalise, parse_payload, workload_from_pod_name
from engine.ingest import resolve_cluster
from tests.conftest import make_alert, make_payload


def test_every_captured_payload_parses(captured):
    assert len(captured) >= 6
    for name, body in captured.items():
        payload, good, rejected = parse_payload(body)
        assert not rejected, name
        assert len(good) == len(body["alerts"])
        assert payload.version == "4"


def test_firing_alert_has_no_end_and_resolved_has_one(captured):
    _, firing, _ = parse_payload(captured["01-firing-group-namespace-shop.json"])
    assert normalise(firing[0], "c").endsAt is None
    _, resolved, _ = parse_payload(captured["05-all-resolved-group-shop.json"])
    ends = [normalise(a, "c").endsAt for a in resolved]
    assert all(e is not None and e.year == 2026 for e in ends)


def test_truncated_payload_keeps_count(captured):
    payload, good, _ = parse_payload(captured["06-max_alerts-truncated-KubeJobFailed.json"])
    assert payload.truncatedAlerts == 2 and len(good) == 2


def test_ksm_object_alerts_name_the_object_not_the_scraper_pod(captured):
    _, good, _ = parse_payload(captured["02-firing-KubeNodeNotReady.json"])
    t = alert_target(good[0].labels)
    assert (t.kind, t.name) == ("Node", "ip-10-0-3-41.eu-west-1.compute.internal")
    t = alert_target({"alertname": "KubeDeploymentReplicasMismatch", "deployment": "checkout", "namespace": "shop",
                      "pod": "kube-prometheus-stack-kube-state-metrics-6f664bc8c4-5lwq6", "container": "kube-state-metrics"})
    assert (t.kind, t.namespace, t.name) == ("Deployment", "shop", "checkout")
    t = alert_target({"alertname": "KubeJobFailed", "job": "kube-state-metrics", "job_name": "cronjob-account-01-29169240",
                      "namespace": "batch"})
    assert (t.kind, t.name) == ("Job", "cronjob-account-01-29169240")


def test_pod_alert_guesses_its_workload():
    t = alert_target({"alertname": "KubePodCrashLooping", "namespace": "shop", "pod": "checkout-7d9c5b6f4-x2kqp"})
    assert (t.kind, t.workload) == ("Pod", "checkout")
    assert workload_from_pod_name("redis-0") == "redis"
    assert workload_from_pod_name("node-exporter-x7k2p") == "node-exporter"
    assert workload_from_pod_name("standalone") == "standalone"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ([], "body"),
        ({"version": "3", "alerts": []}, "version"),
        ({"version": "4"}, "alerts"),
        ({"version": "4", "alerts": "x"}, "alerts"),
    ],
)
def test_unusable_envelope_names_the_field(body, field):
    with pytest.raises(PayloadError) as exc:
        parse_payload(body)
    assert exc.value.field == field


def test_partly_invalid_group_keeps_the_good_alerts():
    good = make_alert("KubePodCrashLooping", {"namespace": "shop", "pod": "a-1"}, fp="0123456789abcdef",
                      starts="2026-11-22T17:58:23.393Z")
    bad_time = {**good, "fingerprint": "1111111111111111", "startsAt": "yesterday"}
    no_name = {**good, "fingerprint": "2222222222222222", "labels": {"namespace": "shop"}}
    _, ok, rejected = parse_payload(make_payload(good, bad_time, no_name))
    assert [a.fingerprint for a in ok] == ["0123456789abcdef"]
    assert [r.field for r in rejected] == ["alerts[1].startsAt", "alerts[2].labels"]


def test_cluster_resolution_order():
    urls = {"http://am.eu:9093": "eu"}
    assert resolve_cluster("path", {"cluster": "lbl"}, "http://am.eu:9093", urls) == ("path", True)
    assert resolve_cluster(None, {"cluster": "lbl"}, "http://am.eu:9093", urls) == ("lbl", True)
    assert resolve_cluster(None, {}, "http://am.eu:9093/", urls) == ("eu", True)
    assert resolve_cluster(None, {}, "http://elsewhere", urls) == ("unknown", False)
