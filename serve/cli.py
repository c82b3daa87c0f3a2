"""The ``fleetsre`` command line (typer + rich).

- ``fleetsre demo``: a simulated fleet with injected faults, end to end through Ray Serve.
- ``fleetsre serve --fleet FILE``: run the HTTP endpoint for a real fleet.
- ``fleetsre investigate --dump DIR --alerts FILE [--reasoner rules|claude|vllm]``: the same core in-process,
  without Ray.
- ``fleetsre replay INPUT [--ground-truth F]``: historical alerts through correlation v2, vectorised, in event time.
- ``fleetsre eval --reasoner NAME``: the scenario library through a reasoner: accuracy, tokens, latency.
- ``fleetsre clusters simulate``: serve dumps, scenarios or fleets over the Kubernetes REST API, with faults.
- ``fleetsre clusters dump --context NAME --out DIR``: capture a live cluster as a dump directory.
- ``fleetsre runbooks check|list|test``: validate the runbooks, dry-run which one an incident gets.
- ``fleetsre deploy render --out DIR``: write serve-config.yaml and the KubeRay RayService (ray-cluster.yaml).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from engine.alert_files import AlertFileError, read_payloads
from engine.config import EngineConfig, ReasonerConfig
from serve.eval_cli import eval_cmd
from serve.replay_cli import replay_cmd
from serve.runbooks_cli import runbooks_app

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Investigate alerts across Kubernetes fleets.")
clusters_app = typer.Typer(no_args_is_help=True, help="Fleet registry, simulator and dumps.")
app.add_typer(clusters_app, name="clusters")
app.add_typer(runbooks_app, name="runbooks")
deploy_app = typer.Typer(no_args_is_help=True, help="Production shape: Serve config and KubeRay RayService.")
app.add_typer(deploy_app, name="deploy")
app.command("eval")(eval_cmd)  # fleetsre eval: the scenario library through a reasoner, scored
app.command("replay")(replay_cmd)  # fleetsre replay: historical alerts through correlation v2, scored
console = Console(stderr=True, soft_wrap=True)  # error lines stay whole (paths are long)
# tables stay readable when piped or captured (CI logs): no 80-column squeeze
out = Console(width=None if sys.stdout.isatty() else 160)

DataDir = Annotated[Path, typer.Option("--data-dir", help="where evidence (Parquet) and history (DuckDB) go")]


@app.command()
def demo(
    serve_forever: Annotated[bool, typer.Option("--serve", help="keep the endpoint running after the demo")] = False,
    data_dir: DataDir = Path("fleetsre-data"),
    port: Annotated[int, typer.Option(help="HTTP port of the Serve endpoint")] = 8000,
    seed: Annotated[int, typer.Option(help="seed of the generated fleet")] = 0,
    mode: Annotated[str, typer.Option("--mode", help="recommend (changes nothing) or auto (runbooks act on the "
                                                     "simulated clusters)")] = "recommend",
) -> None:
    """Generate a 3-cluster fleet with 6 faults, simulate it, post its alerts, print the incidents."""
    from serve.demo import run_demo

    _check_mode(mode)
    ok = run_demo(data_dir=data_dir.resolve(), port=port, seed=seed, serve_forever=serve_forever, console=console,
                  out=out, mode=mode)
    raise typer.Exit(0 if ok else 1)


@app.command("serve")
def serve_cmd(
    fleet: Annotated[Path, typer.Option("--fleet", help="fleet registry (fleet.yaml)")],
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="HTTP port")] = 8000,
    data_dir: DataDir = Path("fleetsre-data"),
    config: Annotated[Path | None, typer.Option(
        "--config", envvar="FLEETSRE_CONFIG",
        help="engine settings, YAML or JSON (EngineConfig: correlation, collect, ingest, reasoner, memory, ...)")] = None,
    reasoner: Annotated[str | None, typer.Option(
        "--reasoner", help="rules, claude (ANTHROPIC_API_KEY in the environment) or vllm; overrides --config")] = None,
) -> None:
    """Run the webhook endpoint and the investigation engine for a fleet until interrupted."""
    from clusters.fleet import FleetError, load_fleet
    from engine.config import ConfigError, load_config
    from serve import app as wiring

    try:
        registry = load_fleet(fleet)
        cfg = load_config(config) if config else EngineConfig()
        updates: dict = {"data_dir": data_dir.resolve()}
        if reasoner:
            updates["reasoner"] = cfg.reasoner.model_copy(update={"backend": reasoner})
        cfg = EngineConfig.model_validate({**cfg.model_dump(), **updates})
    except (FleetError, ConfigError) as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from exc
    except ValueError as exc:  # pydantic: an unknown --reasoner
        console.print(f"[red]error:[/] --reasoner: {exc.errors()[0]['msg'] if hasattr(exc, 'errors') else exc}")
        raise typer.Exit(2) from exc
    with console.status("starting Ray and the Serve application"):
        url = wiring.run(registry, cfg, host=host, port=port)
    console.print(f"fleetsre listening on [bold]{url}[/] for {len(registry.clusters)} cluster(s); "
                  f"Alertmanager webhook: {url}/webhook/alertmanager/<cluster>. Ctrl-C stops.")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        console.print("stopping")
    finally:
        wiring.shutdown()


@app.command()
def investigate(
    dump: Annotated[Path, typer.Option("--dump", help="a `kubectl cluster-info dump` directory")],
    alerts: Annotated[Path, typer.Option("--alerts", help="one webhook payload, a JSON list of them, or JSONL")],
    fmt: Annotated[str, typer.Option("--format", help="json or markdown")] = "json",
    cluster: Annotated[str | None, typer.Option(help="cluster name (default: from the dump)")] = None,
    data_dir: Annotated[Path | None, typer.Option("--data-dir", help="keep evidence and history here")] = None,
    mode: Annotated[str, typer.Option("--mode", help="runbook steps: recommend (write the action and command) or "
                                                     "auto (needs a live cluster)")] = "recommend",
    runbooks: Annotated[Path | None, typer.Option("--runbooks", help="runbook directory (default: runbooks/)")] = None,
    reasoner: Annotated[str, typer.Option("--reasoner", help="rules (deterministic), claude (needs "
                                                             "ANTHROPIC_API_KEY) or vllm (an OpenAI-compatible "
                                                             "endpoint)")] = "rules",
    llm_base_url: Annotated[str | None, typer.Option("--llm-base-url", help="API base URL of the claude or vllm "
                                                                            "backend")] = None,
    llm_model: Annotated[str | None, typer.Option("--llm-model", help="model id for the claude or vllm backend")]
    = None,
) -> None:
    """Investigate alerts against a dump, in-process (no Ray); print one report per incident."""
    import tempfile

    from engine.report import render_markdown
    from engine.runbooks import RunbookError, load_runbooks
    from serve.local import investigate_dump

    _check_mode(mode)
    if mode == "auto":
        console.print("[red]error:[/] --mode auto changes a cluster, and a dump cannot be changed: use --mode recommend "
                      "(the default) to get the exact actions and kubectl commands")
        raise typer.Exit(2)
    try:
        runbook_set = load_runbooks(runbooks)
    except RunbookError as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from exc

    if fmt not in ("json", "markdown"):
        console.print(f"[red]error:[/] --format must be json or markdown, not {fmt!r}")
        raise typer.Exit(2)
    if not dump.is_dir():
        console.print(f"[red]error:[/] --dump {dump}: not a directory")
        raise typer.Exit(2)
    try:
        payloads = read_payloads(alerts)
    except AlertFileError as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from exc
    reasoner_cfg = _reasoner_config(reasoner, llm_base_url, llm_model)
    with tempfile.TemporaryDirectory(prefix="fleetsre-") as tmp:
        cfg = EngineConfig(data_dir=(data_dir or Path(tmp)).resolve(), reasoner=reasoner_cfg)
        reports, rejected = investigate_dump(dump, payloads, cfg, cluster=cluster, runbooks=runbook_set)
    for r in rejected:
        console.print(f"[yellow]rejected alert[/] {r['field']}: {r['message']}")
    if reasoner != "rules":
        for rep in reports:
            why = rep.reasoning.fallback_reason if rep.reasoning else None
            console.print(f"{rep.incident_id}: produced by [bold]{rep.backend}[/]"
                          + (f" (fell back: {why})" if why else "") + (f"; {rep.reasoning.note}"
                                                                      if rep.reasoning and rep.reasoning.note else ""))
    if fmt == "json":
        out.print_json(json.dumps([r.model_dump(mode="json") for r in reports]))
    else:
        sys.stdout.write("\n---\n\n".join(render_markdown(r) for r in reports))


def _reasoner_config(backend: str, base_url: str | None, model: str | None) -> ReasonerConfig:
    if backend not in ("rules", "claude", "vllm"):
        console.print(f"[red]error:[/] --reasoner must be rules, claude or vllm, not {backend!r}")
        raise typer.Exit(2)
    cfg = ReasonerConfig(backend=backend)  # type: ignore[arg-type]
    over = {k: v for k, v in (("base_url", base_url), ("model", model)) if v}
    if backend == "claude" and over:
        cfg.claude = cfg.claude.model_copy(update=over)
    elif backend == "vllm" and over:
        cfg.vllm = cfg.vllm.model_copy(update=over)
    return cfg


def _check_mode(mode: str) -> None:
    if mode not in ("recommend", "auto"):
        console.print(f"[red]error:[/] --mode must be recommend or auto, not {mode!r}")
        raise typer.Exit(2)


_PASS_THROUGH = {"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []}


@deploy_app.command("render")
def deploy_render(
    out_dir: Annotated[Path, typer.Option("--out", help="directory to write serve-config.yaml and ray-cluster.yaml to")],
    fleet_path: Annotated[str, typer.Option("--fleet-path", help="fleet.yaml inside the pods (the Secret's mount)")]
    = "/etc/fleetsre/fleet.yaml",
    data_dir: Annotated[str, typer.Option("--data-dir", help="data dir inside the pods (the PVC's mount)")]
    = "/var/lib/fleetsre",
    llm: Annotated[bool, typer.Option("--llm", help="add a GPU worker group and the `llm` application (vLLM)")] = False,
    mode: Annotated[str, typer.Option("--mode", help="recommend or auto (bind the remediation ClusterRole too)")]
    = "recommend",
    image: Annotated[str, typer.Option("--image", help="fleetsre image for head and workers")]
    = "registry.example.com/fleetsre:0.1.0",
    namespace: Annotated[str, typer.Option("--namespace", help="namespace of the RayService")] = "fleetsre",
    zone: Annotated[list[str] | None, typer.Option("--zone", help="a network zone of the fleet: one worker group "
                                                                  "advertising zone:<zone> (repeatable)")] = None,
    fleet_file: Annotated[Path | None, typer.Option("--fleet", help="a local fleet.yaml: a worker group for each of "
                                                                    "its zones")] = None,
    fleet_revision: Annotated[str | None, typer.Option("--fleet-revision", help="bump after changing the fleet "
                                                       "Secret: KubeRay redeploys the app, which reloads the fleet")]
    = None,
    config_path: Annotated[str | None, typer.Option("--config-path", help="engine settings (YAML) inside the pods, "
                                                    "e.g. /etc/fleetsre/engine.yaml in the fleet Secret")] = None,
) -> None:
    """Write the Serve config and the KubeRay RayService that embeds it."""
    from clusters.fleet import FleetError, load_fleet
    from serve.deploy import RenderOptions, render

    try:
        zones = list(zone or []) + (load_fleet(fleet_file).zones() if fleet_file else [])
        opts = RenderOptions(fleet_path=fleet_path, data_dir=data_dir, llm=llm, mode=mode,  # type: ignore[arg-type]
                             image=image, namespace=namespace, zones=tuple(dict.fromkeys(zones)),
                             fleet_revision=fleet_revision, config_path=config_path)
    except (ValueError, FleetError) as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from exc
    for path in render(opts, out_dir):
        console.print(f"wrote {path}")


@clusters_app.command("simulate", context_settings=_PASS_THROUGH, add_help_option=False)
def simulate(ctx: typer.Context) -> None:
    """Serve dumps, generated scenarios or fleets over the Kubernetes REST API, with faults (--help for all)."""
    from clusters.simulator.cli import main as simulate_main

    raise typer.Exit(simulate_main(list(ctx.args)))


@clusters_app.command("dump")
def dump_cmd(
    context: Annotated[str, typer.Option("--context", help="kubeconfig context of the cluster to capture")],
    out_dir: Annotated[Path, typer.Option("--out", help="new (or empty) directory to write the dump to")],
    kubeconfig: Annotated[str | None, typer.Option(help="kubeconfig (default $KUBECONFIG, else ~/.kube/config)")] = None,
    namespaces: Annotated[str | None, typer.Option(help="comma-separated namespaces (default: all)")] = None,
    all_namespaces: Annotated[bool, typer.Option("--all-namespaces", "-A", help="every namespace (the default)")] = False,
    previous_logs: Annotated[bool, typer.Option(help="logs.previous.txt for restarted containers")] = True,
    tail_lines: Annotated[int | None, typer.Option(min=1, help="last N lines of each log (default: all)")] = None,
    configmaps: Annotated[bool, typer.Option(help="configmaps.json with data keys only (never values)")] = True,
    concurrency: Annotated[int, typer.Option(min=1, help="API calls in flight")] = 8,
    request_timeout: Annotated[float, typer.Option("--request-timeout", help="seconds per API call")] = 30.0,
    cluster: Annotated[str | None, typer.Option(help="cluster name in fleetsre-dump.json (default: the context)")] = None,
) -> None:
    """Capture a live cluster in `kubectl cluster-info dump` layout, plus previous logs; never Secrets."""
    from clusters.capture import CaptureOptions
    from clusters.capture_cli import DumpRequest, run_dump

    if namespaces and all_namespaces:
        console.print("[red]error:[/] give --namespaces or --all-namespaces, not both")
        raise typer.Exit(2)
    chosen = tuple(n.strip() for n in namespaces.split(",") if n.strip()) if namespaces else None
    options = CaptureOptions(namespaces=chosen or None, previous_logs=previous_logs, tail_lines=tail_lines,
                             configmaps=configmaps, concurrency=concurrency)
    request = DumpRequest(context=context, out=out_dir, kubeconfig=kubeconfig, cluster=cluster, options=options,
                          request_timeout_s=request_timeout)
    raise typer.Exit(run_dump(request, console))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
