"""What every detector reads the same way: focus, health and confidence scaling over the evidence.

(Evidence items and ``Hits`` live in ``findings``, per-container signals in ``signals``; both are
re-exported here so detectors import one module.)

``view(ctx)`` wraps a :class:`DetectContext` once per incident (cached on the evidence object) and
answers the questions all detectors ask:

- which pods are *in focus*: the collector's ``in_focus`` flag, else the pods the alerts and the
  incident's subject name (the pod, its workload's pods, the node's pods, the namespace's pods);
- which events are about them, including events of pods that are gone (expired or deleted pods
  are related to the subject's workload through the owner-name convention, never through what a
  name means);
- whether a pod is failing *now* or is healthy with a noisy past (restarts long ago, exit 255
  ``Unknown`` after a node reboot), which scales confidence (:func:`View.history_factor`).

Confidence scheme shared by the detectors: a base per signal (a kubelet status reason such as
``OOMKilled`` ≈ 0.95, a kubelet/scheduler event ≈ 0.85-0.9, a log pattern alone ≈ 0.6-0.8),
``corroborate`` adds 0.03 per independent corroborating signal (at most three), and
``history_factor`` multiplies by 1.0 when the pod is failing now, 0.8 when it is healthy now but
failed within ``RECENT_S`` of the incident clock, 0.4 when the failure is older. Results are
clamped to [0, 0.99].
"""

from __future__ import annotations

import json
import weakref
from collections import defaultdict
from datetime import datetime
from typing import Any

from engine.alerts import AlertTarget, workload_from_pod_name
from engine.detectors import patterns as P
from engine.detectors.base import DetectContext
from engine.detectors.findings import (
    DetectorFinding,
    Hits,
    clamp,
    container_source,
    corroborate,
    event_item,
    log_item,
    ref,
    registry_of,
    resources_item,
    status_item,
)
from engine.detectors.signals import (
    container_problem,
    crash_info,
    event_container,
    group,
    is_crashing,
    scan_logs,
)
from engine.report import Subject

__all__ = [
    "RECENT_S",
    "add_log_hit",
    "DetectorFinding",
    "Hits",
    "View",
    "clamp",
    "container_problem",
    "container_source",
    "corroborate",
    "crash_info",
    "event_container",
    "event_item",
    "group",
    "is_crashing",
    "log_item",
    "ref",
    "registry_of",
    "resources_item",
    "scan_logs",
    "status_item",
    "view",
]

RECENT_S = 3600.0
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "ReplicaSet", "Workload")
# owners a pod's subject can be (a static pod's owner is its Node: that pod is its own subject)
OWNER_KINDS = (
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "Job",
    "CronJob",
    "ReplicaSet",
    "ReplicationController",
)
Key = tuple[str, str, str]  # (cluster, namespace, name)


def pkey(row: dict[str, Any], name_col: str = "name") -> Key:
    return (row.get("cluster") or "", row.get("namespace") or "", row.get(name_col) or "")


