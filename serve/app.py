"""The one place that builds fleetsre's Ray application: actors, then the Serve ingress.

``start_ray`` brings up a local Ray sized for a small machine; ``build_app`` creates the incident
manager, the investigator and the collector shards (one per cluster up to the fleet's cap) and
returns the bound ingress; ``run`` deploys it over HTTP.
"""

from __future__ import annotations

import logging
import os
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
    collector_name,
    shard_of,
)
from serve.ingress import Ingress

__all__ = ["build_app", "manager", "run", "shutdown", "start_ray"]

APP_NAME = "fleetsre"


def start_ray(*, num_cpus: int = 2, object_store_mb: int = 256) -> None:
    if ray.is_initialized():
        return
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    # address="local": always a fresh local Ray, never attach to one started elsewhere with `ray start`
    ray.init(address="local", num_cpus=num_cpus, object_store_memory=object_store_mb * 1024**2, include_dashboard=False,
             namespace=NAMESPACE, log_to_driver=False, logging_level=logging.WARNING)
    # Serve's driver-side INFO lines (started, deploying, ready) are noise in a CLI's output
    logging.getLogger("ray.serve").setLevel(logging.WARNING)


def build_app(fleet: Fleet, cfg: EngineConfig, *, worker_resource: str | None = None) -> Any:
    """Create (or reuse) the actors and return the Serve application to run.

    ``worker_resource``: a custom resource only worker nodes advertise (see ``serve/deploy.py``); each actor asks
    for a sliver of it so that none lands on a head that runs no work.
    """
    load_runbooks(cfg.runbooks_dir)  # a broken runbook stops start-up here (file, field, reason), before any actor
    shards = max(1, min(len(fleet.clusters), fleet.collectors.max_actors))
    fleet_json, cfg_json = fleet.model_dump_json(), cfg.model_dump_json()
    by_shard: dict[int, list[str]] = {}
    for c in fleet.clusters:
        by_shard.setdefault(shard_of(c.name, shards), []).append(c.name)
    opts: dict[str, Any] = {"namespace": NAMESPACE, "get_if_exists": True, "lifetime": "detached"}
    if worker_resource:
        opts["resources"] = {worker_resource: 0.01}
    for shard in range(shards):
        ClusterCollector.options(name=collector_name(shard), **opts).remote(
            fleet_json, by_shard.get(shard, []), cfg_json)
    Investigator.options(name=INVESTIGATOR_NAME, **opts).remote(cfg_json)
    mgr = IncidentManager.options(name=MANAGER_NAME, **opts).remote(fleet_json, cfg_json, shards)
    ray.get(mgr.status.remote())  # fail here, not on the first webhook, if the store cannot open
    return Ingress.bind(cfg.max_body_bytes, fleet.tokens())


def run(fleet: Fleet, cfg: EngineConfig, *, host: str = "127.0.0.1", port: int = 8000) -> str:
    """Start Ray if needed, deploy the app over HTTP and return its base URL."""
    start_ray()
    quiet = {"log_level": "WARNING"}
    ray_serve.start(http_options={"host": host, "port": port}, logging_config=quiet)
    ray_serve.run(build_app(fleet, cfg), name=APP_NAME, route_prefix="/", logging_config=quiet)
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
        for name in [MANAGER_NAME, INVESTIGATOR_NAME] + [collector_name(i) for i in range(1024)]:
            try:
                ray.kill(ray.get_actor(name, namespace=NAMESPACE))
            except ValueError:
                if name.startswith("fleetsre-collector-"):
                    break
        ray.shutdown()


def app_builder(args: dict[str, str]) -> Any:
    """Serve config entry point (``import_path: serve.app:app_builder``), used by ``ray-cluster.yaml``.

    ``args``: ``fleet`` (path to fleet.yaml), ``data_dir`` (default ./fleetsre-data), ``mode`` (``recommend``,
    the default, or ``auto``), ``worker_resource`` (optional, see ``build_app``). ``serve/deploy.py`` writes them.
    """
    from pathlib import Path

    from clusters.fleet import load_fleet

    fleet = load_fleet(args["fleet"])
    cfg = EngineConfig(data_dir=Path(args.get("data_dir", "fleetsre-data")),
                       remediation_mode=args.get("mode", "recommend"))
    return build_app(fleet, cfg, worker_resource=args.get("worker_resource"))
