"""``fleetsre replay INPUT``: historical alerts through correlation v2 at full speed, in event time.

Reads webhook JSONL (send order) or flat alerts (Parquet/JSONL) with a progress bar, correlates in
DuckDB (``engine.replay``), writes ``incidents.parquet`` and ``assignments.parquet`` under
``DATA_DIR/replay`` and the incidents into ``DATA_DIR/history.duckdb``, scores against a ground
truth when given one, and can investigate the incidents that need it against dumps.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from engine.config import EngineConfig

__all__ = ["replay_cmd"]

console = Console(stderr=True, soft_wrap=True)
out = Console(width=None if sys.stdout.isatty() else 160)


def replay_cmd(
    source: Annotated[Path, typer.Argument(help="webhook payloads (JSONL in send order) or flat alerts "
                                                "(Parquet or JSONL)", metavar="INPUT")],
    fmt: Annotated[str, typer.Option("--format", help="auto, webhooks or flat")] = "auto",
    ground_truth: Annotated[Path | None, typer.Option("--ground-truth", help="ground-truth.json to score "
                                                      "against (pairwise precision/recall/F1)")] = None,
    data_dir: Annotated[Path, typer.Option("--data-dir", help="where replay/*.parquet and history.duckdb go")]
    = Path("fleetsre-data"),
    dumps: Annotated[Path | None, typer.Option("--dumps", help="a dump directory, or a directory of "
                                               "<cluster>/dump: topology (pod → node, owner) and --investigate")]
    = None,
    topology: Annotated[Path | None, typer.Option("--topology", help="topology table (Parquet or JSONL: cluster, "
                                                  "namespace, ref, node, workload_kind, workload_name)")] = None,
    cluster: Annotated[str | None, typer.Option("--cluster", help="every alert is from this cluster "
                                                "(a per-cluster receiver's log)")] = None,
    investigate: Annotated[bool, typer.Option("--investigate", help="investigate the incidents that need it "
                                              "(needs --dumps)")] = False,
    investigate_max: Annotated[int, typer.Option("--investigate-max", help="at most this many investigations")]
    = 20,
    use_ray: Annotated[bool, typer.Option("--ray", help="correlate cluster shards as Ray tasks")] = False,
    no_history: Annotated[bool, typer.Option("--no-history", help="do not write history.duckdb")] = False,
) -> None:
    """Replay historical alerts: what incidents fleetsre would have made (and said)."""
    from engine.replay_io import detect_format

    if fmt not in ("auto", "webhooks", "flat"):
        _fail(f"--format must be auto, webhooks or flat, not {fmt!r}")
    if not source.is_file():
        _fail(f"{source}: no such file")
    if investigate and dumps is None:
        _fail("--investigate needs --dumps (the clusters to collect evidence from)")
    cfg = EngineConfig(data_dir=data_dir.resolve())
    sources = _dump_sources(dumps) if dumps is not None else {}
    topo = _topology(topology, sources)
    kind = detect_format(source) if fmt == "auto" else fmt
    console.print(f"replaying {source} ({kind}){' with topology of ' + str(len(sources)) + ' dumps' if sources else ''}")
    result, con = _run(source, fmt, cfg, topo, cluster, ground_truth, use_ray)
    if not no_history:
        from engine.replay import write_history

        write_history(con, cfg.data_dir / "history.duckdb")
    _print_summary(result, cfg)
    if investigate:
        _investigate(con, source, cfg, sources, investigate_max, cluster)


def _fail(message: str) -> None:
    console.print(f"[red]error:[/] {message}")
    raise typer.Exit(2)


def _run(source: Path, fmt: str, cfg: EngineConfig, topo: Any, cluster: str | None, ground_truth: Path | None,
         use_ray: bool) -> tuple[Any, Any]:
    import duckdb

    from engine.replay import replay
    from engine.replay_io import input_size

    con = duckdb.connect()
    columns = [TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>5.1f}%"),
               TextColumn("{task.fields[alerts]:>10,} alerts  {task.fields[rate]:>10,.0f} alerts/s  "
                          "{task.fields[incidents]} incidents"), TimeElapsedColumn()]
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task("reading", total=input_size(source), alerts=0, rate=0.0, incidents="…")

        def on_chunk(units: int, alerts: int) -> None:
            elapsed = progress.tasks[task].elapsed or 1e-9
            progress.update(task, completed=units, alerts=alerts, rate=alerts / elapsed)

        if use_ray:
            from serve.replay_ray import replay_on_ray

            result = replay_on_ray(source, cfg.correlation, fmt=fmt, topology=topo, path_cluster=cluster,  # type: ignore[arg-type]
                                   ground_truth=ground_truth, out_dir=cfg.data_dir / "replay", con=con,
                                   on_chunk=on_chunk)
        else:
            result = replay(source, cfg.correlation, fmt=fmt, topology=topo, path_cluster=cluster,  # type: ignore[arg-type]
                            ground_truth=ground_truth, out_dir=cfg.data_dir / "replay", con=con, on_chunk=on_chunk)
        progress.update(task, description="correlated", completed=progress.tasks[task].total,
                        rate=result.alerts / max(result.seconds, 1e-9), incidents=f"{result.incidents:,}")
    return result, con


def _dump_sources(root: Path) -> dict[str, Any]:
    from clusters.dump import DumpSource

    if not root.is_dir():
        _fail(f"--dumps {root}: not a directory")
    dirs = [root] if (root / "nodes.json").exists() else sorted(
        d / "dump" if (d / "dump").is_dir() else d for d in root.iterdir()
        if (d / "dump" / "nodes.json").exists() or (d / "nodes.json").exists())
    if not dirs:
        _fail(f"--dumps {root}: no dump found (nodes.json) in it or in its subdirectories")
    sources = {}
    for d in dirs:
        name = d.parent.name if d.name == "dump" else None
        src = DumpSource(d, name=name) if name else DumpSource(d)
        sources[src.name] = src
    return sources


def _topology(path: Path | None, sources: dict[str, Any]) -> Any:
    import pyarrow as pa

    from engine.replay import TOPOLOGY_SCHEMA, topology_from_sources

    tables = [topology_from_sources(sources)] if sources else []
    if path is not None:
        if path.suffix == ".parquet":
            import pyarrow.parquet as pq

            t = pq.read_table(path)
        else:
            import pyarrow.json as pj

            t = pj.read_json(path)
        tables.append(t.select([f.name for f in TOPOLOGY_SCHEMA]).cast(TOPOLOGY_SCHEMA))
    return pa.concat_tables(tables) if tables else None


def _print_summary(result: Any, cfg: EngineConfig) -> None:
    table = Table(title="replay")
    table.add_column("what")
    table.add_column("value", justify="right")
    rows: list[tuple[str, str]] = [
        ("alerts read", f"{result.alerts:,}"), ("alert episodes", f"{result.episodes:,}"),
        ("clusters", f"{result.clusters:,}"), ("incidents (per cluster)", f"{result.incidents:,}"),
        ("fleet incidents", f"{result.fleet_incidents:,}"), ("open at the end", f"{result.open_incidents:,}"),
        ("would investigate", f"{result.to_investigate:,}"), ("seconds", f"{result.seconds:.2f}"),
        ("alerts/s", f"{result.alerts / max(result.seconds, 1e-9):,.0f}"),
    ]
    if result.score is not None:
        s = result.score
        rows += [("precision (pairwise)", f"{s.precision:.4f}"), ("recall (pairwise)", f"{s.recall:.4f}"),
                 ("F1", f"{s.f1:.4f}"), ("incidents vs truth", f"{s.incidents:,} / {s.truth_incidents:,}")]
        if s.unowned:
            rows.append(("episodes not in the truth", f"{s.unowned:,}"))
    for k, v in rows:
        table.add_row(k, v)
    out.print(table)
    for name, path in result.outputs.items():
        out.print(f"{name}: {path}")
    out.print(f"history: {cfg.data_dir / 'history.duckdb'}")


def _investigate(con: Any, source: Path, cfg: EngineConfig, sources: dict[str, Any], limit: int,
                 path_cluster: str | None) -> None:
    """Run the engine's investigation (collect from the dump, detectors, runbooks) per incident."""
    from engine.history import HistoryStore
    from engine.pipeline import run_incident
    from engine.replay import investigation_targets

    targets = investigation_targets(con, cfg.correlation, limit)
    incidents = _incidents(source, targets, path_cluster)
    history = HistoryStore(cfg.data_dir / "history.duckdb")
    table = Table(title=f"investigations ({len(incidents)})")
    for c in ("incident", "cluster", "subject", "category", "confidence", "fleet"):
        table.add_column(c)
    try:
        for inc in incidents:
            report = run_incident(inc, sources, cfg, history)
            rc = report.root_cause
            table.add_row(inc.id, inc.cluster, f"{inc.subject.kind}/{inc.subject.name}", rc.category,
                          f"{rc.confidence:.2f}", inc.fleet_id or "")
    finally:
        history.close()
    out.print(table)