class View:
    """Indexed, focus-aware access to one incident's evidence (see the module docstring)."""

    def __init__(self, ctx: DetectContext) -> None:
        self.ctx = ctx
        ev = ctx.evidence
        self.clock = ctx.clock
        self.pods = ev.rows("pods")
        self.containers = ev.rows("containers")
        self.events = [{**e, "msg": P.strip_combined(e.get("message"))} for e in ev.rows("events")]
        self.logs = ev.rows("logs")
        self.nodes = {pkey({**n, "namespace": ""}): n for n in ev.rows("nodes")}
        self.node_conditions = ev.rows("node_conditions")
        self.changes = ev.rows("changes")
        self.workloads = ev.rows("workloads")
        self.pod_by_key = {pkey(p): p for p in self.pods}
        self._containers_by_pod: dict[Key, list[dict[str, Any]]] = defaultdict(list)
        for c in self.containers:
            self._containers_by_pod[pkey(c, "pod")].append(c)
        self._logs: dict[tuple[Key, str], list[dict[str, Any]]] = defaultdict(list)
        for row in self.logs:
            if not P.DUMP_NOISE.search(row.get("line") or ""):
                self._logs[(pkey(row, "pod"), row.get("container") or "")].append(row)
        for rows in self._logs.values():
            rows.sort(key=lambda r: (not r.get("previous"), r.get("seq") or 0))
        self.targets = self._targets()
        self.focus_pods = self._focus_pods()
        self.focus_keys = {pkey(p) for p in self.focus_pods}
        self.focus_events = self._focus_events()

    # -- focus ---------------------------------------------------------------------------------
    def _targets(self) -> list[tuple[str | None, AlertTarget]]:
        out: list[tuple[str | None, AlertTarget]] = [(None, self.ctx.subject)]
        for a in self.ctx.alerts:
            out.append((a.cluster, a.target()))
        return out

    def _focus_pods(self) -> list[dict[str, Any]]:
        flagged = [p for p in self.pods if p.get("in_focus")]
        if flagged:
            return flagged
        return [p for p in self.pods if any(_pod_matches(p, c, t) for c, t in self.targets)]

    def focus_workloads(self) -> set[tuple[str, str]]:
        """(namespace, name) of the workloads in focus: the subject's and the focus pods' owners."""
        out = {
            (p.get("namespace") or "", p.get("workload_name") or "")
            for p in self.focus_pods
            if p.get("workload_name")
        }
        for _, t in self.targets:
            if t.kind in WORKLOAD_KINDS and t.name:
                out.add((t.namespace or "", t.name))
            elif t.kind == "Pod" and t.workload:
                out.add((t.namespace or "", t.workload))
        return out

    def _focus_events(self) -> list[dict[str, Any]]:
        workloads = self.focus_workloads()
        revisions = {
            (r.get("namespace") or "", r.get("revision_name") or "")
            for r in self.changes
            if (r.get("namespace") or "", r.get("workload_name") or "") in workloads
        }
        nodes = {(p.get("cluster") or "", p.get("node") or "") for p in self.focus_pods if p.get("node")}
        node_names = {t.name for _, t in self.targets if t.kind == "Node"}
        spaces = {t.namespace for _, t in self.targets if t.kind == "Namespace"}
        whole = any(t.kind == "Cluster" for _, t in self.targets) or (
            not self.focus_pods and not workloads and not node_names and not spaces
        )
        pvcs = self._focus_claims()
        out = []
        for e in self.events:
            ns, name, kind = e.get("namespace") or "", e.get("object_name") or "", e.get("object_kind")
            if whole or ns in spaces:
                out.append(e)
            elif kind == "Pod" and self._pod_event_in_focus(e, workloads):
                out.append(e)
            elif kind == "Node" and ((e.get("cluster") or "", name) in nodes or name in node_names):
                out.append(e)
            elif kind != "Pod" and ((ns, name) in workloads | revisions or self._rs_of(e, workloads)):
                out.append(e)
            elif kind == "PersistentVolumeClaim" and (ns, name) in pvcs:
                out.append(e)
        return out

    @staticmethod
    def _rs_of(e: dict[str, Any], workloads: set[tuple[str, str]]) -> bool:
        """A ReplicaSet event of a focus Deployment (its name is <deployment>-<hash>)."""
        m = P.RS_NAME.match(e.get("object_name") or "") if e.get("object_kind") == "ReplicaSet" else None
        return bool(m) and (e.get("namespace") or "", m.group("wl")) in workloads

    def _pod_event_in_focus(self, e: dict[str, Any], workloads: set[tuple[str, str]]) -> bool:
        key = pkey(e, "object_name")
        if key in self.focus_keys:
            return True
        if key in self.pod_by_key:
            return False
        return (key[1], workload_from_pod_name(key[2])) in workloads

    def involved_nodes(self) -> dict[Key, dict[str, Any]]:
        """The node rows that matter: those of the focus pods and the alerts' nodes (all when none do)."""
        names = {(p.get("cluster") or "", p.get("node")) for p in self.focus_pods if p.get("node")}
        targets = {t.name for _, t in self.targets if t.kind == "Node"}
        picked = {k: n for k, n in self.nodes.items() if (k[0], k[2]) in names or k[2] in targets}
        return picked if (names or targets) else dict(self.nodes)

    def _focus_claims(self) -> set[tuple[str, str]]:
        out = {(t.namespace or "", t.name) for _, t in self.targets if t.kind == "PersistentVolumeClaim"}
        for p in self.focus_pods:
            for v in self.volumes(p):
                if v.get("kind") == "persistentVolumeClaim" and v.get("ref"):
                    out.add((p.get("namespace") or "", v["ref"]))
        return out

    # -- rows ----------------------------------------------------------------------------------
    @staticmethod
    def volumes(pod: dict[str, Any]) -> list[dict[str, Any]]:
        try:
            return json.loads(pod.get("volumes") or "[]") or []
        except ValueError:
            return []

    def containers_of(self, pod: dict[str, Any], *, init: bool | None = False) -> list[dict[str, Any]]:
        rows = self._containers_by_pod.get(pkey(pod), [])
        return [c for c in rows if init is None or bool(c.get("init")) == init]

    def focus_containers(self) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        """(pod, container) for every container of the focus pods, init containers included."""
        return [(p, c) for p in self.focus_pods for c in self.containers_of(p, init=None)]

    def pod_of_event(self, e: dict[str, Any]) -> dict[str, Any] | None:
        return self.pod_by_key.get(pkey(e, "object_name")) if e.get("object_kind") == "Pod" else None

    def log_rows(self, pod: dict[str, Any], container: str) -> list[dict[str, Any]]:
        """The container's log lines, previous instance first, dump markers removed."""
        return self._logs.get((pkey(pod), container), [])

    # -- health --------------------------------------------------------------------------------
    def pod_failing(self, pod: dict[str, Any]) -> bool:
        if pod.get("phase") == "Succeeded":
            return False
        if pod.get("phase") in ("Pending", "Failed", "Unknown") or pod.get("ready") is False:
            return True
        return any(container_problem(c) for c in self.containers_of(pod))

    def history_factor(self, pod: dict[str, Any] | None, when: datetime | None = None) -> float:
        """1.0 when the pod fails now; for a healthy pod 0.8 if ``when`` is recent, else 0.4."""
        if pod is None or self.pod_failing(pod):
            return 1.0
        return 0.8 if self.is_recent(when) else 0.4

    def event_factor(self, e: dict[str, Any]) -> float:
        """How much a (pod) event still says about now: its pod's health, else the event's age."""
        pod = self.pod_of_event(e)
        when = e.get("last_seen") or e.get("first_seen")
        if pod is not None:
            return self.history_factor(pod, when)
        return 1.0 if when is None or self.is_recent(when) else 0.7

    def is_recent(self, when: datetime | None, window_s: float = RECENT_S) -> bool:
        return when is not None and (self.clock - when).total_seconds() <= window_s

    # -- subjects ------------------------------------------------------------------------------
    def subject_for_pod(self, pod: dict[str, Any]) -> Subject:
        kind, name = pod.get("workload_kind"), pod.get("workload_name")
        if kind in OWNER_KINDS and name:
            return Subject(
                kind=kind, namespace=pod.get("namespace"), name=name, cluster=pod.get("cluster") or ""
            )
        return Subject(
            kind="Pod",
            namespace=pod.get("namespace"),
            name=pod.get("name") or "",
            cluster=pod.get("cluster") or "",
        )

    def subject_for_event(self, e: dict[str, Any]) -> Subject:
        pod = self.pod_of_event(e)
        if pod is not None:
            return self.subject_for_pod(pod)
        cluster, ns, name = e.get("cluster") or "", e.get("namespace"), e.get("object_name") or ""
        kind = e.get("object_kind") or "Pod"
        if kind == "Node":
            return Subject(kind="Node", name=name, cluster=cluster)
        if kind == "Pod":
            return self._vanished_owner(cluster, ns, name)
        subj = self.ctx.subject
        if kind == "ReplicaSet":
            for r in self.changes:
                if (r.get("namespace"), r.get("revision_name")) == (ns, name):
                    return Subject(
                        kind=r.get("workload_kind") or "Deployment",
                        namespace=ns,
                        name=r.get("workload_name") or name,
                        cluster=cluster,
                    )
            m = P.RS_NAME.match(name)
            if m and subj.name == m.group("wl"):
                return Subject(kind="Deployment", namespace=ns, name=m.group("wl"), cluster=cluster)
        return Subject(kind=kind, namespace=ns, name=name, cluster=cluster)

    def _vanished_owner(self, cluster: str, ns: str | None, name: str) -> Subject:
        """The owner of a pod that is gone: its revision in ``changes``, else its generated name's shape."""
        for r in self.changes:
            if (
                r.get("namespace") == ns
                and r.get("revision_name")
                and name.startswith(f"{r['revision_name']}-")
            ):
                return Subject(
                    kind=r.get("workload_kind") or "Deployment",
                    namespace=ns,
                    name=r.get("workload_name") or "",
                    cluster=cluster,
                )
        subj = self.ctx.subject
        if (
            subj.kind in WORKLOAD_KINDS
            and subj.kind != "Workload"
            and workload_from_pod_name(name) == subj.name
        ):
            return Subject(kind=subj.kind, namespace=ns, name=subj.name, cluster=cluster)
        for pattern, kind in ((P.RS_POD_NAME, "Deployment"), (P.STS_POD_NAME, "StatefulSet")):
            m = pattern.match(name)
            if m:
                return Subject(kind=kind, namespace=ns, name=m.group("wl"), cluster=cluster)
        return Subject(kind="Pod", namespace=ns, name=name, cluster=cluster)

    def node_subject(self, cluster: str, node: str) -> Subject:
        return Subject(kind="Node", name=node, cluster=cluster)


