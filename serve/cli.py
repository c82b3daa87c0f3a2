"""The ``fleetsre`` command line (typer + rich).

- ``fleetsre demo``: a simulated fleet with injected faults, end to end through Ray Serve.
- ``fleetsre serve --fleet FILE``: run the HTTP endpoint for a real fleet.
- ``fleetsre investigate --dump DIR --alerts FILE``: the same core in-process, without Ray.
- ``fleetsre clusters simulate``: serve dumps over the Kubernetes REST API.
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

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Investigate alerts across Kubernetes fleets.")
clusters_app = typer.Typer(no_args_is_help=True, help="Fleet registry, simulator and dumps.")
app.add_typer(clusters_app, name="clusters")
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
) -> None:
    """Generate a 3-cluster fleet with 6 faults, simulate it, post its alerts, print the incidents."""
    from serve.demo import run_demo

    ok = run_demo(data_dir=data_dir.resolve(), port=port, seed=seed, serve_forever=serve_forever, console=console,
                  out=out)
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
) -> None:
    """Investigate alerts against a dump, in-process (no Ray); print one report per incident."""
    import tempfile

    from engine.report import render_markdown
    from serve.local import investigate_dump

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
        reports, rejected = investigate_dump(dump, payloads, cfg, cluster=cluster)
    for r in rejected:
        console.print(f"[yellow]rejected alert[/] {r['field']}: {r['message']}")
    if fmt == "json":
        out.print_json(json.dumps([r.model_dump(mode="json") for r in reports]))
    else:
        sys.stdout.write("\n---\n\n".join(render_markdown(r) for r in reports))


@clusters_app.command("simulate")
def simulate(
    dumps: Annotated[list[str], typer.Argument(help="NAME=DIR pairs: each dump served as one cluster")],
    port: Annotated[int, typer.Option(help="port to listen on")] = 8001,
    out_dir: Annotated[Path, typer.Option("--out", help="where kubeconfig and fleet.yaml are written")] = Path("."),
) -> None:
    """Serve dump directories over the Kubernetes REST API, one cluster each, until interrupted."""
    from clusters.simulator import Simulator

    clusters = {}
    for item in dumps:
        name, sep, path = item.partition("=")
        if not sep or not Path(path).is_dir():
            console.print(f"[red]error:[/] {item!r}: expected NAME=DIR with an existing directory")
            raise typer.Exit(2)
        clusters[name] = Path(path)
    sim = Simulator(clusters, port=port)
    sim.start()
    out_dir.mkdir(parents=True, exist_ok=True)
    kubeconfig = sim.write_kubeconfig(out_dir / "kubeconfig")
    fleet = sim.write_fleet(out_dir / "fleet.yaml", kubeconfig)
    console.print(f"simulating {', '.join(clusters)}; kubeconfig {kubeconfig}; fleet {fleet}. Ctrl-C stops.")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
