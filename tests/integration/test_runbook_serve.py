"""Runbooks in the Ray app: every report carries its runbook's steps, and each step is in the
incident's audit trail. The session app runs in the default ``recommend`` mode, so nothing changes."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from tests.integration.conftest import FleetApp

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def details(fleet_app: FleetApp) -> dict[str, dict[str, Any]]:
    """sim-a (oom_killed) and sim-b (bad_rollout_image) posted (a repeat post is deduplicated), investigated."""
    out = {}
    with fleet_app.client() as client:
        for cluster in ("sim-a", "sim-b"):
            for payload in fleet_app.scenarios[cluster].payloads:
                assert fleet_app.post(client, cluster, payload).status_code == 200
        assert fleet_app.wait_idle(120), "investigations still running after 120s"
        for cluster in ("sim-a", "sim-b"):
            stored = fleet_app.alerts(client, cluster)
            inc = fleet_app.incident_of(stored, fleet_app.scenarios[cluster].expected[0]["alerts"])
            r = client.get(f"/api/v1/incidents/{inc}")
            assert r.status_code == 200, r.text
            out[cluster] = r.json()
    return out


def _actions(detail: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {a["step"]: a for a in detail["report"]["actions"]}


def test_the_oom_report_recommends_the_memory_raise(details: dict[str, dict[str, Any]]) -> None:
    report = details["sim-a"]["report"]
    assert report["runbook"] == "oom-killed"
    step = _actions(details["sim-a"])["raise-memory"]
    assert step["status"] == "recommended" and step["mode"] == "recommend" and step["mutates"]
    assert step["command"].startswith("kubectl --context sim-a -n ") and "--limits=memory=" in step["command"]
    assert _actions(details["sim-a"])["oom"]["status"] == "done"


def test_the_bad_rollout_report_recommends_the_rollback(details: dict[str, dict[str, Any]]) -> None:
    assert details["sim-b"]["report"]["runbook"] == "bad-rollout"
    step = _actions(details["sim-b"])["rollback"]
    assert step["status"] == "recommended" and "rollout undo deployment/" in step["command"]
    assert "--to-revision=" in step["command"]


def test_every_step_is_in_the_audit_trail(details: dict[str, dict[str, Any]]) -> None:
    for detail in details.values():
        events = [e for e in detail["events"] if e["kind"] == "runbook_step"]
        steps = [(a["step"], a["status"]) for a in detail["report"]["actions"]]
        assert steps
        # each investigation records its run; the latest report's steps are among them, with inputs and outputs
        recorded = Counter((e["payload"]["step"], e["payload"]["status"]) for e in events)
        assert all(recorded[s] >= 1 for s in steps)
        assert all({"inputs", "outputs", "mode", "runbook", "why"} <= set(e["payload"]) for e in events)
        assert not any(e["payload"]["status"] == "done" and e["payload"]["mutates"] for e in events)
