"""What a detector sees and what it returns.

A detector is one function ``detect(ctx) -> list[Finding]`` in its own module, registered in
``engine.detectors.REGISTRY``. It reads general signals (container states, exit codes, event
reasons and messages, log lines, owner chains, revision times) from the incident's evidence and
never keys on names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from engine.alerts import Alert, AlertTarget
from engine.evidence_query import IncidentEvidence
from engine.report import EvidenceItem, Subject

__all__ = ["DetectContext", "Finding"]


@dataclass
class DetectContext:
    incident_id: str
    cluster: str  # the incident's cluster, or "fleet"
    alerts: list[Alert]
    subject: AlertTarget  # what the incident is about (from its grouping)
    clock: datetime  # the incident's clock, never the wall clock
    evidence: IncidentEvidence


@dataclass
class Finding:
    category: str  # a taxonomy category
    confidence: float  # 0..1
    summary: str
    subject: Subject
    evidence: list[EvidenceItem] = field(default_factory=list)
    detector: str = ""
