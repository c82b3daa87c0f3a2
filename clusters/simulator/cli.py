"""``fleetsre clusters simulate`` (also ``python -m clusters.simulator``): serve a fleet until interrupted.

Clusters come from any mix of::

    NAME=DIR ...  or  --cluster NAME=DIR     dump directories, one cluster each
    --scenario NAME[=CLUSTER] [--seed N]     a generated scenario (repeatable; ``all``: the library)
    --fleet-demo                             the 3-cluster demo fleet (clusters.scenarios.write_fleet)
    --fleet-scale N                          N generated clusters (clusters.scenarios.write_fleet_at_scale)
    --from-fleet FLEET.yaml                  the ``dump:`` clusters of a fleet registry, with their faults

Faults (``clusters/simulator/faults.py``) come from ``--faults FILE`` (a mapping cluster -> faults,
or a fleet.yaml) and ``--fault CLUSTER:SPEC`` (repeatable, wins over the file)::

    latency_ms=200   latency_ms=50/800 (p50/p99)   error_rate=0.2   throttle_rate=0.1
    unreachable (connections refused)   timeout (connections hang)   forbidden=pods,events

It writes ``<out>/kubeconfig`` and ``<out>/fleet.yaml`` (generated data goes under ``<out>`` too)
and prints them with the ``fleetsre serve`` command that uses them.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from clusters import rfc3339
from clusters.simulator.server import Simulator

__all__ = ["Plan", "build_plan", "main", "parse_args", "parse_fault", "run"]


_DESCRIPTION = ("Serve dump directories, generated scenarios or fleets over the Kubernetes REST API, with "
                "per-cluster faults, until interrupted; writes a kubeconfig and a fleet.yaml for them.")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="fleetsre clusters simulate", description=_DESCRIPTION,
                                     epilog="faults: " + ", ".join(_FAULT_FORMS), allow_abbrev=False)
    parser.add_argument("dumps", nargs="*", metavar="NAME=DIR", help="a dump directory served as cluster NAME")
    parser.add_argument("--cluster", action="append", default=[], metavar="NAME=DIR", help="same as NAME=DIR")
    parser.add_argument("--scenario", action="append", default=[], metavar="NAME[=CLUSTER]",
                        help="generate a scenario and serve it (cluster name: the scenario's, '_' -> '-'); "
                             "'all' for every scenario of the library")
    parser.add_argument("--seed", type=int, default=0, help="seed of generated scenarios and fleets")
    parser.add_argument("--now", help="capture time of generated data (RFC 3339 or 'now'; default: fixed)")
    parser.add_argument("--fleet-demo", action="store_true", help="generate and serve the 3-cluster demo fleet")
    parser.add_argument("--fleet-scale", type=int, metavar="N", help="generate and serve a fleet of N clusters")
    parser.add_argument("--from-fleet", type=Path, metavar="FILE", help="serve the dump: clusters of a fleet.yaml")
    parser.add_argument("--faults", type=Path, metavar="FILE", help="YAML/JSON: cluster -> faults, or a fleet.yaml")
    parser.add_argument("--fault", action="append", default=[], metavar="CLUSTER:SPEC", help="one fault (repeatable)")
    parser.add_argument("--alertmanager", action="append", default=[], metavar="NAME=URL",
                        help="alertmanager_url to put in fleet.yaml for a cluster")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 (the default) picks a free port")
    parser.add_argument("--out", type=Path, default=Path("."), help="where kubeconfig, fleet.yaml and generated data go")
    parser.add_argument("--kubeconfig", type=Path, help="kubeconfig to write (default <out>/kubeconfig)")
    parser.add_argument("--fleet", type=Path, help="fleet registry to write (default <out>/fleet.yaml)")
    # intermixed: NAME=DIR pairs may come before, between or after the options
    return parser.parse_intermixed_args(argv)


# -- faults from the command line -------------------------------------------------------------

_FAULT_FORMS = ("latency_ms=MS", "latency_ms=P50/P99", "error_rate=F", "throttle_rate=F", "unreachable",
                "timeout", "forbidden=RES[,RES...]")


def parse_fault(text: str) -> tuple[str, dict[str, Any]]:
    """``CLUSTER:SPEC`` -> (cluster, faults dict); SystemExit naming the bad part otherwise."""
    cluster, sep, spec = text.partition(":")
    key, has_value, value = spec.partition("=")
    if not sep or not cluster or not key:
        raise SystemExit(f"--fault expects CLUSTER:SPEC, got {text!r}")
    try:
        return cluster, _fault(key, value if has_value else None)
    except ValueError as exc:
        raise SystemExit(f"--fault {text!r}: {exc}; one of {', '.join(_FAULT_FORMS)}") from None


def _fault(key: str, value: str | None) -> dict[str, Any]:
    if key in ("timeout", "hang") and value is None:
        return {"unreachable": "hang"}
    if key == "unreachable":
        return {"unreachable": value or True}
    if value is None:
        raise ValueError(f"{key} needs a value")
    if key == "latency_ms":
        p50, slash, p99 = value.partition("/")
        return {"latency_ms": {"p50": float(p50), "p99": float(p99)} if slash else float(value)}
    if key in ("error_rate", "throttle_rate"):
        return {key: float(value)}
    if key == "forbidden":
        return {"forbidden": [r for r in value.split(",") if r]}
    raise ValueError(f"unknown fault {key!r}")


# -- what to serve -------------------------------------------------------------------------------

@dataclass
class Plan:
    """The clusters to serve, with their faults, Alertmanager URLs and (generated) alert files."""

    clusters: dict[str, Path] = field(default_factory=dict)
    faults: dict[str, dict[str, Any]] = field(default_factory=dict)
    alertmanager: dict[str, str] = field(default_factory=dict)
    alerts: dict[str, Path] = field(default_factory=dict)
    merged_alerts: Path | None = None  # a generated fleet's every webhook, in send order

    def add(self, name: str, dump: Path, *, alerts: Path | None = None, alertmanager: str | None = None) -> None:
        if name in self.clusters:
            raise SystemExit(f"cluster {name!r} is given twice")
        self.clusters[name] = dump
        if alerts is not None:
            self.alerts[name] = alerts
        if alertmanager:
            self.alertmanager[name] = alertmanager


def build_plan(args: argparse.Namespace) -> Plan:
    """Everything the arguments ask for; generated scenarios and fleets are written under ``args.out``."""
    plan = Plan()
    for name, path in _pairs([*args.dumps, *args.cluster], "cluster").items():
        if not Path(path).is_dir():
            raise SystemExit(f"{name}={path}: not a directory")
        plan.add(name, Path(path))
    if args.from_fleet:
        _from_fleet(plan, args.from_fleet)
    _generate(plan, args)
    if not plan.clusters:
        raise SystemExit("nothing to serve: give NAME=DIR pairs, --scenario, --fleet-demo, --fleet-scale or --from-fleet")
    if args.faults:
        _merge_faults(plan, _faults_file(args.faults))
    _merge_faults(plan, _fault_args(args.fault))
    _drop_shared_urls(plan)
    plan.alertmanager.update(_pairs(args.alertmanager, "alertmanager"))
    return plan


def _drop_shared_urls(plan: Plan) -> None:
    """An externalURL shared by several clusters (generated scenarios all use the in-cluster default)
    cannot tell them apart: leave it out, the webhook path names the cluster."""
    seen = Counter(plan.alertmanager.values())
    plan.alertmanager = {name: url for name, url in plan.alertmanager.items() if seen[url] == 1}


def _from_fleet(plan: Plan, path: Path) -> None:
    from clusters.fleet import FleetError, load_fleet

    try:
        fleet = load_fleet(path)
    except FleetError as exc:
        raise SystemExit(str(exc)) from exc
    for entry in fleet.clusters:
        if entry.dump is not None:
            plan.add(entry.name, entry.dump, alertmanager=entry.alertmanager_url)
            if entry.faults:
                plan.faults[entry.name] = dict(entry.faults)


def _generate(plan: Plan, args: argparse.Namespace) -> None:
    now = _now(args.now)
    for name, cluster in _scenarios(args.scenario):
        from clusters.scenarios import write_scenario

        result = write_scenario(name, args.out / "scenarios" / cluster, cluster=cluster, seed=args.seed, now=now)
        plan.add(cluster, result.dump, alerts=result.alerts, alertmanager=result.external_url)
    if args.fleet_demo:
        from clusters.scenarios import write_fleet

        _add_manifest(plan, write_fleet(args.out / "fleet-demo", seed=args.seed, now=now))
    if args.fleet_scale is not None:
        _fleet_at_scale(plan, args.out / f"fleet-scale-{args.fleet_scale}", args.fleet_scale, seed=args.seed, now=now)


def _scenarios(specs: list[str]) -> list[tuple[str, str]]:
    from clusters.scenarios import SCENARIOS

    chosen = []
    for spec in specs:
        name, _, cluster = spec.partition("=")
        names = list(SCENARIOS) if name == "all" else [name]
        for n in names:
            if n not in SCENARIOS:
                raise SystemExit(f"--scenario {n!r}: unknown; known: all, {', '.join(SCENARIOS)}")
            chosen.append((n, cluster if cluster and name != "all" else n.replace("_", "-")))
    return chosen


def _fleet_at_scale(plan: Plan, out: Path, count: int, *, seed: int, now: datetime) -> None:
    import clusters.scenarios as scenarios

    write = getattr(scenarios, "write_fleet_at_scale", None)
    if write is None:
        raise SystemExit("--fleet-scale needs clusters.scenarios.write_fleet_at_scale, which this version lacks")
    if count < 1:
        raise SystemExit(f"--fleet-scale {count}: need at least one cluster")
    workers = min(4, os.cpu_count() or 1) if count >= 10 else 1  # same output, built in parallel
    manifest = write(out, clusters=count, target_alerts=100 * count, seed=seed, now=now, workers=workers)
    truth = json.loads(manifest.ground_truth.read_text())
    for c in truth["clusters"]:
        plan.add(c["name"], manifest.root / c["dump"], alerts=manifest.root / c["alerts"],
                 alertmanager=c.get("external_url"))
    plan.merged_alerts = manifest.alerts_file


def _add_manifest(plan: Plan, manifest: Any) -> None:
    for name, result in manifest.clusters.items():
        plan.add(name, result.dump, alerts=result.alerts, alertmanager=result.external_url)


def _now(value: str | None) -> datetime:
    from clusters.scenarios import DEFAULT_NOW

    if not value:
        return DEFAULT_NOW
    if value == "now":
        return datetime.now(UTC).replace(microsecond=0)
    parsed = rfc3339.parse(value)
    if parsed is None:
        raise SystemExit(f"--now {value!r}: not an RFC 3339 time")
    return parsed


def _faults_file(path: Path) -> dict[str, dict[str, Any]]:
    try:
        document = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise SystemExit(f"--faults {path}: {exc}") from exc
    if isinstance(document, dict) and isinstance(document.get("clusters"), list):  # a fleet.yaml
        return {c["name"]: c["faults"] for c in document["clusters"] if isinstance(c, dict) and c.get("faults")}
    if not isinstance(document, dict):
        raise SystemExit(f"--faults {path}: expected a mapping of cluster name to faults")
    return document


def _fault_args(values: Iterable[str]) -> dict[str, dict[str, Any]]:
    faults: dict[str, dict[str, Any]] = {}
    for value in values:
        cluster, fault = parse_fault(value)
        faults.setdefault(cluster, {}).update(fault)
    return faults


def _merge_faults(plan: Plan, faults: dict[str, dict[str, Any]]) -> None:
    unknown = sorted(set(faults) - set(plan.clusters))
    if unknown:
        raise SystemExit(f"faults for cluster(s) not served: {', '.join(unknown)}; served: {', '.join(plan.clusters)}")
    for cluster, spec in faults.items():
        plan.faults.setdefault(cluster, {}).update(spec)


def _pairs(values: list[str], what: str) -> dict[str, str]:
    pairs = {}
    for value in values:
        name, sep, rest = value.partition("=")
        if not sep or not name or not rest:
            raise SystemExit(f"--{what} expects NAME=VALUE, got {value!r}")
        pairs[name] = rest
    return pairs


# -- serving ---------------------------------------------------------------------------------------

def run(args: argparse.Namespace, stop: threading.Event, out: Any = sys.stdout) -> int:
    """Serve until ``stop`` is set; writes the kubeconfig and fleet files first and prints them."""
    plan = build_plan(args)
    try:
        simulator = Simulator(plan.clusters, faults=plan.faults, host=args.host, port=args.port)
    except ValueError as exc:  # a fault the simulator does not know
        raise SystemExit(f"faults: {exc}") from exc
    with simulator:
        kubeconfig = simulator.write_kubeconfig(args.kubeconfig or args.out / "kubeconfig")
        fleet = simulator.write_fleet(args.fleet or args.out / "fleet.yaml", kubeconfig, plan.alertmanager)
        _announce(simulator, plan, kubeconfig, fleet, out)
        stop.wait()
    return 0


_SHOWN = 20  # alert files listed one by one; a fleet at scale has hundreds


def _announce(simulator: Simulator, plan: Plan, kubeconfig: Path, fleet: Path, out: Any) -> None:
    names = list(plan.clusters)
    more = f" and {len(names) - _SHOWN} more" if len(names) > _SHOWN else ""
    lines = [f"serving {len(names)} cluster(s) at {simulator.base_url}/clusters/<name>: "
             + ", ".join(names[:_SHOWN]) + more]
    lines += [f"  fault {name}: {_describe(spec)}" for name, spec in list(plan.faults.items())[:_SHOWN] if spec]
    lines += [f"kubeconfig: {kubeconfig}", f"fleet: {fleet}"]
    if plan.alerts:
        lines.append("alerts (one Alertmanager webhook body per line; POST each to /webhook/alertmanager/<cluster>):")
        shown = list(plan.alerts.items())
        lines += [f"  {name}: {path.resolve()}" for name, path in shown[:_SHOWN]]
        if len(shown) > _SHOWN:
            lines.append(f"  ... and {len(shown) - _SHOWN} more")
    if plan.merged_alerts:
        lines.append(f"  every cluster, in send order (alerts carry a cluster label): {plan.merged_alerts.resolve()}")
    lines += ["investigate it with:", f"  fleetsre serve --fleet {fleet}",
              f"  kubectl --kubeconfig {kubeconfig} --context {next(iter(plan.clusters))} get pods -A",
              "Ctrl-C stops."]
    print("\n".join(lines), file=out, flush=True)


def _describe(spec: dict[str, Any]) -> str:
    return ", ".join(f"{k}={_value(v)}" for k, v in spec.items())


def _value(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(map(str, value))
    if isinstance(value, dict):  # latency {p50, p99}
        return "/".join(f"{v:g}" if isinstance(v, float) else str(v) for v in value.values())
    return f"{value:g}" if isinstance(value, float) else str(value)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    stop = threading.Event()
    # SIGTERM (a container stop) ends the simulator as cleanly as Ctrl-C.
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        return run(args, stop)
    except KeyboardInterrupt:
        return 0
