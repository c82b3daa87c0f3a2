"""The Serve app over real HTTP: the webhook contract, the read API, and scenarios end to end.

Everything runs against the session's one app (``fleet_app``). Synthetic alerts go to clusters of
their own (``t-<test>-<random>``, not in the fleet), so tests do not see each other's alerts; the
scenario tests post the generated Alertmanager payloads of the ``sim-*`` clusters once per module
(``investigated``) and read what the engine made of them.
"""

from __future__ import annotations

import http.client
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson
import pytest

from clusters.scenarios.alerts import fingerprint
from tests.conftest import make_alert, make_payload
from tests.integration.conftest import FleetApp

pytestmark = pytest.mark.integration

SCENARIO_CLUSTERS = ("sim-a", "sim-b", "sim-down")
CATEGORY_CLUSTERS = ("sim-a", "sim-b")
PIPELINE_ORDER = ("webhook_received", "collected", "investigated")


def _cluster(test: str) -> str:
    return f"t-{test}-{uuid.uuid4().hex[:8]}"


def _alert(cluster: str, alertname: str, pod: str, *, starts: str, status: str = "firing",
           ends: str = "0001-01-01T00:00:00Z") -> dict[str, Any]:
    labels = {"alertname": alertname, "namespace": "shop", "pod": pod, "container": "api",
              "job": "kube-state-metrics", "severity": "warning", "tag": cluster}
    return make_alert(alertname, labels, fp=fingerprint(labels), starts=starts, status=status, ends=ends)


@pytest.fixture
def http_client(fleet_app: FleetApp) -> Iterator[httpx.Client]:
    with fleet_app.client() as client:
        yield client


# -- the webhook contract ----------------------------------------------------------------------

def test_valid_payload_is_readable_as_soon_as_it_is_acknowledged(fleet_app: FleetApp, http_client: httpx.Client) -> None:
    cluster = _cluster("valid")
    alerts = [_alert(cluster, "KubePodCrashLooping", "api-7d9c5b6f4-x2kqp", starts="2026-11-22T17:58:23.393Z"),
              _alert(cluster, "KubePodNotReady", "api-7d9c5b6f4-x2kqp", starts="2026-11-22T17:59:00Z")]
    r = fleet_app.post(http_client, cluster, make_payload(*alerts))
    assert r.status_code == 200, r.text
    assert r.json()["accepted"] == 2 and r.json()["rejected"] == []
    stored = fleet_app.alerts(http_client, cluster)  # no waiting: a 2xx means stored
    assert set(stored) == {a["fingerprint"] for a in alerts}
    assert {a["status"] for a in stored.values()} == {"firing"}
    assert len({a["incident_id"] for a in stored.values()}) == 1  # one workload, one incident
    if r.json()["status"] == "stored":  # ack "stored" names the incidents; "spooled" (the default) cannot yet
        assert next(iter(stored.values()))["incident_id"] in r.json()["incidents"]


def test_malformed_json_is_400_naming_body(fleet_app: FleetApp, http_client: httpx.Client) -> None:
    r = http_client.post("/webhook/alertmanager/sim-a", content=b'{"version": "4", "alerts": [',
                         headers=fleet_app.headers("sim-a"))
    assert r.status_code == 400, r.text
    assert r.json()["field"] == "body"


def test_version_3_is_rejected_naming_version(fleet_app: FleetApp, http_client: httpx.Client) -> None:
    cluster = _cluster("v3")
    payload = {**make_payload(_alert(cluster, "KubePodCrashLooping", "api-0", starts="2026-11-22T17:58:23Z")),
               "version": "3"}
    r = fleet_app.post(http_client, cluster, payload)
    assert 400 <= r.status_code < 500, r.text
    assert r.json()["field"] == "version"
    assert fleet_app.alerts(http_client, cluster) == {}  # a 4xx drops the whole group


