"""Semantic memory in the running app: runbooks indexed at start-up, an incident indexed when it resolves.

The incident manager owns the Qdrant folder (one writer, like the DuckDB file) and answers the
memory's searches for LLM tools in other processes (``similar_incidents``, ``runbook_sections``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta

import httpx
import pytest

from tests.conftest import make_payload
from tests.integration.conftest import ClusterSpec, FleetApp

pytestmark = pytest.mark.integration

SESSION_CLUSTERS = {"sim-mem": ClusterSpec("oom_killed", seed=31)}
MEMORY_READY_S = 90.0  # a dense model loads in a few seconds; the 2-core box may be busy


@pytest.fixture
def http_client(fleet_app: FleetApp) -> Iterator[httpx.Client]:
    with fleet_app.client() as client:
        yield client


def _manager():
    from serve import app as wiring

    return wiring.manager()


def _poll(fn, timeout_s: float):
    import ray

    deadline = time.monotonic() + timeout_s
    while True:
        got = ray.get(fn(), timeout=60)
        if got or time.monotonic() > deadline:
            return got
        time.sleep(0.5)


def test_runbooks_are_searchable_once_memory_is_open(fleet_app: FleetApp) -> None:
    hits = _poll(lambda: _manager().runbook_sections.remote("container OOMKilled exit 137 memory limit", 3),
                 MEMORY_READY_S)
    assert hits and hits[0]["runbook"] == "oom-killed", hits


def test_a_resolved_incident_is_indexed_and_found_by_meaning(fleet_app: FleetApp, http_client: httpx.Client) -> None:
    cluster = "sim-mem"
    scenario = fleet_app.scenarios[cluster]
    for payload in scenario.payloads:
        assert fleet_app.post(http_client, cluster, payload).status_code == 200
    assert fleet_app.wait_idle(120)
    stored = fleet_app.alerts(http_client, cluster)
    inc_id = fleet_app.incident_of(stored, scenario.expected[0]["alerts"])
    assert inc_id and http_client.get(f"/api/v1/incidents/{inc_id}").json()["report"]
    # memory must be open before the resolve, or the resolve is not indexed (it is backfilled on restart)
    assert _poll(lambda: _manager().runbook_sections.remote("OOMKilled", 1), MEMORY_READY_S)
    resolved = []
    for a in scenario.alerts():
        ends = datetime.fromisoformat(a["startsAt"].replace("Z", "+00:00")) + timedelta(minutes=30)
        resolved.append({**a, "status": "resolved", "endsAt": ends.isoformat()})
    assert fleet_app.post(http_client, cluster, make_payload(*resolved)).status_code == 200
    assert http_client.get(f"/api/v1/incidents/{inc_id}").json()["status"] == "resolved"

    import ray

    question = "a container was OOMKilled: exit code 137, memory limit reached, CrashLoopBackOff"
    hits: list[dict] = []
    deadline = time.monotonic() + 30  # indexing runs right after the resolve, off the webhook's path
    while not hits and time.monotonic() < deadline:
        hits = [h for h in ray.get(_manager().similar_incidents.remote(question, 10), timeout=60)
                if h["incident_id"] == inc_id]
        time.sleep(0.2)
    assert hits, "the resolved incident never reached semantic memory"
    assert hits[0]["category"] == "oom_killed" and hits[0]["cluster"] == cluster and hits[0]["resolved_at"]
