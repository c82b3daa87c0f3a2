"""Live == dump: every library scenario gives the same root cause through both paths.

Live: each scenario of ``clusters.scenarios.SCENARIOS`` (whatever it holds when the tests run) is a
cluster of the session fleet (``lib-<scenario>``), served by the session's one simulator and read by
the collector actors through the official client; its Alertmanager payloads are posted over HTTP,
all clusters in one batch with one wait, and the reports are read back over HTTP.
Dump: the same dump directory and payloads through ``fleetsre investigate --dump``'s in-process
path (``serve.local.investigate_dump``). Both must agree with each other and with expected.json
on the category, the trigger kind and the subject.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from clusters.scenarios import SCENARIOS
from engine.config import EngineConfig
from serve.local import investigate_dump
from tests.integration.conftest import ClusterSpec, FleetApp, Scenario

pytestmark = pytest.mark.integration

#: Seeds of their own: two clusters running one scenario with one seed would ship the identical
#: revision, which is a fleet-wide incident, not the single-cluster one expected.json describes.
SESSION_CLUSTERS = {f"lib-{name.replace('_', '-')}": ClusterSpec(name, seed=100 + i)
                    for i, name in enumerate(SCENARIOS)}
WAIT_S = 300.0

Cause = tuple[str, str, str, str, str]  # category, trigger kind, subject kind, namespace, name


def _cause(root_cause: dict[str, Any]) -> Cause:
    subject = root_cause["subject"]
    return (root_cause["category"], root_cause["trigger"]["kind"], subject["kind"],
            subject.get("namespace") or "", subject["name"])


def _expected(exp: dict[str, Any]) -> Cause:
    s = exp["subject"]
    return exp["category"], exp["trigger"], s["kind"], s.get("namespace") or "", s["name"]


#: expected incident index -> the alerts of it that one incident holds -> that incident's report
Parts = dict[int, dict[frozenset[str], dict[str, Any]]]


@pytest.fixture(scope="module")
def live(fleet_app: FleetApp) -> dict[str, Parts]:
    """Post every library cluster's payloads in one batch, wait once, then read each report over HTTP."""
    with fleet_app.client() as client:
        for cluster in SESSION_CLUSTERS:
            for payload in fleet_app.scenarios[cluster].payloads:
                r = fleet_app.post(client, cluster, payload)
                assert r.status_code == 200 and r.json()["rejected"] == [], f"{cluster}: {r.status_code} {r.text}"
        assert fleet_app.wait_idle(WAIT_S), f"investigations still running after {WAIT_S:.0f}s"
        return {cluster: _live_parts(fleet_app, client, cluster) for cluster in SESSION_CLUSTERS}


def _live_parts(fleet_app: FleetApp, client: httpx.Client, cluster: str) -> Parts:
    stored = fleet_app.alerts(client, cluster)
    parts: Parts = {}
    for i, exp in enumerate(fleet_app.scenarios[cluster].expected):
        by_incident: dict[str, set[str]] = {}
        for fp in exp["alerts"]:
            by_incident.setdefault(stored.get(fp, {}).get("incident_id") or "", set()).add(fp)
        parts[i] = {frozenset(fps): _incident(client, inc_id) for inc_id, fps in by_incident.items()}
    return parts


def _incident(client: httpx.Client, incident_id: str) -> dict[str, Any]:
    if not incident_id:
        return {"report": None, "events": []}  # the alert is stored in no incident
    r = client.get(f"/api/v1/incidents/{incident_id}")
    r.raise_for_status()
    return r.json()


@pytest.fixture(scope="module")
def dumped(fleet_app: FleetApp, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Parts]:
    """The same dumps and payloads through the in-process `investigate --dump` path."""
    out = {}
    for cluster in SESSION_CLUSTERS:
        scenario = fleet_app.scenarios[cluster]
        cfg = EngineConfig(data_dir=tmp_path_factory.mktemp(cluster))
        reports, rejected = investigate_dump(scenario.path / "dump", scenario.payloads, cfg, cluster=cluster)
        assert rejected == [], rejected
        out[cluster] = {i: _dump_parts([r.model_dump(mode="json") for r in reports], exp)
                        for i, exp in enumerate(scenario.expected)}
    return out


def _dump_parts(reports: list[dict[str, Any]], exp: dict[str, Any]) -> dict[frozenset[str], dict[str, Any]]:
    parts = {}
    for report in reports:
        held = frozenset(exp["alerts"]) & set(report["alerts"])
        if held:
            parts[held] = {"report": report}
    unheld = frozenset(exp["alerts"]) - {fp for part in parts for fp in part}
    if unheld:
        parts[unheld] = {"report": None}
    return parts


def _causes(parts: dict[frozenset[str], dict[str, Any]]) -> dict[frozenset[str], Cause | None]:
    return {fps: _cause(p["report"]["root_cause"]) if p["report"] else None for fps, p in parts.items()}


def _show(causes: dict[frozenset[str], Cause | None]) -> str:
    return "; ".join(f"{sorted(fps)} -> {cause}" for fps, cause in sorted(causes.items(), key=lambda x: sorted(x[0])))


def test_the_library_is_served_as_clusters_of_the_session_fleet(fleet_app: FleetApp) -> None:
    assert len(SESSION_CLUSTERS) == len(SCENARIOS) >= 12
    for cluster, spec in SESSION_CLUSTERS.items():
        scenario: Scenario = fleet_app.scenarios[cluster]
        assert scenario.expected and Path(scenario.path / "dump" / "nodes.json").is_file(), cluster
        assert {e["scenario"] for e in scenario.expected} == {spec.scenario}


def test_live_and_dump_group_alike_and_give_the_expected_root_cause(fleet_app: FleetApp, live: dict[str, Parts],
                                                                   dumped: dict[str, Parts]) -> None:
    """Both paths split an expected incident's alerts the same way (ideally: not at all), and every
    incident holding any of them has the expected category, trigger kind and subject."""
    problems = []
    for cluster in SESSION_CLUSTERS:
        for i, exp in enumerate(fleet_app.scenarios[cluster].expected):
            live_causes, dump_causes = _causes(live[cluster][i]), _causes(dumped[cluster][i])
            wanted = {fps: _expected(exp) for fps in live_causes}
            if not (live_causes == dump_causes == wanted):
                problems.append(f"{cluster}: expected {_expected(exp)}\n  live {_show(live_causes)}\n"
                                f"  dump {_show(dump_causes)}")
    assert not problems, "\n".join(problems)


def test_live_investigations_complete_with_the_same_missing_evidence(live: dict[str, Parts],
                                                                     dumped: dict[str, Parts]) -> None:
    """Identical inputs: what the dump path could not read (e.g. logs of a dead node's pods), the
    live path could not read either, and no live investigation failed."""
    differences = []
    for cluster in SESSION_CLUSTERS:
        for i, parts in live[cluster].items():
            for fps, incident in parts.items():
                kinds = [e["kind"] for e in incident["events"]]
                assert "investigated" in kinds and "investigation_failed" not in kinds, (cluster, kinds)
                dump_report = dumped[cluster][i].get(fps, {}).get("report") or {"missing": None}
                # LiveSource prefixes the server's message with "<cluster>: " (a dump has no server
                # to name); the report is the cluster's own, so the prefix is the one difference.
                live_missing = sorted(m.replace(f"— {cluster}: ", "— ") for m in incident["report"]["missing"])
                if live_missing != sorted(dump_report["missing"] or []):
                    differences.append(f"{cluster}: live {live_missing} != dump {dump_report['missing']}")
    assert not differences, "\n".join(differences)
