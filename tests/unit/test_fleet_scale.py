"""Alert streams over time and the fleet at scale (``clusters.scenarios``).

First Alertmanager's dispatcher on a scripted clock (resolves, flapping, inhibition, the critical
route, a group that empties and starts over), then one small fleet written through the CLI
(8 clusters, ~500 alerts): valid dumps, one merged stream in send order with a ``cluster`` label
on every alert, and a ground truth that owns every sent alert exactly once and references
nothing that was not sent, with a storm that ships the same bad revision to several clusters.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from clusters.scenarios.__main__ import main
from clusters.scenarios.alerts import Alert, StackLabels
from clusters.scenarios.dispatch import GROUP_INTERVAL, GROUP_WAIT, notifications
from clusters.scenarios.rules import RULES
from clusters.scenarios.scale_plan import plan_fleet

NOW = datetime(2026, 11, 22, 18, 30, tzinfo=UTC)
STACK = StackLabels("kube-prometheus-stack-kube-state-metrics-6d5bbdb8f6-7qkzn", "10.244.1.17", cluster="prod-x")


def _alert(name: str, starts: datetime, ends: datetime | None = None, **labels: str) -> Alert:
    a = Alert(RULES[name], {"namespace": "shop", **labels}, STACK, starts - RULES[name].for_)
    a.starts_at, a.ends_at = starts, ends
    return a


def _send(*alerts: Alert) -> list[Any]:
    return notifications(list(alerts), now=NOW, external_url="http://am:9093", prometheus_url="http://prom:9090")


# -- the dispatcher over time --------------------------------------------------------------------------
def test_a_resolve_is_sent_and_the_group_starts_over_after_it() -> None:
    t0 = NOW - timedelta(hours=2)
    first = _alert("KubePodNotReady", t0, t0 + timedelta(minutes=20), job="kube-state-metrics", pod="cart-1")
    later = _alert("KubePodNotReady", t0 + timedelta(minutes=70), job="kube-state-metrics", pod="cart-2")
    sent = _send(first, later)
    assert [n.body["status"] for n in sent] == ["firing", "resolved", "firing"]
    assert sent[0].at - t0 == GROUP_WAIT + timedelta(milliseconds=40)
    resolved = sent[1].body["alerts"][0]
    assert resolved["status"] == "resolved" and resolved["endsAt"] != "0001-01-01T00:00:00Z"
    assert (sent[1].at - sent[0].at) % GROUP_INTERVAL == timedelta(0)
    assert sent[2].at - later.starts_at == GROUP_WAIT + timedelta(milliseconds=40)  # a new group, a new wait
    assert [a["labels"]["pod"] for a in sent[2].body["alerts"]] == ["cart-2"]


def test_a_flapping_series_fires_again_with_a_new_start() -> None:
    t0 = NOW - timedelta(hours=3)
    episodes = [_alert("KubePodNotReady", t0 + timedelta(minutes=45 * i), t0 + timedelta(minutes=45 * i + 20),
                       job="kube-state-metrics", pod="cart-1") for i in range(3)]
    sent = _send(*episodes)
    firing = [a for n in sent for a in n.body["alerts"] if a["status"] == "firing"]
    assert len({a["fingerprint"] for a in firing}) == 1 and len({a["startsAt"] for a in firing}) == 3
    assert sum(n.body["status"] == "resolved" for n in sent) == 3


def test_info_alerts_travel_only_with_a_warning_in_their_namespace() -> None:
    t0 = NOW - timedelta(hours=1)
    info = _alert("CPUThrottlingHigh", t0, container="cart", pod="cart-1", instance="10.0.0.5:10250",
                  service="kube-prometheus-stack-kubelet")
    assert _send(info) == []
    warning = _alert("KubePodNotReady", t0 + timedelta(minutes=20), job="kube-state-metrics", pod="cart-1")
    sent = _send(info, warning)
    assert {a["labels"]["alertname"] for a in sent[0].body["alerts"]} == {"CPUThrottlingHigh", "KubePodNotReady"}


def test_critical_alerts_take_the_critical_route() -> None:
    a = _alert("KubePersistentVolumeFillingUp", NOW - timedelta(minutes=30), persistentvolumeclaim="data-db-0",
               job="kubelet", instance="10.0.0.5:10250")
    (n,) = _send(a)
    assert n.body["receiver"] == "Critical" and n.body["groupKey"] == '{}/{severity="critical"}:{namespace="shop"}'


def test_the_plan_is_the_same_for_the_same_seed() -> None:
    a = plan_fleet(30, 3000, seed=4, now=NOW, hours=6)
    assert a == plan_fleet(30, 3000, seed=4, now=NOW, hours=6) != plan_fleet(30, 3000, seed=5, now=NOW, hours=6)
    plans, storms = a
    assert len(storms) == 1 and len(storms[0].clusters) == 5 and len({p.name for p in plans}) == 30


# -- a small fleet at scale ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("scale")
    assert main(["fleet-scale", str(out), "--clusters", "8", "--alerts", "500", "--hours", "6"]) == 0
    return out


def _truth(root: Path) -> dict[str, Any]:
    return json.loads((root / "ground-truth.json").read_text())


def _stream(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_every_cluster_is_a_valid_dump(fleet: Path) -> None:
    dump = pytest.importorskip("clusters.dump")
    truth = _truth(fleet)
    assert len(truth["clusters"]) == 8
    for c in truth["clusters"]:
        source = dump.DumpSource(fleet / c["dump"])
        assert source.name == c["name"] and source.captured_at() == NOW
        assert len(source.list("nodes")) >= 3 and source.list("pods") and source.list("events")
        assert {"kube-system", "monitoring"} <= {n["metadata"]["name"] for n in source.list("namespaces")}


def test_one_stream_in_send_order_with_a_cluster_label(fleet: Path) -> None:
    merged = _stream(fleet / "alerts.jsonl")
    per_cluster = {c["name"]: _stream(fleet / c["alerts"]) for c in _truth(fleet)["clusters"]}
    assert len(merged) == sum(map(len, per_cluster.values()))
    for name, own in per_cluster.items():
        assert [m for m in merged if m["alerts"][0]["labels"]["cluster"] == name] == own  # order kept
        for msg in own:
            assert {a["labels"]["cluster"] for a in msg["alerts"]} == {name}
            assert msg["externalURL"] == f"https://alertmanager.{name}.northwind.internal"
    # A webhook goes out at most group_wait + group_interval after the newest change it reports, and never
    # before it: so in send order, no webhook reports a change much newer than every later one.
    newest = [max(_ts(a["startsAt"] if a["status"] == "firing" else a["endsAt"]) for a in m["alerts"]) for m in merged]
    slack = GROUP_WAIT + GROUP_INTERVAL + timedelta(seconds=1)
    running = newest[0]
    for stamp in newest:
        assert stamp >= running - slack
        running = max(running, stamp)
    switches = sum(a["alerts"][0]["labels"]["cluster"] != b["alerts"][0]["labels"]["cluster"]
                   for a, b in zip(merged, merged[1:], strict=False))
    assert switches > 4 * len(per_cluster)  # interleaved clusters, not concatenated files
    starts = sorted(_ts(a["startsAt"]) for m in merged for a in m["alerts"])
    assert starts[-1] - starts[0] >= timedelta(hours=4)  # spread over hours of event time


def test_ground_truth_owns_every_sent_alert_once(fleet: Path) -> None:
    truth = _truth(fleet)
    sent = {(a["labels"]["cluster"], a["fingerprint"]) for m in _stream(fleet / "alerts.jsonl") for a in m["alerts"]}
    owners = Counter((c, fp) for inc in truth["incidents"] for c, fp in inc["alerts"])
    assert set(owners) == sent and set(owners.values()) == {1}
    episodes = {(a["labels"]["cluster"], a["fingerprint"], a["startsAt"]) for m in _stream(fleet / "alerts.jsonl")
                for a in m["alerts"]}
    assert truth["counts"]["alerts"] == len(episodes) and 350 <= len(episodes) <= 650
    for inc in truth["incidents"]:
        assert {"scope", "cluster", "alerts", "category", "trigger", "subject"} <= set(inc)
        assert inc["scope"] in ("cluster", "fleet") and inc["alerts"]


def test_a_bad_image_storms_several_clusters_with_one_revision(fleet: Path) -> None:
    truth = _truth(fleet)
    storms = [i for i in truth["incidents"] if i["scope"] == "fleet"]
    assert storms
    storm = storms[0]
    assert len(storm["clusters"]) >= 2 and (storm["category"], storm["trigger"]) == ("image_pull_error", "rollout")
    assert {p["replicaset"] for p in storm["parts"]} == {storm["replicaset"]}
    alerts = {(a["labels"]["cluster"], a["fingerprint"]): a for m in _stream(fleet / "alerts.jsonl")
              for a in m["alerts"]}
    for part in storm["parts"]:
        pods = {alerts[(c, fp)]["labels"].get("pod") for c, fp in part["alerts"]
                if alerts[(c, fp)]["labels"]["alertname"] == "KubePodNotReady"}
        assert pods and all(p.startswith(storm["replicaset"] + "-") for p in pods)
    onsets = sorted(_ts(p["onset"]) for p in storm["parts"])
    assert onsets[-1] - onsets[0] >= timedelta(minutes=2)  # the same change, minutes apart
    rs = json.loads((fleet / storm["clusters"][0] / "dump" / storm["subject"]["namespace"] /
                     "replicasets.json").read_text())["items"]
    assert storm["replicaset"] in {r["metadata"]["name"] for r in rs}  # the storm still on at capture is in the dump


def test_node_storms_flapping_and_resolves(fleet: Path) -> None:
    truth = _truth(fleet)
    alerts = {(a["labels"]["cluster"], a["fingerprint"]): a for m in _stream(fleet / "alerts.jsonl")
              for a in m["alerts"]}
    nodes = [i for i in truth["incidents"] if i["category"] == "node_not_ready"]
    assert any(sum(alerts[tuple(k)]["labels"]["alertname"] == "KubePodNotReady" for k in i["alerts"]) >= 4
               for i in nodes)  # one alert per pod on the node
    flapping = [i for i in truth["incidents"] if i.get("flapping")]
    assert flapping and all(i["episodes"] >= 2 and i["resolved_at"] for i in flapping)
    firings = Counter((c, fp) for m in _stream(fleet / "alerts.jsonl") for a in m["alerts"] if a["status"] == "firing"
                      for c, fp in [(a["labels"]["cluster"], a["fingerprint"])] if [c, fp] in flapping[0]["alerts"])
    assert firings and max(firings.values()) >= 2
    assert truth["counts"]["resolved"] > 0 and any(m["status"] == "resolved" for m in _stream(fleet / "alerts.jsonl"))


def _ts(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))
