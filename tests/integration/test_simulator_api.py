"""The fleet simulator through the official kubernetes client (v37), raw and via LiveSource.

One simulator (port 0) serves the two real sample dumps, a crash-looping shop dump written here,
and copies of the RKE2 state with faults: RBAC denials, errors, throttling, unreachable hosts.
"""

from __future__ import annotations

import base64
import http.client
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from clusters.dump import DumpSource, load_dump
from clusters.live import LiveSource
from clusters.simulator import Simulator
from clusters.simulator.cli import parse_args, run
from clusters.simulator.faults import FaultInjector, Faults
from engine.sources import ClusterSource, SourceError
from tests.conftest import SAMPLES as SAMPLES_ROOT

pytestmark = pytest.mark.integration

SAMPLES = SAMPLES_ROOT / "dumps"
OLD, RKE2 = SAMPLES / "minikube-2019-internal-types", SAMPLES / "rke2-2025-after-reboot"
SECRET_B64 = base64.b64encode(b"hunter2").decode()
CAPTURED = "2024-05-01T12:00:00Z"


def _write(path: Path, document: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(document if isinstance(document, str) else json.dumps(document))


def _list(kind: str, items: list[dict[str, Any]], api_version: str = "v1") -> dict[str, Any]:
    return {"kind": f"{kind}List", "apiVersion": api_version, "metadata": {"resourceVersion": "500"}, "items": items}


def _blocks(pod: str, containers: dict[str, str]) -> str:
    return "".join(
        f"==== START logs for container {c} of pod {pod} ====\n{body}==== END logs for container {c} of pod {pod} ====\n"
        for c, body in containers.items()
    )


def _cart_pod(i: int) -> dict[str, Any]:
    return {
        "metadata": {"name": f"cart-{i:02d}", "namespace": "shop",
                     "labels": {"app": "cart", "tier": "backend" if i % 3 == 0 else "web"}},
        "spec": {"nodeName": "node-b" if i % 2 else "node-a", "containers": [{"name": "cart"}]},
        "status": {"phase": "Pending" if i == 7 else "Running"},
    }


def write_shop_dump(root: Path) -> Path:
    """A small v1 dump with one crash-looping pod, its current and previous logs, and a Secret."""
    checkout = {
        "metadata": {"name": "checkout-7d9f8b6c5-x2k4p", "namespace": "shop",
                     "labels": {"app": "checkout", "tier": "web", "pod-template-hash": "7d9f8b6c5"},
                     "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "checkout-7d9f8b6c5",
                                          "uid": "rs-1", "controller": True}]},
        "spec": {"nodeName": "node-a", "containers": [{"name": "app", "image": "shop/checkout:2.3.1"},
                                                       {"name": "proxy", "image": "envoy:1.30"}]},
        "status": {"phase": "Running", "containerStatuses": [
            {"name": "app", "ready": False, "restartCount": 5, "image": "shop/checkout:2.3.1", "imageID": "",
             "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 2m40s restarting failed container=app"}},
             "lastState": {"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": "2024-05-01T11:59:31Z"}}},
            {"name": "proxy", "ready": True, "restartCount": 0, "image": "envoy:1.30", "imageID": "",
             "state": {"running": {"startedAt": "2024-05-01T10:00:00Z"}}, "lastState": {}}]},
    }
    backoff = {
        "metadata": {"name": "checkout-7d9f8b6c5-x2k4p.17c", "namespace": "shop"},
        "involvedObject": {"kind": "Pod", "namespace": "shop", "name": "checkout-7d9f8b6c5-x2k4p",
                           "fieldPath": "spec.containers{app}"},
        "reason": "BackOff", "message": "Back-off restarting failed container app", "type": "Warning",
        "source": {"component": "kubelet", "host": "node-a"}, "count": 12,
        "firstTimestamp": "2024-05-01T11:50:10Z", "lastTimestamp": "2024-05-01T11:59:40Z",
    }
    secret = {
        "metadata": {"name": "db-credentials", "namespace": "shop", "annotations": {
            "kubectl.kubernetes.io/last-applied-configuration": json.dumps({"data": {"password": SECRET_B64}})}},
        "type": "Opaque", "data": {"password": SECRET_B64},
    }
    ns = root / "shop"
    _write(root / "fleetsre-dump.json", {"cluster": "shop-prod", "captured_at": CAPTURED})
    _write(root / "nodes.json", _list("Node", [{"metadata": {"name": "node-a"}}, {"metadata": {"name": "node-b"}}]))
    _write(ns / "pods.json", _list("Pod", [checkout] + [_cart_pod(i) for i in range(12)]))
    _write(ns / "events.json", _list("Event", [backoff]))
    _write(ns / "secrets.json", _list("Secret", [secret]))
    _write(ns / "deployments.json", _list("Deployment", [{"metadata": {"name": "checkout", "labels": {"app": "checkout"}}}], "apps/v1"))
    _write(ns / "jobs.json", _list("Job", [{"metadata": {"name": "nightly"}}], "batch/v1"))
    pod_dir = ns / "checkout-7d9f8b6c5-x2k4p"
    _write(pod_dir / "logs.txt", _blocks("shop/checkout-7d9f8b6c5-x2k4p", {
        "app": "starting checkout 2.3.1\nconnecting to postgres at db:5432\n",
        "proxy": "[info] envoy ready\n",
    }))
    _write(pod_dir / "logs.previous.txt", _blocks("shop/checkout-7d9f8b6c5-x2k4p", {
        "app": "2024-05-01T11:50:00.000000000Z starting checkout 2.3.1\n"
               "2024-05-01T11:55:00.000000000Z connecting to postgres at db:5432\n"
               '2024-05-01T11:59:30.000000000Z FATAL: password authentication failed for user "checkout"\n',
    }))
    return root


