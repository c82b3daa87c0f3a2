"""The DuckDB history store: alerts upsert, incidents, audit events and reports round-trip."""

from __future__ import annotations

from datetime import UTC, datetime

from engine.alerts import AlertTarget, WebhookAlert, normalise
from engine.correlate import Correlator
from engine.history import HistoryStore
from engine.ingest import Ingestor
from engine.report import Report, RootCause, Subject
from tests.conftest import make_alert, make_payload

POD = {"namespace": "shop", "pod": "checkout-7d9c5b6f4-x2kqp"}


def test_ingest_stores_alerts_incident_and_audit_trail(tmp_path):
    store = HistoryStore(tmp_path / "h.duckdb")
    ing = Ingestor(store, Correlator())
    body = make_payload(make_alert("KubePodCrashLooping", POD, fp="a" * 16, starts="2026-11-22T10:00:00Z"),
                        {"broken": True})
    res = ing.receive(body, "eu")
    assert res.accepted == 1 and res.rejected[0].field.startswith("alerts[1]")
    ing.receive(body, "eu")  # Alertmanager repeats a group: stored once, counted twice
    alerts = store.list_alerts()
    assert len(alerts) == 1 and alerts[0]["receive_count"] == 2
    inc_id = alerts[0]["incident_id"]
    inc = store.get_incident(inc_id)
    assert inc["status"] == "open" and inc["alerts"][0]["fingerprint"] == "a" * 16
    kinds = [e["kind"] for e in inc["events"]]
    assert kinds == ["webhook_received"]
    rejected = store.con.execute("SELECT payload FROM incident_events WHERE kind='alert_rejected'").fetchall()
    assert len(rejected) == 2  # recorded each time, with the raw alert
    store.close()
    # durable: a new process sees the same rows
    again = HistoryStore(tmp_path / "h.duckdb")
    assert again.counts()["alerts"] == 1
    again.close()


def test_report_is_saved_and_summarised_on_the_incident(tmp_path):
    store = HistoryStore(tmp_path / "h.duckdb")
    c = Correlator()
    a = normalise(WebhookAlert.model_validate(make_alert("KubePodCrashLooping", POD, fp="a" * 16,
                                                         starts="2026-11-22T10:00:00Z")), "eu")
    inc = c.ingest([a])[0]
    store.record_alerts([a], c.alert_incident)
    report = Report(
        incident_id=inc.id, cluster="eu", alerts=inc.fingerprints,
        root_cause=RootCause(category="oom_killed", summary="OOM", confidence=0.9,
                             subject=Subject(kind="Deployment", namespace="shop", name="checkout", cluster="eu")),
        generated_at=datetime(2026, 11, 22, 10, 5, tzinfo=UTC))
    store.save_report(inc, report)
    got = store.get_incident(inc.id)
    assert got["category"] == "oom_killed" and got["report"]["root_cause"]["confidence"] == 0.9
    assert store.list_incidents(category="oom_killed")[0]["id"] == inc.id
    assert store.list_incidents(category="image_pull_error") == []
    assert AlertTarget.model_validate(got["subject"]).kind in ("Workload", "Deployment")


def test_an_incident_is_rebuilt_from_the_store(tmp_path):
    from engine.ingest import incident_from_store

    store = HistoryStore(tmp_path / "h.duckdb")
    c = Correlator()
    ing = Ingestor(store, c)
    body = make_payload(make_alert("KubePodCrashLooping", POD, fp="a" * 16, starts="2026-11-22T10:00:00Z"))
    inc = ing.receive(body, "eu").changed[0]
    again = incident_from_store(store, inc.id)
    assert again.model_dump() == inc.model_dump()
    assert incident_from_store(store, "inc-nope") is None


def test_incident_reads_name_the_fleet_incident_a_member_belongs_to(tmp_path):
    """The same workload failing the same way in two clusters: both per-cluster incidents name one fleet id."""
    store = HistoryStore(tmp_path / "h.duckdb")
    ing = Ingestor(store, Correlator())
    labels = {"namespace": "shop", "pod": "checkout-7d9f8c6b5-x2x9q", "container": "app"}
    for cluster, fp in (("eu", "e" * 16), ("us", "f" * 16)):
        ing.receive(make_payload(make_alert("KubePodCrashLooping", labels, fp=fp, starts="2026-11-22T10:00:00Z")),
                    cluster)
    lonely = {"namespace": "billing", "pod": "invoicing-5c6d7f8b9-x7k2p", "container": "app"}
    ing.receive(make_payload(make_alert("KubePodCrashLooping", lonely, fp="b" * 16, starts="2026-11-22T10:00:00Z")),
                "eu")
    listed = {(i["cluster"], i["subject"]["name"]): i for i in store.list_incidents()}
    eu, us = listed[("eu", "checkout")], listed[("us", "checkout")]
    assert eu["fleet_id"] and eu["fleet_id"] == us["fleet_id"] and eu["fleet_id"].startswith("fleet-")
    assert {eu["fleet_rank"], us["fleet_rank"]} == {0, 1}
    assert listed[("eu", "invoicing")]["fleet_id"] is None
    assert store.get_incident(us["id"])["fleet_id"] == eu["fleet_id"]
    store.close()
