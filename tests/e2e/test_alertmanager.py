"""A real Alertmanager 0.25 in front of fleetsre: push alerts as Prometheus does, read the result.

One Alertmanager per cluster, as each cluster runs its own (kube-prometheus routing: ``group_by:
[namespace]``, here with 1s timers, ``send_resolved: true``), each posting to
``/webhook/alertmanager/<cluster>``; ``e2e-b`` also sends the cluster's bearer token through
``http_config.authorization``. The scenario alerts are pushed with their own labels, annotations,
``startsAt`` and ``generatorURL`` to ``POST /api/v2/alerts``; then fleetsre's HTTP API is polled
(bounded) until the incidents have reports.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from tests.e2e.alertmanager import Alertmanager, find_binary, postable, webhook_config
from tests.e2e.conftest import MISSING, in_ci
from tests.integration.conftest import FleetApp, Scenario

pytestmark = pytest.mark.e2e

CLUSTERS = ("e2e-a", "e2e-b")
DELIVERY_TIMEOUT_S = 120.0
RESOLVE_TIMEOUT_S = 60.0

T = TypeVar("T")


def poll(check: Callable[[], T | None], timeout_s: float, what: str,
         detail: Callable[[], str] = lambda: "", interval_s: float = 0.5) -> T:
    """Call ``check`` until it returns something truthy; fail naming ``what``, the last answer and ``detail()``."""
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval_s)
    raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}; last answer: {last!r}\n{detail()}")


@dataclass
class Delivered:
    app: FleetApp
    managers: dict[str, Alertmanager]
    pushed: dict[str, list[dict[str, Any]]]  # cluster -> the webhook alerts pushed (firing)


def firing(scenario: Scenario) -> list[dict[str, Any]]:
    return [a for a in scenario.alerts() if a["status"] == "firing"]


def test_alertmanager_is_installed() -> None:
    """Under CI the binary must be there (CI installs it); elsewhere its absence skips the suite."""
    if find_binary() is None:
        if in_ci():
            pytest.fail(MISSING)
        pytest.skip(MISSING)


@pytest.fixture(scope="module")
def alertmanagers(alertmanager_binary: str, fleet_app: FleetApp,
                  tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Alertmanager]]:
    root: Path = tmp_path_factory.mktemp("alertmanager")
    managers: dict[str, Alertmanager] = {}
    try:
        for cluster in CLUSTERS:
            config = webhook_config(f"{fleet_app.url}/webhook/alertmanager/{cluster}",
                                    token=fleet_app.tokens.get(cluster))
            managers[cluster] = Alertmanager(root / cluster, config, binary=alertmanager_binary).start()
        yield managers
    finally:
        for am in managers.values():
            am.stop()


def _reported(app: FleetApp, client: httpx.Client, cluster: str, fingerprints: set[str]) -> dict[str, Any] | None:
    """The stored alerts once every pushed one is in an incident that has been investigated."""
    stored = app.alerts(client, cluster)
    if not fingerprints <= set(stored) or not all(stored[fp]["incident_id"] for fp in fingerprints):
        return None
    for inc_id in {stored[fp]["incident_id"] for fp in fingerprints}:
        inc = client.get(f"/api/v1/incidents/{inc_id}").json()
        if inc.get("report") is None or "investigated" not in [e["kind"] for e in inc["events"]]:
            return None
    return stored


@pytest.fixture(scope="module")
def delivered(alertmanagers: dict[str, Alertmanager], fleet_app: FleetApp) -> Delivered:
    pushed = {c: firing(fleet_app.scenarios[c]) for c in CLUSTERS}
    for cluster, alerts in pushed.items():
        assert alerts, f"scenario of {cluster} has no firing alert"
        alertmanagers[cluster].push([postable(a) for a in alerts])
    want = {c: {a["fingerprint"] for a in alerts} for c, alerts in pushed.items()}
    with fleet_app.client() as client:
        poll(lambda: all(_reported(fleet_app, client, c, fps) for c, fps in want.items()), DELIVERY_TIMEOUT_S,
             "Alertmanager's webhooks to be stored and investigated",
             detail=lambda: "\n".join(f"{c} Alertmanager log tail:\n{am.log()[-2000:]}" for c, am in alertmanagers.items()))
    return Delivered(fleet_app, alertmanagers, pushed)


def test_alertmanager_fingerprints_equal_the_scenarios(delivered: Delivered) -> None:
    """Both hash the label set (FNV-1a), so the fingerprint survives the trip through Alertmanager."""
    with delivered.app.client() as client:
        for cluster, alerts in delivered.pushed.items():
            want = {a["fingerprint"] for a in alerts}
            held = {a["fingerprint"] for a in delivered.managers[cluster].alerts()}
            assert held == want, cluster
            stored = delivered.app.alerts(client, cluster)
            assert want <= set(stored), cluster
            for a in alerts:
                assert stored[a["fingerprint"]]["labels"] == a["labels"]


def test_webhooks_came_from_alertmanager(delivered: Delivered) -> None:
    """The audit trail shows Alertmanager's own envelope: receiver, per-namespace groupKey, externalURL."""
    with delivered.app.client() as client:
        for cluster, alerts in delivered.pushed.items():
            stored = delivered.app.alerts(client, cluster)
            inc_id = stored[alerts[0]["fingerprint"]]["incident_id"]
            events = client.get(f"/api/v1/incidents/{inc_id}").json()["events"]
            received = [e["payload"] for e in events if e["kind"] == "webhook_received"]
            assert received, events
            assert received[0]["receiver"] == "fleetsre"
            assert received[0]["externalURL"] == delivered.managers[cluster].url
            namespace = alerts[0]["labels"].get("namespace")
            assert received[0]["groupKey"] == (f'{{}}:{{namespace="{namespace}"}}' if namespace else "{}:{}")


