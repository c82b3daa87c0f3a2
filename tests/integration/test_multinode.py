"""fleetsre on a multi-node Ray cluster (``ray.cluster_utils.Cluster``: several Ray nodes on this machine).

Nodes: a head that runs no fleetsre actor, ``eu-1`` advertising ``zone:eu``, ``us-1`` advertising
``zone:us`` and ``fleetsre-history``. The fleet: ``eu-a`` and ``eu-b`` in zone ``eu``, ``us-a`` in ``us``.
Checked: each collector runs on a node of its zone and the manager on the history node; then, with
``eu-a``'s API server hanging so its collection is in flight, ``eu-1`` is killed, a replacement
``eu-2`` joins, and the investigation still completes (the collector restarts on ``eu-2``, its
``collect`` is retried there) with real evidence. Then ``us-b`` is added to the fleet file and the
app rebuilt on the same Ray cluster: its alerts are collected by a ``us`` collector. Then the
manager's process is killed: it restarts on the history node with the newest fleet and its open
incidents rebuilt from DuckDB. Every acknowledged alert is in the history at the end.

A process holds one Ray driver and the session's other integration tests share one local Ray, so the
cluster lives in a subprocess: this file run as a script is the driver, printing its observations as
JSON on its last line; the test asserts on them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
RESULT_TAG = "MULTINODE-RESULT "
VICTIM = "eu-a"
LATE = "us-b"  # joins the fleet while the app runs
ZONES = {"eu-a": "eu", "eu-b": "eu", "us-a": "us", LATE: "us"}
SCENARIOS = {"eu-a": ("oom_killed", 31), "eu-b": ("bad_rollout_image", 32), "us-a": ("image_pull_error", 33),
             LATE: ("oom_killed", 34)}
NODE_STORE = 75 * 1024**2  # object store per Ray node: small, four nodes share this machine
DRIVER_TIMEOUT_S = 240.0


@pytest.mark.integration
def test_zone_placement_and_worker_node_loss(tmp_path):
    # the session's local Ray may have put its HAProxy settings (files, ports) into this process's environment:
    # the driver's cluster must not share them, so it runs Serve's plain proxy, on the head only
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAY_SERVE_HAPROXY", "RAY_ADDRESS"))}
    env |= {"PYTHONPATH": str(ROOT), "RAY_USAGE_STATS_ENABLED": "0", "RAY_SERVE_ENABLE_HA_PROXY": "0"}
    proc = subprocess.run([sys.executable, __file__, str(tmp_path)], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=DRIVER_TIMEOUT_S + 60)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(RESULT_TAG)]
    assert proc.returncode == 0 and lines, f"driver failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n" \
                                           f"{proc.stderr[-8000:]}"
    res = json.loads(lines[-1].removeprefix(RESULT_TAG))
    nodes = res["nodes"]

    # placement: collectors on their zone's node, the manager on the history node, nothing on the head
    for name, info in res["before"].items():
        zone = {ZONES[c] for c in info["clusters"]}
        assert len(zone) == 1, f"{name} collects clusters of several zones: {info['clusters']}"
        assert info["node_id"] == nodes[f"{zone.pop()}-1"], f"{name} runs on the wrong node"
    assert sorted(c for i in res["before"].values() for c in i["clusters"]) == sorted(set(ZONES) - {LATE})
    assert res["manager_node"] == nodes["us-1"]

    # the victim's collector was restarted on the replacement node of its zone
    victim = res["victim_collector"]
    assert res["before"][victim]["node_id"] == nodes["eu-1"]
    assert res["after"][victim]["node_id"] == nodes["eu-2"]

    # the interrupted investigation completed, with evidence collected by the restarted collector
    assert res["victim_incidents"], "no incident for the victim cluster"
    for inc in res["victim_incidents"]:
        assert inc["investigated"], f"{inc['id']} was never investigated: {inc['kinds']}"
        collected = inc["collected"]
        assert collected["path"] and not any(e["reason"] == "NoSource" for e in collected["errors"]), collected
        assert sum(collected["rows"].values()) > 0
    # and every incident of the fleet has a report
    assert res["uninvestigated"] == []

    # a cluster added to the fleet file is collected by a us collector after the app is rebuilt, same Ray
    late = res["late"]
    assert LATE in late["collector"]["clusters"] and late["collector"]["node_id"] == nodes["us-1"]
    assert late["collector"]["fleet_hash"] == late["manager_fleet_hash"] == late["fleet_hash"]
    assert late["collected"] and all(c["path"] and sum(c["rows"].values()) > 0 for c in late["collected"])

    # the manager restarted on the history node with the newest fleet and its open incidents rebuilt;
    # a webhook repeated after the restart is still a repeat (no new incident)
    restart = res["restart"]
    assert restart["node_id"] == nodes["us-1"] and restart["fleet_hash"] == late["fleet_hash"]
    assert restart["open_in_correlator"] == len(restart["open_before"]) > 0
    assert restart["incidents_after_repeat"] == restart["incidents_before"]

    # no acknowledged alert was lost
    assert res["acked"] and set(map(tuple, res["acked"])) <= set(map(tuple, res["stored"]))


# -- the driver (runs in its own process) ------------------------------------------------------

def _wait(what: str, check: Any, timeout_s: float, every_s: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(every_s)


def _info(ray: Any, actor: Any) -> dict[str, Any] | None:
    """A collector's info, or None while it is restarting (a restart may outlast the task's retries)."""
    try:
        return ray.get(actor.info.remote(), timeout=30)
    except (ray.exceptions.ActorUnavailableError, ray.exceptions.GetTimeoutError):
        return None


def _collected(incident: dict[str, Any], cluster: str) -> dict[str, Any]:
    """The incident's last ``collected`` summary for ``cluster`` (an empty one when there is none)."""
    got = [e["payload"] for e in incident["events"] if e["kind"] == "collected" and e["payload"]["cluster"] == cluster]
    return got[-1] if got else {"path": None, "errors": [], "rows": {}}


