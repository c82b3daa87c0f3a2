"""Fault injection end to end: partial evidence, never a failed or hung investigation.

Five clusters of the session fleet run generated scenarios behind simulator faults and are read
through the live path (collector actors, official client): events forbidden by RBAC, logs
forbidden, most requests answered 500, connections refused, and connections that hang past a 1 s
request timeout.
Their Alertmanager payloads go over HTTP in one batch with one wait; each report must name what it
could not collect (the resource and the status), every investigation must complete, and where the
rest of the evidence suffices the category must still be right.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.conftest import ClusterSpec, FleetApp

pytestmark = pytest.mark.integration

SESSION_CLUSTERS = {
    "fault-noevents": ClusterSpec("oom_killed", seed=201, faults={"forbidden": ["events"]}),
    "fault-nologs": ClusterSpec("probe_failure", seed=205, faults={"forbidden": ["pods/log"]}),
    "fault-errors": ClusterSpec("probe_failure", seed=202, faults={"error_rate": 0.8}),
    "fault-down": ClusterSpec("bad_rollout_image", seed=203, faults={"unreachable": True}),
    "fault-hang": ClusterSpec("config_error", seed=204, faults={"unreachable": "hang"}, request_timeout_s=1.0),
}
WAIT_S = 180.0


@pytest.fixture(scope="module")
def incidents(fleet_app: FleetApp) -> dict[str, list[dict[str, Any]]]:
    """cluster -> the incidents (report, events) holding each expected incident's alerts."""
    with fleet_app.client() as client:
        for cluster in SESSION_CLUSTERS:
            for payload in fleet_app.scenarios[cluster].payloads:
                r = fleet_app.post(client, cluster, payload)
                assert r.status_code == 200 and r.json()["rejected"] == [], f"{cluster}: {r.status_code} {r.text}"
        assert fleet_app.wait_idle(WAIT_S), f"investigations still running after {WAIT_S:.0f}s"
        return fleet_app.expected_incidents(client, SESSION_CLUSTERS)


def _missing(incident: dict[str, Any]) -> list[str]:
    return incident["report"]["missing"]


def test_every_faulty_cluster_is_investigated_to_a_report(incidents: dict[str, list[dict[str, Any]]]) -> None:
    assert set(incidents) == set(SESSION_CLUSTERS)
    for cluster, found in incidents.items():
        for incident in found:
            kinds = [e["kind"] for e in incident["events"]]
            assert "investigated" in kinds and "investigation_failed" not in kinds, (cluster, kinds)
            assert incident["report"] is not None and _missing(incident), f"{cluster}: nothing reported missing"
            collected = [e["payload"] for e in incident["events"] if e["kind"] == "collected"]
            assert collected and all(p["errors"] for p in collected), (cluster, collected)


def test_forbidden_events_are_named_and_oom_is_still_found_from_container_status(
        incidents: dict[str, list[dict[str, Any]]]) -> None:
    (incident,) = incidents["fault-noevents"]
    missing = _missing(incident)
    assert any(m.startswith("events") and "403 Forbidden" in m and 'cannot list resource "events"' in m
               for m in missing), missing
    assert all("events" in m or "previous container logs" in m for m in missing), missing
    assert incident["report"]["root_cause"]["category"] == incident["expected"]["category"] == "oom_killed"


def test_forbidden_logs_are_named_and_the_probe_failure_is_still_found_from_events(
        incidents: dict[str, list[dict[str, Any]]]) -> None:
    (incident,) = incidents["fault-nologs"]
    missing = _missing(incident)
    assert any(m.startswith("logs") and "403 Forbidden" in m and 'resource "pods/log"' in m for m in missing), missing
    assert all(m.startswith("logs") or "previous container logs" in m for m in missing), missing
    assert incident["report"]["root_cause"]["category"] == incident["expected"]["category"] == "probe_failure"


def test_server_errors_are_named_with_their_status(incidents: dict[str, list[dict[str, Any]]]) -> None:
    for incident in incidents["fault-errors"]:
        errors = [m for m in _missing(incident) if "500 InternalError" in m]
        assert errors, _missing(incident)
        assert all("injected fault" in m and "(retryable)" in m for m in errors), errors
        resources = {m.split()[0] for m in errors}
        assert resources <= {"pods", "events", "nodes", "logs", "replicasets", "deployments"}, resources


def test_a_refusing_cluster_is_named_unreachable(incidents: dict[str, list[dict[str, Any]]]) -> None:
    for incident in incidents["fault-down"]:
        missing = _missing(incident)
        assert any("Unreachable" in m and "fault-down" in m for m in missing), missing
        assert incident["report"]["root_cause"]["category"] == "unknown"  # nothing was read


def test_a_hanging_cluster_times_out_instead_of_hanging_the_investigation(
        incidents: dict[str, list[dict[str, Any]]]) -> None:
    for incident in incidents["fault-hang"]:
        missing = _missing(incident)
        timeouts = [m for m in missing if "Timeout" in m]
        assert timeouts and all("(retryable)" in m for m in timeouts), missing
        assert any(m.startswith("pods") for m in timeouts), timeouts
        assert incident["report"]["root_cause"]["category"] == "unknown"  # nothing was read