class Fleet:
    def __init__(self, simulator: Simulator, kubeconfig: Path, shop: Path) -> None:
        self.simulator, self.kubeconfig, self.shop = simulator, kubeconfig, shop

    def source(self, cluster: str, **kwargs: Any) -> LiveSource:
        return LiveSource.from_kubeconfig(self.kubeconfig, cluster, **kwargs)

    def core(self, cluster: str, **configuration: Any) -> client.CoreV1Api:
        settings = client.Configuration()
        for key, value in configuration.items():
            setattr(settings, key, value)
        return client.CoreV1Api(config.new_client_from_config(
            config_file=str(self.kubeconfig), context=cluster, client_configuration=settings))

    def apps(self, cluster: str) -> client.AppsV1Api:
        return client.AppsV1Api(config.new_client_from_config(config_file=str(self.kubeconfig), context=cluster))


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    root = tmp_path_factory.mktemp("fleet")
    shop = write_shop_dump(root / "shop-dump")
    rke2 = load_dump(RKE2)  # one state, served under several names with different faults
    clusters = {"minikube-2019": OLD, "rke2-2025": rke2, "shop": shop,
                "rbac": rke2, "flaky": rke2, "throttled": rke2, "down": rke2, "blackhole": rke2, "slow": rke2}
    faults = {
        "rbac": {"forbidden": ["pods", "Deployment"]},
        "flaky": {"error_rate": 1.0},
        "throttled": {"throttle_rate": 1.0},
        "down": {"unreachable": True},
        "blackhole": {"unreachable": "hang"},
        "shop": {"latency_ms": {"p50": 1, "p99": 5}},
        "slow": {"latency_ms": 150},
    }
    with Simulator(clusters, faults=faults) as simulator:
        kubeconfig = simulator.write_kubeconfig(root / "kubeconfig.yaml")
        yield Fleet(simulator, kubeconfig, shop)


def _status(exc: ApiException) -> dict[str, Any]:
    return json.loads(exc.body)


# -- shapes and discovery ------------------------------------------------------------------------


@pytest.mark.parametrize(("cluster", "dump"), [("minikube-2019", OLD), ("rke2-2025", RKE2)])
def test_live_source_returns_the_dump_source_objects(fleet: Fleet, cluster: str, dump: Path) -> None:
    live, local = fleet.source(cluster), DumpSource(dump)
    assert isinstance(live, ClusterSource)
    for kind in ("pods", "events", "nodes", "deployments", "replicasets", "daemonsets"):
        assert live.list(kind) == local.list(kind), kind
    pod = local.list("pods")[0]
    name, ns = pod["metadata"]["name"], pod["metadata"]["namespace"]
    assert live.get("pods", ns, name) == pod
    assert live.captured_at() is None


