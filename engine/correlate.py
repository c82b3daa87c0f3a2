"""Correlation v1: deduplicate alerts and group them into incidents.

- Identity is (cluster, fingerprint): a repeat updates the stored alert, ``resolved`` closes it,
  and an incident resolves when all its alerts have.
- Alerts of one cluster that share a workload (a pod resolves to its owning Deployment,
  StatefulSet, DaemonSet or Job) or a node, and start within the grouping window, form one incident.
- A node incident absorbs the open incidents whose pods all run on that node, and pod alerts that
  arrive later join it; this needs the pod → node topology, which live correlation asks the
  collectors for (``Topology``) and ``investigate --dump`` reads from the dump.

The correlator is a plain class driven by alert timestamps (never the wall clock), so live ingest
and replay give the same incidents with the same ids. ``ingest`` returns the incidents that changed
and need a (re-)investigation: one per incident, not per alert.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta

from engine.alerts import Alert, AlertTarget
from engine.config import CorrelationConfig
from engine.incident import Incident, incident_id

CLAIM_PREFIX = "persistentvolumeclaim/"  # same convention as engine.topology

__all__ = ["Correlator", "PodPlacement", "Topology", "grouping_key", "is_node_symptom", "topology_ref"]


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


class Correlator:
    def __init__(self, config: CorrelationConfig | None = None, topology: Topology | None = None) -> None:
        self.cfg = config or CorrelationConfig()
        self.topology = topology
        self.alerts: dict[tuple[str, str], Alert] = {}
        self.alert_incident: dict[tuple[str, str], str] = {}
        self.incidents: dict[str, Incident] = {}
        self._open_by_key: dict[tuple[str, str], str] = {}
        self._last_by_key: dict[tuple[str, str], str] = {}
        self._merged_now: dict[str, None] = {}  # incidents absorbed during the current ingest call

    # -- public -------------------------------------------------------------------------------
    def ingest(self, alerts: Iterable[Alert]) -> list[Incident]:
        """Apply alerts in order; return the incidents that changed (each once)."""
        changed: dict[str, None] = {}
        self._merged_now = {}
        for alert in alerts:
            inc = self._apply(alert)
            if inc is not None:
                changed[inc.id] = None
        # incidents absorbed on the way come last, so callers record them as merged
        changed.update(self._merged_now)
        return [self.incidents[i] for i in changed]

    def open_incidents(self) -> list[Incident]:
        return [i for i in self.incidents.values() if i.status == "open"]

    # -- internals ----------------------------------------------------------------------------
    def _apply(self, alert: Alert) -> Incident | None:
        ident = (alert.cluster, alert.fingerprint)
        known = self.alerts.get(ident)
        if known is not None:
            return self._update(known, alert)
        if alert.status == "resolved":
            # a resolve for an alert we never saw firing: keep it, it opens nothing
            self.alerts[ident] = alert
            return None
        self.alerts[ident] = alert
        placement = self._placement(alert)
        key, subject = grouping_key(alert.target(), placement)
        node_inc = self._join_node_incident(alert, placement) or self._join_node_symptom(alert)
        if node_inc is not None:
            # the workload's own object-level alerts (replicas mismatch, rollout stuck) follow it there
            self._fold_workload(node_inc, alert.cluster, key)
        inc = node_inc or self._open(alert.cluster, key, alert)
        if inc is None:
            inc = self._create(alert.cluster, key, subject, alert)
            if key.startswith("node:"):
                self._absorb_pods_of_node(inc, subject.name)
        else:
            self._add(inc, alert)
        return inc

    def _update(self, known: Alert, alert: Alert) -> Incident | None:
        ident = (alert.cluster, alert.fingerprint)
        merged = known.model_copy(update={
            "status": alert.status, "endsAt": alert.endsAt, "annotations": alert.annotations or known.annotations,
            "startsAt": min(known.startsAt, alert.startsAt),
        })
        self.alerts[ident] = merged
        inc_id = self.alert_incident.get(ident)
        if inc_id is None:
            return self._apply_new_after_resolve(merged) if alert.status == "firing" else None
        inc = self._follow(self.incidents[inc_id])
        inc.alerts = [merged if (a.cluster, a.fingerprint) == ident else a for a in inc.alerts]
        changed_status = known.status != alert.status
        if alert.status == "firing" and inc.status == "resolved":
            inc.status, inc.resolved_at = "open", None
            self._open_by_key[(inc.cluster, inc.key)] = inc.id
            inc.revision += 1
            return inc
        self._touch(inc, alert)
        if inc.status == "open" and all(a.status == "resolved" for a in inc.alerts):
            inc.status = "resolved"
            inc.resolved_at = max((a.endsAt or a.startsAt) for a in inc.alerts)
            for k in [k for k, v in self._open_by_key.items() if v == inc.id]:
                del self._open_by_key[k]
        return inc if changed_status else None

    def _apply_new_after_resolve(self, alert: Alert) -> Incident | None:
        self.alerts.pop((alert.cluster, alert.fingerprint), None)
        return self._apply(alert)

    def _placement(self, alert: Alert) -> PodPlacement | None:
        t = alert.target()
        ref = topology_ref(t)
        if self.topology is None or ref is None:
            return None
        try:
            return self.topology(alert.cluster, t.namespace or "", ref)
        except Exception:  # topology is an enrichment; grouping by name still works without it
            return None

    def _open(self, cluster: str, key: str, alert: Alert) -> Incident | None:
        """The incident this key's alert joins: open, or resolved recently enough to reopen (flapping)."""
        inc_id = self._open_by_key.get((cluster, key)) or self._last_by_key.get((cluster, key))
        if inc_id is None:
            return None
        inc = self._follow(self.incidents[inc_id])
        window = timedelta(seconds=self.cfg.group_window_s)
        if alert.startsAt - inc.updated_at > window:
            return None
        if inc.status == "resolved":
            self._open_by_key[(cluster, key)] = inc.id
        return inc

    def _join_node_incident(self, alert: Alert, placement: PodPlacement | None) -> Incident | None:
        if placement is None or not placement.node:
            return None
        # only a node that is down now explains a pod's alert: a pod never reopens a recovered node
        inc_id = self._open_by_key.get((alert.cluster, f"node:{placement.node}"))
        inc = self.incidents.get(inc_id) if inc_id else None
        if inc is None or inc.status != "open" or not any(
                a.status == "firing" and a.target().kind == "Node" for a in inc.alerts):
            return None
        return self._open(alert.cluster, f"node:{placement.node}", alert)

    def _create(self, cluster: str, key: str, subject: AlertTarget, alert: Alert) -> Incident:
        inc = Incident(id=incident_id(cluster, key, alert.startsAt), cluster=cluster, key=key, subject=subject,
                       opened_at=alert.startsAt, updated_at=alert.startsAt)
        # the same key can reopen later with a later first alert: ids stay unique per first startsAt
        self.incidents[inc.id] = inc
        self._open_by_key[(cluster, key)] = inc.id
        self._last_by_key[(cluster, key)] = inc.id
        self._add(inc, alert)
        return inc

    def _add(self, inc: Incident, alert: Alert) -> None:
        inc.alerts.append(alert)
        inc.opened_at = min(inc.opened_at, alert.startsAt)
        self.alert_incident[(alert.cluster, alert.fingerprint)] = inc.id
        self._touch(inc, alert)
        if alert.status == "firing" and inc.status == "resolved":
            inc.status, inc.resolved_at = "open", None
        inc.revision += 1

    @staticmethod
    def _touch(inc: Incident, alert: Alert) -> None:
        newest = max(alert.startsAt, alert.endsAt or alert.startsAt)
        if newest > inc.updated_at:
            inc.updated_at = newest

    def _follow(self, inc: Incident) -> Incident:
        while inc.status == "merged" and inc.merged_into:
            inc = self.incidents[inc.merged_into]
        return inc

    def _absorb_pods_of_node(self, node_inc: Incident, node: str) -> None:
        """Fold into a new node incident the open incidents that the node explains."""
        for other in list(self.open_incidents()):
            if other.id == node_inc.id or other.cluster != node_inc.cluster:
                continue
            if self._explained_by_node(other, node):
                self._merge(other, node_inc)

    def _merge(self, other: Incident, into: Incident) -> None:
        for a in other.alerts:
            self._add(into, a)
        other.status, other.merged_into = "merged", into.id
        self._merged_now[other.id] = None
        # later alerts about the absorbed workload keep joining the node incident
        self._open_by_key[(other.cluster, other.key)] = into.id
        self._last_by_key[(other.cluster, other.key)] = into.id

    def _fold_workload(self, node_inc: Incident, cluster: str, key: str) -> None:
        """A pod joined a node incident: its workload's open incident of object-level alerts joins too."""
        other_id = self._open_by_key.get((cluster, key))
        other = self.incidents.get(other_id) if other_id else None
        if other is None or other.id == node_inc.id or other.status != "open":
            self._open_by_key.setdefault((cluster, key), node_inc.id)
            self._last_by_key.setdefault((cluster, key), node_inc.id)
            return
        node = node_inc.subject.name
        if all(a.target().kind != "Pod" for a in other.alerts) or self._explained_by_node(other, node):
            self._merge(other, node_inc)

    def _explained_by_node(self, inc: Incident, node: str) -> bool:
        """All pod alerts run on the node (object alerts of their workload ride along), or only node symptoms."""
        if all(is_node_symptom(a) for a in inc.alerts):
            return True
        pod_alerts = [a for a in inc.alerts if a.target().kind == "Pod"]
        if not pod_alerts or self.topology is None:
            return False
        placements = [self._placement(a) for a in pod_alerts]
        return all(p is not None and p.node == node for p in placements)

    def _join_node_symptom(self, alert: Alert) -> Incident | None:
        if not is_node_symptom(alert):
            return None
        for (cluster, key), inc_id in self._open_by_key.items():
            if cluster == alert.cluster and key.startswith("node:") and self.incidents[inc_id].status == "open":
                return self._open(cluster, key, alert)
        return None


# Scrape jobs that run once per node: their targets going down is a symptom of a node going down.
_NODE_JOBS = frozenset({"kubelet", "node-exporter", "kube-proxy", "cadvisor"})


def is_node_symptom(alert: Alert) -> bool:
    """An alert that says "a node-level agent is down" without naming the node."""
    name, job = alert.alertname, alert.labels.get("job", "")
    if name in ("KubeletDown", "KubeletInstanceUnreachable"):
        return True
    return name == "TargetDown" and job in _NODE_JOBS
