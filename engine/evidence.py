"""Evidence as data: the Arrow schemas of what collectors gather, and Parquet write/read.

One collection of one cluster for one incident is a set of tables written under
``<data_dir>/evidence/cluster=<cluster>/incident=<incident_id>/<table>.parquet`` (hive-style
partitions, so DuckDB can query one incident or the whole fleet). The investigator reads them back
with DuckDB, read-only.

Tables and what their columns mean (timestamps are UTC, microseconds):

``pods``        one row per pod in scope: phase, status reason/message, node, the owner chain
                resolved to the workload (``workload_kind``/``workload_name``), the revision hash
                (``pod-template-hash`` or ``controller-revision-hash``), readiness, volumes.
``containers``  one row per container (``init`` for init containers): image, current state
                (``state`` = waiting|running|terminated, with ``reason``/``message``/``exit_code``)
                and last state (``last_*``), restarts, requests and limits, probes (JSON), env var
                NAMES and the Secret/ConfigMap keys they reference (never values).
``events``      one row per event about the objects in scope (and Warning events in their
                namespaces within the lookback), both core/v1 and events.k8s.io shapes.
``logs``        one row per log line: current or ``previous`` instance, ``seq`` in file order,
                ``ts`` when the line carries a timestamp.
``changes``     the rollout history of the workloads in scope: one row per revision
                (ReplicaSet for a Deployment), with its images, creation time and replica counts.
``workloads``   the controller objects themselves (Deployment, StatefulSet, DaemonSet, Job):
                desired/ready/updated/available replicas and conditions.
``nodes``       one row per node involved: readiness, unschedulable, taints, capacity.
``node_conditions`` one row per node condition.
``errors``      one row per call that failed: what was asked, the HTTP status, reason, message.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

__all__ = [
    "SCHEMAS",
    "EvidenceSet",
    "evidence_dir",
    "write_evidence",
]

_TS = pa.timestamp("us", tz="UTC")
_STRS = pa.list_(pa.string())

SCHEMAS: dict[str, pa.Schema] = {
    "pods": pa.schema(
        [
            ("namespace", pa.string()),
            ("name", pa.string()),
            ("uid", pa.string()),
            ("node", pa.string()),
            ("phase", pa.string()),
            ("reason", pa.string()),
            ("message", pa.string()),
            ("created_at", _TS),
            ("started_at", _TS),
            ("owner_kind", pa.string()),
            ("owner_name", pa.string()),
            ("workload_kind", pa.string()),
            ("workload_name", pa.string()),
            ("revision_hash", pa.string()),
            ("ready", pa.bool_()),
            ("conditions", pa.string()),  # JSON list of {type,status,reason,message,lastTransitionTime}
            ("volumes", pa.string()),  # JSON list of {name,kind,ref,optional}
            ("in_focus", pa.bool_()),  # named by an alert or owned by the alert's workload
        ]
    ),
    "containers": pa.schema(
        [
            ("namespace", pa.string()),
            ("pod", pa.string()),
            ("container", pa.string()),
            ("init", pa.bool_()),
            ("image", pa.string()),
            ("ready", pa.bool_()),
            ("restart_count", pa.int64()),
            ("state", pa.string()),
            ("reason", pa.string()),
            ("message", pa.string()),
            ("exit_code", pa.int64()),
            ("started_at", _TS),
            ("finished_at", _TS),
            ("last_state", pa.string()),
            ("last_reason", pa.string()),
            ("last_message", pa.string()),
            ("last_exit_code", pa.int64()),
            ("last_started_at", _TS),
            ("last_finished_at", _TS),
            ("cpu_request", pa.string()),
            ("cpu_limit", pa.string()),
            ("memory_request", pa.string()),
            ("memory_limit", pa.string()),
            ("memory_limit_bytes", pa.int64()),
            ("liveness_probe", pa.string()),
            ("readiness_probe", pa.string()),
            ("startup_probe", pa.string()),
            ("env_names", _STRS),
            ("env_refs", _STRS),  # "secret:<name>:<key>", "configmap:<name>:<key>", "secret:<name>" (envFrom)
        ]
    ),
    "events": pa.schema(
        [
            ("namespace", pa.string()),
            ("object_kind", pa.string()),
            ("object_name", pa.string()),
            ("field_path", pa.string()),
            ("type", pa.string()),
            ("reason", pa.string()),
            ("message", pa.string()),
            ("count", pa.int64()),
            ("first_seen", _TS),
            ("last_seen", _TS),
            ("source", pa.string()),
        ]
    ),
    "logs": pa.schema(
        [
            ("namespace", pa.string()),
            ("pod", pa.string()),
            ("container", pa.string()),
            ("previous", pa.bool_()),
            ("seq", pa.int64()),
            ("ts", _TS),
            ("line", pa.string()),
        ]
    ),
    "changes": pa.schema(
        [
            ("namespace", pa.string()),
            ("workload_kind", pa.string()),
            ("workload_name", pa.string()),
            ("revision_name", pa.string()),
            ("revision", pa.int64()),
            ("revision_hash", pa.string()),
            ("images", _STRS),
            ("created_at", _TS),
            ("replicas", pa.int64()),
            ("ready_replicas", pa.int64()),
            ("available_replicas", pa.int64()),
            ("env_names", _STRS),
            ("template", pa.string()),  # JSON pod template spec, env values removed
        ]
    ),
    "workloads": pa.schema(
        [
            ("namespace", pa.string()),
            ("kind", pa.string()),
            ("name", pa.string()),
            ("replicas", pa.int64()),
            ("ready_replicas", pa.int64()),
            ("updated_replicas", pa.int64()),
            ("available_replicas", pa.int64()),
            ("unavailable_replicas", pa.int64()),
            ("generation", pa.int64()),
            ("observed_generation", pa.int64()),
            ("created_at", _TS),
            ("conditions", pa.string()),  # JSON list
        ]
    ),
    "nodes": pa.schema(
        [
            ("name", pa.string()),
            ("ready", pa.string()),  # "True" | "False" | "Unknown" | None when not reported
            ("unschedulable", pa.bool_()),
            ("taints", _STRS),  # "key=value:Effect"
            ("cpu_allocatable", pa.string()),
            ("memory_allocatable", pa.string()),
            ("pods_allocatable", pa.string()),
            ("kubelet_version", pa.string()),
            ("created_at", _TS),
        ]
    ),
    "node_conditions": pa.schema(
        [
            ("node", pa.string()),
            ("type", pa.string()),
            ("status", pa.string()),
            ("reason", pa.string()),
            ("message", pa.string()),
            ("last_heartbeat", _TS),
            ("last_transition", _TS),
        ]
    ),
    "errors": pa.schema(
        [
            ("resource", pa.string()),
            ("namespace", pa.string()),
            ("name", pa.string()),
            ("status", pa.int64()),
            ("reason", pa.string()),
            ("message", pa.string()),
            ("retryable", pa.bool_()),
        ]
    ),
}


@dataclass
class EvidenceSet:
    """The rows one collection gathered from one cluster, table name → list of row dicts."""

    cluster: str
    incident_id: str
    rows: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: {t: [] for t in SCHEMAS})

    def add(self, table: str, row: Mapping[str, Any]) -> None:
        self.rows[table].append(dict(row))

    def extend(self, table: str, rows: Iterable[Mapping[str, Any]]) -> None:
        self.rows[table].extend(dict(r) for r in rows)

    def table(self, name: str) -> pa.Table:
        schema = SCHEMAS[name]
        rows = self.rows[name]
        cols = {f.name: [r.get(f.name) for r in rows] for f in schema}
        return pa.Table.from_pydict(cols, schema=schema)

    def counts(self) -> dict[str, int]:
        return {name: len(rows) for name, rows in self.rows.items()}


def evidence_dir(data_dir: Path, cluster: str, incident_id: str) -> Path:
    return Path(data_dir) / "evidence" / f"cluster={cluster}" / f"incident={incident_id}"


def write_evidence(data_dir: Path, ev: EvidenceSet) -> Path:
    """Write every table (empty ones too, so readers never miss a file) atomically."""
    out = evidence_dir(data_dir, ev.cluster, ev.incident_id)
    out.mkdir(parents=True, exist_ok=True)
    for name in SCHEMAS:
        fd, tmp = tempfile.mkstemp(dir=out, prefix=f".{name}.", suffix=".parquet")
        os.close(fd)
        pq.write_table(ev.table(name), tmp, compression="zstd")
        os.replace(tmp, out / f"{name}.parquet")
    return out
