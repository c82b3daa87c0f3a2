"""Correlation v2: the live correlator and the vectorised replay give the same incidents.

Hypothesis generates fleets of alert streams (several clusters, Deployment and StatefulSet pods,
nodes going NotReady with their pods, node-level TargetDown, volume alerts, flapping, storms of
one bad revision in several clusters), feeds them to the live :class:`Correlator` webhook by
webhook in event order, replays the same payloads through DuckDB, and compares every episode's
incident, every incident's status, and the fleet grouping. A second property holds the SQL key
derivation equal to ``alert_target`` + ``grouping_key`` on arbitrary label sets.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb
import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.alerts import WebhookAlert, normalise
from engine.config import CorrelationConfig
from engine.correlate import Correlator
from engine.correlation_rules import INF, PodPlacement, episode_of, to_us
from engine.replay import TOPOLOGY_SCHEMA, correlate_table
from engine.replay_io import flat_from_payloads

T0 = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
CFG = CorrelationConfig(group_window_s=1800, node_lead_s=600, fleet_window_s=1200, fleet_investigate_max=2)
KSM = "kube-state-metrics-6f664bc8c4-5lwq6"
WORKLOADS = [("shop", "checkout", "7d9c5b6f4"), ("shop", "cart", "5bb748cd7"), ("db", "postgres", None)]
NODES = ["n1", "n2"]
SUFFIXES = ["x2kqp", "b8d7z", "tt4mn"]


def _fp(cluster: str, labels: dict[str, str]) -> str:
    raw = cluster + "|" + "|".join(f"{k}={v}" for k, v in sorted(labels.items()))
    return hashlib.sha1(raw.encode()).hexdigest()[:16]


def _iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def _pod(wl: tuple[str, str, str | None], i: int) -> str:
    ns, name, rs = wl
    return f"{name}-{rs}-{SUFFIXES[i]}" if rs else f"{name}-{i}"


@st.composite
def _alert_kinds(draw: Any, cluster: str) -> tuple[str, dict[str, str]]:
    wl = draw(st.sampled_from(WORKLOADS))
    pod = _pod(wl, draw(st.integers(0, 2)))
    node = draw(st.sampled_from(NODES))
    choice = draw(st.integers(0, 7))
    ns, name = wl[0], wl[1]
    if choice <= 1:
        return "KubePodNotReady", {"namespace": ns, "pod": pod, "job": "kube-state-metrics"}
    if choice == 2:
        kind = "deployment" if wl[2] else "statefulset"
        return "KubeReplicasMismatch", {"namespace": ns, kind: name, "pod": KSM}
    if choice == 3:
        return "KubeNodeNotReady", {"node": node, "namespace": "monitoring", "pod": KSM}
    if choice == 4:
        return "TargetDown", {"job": draw(st.sampled_from(["kubelet", "my-app"])), "namespace": "kube-system"}
    if choice == 5:
        return "KubePersistentVolumeFillingUp", {"namespace": ns, "persistentvolumeclaim": f"data-{name}-0",
                                                 "node": node}
    if choice == 6:
        return "KubeContainerOOMKilled", {"namespace": ns, "pod": pod, "node": node}
    return "KubePodCrashLooping", {"namespace": ns, "pod": pod}


@st.composite
def fleets(draw: Any) -> tuple[list[dict[str, Any]], dict[tuple[str, str, str], PodPlacement]]:
    """Webhook payloads in event order, and the topology both correlators see."""
    clusters = draw(st.lists(st.sampled_from(["eu", "us", "ap"]), min_size=1, max_size=3, unique=True))
    topo: dict[tuple[str, str, str], PodPlacement] = {}
    for c in clusters:
        for wl in WORKLOADS:
            for i in range(3):
                if draw(st.booleans()):
                    kind = "Deployment" if wl[2] else "StatefulSet"
                    topo[(c, wl[0], _pod(wl, i))] = PodPlacement(draw(st.sampled_from([*NODES, None])), kind, wl[1])
            if draw(st.booleans()):
                topo[(c, wl[0], f"persistentvolumeclaim/data-{wl[1]}-0")] = PodPlacement(
                    draw(st.sampled_from(NODES)), "StatefulSet", wl[1])
    events: list[tuple[datetime, int, dict[str, Any], str]] = []
    n = draw(st.integers(1, 40))
    for k in range(n):
        cluster = draw(st.sampled_from(clusters))
        name, labels = draw(_alert_kinds(cluster))
        labels = {"alertname": name, "cluster": cluster, **labels}
        # storms: the same alert in every cluster minutes apart; flaps: new episodes of one fingerprint
        starts = [T0 + timedelta(minutes=draw(st.integers(0, 360)), seconds=draw(st.sampled_from([0, 0, 30])))]
        if draw(st.integers(0, 4)) == 0:
            starts += [starts[0] + timedelta(minutes=draw(st.integers(10, 90))) for _ in range(draw(st.integers(1, 3)))]
        for s in sorted(set(starts)):
            dur = draw(st.one_of(st.none(), st.integers(0, 120)))
            ends = None if dur is None else s + timedelta(minutes=dur)
            spread = [cluster] if draw(st.integers(0, 5)) else clusters
            for j, c in enumerate(spread):
                lab = {**labels, "cluster": c}
                shift = timedelta(minutes=3 * j)
                a = {"status": "firing", "labels": lab, "annotations": {}, "startsAt": _iso(s + shift),
                     "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "", "fingerprint": _fp(c, lab)}
                events.append((s + shift, k, a, "f"))
                if draw(st.integers(0, 3)) == 0:
                    events.append((s + shift + timedelta(minutes=5), k, a, "f"))  # a repeat
                if ends is not None:
                    events.append((ends + shift, k, {**a, "status": "resolved", "endsAt": _iso(ends + shift)}, "r"))
    events.sort(key=lambda e: (e[0], e[3] == "f"))
    payloads, i = [], 0
    while i < len(events):
        size = draw(st.integers(1, 6))
        payloads.append({"version": "4", "status": "firing", "receiver": "r", "externalURL": "http://am",
                         "alerts": [e[2] for e in events[i:i + size]]})
        i += size
    return payloads, topo


def _live(payloads: list[dict[str, Any]], topo: dict[tuple[str, str, str], PodPlacement]) -> Correlator:
    c = Correlator(CFG, topology=lambda cl, ns, ref: topo.get((cl, ns, ref)))
    for body in payloads:
        c.ingest([normalise(WebhookAlert.model_validate(a), a["labels"]["cluster"]) for a in body["alerts"]])
    return c


def _replay(payloads: list[dict[str, Any]],
            topo: dict[tuple[str, str, str], PodPlacement]) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    rows = [{"cluster": c, "namespace": ns, "ref": ref, "node": p.node, "workload_kind": p.workload_kind,
             "workload_name": p.workload_name} for (c, ns, ref), p in topo.items()]
    table = pa.Table.from_pylist(rows, schema=TOPOLOGY_SCHEMA)
    raw = flat_from_payloads(payloads)
    correlate_table(con, raw.set_column(0, "seq", pa.array(range(raw.num_rows), pa.int64())), CFG, topology=table)
    return con


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(fleets())
def test_live_and_replay_assign_the_same_incidents(fleet: tuple[list[dict[str, Any]], Any]) -> None:
    payloads, topo = fleet
    live = _live(payloads, topo)
    con = _replay(payloads, topo)
    replayed = {(c, fp, s): i for c, fp, s, i in con.execute(
        "SELECT cluster, fingerprint, starts_us, incident_id FROM episodes").fetchall()}
    assert live.episode_incident == replayed
    incidents = {r[0]: r[1:] for r in con.execute(
        f"SELECT id, key, end_us = {INF}, fleet_id, fleet_rank, s_kind, s_name FROM incidents").fetchall()}
    mine = {i.id: (i.key, i.status == "open", i.fleet_id, i.fleet_rank, i.subject.kind, i.subject.name)
            for i in live.incidents.values() if i.status != "merged"}
    assert mine == incidents
    # resolution: an incident resolves when all its members have, at the last end
    for i in live.incidents.values():
        if i.status == "resolved":
            assert i.resolved_at == max(a.endsAt for a in i.alerts if a.endsAt)


LABEL_KEYS = ["namespace", "pod", "node", "deployment", "statefulset", "daemonset", "job_name",
              "persistentvolumeclaim", "horizontalpodautoscaler", "job", "container"]
_names = st.one_of(st.just(""), st.from_regex(r"[a-z0-9][a-z0-9.-]{0,20}", fullmatch=True),
                   st.sampled_from(["api-6d4cf56db6-aaaaa", "api-7d9c5b6f4-x2kqp", "db-0", "web-bbbbb", "a-0-1",
                                    "x-bcdfgh-bcdfg-zz", "kubelet", "node-exporter"]))
_label_sets = st.fixed_dictionaries(
    {"alertname": st.sampled_from(["KubePodNotReady", "KubeNodeNotReady", "NodeFilesystemAlmostFull", "KubeletDown",
                                   "TargetDown", "X", "KubeletTooManyPods"])},
    optional={k: _names for k in LABEL_KEYS})


@settings(max_examples=300, deadline=None)
@given(st.lists(_label_sets, min_size=1, max_size=20), st.booleans())
def test_sql_key_derivation_equals_alert_target_and_grouping_key(label_sets: list[dict[str, str]], topo_on: bool) -> None:
    alerts = [{"status": "firing", "labels": {**labels, "cluster": "eu"}, "startsAt": _iso(T0 + timedelta(seconds=i)),
               "endsAt": "0001-01-01T00:00:00Z", "fingerprint": f"{i:016x}"} for i, labels in enumerate(label_sets)]
    topo = {}
    if topo_on:
        for labels in label_sets:
            ns = labels.get("namespace") or ""
            for ref in (labels.get("pod"), f"persistentvolumeclaim/{labels.get('persistentvolumeclaim')}"):
                if ref and ns:
                    topo[("eu", ns, ref)] = PodPlacement(labels.get("node") or None, "StatefulSet", "owner")
    con = _replay([{"version": "4", "alerts": alerts}], topo)
    got = {r[0]: r[1:] for r in con.execute(
        "SELECT fingerprint, key, s_kind, s_namespace, s_name, pod_node, symptom, revision, tkind FROM episodes"
    ).fetchall()}
    for a in alerts:
        alert = normalise(WebhookAlert.model_validate(a), "eu")
        from engine.alerts import alert_target
        from engine.correlation_rules import topology_ref

        ref = topology_ref(alert_target(alert.labels))
        e = episode_of(alert, topo.get(("eu", alert_target(alert.labels).namespace or "", ref)) if ref else None)
        assert got[alert.fingerprint] == (e.key, e.subject.kind, e.subject.namespace, e.subject.name, e.pod_node,
                                          e.symptom, e.revision, e.kind), a["labels"]
        assert e.end == INF and e.start == to_us(alert.startsAt)
