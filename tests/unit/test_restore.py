"""The incident manager's restart: a fresh correlator rebuilt from the DuckDB history correlates the next
alerts exactly as the one that died would have (same incidents, no duplicate, no spurious revision)."""

from __future__ import annotations

from datetime import UTC, datetime

from engine.correlate import Correlator
from engine.history import HistoryStore
from engine.ingest import Ingestor, restore_correlator, stale_incidents
from engine.report import Report, RootCause, Subject
from tests.conftest import make_alert, make_payload

CHECKOUT = {"namespace": "shop", "pod": "checkout-7d9c5b6f4-x2kqp"}
CHECKOUT_2 = {"namespace": "shop", "pod": "checkout-7d9c5b6f4-9zzqp"}
CART = {"namespace": "shop", "pod": "cart-5f6d7c8b9-abcde"}
SEARCH = {"namespace": "shop", "pod": "search-5f6d7c8b9-fghij"}


def _seed(store: HistoryStore) -> Ingestor:
    ing = Ingestor(store, Correlator())
    ing.receive(make_payload(make_alert("KubePodCrashLooping", CHECKOUT, fp="a" * 16, starts="2026-11-22T10:00:00Z"),
                             make_alert("KubePodCrashLooping", CART, fp="b" * 16, starts="2026-11-22T10:01:00Z")), "eu")
    # search fired and resolved: a resolved incident that a re-firing alert reopens (flapping)
    ing.receive(make_payload(make_alert("KubePodCrashLooping", SEARCH, fp="c" * 16, starts="2026-11-22T10:02:00Z")),
                "eu")
    ing.receive(make_payload(make_alert("KubePodCrashLooping", SEARCH, fp="c" * 16, starts="2026-11-22T10:02:00Z",
                                        status="resolved", ends="2026-11-22T10:04:00Z")), "eu")
    return ing


def test_restored_correlator_continues_where_the_old_one_stopped(tmp_path):
    store = HistoryStore(tmp_path / "h.duckdb")
    live = _seed(store)
    before = {i: (inc.status, inc.revision, sorted(inc.fingerprints)) for i, inc in live.correlator.incidents.items()}

    fresh = Correlator()
    opened = restore_correlator(store, fresh)
    assert {i.id for i in opened} == {i.id for i in live.correlator.open_incidents()}
    assert {i: (inc.status, inc.revision, sorted(inc.fingerprints)) for i, inc in fresh.incidents.items()} == before

    # the same next webhook goes to the same incidents in both, with the same revisions
    nxt = make_payload(make_alert("KubePodCrashLooping", CHECKOUT, fp="a" * 16, starts="2026-11-22T10:00:00Z"),
                       make_alert("KubePodCrashLooping", CHECKOUT_2, fp="d" * 16, starts="2026-11-22T10:05:00Z"),
                       make_alert("KubePodCrashLooping", SEARCH, fp="c" * 16, starts="2026-11-22T10:06:00Z"))
    restored = Ingestor(store, fresh)
    want = live.correlator.ingest(restored.prepare(nxt, "eu").alerts)
    got = fresh.ingest(restored.prepare(nxt, "eu").alerts)
    assert [(i.id, i.status, i.revision) for i in got] == [(i.id, i.status, i.revision) for i in want]
    assert len(fresh.incidents) == len(live.correlator.incidents)  # no duplicate incident opened
    store.close()


def test_restore_of_an_empty_store_is_a_no_op(tmp_path):
    store = HistoryStore(tmp_path / "h.duckdb")
    fresh = Correlator()
    assert restore_correlator(store, fresh) == [] and fresh.incidents == {}
    store.close()


def test_stale_incidents_are_the_ones_without_a_report_for_their_revision(tmp_path):
    store = HistoryStore(tmp_path / "h.duckdb")
    live = _seed(store)
    opened = live.correlator.open_incidents()
    assert sorted(stale_incidents(store, opened)) == sorted(i.id for i in opened)
    done = opened[0]
    report = Report(incident_id=done.id, cluster="eu", alerts=done.fingerprints,
                    root_cause=RootCause(category="app_crash", summary="crash", confidence=0.8,
                                         subject=Subject(kind="Deployment", namespace="shop", name="checkout",
                                                         cluster="eu")),
                    generated_at=datetime(2026, 11, 22, 10, 5, tzinfo=UTC))
    store.save_report(done, report)
    assert done.id not in stale_incidents(store, opened)
    store.close()