def test_categories_match_the_ground_truth(delivered: Delivered) -> None:
    app = delivered.app
    results = []
    with app.client() as client:
        for cluster in CLUSTERS:
            stored = app.alerts(client, cluster)
            for exp in app.scenarios[cluster].expected:
                inc_id = app.incident_of(stored, exp["alerts"])
                assert inc_id, f"{cluster}: no incident holds the alerts of {exp}"
                report = client.get(f"/api/v1/incidents/{inc_id}").json()["report"]
                results.append((cluster, exp.get("subject"), exp["category"], report["root_cause"]["category"]))
    assert results
    misses = [r for r in results if r[2] != r[3]]
    assert not misses, f"(cluster, subject, expected, got): {misses}"


def test_a_resolve_pushed_to_alertmanager_resolves_the_incident(delivered: Delivered) -> None:
    app, cluster = delivered.app, "e2e-a"
    exp = app.scenarios[cluster].expected[0]
    by_fp = {a["fingerprint"]: a for a in delivered.pushed[cluster]}
    with app.client() as client:
        stored = app.alerts(client, cluster)
        inc_id = app.incident_of(stored, exp["alerts"])
        members = [fp for fp, a in stored.items() if a["incident_id"] == inc_id]
        ends = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=1)
        delivered.managers[cluster].push([postable(by_fp[fp], ends_at=ends) for fp in members])

        def resolved() -> dict[str, Any] | None:
            inc = client.get(f"/api/v1/incidents/{inc_id}").json()
            return inc if inc["status"] == "resolved" else None

        inc = poll(resolved, RESOLVE_TIMEOUT_S, f"incident {inc_id} to resolve")
    assert {a["fingerprint"] for a in inc["alerts"]} == set(members)
    assert {a["status"] for a in inc["alerts"]} == {"resolved"}
    assert {datetime.fromisoformat(a["ends_at"]) for a in inc["alerts"]} == {ends}
    assert datetime.fromisoformat(inc["resolved_at"]) == ends
