"""``fleetsre eval``: the scenario library through a chosen reasoner, scored against its ground truth.

Each scenario (all, or ``--scenario NAME``), for each seed, is written as a dump with its alerts and
``expected.json`` (``clusters.scenarios.write_scenario``, one cluster per run) and goes through the
same in-process stages as ``fleetsre investigate`` (ingest → correlate → collect → Parquet →
investigate → reasoner), with the backend of ``--reasoner``. An expected incident scores when the
reports covering its alerts all name its category (and its trigger kind). The table gives accuracy
per category and per trigger, tool calls, tokens, the cost estimate, latency per incident (p50/p95,
collection included) and the fallbacks with their reasons; ``--json OUT`` writes it all.

The LLM backends get the semantic memory's runbook sections (and each scenario's report once
scored, so later scenarios can find earlier ones) as their ``similar_incidents``/``runbook_sections``
tools see them in production; ``--no-memory`` leaves them out.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import BaseModel, Field
from rich.console import Console
from rich.table import Table

from engine.config import EngineConfig, MemoryConfig, ReasonerConfig

__all__ = ["EvalCase", "EvalResult", "eval_cmd", "run_eval", "summarise"]


class EvalCase(BaseModel):
    """One expected incident of one scenario run, and what the backend said about it."""

    scenario: str
    seed: int
    expected_category: str
    expected_trigger: str
    got_categories: list[str] = Field(default_factory=list, description="of the reports covering its alerts")
    got_triggers: list[str] = Field(default_factory=list)
    category_ok: bool = False
    trigger_ok: bool = False
    produced_by: list[str] = Field(default_factory=list, description="backends of the covering reports")
    fallback_reasons: list[str] = Field(default_factory=list)
    tool_calls: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd_estimate: float = 0.0
    latency_s: float = Field(0.0, description="collect + investigate + reason, for the reports covering it")
    error: str | None = None


class EvalResult(BaseModel):
    backend: str
    model: str | None = None
    seeds: list[int]
    scenarios: list[str]
    cases: list[EvalCase]
    summary: dict[str, Any] = Field(default_factory=dict)


def _pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def summarise(cases: list[EvalCase]) -> dict[str, Any]:
    """Accuracy overall, per category and per trigger; usage; latency percentiles; fallbacks."""
    def acc(group: list[EvalCase]) -> dict[str, Any]:
        n = len(group)
        return {"incidents": n, "category_accuracy": round(sum(c.category_ok for c in group) / n, 4) if n else 0.0,
                "trigger_accuracy": round(sum(c.trigger_ok for c in group) / n, 4) if n else 0.0,
                "both_accuracy": round(sum(c.category_ok and c.trigger_ok for c in group) / n, 4) if n else 0.0}

    by_cat: dict[str, list[EvalCase]] = defaultdict(list)
    by_trig: dict[str, list[EvalCase]] = defaultdict(list)
    for c in cases:
        by_cat[c.expected_category].append(c)
        by_trig[c.expected_trigger].append(c)
    lat = [c.latency_s for c in cases if c.error is None]
    fallbacks = Counter(r for c in cases for r in c.fallback_reasons)
    return {
        "overall": acc(cases),
        "per_category": {k: acc(v) for k, v in sorted(by_cat.items())},
        "per_trigger": {k: acc(v) for k, v in sorted(by_trig.items())},
        "tool_calls": sum(c.tool_calls for c in cases),
        "tokens_in": sum(c.tokens_in for c in cases),
        "tokens_out": sum(c.tokens_out for c in cases),
        "cost_usd_estimate": round(sum(c.cost_usd_estimate for c in cases), 6),
        "latency_s": {"p50": round(_pct(lat, 0.5), 3), "p95": round(_pct(lat, 0.95), 3),
                      "mean": round(statistics.fmean(lat), 3) if lat else 0.0},
        "produced_by": dict(Counter(p for c in cases for p in c.produced_by)),
        "fallbacks": sum(fallbacks.values()),
        "fallback_reasons": dict(fallbacks.most_common()),
        "errors": sum(c.error is not None for c in cases),
    }


def _run_one(name: str, seed: int, work: Path, cfg: EngineConfig, memory: Any) -> list[EvalCase]:
    """One scenario, one seed: write it, run every incident through the pipeline, score each expected one."""
    from clusters.dump import DumpSource
    from clusters.scenarios import write_scenario
    from engine.alert_files import read_payloads
    from engine.correlate import Correlator
    from engine.history import HistoryStore
    from engine.ingest import Ingestor
    from engine.pipeline import run_incident
    from engine.reasoning import make_reasoner
    from engine.runbooks import load_runbooks

    cluster = f"eval-{seed}"
    result = write_scenario(name, work / f"{name}-{seed}", seed=seed, cluster=cluster)
    run_cfg = cfg.model_copy(update={"data_dir": work / f"{name}-{seed}" / "data"})
    run_cfg.data_dir.mkdir(parents=True, exist_ok=True)
    source = DumpSource(result.dump, name=cluster)
    runbooks = load_runbooks(cfg.runbooks_dir)
    history = HistoryStore(run_cfg.data_dir / "history.duckdb")
    reports, timing = [], {}
    try:
        correlator = Correlator(run_cfg.correlation)
        ingestor = Ingestor(history, correlator)
        for body in read_payloads(result.alerts):
            ingestor.receive(body, path_cluster=cluster)
        reasoner = make_reasoner(run_cfg.reasoner, history=history, memory=memory, runbooks=runbooks)
        for inc in [i for i in correlator.incidents.values() if i.status != "merged"]:
            started = time.perf_counter()
            report = run_incident(inc, {cluster: source}, run_cfg, history, runbooks=runbooks, reasoner=reasoner)
            timing[report.incident_id] = time.perf_counter() - started
            reports.append((inc, report))
    finally:
        history.close()
    cases, counted = [], set()
    for exp in result.incidents:
        covering = [(i, r) for i, r in reports if set(exp["alerts"]) & set(r.alerts)]
        cats = sorted({r.root_cause.category for _, r in covering})
        trigs = sorted({r.root_cause.trigger.kind for _, r in covering})
        # a report covering two expected incidents counts its tokens, tools and fallback once
        rs = [r.reasoning for _, r in covering if r.reasoning and r.incident_id not in counted]
        counted |= {r.incident_id for _, r in covering}
        cases.append(EvalCase(
            scenario=name, seed=seed, expected_category=exp["category"], expected_trigger=exp["trigger"],
            got_categories=cats, got_triggers=trigs, category_ok=cats == [exp["category"]],
            trigger_ok=trigs == [exp["trigger"]], produced_by=sorted({r.backend for _, r in covering}),
            fallback_reasons=[x.fallback_reason for x in rs if x.fallback_reason],
            tool_calls=sum(x.tool_calls for x in rs), tokens_in=sum(x.tokens_in for x in rs),
            tokens_out=sum(x.tokens_out for x in rs), cost_usd_estimate=sum(x.cost_usd_estimate for x in rs),
            latency_s=round(sum(timing[r.incident_id] for _, r in covering), 4),
            error=None if covering else "no report covers the scenario's alerts"))
    if memory is not None:  # later scenarios may find this one, as resolved incidents are found in production
        for inc, r in reports:
            memory.index_report(r, alertnames=[a.alertname for a in inc.alerts], opened_at=inc.opened_at,
                                resolved_at=inc.updated_at)
    return cases


def run_eval(scenarios: list[str], seeds: list[int], cfg: EngineConfig, *, work: Path,
             memory: Any = None, progress: Any = None) -> EvalResult:
    """Every scenario × seed through ``cfg.reasoner``; ``progress(name, seed, cases)`` after each run."""
    cases: list[EvalCase] = []
    for seed in seeds:
        for name in scenarios:
            got = _run_one(name, seed, work, cfg, memory)
            cases += got
            if progress:
                progress(name, seed, got)
    r = cfg.reasoner
    model = {"claude": r.claude.model, "vllm": r.vllm.model}.get(r.backend)
    return EvalResult(backend=r.backend, model=model, seeds=seeds, scenarios=scenarios, cases=cases,
                      summary=summarise(cases))


def _fmt_pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def print_result(result: EvalResult, out: Console) -> None:
    s = result.summary
    for title, key in (("category", "per_category"), ("trigger", "per_trigger")):
        t = Table(title=f"Accuracy per expected {title} ({result.backend})")
        t.add_column(title)
        t.add_column("incidents", justify="right")
        t.add_column("category", justify="right")
        t.add_column("trigger", justify="right")
        t.add_column("both", justify="right")
        for name, a in s[key].items():
            t.add_row(name, str(a["incidents"]), _fmt_pct(a["category_accuracy"]), _fmt_pct(a["trigger_accuracy"]),
                      _fmt_pct(a["both_accuracy"]))
        out.print(t)
    o = s["overall"]
    t = Table(title="Overall", show_header=False)
    t.add_column("what")
    t.add_column("value", justify="right")
    rows = [
        ("backend", result.backend + (f" ({result.model})" if result.model else "")),
        ("incidents", str(o["incidents"])),
        ("category accuracy", _fmt_pct(o["category_accuracy"])),
        ("trigger accuracy", _fmt_pct(o["trigger_accuracy"])),
        ("category and trigger", _fmt_pct(o["both_accuracy"])),
        ("tool calls", str(s["tool_calls"])),
        ("tokens in / out", f"{s['tokens_in']} / {s['tokens_out']}"),
        ("cost estimate (USD)", f"{s['cost_usd_estimate']:.4f}"),
        ("latency per incident p50 / p95 (s)", f"{s['latency_s']['p50']:.2f} / {s['latency_s']['p95']:.2f}"),
        ("produced by", ", ".join(f"{k} {v}" for k, v in s["produced_by"].items()) or "-"),
        ("fallbacks", str(s["fallbacks"])),
    ]
    for what, value in rows:
        t.add_row(what, value)
    out.print(t)
    if s["fallback_reasons"]:
        t = Table(title="Fallback reasons")
        t.add_column("reason")
        t.add_column("count", justify="right")
        for reason, n in s["fallback_reasons"].items():
            t.add_row(reason, str(n))
        out.print(t)
    misses = [c for c in result.cases if not (c.category_ok and c.trigger_ok)]
    if misses:
        t = Table(title="Misses")
        for col in ("scenario", "seed", "expected", "got", "produced by"):
            t.add_column(col)
        for c in misses:
            t.add_row(c.scenario, str(c.seed), f"{c.expected_category} / {c.expected_trigger}",
                      c.error or f"{', '.join(c.got_categories)} / {', '.join(c.got_triggers)}",
                      ", ".join(c.produced_by))
        out.print(t)


def _parse_seeds(text: str) -> list[int]:
    try:
        seeds = [int(s) for s in text.replace(" ", "").split(",") if s]
    except ValueError as exc:
        raise typer.BadParameter(f"--seeds takes comma-separated integers, got {text!r}") from exc
    if not seeds:
        raise typer.BadParameter("--seeds needs at least one seed")
    return seeds


def eval_cmd(
    scenario: Annotated[list[str] | None, typer.Option("--scenario", help="a scenario of the library (repeat for "
                                                                          "several; default: all)")] = None,
    seeds: Annotated[str, typer.Option("--seeds", help="comma-separated seeds, e.g. 1,2,3")] = "1",
    reasoner: Annotated[str, typer.Option("--reasoner", help="rules, claude or vllm")] = "rules",
    llm_base_url: Annotated[str | None, typer.Option("--llm-base-url", help="API base URL of the claude or vllm "
                                                                            "backend")] = None,
    llm_model: Annotated[str | None, typer.Option("--llm-model", help="model id of the claude or vllm backend")]
    = None,
    memory: Annotated[bool, typer.Option("--memory/--no-memory", help="give LLM backends the semantic memory "
                                                                      "(runbook sections, earlier scenarios)")] = True,
    embedding: Annotated[str, typer.Option("--embedding", help="memory embeddings: auto, dense or sparse")] = "auto",
    json_out: Annotated[Path | None, typer.Option("--json", help="write the results (cases and summary) here")] = None,
    data_dir: Annotated[Path | None, typer.Option("--data-dir", help="keep dumps, evidence and history here")] = None,
    fail_under: Annotated[float | None, typer.Option("--fail-under", help="exit 1 when category accuracy is "
                                                                          "below this (0-1)")] = None,
) -> None:
    """Run the scenario library through a reasoner backend; print accuracy, tool calls, tokens, latency."""
    from clusters.scenarios import SCENARIOS

    err = Console(stderr=True, soft_wrap=True)
    names = list(scenario) if scenario else sorted(SCENARIOS)
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        err.print(f"[red]error:[/] unknown scenario(s) {', '.join(unknown)}; known: {', '.join(sorted(SCENARIOS))}")
        raise typer.Exit(2)
    if reasoner not in ("rules", "claude", "vllm"):
        err.print(f"[red]error:[/] --reasoner must be rules, claude or vllm, not {reasoner!r}")
        raise typer.Exit(2)
    if embedding not in ("auto", "dense", "sparse"):
        err.print(f"[red]error:[/] --embedding must be auto, dense or sparse, not {embedding!r}")
        raise typer.Exit(2)
    seed_list = _parse_seeds(seeds)
    rcfg = ReasonerConfig(backend=reasoner)  # type: ignore[arg-type]
    over = {k: v for k, v in (("base_url", llm_base_url), ("model", llm_model)) if v}
    if reasoner == "claude" and over:
        rcfg.claude = rcfg.claude.model_copy(update=over)
    elif reasoner == "vllm" and over:
        rcfg.vllm = rcfg.vllm.model_copy(update=over)
    out = Console(width=None if sys.stdout.isatty() else 160)

    with tempfile.TemporaryDirectory(prefix="fleetsre-eval-") as tmp:
        work = (data_dir or Path(tmp)).resolve()
        work.mkdir(parents=True, exist_ok=True)
        cfg = EngineConfig(data_dir=work, reasoner=rcfg,
                           memory=MemoryConfig(path=Path(":memory:"), embedding=embedding))  # type: ignore[arg-type]
        mem = None
        if memory and reasoner != "rules":  # the rules backend asks no tools
            from engine.memory import SemanticMemory
            from engine.runbooks import load_runbooks

            mem = SemanticMemory.open(cfg.memory, work)
            mem.index_runbooks(load_runbooks(cfg.runbooks_dir).runbooks)

        def progress(name: str, seed: int, cases: list[EvalCase]) -> None:
            ok = sum(c.category_ok and c.trigger_ok for c in cases)
            err.print(f"{name} seed {seed}: {ok}/{len(cases)} right")

        try:
            result = run_eval(names, seed_list, cfg, work=work, memory=mem, progress=progress)
        finally:
            if mem is not None:
                mem.close()
    print_result(result, out)
    if json_out:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(result.model_dump(mode="json"), indent=2))
        err.print(f"wrote {json_out}")
    if fail_under is not None and result.summary["overall"]["category_accuracy"] < fail_under:
        raise typer.Exit(1)
