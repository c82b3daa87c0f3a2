"""No acknowledged alert is lost when the incident manager (the spool's consumer) dies.

The ingress acknowledges from its write-ahead spool, so webhooks keep being acknowledged while the
manager is down; Ray restarts it and it resumes from the position committed with the data. Each
alert must then be stored exactly once (``receive_count`` 1: re-delivery counts nothing twice).
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import pytest

from clusters.scenarios.alerts import fingerprint
from tests.conftest import make_alert, make_payload
from tests.integration.conftest import FleetApp

pytestmark = pytest.mark.integration


def _payloads(cluster: str, n: int, per: int = 5) -> list[dict[str, Any]]:
    out = []
    for i in range(n):
        alerts = []
        for j in range(per):
            labels = {"alertname": "KubePodCrashLooping", "namespace": "shop", "pod": f"api-7d9c5b6f4-{i:03d}{j:02d}",
                      "container": "api", "severity": "warning", "tag": cluster}
            alerts.append(make_alert("KubePodCrashLooping", labels, fp=fingerprint(labels),
                                     starts="2026-11-22T17:58:23.393Z"))
        out.append(make_payload(*alerts))
    return out


def _kill_manager() -> None:
    import ray

    from serve import app as wiring

    ray.kill(wiring.manager(), no_restart=False)  # Ray restarts it (max_restarts=-1), from __init__


def _post_all(fleet_app: FleetApp, client: httpx.Client, cluster: str, payloads: list[dict[str, Any]]) -> set[str]:
    acked = set()
    for p in payloads:
        r = fleet_app.post(client, cluster, p)
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "spooled" and r.json()["accepted"] == len(p["alerts"])
        acked |= {a["fingerprint"] for a in p["alerts"]}
    return acked


def _stored_once(fleet_app: FleetApp, client: httpx.Client, cluster: str, acked: set[str]) -> None:
    deadline = time.monotonic() + 120
    while True:
        try:
            if fleet_app.wait_idle(60):
                break
        except Exception:  # the restarted actor may still be starting
            pass
        assert time.monotonic() < deadline, "the restarted manager did not drain the spool"
        time.sleep(1)
    stored = fleet_app.alerts(client, cluster)
    assert acked <= set(stored), f"acknowledged but lost: {sorted(acked - set(stored))[:5]}"
    assert {a["receive_count"] for a in stored.values()} == {1}  # re-delivery counted nothing twice
    assert all(a["incident_id"] for a in stored.values())


def test_webhooks_acknowledged_while_the_manager_is_down_are_stored_after_its_restart(
        fleet_app: FleetApp) -> None:
    assert fleet_app.wait_idle(180)  # leave the other tests' investigations alone
    cluster = f"t-down-{uuid.uuid4().hex[:8]}"
    with fleet_app.client() as client:
        _kill_manager()
        acked = _post_all(fleet_app, client, cluster, _payloads(cluster, 20))  # acknowledged from the spool
        _stored_once(fleet_app, client, cluster, acked)


def test_killing_the_manager_while_it_stores_loses_and_doubles_nothing(fleet_app: FleetApp) -> None:
    assert fleet_app.wait_idle(180)
    cluster = f"t-kill-{uuid.uuid4().hex[:8]}"
    with fleet_app.client() as client:
        acked = _post_all(fleet_app, client, cluster, _payloads(cluster, 40))
        _kill_manager()  # most likely mid-drain: whatever it had not committed is re-delivered
        _stored_once(fleet_app, client, cluster, acked)
