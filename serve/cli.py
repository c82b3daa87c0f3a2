"""The ``fleetsre`` command line (typer + rich).

- ``fleetsre demo``: a simulated fleet with injected faults, end to end through Ray Serve.
- ``fleetsre serve --fleet FILE``: run the HTTP endpoint for a real fleet.
- ``fleetsre investigate --dump DIR --alerts FILE``: the same core in-process, without Ray.
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
from engine.config import EngineConfig
from serve.runbooks_cli import runbooks_app

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Investigate alerts across Kubernetes fleets.")
clusters_app = typer.Typer(no_args_is_help=True, help="Fleet registry, simulator and dumps.")
app.add_typer(clusters_app, name="clusters")
app.add_typer(runbooks_app, name="runbooks")
deploy_app = typer.Typer(no_args_is_help=True, help="Production shape: Serve config and KubeRay RayService.")
app.add_typer(deploy_app, name="deploy")
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
) -> None:
    """Run the webhook endpoint and the investigation engine for a fleet until interrupted."""
    from clusters.fleet import FleetError, load_fleet
    from serve import app as wiring

    try:
        registry = load_fleet(fleet)
    except FleetError as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from exc
    cfg = EngineConfig(data_dir=data_dir.resolve())
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
    with tempfile.TemporaryDirectory(prefix="fleetsre-") as tmp:
        cfg = EngineConfig(data_dir=(data_dir or Path(tmp)).resolve())
        reports, rejected = investigate_dump(dump, payloads, cfg, cluster=cluster, runbooks=runbook_set)
    for r in rejected:
        console.print(f"[yellow]rejected alert[/] {r['field']}: {r['message']}")
    if fmt == "json":
        out.print_json(json.dumps([r.model_dump(mode="json") for r in reports]))
    else:
        sys.stdout.write("\n---\n\n".join(render_markdown(r) for r in reports))


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
) -> None:
    """Write the Serve config and the KubeRay RayService that embeds it."""
    from serve.deploy import RenderOptions, render

    try:
        opts = RenderOptions(fleet_path=fleet_path, data_dir=data_dir, llm=llm, mode=mode,  # type: ignore[arg-type]
                             image=image, namespace=namespace)
    except ValueError as exc:
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