def test_discovery_and_version(fleet: Fleet) -> None:
    api = config.new_client_from_config(config_file=str(fleet.kubeconfig), context="rke2-2025")
    assert client.VersionApi(api).get_code().git_version == "v1.33.5+rke2r1"
    groups = client.ApisApi(api).get_api_versions()
    assert {g.name for g in groups.groups} == {"apps", "batch"}
    resources = client.CoreV1Api(api).get_api_resources()
    assert {"pods", "pods/log", "events", "nodes", "secrets"} <= {r.name for r in resources.resources}
    with urllib.request.urlopen(fleet.simulator.url("rke2-2025") + "/api") as answer:
        assert json.load(answer)["versions"] == ["v1"]


def test_typed_models_parse(fleet: Fleet) -> None:
    pods = fleet.core("minikube-2019").list_namespaced_pod("kube-system")
    assert len(pods.items) == 11 and pods.kind == "PodList" and pods.metadata.resource_version == "4225"
    coredns = next(p for p in pods.items if p.metadata.name == "coredns-86c58d9df4-mnjkg")
    assert coredns.spec.volumes[1].secret.secret_name == "coredns-token-wvm2r"
    assert coredns.status.container_statuses[0].container_id.startswith("docker://")


# -- selectors and pagination --------------------------------------------------------------------


def test_label_selectors(fleet: Fleet) -> None:
    core = fleet.core("shop")
    assert len(core.list_namespaced_pod("shop", label_selector="app=cart").items) == 12
    backend = core.list_namespaced_pod("shop", label_selector="app in (cart),tier!=web").items
    assert [p.metadata.name for p in backend] == ["cart-00", "cart-03", "cart-06", "cart-09"]
    assert len(core.list_pod_for_all_namespaces(label_selector="!tier").items) == 0
    live = fleet.source("minikube-2019")
    assert len(live.list("pods", "kube-system", label_selector="k8s-app=kube-dns")) == 2
    with pytest.raises(ApiException) as bad:
        core.list_namespaced_pod("shop", label_selector="app in cart")
    assert bad.value.status == 400 and _status(bad.value)["reason"] == "BadRequest"


def test_field_selectors(fleet: Fleet) -> None:
    events = fleet.core("minikube-2019").list_namespaced_event(
        "default", field_selector="involvedObject.kind=Pod,reason=Failed")
    assert [e.message for e in events.items] == ['Error: secret "pgpassword" not found']
    assert events.items[0].involved_object.field_path == "spec.containers{server}"
    shop = fleet.source("shop")
    pending = shop.list("pods", "shop", field_selector="status.phase=Pending")
    assert [p["metadata"]["name"] for p in pending] == ["cart-07"]
    on_b = shop.list("pods", field_selector="spec.nodeName=node-b,status.phase!=Pending")
    assert len(on_b) == 5
    backoff = shop.list("events", "shop", field_selector="involvedObject.name=checkout-7d9f8b6c5-x2k4p,type=Warning")
    assert backoff[0]["reason"] == "BackOff" and backoff[0]["kind"] == "Event"
    with pytest.raises(SourceError) as bad:
        shop.list("pods", field_selector="spec.image=x")
    assert bad.value.status == 400 and "field label not supported: spec.image" in str(bad.value)


def test_pagination_returns_every_item_once(fleet: Fleet) -> None:
    core = fleet.core("minikube-2019")
    names: list[str] = []
    token, pages = None, 0
    while True:
        page = core.list_event_for_all_namespaces(limit=50, _continue=token)
        names += [f"{e.metadata.namespace}/{e.metadata.name}" for e in page.items]
        pages += 1
        token = page.metadata._continue
        if not token:
            break
        assert page.metadata.remaining_item_count == 489 - len(names)
    assert pages == 10 and len(names) == 489 and len(set(names)) == 489
    everything = core.list_event_for_all_namespaces()
    assert names == [f"{e.metadata.namespace}/{e.metadata.name}" for e in everything.items]
    assert len(fleet.source("minikube-2019", page_size=37).list("events")) == 489


