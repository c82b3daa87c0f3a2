"""Correlation v2: the one definition of how alert episodes become incidents, live and in replay.

An *episode* is one firing of an alert: (cluster, fingerprint, startsAt). Its *end* is its
``endsAt`` once it resolved, else +infinity (still firing). The rules, in event time and
independent of arrival order:

1. **Key.** Each episode gets a grouping key from its labels (:func:`engine.alerts.alert_target`,
   the kube-state-metrics trap included) and the topology when known (pod → owner, claim → the
   workload mounting it): ``workload:<ns>/<name>``, ``node:<name>``, ``<kind>:<ns>/<name>``.
2. **Node.** Episodes keyed ``node:N`` form node islands (rule 3). A workload session (the
   island its own key would make) whose pod episodes all run on N (topology, else the pod's own
   ``node`` label), the first of them starting within ``[island start - node_lead_s, island end]``,
   takes the key ``node:N`` with all its episodes (its object-level alerts too: replicas
   mismatch, rollout stuck); a workload with a pod elsewhere, or where unknown, keeps its own
   incident. A node-level symptom without a node name (``TargetDown`` of the kubelet,
   ``KubeletDown``) in that range joins the earliest such node island of its cluster.
3. **Islands.** Per (cluster, key), episodes sorted by (startsAt, fingerprint): an episode joins the
   current incident when its start is at most the running max of the earlier members' ends plus
   ``group_window_s``. A firing member holds its incident open, a flap within the window reopens it,
   and the incident resolves when all its members have (``resolved_at``: the last end).
4. **Fleet.** Workload incidents of several clusters with the same key, the same first alertname
   (earliest episode, ties by alertname) and the same revision (the ReplicaSet of their first
   Deployment pod: a bad rollout ships one pod-template-hash everywhere, while unrelated failures
   of one app usually run different revisions; an incident that names no ReplicaSet is never part
   of a fleet incident) whose openings chain within
   ``fleet_window_s`` of each other form one fleet incident ``fleet-<sha1>``; its members keep their own ids, and only the
   first ``fleet_investigate_max`` members (by opening, then cluster) are investigated.

Ids are deterministic: ``incident_id(cluster, key, first startsAt)``. :func:`correlate_cluster` is the
reference implementation (the live :class:`engine.correlate.Correlator` runs it per cluster);
``engine.replay`` computes the same in DuckDB SQL over columns, and the tests hold the two equal.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from engine.alerts import _RS_POD, Alert, AlertTarget, alert_target
from engine.config import CorrelationConfig
from engine.incident import incident_id

__all__ = [
    "CLAIM_PREFIX",
    "INF",
    "Episode",
    "PodPlacement",
    "Topology",
    "episode_of",
    "grouping_key",
    "is_node_symptom",
    "node_lead_us",
    "topology_ref",
    "FleetGroup",
    "FleetRow",
    "Island",
    "correlate_cluster",
    "fleet_groups",
    "fleet_id",
    "from_us",
    "to_us",
]

#: The end of a still-firing episode (microseconds; far beyond any real time, no overflow with windows).
INF = 1 << 62
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_us(dt: datetime) -> int:
    """Microseconds since the epoch, exactly (no float rounding)."""
    d = dt - _EPOCH
    return (d.days * 86_400 + d.seconds) * 1_000_000 + d.microseconds


def from_us(us: int) -> datetime:
    from datetime import timedelta

    return _EPOCH + timedelta(microseconds=us)


CLAIM_PREFIX = "persistentvolumeclaim/"  # same convention as engine.topology


@dataclass(frozen=True)
class PodPlacement:
    node: str | None
    workload_kind: str | None
    workload_name: str | None


#: (cluster, namespace, pod) → where the pod runs and what owns it, or None when unknown. The third
#: argument may also be ``persistentvolumeclaim/<claim>``: the placement of a pod mounting the claim.
Topology = Callable[[str, str, str], PodPlacement | None]


def topology_ref(target: AlertTarget) -> str | None:
    """What to ask the topology about for an alert target: its pod, or the claim's mounting pods."""
    if not target.namespace:
        return None
    if target.kind == "Pod":
        return target.name
    if target.kind == "PersistentVolumeClaim":
        return f"{CLAIM_PREFIX}{target.name}"
    return None


