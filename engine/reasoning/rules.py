"""The ``rules`` backend: the deterministic report is the answer (no model, no cost)."""

from __future__ import annotations

from engine.evidence_query import IncidentEvidence
from engine.incident import Incident
from engine.reasoning.base import Record
from engine.report import Reasoning, Report

__all__ = ["RulesReasoner"]


class RulesReasoner:
    name = "rules"

    def refine(self, incident: Incident, evidence: IncidentEvidence, base_report: Report,
               record: Record | None = None) -> Report:
        return base_report.model_copy(update={
            "backend": "rules", "reasoning": Reasoning(backend="rules", produced_by="rules")})
