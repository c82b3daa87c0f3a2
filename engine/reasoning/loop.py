"""The bounded tool-use loop, generic over a chat backend, and the LLM reasoner built on it.

A :class:`ChatAdapter` speaks one provider's API (``claude.py``, ``openai_compat.py``) and keeps
that provider's message list; the loop sees only :class:`Turn` s. Bounds per incident: model calls
(``max_rounds``; the last one is asked for the answer outright), input+output tokens
(``max_tokens``) and wall-clock seconds (``timeout_s``; each call gets at most what is left).

Every way out that is not a valid, grounded answer — a validation failure, a timeout, an API or
connection error, an exhausted budget, a missing API key — returns the deterministic report with
``reasoning.fallback_reason`` saying why. Nothing here raises into the investigation.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from pydantic import ValidationError

from engine.config import ReasonerConfig
from engine.evidence_query import IncidentEvidence
from engine.incident import Incident
from engine.reasoning.base import HistoryReader, Memory, Record, no_record
from engine.reasoning.guard import evidence_corpus, judge
from engine.reasoning.prompt import build_user_prompt, redact_values, system_prompt
from engine.reasoning.sandbox import EvidenceSandbox
from engine.reasoning.submission import Submission
from engine.reasoning.tools import SUBMIT, ToolBox, ToolSpec
from engine.redact import redact
from engine.report import Reasoning, Report
from engine.runbooks import RunbookSet

__all__ = ["ChatAdapter", "LLMError", "LLMReasoner", "Stats", "ToolCall", "Turn", "estimate_cost", "run_loop"]

_MAX_CALLS_PER_TURN = 8


class LLMError(Exception):
    """The model could not be asked (API, connection, rate limit, timeout); ``str()`` is the reason."""


@dataclass
class ToolCall:
    id: str
    name: str
    arguments: dict[str, Any] | None  # None: the model's arguments were not a JSON object
    raw: str = ""


@dataclass
class Turn:
    text: str
    calls: list[ToolCall]
    tokens_in: int = 0
    tokens_out: int = 0


class ChatAdapter(Protocol):
    model: str

    def start(self, system: str, user: str) -> None: ...

    def ask(self, tools: list[ToolSpec], *, max_tokens: int, timeout_s: float, final: bool) -> Turn:
        """One model call; ``final``: the answer now (submit_report), no more tools. Raises LLMError."""
        ...

    def add_results(self, turn: Turn, results: list[tuple[ToolCall, str]]) -> None:
        """Append the model's turn and the tool results (none: a nudge to submit) to the conversation."""
        ...


@dataclass
class Stats:
    rounds: int = 0
    tool_calls: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0
    started: float = field(default_factory=time.monotonic)


@dataclass
class Outcome:
    submission: Submission | None
    fallback_reason: str | None


def estimate_cost(prices: dict[str, tuple[float, float]], model: str, tokens_in: int, tokens_out: int) -> float:
    """USD, from the configured per-Mtok table (exact id, else the longest matching prefix; else 0)."""
    keys = [k for k in prices if model == k or model.startswith(k)]
    if not keys:
        return 0.0
    p_in, p_out = prices[max(keys, key=len)]
    return round((tokens_in * p_in + tokens_out * p_out) / 1e6, 6)


def run_loop(adapter: ChatAdapter, tools: ToolBox, system: str, user: str, cfg: ReasonerConfig,
             stats: Stats, record: Record) -> Outcome:
    deadline = stats.started + cfg.timeout_s
    adapter.start(system, user)
    nudged = False
    while True:
        stop = _exhausted(cfg, stats, deadline)
        if stop:
            return Outcome(None, stop)
        final = nudged or stats.rounds == cfg.max_rounds - 1
        turn = adapter.ask(tools.specs, max_tokens=min(cfg.max_output_tokens, cfg.max_tokens - _used(stats)),
                           timeout_s=min(cfg.call_timeout_s, max(deadline - time.monotonic(), 0.1)), final=final)
        _count(adapter.model, cfg, stats, turn, record)
        submits = [c for c in turn.calls if c.name == SUBMIT]
        if submits:
            return _validate(submits[0], record, stats)
        if not turn.calls:
            if final:
                return Outcome(None, "the model gave no report when asked for one")
            nudged = True
            adapter.add_results(turn, [])
            continue
        adapter.add_results(turn, [(c, _run_tool(tools, c, i, stats, record)) for i, c in enumerate(turn.calls)])


def _used(stats: Stats) -> int:
    return stats.tokens_in + stats.tokens_out


def _exhausted(cfg: ReasonerConfig, stats: Stats, deadline: float) -> str | None:
    if stats.rounds >= cfg.max_rounds:
        return f"rounds exhausted (max_rounds={cfg.max_rounds}) without a submitted report"
    if _used(stats) >= cfg.max_tokens:
        return f"token budget exhausted ({_used(stats)} of max_tokens={cfg.max_tokens})"
    if time.monotonic() >= deadline:
        return f"timed out (timeout_s={cfg.timeout_s:g})"
    return None