def grouping_key(target: AlertTarget, placement: PodPlacement | None = None) -> tuple[str, AlertTarget]:
    """The key an alert groups on, and the incident subject it implies."""
    if target.kind == "Node":
        return f"node:{target.name}", target
    if target.kind == "Pod":
        if placement and placement.workload_name:
            kind = placement.workload_kind or "Pod"
            subject = AlertTarget(kind=kind, namespace=target.namespace, name=placement.workload_name,
                                  workload=placement.workload_name)
            return f"workload:{target.namespace}/{placement.workload_name}", subject
        wl = target.workload or target.name
        return f"workload:{target.namespace}/{wl}", AlertTarget(
            kind="Workload", namespace=target.namespace, name=wl, workload=wl)
    if target.kind == "PersistentVolumeClaim" and placement and placement.workload_name:
        # a volume alert is about the workload whose pods mount the claim
        subject = AlertTarget(kind=placement.workload_kind or "Workload", namespace=target.namespace,
                              name=placement.workload_name, workload=placement.workload_name)
        return f"workload:{target.namespace}/{placement.workload_name}", subject
    if target.kind in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
        return f"workload:{target.namespace}/{target.name}", target
    if target.namespace:
        return f"{target.kind.lower()}:{target.namespace}/{target.name}", target
    return f"{target.kind.lower()}:{target.name}", target


# Scrape jobs that run once per node: their targets going down is a symptom of a node going down.
_NODE_JOBS = frozenset({"kubelet", "node-exporter", "kube-proxy", "cadvisor"})


def is_node_symptom(labels: dict[str, str]) -> bool:
    """An alert that says "a node-level agent is down" without naming the node."""
    name, job = labels.get("alertname", ""), labels.get("job", "")
    if name in ("KubeletDown", "KubeletInstanceUnreachable"):
        return True
    return name == "TargetDown" and job in _NODE_JOBS


@dataclass(slots=True)
class Episode:
    """One firing of one alert, with what the rules need already derived from its labels."""

    cluster: str
    fingerprint: str
    start: int  # µs
    end: int  # µs, INF while firing
    alertname: str
    kind: str  # the alert target's kind
    key: str  # grouping key before node absorption
    subject: AlertTarget
    pod_node: str | None  # the node a Pod target runs on, when known
    symptom: bool  # a node-level agent down, no node named
    revision: str | None = None  # a Deployment pod's ReplicaSet (<deployment>-<pod-template-hash>)
    alert: Alert | None = None


def episode_of(alert: Alert, placement: PodPlacement | None) -> Episode:
    """The episode an alert reports, with its key derived (rule 1)."""
    target = alert_target(alert.labels)
    key, subject = grouping_key(target, placement)
    start = to_us(alert.startsAt)
    if alert.status == "firing":
        end = INF
    else:
        end = max(start, to_us(alert.endsAt) if alert.endsAt is not None else start)
    pod_node = None
    if target.kind == "Pod":
        pod_node = placement.node if placement is not None else (alert.labels.get("node") or None)
    revision = target.name[:-6] if target.kind == "Pod" and _RS_POD.match(target.name) else None
    return Episode(alert.cluster, alert.fingerprint, start, end, alert.alertname, target.kind, key, subject,
                   pod_node or None, is_node_symptom(alert.labels), revision, alert)


@dataclass
class Island:
    """A per-cluster incident as the rules define it."""

    id: str
    cluster: str
    key: str
    subject: AlertTarget
    members: list[Episode]
    first_alertname: str
    revision: str | None  # of the first pod episode that names one
    opened: int
    end: int  # INF while any member fires

    @property
    def resolved(self) -> bool:
        return self.end < INF


def _sessionise(episodes: Iterable[Episode], keys: dict[int, str], window_us: int) -> list[tuple[str, list[Episode]]]:
    by_key: dict[str, list[Episode]] = defaultdict(list)
    for e in episodes:
        by_key[keys[id(e)]].append(e)
    out: list[tuple[str, list[Episode]]] = []
    for key, eps in by_key.items():
        eps.sort(key=lambda e: (e.start, e.fingerprint))
        run_max: int | None = None
        for e in eps:
            if run_max is None or e.start > run_max + window_us:
                out.append((key, []))
            out[-1][1].append(e)
            run_max = e.end if run_max is None else max(run_max, e.end)
    return out