def test_pagination_with_selector_and_expired_token(fleet: Fleet) -> None:
    core = fleet.core("shop")
    first = core.list_namespaced_pod("shop", label_selector="app=cart", limit=5)
    second = core.list_namespaced_pod("shop", label_selector="app=cart", limit=5, _continue=first.metadata._continue)
    assert [p.metadata.name for p in first.items + second.items] == [f"cart-{i:02d}" for i in range(10)]
    assert first.metadata.remaining_item_count is None  # not counted under a selector
    stale = base64.urlsafe_b64encode(json.dumps({"v": "meta.k8s.io/v1", "rv": "1", "start": "shop\x00cart-03"}).encode())
    with pytest.raises(ApiException) as expired:
        core.list_namespaced_pod("shop", limit=5, _continue=stale.decode())
    assert expired.value.status == 410 and _status(expired.value)["reason"] == "Expired"


# -- errors --------------------------------------------------------------------------------------


def test_get_missing_is_a_404_status(fleet: Fleet) -> None:
    with pytest.raises(ApiException) as missing:
        fleet.core("rke2-2025").read_namespaced_pod("nope", "kube-system")
    assert missing.value.status == 404
    assert _status(missing.value) == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": 'pods "nope" not found', "reason": "NotFound", "details": {"name": "nope", "kind": "pods"}, "code": 404,
    }
    with pytest.raises(ApiException) as apps:
        fleet.apps("rke2-2025").read_namespaced_deployment("nope", "kube-system")
    assert _status(apps.value)["details"] == {"name": "nope", "group": "apps", "kind": "deployments"}
    with pytest.raises(SourceError) as via_source:
        fleet.source("rke2-2025").get("nodes", None, "nope")
    assert via_source.value.status == 404 and via_source.value.reason == "NotFound"


def test_forbidden_kinds_are_403(fleet: Fleet) -> None:
    with pytest.raises(ApiException) as denied:
        fleet.core("rbac").list_namespaced_pod("kube-system")
    body = _status(denied.value)
    assert denied.value.status == 403 and body["reason"] == "Forbidden"
    assert body["message"] == ('pods is forbidden: User "system:serviceaccount:fleetsre:collector" cannot list '
                               'resource "pods" in API group "" in the namespace "kube-system"')
    with pytest.raises(SourceError) as apps:
        fleet.source("rbac").get("deployments", "kube-system", "hubble-ui")
    assert apps.value.status == 403 and 'cannot get resource "deployments" in API group "apps"' in str(apps.value)
    # RBAC grants pods and pods/log separately: the logs stay readable.
    assert fleet.source("rbac").read_log("kube-system", "hubble-relay-ff8d445c-nxfsn", "hubble-relay", tail_lines=1)
    assert len(fleet.source("rbac").list("events")) == 0


def test_error_rate_one_is_always_500(fleet: Fleet) -> None:
    with pytest.raises(ApiException) as failed:
        fleet.core("flaky").list_node()
    assert failed.value.status == 500 and _status(failed.value)["reason"] == "InternalError"
    with pytest.raises(SourceError) as via_source:
        fleet.source("flaky").list("pods")
    assert via_source.value.status == 500 and via_source.value.retryable


def test_throttled_is_429_with_retry_after(fleet: Fleet) -> None:
    # urllib3's default Retry honours Retry-After on 429 (three 1 s waits); LiveSource disables it.
    with pytest.raises(ApiException) as throttled:
        fleet.core("throttled", retries=False).list_node()
    assert throttled.value.status == 429 and throttled.value.headers["Retry-After"] == "1"
    assert _status(throttled.value)["details"] == {"retryAfterSeconds": 1}
    started = time.monotonic()
    with pytest.raises(SourceError) as via_source:
        fleet.source("throttled").list("pods")
    assert via_source.value.status == 429 and via_source.value.retryable
    assert time.monotonic() - started < 0.5


def test_unreachable_cluster_fails_fast_with_no_status(fleet: Fleet) -> None:
    source = fleet.source("down", timeout_s=2.0)
    started = time.monotonic()
    with pytest.raises(SourceError) as unreachable:
        source.list("pods")
    assert unreachable.value.status is None and unreachable.value.reason == "Unreachable"
    assert time.monotonic() - started < 2.0


