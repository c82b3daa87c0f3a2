"""``fleetsre clusters dump``: capture a cluster through the official client, reload it, same answers.

One simulator (stdlib HTTP on a free loopback port, no Ray) serves generated scenarios; the same
dump is also served under other names with faults (events forbidden, connections refused).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from clusters.capture import CaptureError, CaptureOptions, capture
from clusters.dump import DumpSource, load_dump
from clusters.live import LiveSource
from clusters.logs import ContainerLog
from clusters.scenarios import write_scenario
from clusters.simulator import Simulator
from clusters.state import ClusterState
from serve.cli import app

runner = CliRunner()
SCENARIOS = {"config-error": "config_error", "oom": "oom_killed"}
KINDS = ("pods", "events", "nodes", "deployments", "replicasets", "daemonsets", "services", "namespaces")


class Fleet:
    def __init__(self, root: Path, sim: Simulator) -> None:
        self.root, self.sim = root, sim
        self.kubeconfig = sim.write_kubeconfig(root / "kubeconfig")

    def scenario(self, cluster: str) -> Path:
        return self.root / SCENARIOS.get(cluster, "oom_killed")

    def source(self, cluster: str) -> LiveSource:
        return LiveSource.from_kubeconfig(self.kubeconfig, cluster, timeout_s=5)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    root = tmp_path_factory.mktemp("capture")
    for name in set(SCENARIOS.values()):
        write_scenario(name, root / name, cluster=name.replace("_", "-"), seed=4)
    clusters = {c: root / s / "dump" for c, s in SCENARIOS.items()}
    clusters |= {"oom-noevents": root / "oom_killed" / "dump", "oom-down": root / "oom_killed" / "dump"}
    faults = {"oom-noevents": {"forbidden": ["events"]}, "oom-down": {"unreachable": True}}
    with Simulator(clusters, faults=faults) as sim:
        yield Fleet(root, sim)


def _report_causes(dump: Path, alerts: Path) -> list[tuple[Any, ...]]:
    result = runner.invoke(app, ["investigate", "--dump", str(dump), "--alerts", str(alerts), "--format", "json"])
    assert result.exit_code == 0, result.output
    causes = [(r["root_cause"]["category"], r["root_cause"]["trigger"]["kind"], r["root_cause"]["subject"]["kind"],
               r["root_cause"]["subject"]["namespace"], r["root_cause"]["subject"]["name"])
              for r in json.loads(result.stdout)]
    return sorted(causes)


@pytest.mark.parametrize("cluster", ["config-error", "oom"])
def test_capture_round_trips_objects_logs_and_the_root_cause(fleet: Fleet, tmp_path: Path, cluster: str) -> None:
    scenario = fleet.scenario(cluster)
    result = capture(fleet.source(cluster), tmp_path / "captured")
    assert result.complete or all(e["resource"] == "logs" for e in result.errors), result.errors

    original, captured = load_dump(scenario / "dump"), load_dump(tmp_path / "captured")
    for kind in KINDS:
        assert captured.list(kind) == original.list(kind), kind
    assert captured.logs == original.logs
    assert captured.previous_logs == original.previous_logs
    assert any(log.text for logs in captured.previous_logs.values() for log in logs.values())
    # the in-process investigation reads the capture exactly as it reads the original
    expected = _report_causes(scenario / "dump", scenario / "alerts.jsonl")
    assert _report_causes(tmp_path / "captured", scenario / "alerts.jsonl") == expected
    truth = json.loads((scenario / "expected.json").read_text())["incidents"]
    assert sorted(c[0] for c in expected) == sorted(i["category"] for i in truth)


def test_capture_writes_kubectls_layout_and_side_files(fleet: Fleet, tmp_path: Path) -> None:
    result = capture(fleet.source("config-error"), tmp_path / "d")
    root = tmp_path / "d"
    pods = json.loads((root / "search" / "pods.json").read_text())
    assert (pods["kind"], pods["apiVersion"]) == ("PodList", "v1")
    assert pods["metadata"]["resourceVersion"].isdigit()
    assert pods["items"] and all("kind" not in p and "apiVersion" not in p for p in pods["items"])
    assert (root / "search" / "pods.json").read_text().startswith('{\n    "kind": "PodList",')  # kubectl's indent
    assert json.loads((root / "default" / "replication-controllers.json").read_text())["items"] is None
    for stem in ("events", "deployments", "replicasets", "daemonsets", "services", "statefulsets", "jobs",
                 "configmaps"):
        assert (root / "search" / f"{stem}.json").is_file(), stem
    pod = pods["items"][0]
    containers = [c["name"] for c in pod["spec"].get("initContainers", []) + pod["spec"]["containers"]]
    logs = (root / "search" / pod["metadata"]["name"] / "logs.txt").read_text()
    assert [line.split()[5] for line in logs.splitlines() if line.startswith("==== START")] == containers
    side = json.loads((root / "fleetsre-dump.json").read_text())
    assert side["cluster"] == "config-error" and side["captured_at"].endswith("Z")
    assert side["namespaces"] == result.namespaces and "search" in side["namespaces"]
    assert side["errors"] == result.errors


def test_secrets_are_never_captured_and_configmaps_keep_keys_only(fleet: Fleet, tmp_path: Path) -> None:
    capture(fleet.source("oom"), tmp_path / "d")
    assert list((fleet.scenario("oom") / "dump").rglob("secrets.json"))  # the served dump has them
    assert not list((tmp_path / "d").rglob("secrets.json"))
    configmaps = [cm for f in (tmp_path / "d").rglob("configmaps.json")
                  for cm in json.loads(f.read_text())["items"] or []]
    assert any(cm.get("data") for cm in configmaps)
    assert all(set(cm.get("data", {}).values()) <= {""} for cm in configmaps)


def test_a_forbidden_resource_is_recorded_and_the_capture_goes_on(fleet: Fleet, tmp_path: Path) -> None:
    result = capture(fleet.source("oom-noevents"), tmp_path / "d")
    denied = [e for e in result.errors if e["resource"] == "events"]
    assert {e["namespace"] for e in denied} == set(result.namespaces)
    assert {(e["status"], e["reason"]) for e in denied} == {(403, "Forbidden")}
    assert "cannot list resource \"events\"" in denied[0]["message"]
    assert not list((tmp_path / "d").rglob("events.json"))  # absent, not empty: nothing is claimed
    assert load_dump(tmp_path / "d").list("pods") == load_dump(fleet.scenario("oom") / "dump").list("pods")
    side = json.loads((tmp_path / "d" / "fleetsre-dump.json").read_text())
    assert side["errors"] == result.errors


def test_an_unreachable_cluster_fails_fast_and_leaves_no_dump(fleet: Fleet, tmp_path: Path) -> None:
    with pytest.raises(CaptureError, match="did not answer"):
        capture(fleet.source("oom-down"), tmp_path / "d")
    assert not (tmp_path / "d").exists()


def test_options_namespaces_tail_lines_and_no_previous_logs(fleet: Fleet, tmp_path: Path) -> None:
    options = CaptureOptions(namespaces=("search",), tail_lines=3, previous_logs=False, configmaps=False)
    result = capture(fleet.source("config-error"), tmp_path / "d", options)
    assert result.namespaces == ["search"]
    assert sorted(p.name for p in (tmp_path / "d").iterdir() if p.is_dir()) == ["search"]
    assert not list((tmp_path / "d").rglob("logs.previous.txt"))
    assert not list((tmp_path / "d").rglob("configmaps.json"))
    for log in load_dump(tmp_path / "d").logs.values():
        assert all(entry.text is None or entry.text.count("\n") <= 3 for entry in log.values())


def test_logs_and_secret_named_env_values_are_redacted(tmp_path: Path) -> None:
    env = [{"name": "DB_PASSWORD", "value": "hunter2"}, {"name": "DB_HOST", "value": "postgres"},
           {"name": "AUTH_PASS_CREDENTIALS", "value": "false"}]
    applied = json.dumps({"kind": "Pod", "spec": {"containers": [{"name": "app", "env": env}]}})
    pod = {"kind": "Pod", "apiVersion": "v1",
           "metadata": {"name": "api-0", "namespace": "shop", "resourceVersion": "7",
                        "annotations": {"kubectl.kubernetes.io/last-applied-configuration": applied}},
           "spec": {"containers": [{"name": "app", "image": "api:1", "env": env}]},
           "status": {"phase": "Running", "startTime": "2026-01-01T00:00:00Z"}}
    line = "connecting to postgres://app:hunter2@db:5432 with Authorization: Bearer abcdefghijklmnop\n"
    state = ClusterState("lab", {"pods": [pod], "namespaces": [{"metadata": {"name": "shop"}}]},
                         logs={("shop", "api-0"): {"app": ContainerLog(line)}})
    capture(DumpSource.from_state(state), tmp_path / "d")
    written = (tmp_path / "d" / "shop" / "pods.json").read_text() + (tmp_path / "d" / "shop" / "api-0" / "logs.txt").read_text()
    assert "hunter2" not in written and "abcdefghijklmnop" not in written
    assert "postgres://app:[REDACTED]@db:5432" in written and '"value": "postgres"' in written
    assert '"value": "false"' in written  # a switch named like a secret is configuration, kept
    captured = load_dump(tmp_path / "d")
    assert captured.captured_at == state.captured_at  # a dump keeps its own clock when re-captured


def test_cli_dump_captures_a_context_and_reports_partial_collection(fleet: Fleet, tmp_path: Path) -> None:
    args = ["clusters", "dump", "--kubeconfig", str(fleet.kubeconfig), "--request-timeout", "5"]
    ok = runner.invoke(app, [*args, "--context", "oom-noevents", "--out", str(tmp_path / "a")])
    assert ok.exit_code == 0, ok.output
    assert "not captured: events in" in ok.output and "403 Forbidden" in ok.output
    assert load_dump(tmp_path / "a").name == "oom-noevents"
    again = runner.invoke(app, [*args, "--context", "oom", "--out", str(tmp_path / "a")])
    assert again.exit_code == 2 and "not an empty directory" in again.output
    down = runner.invoke(app, [*args, "--context", "oom-down", "--out", str(tmp_path / "b")])
    assert down.exit_code == 1 and "did not answer" in down.output
    unknown = runner.invoke(app, [*args, "--context", "nope", "--out", str(tmp_path / "c")])
    assert unknown.exit_code == 2 and "nope" in unknown.output
    both = runner.invoke(app, [*args, "--context", "oom", "--out", str(tmp_path / "d"), "-A", "--namespaces", "x"])
    assert both.exit_code == 2