def _absorbed_keys(episodes: list[Episode], cfg: CorrelationConfig) -> dict[int, str]:
    """Rule 2: the node key each absorbed episode takes (id(episode) → key)."""
    window, lead = _us(cfg.group_window_s), node_lead_us(cfg)
    base = {id(e): e.key for e in episodes}
    node_islands = [(min(e.start for e in m), max(e.end for e in m), k)
                    for k, m in _sessionise((e for e in episodes if e.key.startswith("node:")), base, window)]
    node_islands.sort(key=lambda i: (i[0], i[2]))
    by_node: dict[str, list[tuple[int, int, str]]] = defaultdict(list)
    for isl in node_islands:
        by_node[isl[2][len("node:"):]].append(isl)

    def first(cands: Iterable[tuple[int, int, str]], t: int) -> tuple[int, int, str] | None:
        return next((i for i in cands if i[0] - lead <= t <= i[1]), None)

    out: dict[int, str] = {}
    workloads = _sessionise((e for e in episodes if e.key.startswith("workload:")), base, window)
    for _, members in workloads:
        pods = [e for e in members if e.kind == "Pod"]
        nodes = {p.pod_node for p in pods}
        if not pods or len(nodes) != 1 or None in nodes:
            continue  # no pod, a pod elsewhere or where unknown: the node does not explain this workload
        hit = first(by_node.get(pods[0].pod_node or "", ()), min(p.start for p in pods))
        for e in members if hit is not None else ():
            out[id(e)] = hit[2]  # type: ignore[index]
    for e in episodes:
        if e.symptom and not e.key.startswith(("node:", "workload:")):
            hit = first(node_islands, e.start)
            if hit is not None:
                out[id(e)] = hit[2]
    return out


def correlate_cluster(episodes: list[Episode], cfg: CorrelationConfig) -> list[Island]:
    """The incidents of one cluster's episodes (rules 1-3)."""
    keys = {id(e): e.key for e in episodes}
    keys.update(_absorbed_keys(episodes, cfg))
    out = []
    for key, members in _sessionise(episodes, keys, _us(cfg.group_window_s)):
        head = min(members, key=lambda e: (e.start, e.alertname, e.fingerprint))
        subject = AlertTarget(kind="Node", name=key[len("node:"):]) if key.startswith("node:") else head.subject
        cluster = head.cluster
        revs = [e for e in members if e.revision is not None]
        rev = min(revs, key=lambda e: (e.start, e.alertname, e.fingerprint)).revision if revs else None
        out.append(Island(incident_id(cluster, key, from_us(head.start)), cluster, key, subject, members,
                          head.alertname, rev, head.start, max(e.end for e in members)))
    return out


@dataclass
class FleetGroup:
    id: str
    key: str
    alertname: str
    opened: int
    members: list[str] = field(default_factory=list)  # incident ids, by (opened, cluster, id)


def fleet_id(key: str, alertname: str, revision: str, opened_us: int) -> str:
    raw = f"fleet|{key}|{alertname}|{revision}|{from_us(opened_us).isoformat()}"
    return "fleet-" + hashlib.sha1(raw.encode()).hexdigest()[:16]


FleetRow = tuple[str, str, str, str, str, int]  # id, cluster, key, first alertname, revision or "", opened µs


def fleet_groups(incidents: Iterable[FleetRow], cfg: CorrelationConfig) -> list[FleetGroup]:
    """Rule 4 over :data:`FleetRow` of per-cluster incidents."""
    window = _us(cfg.fleet_window_s)
    parts: dict[tuple[str, str, str], list[tuple[int, str, str]]] = defaultdict(list)
    for inc_id, cluster, key, alertname, revision, opened in incidents:
        if key.startswith("workload:") and revision:  # a rollout is one revision: no revision, no fleet
            parts[(key, alertname, revision)].append((opened, cluster, inc_id))
    out = []
    for (key, alertname, revision), rows in parts.items():
        rows.sort()
        chain: list[tuple[int, str, str]] = []
        for row in rows:
            if chain and row[0] - chain[-1][0] > window:
                out += _fleet(key, alertname, revision, chain)
                chain = []
            chain.append(row)
        out += _fleet(key, alertname, revision, chain)
    return out


def _fleet(key: str, alertname: str, revision: str, chain: list[tuple[int, str, str]]) -> list[FleetGroup]:
    if len({c for _, c, _ in chain}) < 2:
        return []
    return [FleetGroup(fleet_id(key, alertname, revision, chain[0][0]), key, alertname, chain[0][0],
                       [i for *_, i in chain])]


def node_lead_us(cfg: CorrelationConfig) -> int:
    # a lead past the window could absorb an episode into a node island it can never join (rule 3)
    return _us(min(cfg.node_lead_s, cfg.group_window_s))


def _us(seconds: float) -> int:
    return round(seconds * 1_000_000)
