"""Synthetic alert histories for the replay benchmark: fast (numpy, no scenario builder), with truth.

``synth(n_alerts, n_clusters, seed)`` returns a flat Arrow table of alert *reports* in send order
(every episode fires once and, if it resolved, reports its resolve too) and the truth label of
each report. The history follows the rules' world: per cluster, workload incidents of 2-12
episodes (pod alerts with ReplicaSet pod names, the Deployment's object alert, a volume alert)
spaced further apart than the grouping window; node incidents whose pods carry the ``node``
label; flapping episodes of one fingerprint; and fleet storms (one revision failing in up to five
clusters minutes apart). Revisions are unique per incident except in storms, so no two unrelated
incidents look like one rollout. ``write_cache`` writes it once as Parquet (flat) and as webhook
JSONL (payloads of up to 64 alerts, one cluster each).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.parquet as pq

__all__ = ["synth", "write_cache"]

T0_US = int(datetime(2026, 1, 1, tzinfo=UTC).timestamp()) * 1_000_000
MIN = 60_000_000
_SAFE = np.array(list("bcdfghjklmnpqrstvwxz2456789"))
_NS = ["shop", "payments", "identity", "search", "billing", "messaging", "orders", "catalog"]
_APPS = ["api", "web", "worker", "cart", "checkout", "auth", "ledger", "notifier", "indexer", "gateway"]


def _tokens(rng: np.random.Generator, n: int, width: int) -> np.ndarray:
    idx = rng.integers(0, len(_SAFE), size=(n, width))
    return np.array(["".join(r) for r in _SAFE[idx]]) if n else np.array([], dtype=str)


def synth(n_alerts: int, n_clusters: int, seed: int = 0) -> tuple[pa.Table, dict[str, Any]]:
    """(flat report table in send order with a ``truth`` column, counts)."""
    rng = np.random.default_rng(seed)
    n_inc = max(n_clusters, n_alerts // 14)  # ~7 episodes and ~2 reports each
    cluster = rng.integers(0, n_clusters, n_inc)
    workload = rng.integers(0, 80, n_inc)  # 80 workloads per cluster (ns x app)
    kind = rng.choice(np.array(["wl", "node"]), n_inc, p=[0.9, 0.1])
    # per (cluster, workload) slot, incidents 12 h apart (> the 3 h window), random phase
    order = np.lexsort((rng.random(n_inc), workload, cluster))
    slot = np.empty(n_inc, dtype=np.int64)
    c_w = cluster[order] * 1000 + workload[order]
    starts_of_group = np.r_[0, np.flatnonzero(np.diff(c_w)) + 1]
    run = np.arange(n_inc) - np.repeat(starts_of_group, np.diff(np.r_[starts_of_group, n_inc]))
    slot[order] = run
    last = np.empty(n_inc, dtype=bool)
    last[order] = np.r_[np.diff(c_w) != 0, True]  # only a slot's last incident may still fire at the end
    # incidents end within 4 h + 90 min + 2 h of their slot's start: > 3 h (the window) before the next
    t0 = T0_US + slot * 12 * 60 * MIN + rng.integers(0, 4 * 60, n_inc) * MIN
    storm = (rng.random(n_inc) < 0.004) & (kind == "wl")
    size = rng.integers(2, 13, n_inc)
    inc_id = np.arange(n_inc)
    # explode to episodes
    ep_inc = np.repeat(inc_id, size)
    k = np.arange(len(ep_inc)) - np.repeat(np.cumsum(size) - size, size)
    rows = _episodes(rng, ep_inc, k, cluster, workload, kind, t0, last, storm)
    # storms: copy the incident into up to 4 more clusters, 3-8 minutes apart, same revision
    extra = _storm_copies(rng, rows, storm, n_clusters)
    ep = {c: np.concatenate([rows[c], extra[c]]) for c in rows}
    truth_of = np.where(storm[ep["inc"]], "fleet-" + ep["inc"].astype(str), ep["cluster"].astype(str) + "/" +
                        ep["inc"].astype(str))
    table = _reports(ep, truth_of)
    counts = {"incidents": int(len(set(truth_of.tolist()))), "episodes": int(len(truth_of)),
              "reports": table.num_rows, "storms": int(storm.sum())}
    return table, counts


def _episodes(rng: np.random.Generator, ep_inc: np.ndarray, k: np.ndarray, cluster: np.ndarray,
              workload: np.ndarray, kind: np.ndarray, t0: np.ndarray, last: np.ndarray,
              storm: np.ndarray) -> dict[str, np.ndarray]:
    n = len(ep_inc)
    wl = workload[ep_inc]
    # a storm's workload is its own (rollout-<n>), so its copies meet no other incident of that workload
    ns = np.where(storm[ep_inc], np.char.add("rollout-", ep_inc.astype(str)), np.array(_NS)[wl % len(_NS)])
    app = np.array(_APPS)[wl // len(_NS) % len(_APPS)]
    rev = _tokens(rng, int(ep_inc.max()) + 1 if n else 0, 9)[ep_inc]  # one revision per incident
    suffix = _tokens(rng, n, 5)
    pod = np.char.add(np.char.add(np.char.add(np.char.add(app, "-"), rev), "-"), suffix)
    is_node = kind[ep_inc] == "node"
    node = np.char.add("node-", ep_inc.astype(str))
    # later episodes start at least a minute after the first: the first alertname is the fleet key
    start = t0[ep_inc] + np.where(k == 0, 0, rng.integers(1, 90, n) * MIN)
    firing_first = (k == 0) & ~is_node
    # alertnames: the first episode of a workload incident is KubePodNotReady (the fleet key)
    names = np.where(firing_first, "KubePodNotReady",
                     rng.choice(np.array(["KubePodCrashLooping", "KubePodNotReady", "KubeDeploymentReplicasMismatch",
                                          "KubeContainerWaiting"]), n))
    names = np.where(is_node & (k == 0), "KubeNodeNotReady", names)
    names = np.where(is_node & (k > 0), "KubePodNotReady", names)
    start = np.where(is_node & (k > 0), t0[ep_inc] + rng.integers(1, 60, n) * MIN, start)
    dur = np.where(is_node & (k == 0), 150 * MIN, rng.integers(5, 120, n) * MIN)  # the node is down all along
    resolved = ~last[ep_inc] | (rng.random(n) < 0.7)
    return {"inc": ep_inc, "cluster": cluster[ep_inc], "ns": ns, "app": app, "pod": pod, "name": names,
            "node": np.where(is_node, node, ""), "is_node": is_node, "start": start,
            "end": np.where(resolved, start + dur, -1), "k": k}


def _storm_copies(rng: np.random.Generator, rows: dict[str, np.ndarray], storm: np.ndarray,
                  n_clusters: int) -> dict[str, np.ndarray]:
    sel = storm[rows["inc"]]
    if not sel.any() or n_clusters < 2:
        return {c: v[:0] for c, v in rows.items()}
    parts = []
    for j in range(1, min(5, n_clusters)):
        part = {c: v[sel].copy() for c, v in rows.items()}
        part["cluster"] = (part["cluster"] + j * max(1, n_clusters // 5)) % n_clusters
        shift = j * 5 * MIN
        part["start"] = part["start"] + shift
        part["end"] = np.where(part["end"] >= 0, part["end"] + shift, -1)
        fresh = np.char.add("-", _tokens(rng, int(sel.sum()), 5))  # new pods of the same ReplicaSet
        part["pod"] = np.char.add(np.char.rpartition(part["pod"], "-")[:, 0], fresh)
        parts.append(part)
    return {c: np.concatenate([p[c] for p in parts]) for c in rows}


def _reports(ep: dict[str, np.ndarray], truth: np.ndarray) -> pa.Table:
    """Fire and resolve reports in event order; labels as columns."""
    n = len(truth)
    cl = np.char.add("c", ep["cluster"].astype(str))
    is_obj = ep["name"] == "KubeDeploymentReplicasMismatch"
    is_node_alert = ep["name"] == "KubeNodeNotReady"
    fp_src = np.char.add(np.char.add(cl, ep["pod"]), ep["name"])
    fp_src = np.where(is_node_alert, np.char.add(cl, ep["node"]), fp_src)
    fp_src = np.where(is_obj, np.char.add(np.char.add(cl, ep["ns"]), ep["app"]), fp_src)
    fingerprint = _fingerprints(fp_src)
    has_end = ep["end"] >= 0
    idx = np.concatenate([np.arange(n), np.flatnonzero(has_end)])
    status = np.concatenate([np.full(n, "firing"), np.full(int(has_end.sum()), "resolved")])
    at = np.concatenate([ep["start"], ep["end"][has_end]])
    order = np.lexsort((status == "firing", at))
    idx, status = idx[order], status[order]
    starts = ep["start"][idx]
    ends = np.where(status == "resolved", ep["end"][idx], 0)
    pod = np.where(is_obj | is_node_alert, "kube-state-metrics-6f664bc8c4-5lwq6", ep["pod"])[idx]
    node = np.where(is_node_alert, ep["node"], np.where(ep["is_node"], ep["node"], ""))[idx]
    return pa.table({
        "cluster": cl[idx], "fingerprint": fingerprint[idx], "status": status,
        "startsAt": pa.array(starts, pa.timestamp("us", tz="UTC")),
        "endsAt": pa.array(np.where(status == "resolved", ends, 0), pa.timestamp("us", tz="UTC")).cast(
            pa.timestamp("us", tz="UTC")),
        "alertname": ep["name"][idx], "namespace": np.where(is_node_alert, "monitoring", ep["ns"])[idx],
        "pod": pod, "node": np.where(node == "", None, node) if n else node,
        "deployment": np.where(is_obj, ep["app"], None)[idx], "job": np.full(n, "kube-state-metrics")[idx],
        "severity": np.full(len(idx), "warning"), "truth": truth[idx],
    })


def _fingerprints(src: np.ndarray) -> np.ndarray:
    """16 hex digits per label string, deterministic (DuckDB's hash), vectorised."""
    import duckdb

    con = duckdb.connect()
    con.register("src", pa.table({"s": pa.array(src, pa.string())}))
    return con.sql("SELECT printf('%016x', hash(s)) FROM src").to_arrow_table().column(0).to_numpy(zero_copy_only=False)


def write_cache(root: Path, n_alerts: int, n_clusters: int, seed: int = 0) -> dict[str, Path]:
    """``alerts.parquet`` (flat), ``webhooks.jsonl`` and ``truth.parquet`` under ``root``, once."""
    root.mkdir(parents=True, exist_ok=True)
    paths = {"parquet": root / "alerts.parquet", "jsonl": root / "webhooks.jsonl", "truth": root / "truth.parquet",
             "meta": root / "meta.json"}
    if all(p.exists() for p in paths.values()):
        return paths
    table, counts = synth(n_alerts, n_clusters, seed)
    pq.write_table(table.drop(["truth"]), paths["parquet"])
    episodes = table.group_by(["cluster", "fingerprint", "startsAt"]).aggregate([("truth", "max")])
    pq.write_table(episodes.rename_columns(["cluster", "fingerprint", "startsAt", "truth"]), paths["truth"])
    _write_webhooks(table, paths["jsonl"])
    paths["meta"].write_text(json.dumps(counts))
    return paths


def _write_webhooks(table: pa.Table, path: Path) -> None:
    cols = table.drop(["truth"]).to_pydict()
    n = table.num_rows
    label_keys = ("alertname", "namespace", "pod", "node", "deployment", "job", "severity")
    with path.open("wb") as fh:
        batch: list[dict[str, Any]] = []
        cur = None
        for i in range(n):
            c = cols["cluster"][i]
            if batch and (c != cur or len(batch) == 64):
                fh.write(_payload(batch) + b"\n")
                batch = []
            cur = c
            labels = {"cluster": c, **{k: cols[k][i] for k in label_keys if cols[k][i]}}
            end = cols["endsAt"][i]
            batch.append({"status": cols["status"][i], "labels": labels, "annotations": {},
                          "startsAt": _rfc(cols["startsAt"][i]),
                          "endsAt": _rfc(end) if cols["status"][i] == "resolved" else "0001-01-01T00:00:00Z",
                          "generatorURL": "", "fingerprint": cols["fingerprint"][i]})
        if batch:
            fh.write(_payload(batch) + b"\n")


def _payload(alerts: list[dict[str, Any]]) -> bytes:
    status = "firing" if any(a["status"] == "firing" for a in alerts) else "resolved"
    return orjson.dumps({"receiver": "Default", "status": status, "alerts": alerts, "groupLabels": {},
                         "commonLabels": {}, "commonAnnotations": {}, "externalURL": "http://am", "version": "4",
                         "groupKey": "{}:{}", "truncatedAlerts": 0})


def _rfc(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
