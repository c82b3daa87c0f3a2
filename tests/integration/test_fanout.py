"""Fan-out with a dead cluster: the others' investigations neither wait for it nor inherit its gaps.

Five clusters of the session fleet alert at the same moment (one webhook each, posted concurrently);
one of them refuses every connection. Every live cluster's incident must be investigated to a report
that names nothing of the dead cluster as missing and finds its scenario's cause; the dead cluster's
own report must say what could not be collected. A companion unit test (``tests/unit/test_collect.py``)
covers the collection side: the dead cluster is asked once, not once per resource.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.integration.conftest import ClusterSpec, FleetApp

pytestmark = pytest.mark.integration

#: seeds of their own, so no two clusters ship the same revision (that would be one fleet incident)
LIVE = {
    "fan-a": ClusterSpec("app_crash_panic", seed=401),
    "fan-b": ClusterSpec("missing_secret", seed=402),
    "fan-c": ClusterSpec("dependency_dns", seed=403),
    "fan-d": ClusterSpec("oom_killed", seed=404),
}
DEAD = "fan-dead"
SESSION_CLUSTERS = {**LIVE, DEAD: ClusterSpec("certificate_expired", seed=405, faults={"unreachable": True})}
WAIT_S = 240.0


def _one_webhook(fleet_app: FleetApp, cluster: str) -> dict[str, Any]:
    """The cluster's alerts as one webhook (each alert's last state, firing ones)."""
    payloads = fleet_app.scenarios[cluster].payloads
    alerts = [a for a in fleet_app.scenarios[cluster].alerts() if a["status"] == "firing"]
    return {**payloads[-1], "status": "firing", "alerts": alerts}


@pytest.fixture(scope="module")
def incidents(fleet_app: FleetApp) -> dict[str, list[dict[str, Any]]]:
    """cluster -> the incidents (report, events) holding each expected incident's alerts."""
    webhooks = {c: _one_webhook(fleet_app, c) for c in SESSION_CLUSTERS}
    with fleet_app.client() as client:
        # all at once, as Alertmanagers of five clusters would when one change hits them together
        with ThreadPoolExecutor(len(webhooks)) as pool:
            responses = dict(zip(webhooks, pool.map(lambda c: fleet_app.post(client, c, webhooks[c]), webhooks),
                                 strict=True))
        for cluster, r in responses.items():
            assert r.status_code == 200 and r.json()["rejected"] == [], f"{cluster}: {r.status_code} {r.text}"
        assert fleet_app.wait_idle(WAIT_S), f"investigations still running after {WAIT_S:.0f}s"
        return fleet_app.expected_incidents(client, SESSION_CLUSTERS)


def _kinds(incident: dict[str, Any]) -> list[str]:
    return [e["kind"] for e in incident["events"]]


def test_every_live_cluster_is_investigated_to_its_cause(incidents: dict[str, list[dict[str, Any]]]) -> None:
    for cluster in LIVE:
        for incident in incidents[cluster]:
            assert "investigated" in _kinds(incident) and "investigation_failed" not in _kinds(incident), cluster
            assert incident["report"]["root_cause"]["category"] == incident["expected"]["category"], cluster


def test_no_live_report_names_the_dead_cluster(incidents: dict[str, list[dict[str, Any]]]) -> None:
    for cluster in LIVE:
        for incident in incidents[cluster]:
            assert not [m for m in incident["report"]["missing"] if DEAD in m], (cluster, incident["report"]["missing"])
            collected = [e["payload"] for e in incident["events"] if e["kind"] == "collected"]
            assert collected and {p["cluster"] for p in collected} == {cluster}, collected
            assert not [e for p in collected for e in p["errors"] if DEAD in (e.get("message") or "")]


def test_the_dead_clusters_report_says_what_is_missing(incidents: dict[str, list[dict[str, Any]]]) -> None:
    for incident in incidents[DEAD]:
        assert "investigated" in _kinds(incident) and "investigation_failed" not in _kinds(incident)
        missing = incident["report"]["missing"]
        assert any("Unreachable" in m and DEAD in m for m in missing), missing
        assert incident["report"]["root_cause"]["category"] == "unknown"  # nothing could be read
