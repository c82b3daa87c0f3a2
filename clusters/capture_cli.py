"""``fleetsre clusters dump``: capture a kubeconfig context as a dump directory, with a progress bar.

    fleetsre clusters dump --context prod-eu-1 --out dumps/prod-eu-1-$(date +%F)
    fleetsre clusters dump --context lab --kubeconfig lab.yaml --namespaces shop,kube-system \\
        --no-previous-logs --tail-lines 500 --out /tmp/lab

Exit codes: 0 when the dump is written (complete, or partial with the failed calls listed on stderr
and in ``fleetsre-dump.json``), 1 when nothing could be captured (cluster unreachable), 2 for bad
usage (unknown context, unreadable kubeconfig, non-empty output directory).
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from clusters.capture import CaptureError, CaptureOptions, CaptureResult, capture

__all__ = ["DumpRequest", "RichProgress", "run_dump"]

_PHASES = {"lists": "listing objects", "logs": "reading pod logs"}


@dataclass(frozen=True)
class DumpRequest:
    context: str
    out: Path
    kubeconfig: str | None = None  # None: $KUBECONFIG, else ~/.kube/config
    cluster: str | None = None  # name recorded in fleetsre-dump.json; default the context
    options: CaptureOptions = CaptureOptions()
    request_timeout_s: float = 30.0


class RichProgress:
    """A :class:`clusters.capture.CaptureProgress` drawn as rich bars (one per phase)."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.tasks: dict[str, Any] = {}

    def begin(self, phase: str, total: int) -> None:
        self.tasks[phase] = self.progress.add_task(_PHASES.get(phase, phase), total=total)

    def advance(self, phase: str, steps: int = 1) -> None:
        self.progress.advance(self.tasks[phase], steps)


def default_kubeconfig() -> str:
    """``$KUBECONFIG`` (a ``:``-separated list is merged by the client), else ``~/.kube/config``."""
    return os.environ.get("KUBECONFIG") or str(Path("~/.kube/config").expanduser())


def run_dump(request: DumpRequest, console: Console) -> int:
    """Capture one context; prints progress and a summary on ``console``; returns the exit code."""
    from clusters.live import LiveSource

    kubeconfig = request.kubeconfig or default_kubeconfig()
    try:
        source = LiveSource.from_kubeconfig(kubeconfig, request.context, name=request.cluster or request.context,
                                            timeout_s=request.request_timeout_s)
    except Exception as exc:  # the client raises ConfigException, OSError, ValueError ... for a bad kubeconfig
        console.print(f"[red]error:[/] kubeconfig {kubeconfig}, context {request.context!r}: {exc}")
        return 2
    try:
        result = _capture_with_progress(source, request, console)
    except FileExistsError as exc:
        console.print(f"[red]error:[/] --out {exc}")
        return 2
    except CaptureError as exc:
        console.print(f"[red]error:[/] {exc}")
        return 1
    finally:
        source.close()
    _summarise(result, console)
    return 0


def _capture_with_progress(source: Any, request: DumpRequest, console: Console) -> CaptureResult:
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=False) as progress:
        return capture(source, request.out, request.options, progress=RichProgress(progress))


def _summarise(result: CaptureResult, console: Console) -> None:
    objects = sum(n for kind, n in result.counts.items() if kind != "log_blocks")
    console.print(f"captured {result.cluster}: {objects} objects in {len(result.namespaces)} namespace(s), "
                  f"{result.counts.get('log_blocks', 0)} log block(s) → [bold]{result.out}[/]")
    if result.complete:
        return
    failed_logs = [e for e in result.errors if e["resource"] == "logs"]
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for e in result.errors:
        if e["resource"] != "logs":
            groups.setdefault((e["resource"], e["status"], e["reason"]), []).append(e)
    for (resource, status, reason), errors in groups.items():
        where = sorted({e["namespace"] for e in errors if e.get("namespace")})
        scope = f" in {len(where)} namespace(s)" if len(where) > 1 else (f" in {where[0]}" if where else "")
        console.print(f"[yellow]not captured:[/] {resource}{scope}: {status or ''} {reason} — {errors[0]['message']}")
    if failed_logs:
        reasons = ", ".join(f"{n}× {r}" for r, n in Counter(e["reason"] for e in failed_logs).most_common())
        console.print(f"[yellow]{len(failed_logs)} log read(s) failed[/] ({reasons}); kept as "
                      "'Request log error' blocks, as kubectl does")
    console.print(f"every failed call is listed under 'errors' in {result.out / 'fleetsre-dump.json'}")
