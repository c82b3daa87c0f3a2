"""Read an incident's evidence back from Parquet with DuckDB (read-only).

``IncidentEvidence`` opens an in-memory DuckDB connection with one view per evidence table over
every cluster partition of one incident (``cluster`` is a column of every view), so detectors and
LLM tools query the same data with plain SQL.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import duckdb

from engine.evidence import SCHEMAS

__all__ = ["IncidentEvidence"]


class IncidentEvidence:
    """One incident's evidence across clusters, as DuckDB views named after the tables."""

    def __init__(self, data_dir: Path, incident_id: str) -> None:
        self.incident_id = incident_id
        self.con = _connection()
        root = Path(data_dir) / "evidence"
        # one walk over the cluster partitions, not one per table (a fleet has hundreds of them)
        dirs = sorted(root.glob(f"cluster=*/incident={incident_id}"))
        for table, schema in SCHEMAS.items():
            files = [f for d in dirs if (f := d / f"{table}.parquet").is_file()]
            if files:
                # views cannot take parameters: quote the paths as SQL string literals
                paths = ", ".join("'" + str(f).replace("'", "''") + "'" for f in files)
                # a table, read once: a view would re-read the Parquet files for every query
                self.con.execute(
                    f"CREATE TEMP TABLE {table} AS SELECT * FROM read_parquet([{paths}], hive_partitioning=true, "
                    "union_by_name=true)"
                )
            else:
                cols = ", ".join(f"NULL::{_duck_type(f.type)} AS {f.name}" for f in schema)
                self.con.execute(
                    f"CREATE TEMP VIEW {table} AS SELECT NULL::VARCHAR AS cluster, NULL::VARCHAR AS incident, {cols} WHERE false"
                )
        self._cache: dict[str, list[dict[str, Any]]] = {}

    def sql(self, query: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
        cur = self.con.execute(query, params or [])
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def rows(self, table: str) -> list[dict[str, Any]]:
        """All rows of a table (cached: evidence is immutable once written)."""
        if table not in self._cache:
            self._cache[table] = self.sql(f"SELECT * FROM {table}")
        return self._cache[table]

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> IncidentEvidence:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_DB: duckdb.DuckDBPyConnection | None = None
_DB_LOCK = threading.Lock()


def _connection() -> duckdb.DuckDBPyConnection:
    """A connection of its own to one in-memory database per process: opening a database costs tens
    of milliseconds of CPU, a cursor a few, and an incident opens its evidence several times (detectors,
    runbook, history). Its views are TEMP: private to the connection, gone when it closes."""
    global _DB
    with _DB_LOCK:
        if _DB is None:
            _DB = duckdb.connect(":memory:")
        return _DB.cursor()


def _duck_type(t: Any) -> str:
    import pyarrow as pa

    if pa.types.is_timestamp(t):
        return "TIMESTAMPTZ"
    if pa.types.is_int64(t):
        return "BIGINT"
    if pa.types.is_boolean(t):
        return "BOOLEAN"
    if pa.types.is_list(t):
        return "VARCHAR[]"
    return "VARCHAR"
