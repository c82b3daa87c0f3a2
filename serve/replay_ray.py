"""``fleetsre replay --ray``: the replay's correlation sharded by cluster over Ray tasks.

Per-cluster rules (keys, node absorption, islands) only ever look at one cluster, so the raw
alerts are split by a hash of their cluster, each shard runs :func:`engine.replay.correlate_table`
as a Ray task (Arrow in, Arrow out through the object store), and the driver merges the shards'
``episodes`` and ``incidents`` and runs the cross-cluster fleet pass once over all of them. The
answer is the in-process replay's, whatever the shard count.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import ray

from engine.config import CorrelationConfig
from engine.replay import ReplayResult, _summary, correlate_table, score, write_outputs
from engine.replay_io import RAW_SCHEMA, Format, read_raw
from engine.replay_sql import refleet_sql

__all__ = ["replay_on_ray"]


@ray.remote(num_cpus=1)
def _correlate_shard(raw: pa.Table, cfg_json: str, topology: pa.Table | None, url_map: dict[str, str] | None,
                     path_cluster: str | None) -> tuple[pa.Table, pa.Table]:
    con = duckdb.connect()
    correlate_table(con, raw, CorrelationConfig.model_validate_json(cfg_json), topology=topology, url_map=url_map,
                    path_cluster=path_cluster)
    return con.sql("SELECT * FROM episodes").to_arrow_table(), con.sql("SELECT * FROM incidents").to_arrow_table()


def replay_on_ray(source: Path | str, cfg: CorrelationConfig | None = None, *, fmt: Format = "auto",
                  topology: pa.Table | None = None, url_map: Mapping[str, str] | None = None,
                  path_cluster: str | None = None, ground_truth: Path | str | None = None,
                  out_dir: Path | str | None = None, con: duckdb.DuckDBPyConnection | None = None,
                  on_chunk: Callable[[int, int], None] | None = None, shards: int | None = None) -> ReplayResult:
    """:func:`engine.replay.replay`, with correlation as one Ray task per cluster-hash shard."""
    cfg = cfg or CorrelationConfig()
    started = time.perf_counter()
    if not ray.is_initialized():
        ray.init(include_dashboard=False, log_to_driver=False)
    con = con or duckdb.connect()
    chunks, n, units = [], 0, [0]
    for table in read_raw(source, fmt, on_read=units.append):
        chunks.append(table)
        n += table.num_rows
        if on_chunk is not None:
            on_chunk(sum(units), n)
    raw = pa.concat_tables(chunks) if chunks else RAW_SCHEMA.empty_table()
    k = shards or max(1, int(ray.available_resources().get("CPU", 1)))
    parts = _shard(con, raw, k, path_cluster)
    refs = [_correlate_shard.remote(p, cfg.model_dump_json(), topology, dict(url_map or {}), path_cluster)
            for p in parts if p.num_rows]
    results: list[Any] = ray.get(refs)
    con.register("ep_parts", pa.concat_tables([r[0] for r in results], promote_options="default"))
    con.register("inc_parts", pa.concat_tables([r[1] for r in results], promote_options="default"))
    con.execute("CREATE OR REPLACE TEMP TABLE episodes AS SELECT * FROM ep_parts")
    con.execute("CREATE OR REPLACE TEMP TABLE incidents AS SELECT * FROM inc_parts")
    refleet_sql(con, cfg)
    result = _summary(con, n, cfg)
    if ground_truth is not None:
        result.score = score(con, ground_truth)
    if out_dir is not None:
        result.outputs = write_outputs(con, Path(out_dir))
    result.seconds = time.perf_counter() - started
    return result


def _shard(con: duckdb.DuckDBPyConnection, raw: pa.Table, k: int, path_cluster: str | None) -> list[pa.Table]:
    """Split by a hash of the alert's cluster label (the rows of one cluster stay together, in order)."""
    if k <= 1 or path_cluster is not None:
        return [raw]
    con.register("raw_all", raw)
    return [con.sql(f"SELECT * FROM raw_all WHERE hash(coalesce(cluster, external_url, '')) % {k} = {i} "
                    f"ORDER BY seq").to_arrow_table() for i in range(k)]
