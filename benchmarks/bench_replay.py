"""Replay correlation throughput: ``fleetsre replay`` from Parquet and from webhook JSONL, beside the
floor (decoding the same JSONL with orjson and building the Arrow table, no correlation), with
peak RSS and F1 against the synthetic ground truth (:mod:`benchmarks.replay_data`).

Each measurement runs in its own subprocess (``python -m benchmarks.bench_replay MODE DIR``), so
peak RSS is that case's alone. Data is generated once per size under ``$FLEETSRE_BENCH_DIR``
(default ``/tmp/fleetsre-bench``). "alerts" are alert reports as received (a firing and its
resolve are two), the unit a receiver logs.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.common import BenchResult, Target

CACHE = Path(os.environ.get("FLEETSRE_BENCH_DIR", "/tmp/fleetsre-bench"))
SIZES = [1_000, 10_000, 100_000, 1_000_000]
CLUSTERS = [10, 100, 1_000]
QUICK_SIZES = [1_000, 10_000]


def run(quick: bool = False) -> BenchResult:
    rows, notes = [], []
    worst: dict[str, Any] = {"parquet": None, "ratio": None, "f1": 1.0, "rss_1m": None}
    for n in QUICK_SIZES if quick else SIZES:
        for c in CLUSTERS:
            if c > n // 10:
                continue  # fewer than ten alerts per cluster says nothing
            root = _ensure(n, c)
            cases = {m: _child(m, root) for m in ("parquet", "jsonl", "floor")}
            pq_, js, fl = cases["parquet"], cases["jsonl"], cases["floor"]
            ratio = js["rate"] / fl["rate"] if fl["rate"] else None
            rows.append([f"{n:,} / {c:,}", pq_["alerts"], round(pq_["rate"]), round(js["rate"]), round(fl["rate"]),
                         round(ratio, 2) if ratio else None, round(max(pq_["rss_mb"], js["rss_mb"])),
                         round(min(pq_["f1"], js["f1"]), 4), pq_["incidents"]])
            worst["f1"] = min(worst["f1"], pq_["f1"], js["f1"])
            if n >= 100_000:
                worst["parquet"] = min(worst["parquet"] or 1e18, pq_["rate"])
                worst["ratio"] = min(worst["ratio"] or 1e9, ratio or 0)
            if n == 1_000_000:
                worst["rss_1m"] = max(worst["rss_1m"] or 0, pq_["rss_mb"], js["rss_mb"])
    scen = _scenario_fleet()
    targets = [
        Target(">= 2,000,000 alerts/s from Parquet (100k and 1M)",
               f"{worst['parquet']:,.0f}/s" if worst["parquet"] else "not run", _met(worst["parquet"], 2_000_000)),
        Target("JSONL >= 0.8 x the orjson parse-and-build floor (100k and 1M)",
               f"{worst['ratio']:.2f}x" if worst["ratio"] else "not run", _met(worst["ratio"], 0.8)),
        Target("F1 = 1.0 on generated fleets: synthetic histories (all sizes)", f"{worst['f1']:.4f}",
               worst["f1"] >= 1.0),
        Target("F1 = 1.0 on generated fleets: clusters.scenarios fleet-scale (20 clusters, dumps as topology)",
               f"F1 {scen['f1']:.4f} (P {scen['precision']:.3f}, R {scen['recall']:.3f}; "
               f"{scen['incidents']} incidents vs {scen['truth']} true)", scen["f1"] >= 1.0),
        Target("peak RSS < 2 GB at 1M alerts", f"{worst['rss_1m']:.0f} MB" if worst["rss_1m"] else "not run",
               None if worst["rss_1m"] is None else worst["rss_1m"] < 2048),
    ]
    notes.append("scenario fleet: past node failures and volume faults name pods that no dump holds any more "
                 "(no topology, so their alerts stay per workload), a workload's own fault and a node failure under "
                 "it overlap, and one app's baseline revision fails for different causes in two clusters at once; "
                 "the truth tells these apart, labels cannot")
    notes.append("alerts = alert reports read (firing and resolve each count); rates are end to end: read, "
                 "correlate (all v2 rules incl. fleet pass), no output writing; floor = orjson per line + Arrow "
                 "table of the same columns")
    return BenchResult("replay", "Replay correlation throughput (alerts/s)",
                       ["alerts / clusters", "reports", "parquet/s", "jsonl/s", "floor/s", "jsonl/floor",
                        "peak RSS MB", "F1", "incidents"], rows, targets, notes)


def _scenario_fleet() -> dict[str, Any]:
    """F1 of a replay of a ``clusters.scenarios`` fleet at scale, with its dumps as the topology."""
    import duckdb

    from clusters.dump import DumpSource
    from clusters.scenarios import write_fleet_at_scale
    from engine.replay import replay, topology_from_sources

    root = CACHE / "scenario-fleet-20"
    if not (root / "ground-truth.json").exists():
        write_fleet_at_scale(root, clusters=20, target_alerts=2_000, seed=0)
    truth = json.loads((root / "ground-truth.json").read_text())
    topo = topology_from_sources({c["name"]: DumpSource(root / c["dump"], name=c["name"]) for c in truth["clusters"]})
    r = replay(root / "alerts.jsonl", topology=topo, ground_truth=root / "ground-truth.json", con=duckdb.connect())
    assert r.score is not None
    return {"f1": r.score.f1, "precision": r.score.precision, "recall": r.score.recall,
            "incidents": r.score.incidents, "truth": r.score.truth_incidents}


def _met(value: float | None, bound: float) -> bool | None:
    return None if value is None else value >= bound


def _ensure(n: int, c: int) -> Path:
    from benchmarks.replay_data import write_cache

    root = CACHE / f"replay-{n}-{c}"
    write_cache(root, n, c)
    return root


def _child(mode: str, root: Path) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    out = subprocess.run([sys.executable, "-m", "benchmarks.bench_replay", mode, str(root)], capture_output=True,
                         text=True, check=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


# -- the child: one measurement --------------------------------------------------------------------
def _measure(mode: str, root: Path) -> dict[str, Any]:
    if mode == "floor":
        t0 = time.perf_counter()
        n = _floor(root / "webhooks.jsonl")
        seconds, f1, incidents = time.perf_counter() - t0, 1.0, 0
    else:
        import duckdb

        from engine.replay import replay, score_labels

        con = duckdb.connect()
        src = root / ("alerts.parquet" if mode == "parquet" else "webhooks.jsonl")
        result = replay(src, con=con)
        seconds, n, incidents = result.seconds, result.alerts, result.incidents
        con.execute(f"CREATE TEMP TABLE tr AS SELECT cluster, fingerprint, epoch_us(startsAt) AS s, truth "
                    f"FROM read_parquet('{root / 'truth.parquet'}')")
        f1 = score_labels(con, """SELECT coalesce(i.fleet_id, e.incident_id) AS pred, t.truth
            FROM episodes e JOIN incidents i ON i.id = e.incident_id
            LEFT JOIN tr t ON t.cluster = e.cluster AND t.fingerprint = e.fingerprint AND t.s = e.starts_us""").f1
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"mode": mode, "alerts": n, "seconds": seconds, "rate": n / seconds if seconds else 0.0,
            "rss_mb": rss, "f1": f1, "incidents": incidents}


def _floor(path: Path) -> int:
    """orjson per line, then one Arrow table with the same columns replay reads."""
    import orjson
    import pyarrow as pa

    from engine.replay_io import LABELS, RAW_SCHEMA

    cols: dict[str, list[Any]] = {f.name: [] for f in RAW_SCHEMA}
    with path.open("rb") as fh:
        for line in fh:
            body = orjson.loads(line)
            url = body.get("externalURL")
            for a in body["alerts"]:
                labels = a["labels"]
                cols["seq"].append(len(cols["seq"]))
                cols["external_url"].append(url)
                for k in ("fingerprint", "status", "startsAt", "endsAt"):
                    cols[k].append(a.get(k))
                for k in LABELS:
                    cols[k].append(labels.get(k))
    table = pa.table(cols, schema=RAW_SCHEMA)
    return table.num_rows


if __name__ == "__main__":
    print(json.dumps(_measure(sys.argv[1], Path(sys.argv[2]))))
