"""The vllm reasoner's client against a local server that speaks the OpenAI chat completions API.

A local wire-protocol stub (``tests/unit/reasoning_stubs.py``): vLLM needs a GPU and the test
machines have none, and the same client talks to Ray Serve LLM's route, ``vllm serve`` or this.
"""

from __future__ import annotations

import json
import socket

import pytest

from engine.config import ReasonerConfig
from engine.investigate import investigate
from engine.reasoning import make_reasoner
from tests.unit.reasoning_stubs import PLANTED, StubLLM, completion, oom_case, submission


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    return oom_case(tmp_path_factory.mktemp("case"))


def _cfg(url: str, **over) -> ReasonerConfig:
    cfg = ReasonerConfig(backend="vllm", **over)
    cfg.vllm = cfg.vllm.model_copy(update={"base_url": url + "/v1", "max_retries": 0})
    return cfg


def _refine(case, cfg, events=None):
    with case.evidence() as ev:
        base = investigate(case.incident, ev)
        rec = (lambda kind, payload: events.append((kind, payload))) if events is not None else None
        return base, make_reasoner(cfg).refine(case.incident, ev, base, rec)


def test_tool_calls_then_a_schema_constrained_answer(case):
    """The model queries, answers in prose, and is asked again with response_format = the schema."""
    events: list = []
    sql = "SELECT pod, line FROM logs WHERE pod = 'planted-0' ORDER BY seq"
    with StubLLM([completion(calls=[("call_1", "query_evidence", {"sql": sql})]),
                  completion("It looks like the container runs out of memory."),
                  completion(json.dumps(submission()))]) as stub:
        base, report = _refine(case, _cfg(stub.url), events)
    assert report.backend == "vllm" and report.reasoning.fallback_reason is None, report.reasoning
    assert (report.reasoning.rounds, report.reasoning.tokens_in, report.reasoning.cost_usd_estimate) == (3, 2400, 0.0)
    first, second, third = (r["json"] for r in stub.requests)
    assert stub.requests[0]["path"] == "/v1/chat/completions" and first["model"] == "triage-llm"
    assert first["tool_choice"] == "auto" and "response_format" not in first
    assert {t["function"]["name"] for t in first["tools"]} >= {"query_evidence", "submit_report"}
    tool_msg = second["messages"][-1]
    assert tool_msg["role"] == "tool" and tool_msg["tool_call_id"] == "call_1" and "planted-0" in tool_msg["content"]
    fmt = third["response_format"]
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["name"] == "submit_report"
    assert fmt["json_schema"]["strict"] is True and third["tool_choice"] == "none"
    assert "disk_full" in fmt["json_schema"]["schema"]["properties"]["category"]["enum"]
    sent = stub.all_text()
    assert all(secret not in sent for secret in PLANTED.values())
    assert [k for k, _ in events].count("llm_tool_call") == 2


def test_tool_call_straight_to_submit_report(case):
    with StubLLM([completion(calls=[("call_9", "submit_report", submission())])]) as stub:
        _, report = _refine(case, _cfg(stub.url))
    assert len(stub.requests) == 1 and report.backend == "vllm"


def test_unparseable_final_answer_falls_back(case):
    with StubLLM([completion("thinking..."), completion("not json at all")]) as stub:
        base, report = _refine(case, _cfg(stub.url))
    assert report.root_cause == base.root_cause
    assert report.reasoning.fallback_reason == "submit_report's arguments are not a JSON object"


def test_server_error_falls_back(case):
    with StubLLM([(500, {}, {"error": {"message": "engine dead"}})]) as stub:
        _, report = _refine(case, _cfg(stub.url))
    assert "HTTP 500" in report.reasoning.fallback_reason and report.backend == "rules"


def test_connection_refused_falls_back(case):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    base, report = _refine(case, _cfg(f"http://127.0.0.1:{port}"))
    assert report.root_cause == base.root_cause
    assert "cannot reach the OpenAI-compatible API" in report.reasoning.fallback_reason
