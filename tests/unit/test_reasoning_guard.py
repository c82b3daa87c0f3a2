"""The never-worse rule on a real incident: an LLM answer replaces the rules root cause only when it
cites evidence that exists and does not contradict a confident rules finding."""

from __future__ import annotations

import pytest

from engine.investigate import investigate
from engine.reasoning.guard import evidence_corpus, judge
from engine.reasoning.sandbox import EvidenceSandbox
from engine.reasoning.submission import Submission
from engine.report import render_markdown
from tests.unit.reasoning_stubs import oom_case, submission


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    case = oom_case(tmp_path_factory.mktemp("case"))
    with case.evidence() as ev:
        base = investigate(case.incident, ev)
        box = EvidenceSandbox(ev)
        corpus = evidence_corpus(box, base)
        box.close()
    return base, corpus


def _judge(base, corpus, **sub):
    return judge(base, Submission.model_validate(submission(**sub)), corpus, keep_confidence=0.8, backend="claude")


def test_agreeing_grounded_answer_is_taken(setup):
    base, corpus = setup
    v = _judge(base, corpus, summary="payments-api is OOMKilled at its 256Mi limit under load.")
    assert v.accepted and v.report.backend == "claude" and v.report.root_cause.summary.startswith("payments-api")
    assert v.report.root_cause.trigger == base.root_cause.trigger  # "unknown" from the model keeps the rules'
    assert v.report.recommendations[: len(base.recommendations)] == base.recommendations


def test_confident_rules_finding_stands_against_a_disagreeing_answer(setup):
    base, corpus = setup
    assert base.root_cause.confidence >= 0.8
    v = _judge(base, corpus, category="app_crash")
    assert not v.accepted and v.report.root_cause == base.root_cause and v.rejected is None
    assert v.alternative.category == "app_crash" and "disagreed" in v.note


def test_a_less_confident_rules_finding_yields_to_a_grounded_answer(setup):
    base, corpus = setup
    weak = base.model_copy(update={"root_cause": base.root_cause.model_copy(update={"confidence": 0.5})})
    v = _judge(weak, corpus, category="app_crash", trigger_kind="rollout", trigger_detail="revision 7")
    assert v.accepted and v.report.root_cause.category == "app_crash"
    assert v.report.root_cause.trigger.kind == "rollout" and v.report.root_cause.subject == base.root_cause.subject
    assert [r.action for r in v.report.recommendations] == ["Raise the memory limit"]


def test_unknown_never_replaces_a_found_cause(setup):
    base, corpus = setup
    weak = base.model_copy(update={"root_cause": base.root_cause.model_copy(update={"confidence": 0.5})})
    v = _judge(weak, corpus, category="unknown")
    assert not v.accepted and v.report.root_cause == weak.root_cause and "unknown" in v.note


@pytest.mark.parametrize("quote", ["the disk at /var is 100% full", "OOMKilled ... totally invented text"])
def test_an_answer_citing_nothing_real_is_rejected(setup, quote):
    base, corpus = setup
    v = _judge(base, corpus, quote=quote)
    assert not v.accepted and v.rejected == "the answer cites no evidence found in this incident"


def test_quotes_match_across_case_whitespace_and_ellipses(setup):
    base, corpus = setup
    assert _judge(base, corpus, quote="  oomkilled  ").accepted
    assert _judge(base, corpus, quote="payments-api ... OOMKilled").accepted


def test_the_markdown_says_who_produced_it(setup):
    base, corpus = setup
    from engine.report import Reasoning

    v = _judge(base, corpus, category="app_crash")
    r = v.report.model_copy(update={"reasoning": Reasoning(backend="claude", produced_by="rules", model="m",
                                                           note=v.note, alternative=v.alternative, rounds=2)})
    md = render_markdown(r)
    assert "## Reasoning" in md and "Alternative hypothesis: **app_crash**" in md and "2 round(s)" in md
    fell = r.model_copy(update={"reasoning": r.reasoning.model_copy(update={"fallback_reason": "timed out"})})
    assert "Fell back to the deterministic report: timed out." in render_markdown(fell)