def _incidents(source: Path, targets: list[dict[str, Any]], path_cluster: str | None) -> list[Any]:
    """Incident models with their alerts (read again from the input, only the wanted ones)."""
    from engine.alert_files import read_payloads
    from engine.alerts import AlertTarget, WebhookAlert, normalise
    from engine.correlation_rules import from_us, to_us
    from engine.incident import Incident

    wanted = {(t["cluster"], fp, s): t["id"] for t in targets for fp, s in t["episodes"]}
    fps = {(c, fp) for c, fp, _ in wanted}
    alerts: dict[str, dict[tuple[str, int], Any]] = {t["id"]: {} for t in targets}
    if source.suffix != ".parquet":
        for body in read_payloads(source):
            for raw in body.get("alerts") or []:
                labels = raw.get("labels") or {}
                cl = path_cluster or labels.get("cluster") or "unknown"
                if (cl, str(raw.get("fingerprint", "")).lower().rjust(16, "0")) not in fps:
                    continue
                a = normalise(WebhookAlert.model_validate(raw), cl)
                inc = wanted.get((cl, a.fingerprint, to_us(a.startsAt)))
                if inc is not None:
                    alerts[inc][(a.fingerprint, to_us(a.startsAt))] = a  # the last report wins
    out_incs = []
    for t in targets:
        subj = {k: v for k, v in t["subject"].items() if v is not None}
        out_incs.append(Incident(id=t["id"], cluster=t["cluster"], key=t["key"], subject=AlertTarget(**subj),
                                 opened_at=from_us(t["opened_us"]), updated_at=from_us(t["opened_us"]),
                                 alerts=list(alerts[t["id"]].values()), fleet_id=t["fleet_id"]))
    return out_incs