def test_body_over_the_limit_is_413_before_the_body_is_read(fleet_app: FleetApp) -> None:
    """A declared Content-Length over the default 32 MiB is refused without sending a byte of it."""
    from engine.config import EngineConfig

    url = urlsplit(fleet_app.url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    try:
        conn.putrequest("POST", "/webhook/alertmanager/sim-a")
        conn.putheader("Content-Type", "application/json")
        conn.putheader("Content-Length", str(EngineConfig().max_body_bytes + 1))
        conn.endheaders()
        resp = conn.getresponse()
        status, body = resp.status, orjson.loads(resp.read())
    finally:
        conn.close()
    assert status == 413, body
    assert body["field"] == "body"


def test_partly_invalid_group_stores_the_good_alert_and_names_the_bad_one(fleet_app: FleetApp,
                                                                           http_client: httpx.Client) -> None:
    cluster = _cluster("partial")
    good = _alert(cluster, "KubePodCrashLooping", "api-7d9c5b6f4-x2kqp", starts="2026-11-22T17:58:23Z")
    bad = {**_alert(cluster, "KubePodNotReady", "api-7d9c5b6f4-x2kqp", starts="2026-11-22T17:58:23Z"),
           "startsAt": "yesterday"}
    r = fleet_app.post(http_client, cluster, make_payload(good, bad))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["accepted"] == 1
    assert [(x["index"], x["field"]) for x in body["rejected"]] == [(1, "alerts[1].startsAt")]
    assert set(fleet_app.alerts(http_client, cluster)) == {good["fingerprint"]}


def test_unknown_incident_is_404(http_client: httpx.Client) -> None:
    r = http_client.get("/api/v1/incidents/inc-0000000000000000")
    assert r.status_code == 404
    assert "inc-0000000000000000" in r.text


@pytest.mark.parametrize("authorization", [None, "Bearer wrong-token", "sim-down-token"])
def test_cluster_with_a_token_requires_its_bearer_token(fleet_app: FleetApp, http_client: httpx.Client,
                                                         authorization: str | None) -> None:
    assert "sim-down" in fleet_app.tokens
    alert = _alert("sim-down", "KubePodCrashLooping", f"auth-{uuid.uuid4().hex[:6]}", starts="2026-11-22T17:58:23Z")
    headers = {"Content-Type": "application/json"}
    if authorization:
        headers["Authorization"] = authorization
    r = http_client.post("/webhook/alertmanager/sim-down", content=orjson.dumps(make_payload(alert)), headers=headers)
    assert r.status_code == 401, r.text
    assert r.json()["field"] == "authorization"
    assert alert["fingerprint"] not in fleet_app.alerts(http_client, "sim-down")


def test_resolving_every_alert_of_an_incident_resolves_it(fleet_app: FleetApp, http_client: httpx.Client) -> None:
    cluster = _cluster("resolve")
    starts = "2026-11-22T17:58:23.393Z"
    firing = [_alert(cluster, "KubePodCrashLooping", "api-7d9c5b6f4-x2kqp", starts=starts),
              _alert(cluster, "KubePodCrashLooping", "api-7d9c5b6f4-b8wzd", starts=starts)]
    assert fleet_app.post(http_client, cluster, make_payload(*firing)).status_code == 200
    (inc_id,) = {a["incident_id"] for a in fleet_app.alerts(http_client, cluster).values()}
    ends = ["2026-11-22T18:10:00Z", "2026-11-22T18:14:33.79Z"]

    def resolve(i: int) -> None:
        resolved = {**firing[i], "status": "resolved", "endsAt": ends[i]}
        assert fleet_app.post(http_client, cluster, make_payload(resolved, *firing[i + 1:])).status_code == 200

    resolve(0)  # a partial resolve, as Alertmanager sends it: the incident stays open
    assert http_client.get(f"/api/v1/incidents/{inc_id}").json()["status"] == "open"
    resolve(1)
    inc = http_client.get(f"/api/v1/incidents/{inc_id}").json()
    assert inc["status"] == "resolved"
    assert datetime.fromisoformat(inc["resolved_at"]) == datetime(2026, 11, 22, 18, 14, 33, 790000, tzinfo=UTC)
    assert {a["status"] for a in inc["alerts"]} == {"resolved"}
    assert len(http_client.get("/api/v1/incidents", params={"cluster": cluster}).json()) == 1


# -- scenarios through the whole pipeline ------------------------------------------------------

@pytest.fixture(scope="module")
def investigated(fleet_app: FleetApp) -> dict[str, dict[str, dict[str, Any]]]:
    """Post every scenario payload of the sim-* clusters in send order, then wait for the reports."""
    with fleet_app.client() as client:
        for cluster in SCENARIO_CLUSTERS:
            for payload in fleet_app.scenarios[cluster].payloads:
                r = fleet_app.post(client, cluster, payload)
                assert r.status_code == 200, f"{cluster}: {r.status_code} {r.text}"
                assert r.json()["rejected"] == [], r.text
        assert fleet_app.wait_idle(120), "investigations still running after 120s"
        return {c: fleet_app.alerts(client, c) for c in SCENARIO_CLUSTERS}


def _expected_incidents(fleet_app: FleetApp, clusters: tuple[str, ...]) -> list[tuple[str, dict[str, Any]]]:
    return [(c, exp) for c in clusters for exp in fleet_app.scenarios[c].expected]


def _detail(client: httpx.Client, inc_id: str) -> dict[str, Any]:
    r = client.get(f"/api/v1/incidents/{inc_id}")
    assert r.status_code == 200, r.text
    return r.json()


def test_every_scenario_alert_is_stored_in_an_incident(fleet_app: FleetApp, investigated: dict[str, Any]) -> None:
    for cluster in SCENARIO_CLUSTERS:
        sent = {a["fingerprint"] for a in fleet_app.scenarios[cluster].alerts()}
        stored = investigated[cluster]
        assert sent and sent <= set(stored), f"{cluster}: not stored: {sorted(sent - set(stored))}"
        assert all(stored[fp]["incident_id"] for fp in sent if stored[fp]["status"] == "firing")


def test_scenario_reports_have_the_expected_category(fleet_app: FleetApp, http_client: httpx.Client,
                                                     investigated: dict[str, Any]) -> None:
    results = []
    for cluster, exp in _expected_incidents(fleet_app, CATEGORY_CLUSTERS):
        inc_id = fleet_app.incident_of(investigated[cluster], exp["alerts"])
        assert inc_id, f"{cluster}: no incident holds the alerts of {exp}"
        report = _detail(http_client, inc_id)["report"]
        assert report is not None, f"{cluster}: incident {inc_id} has no report"
        results.append((cluster, exp.get("subject"), exp["category"], report["root_cause"]["category"]))
    assert results
    misses = [r for r in results if r[2] != r[3]]
    assert not misses, f"(cluster, subject, expected, got): {misses}"


def test_expected_incident_alerts_land_in_one_incident(fleet_app: FleetApp, investigated: dict[str, Any]) -> None:
    for cluster, exp in _expected_incidents(fleet_app, SCENARIO_CLUSTERS):
        ids = {investigated[cluster][fp]["incident_id"] for fp in exp["alerts"]}
        assert len(ids) == 1, f"{cluster}: the alerts of {exp.get('subject')} are split over {ids}"


def test_incident_detail_has_report_events_in_pipeline_order_and_alerts(
        fleet_app: FleetApp, http_client: httpx.Client, investigated: dict[str, Any]) -> None:
    for cluster, exp in _expected_incidents(fleet_app, CATEGORY_CLUSTERS):
        inc_id = fleet_app.incident_of(investigated[cluster], exp["alerts"])
        inc = _detail(http_client, inc_id)
        assert inc["report"]["incident_id"] == inc_id
        assert set(exp["alerts"]) <= {a["fingerprint"] for a in inc["alerts"]}
        kinds = [e["kind"] for e in inc["events"]]
        assert "investigation_failed" not in kinds, inc["events"]
        firsts = [kinds.index(k) if k in kinds else None for k in PIPELINE_ORDER]
        assert None not in firsts and firsts == sorted(firsts), f"{inc_id}: events {kinds}"


def test_unreachable_cluster_gives_a_report_that_says_what_is_missing(
        fleet_app: FleetApp, http_client: httpx.Client, investigated: dict[str, Any]) -> None:
    ids = {a["incident_id"] for a in investigated["sim-down"].values() if a["incident_id"]}
    assert ids
    for inc_id in ids:
        inc = _detail(http_client, inc_id)
        kinds = [e["kind"] for e in inc["events"]]
        assert "investigated" in kinds and "investigation_failed" not in kinds, kinds
        report = inc["report"]
        assert report is not None and report["missing"], f"{inc_id}: nothing reported missing: {report}"
        assert any("sim-down" in m for m in report["missing"]), report["missing"]
        collected = [e["payload"] for e in inc["events"] if e["kind"] == "collected"]
        assert collected and all(p["errors"] for p in collected), collected


def test_reposting_the_same_payloads_creates_no_second_incident(
        fleet_app: FleetApp, http_client: httpx.Client, investigated: dict[str, Any]) -> None:
    cluster = "sim-a"
    before = http_client.get("/api/v1/incidents", params={"cluster": cluster, "limit": 1000}).json()
    for payload in fleet_app.scenarios[cluster].payloads:
        r = fleet_app.post(http_client, cluster, payload)
        assert r.status_code == 200 and r.json().get("incidents", []) == [], r.text
    assert fleet_app.wait_idle(60)
    after = http_client.get("/api/v1/incidents", params={"cluster": cluster, "limit": 1000}).json()
    assert [(i["id"], i["revision"]) for i in after] == [(i["id"], i["revision"]) for i in before]
    stored = fleet_app.alerts(http_client, cluster)
    for fp, alert in investigated[cluster].items():
        assert stored[fp]["incident_id"] == alert["incident_id"]
        assert stored[fp]["receive_count"] > alert["receive_count"]


def test_incident_list_filters_by_category(fleet_app: FleetApp, http_client: httpx.Client,
                                           investigated: dict[str, Any]) -> None:
    cluster, exp = _expected_incidents(fleet_app, ("sim-a",))[0]
    inc_id = fleet_app.incident_of(investigated[cluster], exp["alerts"])
    category = _detail(http_client, inc_id)["category"]
    listed = http_client.get("/api/v1/incidents", params={"cluster": cluster, "category": category}).json()
    assert inc_id in {i["id"] for i in listed}
    assert {i["category"] for i in listed} == {category}


def test_reinvestigate_runs_a_fresh_investigation_and_404s_for_unknown(
        fleet_app: FleetApp, http_client: httpx.Client, investigated: dict[str, Any]) -> None:
    cluster, exp = _expected_incidents(fleet_app, CATEGORY_CLUSTERS)[0]
    inc_id = fleet_app.incident_of(investigated[cluster], exp["alerts"])
    before = [e["kind"] for e in _detail(http_client, inc_id)["events"]].count("investigated")
    r = http_client.post(f"/api/v1/incidents/{inc_id}/investigate")
    assert r.status_code == 202 and r.json() == {"status": "scheduled", "incident_id": inc_id}
    assert fleet_app.wait_idle(120)
    inc = _detail(http_client, inc_id)
    kinds = [e["kind"] for e in inc["events"]]
    assert kinds.count("investigated") == before + 1
    assert kinds.index("reinvestigate_requested") < len(kinds) - 1 - kinds[::-1].index("investigated")
    assert inc["report"]["history"] is not None
    r = http_client.post("/api/v1/incidents/inc-0000000000000000/investigate")
    assert r.status_code == 404 and r.json()["field"] == "incident_id"
