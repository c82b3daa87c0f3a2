"""The dashboard in a real headless Chromium (Debian's, driven by Playwright) against the session's app.

Two clusters of this module's own join the session fleet (``SESSION_CLUSTERS``): their scenario
alerts are posted once and investigated, so the pages have real reports to show. Screenshots of
every test land in ``test-artifacts/dashboard/`` (gitignored). Without Chromium the tests skip,
except under ``CI=true``, where they fail saying how to install it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from clusters.scenarios.alerts import fingerprint
from tests.conftest import make_alert, make_payload
from tests.e2e.browser import MISSING, VIEWPORT, find_chromium, launch
from tests.integration.conftest import ClusterSpec, FleetApp

pytestmark = pytest.mark.e2e

#: Clusters of this module in the session fleet: a bad rollout (config_error) and an OOM.
SESSION_CLUSTERS = {"dash-a": ClusterSpec("bad_rollout_config", seed=51),
                    "dash-b": ClusterSpec("oom_killed", seed=52)}
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "dashboard"
TIMEOUT_MS = 20_000


@pytest.fixture(scope="module")
def chromium() -> str:
    executable = find_chromium()
    if executable is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{MISSING} (CI installs both, so their absence here is an error)")
        pytest.skip(MISSING)
    return executable


@pytest.fixture(scope="module")
def dash_incidents(fleet_app: FleetApp) -> dict[str, tuple[str, str]]:
    """Post the dash-* scenarios, wait for the reports: cluster → (incident id, expected category)."""
    out = {}
    with fleet_app.client() as client:
        for cluster in SESSION_CLUSTERS:
            for payload in fleet_app.scenarios[cluster].payloads:
                r = fleet_app.post(client, cluster, payload)
                assert r.status_code == 200, r.text
        assert fleet_app.wait_idle(120), "investigations still running after 120s"
        for cluster in SESSION_CLUSTERS:
            exp = fleet_app.scenarios[cluster].expected[0]
            out[cluster] = (fleet_app.incident_of(fleet_app.alerts(client, cluster), exp["alerts"]), exp["category"])
    return out


@pytest.fixture(scope="module")
def browser(chromium: str) -> Iterator[Any]:
    with launch(chromium) as b:
        yield b


@pytest.fixture
def page(browser: Any, fleet_app: FleetApp, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh page; its screenshot is saved after the test, and a JavaScript error fails the test."""
    pg = browser.new_page(viewport=VIEWPORT, base_url=fleet_app.url)
    pg.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    yield pg
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    pg.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    pg.close()
    assert errors == [], f"JavaScript errors on the page: {errors}"


def _wait_rows(page: Any, column: int, value: str) -> None:
    """Wait until the list shows rows again (it says Loading... while it refetches) and all match."""
    page.wait_for_function("""([column, value]) => {
        const rows = [...document.querySelectorAll('#incident-table tbody tr')];
        return rows.length > 0 && rows.every(r => r.cells[column].textContent === value); }""", arg=[column, value])


def _rows(page: Any) -> list[dict[str, str]]:
    return page.eval_on_selector_all("#incident-table tbody tr", """rows => rows.map(r => ({
        id: r.dataset.id, cluster: r.cells[1].textContent, category: r.cells[3].textContent}))""")


def test_overview_shows_every_simulated_cluster_coloured_by_its_incidents(
        page: Any, fleet_app: FleetApp, dash_incidents: dict[str, tuple[str, str]]) -> None:
    page.goto("/#/")
    page.wait_for_selector("#cluster-grid .tile")
    tiles = {t["cluster"]: t for t in page.eval_on_selector_all(
        "#cluster-grid .tile", "ts => ts.map(t => ({cluster: t.dataset.cluster, open: +t.dataset.open, cls: t.className}))")}
    assert set(fleet_app.scenarios) <= set(tiles)  # every cluster the simulator serves
    for cluster in SESSION_CLUSTERS:
        assert tiles[cluster]["open"] >= 1 and "sev-ok" not in tiles[cluster]["cls"], tiles[cluster]
    category = dash_incidents["dash-a"][1]
    page.wait_for_selector(f"#heat-map td[data-cluster='dash-a'][data-category='{category}'] a")
    series = page.eval_on_selector_all("svg.chart path.series", "ps => ps.map(p => p.dataset.series)")
    # a big session fleet folds the quieter clusters into one "N other clusters" line
    assert "dash-a" in series or any(s.endswith("other clusters") for s in series), series
    page.wait_for_selector("#live[data-live='on']")


def test_a_filter_narrows_the_incident_list(page: Any, dash_incidents: dict[str, tuple[str, str]]) -> None:
    page.goto("/#/incidents")
    page.wait_for_selector("#incident-table tbody tr")
    everything = _rows(page)
    assert {r["cluster"] for r in everything} > {"dash-a"}
    page.select_option("select[name=cluster]", "dash-a")
    _wait_rows(page, 1, "dash-a")
    narrowed = _rows(page)
    assert narrowed and dash_incidents["dash-a"][0] in {r["id"] for r in narrowed}
    assert "cluster=dash-a" in page.url
    category = dash_incidents["dash-a"][1]
    page.select_option("select[name=category]", category)
    _wait_rows(page, 3, category)
    assert {r["category"] for r in _rows(page)} == {category}


