"""``fleetsre investigate --reasoner ...`` end to end, in-process: the CLI, the pipeline hook and
the audit trail in incident_events. The Anthropic API is a local wire-protocol stub
(``tests/unit/reasoning_stubs.py``) because the hosted API cannot be reached here."""

from __future__ import annotations

import json

import duckdb
import pytest
from typer.testing import CliRunner

from serve.cli import app
from tests.unit.reasoning_stubs import PLANTED, StubLLM, message, submission, tool_use


@pytest.fixture(scope="module")
def scenario(tmp_path_factory):
    from clusters.scenarios.compose import write_scenario

    root = tmp_path_factory.mktemp("scn")
    write_scenario("oom_killed", root)
    return root


def _investigate(scenario, data_dir, *extra):
    return CliRunner().invoke(app, ["investigate", "--dump", str(scenario / "dump"), "--alerts",
                                    str(scenario / "alerts.jsonl"), "--format", "json", "--data-dir",
                                    str(data_dir), *extra])


def _events(data_dir):
    con = duckdb.connect(str(data_dir / "history.duckdb"), read_only=True)
    try:
        return con.execute("SELECT kind, payload FROM incident_events ORDER BY seq").fetchall()
    finally:
        con.close()


def test_claude_without_a_key_falls_back_with_a_clear_reason(scenario, tmp_path, monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    out = _investigate(scenario, tmp_path / "d", "--reasoner", "claude")
    assert out.exit_code == 0, out.output
    reports = json.loads(out.stdout)
    assert reports and all(r["reasoning"]["fallback_reason"].startswith("ANTHROPIC_API_KEY is not set")
                           for r in reports)
    assert {r["backend"] for r in reports} == {"rules"} and "Traceback" not in out.output
    assert "fell back: ANTHROPIC_API_KEY is not set" in out.stderr


def test_claude_through_the_cli_records_the_audit_trail(scenario, tmp_path, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test-not-a-real-key")

    def answer(body):
        if len(body["messages"]) == 1:  # first turn of an incident: look at the evidence
            return message(tool_use("query_evidence", {"sql": "SELECT DISTINCT last_reason FROM containers"}))
        return message(tool_use("submit_report", submission(), id="toolu_9"))

    with StubLLM([answer] * 20) as stub:
        out = _investigate(scenario, tmp_path / "d", "--reasoner", "claude", "--llm-base-url", stub.url,
                           "--llm-model", "claude-haiku-4-5")
    assert out.exit_code == 0, out.output
    reports = json.loads(out.stdout)
    oom = [r for r in reports if r["root_cause"]["category"] == "oom_killed"]
    assert oom and oom[0]["backend"] == "claude" and oom[0]["reasoning"]["model"] == "claude-haiku-4-5"
    assert "produced by claude" in out.stderr
    assert {r["json"]["model"] for r in stub.requests} == {"claude-haiku-4-5"}
    events = _events(tmp_path / "d")
    kinds = [k for k, _ in events]
    for kind in ("llm_prompt", "llm_tool_call", "llm_tokens", "llm_reasoning", "investigated"):
        assert kind in kinds
    tokens = [json.loads(p) for k, p in events if k == "llm_tokens"]
    assert all(t["cost_usd_estimate"] > 0 and t["tokens_in"] == 1000 for t in tokens)
    investigated = [json.loads(p) for k, p in events if k == "investigated"]
    assert "claude" in {i["backend"] for i in investigated}
    assert all(s not in stub.all_text() for s in PLANTED.values())


def test_unknown_reasoner_is_a_usage_error(scenario, tmp_path):
    out = _investigate(scenario, tmp_path / "d", "--reasoner", "gpt")
    assert out.exit_code == 2 and "--reasoner must be rules, claude or vllm" in out.output
