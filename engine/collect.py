"""Collect an incident's evidence from one cluster: what to fetch, bounded, partial on failure.

``collect_incident`` resolves the alerts' targets to pods, follows each pod's owner chain
(pod → ReplicaSet → Deployment, or StatefulSet/DaemonSet/Job) with the rollout history, and
gathers events, container logs (current and previous) and node conditions. Calls run concurrently
on a bounded thread pool; every failed call becomes a row of the ``errors`` table and the
collection goes on, so a slow or forbidden resource yields partial evidence, never a failure.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from time import monotonic
from typing import Any

from engine import rows as R
from engine.alerts import AlertTarget
from engine.config import CollectConfig
from engine.evidence import EvidenceSet
from engine.sources import ClusterSource, SourceError

__all__ = ["CollectRequest", "collect_incident"]

#: lookups whose 404 only means "not there", not "could not collect"
_OPTIONAL = frozenset({"replicasets", "deployments", "statefulsets", "daemonsets", "jobs"})

_WORKLOAD_KINDS = {"Deployment": "deployments", "StatefulSet": "statefulsets", "DaemonSet": "daemonsets", "Job": "jobs"}


@dataclass
class CollectRequest:
    cluster: str
    incident_id: str
    targets: list[AlertTarget]
    clock: datetime  # the incident's clock: lookbacks count back from here


@dataclass
class _State:
    pods: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    focus: set[tuple[str, str]] = field(default_factory=set)
    workloads: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    pod_workload: dict[tuple[str, str], tuple[str | None, str | None]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Runner:
    """Runs source calls on a bounded pool; failures become ``errors`` rows, never exceptions."""

    def __init__(self, ev: EvidenceSet, cfg: CollectConfig) -> None:
        self.ev, self.cfg = ev, cfg
        self.pool = ThreadPoolExecutor(max_workers=cfg.max_concurrency, thread_name_prefix=f"collect-{ev.cluster}")
        self.deadline = monotonic() + cfg.collect_timeout_s
        self.lock = threading.Lock()
        self.unreachable: str | None = None
        self.skipped = 0
        self._seen: set[tuple[Any, ...]] = set()

    def call(self, resource: str, ns: str | None, name: str | None, fn: Callable[[], Any]) -> Any:
        if self.unreachable is not None:
            # the cluster already failed to answer at all: don't queue more timeouts behind it
            self.skipped += 1
            return None
        try:
            return fn()
        except SourceError as exc:
            if exc.status is None and exc.reason == "Unreachable":
                self.unreachable = str(exc)
            if exc.not_found and resource in _OPTIONAL:
                # owners absent from a dump (which holds no StatefulSets or Jobs) or deleted live:
                # the pod's ownerReferences still name them, so this is not missing evidence
                return None
            self.error(resource, ns, name, exc.status, exc.reason, str(exc), exc.retryable)
        except Exception as exc:  # a bug in a source must not fail the incident
            self.error(resource, ns, name, None, type(exc).__name__, str(exc), False)
        return None

    def error(self, resource: str, ns: str | None, name: str | None, status: int | None, reason: str,
              message: str, retryable: bool) -> None:
        key = (resource, ns, name, status, reason)
        with self.lock:
            if key in self._seen:  # the same refusal twice tells nothing new
                return
            self._seen.add(key)
            self.ev.add("errors", {"resource": resource, "namespace": ns, "name": name, "status": status,
                                   "reason": reason, "message": message[:500], "retryable": retryable})

    def run_all(self, jobs: list[tuple[str, str | None, str | None, Callable[[], Any]]]) -> list[Any]:
        """Run jobs concurrently; those still running at the collection deadline are recorded as timeouts."""
        futures: dict[Future[Any], int] = {
            self.pool.submit(self.call, r, ns, n, fn): i for i, (r, ns, n, fn) in enumerate(jobs)
        }
        results: list[Any] = [None] * len(jobs)
        pending = set(futures)
        while pending:
            done, pending = wait(pending, timeout=max(0.0, self.deadline - monotonic()), return_when=FIRST_COMPLETED)
            for f in done:
                results[futures[f]] = f.result()
            if not done:
                for f in pending:
                    r, ns, n, _ = jobs[futures[f]]
                    self.error(r, ns, n, None, "Timeout", "collection deadline reached", True)
                break
        return results

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
        if self.skipped:
            self.error("cluster", None, self.ev.cluster, None, "Unreachable",
                       f"{self.skipped} further call(s) skipped after the cluster did not answer: {self.unreachable}",
                       True)


def _selector(obj: dict[str, Any]) -> str | None:
    sel = (obj.get("spec") or {}).get("selector") or {}
    labels = sel.get("matchLabels") or {}
    exprs = []
    for e in sel.get("matchExpressions") or []:
        op, key, vals = e.get("operator"), e.get("key"), ",".join(e.get("values") or [])
        exprs.append({"In": f"{key} in ({vals})", "NotIn": f"{key} notin ({vals})", "Exists": key,
                      "DoesNotExist": f"!{key}"}.get(op, ""))
    parts = [f"{k}={v}" for k, v in labels.items()] + [x for x in exprs if x]
    return ",".join(parts) or None


def _owned_by(obj: dict[str, Any], owner: dict[str, Any]) -> bool:
    uid = (owner.get("metadata") or {}).get("uid")
    name = (owner.get("metadata") or {}).get("name")
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if (uid and ref.get("uid") == uid) or (ref.get("kind") == owner.get("kind") and ref.get("name") == name):
            return True
    return False


def _key(obj: dict[str, Any]) -> tuple[str, str]:
    m = obj.get("metadata") or {}
    return (m.get("namespace") or "", m.get("name") or "")


def _unhealthy(pod: dict[str, Any]) -> bool:
    st = pod.get("status") or {}
    if st.get("phase") not in ("Running", "Succeeded"):
        return True
    for c in st.get("containerStatuses") or []:
        if not c.get("ready") or (c.get("restartCount") or 0) > 0:
            return True
    return False


class _Collector:
    def __init__(self, source: ClusterSource, req: CollectRequest, cfg: CollectConfig) -> None:
        self.src, self.req, self.cfg = source, req, cfg
        self.ev = EvidenceSet(cluster=req.cluster, incident_id=req.incident_id)
        self.run = _Runner(self.ev, cfg)
        self.st = _State()

    # -- phase 1: targets to pods and workloads ------------------------------------------------
    def resolve_targets(self) -> None:
        jobs = []
        for t in dict.fromkeys(self.req.targets):  # alerts often name the same object twice
            if t.kind == "Pod" and t.namespace:
                jobs.append(("pods", t.namespace, t.name, lambda t=t: self._add_pod(
                    self.src.get("pods", t.namespace, t.name), focus=True)))
            elif t.kind in _WORKLOAD_KINDS and t.namespace:
                jobs.append((_WORKLOAD_KINDS[t.kind], t.namespace, t.name, lambda t=t: self._add_workload(
                    self.src.get(_WORKLOAD_KINDS[t.kind], t.namespace, t.name))))
            elif t.kind == "Node":
                jobs.append(("pods", None, f"spec.nodeName={t.name}", lambda t=t: [self._add_pod(p, focus=True)
                    for p in self.src.list("pods", None, field_selector=f"spec.nodeName={t.name}")]))
            elif t.kind in ("Namespace", "PersistentVolumeClaim", "HorizontalPodAutoscaler") and t.namespace:
                jobs.append(("pods", t.namespace, None, lambda t=t: [self._add_pod(p, focus=_unhealthy(p))
                    for p in self.src.list("pods", t.namespace)]))
        self.run.run_all(jobs)
        # a pod alert whose pod is gone: fall back to the workload its name implies
        missing = {(t.namespace, t.workload or t.name): t for t in self.req.targets
                   if t.kind == "Pod" and t.namespace and (t.namespace, t.name) not in self.st.pods}
        self.run.run_all([("pods", t.namespace, None, lambda t=t: self._pods_like(t)) for t in missing.values()])

    def _pods_like(self, t: AlertTarget) -> None:
        prefix = f"{t.workload or t.name}-"
        for p in self.src.list("pods", t.namespace):
            if _key(p)[1].startswith(prefix):
                self._add_pod(p, focus=True)

    def _add_pod(self, pod: dict[str, Any], *, focus: bool) -> None:
        k = _key(pod)
        with self.st.lock:
            self.st.pods[k] = pod
            if focus:
                self.st.focus.add(k)

    def _add_workload(self, obj: dict[str, Any]) -> None:
        ns, name = _key(obj)
        with self.st.lock:
            self.st.workloads[(obj.get("kind") or "", ns, name)] = obj
        sel = _selector(obj)
        if sel:
            pods = self.src.list("pods", ns, label_selector=sel)
            for p in pods[: self.cfg.max_pods_per_workload * 4]:
                self._add_pod(p, focus=True)

    # -- phase 2: owner chains, rollout history -------------------------------------------------
    def resolve_owners(self) -> None:
        rs_names = {(ns, ref["name"]) for (ns, _), p in self.st.pods.items()
                    for ref in (p.get("metadata") or {}).get("ownerReferences") or [] if ref.get("kind") == "ReplicaSet"}
        rs_objs = self.run.run_all([("replicasets", ns, n, lambda ns=ns, n=n: self.src.get("replicasets", ns, n))
                                    for ns, n in sorted(rs_names)])
        rs_by_key = {_key(rs): rs for rs in rs_objs if rs}
        wanted: set[tuple[str, str, str]] = set()
        for (ns, pname), pod in self.st.pods.items():
            kind, name = self._owner_of(pod, rs_by_key)
            self.st.pod_workload[(ns, pname)] = (kind, name)
            if kind in _WORKLOAD_KINDS and (kind, ns, name) not in self.st.workloads:
                wanted.add((kind, ns, name))
        got = self.run.run_all([(_WORKLOAD_KINDS[k], ns, n, lambda k=k, ns=ns, n=n: self.src.get(_WORKLOAD_KINDS[k], ns, n))
                                for k, ns, n in sorted(wanted)])
        for obj in got:
            if obj:
                self.st.workloads[(obj.get("kind") or "", *_key(obj))] = obj
        self.history()

    @staticmethod
    def _owner_of(pod: dict[str, Any], rs_by_key: dict[tuple[str, str], dict[str, Any]]) -> tuple[str | None, str | None]:
        ns = (pod.get("metadata") or {}).get("namespace") or ""
        ref = R._controller_owner(pod)
        if not ref:
            return ("Pod", (pod.get("metadata") or {}).get("name"))
        if ref.get("kind") == "ReplicaSet":
            rs = rs_by_key.get((ns, ref.get("name")))
            rs_owner = R._controller_owner(rs) if rs else None
            if rs_owner:
                return (rs_owner.get("kind"), rs_owner.get("name"))
            if rs is None:  # RS unreadable: the name still tells the Deployment
                from engine.alerts import workload_from_pod_name
                return ("Deployment", workload_from_pod_name((pod.get("metadata") or {}).get("name") or "")) \
                    if ref.get("name", "").count("-") else ("ReplicaSet", ref.get("name"))
            return ("ReplicaSet", ref.get("name"))
        return (ref.get("kind"), ref.get("name"))

    def history(self) -> None:
        deps = [(ns, name, obj) for (kind, ns, name), obj in self.st.workloads.items() if kind == "Deployment"]

        def revisions(ns: str, name: str, dep: dict[str, Any]) -> None:
            for rs in self.src.list("replicasets", ns, label_selector=_selector(dep)):
                if _owned_by(rs, dep):
                    self.ev.add("changes", R.revision_row(rs, "Deployment", name))

        self.run.run_all([("replicasets", ns, name, lambda ns=ns, name=name, d=d: revisions(ns, name, d))
                          for ns, name, d in deps])
        for obj in self.st.workloads.values():
            self.ev.add("workloads", R.workload_row(obj))

    # -- phase 3: events, logs, nodes, in parallel ----------------------------------------------
    def gather(self) -> None:
        namespaces = sorted({ns for ns, _ in self.st.pods} | {t.namespace for t in self.req.targets
                                                               if t.namespace and t.kind != "Node"})
        nodes = sorted({(p.get("spec") or {}).get("nodeName") for p in self.st.pods.values()} - {None}
                       | {t.name for t in self.req.targets if t.kind == "Node"})
        jobs: list[tuple[str, str | None, str | None, Callable[[], Any]]] = []
        jobs += [("events", ns, None, lambda ns=ns: self._events(ns)) for ns in namespaces]
        jobs += [("events", None, f"node/{n}", lambda n=n: self._node_events(n)) for n in nodes]
        jobs += [("nodes", None, n, lambda n=n: self._node(n)) for n in nodes]
        jobs += self._log_jobs()
        self.run.run_all(jobs)
        for (ns, name), pod in sorted(self.st.pods.items()):
            self.ev.add("pods", R.pod_row(pod, self.st.pod_workload.get((ns, name), (None, None)),
                                          in_focus=(ns, name) in self.st.focus))
            self.ev.extend("containers", R.container_rows(pod))

    def _in_scope_names(self) -> set[str]:
        names = {n for _, n in self.st.pods}
        names |= {n for _, _, n in self.st.workloads}
        names |= {r["revision_name"] for r in self.ev.rows["changes"]}
        return names

    def _events(self, ns: str) -> None:
        since = self.req.clock - timedelta(seconds=self.cfg.event_lookback_s)
        names = self._in_scope_names()
        for e in self.src.list("events", ns):
            row = R.event_row(e)
            recent = row["last_seen"] is not None and row["last_seen"] >= since
            if row["object_name"] in names or (row["type"] == "Warning" and recent):
                self.ev.add("events", row)

    def _node_events(self, node: str) -> None:
        for e in self.src.list("events", None, field_selector=f"involvedObject.kind=Node,involvedObject.name={node}"):
            self.ev.add("events", R.event_row(e))

    def _node(self, name: str) -> None:
        node = self.src.get("nodes", None, name)
        self.ev.add("nodes", R.node_row(node))
        self.ev.extend("node_conditions", R.node_condition_rows(node))

    def _log_jobs(self) -> list[tuple[str, str | None, str | None, Callable[[], Any]]]:
        per_workload: dict[tuple[str, str | None], int] = {}
        jobs: list[tuple[str, str | None, str | None, Callable[[], Any]]] = []
        # unhealthy pods first, so the cap keeps the ones that explain the incident
        ordered = sorted(self.st.focus, key=lambda k: (not _unhealthy(self.st.pods[k]), k))
        for ns, pname in ordered:
            pod = self.st.pods[(ns, pname)]
            wl = (ns, self.st.pod_workload.get((ns, pname), (None, None))[1])
            if per_workload.get(wl, 0) >= self.cfg.max_pods_per_workload:
                continue
            per_workload[wl] = per_workload.get(wl, 0) + 1
            for c in R.container_rows(pod):
                jobs += self._container_log_jobs(ns, pname, c)
        return jobs

    def _container_log_jobs(self, ns: str, pod: str, c: dict[str, Any]) -> list[Any]:
        name = c["container"]
        never_started = c["state"] == "waiting" and not c["restart_count"] and not c["last_state"]
        jobs = []
        if not never_started:
            jobs.append(("logs", ns, f"{pod}/{name}", lambda: self._log(ns, pod, name, previous=False)))
        if c["last_state"] == "terminated" or (c["restart_count"] or 0) > 0:
            jobs.append(("logs", ns, f"{pod}/{name} (previous)", lambda: self._log(ns, pod, name, previous=True)))
        return jobs

    def _log(self, ns: str, pod: str, container: str, *, previous: bool) -> None:
        text = self.src.read_log(ns, pod, container, previous=previous, tail_lines=self.cfg.log_tail_lines,
                                 since_seconds=self.cfg.log_since_s, timestamps=True)
        rows = R.log_rows(ns, pod, container, text, previous=previous)
        with self.run.lock:
            self.ev.extend("logs", rows)


def collect_incident(source: ClusterSource, req: CollectRequest, cfg: CollectConfig | None = None) -> EvidenceSet:
    """Gather one cluster's evidence for an incident; partial (with ``errors`` rows) on failures."""
    c = _Collector(source, req, cfg or CollectConfig())
    try:
        c.resolve_targets()
        c.resolve_owners()
        c.gather()
    finally:
        c.run.close()
    return c.ev
