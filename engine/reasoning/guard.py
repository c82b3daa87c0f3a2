"""The guard on the model's answer: never make a report worse.

An answer replaces the rules root cause only when it validated (the loop checks that), its category
is in the taxonomy (the schema's enum), and it cites evidence that exists: at least one quote must
be found, verbatim (case and whitespace aside), in this incident's redacted evidence. Then:

- the rules report was confident (>= ``keep_confidence``) and the model disagrees, or the model says
  ``unknown`` where the rules found a cause: the rules root cause stays and the model's answer is
  attached as an alternative hypothesis;
- otherwise the model's root cause is taken, on the same subject; its cited evidence goes first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from engine.reasoning.sandbox import EvidenceSandbox
from engine.reasoning.submission import Submission
from engine.report import EvidenceItem, Hypothesis, Recommendation, Report, RootCause, Trigger

__all__ = ["Verdict", "evidence_corpus", "grounded", "judge"]

_KIND = {"logs": "log", "events": "event", "changes": "change", "nodes": "node", "node_conditions": "node",
         "errors": "error", "pods": "status", "containers": "status", "workloads": "status"}


@dataclass(frozen=True)
class Verdict:
    report: Report
    accepted: bool
    note: str = ""
    alternative: Hypothesis | None = None
    rejected: str | None = None  # why the answer could not be used at all (a fallback reason)


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


def evidence_corpus(sandbox: EvidenceSandbox, report: Report) -> str:
    """Every value of every evidence table (as the model saw them), plus the rules report's texts."""
    parts = [e.text for e in report.evidence] + [t.text for t in report.timeline]
    for table in sandbox.counts:
        for row in sandbox.con.execute(f"SELECT * FROM {table}").fetchall():
            parts += [str(v) for v in row if v is not None]
    return _norm("\n".join(parts))


def grounded(sub: Submission, corpus: str) -> list[str]:
    """The quotes of the answer found in the evidence (an ellipsis may join found pieces)."""
    found = []
    for ref in sub.evidence:
        pieces = [p for p in (_norm(x) for x in re.split(r"\.\.\.|…", ref.quote)) if p]
        if pieces and all(len(p) >= 4 and p in corpus for p in pieces):
            found.append(ref.quote)
    return found


def judge(base: Report, sub: Submission, corpus: str, *, keep_confidence: float, backend: str) -> Verdict:
    quotes = grounded(sub, corpus)
    if not quotes:
        return Verdict(base, False, rejected="the answer cites no evidence found in this incident")
    alt = Hypothesis(category=sub.category, summary=sub.summary, confidence=sub.confidence, evidence=quotes)
    rc = base.root_cause
    if sub.category == "unknown" and rc.category != "unknown":
        return Verdict(base, False, f"{backend} answered unknown; the rules root cause ({rc.category}) stands", alt)
    if sub.category != rc.category and rc.confidence >= keep_confidence:
        return Verdict(base, False, f"{backend} disagreed ({sub.category}) with a confident rules root cause "
                                    f"({rc.category}, {rc.confidence:.2f} >= {keep_confidence:.2f}), which stands; "
                                    "its answer is kept as an alternative hypothesis", alt)
    return Verdict(_merge(base, sub, quotes, backend), True)


def _merge(base: Report, sub: Submission, quotes: list[str], backend: str) -> Report:
    rc = base.root_cause
    same = sub.category == rc.category
    trigger = (rc.trigger if sub.trigger_kind == "unknown" and same
               else Trigger(kind=sub.trigger_kind, detail=sub.trigger_detail))
    cited = [EvidenceItem(kind=_KIND[r.table], cluster=rc.subject.cluster, source=r.source, text=r.quote)  # type: ignore[arg-type]
             for r in sub.evidence if r.quote in quotes]
    recs = list(base.recommendations) if same else []
    recs += [Recommendation(priority=len(recs) + i + 1, action=r.action, command=r.command)
             for i, r in enumerate(sorted(sub.recommendations, key=lambda r: r.priority))]
    root = RootCause(category=sub.category, summary=sub.summary, confidence=sub.confidence,
                     subject=rc.subject, trigger=trigger)
    return base.model_copy(update={"root_cause": root, "evidence": cited + list(base.evidence),
                                   "recommendations": recs, "backend": backend})
