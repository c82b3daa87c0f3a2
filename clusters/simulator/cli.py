"""``fleetsre clusters simulate``: serve dump directories as a fleet until interrupted.

    python -m clusters.simulator --cluster prod-eu-1=DUMP_DIR --cluster staging=DIR2 \\
        --faults faults.yaml --kubeconfig out/kubeconfig --fleet out/fleet.yaml

``--faults`` is a YAML/JSON mapping of cluster name to its faults (see ``faults.py``).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from typing import Any

import yaml

from clusters.simulator.server import Simulator

__all__ = ["main", "parse_args", "run"]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="fleetsre clusters simulate", description=__doc__.splitlines()[0])
    parser.add_argument("--cluster", action="append", default=[], metavar="NAME=DIR", required=True,
                        help="a cluster served from a dump directory (repeat for more)")
    parser.add_argument("--faults", type=Path, help="YAML/JSON file: cluster name -> faults")
    parser.add_argument("--alertmanager", action="append", default=[], metavar="NAME=URL",
                        help="alertmanager_url to put in fleet.yaml for a cluster")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--kubeconfig", type=Path, default=Path("simulator-kubeconfig.yaml"))
    parser.add_argument("--fleet", type=Path, default=Path("fleet.yaml"))
    return parser.parse_args(argv)


def _pairs(values: list[str], what: str) -> dict[str, str]:
    pairs = {}
    for value in values:
        name, sep, rest = value.partition("=")
        if not sep or not name or not rest:
            raise SystemExit(f"--{what} expects NAME=VALUE, got {value!r}")
        pairs[name] = rest
    return pairs


def run(args: argparse.Namespace, stop: threading.Event, out: Any = sys.stdout) -> int:
    """Serve until ``stop`` is set; writes the kubeconfig and fleet files first."""
    faults = yaml.safe_load(args.faults.read_text()) if args.faults else {}
    clusters = {name: Path(path) for name, path in _pairs(args.cluster, "cluster").items()}
    with Simulator(clusters, faults=faults or {}, host=args.host, port=args.port) as simulator:
        kubeconfig = simulator.write_kubeconfig(args.kubeconfig)
        fleet = simulator.write_fleet(args.fleet, kubeconfig, _pairs(args.alertmanager, "alertmanager"))
        print(f"serving {len(clusters)} cluster(s) at {simulator.base_url}/clusters/<name>", file=out)
        print(f"kubeconfig: {kubeconfig}\nfleet: {fleet}", file=out, flush=True)
        stop.wait()
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    stop = threading.Event()
    # SIGTERM (a container stop) ends the simulator as cleanly as Ctrl-C.
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        return run(args, stop)
    except KeyboardInterrupt:
        return 0
