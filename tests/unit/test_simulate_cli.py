"""``fleetsre clusters simulate``: what to serve, faults from the command line and files, what it prints."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from clusters.live import LiveSource
from clusters.simulator.cli import build_plan, parse_args, parse_fault, run
from engine.sources import SourceError
from serve.cli import app


@pytest.mark.parametrize(("text", "expected"), [
    ("prod:latency_ms=200", ("prod", {"latency_ms": 200.0})),
    ("prod:latency_ms=50/800", ("prod", {"latency_ms": {"p50": 50.0, "p99": 800.0}})),
    ("prod:error_rate=0.2", ("prod", {"error_rate": 0.2})),
    ("prod:throttle_rate=0.1", ("prod", {"throttle_rate": 0.1})),
    ("prod:unreachable", ("prod", {"unreachable": True})),
    ("prod:timeout", ("prod", {"unreachable": "hang"})),
    ("prod:forbidden=pods,events", ("prod", {"forbidden": ["pods", "events"]})),
])
def test_fault_specs(text: str, expected: tuple[str, dict]) -> None:
    assert parse_fault(text) == expected


@pytest.mark.parametrize("text", ["prod", "prod:", "prod:latency_ms", "prod:colour=red", "prod:error_rate=lots"])
def test_bad_fault_specs_name_the_problem(text: str) -> None:
    with pytest.raises(SystemExit, match="--fault"):
        parse_fault(text)


def test_plan_generates_scenarios_and_merges_faults_from_file_and_flags(tmp_path: Path) -> None:
    faults = tmp_path / "fleet.yaml"
    faults.write_text(yaml.safe_dump({"clusters": [{"name": "prod-x", "dump": "x", "faults": {"latency_ms": 5}}]}))
    args = parse_args(["--scenario", "oom_killed", "--scenario", "missing_secret=prod-x", "--out", str(tmp_path),
                       "--faults", str(faults), "--fault", "prod-x:forbidden=events", "--fault", "oom-killed:timeout"])
    plan = build_plan(args)
    assert set(plan.clusters) == {"oom-killed", "prod-x"}
    assert plan.clusters["prod-x"] == tmp_path / "scenarios" / "prod-x" / "dump"
    assert (plan.clusters["prod-x"] / "fleetsre-dump.json").is_file()
    assert plan.faults == {"prod-x": {"latency_ms": 5, "forbidden": ["events"]}, "oom-killed": {"unreachable": "hang"}}
    assert plan.alerts["oom-killed"].name == "alerts.jsonl"
    assert plan.alertmanager == {}  # both use the same in-cluster Alertmanager URL: it tells nothing apart


def test_plan_refuses_faults_for_clusters_it_does_not_serve(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="not served: ghost"):
        build_plan(parse_args(["--scenario", "oom_killed", "--out", str(tmp_path), "--fault", "ghost:unreachable"]))
    with pytest.raises(SystemExit, match="nothing to serve"):
        build_plan(parse_args(["--out", str(tmp_path)]))
    with pytest.raises(SystemExit, match="unknown"):
        build_plan(parse_args(["--scenario", "no_such_thing", "--out", str(tmp_path)]))


def test_plan_serves_the_demo_fleet_with_distinct_alertmanagers(tmp_path: Path) -> None:
    plan = build_plan(parse_args(["--fleet-demo", "--out", str(tmp_path)]))
    assert set(plan.clusters) == {"prod-eu-1", "prod-us-1", "staging-1"}
    assert len(set(plan.alertmanager.values())) == 3


def test_plan_serves_a_generated_fleet_at_scale(tmp_path: Path) -> None:
    plan = build_plan(parse_args(["--fleet-scale", "2", "--out", str(tmp_path), "--fault", "prod-eu-001:timeout"]))
    assert len(plan.clusters) == 2 and all((d / "nodes.json").is_file() for d in plan.clusters.values())
    assert len(set(plan.alertmanager.values())) == 2
    assert plan.merged_alerts is not None and plan.merged_alerts.is_file()
    assert plan.faults == {"prod-eu-001": {"unreachable": "hang"}}


def test_run_serves_writes_and_prints_the_files_and_the_serve_command(tmp_path: Path) -> None:
    args = parse_args(["--scenario", "probe_failure=lab", "--fault", "lab:forbidden=pods", "--out", str(tmp_path)])
    stop, printed = threading.Event(), _Lines()
    thread = threading.Thread(target=run, args=(args, stop, printed), daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while "Ctrl-C" not in printed.text and time.monotonic() < deadline and thread.is_alive():
            time.sleep(0.02)
        kubeconfig, fleet = tmp_path / "kubeconfig", tmp_path / "fleet.yaml"
        assert f"kubeconfig: {kubeconfig}" in printed.text and f"fleet: {fleet}" in printed.text
        assert f"fleetsre serve --fleet {fleet}" in printed.text
        assert "fault lab: forbidden=pods" in printed.text
        assert yaml.safe_load(fleet.read_text())["clusters"][0]["faults"] == {"forbidden": ["pods"]}
        source = LiveSource.from_kubeconfig(kubeconfig, "lab", timeout_s=5)
        assert source.list("nodes")
        with pytest.raises(SourceError) as denied:
            source.list("pods", "default")
        assert denied.value.status == 403
    finally:
        stop.set()
        thread.join(timeout=10)
    assert not thread.is_alive()


def test_fleetsre_clusters_simulate_passes_its_arguments_through() -> None:
    result = CliRunner().invoke(app, ["clusters", "simulate", "--help"])
    assert result.exit_code == 0
    assert "--fault CLUSTER:SPEC" in result.output and "--fleet-demo" in result.output
    bad = CliRunner().invoke(app, ["clusters", "simulate", "lab=/no/such/dir"])
    assert bad.exit_code != 0 and "not a directory" in bad.output


class _Lines:
    def __init__(self) -> None:
        self.text = ""

    def write(self, chunk: str) -> None:
        self.text += chunk

    def flush(self) -> None:
        pass
