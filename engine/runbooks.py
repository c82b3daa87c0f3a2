"""Runbooks as data: ``runbooks/*.md`` — Markdown for people, YAML front matter for the engine.

Front matter (every field checked on load; a broken runbook raises :class:`RunbookError` naming
the file, the field and the reason, so start-up fails rather than an incident later)::

    id: oom-killed                      # unique, [a-z0-9-]
    title: Container killed for exceeding its memory limit
    match:
      categories: [oom_killed]          # taxonomy categories, or ["*"] for the catch-all
      triggers: [rollout]               # optional: only for these trigger kinds
      alertnames: [KubePodCrashLooping] # optional: only when one of the incident's alerts has this name
    priority: 0                         # optional tie-breaker, higher first
    params: {memory_floor: 256Mi}       # referenced as {{ params.memory_floor }}
    remediation:
      mode: auto                        # recommend (default) | auto: the most this runbook allows
      allow: [raise-memory]             # the steps that may mutate in auto mode; others only recommend
    workflow:                           # run in order
      - id: oom
        tool: oom_check                 # a name from engine.tools.REGISTRY
        args: {}                        # values may hold {{ refs }} (see engine.templating)
      - id: raise-memory
        tool: raise_memory_limit
        when: steps.oom.oom_killed      # gate on earlier steps' outputs (when_all: a list, all must hold)
        args: {container: "{{ steps.oom.container }}", floor: "{{ params.memory_floor }}"}

Selection (:meth:`RunbookSet.select`, shown by ``fleetsre runbooks test``): a runbook matches when
the category is one of its ``categories`` (or it has ``*``), the trigger is one of its
``triggers`` (when it lists any) and one of the incident's alert names is in its ``alertnames``
(when it lists any). Among matches the most specific wins, in this order: a named category beats
``*``; then a runbook constrained by trigger beats one that is not; then one constrained by alert
names; then the higher ``priority``; then the id, alphabetically.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from engine.report import CATEGORIES, TriggerKind
from engine.templating import ROOTS, TemplateError, parse_gate, refs_in
from engine.tools import REGISTRY

__all__ = ["DEFAULT_DIR", "Candidate", "Match", "Remediation", "Runbook", "RunbookError", "RunbookSet", "Step",
           "load_runbook", "load_runbooks"]

DEFAULT_DIR = Path(__file__).resolve().parents[1] / "runbooks"
_ID = r"^[a-z0-9][a-z0-9_-]*$"


class RunbookError(ValueError):
    """A runbook file that cannot be used: ``path``, ``field`` and ``reason`` say where and why.
    A configuration error: fix the file, retrying does not help."""

    def __init__(self, path: Path | str, field: str, reason: str) -> None:
        super().__init__(f"{path}: {field}: {reason}")
        self.path, self.field, self.reason = str(path), field, reason


class _M(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Match(_M):
    categories: list[str] = Field(min_length=1, description="taxonomy categories, or ['*']")
    triggers: list[TriggerKind] = Field(default_factory=list, description="empty: any trigger")
    alertnames: list[str] = Field(default_factory=list, description="empty: any alert")


class Step(_M):
    id: str = Field(pattern=_ID)
    tool: str
    args: dict[str, Any] = Field(default_factory=dict)
    when: str | None = None
    when_all: list[str] = Field(default_factory=list)
    description: str = ""

    def gates(self) -> list[str]:
        return ([self.when] if self.when else []) + list(self.when_all)


class Remediation(_M):
    mode: Literal["recommend", "auto"] = Field("recommend", description="the most this runbook allows")
    allow: list[str] = Field(default_factory=list, description="steps that may mutate in auto mode")


class Runbook(_M):
    id: str = Field(pattern=_ID)
    title: str = Field(min_length=1)
    description: str = ""
    match: Match
    priority: int = 0
    params: dict[str, Any] = Field(default_factory=dict)
    remediation: Remediation = Field(default_factory=Remediation)
    workflow: list[Step] = Field(min_length=1)
    path: str = Field("", description="the file it was loaded from (set by the loader)")
    body: str = Field("", description="the Markdown for people (set by the loader)")

    @property
    def catch_all(self) -> bool:
        return "*" in self.match.categories

    def specificity(self) -> tuple[int, int, int, int]:
        m = self.match
        return (0 if self.catch_all else 1, 1 if m.triggers else 0, 1 if m.alertnames else 0, self.priority)

    def mismatch(self, category: str, trigger: str, alertnames: Iterable[str]) -> str | None:
        """None when the runbook matches, else why not."""
        m, names = self.match, set(alertnames)
        if not self.catch_all and category not in m.categories:
            return f"category {category} not in {m.categories}"
        if m.triggers and trigger not in m.triggers:
            return f"trigger {trigger} not in {m.triggers}"
        if m.alertnames and not names & set(m.alertnames):
            return f"no alert named {' or '.join(m.alertnames)}"
        return None


@dataclass(frozen=True)
class Candidate:
    runbook: Runbook
    matched: bool
    why: str


class RunbookSet:
    """The loaded runbooks and the selection rule (module docstring)."""

    def __init__(self, runbooks: list[Runbook]) -> None:
        self.runbooks = runbooks
        self.by_id = {r.id: r for r in runbooks}

    def __len__(self) -> int:
        return len(self.runbooks)

    def explain(self, category: str, trigger: str = "unknown", alertnames: Iterable[str] = ()) -> list[Candidate]:
        """Every runbook, matches first in precedence order, each with why it (does not) match."""
        names = list(alertnames)
        out = []
        for rb in self.runbooks:
            miss = rb.mismatch(category, trigger, names)
            out.append(Candidate(rb, miss is None, miss or _why_match(rb)))
        return sorted(out, key=lambda c: (not c.matched, tuple(-x for x in c.runbook.specificity()), c.runbook.id))

    def select(self, category: str, trigger: str = "unknown", alertnames: Iterable[str] = ()) -> Runbook | None:
        best = self.explain(category, trigger, alertnames)
        return best[0].runbook if best and best[0].matched else None


def _why_match(rb: Runbook) -> str:
    parts = ["any category (catch-all)" if rb.catch_all else "category"]
    parts += ["trigger"] * bool(rb.match.triggers) + ["alertname"] * bool(rb.match.alertnames)
    return "matches on " + " + ".join(parts) + (f", priority {rb.priority}" if rb.priority else "")


# -- loading -----------------------------------------------------------------------------------

def load_runbooks(directory: Path | str | None = None) -> RunbookSet:
    """Load and check every ``*.md`` runbook of a directory (README.md excepted)."""
    root = Path(directory) if directory else DEFAULT_DIR
    if not root.is_dir():
        raise RunbookError(root, "(directory)", "not a directory")
    runbooks: list[Runbook] = []
    seen: dict[str, str] = {}
    for path in sorted(root.glob("*.md")):
        if path.name.lower() == "readme.md":
            continue
        rb = load_runbook(path)
        if rb.id in seen:
            raise RunbookError(path, "id", f"{rb.id!r} is already used by {seen[rb.id]}")
        seen[rb.id] = str(path)
        runbooks.append(rb)
    if not runbooks:
        raise RunbookError(root, "(directory)", "holds no runbook (*.md with YAML front matter)")
    return RunbookSet(runbooks)


def load_runbook(path: Path | str) -> Runbook:
    path = Path(path)
    front, body = _split(path)
    for reserved in ("path", "body"):
        if reserved in front:
            raise RunbookError(path, reserved, "is set by the loader, not in the front matter")
    try:
        rb = Runbook.model_validate(front)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise RunbookError(path, _loc(err["loc"]), err["msg"]) from None
    rb = rb.model_copy(update={"path": str(path), "body": body})
    _check(rb, path)
    return rb


def _split(path: Path) -> tuple[dict[str, Any], str]:
    try:
        text = path.read_text()
    except OSError as exc:
        raise RunbookError(path, "(file)", f"cannot read: {exc.strerror}") from None
    m = re.match(r"^---[ \t]*\n(.*?)\n---[ \t]*(?:\n|$)", text, re.S)
    if not m:
        raise RunbookError(path, "(front matter)", "the file must start with YAML front matter between '---' lines")
    try:
        front = yaml.safe_load(m.group(1))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 2}" if mark is not None else "(front matter)"
        raise RunbookError(path, where, f"not valid YAML: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(front, dict):
        raise RunbookError(path, "(front matter)", "must be a YAML mapping")
    return front, text[m.end():]


def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(front matter)"


def _check(rb: Runbook, path: Path) -> None:
    for i, c in enumerate(rb.match.categories):
        if c != "*" and c not in CATEGORIES:
            raise RunbookError(path, f"match.categories[{i}]", f"{c!r} is not a taxonomy category")
    if rb.catch_all and len(rb.match.categories) > 1:
        raise RunbookError(path, "match.categories", "'*' (the catch-all) must stand alone")
    earlier: dict[str, str] = {}
    for i, step in enumerate(rb.workflow):
        where = f"workflow[{i}]"
        if step.id in earlier:
            raise RunbookError(path, f"{where}.id", f"step id {step.id!r} is used twice")
        tool = REGISTRY.get(step.tool)
        if tool is None:
            raise RunbookError(path, f"{where}.tool", f"unknown tool {step.tool!r}; known: {', '.join(REGISTRY)}")
        _check_args(rb, path, where, step, earlier)
        earlier[step.id] = step.tool
    _check_policy(rb, path)


def _check_args(rb: Runbook, path: Path, where: str, step: Step, earlier: dict[str, str]) -> None:
    tool = REGISTRY[step.tool]
    for name in step.args:
        if name not in tool.args:
            raise RunbookError(path, f"{where}.args.{name}",
                               f"tool {tool.name} takes no argument {name!r}; it takes: {', '.join(tool.args) or 'none'}")
    for name in tool.required:
        if name not in step.args:
            raise RunbookError(path, f"{where}.args", f"tool {tool.name} needs argument {name!r}")
    for name, value in step.args.items():
        try:
            refs = refs_in(value)
        except TemplateError as exc:
            raise RunbookError(path, f"{where}.args.{name}", str(exc)) from None
        for ref in refs:
            _check_ref(rb, path, f"{where}.args.{name}", ref, earlier)
    for j, gate in enumerate(step.gates()):
        field = f"{where}.when" if step.when and j == 0 else f"{where}.when_all[{j - bool(step.when)}]"
        try:
            parsed = parse_gate(gate)
        except TemplateError as exc:
            raise RunbookError(path, field, str(exc)) from None
        _check_ref(rb, path, field, parsed.ref, earlier)


def _check_ref(rb: Runbook, path: Path, field: str, ref: str, earlier: dict[str, str]) -> None:
    parts = ref.split(".")
    if parts[0] not in ROOTS:
        raise RunbookError(path, field, f"{{{{ {ref} }}}}: references start with one of {', '.join(ROOTS)}")
    if parts[0] == "params" and (len(parts) < 2 or parts[1] not in rb.params):
        raise RunbookError(path, field, f"{{{{ {ref} }}}}: no such parameter in params ({', '.join(rb.params) or 'none'})")
    if parts[0] != "steps":
        return
    if len(parts) < 2 or parts[1] not in earlier:
        raise RunbookError(path, field, f"{{{{ {ref} }}}}: steps.<id> must name an earlier step "
                                        f"({', '.join(earlier) or 'none yet'})")
    outputs = ("status", *REGISTRY[earlier[parts[1]]].outputs)
    if len(parts) > 2 and parts[2] not in outputs:
        raise RunbookError(path, field, f"{{{{ {ref} }}}}: tool {earlier[parts[1]]} has no output {parts[2]!r}; "
                                        f"it has: {', '.join(outputs)}")


def _check_policy(rb: Runbook, path: Path) -> None:
    steps = {s.id: s for s in rb.workflow}
    for i, sid in enumerate(rb.remediation.allow):
        step = steps.get(sid)
        if step is None:
            raise RunbookError(path, f"remediation.allow[{i}]", f"no step {sid!r} in the workflow")
        tool = REGISTRY[step.tool]
        if not tool.mutates or tool.manual:
            what = "changes nothing" if not tool.mutates else "is never automatic (a person acts)"
            raise RunbookError(path, f"remediation.allow[{i}]", f"step {sid!r} uses tool {tool.name}, which {what}")
