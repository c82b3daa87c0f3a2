"""The dump source against the two real sample dumps and small dumps written per test."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from clusters.dump import DumpSource, load_dump
from clusters.logs import parse_blocks
from clusters.normalize import v1_key
from clusters.selectors import SelectorError, matches, parse_field_selector, parse_label_selector
from engine.sources import ClusterSource, SourceError
from tests.conftest import SAMPLES as SAMPLES_ROOT

SAMPLES = SAMPLES_ROOT / "dumps"
OLD = SAMPLES / "minikube-2019-internal-types"
RKE2 = SAMPLES / "rke2-2025-after-reboot"


@pytest.fixture(scope="module")
def old() -> DumpSource:
    return DumpSource(OLD)


@pytest.fixture(scope="module")
def rke2() -> DumpSource:
    return DumpSource(RKE2)


def _write(path: Path, document: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document) if not isinstance(document, str) else document)


def _v1_list(kind: str, items: list[dict[str, Any]], api_version: str = "v1") -> dict[str, Any]:
    return {"kind": f"{kind}List", "apiVersion": api_version, "metadata": {"resourceVersion": "42"}, "items": items}


# -- the 2019 dump: internal types normalised to v1 ----------------------------------------------


def test_old_pod_is_normalised_to_v1(old: DumpSource) -> None:
    pod = old.get("pods", "kube-system", "coredns-86c58d9df4-mnjkg")
    assert (pod["kind"], pod["apiVersion"]) == ("Pod", "v1")
    assert pod["metadata"]["uid"] == "f2f74677-417e-11e9-9e86-00155d700139"
    assert pod["metadata"]["ownerReferences"][0]["kind"] == "ReplicaSet"
    assert "name" not in pod and "Spec" not in pod
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    assert volumes["coredns-token-wvm2r"]["secret"]["secretName"] == "coredns-token-wvm2r"
    assert volumes["config-volume"]["configMap"]["items"][0]["key"] == "Corefile"
    container = pod["spec"]["containers"][0]
    assert container["resources"] == {"limits": {"memory": "170Mi"}, "requests": {"cpu": "100m", "memory": "70Mi"}}
    assert container["livenessProbe"]["httpGet"]["port"] == 8080
    assert container["securityContext"]["capabilities"]["add"] == ["NET_BIND_SERVICE"]
    status = pod["status"]
    assert (status["hostIP"], status["podIP"], status["qosClass"]) == ("10.41.10.26", "172.17.0.2", "Burstable")
    cs = status["containerStatuses"][0]
    assert cs["state"] == {"running": {"startedAt": "2019-03-08T08:48:32Z"}}
    assert cs["lastState"] == {}  # LastTerminationState with three nulls
    assert cs["containerID"].startswith("docker://")
    assert "reason" not in status["conditions"][0]  # empty strings dropped as v1 omits them


def test_old_objects_have_no_internal_keys_left(old: DumpSource) -> None:
    user_maps = {"labels", "annotations", "limits", "requests", "capacity", "allocatable", "nodeSelector"}

    def capitalised(value: Any, parent: str = "") -> list[str]:
        if isinstance(value, list):
            return [k for v in value for k in capitalised(v, parent)]
        if not isinstance(value, dict) or parent in user_maps:
            return []
        found = [k for k in value if k[:1].isupper() and (parent, k) != ("kubeletEndpoint", "Port")]
        return found + [k for key, v in value.items() for k in capitalised(v, key)]

    for kind in ("pods", "events", "nodes"):
        for obj in old.list(kind):
            assert capitalised(obj) == [], (kind, obj["metadata"]["name"])
            assert None not in _values(obj)


def _values(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [x for v in value.values() for x in _values(v)] + list(value.values())
    if isinstance(value, list):
        return [x for v in value for x in _values(v)]
    return []


def test_old_events_read_like_v1(old: DumpSource) -> None:
    failed = old.list("events", "default", field_selector="reason=Failed")
    assert len(failed) == 1
    event = failed[0]
    assert event["message"] == 'Error: secret "pgpassword" not found'
    assert event["involvedObject"]["kind"] == "Pod"
    assert event["involvedObject"]["fieldPath"] == "spec.containers{server}"
    assert event["source"] == {"component": "kubelet", "host": "minikube"}
    assert (event["count"], event["type"], event["lastTimestamp"]) == (8, "Warning", "2019-03-08T08:57:02Z")
    assert "eventTime" not in event  # null in the dump
    assert event["reportingComponent"] == ""  # v1 prints it even when empty
    scheduled = old.list("events", "default", field_selector="reason=FailedScheduling")
    assert scheduled[0]["message"].startswith("0/1 nodes are available: 1 Insufficient cpu")
    assert "fieldPath" not in scheduled[0]["involvedObject"]


def test_old_node_keeps_user_maps_and_v1_quirks(old: DumpSource) -> None:
    node = old.get("nodes", None, "minikube")
    assert node["metadata"]["labels"]["node-role.kubernetes.io/master"] == ""
    assert node["status"]["capacity"]["hugepages-2Mi"] == "0"
    assert node["status"]["daemonEndpoints"] == {"kubeletEndpoint": {"Port": 10250}}
    assert node["status"]["nodeInfo"]["kubeletVersion"] == "v1.13.3"
    assert node["status"]["nodeInfo"]["machineID"] == "2a008f73e9e44c7a84095d15dd3cee25"
    assert {c["type"] for c in node["status"]["conditions"]} >= {"Ready", "MemoryPressure"}
    assert node["status"]["images"][0]["sizeBytes"] == 568075227


def test_old_pod_security_context_host_fields_move_to_spec(old: DumpSource) -> None:
    proxy = old.get("pods", "kube-system", "kube-proxy-7rlpp")
    assert proxy["spec"]["hostNetwork"] is True
    assert "hostNetwork" not in proxy["spec"]["securityContext"]
    assert proxy["spec"]["containers"][0]["env"][0]["valueFrom"]["fieldRef"]["fieldPath"] == "spec.nodeName"
    coredns = old.get("pods", "kube-system", "coredns-86c58d9df4-mnjkg")
    assert "hostNetwork" not in coredns["spec"]  # false is omitted in v1


def test_internal_template_metadata_and_renames(tmp_path: Path) -> None:
    deployment = {
        "name": "web", "namespace": "shop", "uid": "u1", "creationTimestamp": "2019-01-01T00:00:00Z",
        "labels": {"App": "web"},
        "Spec": {
            "Replicas": 2,
            "Selector": {"matchLabels": {"App": "web"}},
            "Template": {
                "labels": {"App": "web"}, "creationTimestamp": None,
                "Spec": {"Containers": [{"Name": "web", "Image": "nginx"}], "SecurityContext": {"HostPID": True},
                         "Volumes": [{"Name": "data", "CephFS": {"Monitors": ["m"]}, "StorageOS": None}]},
            },
        },
        "Status": {"Replicas": 2, "Conditions": [{"Type": "Available", "Status": "True", "Reason": ""}]},
    }
    _write(tmp_path / "shop" / "deployments.json", {"selfLink": "/x", "resourceVersion": "7", "Items": [deployment]})
    web = DumpSource(tmp_path).get("deployments", "shop", "web")
    assert (web["kind"], web["apiVersion"]) == ("Deployment", "apps/v1")
    assert web["metadata"]["labels"] == {"App": "web"}
    assert web["spec"]["selector"] == {"matchLabels": {"App": "web"}}
    template = web["spec"]["template"]
    assert template["metadata"] == {"labels": {"App": "web"}}
    assert template["spec"]["hostPID"] is True
    assert template["spec"]["volumes"][0]["cephfs"] == {"monitors": ["m"]}
    assert web["status"]["conditions"] == [{"type": "Available", "status": "True"}]


@pytest.mark.parametrize(
    ("key", "expected"),
    [("APIVersion", "apiVersion"), ("UID", "uid"), ("HostIP", "hostIP"), ("PodIP", "podIP"),
     ("ContainerID", "containerID"), ("FieldPath", "fieldPath"), ("HTTPGet", "httpGet"), ("QOSClass", "qosClass"),
     ("SELinuxOptions", "seLinuxOptions"), ("TTY", "tty"), ("Name", "name"), ("LastTerminationState", "lastState"),
     ("ReportingController", "reportingComponent"), ("alreadyCamel", "alreadyCamel")],
)
def test_v1_key(key: str, expected: str) -> None:
    assert v1_key(key) == expected


# -- the 2025 RKE2 dump: v1 JSON passed through --------------------------------------------------


def test_rke2_v1_items_pass_through(rke2: DumpSource) -> None:
    raw = json.loads((RKE2 / "kube-system" / "pods.json").read_text())["items"]
    loaded = rke2.list("pods", "kube-system")
    assert len(loaded) == len(raw) == 22
    by_name = {p["metadata"]["name"]: p for p in loaded}
    for item in raw:
        assert by_name[item["metadata"]["name"]] == {"kind": "Pod", "apiVersion": "v1", **item}
    assert rke2.list("pods", "default") == []  # "items": null
    assert [d["kind"] for d in rke2.list("deployments")] == ["Deployment"] * 7


def test_rke2_container_history(rke2: DumpSource) -> None:
    pod = rke2.get("pods", "kube-system", "kube-controller-manager-omen-omen-25l-desktop-gt12-0xxx")
    status = pod["status"]["containerStatuses"][0]
    assert status["restartCount"] == 21
    assert status["lastState"]["terminated"]["exitCode"] == 1
    unknown = [p for p in rke2.list("pods") if any(
        (cs.get("lastState") or {}).get("terminated", {}).get("reason") == "Unknown"
        for cs in p["status"].get("containerStatuses", []))]
    assert len(unknown) >= 5
    assert rke2.list("events") == []


def test_captured_at_is_the_newest_timestamp(old: DumpSource, rke2: DumpSource) -> None:
    # Node heartbeats are the freshest sign of life in both dumps.
    assert old.captured_at() == datetime(2019, 3, 8, 8, 59, 58, tzinfo=UTC)
    assert rke2.captured_at() == datetime(2025, 11, 1, 3, 31, 10, tzinfo=UTC)


def test_side_file_sets_name_and_capture_time(tmp_path: Path) -> None:
    _write(tmp_path / "fleetsre-dump.json", {"cluster": "prod-eu-1", "captured_at": "2024-05-01T12:00:00Z"})
    _write(tmp_path / "nodes.json", _v1_list("Node", []))
    source = DumpSource(tmp_path)
    assert source.name == "prod-eu-1"
    assert source.captured_at() == datetime(2024, 5, 1, 12, tzinfo=UTC)
    assert DumpSource(tmp_path, name="other").name == "other"


def test_dump_source_is_a_cluster_source(rke2: DumpSource) -> None:
    assert isinstance(rke2, ClusterSource)
    assert {n["metadata"]["name"] for n in rke2.list("namespaces")} == {"default", "kube-system"}


# -- selectors -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("selector", "expected"),
    [("app=web", True), ("app==web", True), ("app!=web", False), ("app in (web, api)", True),
     ("app notin (web)", False), ("tier", True), ("!tier", False), ("!missing", True), ("missing", False),
     ("app=web,tier=front", True), ("app=web,tier=back", False), ("missing!=x", True), ("n>2", True),
     ("n<2", False), ("", True)],
)
def test_label_selector_matching(selector: str, expected: bool) -> None:
    obj = {"metadata": {"labels": {"app": "web", "tier": "front", "n": "3"}}}
    assert matches(obj, "pods", parse_label_selector(selector)) is expected


@pytest.mark.parametrize("bad", ["a in x", "=b", "a=b=c", "a>x"])
def test_bad_label_selector_is_rejected(bad: str) -> None:
    with pytest.raises(SelectorError):
        parse_label_selector(bad)


def test_field_selectors(old: DumpSource) -> None:
    assert len(old.list("events", field_selector="involvedObject.kind=Node")) == 5
    warnings = old.list("events", "default", field_selector="source=kubelet,type!=Normal")
    assert warnings and all(e["type"] == "Warning" and e["source"]["component"] == "kubelet" for e in warnings)
    assert [p["metadata"]["name"] for p in old.list("pods", field_selector="metadata.name==etcd-minikube")] == ["etcd-minikube"]
    assert len(old.list("pods", "kube-system", field_selector="spec.nodeName=minikube,status.phase=Running")) == 11
    assert old.list("pods", "default") == []
    escaped = parse_field_selector(r"metadata.name=a\,b", "pods")
    assert escaped[0].value == "a,b"


def test_label_selectors_on_a_real_dump(old: DumpSource) -> None:
    dns = old.list("pods", "kube-system", label_selector="k8s-app=kube-dns")
    assert [p["metadata"]["name"] for p in dns] == ["coredns-86c58d9df4-mnjkg", "coredns-86c58d9df4-w7q6l"]
    assert len(old.list("pods", label_selector="k8s-app in (kube-dns,kube-proxy),!nothing")) == 3


def test_unsupported_field_selector_is_a_400(old: DumpSource) -> None:
    with pytest.raises(SourceError) as caught:
        old.list("pods", field_selector="spec.containers=x")
    assert caught.value.status == 400
    assert str(caught.value) == "field label not supported: spec.containers"


def test_get_missing_object_is_404(old: DumpSource) -> None:
    with pytest.raises(SourceError) as caught:
        old.get("pods", "kube-system", "nope")
    assert (caught.value.status, caught.value.not_found) == (404, True)
    assert str(caught.value) == 'pods "nope" not found'
    with pytest.raises(SourceError) as apps:
        old.get("deployments", "default", "web")
    assert str(apps.value) == 'deployments.apps "web" not found'


# -- logs ----------------------------------------------------------------------------------------


def test_real_log_blocks(rke2: DumpSource) -> None:
    ui = rke2.state.logs[("kube-system", "hubble-ui-7677cbb7c-95x69")]
    assert set(ui) == {"frontend", "backend"}
    tail = rke2.read_log("kube-system", "hubble-relay-ff8d445c-nxfsn", "hubble-relay", tail_lines=1)
    assert tail.startswith("time=2025-10-31T18:02:43.568542092Z level=info msg=Connected")
    assert tail.count("\n") == 1
    full = rke2.read_log("kube-system", "hubble-relay-ff8d445c-nxfsn", "hubble-relay")
    assert full.count("\n") == 7 and "==== " not in full


def test_log_blocks_end_marker_mid_line_and_errors() -> None:
    text = (
        "==== START logs for container a of pod ns/p ====\nline 1\nno newline"
        "==== END logs for container a of pod ns/p ====\n"
        "==== START logs for container b of pod ns/p ====\n"
        "Request log error: an error on the server (\"unknown\") has prevented the request from succeeding\n"
        "==== END logs for container b of pod ns/p ====\n"
    )
    blocks = parse_blocks(text)
    assert blocks["a"].text == "line 1\nno newline"
    assert blocks["b"].text is None and blocks["b"].error.startswith("Request log error: an error on the server")


@pytest.fixture
def crashloop(tmp_path: Path) -> DumpSource:
    pod = {
        "metadata": {"name": "checkout-1", "namespace": "shop"},
        "spec": {"initContainers": [{"name": "migrate"}], "containers": [{"name": "app"}, {"name": "proxy"}]},
        "status": {"phase": "Running"},
    }
    _write(tmp_path / "fleetsre-dump.json", {"cluster": "shop", "captured_at": "2024-05-01T12:00:00Z"})
    _write(tmp_path / "shop" / "pods.json", _v1_list("Pod", [pod]))
    logs = tmp_path / "shop" / "checkout-1"
    _write(logs / "logs.txt", _blocks("shop/checkout-1", {
        "migrate": "Create log request error: container \"migrate\" in pod \"checkout-1\" is waiting to start: PodInitializing\n",
        "app": "starting checkout\nconnecting to db\n",
    }))
    _write(logs / "logs.previous.txt", _blocks("shop/checkout-1", {
        "app": "2024-05-01T11:50:00.000000000Z starting checkout\n"
               "2024-05-01T11:55:00.000000000Z connecting to db\n"
               "2024-05-01T11:59:30.000000000Z FATAL: password authentication failed\n",
    }))
    return DumpSource(tmp_path)


def _blocks(pod: str, containers: dict[str, str]) -> str:
    return "".join(
        f"==== START logs for container {c} of pod {pod} ====\n{body}==== END logs for container {c} of pod {pod} ====\n"
        for c, body in containers.items()
    )


def test_read_log_previous_tail_since(crashloop: DumpSource) -> None:
    previous = crashloop.read_log("shop", "checkout-1", "app", previous=True)
    assert previous.count("\n") == 3
    assert crashloop.read_log("shop", "checkout-1", "app", previous=True, tail_lines=1).endswith(
        "FATAL: password authentication failed\n")
    # 120 s before the capture time (12:00:00) keeps only the 11:59:30 line.
    recent = crashloop.read_log("shop", "checkout-1", "app", previous=True, since_seconds=120)
    assert recent == "2024-05-01T11:59:30.000000000Z FATAL: password authentication failed\n"
    assert crashloop.read_log("shop", "checkout-1", "app", previous=True, tail_lines=0) == ""
    # Lines without a timestamp cannot be dated: since keeps them, timestamps gives them captured_at.
    assert crashloop.read_log("shop", "checkout-1", "app", since_seconds=1) == "starting checkout\nconnecting to db\n"
    stamped = crashloop.read_log("shop", "checkout-1", "app", timestamps=True, tail_lines=1)
    assert stamped == "2024-05-01T12:00:00.000000000Z connecting to db\n"
    assert crashloop.read_log("shop", "checkout-1", "app", previous=True, timestamps=True, tail_lines=1).startswith(
        "2024-05-01T11:59:30.000000000Z FATAL")


@pytest.mark.parametrize(
    ("call", "status", "message"),
    [
        ({"container": "proxy", "previous": True}, 400, 'previous terminated container "proxy" in pod "checkout-1" not found'),
        ({"container": "nope"}, 400, "container nope is not valid for pod checkout-1"),
        ({"container": "migrate"}, 400, 'Create log request error: container "migrate" in pod "checkout-1" is waiting to start: PodInitializing'),
        ({"container": "proxy"}, 404, 'no logs captured for container "proxy" in pod "checkout-1": not in the dump'),
        ({"container": "app", "tail_lines": -1}, 400, 'PodLogOptions "checkout-1" is invalid: tailLines: Invalid value: -1: must be greater than or equal to 0'),
    ],
)
def test_read_log_errors(crashloop: DumpSource, call: dict[str, Any], status: int, message: str) -> None:
    container = call.pop("container")
    with pytest.raises(SourceError) as caught:
        crashloop.read_log("shop", "checkout-1", container, **call)
    assert (caught.value.status, str(caught.value)) == (status, message)


def test_read_log_of_missing_pod_is_404(crashloop: DumpSource) -> None:
    with pytest.raises(SourceError) as caught:
        crashloop.read_log("shop", "gone", "app")
    assert caught.value.status == 404


# -- side files ------------------------------------------------------------------------------------


def test_secret_values_never_load(tmp_path: Path) -> None:
    secret = {
        "metadata": {"name": "db", "namespace": "shop", "annotations": {
            "kubectl.kubernetes.io/last-applied-configuration": '{"data":{"password":"aHVudGVyMg=="}}', "team": "pay"}},
        "type": "Opaque",
        "data": {"password": "aHVudGVyMg=="},
        "stringData": {"user": "checkout"},
    }
    _write(tmp_path / "shop" / "secrets.json", _v1_list("Secret", [secret]))
    source = DumpSource(tmp_path)
    loaded = source.get("secrets", "shop", "db")
    assert loaded["data"] == {"password": "", "user": ""}
    assert loaded["metadata"]["annotations"] == {"team": "pay"}
    dumped = json.dumps(source.state.list("secrets"))
    assert "aHVudGVyMg" not in dumped and "checkout" not in dumped
    assert source.list("secrets", field_selector="type=Opaque")[0]["metadata"]["name"] == "db"


def test_optional_kinds_and_yaml(tmp_path: Path) -> None:
    _write(tmp_path / "shop" / "statefulsets.json", _v1_list("StatefulSet", [{"metadata": {"name": "db"}}], "apps/v1"))
    _write(tmp_path / "shop" / "jobs.json", _v1_list("Job", [{"metadata": {"name": "backup"}}], "batch/v1"))
    _write(tmp_path / "shop" / "configmaps.yaml",
           "kind: ConfigMapList\napiVersion: v1\nmetadata: {resourceVersion: '9'}\nitems:\n"
           "- metadata: {name: cfg, creationTimestamp: 2024-01-01T00:00:00Z}\n  data: {Mode: fast}\n")
    source = DumpSource(tmp_path)
    assert source.get("statefulsets", "shop", "db")["apiVersion"] == "apps/v1"
    assert source.get("jobs", "shop", "backup")["kind"] == "Job"
    cfg = source.get("configmaps", "shop", "cfg")
    assert cfg["data"] == {"Mode": "fast"}
    assert cfg["metadata"]["creationTimestamp"] == "2024-01-01T00:00:00Z"  # a string, not a datetime
    assert source.state.resource_version == "42"  # the newest of the files' list versions


def test_returned_objects_are_copies(old: DumpSource) -> None:
    pod = old.get("pods", "kube-system", "etcd-minikube")
    pod["metadata"]["name"] = "changed"
    assert old.get("pods", "kube-system", "etcd-minikube")["metadata"]["name"] == "etcd-minikube"


def test_missing_directory_fails_loudly(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_dump(tmp_path / "absent")
