"""One local Ray and one fleetsre Serve app over a simulated fleet, shared by the whole test session.

``fleet_app`` generates a scenario per cluster, serves the dumps with the Kubernetes API simulator,
writes its kubeconfig and ``fleet.yaml`` (plus a webhook token for some clusters and a collector
cap below the cluster count, so clusters share collector actors), and deploys the app on a free
port. Ray starts once per session (stack-facts §2): the end-to-end tests reuse this fixture
(``tests/e2e/conftest.py`` re-exports it) and get the same instance, since the app lives in a
module-level singleton that the last user tears down.

Clusters: ``sim-*`` belong to the integration tests, ``e2e-*`` to the Alertmanager tests, so each
suite posts alerts nobody else has posted, in whatever order the suites run. A test module may add
clusters of its own with a module-level ``SESSION_CLUSTERS`` dict (cluster -> ``ClusterSpec``):
they join the session fleet when that module is collected, and only then (the app's fleet is fixed
once it starts, so ``fleet_app`` gathers them from every collected module before starting it).
"""

from __future__ import annotations

import socket
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import yaml

__all__ = ["CLUSTERS", "ClusterSpec", "FleetApp", "Scenario", "fleet_app"]


@dataclass(frozen=True)
class ClusterSpec:
    scenario: str
    seed: int
    faults: dict[str, Any] = field(default_factory=dict)
    token: str | None = None
    request_timeout_s: float = 5.0  # the cluster's per-call timeout in fleet.yaml


#: cluster -> the scenario it runs. ``sim-down`` refuses every connection (partial evidence) and,
#: like ``e2e-b``, takes webhooks only with its bearer token.
CLUSTERS: dict[str, ClusterSpec] = {
    "sim-a": ClusterSpec("oom_killed", seed=11),
    "sim-b": ClusterSpec("bad_rollout_image", seed=12),
    "sim-down": ClusterSpec("config_error", seed=13, faults={"unreachable": True}, token="sim-down-token"),
    "e2e-a": ClusterSpec("oom_killed", seed=21),
    "e2e-b": ClusterSpec("image_pull_error", seed=22, token="e2e-b-token"),
}
#: Fewer collector actors than clusters: the shards are exercised and the 2-core box spared.
MAX_COLLECTORS = 2
STARTUP_TIMEOUT_S = 90.0


@dataclass
class Scenario:
    cluster: str
    path: Path
    payloads: list[dict[str, Any]]
    expected: list[dict[str, Any]]

    def alerts(self) -> list[dict[str, Any]]:
        """Each alert's last state, in first-seen order (one per fingerprint)."""
        last: dict[str, dict[str, Any]] = {}
        for p in self.payloads:
            for a in p["alerts"]:
                last[a["fingerprint"]] = a
        return list(last.values())


