"""The dashboard's HTTP side against the session's app: fleet API, change feed (long-poll and SSE),
``/metrics``, the static assets and the OpenAPI schema.

Each test posts synthetic alerts to clusters of its own (``t-<test>-<random>``, not in the fleet) with
``startsAt`` values on a date of its own, so counts and buckets are exactly what the test posted,
whatever else the session has stored.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from clusters.scenarios.alerts import fingerprint
from serve.dashboard import STATIC_DIR
from tests.conftest import make_alert, make_payload
from tests.integration.conftest import CLUSTERS, FleetApp

pytestmark = pytest.mark.integration


def _cluster(test: str) -> str:
    return f"t-{test}-{uuid.uuid4().hex[:8]}"


def _alert(cluster: str, pod: str, *, starts: str, severity: str = "warning", alertname: str = "KubePodCrashLooping",
           **kw: str) -> dict[str, Any]:
    labels = {"alertname": alertname, "namespace": "shop", "pod": pod, "severity": severity, "tag": cluster}
    return make_alert(alertname, labels, fp=fingerprint(labels), starts=starts, **kw)


def _post(app: FleetApp, client: httpx.Client, cluster: str, *alerts: dict[str, Any]) -> list[str]:
    r = app.post(client, cluster, make_payload(*alerts))
    assert r.status_code == 200, r.text
    if "incidents" in r.json():  # ack "stored" names them; "spooled" (the default): read them back
        return r.json()["incidents"]
    stored = app.alerts(client, cluster)
    return sorted({stored[a["fingerprint"]]["incident_id"] for a in alerts} - {None})


@pytest.fixture
def client(fleet_app: FleetApp) -> Iterator[httpx.Client]:
    with fleet_app.client() as c:
        yield c


# -- fleet API ---------------------------------------------------------------------------------

def test_summary_lists_the_fleet_and_counts_a_new_clusters_alerts(fleet_app: FleetApp, client: httpx.Client) -> None:
    cluster = _cluster("summary")
    _post(fleet_app, client, cluster, _alert(cluster, "api-7d9c5b6f4-x2kqp", starts="2021-03-01T10:00:00Z",
                                             severity="critical"),
          _alert(cluster, "api-7d9c5b6f4-x2kqp", starts="2021-03-01T10:01:00Z", alertname="KubePodNotReady"))
    r = client.get("/api/v1/fleet/summary")
    assert r.status_code == 200, r.text
    by = {c["cluster"]: c for c in r.json()["clusters"]}
    assert set(CLUSTERS) <= {name for name, c in by.items() if c["in_fleet"]}
    mine = by[cluster]
    assert not mine["in_fleet"]
    assert (mine["open_incidents"], mine["worst_severity"]) == (1, "critical")
    assert mine["alerts"] == {"firing": 2, "resolved": 0, "total": 2}
    assert [c["open"] for c in mine["categories"]] == [1]
    assert r.json()["open_incidents"] >= 1 and "pending" in r.json()["categories"]


def test_trends_bucket_alerts_per_cluster_and_time_to_resolve(fleet_app: FleetApp, client: httpx.Client) -> None:
    cluster = _cluster("trends")
    a = _alert(cluster, "api-7d9c5b6f4-x2kqp", starts="2021-03-14T10:05:00Z")
    b = _alert(cluster, "web-5f6d7c8b9-abcde", starts="2021-03-14T10:40:00Z")
    c = _alert(cluster, "db-0", starts="2021-03-14T12:15:00Z")
    _post(fleet_app, client, cluster, a, b, c)
    _post(fleet_app, client, cluster, {**a, "status": "resolved", "endsAt": "2021-03-14T10:35:00Z"})
    window = {"since": "2021-03-14T00:00:00Z", "until": "2021-03-15T00:00:00Z"}
    hourly = client.get("/api/v1/fleet/trends", params={"bucket": "hour", **window}).json()
    assert [(p["at"], p["count"]) for p in hourly["alerts"] if p["cluster"] == cluster] == [
        ("2021-03-14T10:00:00Z", 2), ("2021-03-14T12:00:00Z", 1)]
    heat = {(x["category"], x["count"]) for x in hourly["incidents_by_category"] if x["cluster"] == cluster}
    assert sum(n for _, n in heat) == 3
    resolved = [t for t in hourly["time_to_resolve"] if t["at"] == "2021-03-14T10:00:00Z"]
    assert resolved and resolved[0]["resolved"] >= 1 and 1800.0 in (resolved[0]["median_s"], resolved[0]["max_s"])
    daily = client.get("/api/v1/fleet/trends", params={"bucket": "day", **window}).json()
    assert [(p["at"], p["count"]) for p in daily["alerts"] if p["cluster"] == cluster] == [("2021-03-14T00:00:00Z", 3)]


@pytest.mark.parametrize("params", [{"bucket": "week"},
                                    {"since": "2021-03-15T00:00:00Z", "until": "2021-03-14T00:00:00Z"}])
def test_trends_refuse_bad_parameters(client: httpx.Client, params: dict[str, str]) -> None:
    r = client.get("/api/v1/fleet/trends", params=params)
    assert r.status_code == 422, r.text


def test_incident_search_filters_and_pages(fleet_app: FleetApp, client: httpx.Client) -> None:
    cluster = _cluster("search")
    alerts = [_alert(cluster, f"{name}-7d9c5b6f4-x2kqp", starts=f"2021-04-01T1{i}:00:00Z", severity=sev)
              for i, (name, sev) in enumerate([("api", "critical"), ("web", "warning"), ("cart", "warning")])]
    _post(fleet_app, client, cluster, *alerts)
    _post(fleet_app, client, cluster, {**alerts[1], "status": "resolved", "endsAt": "2021-04-01T11:30:00Z"})

    def ids(**params: Any) -> list[str]:
        page = client.get("/api/v1/fleet/incidents", params={"cluster": cluster, **params}).json()
        assert page["total"] == len(page["items"]) or "limit" in params
        return [i["subject"]["name"] for i in page["items"]]

    assert ids() == ["cart", "web", "api"]
    assert ids(severity="critical") == ["api"]
    assert ids(status="resolved") == ["web"]
    assert ids(status="open", severity="warning") == ["cart"]
    assert ids(since="2021-04-01T11:00:00Z") == ["cart", "web"]
    assert ids(until="2021-04-01T11:00:00Z") == ["api"]
    assert ids(category="pending", status="resolved") in ([], ["web"])  # depends on whether it was investigated
    first = client.get("/api/v1/fleet/incidents", params={"cluster": cluster, "limit": 2}).json()
    rest = client.get("/api/v1/fleet/incidents", params={"cluster": cluster, "limit": 2, "offset": 2}).json()
    assert first["total"] == rest["total"] == 3
    assert [i["subject"]["name"] for i in first["items"] + rest["items"]] == ["cart", "web", "api"]
    assert client.get("/api/v1/fleet/incidents", params={"status": "bogus"}).status_code == 422


# -- the change feed ---------------------------------------------------------------------------

def test_long_poll_returns_the_changes_after_a_sequence(fleet_app: FleetApp, client: httpx.Client) -> None:
    start = client.get("/api/v1/events", params={"after": -1}).json()
    assert start["events"] == [] and start["last_seq"] >= 0
    cluster = _cluster("feed")
    (inc,) = _post(fleet_app, client, cluster, _alert(cluster, "api-7d9c5b6f4-x2kqp", starts="2021-05-01T10:00:00Z"))
    page = client.get("/api/v1/events", params={"after": start["last_seq"], "timeout_s": 10}).json()
    mine = [e for e in page["events"] if e["incident"]["id"] == inc]
    assert mine and mine[0]["kind"] == "opened" and mine[0]["incident"]["clusters"] == [cluster]
    assert [e["seq"] for e in page["events"]] == sorted(e["seq"] for e in page["events"])
    assert all(e["seq"] > start["last_seq"] for e in page["events"])


def _sse_messages(lines: Iterator[str]) -> Iterator[dict[str, str]]:
    msg: dict[str, str] = {}
    for line in lines:
        if not line:
            if "data" in msg:  # ("retry:" alone is a setting, not a message)
                yield msg
            msg = {}
        elif not line.startswith(":"):
            key, _, value = line.partition(": ")
            msg[key] = value


def test_event_stream_pushes_a_new_incident(fleet_app: FleetApp, client: httpx.Client) -> None:
    import orjson

    cluster = _cluster("sse")
    with client.stream("GET", "/api/v1/events/stream", params={"max_s": 60}) as stream:
        assert stream.status_code == 200 and stream.headers["content-type"].startswith("text/event-stream")
        messages = _sse_messages(stream.iter_lines())
        ready = next(messages)
        assert ready["event"] == "ready"
        with fleet_app.client() as other:
            (inc,) = _post(fleet_app, other, cluster, _alert(cluster, "api-7d9c5b6f4-x2kqp",
                                                             starts="2021-05-02T10:00:00Z"))
        for msg in messages:
            data = orjson.loads(msg["data"])
            if msg["event"] == "incident" and data["incident"]["id"] == inc:
                assert data["kind"] == "opened" and int(msg["id"]) == data["seq"]
                assert data["seq"] > orjson.loads(ready["data"])["last_seq"]
                break


# -- metrics -----------------------------------------------------------------------------------

def _metrics(client: httpx.Client) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    r = client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain"), r.text
    return {(s.name, frozenset(s.labels.items())): s.value
            for fam in text_string_to_metric_families(r.text) for s in fam.samples}


def test_metrics_count_alerts_incidents_investigations_and_collector_errors(fleet_app: FleetApp,
                                                                            client: httpx.Client) -> None:
    cluster = _cluster("metrics")
    before = _metrics(client)
    _post(fleet_app, client, cluster, _alert(cluster, "api-7d9c5b6f4-x2kqp", starts="2021-06-01T10:00:00Z"),
          _alert(cluster, "api-7d9c5b6f4-b8wzd", starts="2021-06-01T10:00:00Z"),
          _alert(cluster, "web-5f6d7c8b9-abcde", starts="2021-06-01T10:00:00Z"))
    assert fleet_app.wait_idle(120)
    after = _metrics(client)
    mine = frozenset({("cluster", cluster)})
    assert after[("fleetsre_alerts_received_total", mine)] == 3
    assert after[("fleetsre_incidents_open", mine)] == 2
    # its cluster is not in the fleet: each of its 2 investigations records an error for resource "cluster"
    assert after[("fleetsre_collector_errors_total", frozenset({("cluster", cluster), ("resource", "cluster")}))] >= 2
    ok = ("fleetsre_investigation_duration_seconds_count", frozenset({("outcome", "ok")}))
    assert after[ok] >= before.get(ok, 0) + 2
    assert after[("fleetsre_llm_tokens_total", frozenset({("direction", "prompt")}))] == 0


# -- the dashboard's files and the schema ------------------------------------------------------

def test_the_dashboard_and_its_modules_are_served(client: httpx.Client) -> None:
    index = client.get("/")
    assert index.status_code == 200 and index.headers["content-type"].startswith("text/html")
    assert 'src="/static/js/app.js"' in index.text
    js = client.get("/static/js/app.js")
    assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript")
    assert "LiveFeed" in js.text
    assert client.get("/static/style.css").headers["content-type"].startswith("text/css")
    assert client.get("/static/js/nope.js").status_code == 404
    assert client.get("/static/..%2f..%2fingress.py").status_code == 404


def test_no_asset_is_loaded_from_another_host() -> None:
    remote = re.compile(r"""(?:src|href)\s*=\s*["'](?:https?:)?//|from\s+["'](?:https?:)?//|url\(\s*["']?(?:https?:)?//""")
    files = [p for p in STATIC_DIR.rglob("*") if p.is_file()]
    assert len(files) >= 8
    offenders = [f"{p.relative_to(STATIC_DIR)}: {m.group(0)}" for p in files if p.suffix in (".html", ".js", ".css")
                 for m in remote.finditer(p.read_text())]
    assert offenders == []


def test_openapi_documents_the_fleet_routes_with_response_models(client: httpx.Client) -> None:
    spec = client.get("/openapi.json").json()
    for path, model in [("/api/v1/fleet/summary", "FleetSummary"), ("/api/v1/fleet/trends", "FleetTrends"),
                        ("/api/v1/fleet/incidents", "IncidentPage"), ("/api/v1/events", "FeedPage")]:
        schema = spec["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        assert schema["$ref"].endswith(f"/{model}"), (path, schema)
    assert "/api/v1/events/stream" in spec["paths"] and "/metrics" in spec["paths"]
    worst = spec["components"]["schemas"]["ClusterSummary"]["properties"]["worst_severity"]
    assert "worst severity" in worst["description"]
