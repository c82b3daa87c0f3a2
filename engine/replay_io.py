"""Replay input: webhook payloads (JSONL in send order) or flat alerts (Parquet or JSONL), as Arrow.

Every reader yields *raw* Arrow tables with the columns of :data:`RAW_SCHEMA`, one row per alert as
received, in send order (``seq``); timestamps stay RFC 3339 strings (DuckDB parses them, Go's
nanoseconds included) or come as timestamps from Parquet. Webhook JSONL is decoded by Arrow's JSON
reader in byte chunks (no Python loop per alert), so progress is real and memory is bounded by a
chunk. Only the labels the rules read are kept as columns (:data:`LABELS`).

Flat alerts: one object per alert ``{"cluster", "fingerprint", "status", "startsAt", "endsAt",
"labels": {...}}`` (JSONL), or Parquet with ``cluster, fingerprint, status, startsAt, endsAt`` and
the label columns at the top level (missing ones are null).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj
import pyarrow.parquet as pq

__all__ = ["LABELS", "RAW_SCHEMA", "Format", "detect_format", "flat_from_payloads", "input_size", "read_raw"]

Format = Literal["auto", "webhooks", "flat"]

#: The labels correlation reads (alert_target, grouping_key, node symptoms), plus severity for reports.
LABELS = ("alertname", "cluster", "namespace", "pod", "container", "node", "deployment", "statefulset", "daemonset",
          "job_name", "persistentvolumeclaim", "horizontalpodautoscaler", "job", "severity")

RAW_SCHEMA = pa.schema([("seq", pa.int64()), ("external_url", pa.string()), ("fingerprint", pa.string()),
                        ("status", pa.string()), ("startsAt", pa.string()), ("endsAt", pa.string()),
                        *[(k, pa.string()) for k in LABELS]])

_LABELS_T = pa.struct([(k, pa.string()) for k in LABELS])
_ALERT_T = pa.struct([("status", pa.string()), ("labels", _LABELS_T), ("startsAt", pa.string()),
                      ("endsAt", pa.string()), ("fingerprint", pa.string())])
_WEBHOOK = pa.schema([("alerts", pa.list_(_ALERT_T)), ("externalURL", pa.string())])
_FLAT = pa.schema([("cluster", pa.string()), ("fingerprint", pa.string()), ("status", pa.string()),
                   ("startsAt", pa.string()), ("endsAt", pa.string()), ("labels", _LABELS_T)])


def detect_format(path: Path) -> Literal["webhooks", "flat", "parquet"]:
    """Parquet by suffix; otherwise the first JSON object says: a payload has ``alerts``."""
    if path.suffix == ".parquet":
        return "parquet"
    with path.open("rb") as fh:
        head = fh.read(1 << 16).lstrip()
    if head.startswith(b"["):
        return "webhooks"
    line = head.split(b"\n", 1)[0]
    try:
        first = orjson.loads(line)
    except orjson.JSONDecodeError:
        return "webhooks"  # one pretty-printed payload: the JSON fallback reads it
    return "webhooks" if isinstance(first, dict) and "alerts" in first else "flat"


def input_size(path: Path | str) -> int:
    """The unit of :func:`read_raw`'s progress: rows of a Parquet file, else bytes."""
    path = Path(path)
    return pq.ParquetFile(path).metadata.num_rows if path.suffix == ".parquet" else path.stat().st_size


def read_raw(path: Path | str, fmt: Format = "auto", *, chunk_bytes: int = 32 << 20,
             on_read: Callable[[int], None] | None = None) -> Iterator[pa.Table]:
    """Raw alert tables, chunk by chunk, in send order; ``on_read(units)`` after each (see input_size)."""
    path = Path(path)
    kind = detect_format(path) if fmt == "auto" else fmt
    if kind == "parquet" or (kind == "flat" and path.suffix == ".parquet"):
        for table in _parquet(path):
            yield table
            if on_read is not None:
                on_read(table.num_rows)
        return
    seq = 0
    for block in _line_blocks(path, chunk_bytes):
        if on_read is not None:
            on_read(len(block))
        table = _decode_block(block, kind)
        if table is None:  # not JSONL: one payload or a JSON list of them
            table = flat_from_payloads(orjson.loads(path.read_bytes()))
        n = table.num_rows
        yield table.set_column(0, "seq", pa.array(np.arange(seq, seq + n, dtype=np.int64)))
        seq += n