@dataclass
class FleetApp:
    url: str
    root: Path
    data_dir: Path
    scenarios: dict[str, Scenario] = field(repr=False)
    tokens: dict[str, str] = field(repr=False)
    teardown: list[Any] = field(default_factory=list, repr=False)

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30.0)

    def headers(self, cluster: str) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "User-Agent": "Alertmanager/0.25.0"}
        if cluster in self.tokens:
            headers["Authorization"] = f"Bearer {self.tokens[cluster]}"
        return headers

    def post(self, client: httpx.Client, cluster: str, payload: dict[str, Any]) -> httpx.Response:
        """POST one payload as Alertmanager would (its bytes, its headers, the cluster's token)."""
        return client.post(f"/webhook/alertmanager/{cluster}", content=orjson.dumps(payload) + b"\n",
                           headers=self.headers(cluster))

    def wait_idle(self, timeout_s: float = 120.0) -> bool:
        import ray

        from serve import app as wiring

        return bool(ray.get(wiring.manager().wait_idle.remote(timeout_s), timeout=timeout_s + 30))

    def alerts(self, client: httpx.Client, cluster: str) -> dict[str, dict[str, Any]]:
        """The stored alerts of a cluster by fingerprint."""
        r = client.get("/api/v1/alerts", params={"cluster": cluster, "limit": 1000})
        r.raise_for_status()
        return {a["fingerprint"]: a for a in r.json()}

    def incident_of(self, stored: dict[str, dict[str, Any]], fingerprints: list[str]) -> str | None:
        """The incident most of these alerts landed in (None when none of them is stored)."""
        ids = Counter(stored[fp]["incident_id"] for fp in fingerprints if stored.get(fp, {}).get("incident_id"))
        return ids.most_common(1)[0][0] if ids else None

    def expected_incidents(self, client: httpx.Client, clusters: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
        """cluster -> the stored incidents (report, events) holding each expected incident's alerts,
        each with its ``expected`` entry; asserts that every expected incident has one."""
        found: dict[str, list[dict[str, Any]]] = {}
        for cluster in clusters:
            stored = self.alerts(client, cluster)
            for exp in self.scenarios[cluster].expected:
                inc_id = self.incident_of(stored, exp["alerts"])
                assert inc_id, f"{cluster}: no incident holds {exp['alerts']}"
                r = client.get(f"/api/v1/incidents/{inc_id}")
                r.raise_for_status()
                found.setdefault(cluster, []).append({**r.json(), "expected": exp})
        return found


# -- building the fleet ------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _expected(path: Path, cluster: str) -> list[dict[str, Any]]:
    truth = orjson.loads(path.read_bytes())
    items = truth.get("incidents", []) if isinstance(truth, dict) else truth
    return [{**inc, "cluster": inc.get("cluster", cluster)} for inc in items]


def _write_scenarios(root: Path, now: datetime, clusters: dict[str, ClusterSpec]) -> dict[str, Scenario]:
    from clusters.scenarios import write_scenario
    from engine.alert_files import read_payloads

    out = {}
    for cluster, spec in clusters.items():
        d = root / "scenarios" / cluster
        write_scenario(spec.scenario, d, cluster=cluster, now=now, seed=spec.seed)
        out[cluster] = Scenario(cluster, d, read_payloads(d / "alerts.jsonl"), _expected(d / "expected.json", cluster))
    return out


def _write_fleet(sim: Any, root: Path, clusters: dict[str, ClusterSpec]) -> Path:
    """The simulator's fleet.yaml, plus tokens and a collector cap (what an operator would add)."""
    fleet_file = sim.write_fleet(root / "fleet.yaml", sim.write_kubeconfig(root / "kubeconfig"))
    doc = yaml.safe_load(fleet_file.read_text())
    for entry in doc["clusters"]:
        entry["request_timeout_s"] = clusters[entry["name"]].request_timeout_s
        if clusters[entry["name"]].token:
            entry["token"] = clusters[entry["name"]].token
    doc["collectors"] = {"max_actors": MAX_COLLECTORS}
    fleet_file.write_text(yaml.safe_dump(doc, sort_keys=False))
    return fleet_file


def _wait_http(url: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=5.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"fleetsre at {url} did not answer /healthz within {timeout_s:.0f}s")
        time.sleep(0.25)


def session_clusters(session: pytest.Session) -> dict[str, ClusterSpec]:
    """``CLUSTERS`` plus the ``SESSION_CLUSTERS`` of every collected test module."""
    clusters = dict(CLUSTERS)
    modules = {id(m): m for m in (getattr(item, "module", None) for item in session.items) if m is not None}
    for module in modules.values():
        extra = getattr(module, "SESSION_CLUSTERS", {})
        clash = set(extra) & set(clusters)
        if clash:
            raise ValueError(f"{module.__name__}: SESSION_CLUSTERS reuses cluster name(s) {sorted(clash)}")
        clusters.update(extra)
    return clusters


def _start(root: Path, clusters: dict[str, ClusterSpec]) -> FleetApp:
    from clusters.fleet import load_fleet
    from clusters.simulator import Simulator
    from engine.config import CollectConfig, EngineConfig, MemoryConfig
    from serve import app as wiring

    # The scenarios' clock: a little before now, so Alertmanager takes their startsAt as past.
    now = (datetime.now(UTC) - timedelta(minutes=2)).replace(microsecond=0)
    scenarios = _write_scenarios(root, now, clusters)
    sim = Simulator({c: s.path / "dump" for c, s in scenarios.items()},
                    faults={c: spec.faults for c, spec in clusters.items() if spec.faults})
    sim.start()
    app = FleetApp("", root, root / "data", scenarios, {c: s.token for c, s in clusters.items() if s.token},
                   teardown=[sim.stop])
    try:
        fleet = load_fleet(_write_fleet(sim, root, clusters))
        # sparse memory: the dense model (torch) is covered by tests/unit/test_memory.py and would cost the
        # session manager a second of CPU and ~1 GB here for nothing the integration tests look at
        cfg = EngineConfig(data_dir=app.data_dir, collect=CollectConfig(request_timeout_s=5.0, collect_timeout_s=30.0),
                           memory=MemoryConfig(embedding="sparse"))
        app.teardown.insert(0, wiring.shutdown)
        app.url = wiring.run(fleet, cfg, port=_free_port())
        _wait_http(app.url, STARTUP_TIMEOUT_S)
    except BaseException:
        _stop(app)
        raise
    return app


def _stop(app: FleetApp) -> None:
    for step in app.teardown:
        try:
            step()
        except Exception as exc:  # teardown goes on: the simulator must stop even if Ray did not
            print(f"fleet_app teardown: {step!r} failed: {exc!r}")


_APP: FleetApp | None = None
_USERS = 0


@pytest.fixture(scope="session")
def fleet_app(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[FleetApp]:
    """The session's one Ray + fleetsre app + simulated fleet (shared with tests/e2e)."""
    global _APP, _USERS
    if _APP is None:
        _APP = _start(tmp_path_factory.mktemp("fleetsre"), session_clusters(request.session))
    _USERS += 1
    try:
        yield _APP
    finally:
        _USERS -= 1
        if _USERS == 0 and _APP is not None:
            app, _APP = _APP, None
            _stop(app)