def test_an_incident_page_shows_its_category_timeline_and_reinvestigates(
        page: Any, dash_incidents: dict[str, tuple[str, str]]) -> None:
    inc_id, category = dash_incidents["dash-a"]
    page.goto(f"/#/incidents/{inc_id}")
    page.wait_for_selector("#root-cause")
    assert page.inner_text("#incident-category") == category
    kinds = page.eval_on_selector_all("#timeline tbody tr td:nth-child(2)", "tds => tds.map(t => t.textContent)")
    assert "alert" in kinds and len(kinds) >= 3
    assert page.locator("#evidence table").count() >= 1 and page.locator("#recommendations li").count() >= 1
    events_before = page.locator("#audit tbody tr").count()
    page.click("#reinvestigate")  # the new report arrives over the live feed, no reload
    page.wait_for_function("document.getElementById('reinvestigate-status').textContent.startsWith('re-investigated')",
                           timeout=60_000)
    page.wait_for_function(f"document.querySelectorAll('#audit tbody tr').length > {events_before}")


def test_a_new_incident_appears_live_without_a_reload(page: Any, fleet_app: FleetApp) -> None:
    page.goto("/#/incidents")
    page.wait_for_selector("#incident-table tbody tr")
    page.wait_for_selector("#live[data-live='on']")
    page.evaluate("window.__sameDocument = true")
    cluster = f"t-live-{uuid.uuid4().hex[:8]}"
    labels = {"alertname": "KubePodCrashLooping", "namespace": "shop", "pod": "live-7d9c5b6f4-x2kqp",
              "severity": "critical", "tag": cluster}
    with fleet_app.client() as client:
        r = fleet_app.post(client, cluster, make_payload(make_alert(
            "KubePodCrashLooping", labels, fp=fingerprint(labels),
            # newest of all, so it lands on the first page whatever else the session posted
            starts=datetime.now(UTC).isoformat().replace("+00:00", "Z"))))
        assert r.status_code == 200, r.text
        (inc_id,) = {a["incident_id"] for a in fleet_app.alerts(client, cluster).values()}  # reads see the ack
    row = page.wait_for_selector(f"#incident-table tr[data-id='{inc_id}']")
    assert "fresh" in (row.get_attribute("class") or "")
    assert page.evaluate("window.__sameDocument") is True  # the row came without a reload


def _with_actions_and_history(report: dict[str, Any]) -> dict[str, Any]:
    """The real report plus runbook steps in every state and one similar past incident."""
    step = {"runbook": "oom", "tool": "kubectl", "mutates": True, "inputs": {}, "command": "kubectl ...", "why": ""}
    return {**report, "runbook": "oom", "actions": [
        {**step, "step": "raise-limit", "mode": "auto", "status": "done", "result": "memory 256Mi -> 512Mi"},
        {**step, "step": "rollback", "mode": "recommend", "status": "recommended", "result": "roll back to rev 26"},
        {**step, "step": "cordon", "mode": "auto", "status": "failed", "result": "403 Forbidden"}],
        "history": {"similar": [{"incident_id": "inc-0000000000000001", "cluster": "dash-b", "opened_at": "2026-11-01T10:00:00Z",
                                 "resolved_at": None, "category": "config_error", "subject": "shop/checkout",
                                 "matched_on": ["alertname"], "action": "", "outcome": "still open"}],
                    "recurrence": {"alertname": 1}, "clusters": ["dash-b"], "findings": ["seen before"], "advice": ""}}


def test_actions_are_coloured_by_outcome_and_a_missing_reinvestigate_route_is_explained(
        page: Any, dash_incidents: dict[str, tuple[str, str]]) -> None:
    """Served as the API would once runbooks run (the real incident JSON, with steps added) and as an
    older server without the re-investigate route would answer (405)."""
    import json

    inc_id, _ = dash_incidents["dash-b"]

    def incident(route: Any) -> None:
        try:
            real = route.fetch().json()
        except Exception:  # a late refresh racing the page's close: nothing left to serve
            return
        route.fulfill(json={**real, "report": _with_actions_and_history(real["report"])})

    page.route(f"**/api/v1/incidents/{inc_id}", incident)
    page.route(f"**/api/v1/incidents/{inc_id}/investigate", lambda route: route.fulfill(
        status=405, content_type="application/json", body=json.dumps({"detail": "Method Not Allowed"})))
    page.goto(f"/#/incidents/{inc_id}")
    page.wait_for_selector("#actions .action")
    colours = page.eval_on_selector_all("#actions .action", """els => els.map(e =>
        [e.dataset.status, getComputedStyle(e).borderLeftColor])""")
    assert colours == [["done", "rgb(46, 125, 50)"], ["recommended", "rgb(21, 101, 192)"],
                       ["failed", "rgb(198, 40, 40)"]]  # green taken, blue recommended, red failed
    assert page.locator("#history a[href='#/incidents/inc-0000000000000001']").count() == 1
    page.click("#reinvestigate")
    page.wait_for_function("document.getElementById('reinvestigate-status').textContent.includes('not available')")
    # live refreshes may still be in flight: stop intercepting before the page closes
    page.unroute_all(behavior="ignoreErrors")