def test_unreachable_prefix_answers_nothing(fleet: Fleet) -> None:
    # Even a client that bypasses the kubeconfig's refusing port gets no HTTP answer.
    with pytest.raises((ConnectionError, http.client.HTTPException, urllib.error.URLError)):
        urllib.request.urlopen(fleet.simulator.base_url + "/clusters/down/api/v1/pods", timeout=2)


def test_latency_is_added_per_request(fleet: Fleet) -> None:
    source = fleet.source("slow")
    started = time.monotonic()
    assert len(source.list("nodes")) == 1
    assert 0.14 < time.monotonic() - started < 1.0


def test_latency_percentiles_follow_the_spec() -> None:
    injector = FaultInjector(Faults.from_dict({"latency_ms": {"p50": 20, "p99": 200}}), seed="prod-eu-1")
    delays = sorted(injector.delay_s() for _ in range(4000))
    assert 0.018 < delays[2000] < 0.022
    assert 0.16 < delays[3960] < 0.24
    with pytest.raises(ValueError, match="unknown fault"):
        Faults.from_dict({"latency": 5})


def test_hanging_cluster_times_out(fleet: Fleet) -> None:
    source = fleet.source("blackhole", timeout_s=0.3)
    started = time.monotonic()
    with pytest.raises(SourceError) as hung:
        source.list("nodes")
    assert hung.value.status is None and hung.value.reason == "Timeout"
    assert 0.25 < time.monotonic() - started < 2.0


# -- logs ----------------------------------------------------------------------------------------


def test_pod_log_options(fleet: Fleet) -> None:
    core, pod = fleet.core("shop"), "checkout-7d9f8b6c5-x2k4p"
    current = core.read_namespaced_pod_log(pod, "shop", container="app")
    assert current == "starting checkout 2.3.1\nconnecting to postgres at db:5432\n"
    previous = core.read_namespaced_pod_log(pod, "shop", container="app", previous=True, tail_lines=1)
    assert previous == '2024-05-01T11:59:30.000000000Z FATAL: password authentication failed for user "checkout"\n'
    # sinceSeconds counts back from the capture time (12:00:00), not from now.
    recent = core.read_namespaced_pod_log(pod, "shop", container="app", previous=True, since_seconds=330)
    assert recent.count("\n") == 2 and recent.startswith("2024-05-01T11:55:00")
    stamped = core.read_namespaced_pod_log(pod, "shop", container="proxy", timestamps=True)
    assert stamped == "2024-05-01T12:00:00.000000000Z [info] envoy ready\n"
    assert core.read_namespaced_pod_log(pod, "shop", container="app", limit_bytes=8) == "starting"


def test_pod_log_errors(fleet: Fleet) -> None:
    core, pod = fleet.core("shop"), "checkout-7d9f8b6c5-x2k4p"
    with pytest.raises(ApiException) as no_previous:
        core.read_namespaced_pod_log(pod, "shop", container="proxy", previous=True)
    assert no_previous.value.status == 400
    assert _status(no_previous.value)["message"] == f'previous terminated container "proxy" in pod "{pod}" not found'
    with pytest.raises(ApiException) as which:
        core.read_namespaced_pod_log(pod, "shop")
    assert which.value.status == 400 and "choose one of: [app proxy]" in _status(which.value)["message"]
    with pytest.raises(SourceError) as gone:
        fleet.source("shop").read_log("shop", "gone", "app")
    assert gone.value.status == 404


def test_live_source_read_log(fleet: Fleet) -> None:
    shop = fleet.source("shop")
    text = shop.read_log("shop", "checkout-7d9f8b6c5-x2k4p", "app", previous=True, since_seconds=60, timestamps=True)
    assert text.endswith('FATAL: password authentication failed for user "checkout"\n') and text.count("\n") == 1
    rke2 = fleet.source("rke2-2025")
    tail = rke2.read_log("kube-system", "hubble-relay-ff8d445c-nxfsn", "hubble-relay", tail_lines=2)
    assert tail.splitlines()[-1].startswith("time=2025-10-31T18:02:43.568542092Z level=info msg=Connected")


