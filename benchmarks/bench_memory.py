"""Semantic memory: embedder load, embedding throughput, indexing and similar-incident query latency.

For each embedding mode (sparse always; dense when the ``embeddings`` extra is installed) it loads
the embedder (dense: torch and all-MiniLM-L6-v2 from the package's weights, a cold start in this
process), embeds 100 incident texts, indexes N past incidents in Qdrant local mode (a folder on
disk, as in production) built from real scenario reports (several failure modes, varied clusters
and ids), then times similar-incident queries and checks that a new OOM kill finds OOM kills first.

``.venv/bin/python -m benchmarks memory`` (``--quick``: fewer incidents).
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks.common import BenchResult, Target, peak_rss_mb

SCENARIOS = ["oom_killed", "dependency_dns", "image_pull_error", "probe_failure", "config_error", "disk_full",
             "node_not_ready", "missing_secret"]


def _reports(root: Path) -> tuple[list, object]:
    from clusters.scenarios import write_scenario
    from engine.alert_files import read_payloads
    from engine.config import EngineConfig
    from serve.local import investigate_dump

    out = []
    for i, name in enumerate(SCENARIOS):
        r = write_scenario(name, root / name, seed=i + 1, cluster=f"c{i}")
        reps, _ = investigate_dump(r.dump, read_payloads(r.alerts), EngineConfig(data_dir=root / name / "data"),
                                   cluster=f"c{i}")
        out += reps
    r = write_scenario("oom_killed", root / "query", seed=99, cluster="q")
    (query,), _ = investigate_dump(r.dump, read_payloads(r.alerts), EngineConfig(data_dir=root / "query" / "data"),
                                   cluster="q")
    return out, query


def run(quick: bool = False) -> BenchResult:
    from engine.config import MemoryConfig
    from engine.memory import SemanticMemory, dense_available, incident_text, make_embedder

    n = 100 if quick else 1000
    rows, notes = [], []
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
        base, query = _reports(Path(tmp) / "scenarios")
        texts = [incident_text(base[i % len(base)]) for i in range(100)]
        modes = ["sparse"] + (["dense"] if dense_available() else [])
        if "dense" not in modes:
            notes.append("dense skipped: the `embeddings` extra is not installed")
        for mode in modes:
            t0 = time.perf_counter()
            emb = make_embedder(mode)  # type: ignore[arg-type]
            load_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            emb.documents(texts)
            embed_s = time.perf_counter() - t0
            mem = SemanticMemory.open(MemoryConfig(embedding=mode), Path(tmp) / mode, embedder=emb)  # type: ignore[arg-type]
            t0 = time.perf_counter()
            for i in range(n):
                r = base[i % len(base)]
                mem.index_report(r.model_copy(update={"incident_id": f"{r.incident_id}-{i}", "cluster": f"c{i % 40}"}))
            index_s = time.perf_counter() - t0
            q = incident_text(query)
            mem.similar_incidents(q, k=5)  # warm
            lat = []
            for _ in range(20):
                t0 = time.perf_counter()
                hits = mem.similar_incidents(q, k=5)
                lat.append(time.perf_counter() - t0)
            top_oom = sum(h["category"] == "oom_killed" for h in hits[:2])
            mem.close()
            rows.append([mode, round(load_s, 2), round(embed_s * 1000), round(index_s / n * 1000, 2), n,
                         round(statistics.median(lat) * 1000, 1), round(max(lat) * 1000, 1), f"{top_oom}/2"])
    return BenchResult(
        name="memory", title="Semantic memory (Qdrant local mode): load, embed, index, query",
        columns=["mode", "load s", "embed 100 texts ms", "index ms/incident", "incidents", "query p50 ms",
                 "query max ms", "OOM in top 2"],
        rows=rows,
        targets=[Target("a new OOM kill finds past OOM kills first (both modes)",
                        ", ".join(f"{r[0]} {r[-1]}" for r in rows), all(r[-1] == "2/2" for r in rows))],
        notes=notes + [f"peak RSS {peak_rss_mb():.0f} MB (dense loads torch)",
                       "load average at the end {:.1f} / {:.1f} / {:.1f} (1/5/15 min) on {} CPUs: latencies scale "
                       "with it".format(*os.getloadavg(), os.cpu_count()),
                       "dense load is a cold start: torch import + all-MiniLM-L6-v2 from the package's weights"],
    )
