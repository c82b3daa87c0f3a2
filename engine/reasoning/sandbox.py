"""``query_evidence``'s sandbox: read-only SQL over one incident's evidence, nothing else.

The incident's tables are copied (every string redacted on the way) into a fresh in-memory DuckDB
connection that then loses file and network access (``enable_external_access=false``) and can no
longer change its settings (``lock_configuration=true``). A query must be a single SELECT (``WITH``
included, as DuckDB's parser says, not a regex); it returns at most ``row_limit`` rows and is
interrupted after ``timeout_s``. Secrets cannot be pieced together with ``substr``: the copy
holds only redacted text.
"""

from __future__ import annotations

import threading
from datetime import date, datetime
from typing import Any

import duckdb
import pyarrow as pa

from engine.evidence import SCHEMAS
from engine.evidence_query import IncidentEvidence
from engine.redact import redact

__all__ = ["EvidenceSandbox"]

_MAX_SQL_CHARS = 4000
_MAX_CELL_CHARS = 1000


class EvidenceSandbox:
    def __init__(self, evidence: IncidentEvidence, *, row_limit: int = 200, timeout_s: float = 5.0) -> None:
        self.row_limit, self.timeout_s = row_limit, timeout_s
        self.con = duckdb.connect(":memory:")
        self.counts: dict[str, int] = {}
        for table in SCHEMAS:
            data = _redacted(evidence.con.sql(f"SELECT * FROM {table}").to_arrow_table())
            self.con.register("_incoming", data)
            self.con.execute(f"CREATE TABLE {table} AS SELECT * FROM _incoming")
            self.con.unregister("_incoming")
            self.counts[table] = data.num_rows
        for setting in ("SET threads=1", "SET memory_limit='256MB'", "SET enable_external_access=false",
                        "SET lock_configuration=true"):
            self.con.execute(setting)

    def schema(self) -> dict[str, list[str]]:
        """table → its columns (``name type``), for the prompt."""
        rows = self.con.execute("SELECT table_name, column_name, data_type FROM information_schema.columns "
                                "ORDER BY table_name, ordinal_position").fetchall()
        out: dict[str, list[str]] = {}
        for table, col, typ in rows:
            out.setdefault(table, []).append(f"{col} {typ}")
        return out

    def query(self, sql: str) -> dict[str, Any]:
        """Rows of one SELECT, or ``{"error": why}``; never raises for a bad query."""
        refused = self._refuse(sql)
        if refused:
            return {"error": refused}
        timer = threading.Timer(self.timeout_s, self.con.interrupt)
        timer.start()
        try:
            cur = self.con.execute(sql)
            names = [d[0] for d in cur.description or []]
            rows = cur.fetchmany(self.row_limit + 1)
        except duckdb.InterruptException:
            return {"error": f"query interrupted after {self.timeout_s:g} s (time limit)"}
        except duckdb.Error as exc:
            return {"error": f"{type(exc).__name__}: {exc}"}
        finally:
            timer.cancel()
        truncated = len(rows) > self.row_limit
        rows = rows[: self.row_limit]
        return {"columns": names, "rows": [[_cell(v) for v in r] for r in rows], "row_count": len(rows),
                "truncated": truncated, **({"note": f"only the first {self.row_limit} rows"} if truncated else {})}

    def _refuse(self, sql: str) -> str | None:
        if not sql or not sql.strip():
            return "empty query"
        if len(sql) > _MAX_SQL_CHARS:
            return f"query longer than {_MAX_SQL_CHARS} characters"
        try:
            statements = self.con.extract_statements(sql)
        except duckdb.Error as exc:
            return f"does not parse: {exc}"
        if len(statements) != 1:
            return f"exactly one statement allowed, got {len(statements)}"
        kind = statements[0].type
        if kind != duckdb.StatementType.SELECT:
            return f"only SELECT (or WITH ... SELECT) is allowed, not {kind.name}"
        return None

    def close(self) -> None:
        self.con.close()


def _redacted(table: pa.Table) -> pa.Table:
    cols = []
    for col in table.columns:
        if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
            col = pa.array([redact(v) for v in col.to_pylist()], type=col.type)
        cols.append(col)
    return pa.Table.from_arrays(cols, names=table.column_names)


def _cell(v: Any) -> Any:
    if isinstance(v, datetime | date):
        return v.isoformat()
    if isinstance(v, str) and len(v) > _MAX_CELL_CHARS:
        return v[:_MAX_CELL_CHARS] + "...[cut]"
    if isinstance(v, list):
        return [_cell(x) for x in v]
    if v is None or isinstance(v, int | float | bool):
        return v
    return str(v)