def _decode_block(block: bytes, kind: str) -> pa.Table | None:
    opts = pj.ParseOptions(explicit_schema=_WEBHOOK if kind == "webhooks" else _FLAT,
                           unexpected_field_behavior="ignore")
    try:
        table = pj.read_json(io.BytesIO(block), parse_options=opts,
                             read_options=pj.ReadOptions(block_size=4 << 20))  # blocks parse in parallel
    except pa.ArrowInvalid:
        if kind == "webhooks":
            return None
        raise
    return _from_webhooks(table) if kind == "webhooks" else _from_flat(table)


def _line_blocks(path: Path, chunk_bytes: int) -> Iterator[bytes]:
    """The file in blocks of whole lines, about ``chunk_bytes`` each."""
    with path.open("rb") as fh:
        rest = b""
        while True:
            data = fh.read(chunk_bytes)
            if not data:
                break
            data = rest + data
            cut = data.rfind(b"\n") + 1
            if cut == 0:
                rest = data
                continue
            rest = data[cut:]
            yield data[:cut]
        if rest.strip():
            yield rest


def _from_webhooks(table: pa.Table) -> pa.Table:
    alerts = table.column("alerts").combine_chunks()
    flat = pc.list_flatten(alerts)
    parents = pc.list_parent_indices(alerts)
    labels = flat.field("labels")
    cols: dict[str, Any] = {
        "seq": pa.nulls(len(flat), pa.int64()),
        "external_url": pc.take(table.column("externalURL").combine_chunks(), parents),
        "fingerprint": flat.field("fingerprint"), "status": flat.field("status"),
        "startsAt": flat.field("startsAt"), "endsAt": flat.field("endsAt"),
    }
    cols.update({k: labels.field(k) for k in LABELS})
    return pa.table(cols, schema=RAW_SCHEMA)


def _from_flat(table: pa.Table) -> pa.Table:
    labels = table.column("labels").combine_chunks()
    n = table.num_rows
    cols: dict[str, Any] = {"seq": pa.nulls(n, pa.int64()), "external_url": pa.nulls(n, pa.string())}
    for k in ("fingerprint", "status", "startsAt", "endsAt"):
        cols[k] = table.column(k)
    cols.update({k: labels.field(k) for k in LABELS})
    # an explicit cluster column wins over the label
    cols["cluster"] = pc.coalesce(table.column("cluster"), labels.field("cluster"))
    return pa.table(cols, schema=RAW_SCHEMA)


def _parquet(path: Path) -> Iterator[pa.Table]:
    pf = pq.ParquetFile(path)
    seq = 0
    for batch in pf.iter_batches(batch_size=1 << 20):
        n = batch.num_rows
        cols: dict[str, Any] = {"seq": pa.array(np.arange(seq, seq + n, dtype=np.int64))}
        for field in RAW_SCHEMA:
            if field.name == "seq":
                continue
            name = {"startsAt": "starts_at", "endsAt": "ends_at"}.get(field.name, field.name)
            idx = batch.schema.get_field_index(field.name)
            idx = idx if idx >= 0 else batch.schema.get_field_index(name)
            col = batch.column(idx) if idx >= 0 else pa.nulls(n, pa.string())
            cols[field.name] = col if field.name in ("startsAt", "endsAt") else col.cast(pa.string())
        yield pa.table(cols)
        seq += n


def flat_from_payloads(payloads: list[dict[str, Any]] | dict[str, Any]) -> pa.Table:
    """Raw rows from already-decoded payloads (the JSON-list and single-payload fallback)."""
    if isinstance(payloads, dict):
        payloads = [payloads]
    rows: dict[str, list[Any]] = {f.name: [] for f in RAW_SCHEMA}
    for body in payloads:
        for a in (body.get("alerts") or []) if isinstance(body, dict) else []:
            if not isinstance(a, dict):
                continue
            labels = a.get("labels") if isinstance(a.get("labels"), dict) else {}
            rows["seq"].append(None)
            rows["external_url"].append(body.get("externalURL"))
            for k in ("fingerprint", "status", "startsAt", "endsAt"):
                v = a.get(k)
                rows[k].append(v if isinstance(v, str) else None)
            for k in LABELS:
                v = labels.get(k)
                rows[k].append(v if isinstance(v, str) else None)
    return pa.table(rows, schema=RAW_SCHEMA)
