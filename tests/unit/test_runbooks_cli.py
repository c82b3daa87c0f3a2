"""``fleetsre runbooks check|list|test`` (the dry run) and ``investigate --mode``."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from typer.testing import CliRunner

from clusters.scenarios import write_scenario
from engine.runbooks import DEFAULT_DIR
from serve.cli import app

runner = CliRunner()


def test_check_validates_the_shipped_runbooks() -> None:
    result = runner.invoke(app, ["runbooks", "check"])
    assert result.exit_code == 0, result.output
    assert "13 runbooks OK" in result.stdout and "node-cordoned" in result.stdout


def test_check_names_the_broken_file_field_and_reason(tmp_path: Path) -> None:
    shutil.copytree(DEFAULT_DIR, tmp_path / "rb")
    broken = tmp_path / "rb" / "oom-killed.md"
    broken.write_text(broken.read_text().replace("tool: oom_check", "tool: oom_chek"))
    result = runner.invoke(app, ["runbooks", "check", "--dir", str(tmp_path / "rb")])
    assert result.exit_code == 1
    assert f"{broken}: workflow[0].tool: unknown tool 'oom_chek'" in " ".join(result.output.split())


def test_dry_run_shows_the_match_and_the_steps_that_would_run() -> None:
    result = runner.invoke(app, ["runbooks", "test", "--category", "image_pull_error", "--trigger", "rollout",
                                 "--alertname", "KubePodNotReady", "--mode", "auto",
                                 "--assume", "steps.history.has_previous_healthy=true"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "selected: bad-rollout" in out
    steps = {m.group(2): m.groups() for m in re.finditer(r"^\s+(\d+)\. (\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(.*)$",
                                                            out, re.M)}
    assert list(steps) == ["history", "events", "logs", "pull", "rollback", "patch-image", "fix-release"]
    assert steps["rollback"][2:] == ("rollback", "mutates", "auto", "runs")
    assert steps["patch-image"][5].startswith("skipped: 'not steps.history.has_previous_healthy' is false")
    assert steps["logs"][5].startswith("skipped: 'root_cause.category != image_pull_error' is false")
    assert steps["pull"][5] == "runs"
    assert out.index("bad-rollout") < out.index("image-pull-error") < out.index("catch-all")


def test_dry_run_in_recommend_mode_and_for_a_recommend_only_runbook() -> None:
    result = runner.invoke(app, ["runbooks", "test", "--category", "oom_killed"])
    assert result.exit_code == 0 and "selected: oom-killed" in result.stdout
    assert "mode recommend (the global remediation_mode)" in result.stdout
    result = runner.invoke(app, ["runbooks", "test", "--category", "missing_secret_or_configmap", "--mode", "auto"])
    assert "runbook missing-secret-or-configmap allows recommend only" in result.stdout
    assert "a person acts (never automatic)" in result.stdout


def test_dry_run_rejects_unknown_values() -> None:
    result = runner.invoke(app, ["runbooks", "test", "--category", "oom"])
    assert result.exit_code == 2 and "--category 'oom' is not one of" in result.output
    result = runner.invoke(app, ["runbooks", "test", "--category", "oom_killed", "--assume", "nonsense"])
    assert result.exit_code == 2 and "expected REF=VALUE" in result.output


def test_list_shows_what_each_runbook_may_do() -> None:
    result = runner.invoke(app, ["runbooks", "list"])
    assert result.exit_code == 0 and "raise-memory" in result.stdout and "uncordon" in result.stdout


def test_investigate_reports_the_runbook_steps_and_refuses_auto_on_a_dump(tmp_path: Path) -> None:
    write_scenario("oom_killed", tmp_path / "s", seed=2)
    args = ["investigate", "--dump", str(tmp_path / "s" / "dump"), "--alerts", str(tmp_path / "s" / "alerts.jsonl")]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    (report,) = json.loads(result.stdout)
    assert report["runbook"] == "oom-killed"
    step = next(a for a in report["actions"] if a["step"] == "raise-memory")
    assert step["status"] == "recommended" and step["command"].startswith("kubectl --context sim-1 -n ")
    result = runner.invoke(app, [*args, "--mode", "auto"])
    assert result.exit_code == 2 and "a dump cannot be changed" in result.output
    result = runner.invoke(app, [*args, "--format", "markdown"])
    assert "## Runbook `oom-killed`" in result.stdout and "**recommended** [recommend] raise_memory_limit" in result.stdout
