"""``fleetsre runbooks``: check the runbook directory and dry-run the selection, like
``amtool config routes test``.

- ``fleetsre runbooks check [--dir DIR]``: load and validate every runbook (exit 1 naming the
  file, the field and the reason);
- ``fleetsre runbooks list``: id, categories, triggers, alert names, mode of each;
- ``fleetsre runbooks test --category C [--trigger T] [--alertname A ...] [--mode auto]
  [--assume steps.ID.OUTPUT=VALUE ...]``: which runbook would match (and why the others do not),
  and which of its steps would run, in which mode.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.console import Console
from rich.table import Table

from engine.report import CATEGORIES, TRIGGERS
from engine.runbooks import RunbookError, RunbookSet, load_runbooks

__all__ = ["runbooks_app"]

runbooks_app = typer.Typer(no_args_is_help=True, help="Check runbooks and dry-run which one an incident would get.")
_err = Console(stderr=True, soft_wrap=True)
_out = Console(width=160, soft_wrap=True)

DirOpt = Annotated[Path | None, typer.Option("--dir", help="runbook directory (default: the shipped runbooks/)")]


def _load(directory: Path | None) -> RunbookSet:
    try:
        return load_runbooks(directory)
    except RunbookError as exc:
        _err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(1) from exc


@runbooks_app.command("check")
def check(directory: DirOpt = None) -> None:
    """Load and validate every runbook; exit 1 with the file, field and reason of the first broken one."""
    rs = _load(directory)
    _out.print(f"{len(rs)} runbooks OK: {', '.join(r.id for r in rs.runbooks)}")


@runbooks_app.command("list")
def list_runbooks(directory: DirOpt = None) -> None:
    """Every runbook: what it matches and the most it may do."""
    table = Table(title="runbooks")
    for col in ("id", "categories", "triggers", "alertnames", "mode", "may mutate", "file"):
        table.add_column(col)
    for r in _load(directory).runbooks:
        m = r.match
        table.add_row(r.id, ", ".join(m.categories), ", ".join(m.triggers) or "any", ", ".join(m.alertnames) or "any",
                      r.remediation.mode, ", ".join(r.remediation.allow) or "-", Path(r.path).name)
    _out.print(table)


@runbooks_app.command("test")
def test(
    category: Annotated[str, typer.Option("--category", help="root cause category")],
    trigger: Annotated[str, typer.Option("--trigger", help="trigger kind")] = "unknown",
    alertname: Annotated[list[str] | None, typer.Option("--alertname", help="an alert name (repeatable)")] = None,
    mode: Annotated[str, typer.Option("--mode", help="recommend or auto (the global remediation mode)")] = "recommend",
    assume: Annotated[list[str] | None, typer.Option("--assume", help="REF=VALUE for gates, e.g. "
                                                     "steps.oom.oom_killed=true (repeatable)")] = None,
    directory: DirOpt = None,
) -> None:
    """Which runbook an incident would match, and which of its steps would run (a dry run)."""
    from engine.workflow import dry_run

    _check_choice("--category", category, CATEGORIES)
    _check_choice("--trigger", trigger, TRIGGERS)
    _check_choice("--mode", mode, ("recommend", "auto"))
    rs = _load(directory)
    names = list(alertname or [])
    candidates = rs.explain(category, trigger, names)
    _out.print(f"category={category} trigger={trigger} alertnames={','.join(names) or '-'} mode={mode}")
    for c in candidates:
        mark = "[green]match[/]   " if c.matched else "[dim]no match[/]"
        _out.print(f"  {mark} {c.runbook.id:<30} {c.why}")
    chosen = rs.select(category, trigger, names)
    if chosen is None:
        _out.print("[yellow]no runbook matches[/]")
        raise typer.Exit(1)
    _out.print(f"\nselected: [bold]{chosen.id}[/] ({chosen.path}) — {chosen.title}")
    _steps_table(dry_run(chosen, category=category, trigger=trigger, mode=mode,  # type: ignore[arg-type]
                         assume=_assumptions(assume or [])))


def _steps_table(steps: list[dict[str, Any]]) -> None:
    """One line per step (plain text, like amtool: easy to read, grep and diff), its mode reason below."""
    _out.print("workflow (dry run):")
    width = max((len(s["id"]) for s in steps), default=4)
    for i, s in enumerate(steps, 1):
        _out.print(f"  {i:>2}. {s['id']:<{width}}  {s['tool']:<21} {s['kind']:<8} {s['mode']:<10} {s['runs']}",
                   markup=False, highlight=False)
        if s["why"]:
            _out.print(f"      {'':<{width}}  {s['why']}", markup=False, highlight=False)


def _check_choice(option: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        _err.print(f"[red]error:[/] {option} {value!r} is not one of: {', '.join(allowed)}")
        raise typer.Exit(2)


def _assumptions(items: list[str]) -> dict[str, Any]:
    out = {}
    for item in items:
        ref, sep, raw = item.partition("=")
        if not sep or not ref.strip():
            _err.print(f"[red]error:[/] --assume {item!r}: expected REF=VALUE")
            raise typer.Exit(2)
        out[ref.strip()] = yaml.safe_load(raw) if raw.strip() else None
    return out
