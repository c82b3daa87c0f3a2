"""The scenario generator writes what real clusters, kube-prometheus-stack and Alertmanager 0.25 write.

Checked against the byte-exact captures in ``reference/samples`` (fingerprints, payload bytes) and
the kubelet/scheduler message formats in ``reference/real-formats.md``.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from clusters.scenarios import SCENARIOS, FleetManifest, fingerprint, write_fleet, write_scenario
from clusters.scenarios.__main__ import main
from clusters.scenarios.alerts import encode, payload
from tests.conftest import SAMPLES as SAMPLES_ROOT

SAMPLES = SAMPLES_ROOT
CAPTURED = sorted((SAMPLES / "alertmanager/captured-0.25.0").glob("*.json"))
NOW = datetime(2026, 11, 22, 18, 30, tzinfo=UTC)
LISTS = {"events": "EventList", "pods": "PodList", "deployments": "DeploymentList",
         "replicasets": "ReplicaSetList", "daemonsets": "DaemonSetList", "services": "ServiceList",
         "replication-controllers": "ReplicationControllerList"}
TOP_KEYS = ["receiver", "status", "alerts", "groupLabels", "commonLabels", "commonAnnotations", "externalURL",
            "version", "groupKey", "truncatedAlerts"]
ALERT_KEYS = ["status", "labels", "annotations", "startsAt", "endsAt", "generatorURL", "fingerprint"]
OBJECT_LEVEL = {"KubeDeploymentReplicasMismatch", "KubeDeploymentRolloutStuck", "KubeStatefulSetReplicasMismatch",
                "KubeDaemonSetRolloutStuck", "KubeNodeNotReady", "KubeNodeUnreachable", "KubeJobFailed",
                "KubeNodePressure"}
#: Rules whose description does not end with "on cluster {{ $labels.cluster }}."
NO_CLUSTER_SUFFIX = {"TargetDown", "KubePersistentVolumeFillingUp", "KubeNodePressure", "NodeMemoryHighUtilization",
                     "NodeFilesystemAlmostOutOfSpace"}


# -- helpers -------------------------------------------------------------------------------------
def _payloads(root: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (root / "alerts.jsonl").read_text().splitlines()]


def _alerts(root: Path) -> dict[str, dict[str, Any]]:
    return {a["fingerprint"]: a for p in _payloads(root) for a in p["alerts"]}


def _events(root: Path) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for f in sorted((root / "dump").glob("*/events.json")):
        out += json.loads(f.read_text())["items"] or []
    return out


def _pods(root: Path) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for f in sorted((root / "dump").glob("*/pods.json")):
        out += json.loads(f.read_text())["items"] or []
    return out


def _ts(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("scenarios")
    out = {}
    for name in SCENARIOS:
        write_scenario(name, base / name, now=NOW, seed=1)
        out[name] = base / name
    return out


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> FleetManifest:
    return write_fleet(tmp_path_factory.mktemp("fleet"), now=NOW)


# -- Alertmanager wire format ------------------------------------------------------------------------
@pytest.mark.parametrize("path", CAPTURED, ids=lambda p: p.name)
def test_fingerprint_reproduces_captured_samples(path: Path) -> None:
    for alert in json.loads(path.read_text())["alerts"]:
        assert fingerprint(alert["labels"]) == alert["fingerprint"]


@pytest.mark.parametrize("path", CAPTURED, ids=lambda p: p.name)
def test_payload_builder_reproduces_captured_bytes(path: Path) -> None:
    raw = path.read_text()
    msg = json.loads(raw)
    rebuilt = payload(list(reversed(msg["alerts"])), group_labels=msg["groupLabels"], external_url=msg["externalURL"],
                      receiver=msg["receiver"], route_key=msg["groupKey"].rsplit(":{", 1)[0])
    rebuilt["truncatedAlerts"] = msg["truncatedAlerts"]
    assert encode(rebuilt) == raw  # sort order, common labels/annotations, \u0026, trailing newline


def test_generated_payloads_are_byte_exact_alertmanager_bodies(written: dict[str, Path]) -> None:
    for root in written.values():
        for line in (root / "alerts.jsonl").read_text().splitlines(keepends=True):
            msg = json.loads(line)
            assert list(msg) == TOP_KEYS and msg["version"] == "4"
            assert encode(msg) == line  # compact Go JSON, \u0026, one message per line
            assert "\\u0026g0.tab=1" in line and "&" not in line
            route = '{}/{severity="critical"}' if msg["receiver"] == "Critical" else "{}"
            rebuilt = payload(msg["alerts"][::-1], group_labels=msg["groupLabels"], external_url=msg["externalURL"],
                              receiver=msg["receiver"], route_key=route)
            assert encode(rebuilt) == line
            assert msg["groupKey"] == f'{route}:{{namespace="{msg["groupLabels"]["namespace"]}"}}'
            assert msg["receiver"] in ("Default", "Critical")
            assert (msg["receiver"] == "Critical") == (msg["commonLabels"].get("severity") == "critical")
            for a in msg["alerts"]:
                assert list(a) == ALERT_KEYS
                assert a["fingerprint"] == fingerprint(a["labels"])
                assert a["endsAt"] == "0001-01-01T00:00:00Z" and a["status"] == "firing"
                assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,3})?Z", a["startsAt"])
                assert a["generatorURL"].startswith("http://kube-prometheus-stack-prometheus.monitoring:9090/graph?g0.expr=")


def test_alert_labels_carry_kube_prometheus_stack_traps(written: dict[str, Path]) -> None:
    ksm_pods = set()
    for name, root in written.items():
        for a in _alerts(root).values():
            labels, desc = a["labels"], a["annotations"]["description"]
            assert labels["prometheus"] == "monitoring/kube-prometheus-stack-prometheus"
            assert "cluster" not in labels and (desc.endswith("on cluster .") or labels["alertname"] in NO_CLUSTER_SUFFIX)
            assert a["annotations"]["runbook_url"].endswith("/" + labels["alertname"].lower())
            if labels["alertname"] in OBJECT_LEVEL:  # the scraper names itself, not the workload
                assert labels["container"] == "kube-state-metrics", name
                assert labels["pod"].startswith("kube-prometheus-stack-kube-state-metrics-")
                ksm_pods.add((root, labels["pod"], labels["instance"]))
            if labels["alertname"] == "KubeNodeNotReady":
                assert labels["namespace"] == "monitoring" and labels["condition"] == "Ready"
            if labels["alertname"] == "KubePodNotReady":
                assert set(labels) == {"alertname", "job", "namespace", "pod", "prometheus", "severity"}
    for root, pod, instance in ksm_pods:  # ... and that pod exists, with that IP
        ksm = [p for p in _pods(root) if p["metadata"]["name"] == pod]
        assert ksm and f"{ksm[0]['status']['podIP']}:8080" == instance


def test_cluster_label_is_an_external_label(tmp_path: Path) -> None:
    write_scenario("oom_killed", tmp_path, cluster="prod-eu-9", now=NOW, cluster_label=True)
    for a in _alerts(tmp_path).values():
        assert a["labels"]["cluster"] == "prod-eu-9"
        assert a["annotations"]["description"].endswith("on cluster .")  # templates never see external labels


def test_alert_groups_sort_like_alertmanager(written: dict[str, Path]) -> None:
    msgs = _payloads(written["node_not_ready"]) + _payloads(written["bad_rollout_config"])
    for msg in msgs:
        jobs = [a["labels"].get("job", "") for a in msg["alerts"]]
        assert jobs == sorted(jobs)
        with_instance = [("instance" in a["labels"]) for a in msg["alerts"] if a["labels"].get("job") == jobs[-1]]
        assert with_instance == sorted(with_instance, reverse=True)  # alerts without instance come last


# -- the dump --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(SCENARIOS))
def test_scenario_writes_a_kubectl_dump(written: dict[str, Path], name: str) -> None:
    dump = written[name] / "dump"
    nodes = json.loads((dump / "nodes.json").read_text())
    assert (nodes["kind"], nodes["apiVersion"]) == ("NodeList", "v1") and len(nodes["items"]) >= 3
    assert {"kube-system", "monitoring", "default"} <= {p.name for p in dump.iterdir() if p.is_dir()}
    for ns in (p for p in dump.iterdir() if p.is_dir()):
        for stem, kind in LISTS.items():
            text = (ns / f"{stem}.json").read_text()
            doc = json.loads(text)
            assert doc["kind"] == kind and set(doc) == {"kind", "apiVersion", "metadata", "items"}
            assert doc["apiVersion"] == ("apps/v1" if stem in ("deployments", "replicasets", "daemonsets") else "v1")
            assert text.startswith('{\n    "kind"') and text.endswith("}\n")  # MarshalIndent, 4 spaces
            for item in doc["items"] or []:
                assert "kind" not in item and item["metadata"].get("namespace") == ns.name
        for pod in json.loads((ns / "pods.json").read_text())["items"] or []:
            _check_logs(ns / pod["metadata"]["name"], pod)
    meta = json.loads((dump / "fleetsre-dump.json").read_text())
    assert meta == {"cluster": "sim-1", "captured_at": "2026-11-22T18:30:00Z"}


def _check_logs(path: Path, pod: dict[str, Any]) -> None:
    ns, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
    containers = [c["name"] for c in pod["spec"].get("initContainers", []) + pod["spec"]["containers"]]
    text = (path / "logs.txt").read_text()
    starts = re.findall(r"^==== START logs for container (\S+) of pod (\S+) ====$", text, re.M)
    assert starts == [(c, f"{ns}/{name}") for c in containers]
    assert text.endswith(f"==== END logs for container {containers[-1]} of pod {ns}/{name} ====\n")
    previous = path / "logs.previous.txt"
    if previous.exists():
        assert "==== START logs for container" in previous.read_text()


def test_secrets_side_file_never_holds_values(written: dict[str, Path]) -> None:
    for root in written.values():
        for f in (root / "dump").glob("*/secrets.json"):
            doc = json.loads(f.read_text())
            assert doc["kind"] == "SecretList"
            for s in doc["items"] or []:
                assert set(s["data"].values()) <= {""}


def test_expected_json_matches_alerts_and_registry(written: dict[str, Path]) -> None:
    for name, root in written.items():
        expected = json.loads((root / "expected.json").read_text())
        assert expected["cluster"] == "sim-1" and expected["captured_at"] == "2026-11-22T18:30:00Z"
        sent = _alerts(root)
        (inc,) = expected["incidents"]
        assert (inc["category"], inc["trigger"]) == (SCENARIOS[name].category, SCENARIOS[name].trigger)
        assert inc["alerts"] and set(inc["alerts"]) <= set(sent)
        assert set(inc["subject"]) == {"kind", "namespace", "name"}
        assert set(sent) == set(inc["alerts"]), f"{name}: every alert belongs to the incident"


def test_crash_loop_pods_are_consistent(written: dict[str, Path]) -> None:
    for name in ("oom_killed", "bad_rollout_config", "dependency_unavailable", "config_error"):
        crashing = [p for p in _pods(written[name]) if any(
            s["state"].get("waiting", {}).get("reason") == "CrashLoopBackOff"
            for s in p["status"].get("containerStatuses", []))]
        assert crashing, name
        for pod in crashing:
            st = pod["status"]["containerStatuses"][0]
            last = st["lastState"]["terminated"]
            assert st["containerID"] == last["containerID"] and st["restartCount"] >= 1
            assert _ts(last["startedAt"]) <= _ts(last["finishedAt"]) <= NOW
            uid = pod["metadata"]["uid"]
            assert re.fullmatch(rf"back-off (10s|20s|40s|1m20s|2m40s|5m0s) restarting failed container="
                                rf"{st['name']} pod={pod['metadata']['name']}_{pod['metadata']['namespace']}\({uid}\)",
                                st["state"]["waiting"]["message"])
            if name == "oom_killed":
                assert (last["reason"], last["exitCode"]) == ("OOMKilled", 137)
            else:
                assert last["reason"] == "Error" and last["exitCode"] in (1, 2)


# -- events and time ------------------------------------------------------------------------------------
KUBELET_FORMATS = {
    "BackOff": [r"Back-off restarting failed container \S+ in pod \S+_\S+\([0-9a-f-]{36}\)",
                r'Back-off pulling image "[^"]+"'],
    "Failed": [r'Failed to pull image "[^"]+": rpc error: code = (NotFound|Unknown) desc = failed to pull and unpack '
               r'image "[^"]+": .+', r"Error: (ErrImagePull|ImagePullBackOff)", r'Error: secret "[^"]+" not found',
               r"Error: couldn't find key \S+ in ConfigMap \S+/\S+"],
    "Pulling": [r'Pulling image "[^"]+"'],
    "Pulled": [r'Container image "[^"]+" already present on machine',
               r'Successfully pulled image "[^"]+" in \d+\.\d{3}s \(\d+\.\d{3}s including waiting\)\. '
               r"Image size: \d+ bytes\."],
    "Created": [r"Created container \S+", r"Created container: \S+", r"Container created"],
    "Started": [r"Started container \S+", r"Container started"],
    "Killing": [r"Stopping container \S+", r"Container \S+ failed liveness probe, will be restarted"],
    "Unhealthy": [r'(Liveness|Readiness) probe failed: (HTTP probe failed with statuscode: \d{3}|Get "http://'
                  r'[\d.]+:\d+/\S*": context deadline exceeded \(Client\.Timeout exceeded while awaiting headers\))'],
    "FailedMount": [r'MountVolume\.SetUp failed for volume "\S+" : configmap "\S+" not found',
                    r"Unable to attach or mount volumes: unmounted volumes=\[\S+\], unattached volumes=\[[^\]]+\]: "
                    r"timed out waiting for the condition"],
    "FailedAttachVolume": [r'Multi-Attach error for volume "pvc-[0-9a-f-]{36}" Volume is already exclusively '
                           r"attached to one node and can't be attached to another"],
    "ProvisioningFailed": [r'storageclass\.storage\.k8s\.io "\S+" not found'],
    "Evicted": [r"The node was low on resource: (memory|ephemeral-storage)\. Threshold quantity: \w+, "
                r"available: \d+Ki\. "],
    "EvictionThresholdMet": [r"Attempting to reclaim (memory|ephemeral-storage)"],
    "NodeNotSchedulable": [r"Node \S+ status is now: NodeNotSchedulable"],
    "BackoffLimitExceeded": [r"Job has reached the specified backoff limit"],
    "SawCompletedJob": [r"Saw completed job: \S+-\d{8}, condition: Failed"],
    "FailedScheduling": [r"0/\d nodes are available: .+\. preemption: 0/\d nodes are available: .+\."],
    "Scheduled": [r"Successfully assigned \S+/\S+ to \S+"],
    "NodeNotReady": [r"Node is not ready", r"Node \S+ status is now: NodeNotReady"],
}


def test_event_messages_follow_kubelet_and_scheduler_formats(written: dict[str, Path]) -> None:
    seen = set()
    for root in written.values():
        for e in _events(root):
            for pattern in KUBELET_FORMATS.get(e["reason"], []):
                if re.fullmatch(pattern, e["message"]):
                    seen.add(e["reason"])
                    break
            else:
                assert e["reason"] not in KUBELET_FORMATS, e["message"]
            if e["reason"] == "BackOff":
                assert e["type"] == ("Normal" if "pulling image" in e["message"] else "Warning")
    assert seen == set(KUBELET_FORMATS)


def test_events_and_alerts_are_anchored_on_capture_time(written: dict[str, Path]) -> None:
    for root in written.values():
        for e in _events(root):
            last = e["lastTimestamp"] or e.get("series", {}).get("lastObservedTime") or e["eventTime"]
            assert NOW - timedelta(hours=1) <= _ts(last) <= NOW  # the 1h event TTL
            assert e["metadata"]["name"].startswith(e["involvedObject"]["name"] + ".")
            if e["source"]:
                assert e["count"] >= 1 and _ts(e["firstTimestamp"]) <= _ts(e["lastTimestamp"])
            else:  # events.k8s.io shape from the scheduler
                assert e["firstTimestamp"] is None and e["reportingComponent"] == "default-scheduler"
        for a in _alerts(root).values():
            assert _ts(a["startsAt"]) < NOW


def test_generation_is_deterministic(tmp_path: Path) -> None:
    def digest(root: Path) -> str:
        h = hashlib.sha256()
        for f in sorted(root.rglob("*")):
            if f.is_file():
                h.update(str(f.relative_to(root)).encode() + f.read_bytes())
        return h.hexdigest()

    for i, seed in enumerate((4, 4, 5)):
        write_scenario("probe_failure", tmp_path / str(i), now=NOW, seed=seed)
    assert digest(tmp_path / "0") == digest(tmp_path / "1") != digest(tmp_path / "2")


def test_no_hints_in_the_dump_or_alerts(written: dict[str, Path]) -> None:
    words = re.compile(r"\b(scenarios?|faults?|inject\w*|chaos|broken|simulat\w*|oom[_-]killed|bad[_-]rollout\w*|"
                       r"missing[_-]secret\w*|ground[_-]truth)\b", re.I)
    for name, root in written.items():
        for f in [*(root / "dump").rglob("*.json"), root / "alerts.jsonl"]:
            if f.name != "fleetsre-dump.json":
                assert not words.search(f.read_text()), (name, f)


# -- fleet ------------------------------------------------------------------------------------------------
def test_fleet_has_the_same_bad_rollout_in_two_clusters(fleet: FleetManifest) -> None:
    assert set(fleet.clusters) == {"prod-eu-1", "prod-us-1", "staging-1"}
    truth = json.loads(fleet.ground_truth.read_text())
    assert len(truth["incidents"]) == 6
    (shared,) = truth["fleet_incidents"]
    assert shared["clusters"] == ["prod-eu-1", "prod-us-1"] and shared["subject"]["name"] == "checkout"
    images = set()
    for cluster in shared["clusters"]:
        rs = json.loads((fleet.root / cluster / "dump/shop/replicasets.json").read_text())["items"]
        new = next(r for r in rs if r["metadata"]["name"] == shared["replicaset"])
        images.add(new["spec"]["template"]["spec"]["containers"][0]["image"])
        dep = json.loads((fleet.root / cluster / "dump/shop/deployments.json").read_text())["items"]
        assert any(d["metadata"]["name"] == "checkout" for d in dep)
    assert len(images) == 1


def test_fleet_clusters_have_their_own_alertmanager(fleet: FleetManifest) -> None:
    urls = set()
    for name, result in fleet.clusters.items():
        expected = json.loads(result.expected.read_text())
        sent = _alerts(result.root)
        assert all(set(i["alerts"]) <= set(sent) for i in expected["incidents"])
        for msg in _payloads(result.root):
            assert msg["externalURL"] == f"https://alertmanager.{name}.northwind.internal"
            assert all("cluster" not in a["labels"] for a in msg["alerts"])
            urls.add(msg["externalURL"])
    assert len(urls) == 3


def test_node_incident_gathers_alerts_from_several_namespaces(fleet: FleetManifest) -> None:
    expected = json.loads(fleet.clusters["staging-1"].expected.read_text())
    node = next(i for i in expected["incidents"] if i["category"] == "node_not_ready")
    sent = _alerts(fleet.clusters["staging-1"].root)
    names = {sent[fp]["labels"]["alertname"] for fp in node["alerts"]}
    assert {"KubeNodeNotReady", "KubeNodeUnreachable", "KubePodNotReady", "TargetDown"} <= names
    assert len({sent[fp]["labels"]["namespace"] for fp in node["alerts"]}) >= 3
    nodes = json.loads((fleet.clusters["staging-1"].dump / "nodes.json").read_text())["items"]
    down = next(n for n in nodes if n["metadata"]["name"] == node["subject"]["name"])
    ready = next(c for c in down["status"]["conditions"] if c["type"] == "Ready")
    assert (ready["status"], ready["reason"]) == ("Unknown", "NodeStatusUnknown")
    assert {t["effect"] for t in down["spec"]["taints"]} == {"NoSchedule", "NoExecute"}


# -- the newer scenarios, detail by detail -------------------------------------------------------------------
def _nodes(root: Path) -> dict[str, dict[str, Any]]:
    return {n["metadata"]["name"]: n for n in json.loads((root / "dump/nodes.json").read_text())["items"]}


def _side(root: Path, stem: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for f in sorted((root / "dump").glob(f"*/{stem}.json")):
        out += json.loads(f.read_text())["items"] or []
    return out


def _logs(root: Path) -> str:
    return "".join(f.read_text() for f in (root / "dump").rglob("logs*.txt"))


def test_all_categories_and_triggers_are_covered() -> None:
    categories = {s.category for s in SCENARIOS.values()}
    assert len(SCENARIOS) >= 24
    assert categories == {"oom_killed", "app_crash", "config_error", "missing_secret_or_configmap",
                          "dependency_unavailable", "image_pull_error", "insufficient_resources",
                          "scheduling_constraints", "volume_error", "probe_failure", "node_not_ready",
                          "node_pressure", "node_cordoned", "job_failed", "cpu_throttling", "disk_full",
                          "certificate_error"}
    assert {"rollout", "config_change", "node", "external", "unknown"} <= {s.trigger for s in SCENARIOS.values()}


def test_cordoned_node_and_the_pods_it_strands(written: dict[str, Path]) -> None:
    root = written["node_cordoned"]
    (node,) = [n for n in _nodes(root).values() if n["spec"].get("unschedulable")]
    taint = next(t for t in node["spec"]["taints"] if t["key"] == "node.kubernetes.io/unschedulable")
    assert taint["effect"] == "NoSchedule" and _ts(taint["timeAdded"]) < NOW
    events = _events(root)
    assert any(e["reason"] == "NodeNotSchedulable" and e["involvedObject"]["name"] == node["metadata"]["name"]
               and e["source"] == {"component": "kubelet", "host": node["metadata"]["name"]} for e in events)
    stuck = [e for e in events if e["reason"] == "FailedScheduling"]
    assert stuck and all("1 node(s) were unschedulable" in e["message"] for e in stuck)
    pending = [p for p in _pods(root) if p["status"]["phase"] == "Pending"]
    assert pending and all(p["spec"]["nodeSelector"] == {"workload-class": "highmem"} for p in pending)


def test_pressure_evicts_pods_the_way_the_kubelet_does(written: dict[str, Path]) -> None:
    root = written["node_pressure"]
    (node,) = [n for n in _nodes(root).values() if any(
        c["type"] in ("MemoryPressure", "DiskPressure") and c["status"] == "True" for c in n["status"]["conditions"])]
    assert any(t["key"].endswith("-pressure") and t["effect"] == "NoSchedule" for t in node["spec"]["taints"])
    evicted = [p for p in _pods(root) if p["status"].get("reason") == "Evicted"]
    assert len(evicted) >= 2
    for pod in evicted:
        st = pod["status"]
        assert st["phase"] == "Failed" and pod["spec"]["nodeName"] == node["metadata"]["name"]
        assert re.fullmatch(KUBELET_FORMATS["Evicted"][0], st["message"])
        assert st["conditions"][0]["type"] == "DisruptionTarget" and st["conditions"][0]["reason"] == \
            "TerminationByKubelet"
        assert st["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 137
        owner = pod["metadata"]["ownerReferences"][0]["name"]
        assert any(p["metadata"]["ownerReferences"][0]["name"] == owner and p["status"]["phase"] == "Running"
                   and p["spec"]["nodeName"] != node["metadata"]["name"] for p in _pods(root))  # replaced elsewhere


def test_failed_job_is_a_cronjob_child(written: dict[str, Path]) -> None:
    root = written["job_failed"]
    (alert,) = [a for a in _alerts(root).values() if a["labels"]["alertname"] == "KubeJobFailed"]
    labels = alert["labels"]
    assert labels["job"] == "kube-state-metrics" and labels["condition"] == "true"
    job = next(j for j in _side(root, "jobs") if j["metadata"]["name"] == labels["job_name"])
    scheduled = _ts(job["metadata"]["annotations"]["batch.kubernetes.io/cronjob-scheduled-timestamp"])
    assert labels["job_name"].endswith(f"-{int(scheduled.timestamp()) // 60}")
    assert job["metadata"]["ownerReferences"][0]["kind"] == "CronJob"
    failed = next(c for c in job["status"]["conditions"] if c["type"] == "Failed")
    assert (failed["reason"], failed["message"]) == ("BackoffLimitExceeded", "Job has reached the specified backoff "
                                                                              "limit")
    pods = [p for p in _pods(root) if p["metadata"]["ownerReferences"][0]["name"] == labels["job_name"]]
    assert len(pods) == job["spec"]["backoffLimit"] + 1 == job["status"]["failed"]
    for p in pods:
        assert p["status"]["phase"] == "Failed" and p["spec"]["restartPolicy"] == "Never"
        assert p["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 1


def test_full_volume_alert_comes_from_the_kubelet_and_goes_to_critical(written: dict[str, Path]) -> None:
    root = written["disk_full"]
    msgs = [m for m in _payloads(root) if m["receiver"] == "Critical"]
    assert msgs and msgs[0]["groupKey"].startswith('{}/{severity="critical"}:')
    a = msgs[0]["alerts"][0]
    labels = a["labels"]
    assert labels["alertname"] == "KubePersistentVolumeFillingUp" and labels["job"] == "kubelet"
    assert labels["metrics_path"] == "/metrics" and labels["instance"].endswith(":10250")
    assert re.search(r"in Namespace \S+  is only [\d.]+% free\.$", a["annotations"]["description"])
    pod = next(p for p in _pods(root) if any(v.get("persistentVolumeClaim", {}).get("claimName") ==
                                             labels["persistentvolumeclaim"] for v in p["spec"]["volumes"]))
    assert pod["spec"]["nodeName"] == labels["node"]
    assert "No space left on device" in _logs(root)
    sts = _side(root, "statefulsets")
    assert sts and sts[0]["status"].get("readyReplicas", 0) < sts[0]["spec"]["replicas"]


def test_throttled_service_runs_and_its_info_alerts_travel_with_a_warning(written: dict[str, Path]) -> None:
    root = written["cpu_throttling"]
    throttled = [a for a in _alerts(root).values() if a["labels"]["alertname"] == "CPUThrottlingHigh"]
    assert throttled
    for a in throttled:
        assert set(a["labels"]) == {"alertname", "container", "instance", "namespace", "pod", "prometheus",
                                    "service", "severity"} and a["labels"]["severity"] == "info"
    for msg in _payloads(root):  # the InfoInhibitor mutes info alerts unless a warning fires in the namespace
        if any(a["labels"]["severity"] == "info" for a in msg["alerts"]):
            assert any(a["labels"]["severity"] == "warning" for a in msg["alerts"])
    pods = [p for p in _pods(root) if p["metadata"]["name"] in {a["labels"]["pod"] for a in throttled}]
    for p in pods:
        assert p["spec"]["containers"][0]["resources"]["limits"]["cpu"] in ("200m", "500m")
        assert p["status"]["containerStatuses"][0]["restartCount"] == 0


def test_crashes_read_like_their_runtimes(written: dict[str, Path]) -> None:
    assert re.search(r"panic: runtime error: invalid memory address or nil pointer dereference|NullPointerException|"
                     r"TypeError: Cannot read properties|AttributeError: 'NoneType'", _logs(written["app_crash_panic"]))
    assert "Traceback (most recent call last):" in _logs(written["app_crash_traceback"])
    assert re.search(r"x509: certificate has expired or is not yet valid: current time \S+ is after|certificate "
                     r"has expired|CertificateExpiredException", _logs(written["certificate_expired"]))
    assert "PKIX path building failed" in _logs(written["certificate_untrusted"])
    assert re.search(r"getaddrinfo ENOTFOUND|UnknownHostException|no such host|Name or service not known",
                     _logs(written["dependency_dns"]))


def test_red_herring_crash_reads_an_optional_key_that_is_gone(written: dict[str, Path]) -> None:
    root = written["crash_missing_configmap_key"]
    (inc,) = json.loads((root / "expected.json").read_text())["incidents"]
    ref = inc["configmap"]
    cm = next(c for c in _side(root, "configmaps") if c["metadata"]["name"] == ref["name"])
    assert ref["key"] not in cm["data"]
    pod = next(p for p in _pods(root) if p["metadata"]["name"].startswith(inc["replicaset"]))
    env = {e["name"]: e for e in pod["spec"]["containers"][0]["env"]}
    assert env[ref["key"]]["valueFrom"]["configMapKeyRef"] == {"name": ref["name"], "key": ref["key"],
                                                              "optional": True}
    assert ref["key"] in (root / "dump" / pod["metadata"]["namespace"] / pod["metadata"]["name"] /
                          "logs.previous.txt").read_text()


def test_volume_still_attached_to_the_old_node(written: dict[str, Path]) -> None:
    root = written["volume_multi_attach"]
    attach = [e for e in _events(root) if e["reason"] == "FailedAttachVolume"]
    assert attach and attach[0]["source"] == {"component": "attachdetach-controller"}
    volume = re.search(r'"(pvc-[^"]+)"', attach[0]["message"]).group(1)
    holders = [n for n in _nodes(root).values() if any(volume[4:] in v or volume.replace("-", "")[4:20] in v
                                                       for v in n["status"].get("volumesInUse", []))]
    pod = next(p for p in _pods(root) if p["metadata"]["name"] == attach[0]["involvedObject"]["name"])
    assert holders and holders[0]["metadata"]["name"] != pod["spec"]["nodeName"]
    assert pod["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] == "ContainerCreating"


def test_stopped_kubelet_leaves_node_exporter_up(written: dict[str, Path]) -> None:
    root = written["kubelet_stopped"]
    down = {a["labels"]["job"] for a in _alerts(root).values() if a["labels"]["alertname"] == "TargetDown"}
    assert down == {"kubelet"}
    assert "dial tcp" in _logs(root) and "connect: connection refused" in _logs(root)
    sts = _side(root, "statefulsets")
    assert sts and sts[0]["status"]["readyReplicas"] < sts[0]["spec"]["replicas"]


# -- loaders and CLI ------------------------------------------------------------------------------------
def test_generated_dump_loads_through_the_dump_source(written: dict[str, Path]) -> None:
    dump_module = pytest.importorskip("clusters.dump")
    source = dump_module.DumpSource(written["oom_killed"] / "dump")
    assert source.captured_at() == NOW
    pods = source.list("pods")
    crashing = next(p for p in pods if "waiting" in p["status"].get("containerStatuses", [{"state": {}}])[0]["state"])
    ns, name = crashing["metadata"]["namespace"], crashing["metadata"]["name"]
    container = crashing["spec"]["containers"][0]["name"]
    assert source.read_log(ns, name, container, previous=True) == source.read_log(ns, name, container)
    assert source.list("secrets") and source.list("configmaps")


def test_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list"]) == 0
    assert "node_not_ready" in capsys.readouterr().out
    assert main(["write", "missing_secret", str(tmp_path / "one"), "--seed", "2"]) == 0
    assert (tmp_path / "one/expected.json").exists() and (tmp_path / "one/dump/nodes.json").exists()