def test_in_cluster_source_uses_the_service_account(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from kubernetes.config import incluster_config

    (tmp_path / "token").write_text("sa-token")
    (tmp_path / "ca.crt").write_text("not checked until connecting")
    monkeypatch.setattr(incluster_config, "SERVICE_TOKEN_FILENAME", str(tmp_path / "token"))
    monkeypatch.setattr(incluster_config, "SERVICE_CERT_FILENAME", str(tmp_path / "ca.crt"))
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.43.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    source = LiveSource.in_cluster("here", timeout_s=3.0)
    settings = source.api_client.configuration
    assert (source.name, source.timeout_s, settings.host) == ("here", 3.0, "https://10.43.0.1:443")
    assert settings.api_key["BearerToken"].lower() == "bearer sa-token" and settings.retries is False


# -- secrets, other kinds, files -----------------------------------------------------------------


def test_secrets_never_carry_values(fleet: Fleet) -> None:
    secrets = fleet.core("shop").list_namespaced_secret("shop")
    assert [s.metadata.name for s in secrets.items] == ["db-credentials"]
    assert secrets.items[0].data == {"password": ""}
    assert "kubectl.kubernetes.io/last-applied-configuration" not in (secrets.items[0].metadata.annotations or {})
    for path in ("/api/v1/namespaces/shop/secrets", "/api/v1/namespaces/shop/secrets/db-credentials", "/api/v1/secrets"):
        with urllib.request.urlopen(fleet.simulator.url("shop") + path) as answer:
            body = answer.read().decode()
        assert SECRET_B64 not in body and "hunter2" not in body and "db-credentials" in body


def test_apps_and_batch_kinds(fleet: Fleet) -> None:
    shop = fleet.source("shop")
    assert [d["metadata"]["name"] for d in shop.list("deployments", "shop", label_selector="app=checkout")] == ["checkout"]
    assert shop.get("jobs", "shop", "nightly")["apiVersion"] == "batch/v1"
    assert shop.list("statefulsets") == []
    daemonsets = fleet.apps("rke2-2025").list_daemon_set_for_all_namespaces()
    assert {d.metadata.name for d in daemonsets.items} == {"cilium", "rke2-ingress-nginx-controller"}


def test_fleet_file(fleet: Fleet, tmp_path: Path) -> None:
    path = fleet.simulator.write_fleet(tmp_path / "fleet.yaml", fleet.kubeconfig,
                                       alertmanager_urls={"shop": "http://alertmanager.shop.example:9093"})
    entries = {c["name"]: c for c in yaml.safe_load(path.read_text())["clusters"]}
    assert set(entries) == set(fleet.simulator.clusters)
    assert entries["shop"]["alertmanager_url"] == "http://alertmanager.shop.example:9093"
    assert entries["shop"]["kubeconfig"] == str(fleet.kubeconfig) and entries["shop"]["context"] == "shop"
    assert entries["flaky"]["faults"] == {"error_rate": 1.0}
    assert "faults" not in entries["rke2-2025"]
    contexts, _ = config.list_kube_config_contexts(config_file=str(fleet.kubeconfig))
    assert {c["name"] for c in contexts} == set(entries)


def test_cli_serves_until_stopped(tmp_path: Path) -> None:
    shop = write_shop_dump(tmp_path / "dump")
    args = parse_args(["--cluster", f"shop={shop}", "--kubeconfig", str(tmp_path / "kc.yaml"),
                       "--fleet", str(tmp_path / "fleet.yaml"), "--alertmanager", "shop=http://am:9093"])
    stop, output = threading.Event(), _Lines()
    thread = threading.Thread(target=run, args=(args, stop, output), daemon=True)
    thread.start()
    deadline = time.monotonic() + 5
    while not (tmp_path / "fleet.yaml").exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        pods = LiveSource.from_kubeconfig(tmp_path / "kc.yaml", "shop").list("pods", "shop")
        assert len(pods) == 13
        assert "serving 1 cluster(s)" in output.text
    finally:
        stop.set()
        thread.join(timeout=5)
    assert not thread.is_alive()


class _Lines:
    def __init__(self) -> None:
        self.text = ""

    def write(self, chunk: str) -> None:
        self.text += chunk

    def flush(self) -> None:
        pass
