"""The reasoner interface: refine a deterministic report, never make it worse.

A :class:`Reasoner` takes the incident, its evidence and the rules report and returns a report.
``record(kind, payload)`` receives the audit trail (prompts, tool calls, tokens, cost); callers
wire it to ``HistoryStore.add_event``. The protocols here are what the reasoners need from their
collaborators, so the engine's history store, semantic memory or a test fake all fit.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from engine.evidence_query import IncidentEvidence
from engine.incident import Incident
from engine.report import Reasoning, Report

__all__ = ["HistoryReader", "Memory", "Reasoner", "Reasoning", "Record", "no_record"]

Record = Callable[[str, dict[str, Any]], None]


def no_record(kind: str, payload: dict[str, Any]) -> None:
    """The default ``record``: the audit trail goes nowhere."""


class Reasoner(Protocol):
    name: str

    def refine(self, incident: Incident, evidence: IncidentEvidence, base_report: Report,
               record: Record | None = None) -> Report: ...


class HistoryReader(Protocol):
    """A read query over the incident history (``engine.history.HistoryStore.query``)."""

    def query(self, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]: ...


class Memory(Protocol):
    """Semantic memory (``engine.memory``): past incidents and runbook sections like a text."""

    def similar_incidents(self, text: str, k: int = 5, exclude_id: str | None = None) -> list[dict[str, Any]]: ...

    def runbook_sections(self, text: str, k: int = 5) -> list[dict[str, Any]]: ...
