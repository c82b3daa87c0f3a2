"""`fleetsre investigate --dump` end to end in-process (no Ray), on generated scenarios and bad input."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from clusters.scenarios import write_scenario
from serve.cli import app

runner = CliRunner()


@pytest.mark.parametrize("name", ["bad_rollout_image", "missing_secret", "probe_failure", "insufficient_resources"])
def test_investigate_json_names_the_expected_category(tmp_path, name):
    write_scenario(name, tmp_path / name, seed=3)
    expected = json.loads((tmp_path / name / "expected.json").read_text())["incidents"]
    result = runner.invoke(app, ["investigate", "--dump", str(tmp_path / name / "dump"),
                                 "--alerts", str(tmp_path / name / "alerts.jsonl"), "--format", "json"])
    assert result.exit_code == 0, result.output
    reports = json.loads(result.stdout)
    assert len(reports) == len(expected)
    for exp in expected:
        report = next(r for r in reports if set(exp["alerts"]) <= set(r["alerts"]))
        assert report["root_cause"]["category"] == exp["category"]
        assert report["root_cause"]["trigger"]["kind"] == exp["trigger"]
        assert {"incident_id", "cluster", "alerts", "root_cause", "timeline", "evidence",
                "recommendations"} <= set(report)


def test_investigate_markdown_and_a_list_of_payloads(tmp_path):
    write_scenario("oom_killed", tmp_path / "s")
    lines = (tmp_path / "s" / "alerts.jsonl").read_text().splitlines()
    as_list = tmp_path / "alerts.json"
    as_list.write_text("[" + ",".join(lines) + "]")
    result = runner.invoke(app, ["investigate", "--dump", str(tmp_path / "s" / "dump"), "--alerts", str(as_list),
                                 "--format", "markdown"])
    assert result.exit_code == 0, result.output
    assert "**oom_killed**" in result.stdout and "## What to do" in result.stdout and "kubectl" in result.stdout


def test_investigate_rejects_bad_input_clearly(tmp_path):
    write_scenario("oom_killed", tmp_path / "s")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"version": "4", "alerts": []}\nnot json\n')
    result = runner.invoke(app, ["investigate", "--dump", str(tmp_path / "s" / "dump"), "--alerts", str(bad)])
    assert result.exit_code == 2 and "bad.jsonl:2" in result.output
    result = runner.invoke(app, ["investigate", "--dump", str(tmp_path / "nope"), "--alerts", str(bad)])
    assert result.exit_code == 2 and "not a directory" in result.output