def _count(model: str, cfg: ReasonerConfig, stats: Stats, turn: Turn, record: Record) -> None:
    stats.rounds += 1
    stats.tokens_in += turn.tokens_in
    stats.tokens_out += turn.tokens_out
    cost = estimate_cost(cfg.prices_usd_per_mtok, model, turn.tokens_in, turn.tokens_out)
    stats.cost_usd = round(stats.cost_usd + cost, 6)
    record("llm_tokens", {"round": stats.rounds, "model": model, "tokens_in": turn.tokens_in,
                          "tokens_out": turn.tokens_out, "cost_usd_estimate": cost,
                          "tool_calls": [c.name for c in turn.calls], "text": redact(turn.text[:2000])})


def _run_tool(tools: ToolBox, call: ToolCall, index: int, stats: Stats, record: Record) -> str:
    started = time.monotonic()
    if index >= _MAX_CALLS_PER_TURN:
        result, ok = f'{{"error": "more than {_MAX_CALLS_PER_TURN} tool calls in one turn"}}', False
    else:
        result, ok = tools.call(call.name, call.arguments)
    stats.tool_calls += 1
    record("llm_tool_call", {"round": stats.rounds, "tool": call.name,
                             "input": redact_values(call.arguments),
                             "ok": ok, "result": result[:4000], "result_chars": len(result),
                             "latency_s": round(time.monotonic() - started, 3)})
    return result


def _validate(call: ToolCall, record: Record, stats: Stats) -> Outcome:
    if call.arguments is None:
        return Outcome(None, "submit_report's arguments are not a JSON object")
    try:
        sub = Submission.model_validate(call.arguments)
    except ValidationError as exc:
        errors = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}" for e in exc.errors()[:3])
        return Outcome(None, f"submit_report failed validation: {errors}")
    stats.tool_calls += 1
    record("llm_tool_call", {"round": stats.rounds, "tool": SUBMIT, "ok": True,
                             "input": redact_values(sub.model_dump(mode="json"))})
    return Outcome(sub, None)


class LLMReasoner:
    """A model in a bounded tool-use loop, with the deterministic report as its floor."""

    def __init__(self, name: str, cfg: ReasonerConfig, adapter: Callable[[], ChatAdapter] | None, *,
                 model: str, unavailable: str | None = None, history: HistoryReader | None = None,
                 memory: Memory | None = None, runbooks: RunbookSet | None = None) -> None:
        self.name, self.cfg, self._adapter, self.model = name, cfg, adapter, model
        self.unavailable, self.history, self.memory, self.runbooks = unavailable, history, memory, runbooks

    def refine(self, incident: Incident, evidence: IncidentEvidence, base_report: Report,
               record: Record | None = None) -> Report:
        record = record or no_record
        stats = Stats()
        try:
            report, reason, note, alt = self._refine(incident, evidence, base_report, stats, record)
        except LLMError as exc:
            report, reason, note, alt = base_report, str(exc), "", None
        except Exception as exc:  # the floor holds whatever broke
            report, reason, note, alt = base_report, f"reasoner error: {type(exc).__name__}: {exc}", "", None
        produced_by = report.backend if reason is None else "rules"
        info = Reasoning(backend=self.name, produced_by=produced_by, model=self.model, fallback_reason=reason,
                         note=note, alternative=alt, rounds=stats.rounds, tool_calls=stats.tool_calls,
                         tokens_in=stats.tokens_in, tokens_out=stats.tokens_out, cost_usd_estimate=stats.cost_usd,
                         latency_s=round(time.monotonic() - stats.started, 3))
        record("llm_reasoning", info.model_dump(mode="json"))
        return report.model_copy(update={"backend": produced_by, "reasoning": info})

    def _refine(self, incident: Incident, evidence: IncidentEvidence, base: Report, stats: Stats,
                record: Record) -> tuple[Report, str | None, str, Any]:
        if self.unavailable or self._adapter is None:
            return base, self.unavailable or f"{self.name} backend not available", "", None
        sandbox = EvidenceSandbox(evidence, row_limit=self.cfg.query_row_limit, timeout_s=self.cfg.query_timeout_s)
        try:
            tools = ToolBox(incident, sandbox, default_text=base.root_cause.summary, history=self.history,
                            memory=self.memory, runbooks=self.runbooks, max_chars=self.cfg.tool_result_chars)
            system, user = system_prompt(), build_user_prompt(incident, base, sandbox.schema(), sandbox.counts)
            record("llm_prompt", {"backend": self.name, "model": self.model, "system": system, "user": user,
                                  "tools": [t.name for t in tools.specs]})
            outcome = run_loop(self._adapter(), tools, system, user, self.cfg, stats, record)
            if outcome.submission is None:
                return base, outcome.fallback_reason, "", None
            verdict = judge(base, outcome.submission, evidence_corpus(sandbox, base),
                            keep_confidence=self.cfg.keep_confidence, backend=self.name)
        finally:
            sandbox.close()
        return verdict.report, verdict.rejected, verdict.note, verdict.alternative
