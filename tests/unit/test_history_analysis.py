"""History-aware analysis over a seeded history: similar incidents, recurrence, fleet spread, leaks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from engine.alerts import WebhookAlert, normalise
from engine.correlate import Correlator
from engine.evidence import EvidenceSet, write_evidence
from engine.history import HistoryStore
from engine.history_analysis import analyse_history
from engine.report import Report, RootCause, Subject
from tests.conftest import make_alert

T0 = datetime(2026, 11, 1, 10, tzinfo=UTC)


def _alert(name, labels, fp, at, cluster):
    return normalise(WebhookAlert.model_validate(make_alert(name, labels, fp=fp, starts=at.isoformat())), cluster)


def _report(inc, category):
    return Report(incident_id=inc.id, cluster=inc.cluster, alerts=inc.fingerprints,
                  root_cause=RootCause(category=category, summary=category, confidence=0.9,
                                       subject=Subject(kind="Deployment", namespace="shop", name="api",
                                                       cluster=inc.cluster)),
                  generated_at=inc.updated_at)


def _evidence(data_dir, inc, limit):
    ev = EvidenceSet(cluster=inc.cluster, incident_id=inc.id)
    ev.add("pods", {"namespace": "shop", "name": "api-6d4cf56db6-bbbbb", "workload_kind": "Deployment",
                    "workload_name": "api"})
    ev.add("containers", {"namespace": "shop", "pod": "api-6d4cf56db6-bbbbb", "container": "api", "init": False,
                          "memory_limit": limit, "memory_limit_bytes": {"128Mi": 2**27, "256Mi": 2**28,
                                                                         "512Mi": 2**29, "1Gi": 2**30}[limit]})
    write_evidence(data_dir, ev)


def seeded(tmp_path, limits, clusters):
    """Past OOM incidents of shop/api, one per limit, resolved after 20 min; returns store and correlator."""
    store, c = HistoryStore(tmp_path / "h.duckdb"), Correlator()
    for i, (limit, cluster) in enumerate(zip(limits, clusters, strict=True)):
        at = T0 + timedelta(days=i)
        a = _alert("KubePodCrashLooping", {"namespace": "shop", "pod": "api-6d4cf56db6-bbbbb"}, f"{i:016x}", at,
                   cluster)
        inc = c.ingest([a])[0]
        store.record_alerts([a], c.alert_incident)
        _evidence(tmp_path, inc, limit)
        store.save_report(inc, _report(inc, "oom_killed"))
        resolved = a.model_copy(update={"status": "resolved", "endsAt": at + timedelta(minutes=20)})
        for changed in c.ingest([resolved]):
            store.upsert_incident(changed)
    return store, c


def test_rising_memory_limits_with_repeated_ooms_is_diagnosed_as_a_leak(tmp_path):
    store, c = seeded(tmp_path, ["128Mi", "256Mi", "512Mi"], ["eu", "eu", "eu"])
    a = _alert("KubePodCrashLooping", {"namespace": "shop", "pod": "api-6d4cf56db6-ccccc"}, "f" * 16,
               T0 + timedelta(days=10), "eu")
    inc = c.ingest([a])[0]
    store.record_alerts([a], c.alert_incident)
    _evidence(tmp_path, inc, "1Gi")
    h = analyse_history(store, inc, _report(inc, "oom_killed"), tmp_path)
    assert len(h.similar) == 3 and h.recurrence == {"alertname": 3, "workload": 3}
    assert all(p.outcome == "resolved after 20 min" for p in h.similar)
    leak = [f for f in h.findings if "leak" in f]
    assert leak and "128Mi → 256Mi → 512Mi → 1Gi" in leak[0]
    assert "heap profile" in h.advice


def test_flat_limits_are_not_a_leak_but_the_fleet_spread_is_reported(tmp_path):
    store, c = seeded(tmp_path, ["256Mi", "256Mi"], ["eu", "us"])
    a = _alert("KubePodCrashLooping", {"namespace": "shop", "pod": "api-6d4cf56db6-ccccc"}, "f" * 16,
               T0 + timedelta(days=10), "ap")
    inc = c.ingest([a])[0]
    store.record_alerts([a], c.alert_incident)
    h = analyse_history(store, inc, _report(inc, "oom_killed"), tmp_path)
    assert not any("leak" in f for f in h.findings)
    assert h.clusters == ["ap", "eu", "us"]
    assert any("3 clusters" in f for f in h.findings)


def test_unrelated_incidents_are_not_similar(tmp_path):
    store, c = seeded(tmp_path, ["256Mi"], ["eu"])
    a = _alert("KubeNodeNotReady", {"node": "n7", "namespace": "monitoring"}, "e" * 16, T0 + timedelta(days=3), "eu")
    inc = c.ingest([a])[0]
    store.record_alerts([a], c.alert_incident)
    h = analyse_history(store, inc, _report(inc, "node_not_ready"), tmp_path)
    assert h.similar == [] and h.findings == [] and h.advice == ""


def test_resolution_writes_a_postmortem_and_markdown_shows_history(tmp_path):
    from engine.ingest import Ingestor
    from engine.report import render_markdown
    from tests.conftest import make_payload

    store, c = seeded(tmp_path, ["128Mi", "256Mi"], ["eu", "us"])
    ing = Ingestor(store, c)
    firing = make_alert("KubePodCrashLooping", {"namespace": "shop", "pod": "api-6d4cf56db6-ccccc"}, fp="f" * 16,
                        starts="2026-11-20T10:00:00Z")
    inc = ing.receive(make_payload(firing), "eu").changed[0]
    report = _report(inc, "oom_killed")
    report = report.model_copy(update={"history": analyse_history(store, inc, report, tmp_path)})
    store.save_report(inc, report)
    md = render_markdown(report)
    assert "## History" in md and "2 similar past incident(s)" in md and "| us | oom_killed |" in md
    resolved = {**firing, "status": "resolved", "endsAt": "2026-11-20T10:42:00Z"}
    ing.receive(make_payload(resolved), "eu")
    got = store.get_incident(inc.id)
    assert got["status"] == "resolved"
    pm = got["report"]["postmortem"]
    assert pm.startswith("# Postmortem: oom_killed on Deployment shop/api") and "time to resolve **42 min**" in pm
    assert [e["kind"] for e in got["events"]][-2:] == ["postmortem", "webhook_received"]
