"""Batch replay: historical alerts → the incidents fleetsre would have made, at full speed.

``replay`` reads webhook JSONL (send order) or flat alerts (Parquet/JSONL) chunk by chunk
(:mod:`engine.replay_io`), correlates them in event time with the v2 rules as DuckDB SQL
(:mod:`engine.replay_sql`), and writes ``incidents.parquet`` and ``assignments.parquet`` (one row per
episode: cluster, fingerprint, startsAt, incident, fleet incident). ``score`` compares the
assignment with a ground truth (``clusters.scenarios`` fleets): pairwise precision, recall and F1
counted from the contingency table's group sizes, never by enumerating pairs.

Topology (pod → node and owner) comes from a table: :func:`topology_from_sources` reads it from
cluster sources (``kubectl cluster-info dump`` directories), or pass any Arrow table with the columns of
:data:`TOPOLOGY_SCHEMA`. Without one, pods group by their names and a pod's own ``node`` label.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from engine.config import CorrelationConfig
from engine.replay_io import Format, read_raw
from engine.replay_sql import correlate_sql
from engine.sources import ClusterSource, SourceError

__all__ = ["TOPOLOGY_SCHEMA", "ReplayResult", "Score", "correlate_table", "investigation_targets", "replay", "score",
           "score_labels", "topology_from_sources", "write_history", "write_outputs"]

TOPOLOGY_SCHEMA = pa.schema([("cluster", pa.string()), ("namespace", pa.string()), ("ref", pa.string()),
                             ("node", pa.string()), ("workload_kind", pa.string()), ("workload_name", pa.string())])


@dataclass
class Score:
    precision: float
    recall: float
    f1: float
    incidents: int  # predicted (a fleet incident counts once)
    truth_incidents: int
    scored: int  # episodes with a ground-truth owner
    unowned: int  # episodes the ground truth does not list


@dataclass
class ReplayResult:
    alerts: int  # alert reports read
    episodes: int
    incidents: int  # per-cluster incidents
    fleet_incidents: int
    open_incidents: int
    clusters: int
    to_investigate: int
    seconds: float
    score: Score | None = None
    outputs: dict[str, Path] = field(default_factory=dict)


def correlate_table(con: duckdb.DuckDBPyConnection, raw: pa.Table, cfg: CorrelationConfig, *,
                    topology: pa.Table | None = None, url_map: Mapping[str, str] | None = None,
                    path_cluster: str | None = None) -> None:
    """Correlate a raw alert table inside ``con``: leaves tables ``episodes`` and ``incidents``."""
    con.register("raw", raw)
    if topology is not None:
        con.register("topology_in", topology)
        con.execute("CREATE OR REPLACE TEMP TABLE topology AS SELECT cluster, namespace, ref, any_value(node) AS node, "
                    "any_value(workload_kind) AS workload_kind, any_value(workload_name) AS workload_name "
                    "FROM topology_in GROUP BY ALL")
    if url_map:
        rows = pa.table({"url": [u.rstrip("/") for u in url_map], "cluster": list(url_map.values())})
        con.register("url_map", rows)
    correlate_sql(con, cfg, path_cluster=path_cluster, topology=topology is not None, url_map=bool(url_map))


def replay(source: Path | str, cfg: CorrelationConfig | None = None, *, fmt: Format = "auto",
           topology: pa.Table | None = None, url_map: Mapping[str, str] | None = None,
           path_cluster: str | None = None, ground_truth: Path | str | None = None, out_dir: Path | str | None = None,
           on_chunk: Callable[[int, int], None] | None = None, con: duckdb.DuckDBPyConnection | None = None,
           chunk_bytes: int = 32 << 20) -> ReplayResult:
    """Read, correlate, score and write one replay. ``on_chunk(units read, alerts so far)`` after
    each chunk (units: see :func:`engine.replay_io.input_size`)."""
    cfg = cfg or CorrelationConfig()
    started = time.perf_counter()
    con = con or duckdb.connect()
    chunks, n, units = [], 0, [0]
    for table in read_raw(source, fmt, chunk_bytes=chunk_bytes, on_read=lambda u: units.append(u)):
        chunks.append(table)
        n += table.num_rows
        if on_chunk is not None:
            on_chunk(sum(units), n)
    raw = pa.concat_tables(chunks) if chunks else read_raw_empty()
    correlate_table(con, raw, cfg, topology=topology, url_map=url_map, path_cluster=path_cluster)
    result = _summary(con, n, cfg)
    if ground_truth is not None:
        result.score = score(con, ground_truth)
    if out_dir is not None:
        result.outputs = write_outputs(con, Path(out_dir))
    result.seconds = time.perf_counter() - started
    return result


def read_raw_empty() -> pa.Table:
    from engine.replay_io import RAW_SCHEMA

    return RAW_SCHEMA.empty_table()


def _summary(con: duckdb.DuckDBPyConnection, alerts: int, cfg: CorrelationConfig) -> ReplayResult:
    from engine.correlation_rules import INF

    row = con.execute(f"""
        SELECT (SELECT count(*) FROM episodes), count(*), count(DISTINCT fleet_id), count_if(end_us = {INF}),
               count(DISTINCT cluster),
               count_if(end_us = {INF} AND (fleet_rank IS NULL OR fleet_rank < {cfg.fleet_investigate_max}))
        FROM incidents""").fetchall()[0]
    return ReplayResult(alerts, row[0], row[1], row[2], row[3], row[4], row[5], 0.0)


def score(con: duckdb.DuckDBPyConnection, ground_truth: Path | str) -> Score:
    """Pairwise precision/recall/F1 of episode → incident against a ``ground-truth.json``.

    An episode's predicted label is its fleet incident if it has one, else its incident; its true
    label is the truth incident owning its (cluster, fingerprint). Pairs are counted as
    sum(n·(n-1)/2) over the groups of each labelling and over their intersection."""
    truth = json.loads(Path(ground_truth).read_text())
    owners: dict[str, list[Any]] = {"cluster": [], "fingerprint": [], "truth": []}
    for inc in truth["incidents"]:
        for cluster, fp in inc["alerts"]:
            owners["cluster"].append(cluster)
            owners["fingerprint"].append(fp)
            owners["truth"].append(inc["id"])
    con.register("truth_owner", pa.table(owners))
    return score_labels(con, """
        SELECT coalesce(i.fleet_id, e.incident_id) AS pred, t.truth
        FROM episodes e JOIN incidents i ON i.id = e.incident_id
        LEFT JOIN truth_owner t ON t.cluster = e.cluster AND t.fingerprint = e.fingerprint""")


def score_labels(con: duckdb.DuckDBPyConnection, labelled_sql: str) -> Score:
    """Score any (pred, truth) labelling given as SQL; rows with a null truth are counted, not scored."""
    row = con.execute(f"""
        WITH l AS ({labelled_sql}), s AS (SELECT * FROM l WHERE truth IS NOT NULL),
        pairs AS (SELECT (SELECT coalesce(sum(n * (n - 1) // 2), 0) FROM (SELECT count(*) n FROM s GROUP BY pred, truth)) tp,
                         (SELECT coalesce(sum(n * (n - 1) // 2), 0) FROM (SELECT count(*) n FROM s GROUP BY pred)) pp,
                         (SELECT coalesce(sum(n * (n - 1) // 2), 0) FROM (SELECT count(*) n FROM s GROUP BY truth)) tt)
        SELECT tp, pp, tt, (SELECT count(DISTINCT pred) FROM s), (SELECT count(DISTINCT truth) FROM s),
               (SELECT count(*) FROM s), (SELECT count(*) FROM l WHERE truth IS NULL) FROM pairs""").fetchall()[0]
    tp, pp, tt = (int(v) for v in row[:3])
    p = tp / pp if pp else 1.0
    r = tp / tt if tt else 1.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return Score(p, r, f1, int(row[3]), int(row[4]), int(row[5]), int(row[6]))


def write_outputs(con: duckdb.DuckDBPyConnection, out_dir: Path) -> dict[str, Path]:
    """``incidents.parquet`` and ``assignments.parquet`` (timestamps as TIMESTAMPTZ, open ends null)."""
    from engine.correlation_rules import INF

    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"incidents": out_dir / "incidents.parquet", "assignments": out_dir / "assignments.parquet"}
    con.execute(f"""COPY (SELECT id, cluster, key, s_kind AS subject_kind, s_namespace AS subject_namespace,
        s_name AS subject_name, CASE WHEN end_us = {INF} THEN 'open' ELSE 'resolved' END AS status,
        make_timestamptz(opened_us) AS opened_at, make_timestamptz(updated_us) AS updated_at,
        CASE WHEN end_us < {INF} THEN make_timestamptz(end_us) END AS resolved_at, first_alertname,
        episodes, alerts, fleet_id, fleet_rank FROM incidents ORDER BY opened_us, id)
        TO '{paths["incidents"]}' (FORMAT parquet)""")
    con.execute(f"""COPY (SELECT e.cluster, e.fingerprint, make_timestamptz(e.starts_us) AS starts_at,
        CASE WHEN e.end_us < {INF} THEN make_timestamptz(e.end_us) END AS ends_at, e.status, e.alertname,
        e.severity, e.namespace, e.key, e.fkey AS incident_key, e.incident_id, i.fleet_id
        FROM episodes e JOIN incidents i ON i.id = e.incident_id)
        TO '{paths["assignments"]}' (FORMAT parquet)""")
    return paths


def topology_from_sources(sources: Mapping[str, ClusterSource]) -> pa.Table:
    """(cluster, namespace, ref, node, workload_kind, workload_name) of every pod the sources list (a
    dump is a snapshot: pods gone by then are unknown), and of every claim a pod mounts
    (``persistentvolumeclaim/<claim>``), as live correlation would ask the collectors."""
    from engine.topology import CLAIM_PREFIX, pod_placement

    rows: dict[str, list[Any]] = {f.name: [] for f in TOPOLOGY_SCHEMA}
    for cluster, source in sources.items():
        try:
            pods = source.list("pods")
        except SourceError:
            continue
        for pod in pods:
            meta = pod.get("metadata") or {}
            ns, name = meta.get("namespace") or "", meta.get("name") or ""
            p = pod_placement(source, ns, name)
            if p is None:
                continue
            claims = [(v.get("persistentVolumeClaim") or {}).get("claimName")
                      for v in (pod.get("spec") or {}).get("volumes") or []]
            for ref in [name, *(f"{CLAIM_PREFIX}{c}" for c in claims if c)]:
                for k, v in (("cluster", cluster), ("namespace", ns), ("ref", ref), ("node", p.get("node")),
                             ("workload_kind", p.get("workload_kind")), ("workload_name", p.get("workload_name"))):
                    rows[k].append(v)
    return pa.table(rows, schema=TOPOLOGY_SCHEMA)


def write_history(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """Upsert the replayed incidents, their alerts (latest episode per (cluster, fingerprint)) and
    fleet membership into a history DuckDB file (the live store's schema). The file must not be
    open in another process (DuckDB has one writer per file)."""
    from engine.correlation_rules import INF
    from engine.history import HistoryStore

    HistoryStore(path).close()  # creates or migrates the schema
    con.execute(f"ATTACH '{path}' AS hist")
    try:
        con.execute(f"""INSERT OR REPLACE INTO hist.incidents (id, cluster, key, subject, status, opened_at, updated_at,
              resolved_at, merged_into, revision, alert_count)
            SELECT id, cluster, key, to_json(struct_pack(kind := s_kind, namespace := s_namespace, name := s_name)),
                   CASE WHEN end_us = {INF} THEN 'open' ELSE 'resolved' END, make_timestamptz(opened_us),
                   make_timestamptz(updated_us), CASE WHEN end_us < {INF} THEN make_timestamptz(end_us) END, NULL,
                   episodes, alerts FROM incidents""")
        con.execute("""INSERT OR REPLACE INTO hist.fleet_members
            SELECT id, fleet_id, fleet_rank FROM incidents WHERE fleet_id IS NOT NULL""")
        con.execute(f"""INSERT OR REPLACE INTO hist.alerts (cluster, fingerprint, status, alertname, severity, namespace,
              labels, starts_at, ends_at, cluster_resolved, incident_id, receive_count)
            SELECT cluster, fingerprint, arg_max(status, starts_us), arg_max(alertname, starts_us),
                   arg_max(severity, starts_us), arg_max(namespace, starts_us),
                   to_json(struct_pack(alertname := arg_max(alertname, starts_us))), make_timestamptz(max(starts_us)),
                   CASE WHEN arg_max(end_us, starts_us) < {INF} THEN make_timestamptz(arg_max(end_us, starts_us)) END,
                   cluster <> 'unknown', arg_max(incident_id, starts_us), sum(reports)
            FROM episodes GROUP BY cluster, fingerprint""")
    finally:
        con.execute("DETACH hist")


def investigation_targets(con: duckdb.DuckDBPyConnection, cfg: CorrelationConfig, limit: int) -> list[dict[str, Any]]:
    """The incidents a replay would have investigated (open at the end of the input, fleet incidents
    capped at ``fleet_investigate_max`` members), newest first, at most ``limit``: id, cluster, key,
    subject and their episodes (fingerprint, startsAt µs)."""
    from engine.correlation_rules import INF

    rows = con.execute(f"""
        SELECT i.id, i.cluster, i.key, i.s_kind, i.s_namespace, i.s_name, i.opened_us, i.fleet_id,
               list(struct_pack(fp := e.fingerprint, s := e.starts_us))
        FROM incidents i JOIN episodes e ON e.incident_id = i.id
        WHERE i.end_us = {INF} AND (i.fleet_rank IS NULL OR i.fleet_rank < {cfg.fleet_investigate_max})
        GROUP BY ALL ORDER BY i.opened_us DESC, i.id LIMIT {int(limit)}""").fetchall()
    return [{"id": r[0], "cluster": r[1], "key": r[2], "subject": {"kind": r[3], "namespace": r[4], "name": r[5]},
             "opened_us": r[6], "fleet_id": r[7], "episodes": [(x["fp"], x["s"]) for x in r[8]]} for r in rows]