def _pod_matches(pod: dict[str, Any], cluster: str | None, t: AlertTarget) -> bool:
    if cluster and (pod.get("cluster") or "") != cluster:
        return False
    ns_ok = t.namespace is None or pod.get("namespace") == t.namespace
    if t.kind == "Pod":
        return ns_ok and (
            pod.get("name") == t.name or (bool(t.workload) and pod.get("workload_name") == t.workload)
        )
    if t.kind in WORKLOAD_KINDS:
        return ns_ok and t.name in (pod.get("workload_name"), pod.get("owner_name"))
    if t.kind == "Node":
        return pod.get("node") == t.name
    if t.kind == "Namespace":
        return pod.get("namespace") == t.namespace
    if t.kind == "PersistentVolumeClaim":
        return ns_ok and any(v.get("ref") == t.name for v in View.volumes(pod))
    return t.kind == "Cluster"


_CACHE: weakref.WeakKeyDictionary[Any, tuple[DetectContext, View]] = weakref.WeakKeyDictionary()


def view(ctx: DetectContext) -> View:
    """The View of this context, built once and shared by the detectors of one run."""
    hit = _CACHE.get(ctx.evidence)
    if hit is not None and hit[0] is ctx:
        return hit[1]
    v = View(ctx)
    _CACHE[ctx.evidence] = (ctx, v)
    return v


def add_log_hit(v: View, hits: Hits, pod: dict[str, Any], c: dict[str, Any], found: list[Any], base: float, *,
                lines: int = 3, **facts: Any) -> None:
    """A log pattern matched in a focus container: one hit from its first lines and the container's status,
    weighed by how recent the failure is."""
    crash = crash_info(c)
    hits.add(
        v.subject_for_pod(pod),
        base * v.history_factor(pod, crash[2] if crash else None),
        [log_item(r) for r, _ in found[:lines]] + [status_item(c)],
        "log",
        pods=[pod.get("name")],
        container=c.get("container"),
        **facts,
    )
