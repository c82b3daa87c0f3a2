"""After a report: choose its runbook, run the workflow, record every step (the stage both the
in-process pipeline and the Ray actors run).

``remediate(report, ...)`` returns the report with ``runbook`` and ``actions`` filled in, and the
step outputs; ``record_steps`` writes one ``runbook_step`` event per step (inputs, result, mode,
outputs) to the incident's audit trail; ``hold_reason`` says why auto must wait this time: an
earlier run already executed a mutation for the incident (auto acts at most once per incident,
then waits for the result), or a newer investigation of it is queued (auto acts on the newest
evidence only, never in the middle of an alert storm).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from engine.evidence_query import IncidentEvidence
from engine.history import HistoryStore
from engine.report import Report
from engine.runbooks import Runbook, RunbookSet
from engine.sources import ClusterSource
from engine.workflow import Mode, WorkflowRun, run_workflow
from engine.writer import ClusterWriter

__all__ = ["ACTED", "QUEUED", "already_acted", "hold_reason", "record_steps", "remediate", "remediate_incident",
           "select_runbook", "step_events"]

_MAX_OUTPUT_CHARS = 2000
ACTED = "auto already acted on this incident; waiting for the result before acting again"
QUEUED = "a newer investigation of this incident is queued: auto acts on the newest evidence only"


def select_runbook(runbooks: RunbookSet, report: Report, alertnames: Iterable[str]) -> Runbook | None:
    rc = report.root_cause
    return runbooks.select(rc.category, rc.trigger.kind, alertnames)


def remediate(report: Report, runbook: Runbook, data_dir: Path, *, source: ClusterSource | None,
              writer: ClusterWriter | None, mode: Mode, alertnames: Iterable[str],
              hold: str = "") -> tuple[Report, WorkflowRun]:
    """Run ``runbook`` over the incident's evidence; the report with its runbook and actions."""
    with IncidentEvidence(data_dir, report.incident_id) as evidence:
        run = run_workflow(runbook, report, evidence, source=source, writer=writer, mode=mode,
                           alertnames=alertnames, hold=hold)
    return report.model_copy(update={"runbook": runbook.id, "actions": run.steps}), run


def remediate_incident(report: Report, runbooks: RunbookSet, data_dir: Path, *, mode: Mode,
                       alertnames: Iterable[str], source: ClusterSource | None, writer: ClusterWriter | None,
                       history: HistoryStore | None) -> Report:
    """Select, run and record; a report no runbook matches is returned unchanged."""
    names = list(alertnames)
    runbook = select_runbook(runbooks, report, names)
    if runbook is None:
        return report
    hold = hold_reason(history, report.incident_id) if history else ""
    report, run = remediate(report, runbook, data_dir, source=source, writer=writer, mode=mode, alertnames=names,
                            hold=hold)
    if history:
        record_steps(history, report.incident_id, run)
    return report


def step_events(run: WorkflowRun) -> list[dict[str, Any]]:
    """One ``runbook_step`` payload per step: the ActionStep plus its (trimmed) outputs."""
    return [{**s.model_dump(mode="json"), "outputs": _trim(run.outputs.get(s.step) or {})} for s in run.steps]


def record_steps(history: HistoryStore, incident_id: str, run: WorkflowRun | list[dict[str, Any]]) -> None:
    # one statement and one commit for the whole run: an event per step, each committed alone, cost ~5 ms apiece
    steps = step_events(run) if isinstance(run, WorkflowRun) else run
    history.add_events([(incident_id, "runbook_step", payload) for payload in steps])


def hold_reason(history: HistoryStore, incident_id: str, *, queued: bool = False) -> str:
    """Why auto must not act on this incident now ("" when it may)."""
    if already_acted(history, incident_id):
        return ACTED
    return QUEUED if queued else ""


def already_acted(history: HistoryStore, incident_id: str) -> bool:
    rows = history.query("SELECT payload FROM incident_events WHERE incident_id = ? AND kind = 'runbook_step'",
                         [incident_id])
    return any((r["payload"] or {}).get("status") == "done" and (r["payload"] or {}).get("mode") == "auto"
               for r in rows)


def _trim(outputs: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in outputs.items():
        text = json.dumps(value, default=str)
        out[key] = value if len(text) <= _MAX_OUTPUT_CHARS else f"({len(text)} characters, omitted)"
    return out

