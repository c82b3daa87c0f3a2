"""Reasoners refine the deterministic report: ``rules`` (the report as is), ``vllm``, ``claude``.

``make_reasoner(cfg.reasoner, ...)`` builds the configured one; ``reasoner.refine(incident,
evidence, base_report, record)`` returns a report that is never worse than ``base_report``
(see :mod:`engine.reasoning.guard`) and says in ``report.reasoning`` who produced it and why.
The SDKs (``anthropic``, ``openai``) are imported only when their backend is chosen.
"""

from __future__ import annotations

from engine.config import ReasonerConfig
from engine.reasoning.base import HistoryReader, Memory, Reasoner, Record, no_record
from engine.reasoning.rules import RulesReasoner
from engine.report import Reasoning
from engine.runbooks import RunbookSet

__all__ = ["HistoryReader", "Memory", "Reasoner", "Reasoning", "Record", "RulesReasoner", "make_reasoner",
           "no_record"]


def make_reasoner(cfg: ReasonerConfig, *, history: HistoryReader | None = None, memory: Memory | None = None,
                  runbooks: RunbookSet | None = None) -> Reasoner:
    if cfg.backend == "claude":
        from engine.reasoning.claude import claude_reasoner

        return claude_reasoner(cfg, history=history, memory=memory, runbooks=runbooks)
    if cfg.backend == "vllm":
        from engine.reasoning.openai_compat import vllm_reasoner

        return vllm_reasoner(cfg, history=history, memory=memory, runbooks=runbooks)
    return RulesReasoner()
