"""Run a runbook's workflow for a report: gates, tools, modes — pure, no Ray, no I/O of its own.

``run_workflow(runbook, report, evidence, source=, writer=, mode=)`` returns one
:class:`~engine.report.ActionStep` per step, in order, each with its inputs, result and mode:

- a step whose gate is false is ``skipped`` (``why`` names the gate and the value it saw);
- a diagnostic tool's step is ``done`` (mode ``read``) or ``failed``;
- a remediation tool plans its change; the plan is applied through ``writer`` only when the step's
  effective mode is ``auto`` — the global ``mode`` is ``auto``, the runbook's
  ``remediation.mode`` is ``auto``, the step is in ``remediation.allow`` and nothing holds auto
  back (``hold``: the reason it must wait, e.g. an earlier run already acted on this incident).
  Otherwise it is ``recommended``: the exact
  action and ``kubectl`` command are written and nothing changes. A tool that will not act is
  ``refused``; one whose goal already holds is ``skipped``. A step's outputs (and its ``status``)
  are what later steps gate on as ``steps.<id>.<output>``.

``dry_run`` shows the same decisions without evidence, for ``fleetsre runbooks test``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from engine.report import ActionStep, Report
from engine.runbooks import Runbook, Step
from engine.sources import ClusterSource
from engine.templating import lookup, parse_gate, render
from engine.tools import REGISTRY, Observation, Plan, Refused, Satisfied, Tool, ToolContext
from engine.tools.base import EvidenceRows
from engine.writer import ClusterWriter

__all__ = ["Mode", "WorkflowRun", "dry_run", "run_workflow", "step_mode", "workflow_context"]

Mode = Literal["recommend", "auto"]


@dataclass
class WorkflowRun:
    runbook: str
    steps: list[ActionStep] = field(default_factory=list)
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)


def workflow_context(report: Report, runbook: Runbook, alertnames: Iterable[str] = ()) -> dict[str, Any]:
    """What ``{{ refs }}`` and gates see before any step ran."""
    rc = report.root_cause
    return {"subject": rc.subject.model_dump(),
            "root_cause": {"category": rc.category, "summary": rc.summary, "confidence": rc.confidence},
            "trigger": rc.trigger.model_dump(),
            "incident": {"id": report.incident_id, "cluster": report.cluster, "alertnames": sorted(set(alertnames))},
            "params": dict(runbook.params), "steps": {}}


def step_mode(runbook: Runbook, step: Step, mode: Mode, hold: str = "") -> tuple[Mode, str]:
    """(the step's effective mode, why) for a mutating step."""
    if mode != "auto":
        return "recommend", "mode recommend (the global remediation_mode)"
    if runbook.remediation.mode != "auto":
        return "recommend", f"runbook {runbook.id} allows recommend only"
    if step.id not in runbook.remediation.allow:
        return "recommend", f"step {step.id} is not in remediation.allow of runbook {runbook.id}"
    if hold:
        return "recommend", hold
    return "auto", "auto: allowed by the global mode, the runbook and its remediation.allow"


def run_workflow(runbook: Runbook, report: Report, evidence: EvidenceRows, *, source: ClusterSource | None = None,
                 writer: ClusterWriter | None = None, mode: Mode = "recommend", alertnames: Iterable[str] = (),
                 hold: str = "") -> WorkflowRun:
    ctx = workflow_context(report, runbook, alertnames)
    tctx = ToolContext(report, evidence, dict(runbook.params), source)
    run = WorkflowRun(runbook.id)
    for step in runbook.workflow:
        action, outputs = _run_step(runbook, step, tctx, ctx, mode, writer, hold)
        ctx["steps"][step.id] = {**outputs, "status": action.status}
        run.outputs[step.id] = ctx["steps"][step.id]
        run.steps.append(action)
    return run


def _gate(step: Step, ctx: Mapping[str, Any]) -> str | None:
    """Why the step is skipped (its first false gate), or None when every gate holds."""
    for text in step.gates():
        gate = parse_gate(text)
        ok, value = gate.evaluate(ctx)
        if not ok:
            return f"gate '{text}' is false ({gate.ref} = {value!r})"
    return None


def _run_step(runbook: Runbook, step: Step, tctx: ToolContext, ctx: dict[str, Any], mode: Mode,
              writer: ClusterWriter | None, hold: str) -> tuple[ActionStep, dict[str, Any]]:
    tool = REGISTRY[step.tool]
    eff, why_mode = step_mode(runbook, step, mode, hold) if tool.mutates else ("read", "")
    base: dict[str, Any] = {"runbook": runbook.id, "step": step.id, "tool": tool.name, "mutates": tool.mutates,
                            "mode": eff if not tool.manual else "recommend"}
    skip = _gate(step, ctx)
    if skip:
        return ActionStep(**base, status="skipped", why=skip), {}
    args = render(step.args, ctx)
    base["inputs"] = args
    try:
        out = tool.run(tctx, args)
    except Satisfied as exc:
        return ActionStep(**base, status="skipped", result=str(exc), why="nothing to do"), {}
    except Refused as exc:
        return ActionStep(**base, status="refused", why=str(exc)), {}
    except Exception as exc:  # a failing tool is data: the workflow goes on
        return ActionStep(**base, status="failed", result=f"{type(exc).__name__}: {exc}"), {}
    if isinstance(out, Observation):
        return ActionStep(**base, status="done", result=out.result), out.outputs
    return _apply(base, tool, out, eff, why_mode, writer, tctx.cluster), out.outputs


def _apply(base: dict[str, Any], tool: Tool, plan: Plan, eff: str, why_mode: str,
           writer: ClusterWriter | None, cluster: str) -> ActionStep:
    step = {**base, "command": plan.command}
    if plan.apply is None:
        return ActionStep(**step, status="recommended", result=plan.action, why=plan.manual)
    if eff != "auto":
        return ActionStep(**step, status="recommended", result=plan.action, why=why_mode)
    if writer is None:
        return ActionStep(**step, status="refused", result=plan.action,
                          why=f"auto mode, but cluster {cluster} has no writer (a dump cannot be changed)")
    try:
        return ActionStep(**step, status="done", result=plan.apply(writer), why=why_mode)
    except Exception as exc:  # the API said no: recorded, never raised
        return ActionStep(**step, status="failed", result=f"{plan.action}: {type(exc).__name__}: {exc}", why=why_mode)


def dry_run(runbook: Runbook, *, category: str, trigger: str = "unknown", mode: Mode = "recommend",
            assume: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """Each step as it would run: tool, gates, mode, and whether it runs given ``assume``
    (dotted refs → values, e.g. ``{"steps.oom.oom_killed": True}``); unassumed gates say 'depends'."""
    ctx: dict[str, Any] = {"root_cause": {"category": category}, "trigger": {"kind": trigger},
                           "params": dict(runbook.params), "steps": {}}
    for ref, value in (assume or {}).items():
        _assign(ctx, ref, value)
    out = []
    for step in runbook.workflow:
        tool = REGISTRY[step.tool]
        eff, why = step_mode(runbook, step, mode) if tool.mutates and not tool.manual else ("read", "")
        if tool.manual:
            eff, why = "recommend", "a person acts (never automatic)"
        runs = _would_run(step, ctx)
        out.append({"id": step.id, "tool": tool.name, "kind": _kind(tool), "mode": eff, "why": why,
                    "gates": step.gates(), "runs": runs})
        if runs == "runs" or runs.startswith("skipped"):
            ctx["steps"].setdefault(step.id, {}).setdefault("status", "done" if runs == "runs" else "skipped")
    return out


def _kind(tool: Tool) -> str:
    return "manual" if tool.manual else "mutates" if tool.mutates else "read"


def _would_run(step: Step, ctx: dict[str, Any]) -> str:
    unknown = []
    for text in step.gates():
        gate = parse_gate(text)
        if lookup(ctx, gate.ref) is None and not _assumed_none(ctx, gate.ref):
            unknown.append(text)
            continue
        ok, value = gate.evaluate(ctx)
        if not ok:
            return f"skipped: '{text}' is false ({value!r})"
    return f"runs if {' and '.join(unknown)}" if unknown else "runs"


def _assumed_none(ctx: dict[str, Any], ref: str) -> bool:
    parent, _, leaf = ref.rpartition(".")
    holder = lookup(ctx, parent) if parent else ctx
    return isinstance(holder, dict) and leaf in holder


def _assign(ctx: dict[str, Any], ref: str, value: Any) -> None:
    parts = ref.split(".")
    cur = ctx
    for part in parts[:-1]:
        cur = cur.setdefault(part, {})
    cur[parts[-1]] = value