def _post(url: str, cluster: str, payloads: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """POST payloads as Alertmanager would; the (cluster, fingerprint) of every alert answered 2xx."""
    import httpx
    import orjson

    acked = []
    with httpx.Client(base_url=url, timeout=60.0) as client:
        for payload in payloads:
            r = client.post(f"/webhook/alertmanager/{cluster}", content=orjson.dumps(payload),
                            headers={"Content-Type": "application/json"})
            if r.status_code // 100 == 2:
                acked += [(cluster, a["fingerprint"]) for a in payload["alerts"]]
    return acked


def _drive(root: Path) -> dict[str, Any]:
    import ray
    import yaml
    from ray import serve as ray_serve
    from ray.cluster_utils import Cluster

    from clusters.fleet import load_fleet
    from clusters.simulator import Simulator
    from engine.config import CollectConfig, EngineConfig
    from serve import app as wiring
    from serve.actors import NAMESPACE
    from serve.placement import HISTORY_RESOURCE, fleet_hash, zone_resource
    from tests.integration.conftest import ClusterSpec, _free_port, _wait_http, _write_scenarios

    def node(**resources: float) -> Any:
        return cluster.add_node(num_cpus=0, object_store_memory=NODE_STORE, resources=resources)

    t0 = time.monotonic()
    timings: dict[str, float] = {}
    now = (datetime.now(UTC) - timedelta(minutes=2)).replace(microsecond=0)
    scenarios = _write_scenarios(root, now, {c: ClusterSpec(s, seed=seed) for c, (s, seed) in SCENARIOS.items()})
    sim = Simulator({c: s.path / "dump" for c, s in scenarios.items()})
    late_scenario = scenarios.pop(LATE)  # served from the start, in the fleet only after the reload
    sim.start()
    cluster = Cluster(initialize_head=True, head_node_args={
        "num_cpus": 1, "object_store_memory": NODE_STORE, "include_dashboard": False})
    try:
        eu1 = node(**{zone_resource("eu"): 1000})
        us1 = node(**{zone_resource("us"): 1000, HISTORY_RESOURCE: 1})
        ray.init(address=cluster.address, namespace=NAMESPACE, log_to_driver=False)
        nodes = {"head": cluster.head_node.node_id, "eu-1": eu1.node_id, "us-1": us1.node_id}
        timings["ray_cluster_up_s"] = time.monotonic() - t0

        fleet_file = sim.write_fleet(root / "fleet.yaml", sim.write_kubeconfig(root / "kubeconfig"))
        doc = yaml.safe_load(fleet_file.read_text())
        for entry in doc["clusters"]:
            entry["zone"] = ZONES[entry["name"]]
            entry["request_timeout_s"] = 60.0 if entry["name"] == VICTIM else 5.0
        doc["collectors"] = {"max_actors": 2}
        late = [e for e in doc["clusters"] if e["name"] == LATE]
        doc["clusters"] = [e for e in doc["clusters"] if e["name"] != LATE]
        fleet_file.write_text(yaml.safe_dump(doc, sort_keys=False))
        fleet = load_fleet(fleet_file)
        cfg = EngineConfig(data_dir=root / "data", collect=CollectConfig(request_timeout_s=60.0, collect_timeout_s=90.0))

        port = _free_port()
        ray_serve.start(proxy_location="HeadOnly", http_options={"host": "127.0.0.1", "port": port},
                        logging_config={"log_level": "WARNING"})
        ray_serve.run(wiring.build_app(fleet, cfg, history_resource=HISTORY_RESOURCE), name=wiring.APP_NAME,
                      route_prefix="/", logging_config={"log_level": "WARNING"})
        url = f"http://127.0.0.1:{port}"
        _wait_http(url, 90.0)
        mgr = wiring.manager()
        timings["app_up_s"] = time.monotonic() - t0
        plan = ray.get(mgr.info.remote())["collectors"]
        collectors = {name: ray.get_actor(name, namespace=NAMESPACE) for name in plan}
        before = {name: ray.get(a.info.remote(), timeout=60) for name, a in collectors.items()}
        victim = next(n for n, cs in plan.items() if VICTIM in cs)

        # the victim's API server stops answering: its collection hangs until we kill its node
        sim.set_faults(VICTIM, {"unreachable": "hang"})
        acked: list[tuple[str, str]] = []
        for cluster_name, sc in scenarios.items():
            acked += _post(url, cluster_name, sc.payloads)

        def victim_in_flight() -> bool:
            incs = ray.get(mgr.list_incidents.remote(cluster=VICTIM, status="open"))
            if not incs:
                return False
            events = [e["kind"] for i in incs for e in ray.get(mgr.get_incident.remote(i["id"]))["events"]]
            return "collected" not in events and ray.get(mgr.status.remote())["investigations_in_flight"] > 0

        _wait("the victim's investigation to be in flight", victim_in_flight, 90.0)
        time.sleep(1.0)  # let the collector's first request reach the hanging API server
        cluster.remove_node(eu1, allow_graceful=False)
        t_kill = time.monotonic()
        sim.set_faults(VICTIM, {})  # the API server is back: the retried collection can succeed
        eu2 = node(**{zone_resource("eu"): 1000})
        nodes["eu-2"] = eu2.node_id

        def all_investigated(cluster: str | None = None) -> list[dict[str, Any]] | None:
            incs = [i for i in ray.get(mgr.list_incidents.remote(limit=1000)) if i["status"] == "open"]
            full = [ray.get(mgr.get_incident.remote(i["id"])) for i in incs]
            done = all(any(e["kind"] == "investigated" for e in i["events"]) for i in full)
            wanted = not cluster or any(i["cluster"] == cluster for i in full)
            return full if full and done and wanted else None

        full = _wait("every incident to be investigated", all_investigated, 150.0, every_s=1.0)
        timings["kill_to_all_investigated_s"] = time.monotonic() - t_kill
        stored_alerts = ray.get(mgr.list_alerts.remote(limit=10000))
        want = set(acked)
        _wait("every acknowledged alert to be stored",
              lambda: want <= {(a["cluster"], a["fingerprint"]) for a in ray.get(mgr.list_alerts.remote(limit=10000))},
              60.0)
        stored_alerts = ray.get(mgr.list_alerts.remote(limit=10000))
        after = {name: _wait(f"{name} to answer", lambda a=a: _info(ray, a), 60.0) for name, a in collectors.items()}
        victim_incidents = []
        for inc in full:
            if inc["cluster"] != VICTIM:
                continue
            kinds = [e["kind"] for e in inc["events"]]
            victim_incidents.append({"id": inc["id"], "kinds": kinds, "investigated": "investigated" in kinds,
                                     "collected": _collected(inc, VICTIM)})
        result: dict[str, Any] = {
            "timings": timings, "nodes": nodes, "before": before, "after": after, "victim_collector": victim,
            "manager_node": ray.get(mgr.info.remote())["node_id"], "victim_incidents": victim_incidents,
            "uninvestigated": [i["id"] for i in full if not any(e["kind"] == "investigated" for e in i["events"])],
        }

        # a cluster joins the fleet: the same Ray cluster, the app rebuilt from the new fleet file
        t_reload = time.monotonic()
        fleet_file.write_text(yaml.safe_dump(doc | {"clusters": doc["clusters"] + late}, sort_keys=False))
        fleet2 = load_fleet(fleet_file)
        ray_serve.run(wiring.build_app(fleet2, cfg, history_resource=HISTORY_RESOURCE), name=wiring.APP_NAME,
                      route_prefix="/", logging_config={"log_level": "WARNING"})
        acked += _post(url, LATE, late_scenario.payloads)
        full = _wait("the new cluster's incident to be investigated", lambda: all_investigated(LATE), 90.0)
        timings["reload_to_investigated_s"] = time.monotonic() - t_reload
        late_owner = ray.get(mgr.info.remote())["collectors"]
        late_collector = next(n for n, cs in late_owner.items() if LATE in cs)
        result["late"] = {"collector": ray.get(ray.get_actor(late_collector, namespace=NAMESPACE).info.remote()),
                          "collected": [_collected(i, LATE) for i in full if i["cluster"] == LATE],
                          "manager_fleet_hash": ray.get(mgr.info.remote())["fleet_hash"],
                          "fleet_hash": fleet_hash(fleet2)}

        # the manager's process dies: it restarts on the history node and rebuilds from DuckDB
        open_before = sorted(i["id"] for i in ray.get(mgr.list_incidents.remote(status="open", limit=1000)))
        count_before = ray.get(mgr.status.remote())["counts"]["incidents"]
        ray.kill(mgr, no_restart=False)
        t_restart = time.monotonic()
        info = _wait("the manager to restart", lambda: _info(ray, mgr), 90.0)
        timings["manager_restart_s"] = time.monotonic() - t_restart
        status = ray.get(mgr.status.remote())
        # Alertmanager repeats a group: after the restart it must still be a repeat, not a new incident
        repeat = scenarios["us-a"].payloads[0]
        fp = repeat["alerts"][0]["fingerprint"]

        def receive_count() -> int:
            rows = [a for a in ray.get(mgr.list_alerts.remote(cluster="us-a", limit=1000)) if a["fingerprint"] == fp]
            return rows[0]["receive_count"] if rows else 0

        seen = receive_count()
        acked += _post(url, "us-a", [repeat])
        _wait("the repeated webhook to be stored", lambda: receive_count() > seen, 60.0)
        stored_alerts = ray.get(mgr.list_alerts.remote(limit=10000))
        result["restart"] = {
            "node_id": info["node_id"], "fleet_hash": info["fleet_hash"], "open_before": open_before,
            "open_in_correlator": status["incidents_open"], "incidents_before": count_before,
            "incidents_after_repeat": ray.get(mgr.status.remote())["counts"]["incidents"]}
        result["acked"] = sorted(set(acked))
        result["stored"] = sorted({(a["cluster"], a["fingerprint"]) for a in stored_alerts})
        return result
    finally:
        try:
            wiring.shutdown()
        finally:
            cluster.shutdown()
            sim.stop()


if __name__ == "__main__":
    result = _drive(Path(sys.argv[1]))
    print(RESULT_TAG + json.dumps(result, default=str), flush=True)
