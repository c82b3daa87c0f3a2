"""FleetViews without Ray: webhooks and investigations become feed events and metric values.

The store, correlator and ingestor are the real ones; only the actor around them is absent. The
Grafana dashboard in ``deploy/grafana`` is checked against the names the registry really exposes.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from engine.correlate import Correlator
from engine.fleet_models import FeedEvent
from engine.history import HistoryStore
from engine.ingest import Ingestor
from serve.fleet_views import FleetViews
from serve.metrics import METRIC_NAMES, FleetMetrics
from tests.conftest import make_alert, make_payload

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for fam in text_string_to_metric_families(text) for s in fam.samples}


@pytest.fixture
def wired() -> tuple[FleetViews, Ingestor]:
    store = HistoryStore(":memory:")
    ing = Ingestor(store, Correlator(), {"http://am.us:9093": "us"})
    views = FleetViews(store, ["eu", "us"], clock=lambda: NOW)
    return views, ing


def _receive(views: FleetViews, ing: Ingestor, body: dict, cluster: str | None) -> list[str]:
    result = ing.receive(body, cluster)
    views.on_receive(result.per_cluster, result.changed)
    return [i.id for i in result.changed]


def _crash(pod: str, fp: str, **kw: str) -> dict:
    return make_alert("KubePodCrashLooping", {"namespace": "shop", "pod": pod, "severity": "warning"}, fp=fp,
                      starts="2026-11-23T11:00:00Z", **kw)


def test_an_incident_is_published_opened_then_updated_then_resolved(wired) -> None:
    views, ing = wired
    (inc,) = _receive(views, ing, make_payload(_crash("api-7d9c5b6f4-x2kqp", "f1")), "eu")
    _receive(views, ing, make_payload(_crash("api-7d9c5b6f4-b8wzd", "f2")), "eu")
    _receive(views, ing, make_payload(_crash("api-7d9c5b6f4-x2kqp", "f1", status="resolved", ends="2026-11-23T11:30:00Z"),
                                      _crash("api-7d9c5b6f4-b8wzd", "f2", status="resolved",
                                             ends="2026-11-23T11:40:00Z")), "eu")
    views.on_investigated(ing.correlator.incidents[inc], 2.5, ok=True)
    events = views.feed.since(0)["events"]
    assert [(e["seq"], e["kind"]) for e in events] == [(1, "opened"), (2, "updated"), (3, "resolved"),
                                                       (4, "investigated")]
    assert {e["incident"]["id"] for e in events} == {inc}
    first, last = events[0]["incident"], events[-1]["incident"]
    assert first["clusters"] == ["eu"] and first["worst_severity"] == "warning" and first["alert_count"] == 1
    assert first["category"] is None and last["status"] == "resolved" and last["alert_count"] == 2
    assert events[0]["at"] == NOW
    for e in events:  # what the API validates it against
        FeedEvent.model_validate(e)


def test_an_incident_already_in_the_store_is_updated_not_opened(wired) -> None:
    views, ing = wired
    (inc,) = _receive(views, ing, make_payload(_crash("api-7d9c5b6f4-x2kqp", "f1")), "eu")
    restarted = FleetViews(views.history, ["eu"], clock=lambda: NOW)  # a new manager, same store
    result = ing.receive(make_payload(_crash("api-7d9c5b6f4-b8wzd", "f2")), "eu")
    restarted.on_receive({}, result.changed)
    assert [e["kind"] for e in restarted.feed.since(0)["events"]] == ["updated"]


def test_metrics_count_alerts_by_resolved_cluster_open_incidents_durations_and_errors(wired) -> None:
    views, ing = wired
    (inc,) = _receive(views, ing, make_payload(_crash("api-7d9c5b6f4-x2kqp", "f1"), _crash("api-7d9c5b6f4-x2kqp", "f3")),
                      "eu")
    _receive(views, ing, make_payload(_crash("db-0", "f4"), external_url="http://am.us:9093"), None)
    views.on_investigated(ing.correlator.incidents[inc], 2.5, ok=True)
    views.on_investigated(None, 0.1, ok=False)
    views.history.add_event(inc, "collected", {"cluster": "eu", "errors": [{"resource": "logs"}]})
    got = _samples(views.metrics_text())
    assert got[("fleetsre_alerts_received_total", (("cluster", "eu"),))] == 2
    assert got[("fleetsre_alerts_received_total", (("cluster", "us"),))] == 1  # from the externalURL
    assert got[("fleetsre_incidents_open", (("cluster", "eu"),))] == 1
    assert got[("fleetsre_investigation_duration_seconds_count", (("outcome", "ok"),))] == 1
    assert got[("fleetsre_investigation_duration_seconds_sum", (("outcome", "ok"),))] == 2.5
    assert got[("fleetsre_investigation_duration_seconds_count", (("outcome", "failed"),))] == 1
    assert got[("fleetsre_collector_errors_total", (("cluster", "eu"), ("resource", "logs")))] == 1
    assert got[("fleetsre_llm_tokens_total", (("direction", "prompt"),))] == 0
    again = _samples(views.metrics_text())  # a second scrape does not count the same audit event twice
    assert again[("fleetsre_collector_errors_total", (("cluster", "eu"), ("resource", "logs")))] == 1


def test_a_cluster_whose_incidents_resolved_reads_zero_open(wired) -> None:
    views, ing = wired
    _receive(views, ing, make_payload(_crash("api-7d9c5b6f4-x2kqp", "f1")), "us")
    assert _samples(views.metrics_text())[("fleetsre_incidents_open", (("cluster", "us"),))] == 1
    _receive(views, ing, make_payload(_crash("api-7d9c5b6f4-x2kqp", "f1", status="resolved",
                                             ends="2026-11-23T11:30:00Z")), "us")
    assert _samples(views.metrics_text())[("fleetsre_incidents_open", (("cluster", "us"),))] == 0


def test_a_failing_view_never_breaks_ingest(wired, caplog: pytest.LogCaptureFixture) -> None:
    views, ing = wired
    body = make_payload(_crash("api-7d9c5b6f4-x2kqp", "f1"))
    changed = ing.receive(body, "eu").changed
    views.history.close()  # every query now raises
    views.on_receive({"eu": 1}, changed)  # logged, not raised
    views.on_investigated(changed[0], 1.0, ok=True)
    assert views.feed.seq == 0
    assert [r.message for r in caplog.records] == ["updating the feed and metrics after a webhook failed",
                                                   "updating the feed and metrics after an investigation failed"]


def test_received_alerts_are_counted_by_the_cluster_the_ingestor_resolved(wired) -> None:
    _, ing = wired
    body = make_payload(_crash("api-7d9c5b6f4-x2kqp", "f1"), {"broken": True}, external_url="http://am.us:9093")
    assert ing.receive(body, None).per_cluster == {"us": 1}  # the rejected alert is not counted
    labelled = make_alert("KubePodCrashLooping", {"namespace": "a", "pod": "x-0", "cluster": "ap"}, fp="0a" * 8,
                          starts="2026-11-23T10:00:00Z")
    assert ing.receive(make_payload(labelled), None).per_cluster == {"ap": 1}
    assert ing.receive(make_payload(labelled), "path").per_cluster == {"path": 1}


def test_llm_tokens_count_up_when_used() -> None:
    m = FleetMetrics()
    m.llm_used(120, 30)
    got = _samples(m.text())
    assert got[("fleetsre_llm_tokens_total", (("direction", "prompt"),))] == 120
    assert got[("fleetsre_llm_tokens_total", (("direction", "completion"),))] == 30


def test_the_grafana_dashboard_queries_only_metrics_that_exist() -> None:
    dash = json.loads((ROOT / "deploy" / "grafana" / "fleetsre.json").read_text())
    exprs = [t["expr"] for p in dash["panels"] for t in p["targets"]]
    used = {re.sub(r"_(bucket|sum|count)$", "", n) for e in exprs for n in re.findall(r"\bfleetsre_[a-z_]+", e)}
    exposed = {f.name + ("_total" if f.type == "counter" else "")
               for f in text_string_to_metric_families(FleetMetrics().text())}
    assert set(METRIC_NAMES) <= exposed
    assert used == set(METRIC_NAMES), f"dashboard uses {sorted(used)}, registry exposes {sorted(METRIC_NAMES)}"
    assert all(p["datasource"]["uid"] == "${DS_PROMETHEUS}" for p in dash["panels"])
