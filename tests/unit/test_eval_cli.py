"""``fleetsre eval``: real scenario runs scored against the library's ground truth.

The rules backend on three scenarios (numbers from the real run); the vllm backend against a local
OpenAI-compatible stub whose model asks the memory's runbook_sections tool and then submits (tokens,
tool calls and the memory's answer reaching the model are checked); a backend that answers wrong is
scored as a miss.
"""

from __future__ import annotations

import json

from typer.testing import CliRunner

from engine.config import EngineConfig
from engine.report import Reasoning
from serve.cli import app
from serve.eval_cli import EvalCase, run_eval, summarise
from tests.unit.reasoning_stubs import StubLLM, completion, submission

THREE = ["oom_killed", "dependency_dns", "bad_rollout_image"]


def _invoke(*args: str):
    return CliRunner().invoke(app, ["eval", *args])


def test_rules_backend_scores_three_scenarios(tmp_path):
    out = _invoke(*[a for n in THREE for a in ("--scenario", n)], "--seeds", "1", "--json", str(tmp_path / "r.json"))
    assert out.exit_code == 0, out.output
    result = json.loads((tmp_path / "r.json").read_text())
    s = result["summary"]
    assert result["backend"] == "rules" and result["scenarios"] == THREE
    assert s["overall"] == {"incidents": 3, "category_accuracy": 1.0, "trigger_accuracy": 1.0, "both_accuracy": 1.0}
    assert set(s["per_category"]) == {"oom_killed", "dependency_unavailable", "image_pull_error"}
    assert {k: v["incidents"] for k, v in s["per_trigger"].items()} == {"rollout": 1, "unknown": 2}
    assert s["produced_by"] == {"rules": 3} and s["fallbacks"] == 0 and s["tool_calls"] == 0
    assert s["tokens_in"] == s["tokens_out"] == 0 and s["errors"] == 0
    assert 0 < s["latency_s"]["p50"] <= s["latency_s"]["p95"]
    assert "Accuracy per expected category" in out.stdout and "100.0%" in out.stdout
    assert "Misses" not in out.stdout


def test_vllm_backend_uses_memory_tools_and_counts_tokens(tmp_path):
    script = [completion(calls=[("c1", "runbook_sections", {"text": "container OOMKilled, memory limit"})],
                         tokens=(900, 40)),
              completion(calls=[("c2", "submit_report", submission())], tokens=(1200, 150))]
    with StubLLM(script) as stub:
        out = _invoke("--scenario", "oom_killed", "--reasoner", "vllm", "--llm-base-url", stub.url + "/v1",
                      "--embedding", "sparse", "--json", str(tmp_path / "r.json"))
        assert out.exit_code == 0, out.output
        s = json.loads((tmp_path / "r.json").read_text())["summary"]
        assert s["overall"]["category_accuracy"] == 1.0
        assert s["tokens_in"] == 2100 and s["tokens_out"] == 190 and s["tool_calls"] >= 1
        assert s["fallbacks"] == 0, s["fallback_reasons"]
        # the memory's answer to runbook_sections went back to the model
        assert len(stub.requests) == 2 and "oom-killed" in stub.requests[1]["text"]


def test_unreachable_llm_is_reported_as_fallbacks(tmp_path):
    out = _invoke("--scenario", "oom_killed", "--reasoner", "vllm", "--llm-base-url", "http://127.0.0.1:9/v1",
                  "--no-memory", "--json", str(tmp_path / "r.json"))
    assert out.exit_code == 0, out.output
    s = json.loads((tmp_path / "r.json").read_text())["summary"]
    assert s["overall"]["category_accuracy"] == 1.0  # the deterministic report stands
    assert s["fallbacks"] == 1 and s["produced_by"] == {"rules": 1}
    assert "Fallback reasons" in out.stdout


def test_a_wrong_backend_is_scored_as_a_miss(tmp_path, monkeypatch):
    class Contrarian:
        name = "contrarian"

        def refine(self, incident, evidence, base_report, record=None):
            rc = base_report.root_cause.model_copy(update={"category": "app_crash"})
            return base_report.model_copy(update={"root_cause": rc, "backend": "contrarian", "reasoning": Reasoning(
                backend="contrarian", produced_by="contrarian", tool_calls=2, tokens_in=10, tokens_out=5)})

    monkeypatch.setattr("engine.reasoning.make_reasoner", lambda *a, **k: Contrarian())
    result = run_eval(["oom_killed", "dependency_dns"], [1], EngineConfig(data_dir=tmp_path), work=tmp_path)
    s = result.summary
    assert s["overall"]["category_accuracy"] == 0.0 and s["overall"]["trigger_accuracy"] == 1.0
    assert [c.got_categories for c in result.cases] == [["app_crash"], ["app_crash"]]
    assert s["tool_calls"] == 4 and s["tokens_in"] == 20 and s["produced_by"] == {"contrarian": 2}


def test_summary_percentiles_and_groups():
    cases = [EvalCase(scenario=f"s{i}", seed=1, expected_category="oom_killed" if i < 3 else "disk_full",
                      expected_trigger="unknown", category_ok=i != 0, trigger_ok=True, latency_s=float(i + 1),
                      fallback_reasons=["timed out"] if i == 4 else [])
             for i in range(5)]
    s = summarise(cases)
    assert s["overall"]["category_accuracy"] == 0.8
    assert s["per_category"]["oom_killed"]["category_accuracy"] == round(2 / 3, 4)
    assert s["latency_s"]["p50"] == 3.0 and s["latency_s"]["p95"] == 5.0
    assert s["fallback_reasons"] == {"timed out": 1}


def test_unknown_scenario_and_bad_seeds_are_usage_errors():
    assert _invoke("--scenario", "no_such_thing").exit_code == 2
    assert _invoke("--scenario", "oom_killed", "--seeds", "one").exit_code == 2
    assert _invoke("--reasoner", "gpt").exit_code == 2
