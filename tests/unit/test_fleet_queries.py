"""Fleet queries over a real (in-memory) history store: summary, trends, the filtered incident list."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engine.correlate import Correlator
from engine.fleet_models import FleetSummary, FleetTrends, IncidentPage
from engine.fleet_queries import (
    collector_errors_after,
    fleet_summary,
    fleet_trends,
    incident_ids,
    open_incidents_by_cluster,
    report_fields,
    search_incidents,
    worst_severity,
)
from engine.history import HistoryStore
from engine.ingest import Ingestor
from engine.report import Report, RootCause, Subject
from tests.conftest import make_alert, make_payload

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def _alert(name: str, pod: str, fp: str, starts: str, severity: str, **kw: str) -> dict:
    return make_alert(name, {"namespace": "shop", "pod": pod, "severity": severity}, fp=fp, starts=starts, **kw)


def _report(store: HistoryStore, ing: Ingestor, inc_id: str, category: str) -> None:
    inc = ing.correlator.incidents[inc_id]
    rc = RootCause(category=category, summary=category, confidence=0.9,  # type: ignore[arg-type]
                   subject=Subject(kind="Deployment", namespace="shop", name=inc.subject.name, cluster=inc.cluster))
    store.save_report(inc, Report(incident_id=inc_id, cluster=inc.cluster, root_cause=rc, generated_at=inc.updated_at))


@pytest.fixture
def fleet() -> tuple[HistoryStore, Ingestor, dict[str, str]]:
    """eu: an open OOM incident (critical) and a resolved crash (warning); us: an open one, no report yet."""
    store = HistoryStore(":memory:")
    ing = Ingestor(store, Correlator())
    ids = {}
    r = ing.receive(make_payload(_alert("KubePodOOMKilled", "api-7d9c5b6f4-x2kqp", "a1", "2026-11-23T09:10:00Z",
                                        "critical"),
                                 _alert("KubePodNotReady", "api-7d9c5b6f4-x2kqp", "a2", "2026-11-23T09:20:00Z",
                                        "warning")), "eu")
    ids["eu-open"] = r.changed[0].id
    r = ing.receive(make_payload(_alert("KubePodCrashLooping", "web-5f6d7c8b9-abcde", "b1", "2026-11-23T10:05:00Z",
                                        "warning")), "eu")
    ids["eu-resolved"] = r.changed[0].id
    ing.receive(make_payload(_alert("KubePodCrashLooping", "web-5f6d7c8b9-abcde", "b1", "2026-11-23T10:05:00Z",
                                    "warning", status="resolved", ends="2026-11-23T10:35:00Z")), "eu")
    r = ing.receive(make_payload(_alert("KubePodCrashLooping", "db-0", "c1", "2026-11-22T08:00:00Z", "info")), "us")
    ids["us-open"] = r.changed[0].id
    _report(store, ing, ids["eu-open"], "oom_killed")
    _report(store, ing, ids["eu-resolved"], "app_crash")
    return store, ing, ids


def test_summary_gives_open_incidents_worst_severity_alerts_and_categories(fleet) -> None:
    store, _, _ = fleet
    got = FleetSummary.model_validate(fleet_summary(store, ["eu", "us", "quiet"], NOW))
    by = {c.cluster: c for c in got.clusters}
    assert [c.cluster for c in got.clusters] == ["eu", "us", "quiet"]  # fleet order, quiet clusters too
    assert (by["eu"].open_incidents, by["eu"].incidents_total, by["eu"].worst_severity) == (1, 2, "critical")
    assert (by["eu"].alerts.firing, by["eu"].alerts.resolved, by["eu"].alerts.total) == (2, 1, 3)
    assert {(c.category, c.open, c.total) for c in by["eu"].categories} == {("oom_killed", 1, 1), ("app_crash", 0, 1)}
    assert by["us"].worst_severity == "info" and by["us"].categories[0].category == "pending"
    assert by["quiet"].open_incidents == 0 and by["quiet"].worst_severity is None and by["quiet"].alerts.total == 0
    assert got.open_incidents == 2 and got.firing_alerts == 3
    assert "pending" in got.categories and got.severities[0] == "critical"


def test_a_cluster_seen_only_in_alerts_is_listed_after_the_fleet(fleet) -> None:
    store, _, _ = fleet
    names = [c["cluster"] for c in fleet_summary(store, ["us"], NOW)["clusters"]]
    assert names == ["us", "eu"]


def test_trends_bucket_alerts_heat_map_and_time_to_resolve(fleet) -> None:
    store, _, _ = fleet
    got = FleetTrends.model_validate(fleet_trends(store, "hour", NOW - timedelta(hours=48), NOW))
    assert {(a.at.hour, a.cluster, a.count) for a in got.alerts} == {(9, "eu", 2), (10, "eu", 1), (8, "us", 1)}
    assert all(a.at.tzinfo is not None and a.at.minute == 0 for a in got.alerts)
    assert {(c.category, c.cluster, c.count) for c in got.incidents_by_category} == {
        ("oom_killed", "eu", 1), ("app_crash", "eu", 1), ("pending", "us", 1)}
    (ttr,) = got.time_to_resolve
    assert (ttr.at.hour, ttr.resolved, ttr.median_s, ttr.max_s) == (10, 1, 1800.0, 1800.0)
    day = fleet_trends(store, "day", NOW - timedelta(hours=6), NOW)
    assert {(a["at"].day, a["cluster"], a["count"]) for a in day["alerts"]} == {(23, "eu", 3)}  # us is older


def test_trends_refuse_an_unknown_bucket(fleet) -> None:
    with pytest.raises(ValueError, match="week"):
        fleet_trends(fleet[0], "week", NOW - timedelta(days=1), NOW)  # type: ignore[arg-type]


@pytest.mark.parametrize(("filters", "expected"), [
    ({}, ["eu-resolved", "eu-open", "us-open"]),
    ({"cluster": "eu"}, ["eu-resolved", "eu-open"]),
    ({"category": "oom_killed"}, ["eu-open"]),
    ({"category": "pending"}, ["us-open"]),
    ({"status": "resolved"}, ["eu-resolved"]),
    ({"severity": "critical"}, ["eu-open"]),
    ({"severity": "info", "cluster": "us"}, ["us-open"]),
    ({"since": datetime(2026, 11, 23, 0, 0, tzinfo=UTC)}, ["eu-resolved", "eu-open"]),
    ({"until": datetime(2026, 11, 23, 0, 0, tzinfo=UTC)}, ["us-open"]),
    ({"cluster": "eu", "status": "open", "category": "app_crash"}, []),
])
def test_incident_search_filters(fleet, filters: dict, expected: list[str]) -> None:
    store, _, ids = fleet
    page = IncidentPage.model_validate(search_incidents(store, **filters))
    assert [i.id for i in page.items] == [ids[k] for k in expected]
    assert page.total == len(expected)


def test_incident_search_pages_with_a_total(fleet) -> None:
    store, _, ids = fleet
    first = search_incidents(store, limit=2, offset=0)
    second = search_incidents(store, limit=2, offset=2)
    assert first["total"] == second["total"] == 3
    assert [i["id"] for i in first["items"] + second["items"]] == [ids["eu-resolved"], ids["eu-open"], ids["us-open"]]
    assert first["items"][1]["worst_severity"] == "critical" and first["items"][1]["clusters"] == ["eu"]


def test_report_fields_and_ids_for_the_feed(fleet) -> None:
    store, _, ids = fleet
    fields = report_fields(store, [ids["eu-open"], ids["us-open"], "inc-missing"])
    assert set(fields) == {ids["eu-open"], ids["us-open"]}
    assert fields[ids["eu-open"]]["category"] == "oom_killed" and fields[ids["eu-open"]]["confidence"] == 0.9
    assert fields[ids["us-open"]] == {"category": None, "confidence": None, "summary": None, "trigger_kind": None}
    assert report_fields(store, []) == {}
    assert incident_ids(store) == set(ids.values())


@pytest.mark.parametrize(("labels", "worst"), [
    (["warning", "critical", "info"], "critical"), (["info", "page"], "info"), (["page", None, ""], "page"),
    (["Warning", "error"], "error"), ([None, ""], None), ([], None)])
def test_worst_severity_ranks_like_the_sql(labels: list, worst: str | None) -> None:
    assert worst_severity(labels) == worst


def test_open_incidents_by_cluster(fleet) -> None:
    assert open_incidents_by_cluster(fleet[0]) == {"eu": 1, "us": 1}


def test_collector_errors_are_read_once_per_audit_event(fleet) -> None:
    store, _, ids = fleet
    err = {"resource": "pods", "namespace": "shop", "name": None, "status": 403, "reason": "Forbidden", "message": ""}
    store.add_event(ids["eu-open"], "collected", {"cluster": "eu", "errors": [err, err, {**err, "resource": "logs"}]})
    seq, counts = collector_errors_after(store, 0)
    assert counts == {("eu", "pods"): 2, ("eu", "logs"): 1}
    store.add_event(ids["us-open"], "collected", {"cluster": "us", "errors": [{**err, "resource": "cluster"}]})
    seq2, counts2 = collector_errors_after(store, seq)
    assert seq2 > seq and counts2 == {("us", "cluster"): 1}
    assert collector_errors_after(store, seq2) == (seq2, {})
