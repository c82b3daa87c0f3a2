"""The result shape every benchmark returns, and the helpers that print and store it."""

from __future__ import annotations

import json
import os
import platform
import resource
import sys
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results"


@dataclass
class Target:
    """One target of the issue, measured: ``met`` is None when it could not be measured here."""

    target: str
    measured: str
    met: bool | None


@dataclass
class BenchResult:
    name: str  # file stem under results/
    title: str
    columns: list[str]
    rows: list[list[Any]]
    targets: list[Target] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    environment: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["environment"] = {**environment(), **self.environment}
        return d


def environment() -> dict[str, Any]:
    return {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "machine": platform.machine(),
    }


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far (Linux reports kilobytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def save(result: BenchResult, results_dir: Path = RESULTS_DIR) -> Path:
    results_dir.mkdir(parents=True, exist_ok=True)
    path = results_dir / f"{result.name}.json"
    path.write_text(json.dumps(result.to_json(), indent=2, default=str) + "\n")
    return path


def render(result: BenchResult) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=None if sys.stdout.isatty() else 200)  # whole tables in logs and pipes
    table = Table(title=result.title)
    for c in result.columns:
        table.add_column(c, justify="right" if c not in result.columns[:1] else "left")
    for row in result.rows:
        table.add_row(*[_fmt(v) for v in row])
    console.print(table)
    for t in result.targets:
        mark = {True: "[green]met[/]", False: "[red]missed[/]", None: "[yellow]not measured[/]"}[t.met]
        console.print(f"  target: {t.target} → {t.measured} ({mark})")
    for n in result.notes:
        console.print(f"  note: {n}")


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.3g}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)
