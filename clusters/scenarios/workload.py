"""Pods and the controllers that own them: Deployments with their ReplicaSets, DaemonSets,
StatefulSet pods and static (mirror) pods.

A :class:`Deployment` is built revision by revision; its ReplicaSets get the controller's
annotations and ``pod-template-hash``, and its status and conditions are derived from the pods
at the end, the way the deployment controller computes them.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from . import k8s
from ._rand import template_hash
from ._time import rfc3339
from .apps import AppSpec
from .behaviours import run_healthy
from .cluster import ClusterBuilder, PodRecord
from .events import Involved
from .profiles import NodeInfo

__all__ = ["Deployment", "Revision", "new_pod"]


def new_pod(cb: ClusterBuilder, namespace: str, name: str, template: dict[str, Any], *, node: NodeInfo | None,
            created: datetime, owner: dict[str, Any] | None, generate_name: str | None = None,
            extra_labels: dict[str, str] | None = None,
            annotations: dict[str, str] | None = None) -> PodRecord:
    """A Pod stamped out of ``template`` (status is filled in by a behaviour)."""
    md = template["metadata"]
    meta = k8s.meta(name, namespace=namespace, uid=cb.rng.uid(), rv=cb.rv(created), created=created,
                    labels={**(md.get("labels") or {}), **(extra_labels or {})},
                    annotations={**(md.get("annotations") or {}), **(annotations or {})} or None,
                    generateName=generate_name, ownerReferences=[owner] if owner else None,
                    generation=1 if cb.profile.pod_generation else None)
    spec = k8s.pod_spec_from_template(copy.deepcopy(template["spec"]), cb.rng, node.name if node else None)
    pod = PodRecord(namespace, name, {"metadata": meta, "spec": spec, "status": {}}, node,
                    owner["kind"] if owner else "", owner["name"] if owner else "")
    cb.namespace(namespace)
    cb.pods.append(pod)
    return pod


@dataclass
class Revision:
    number: int
    template: dict[str, Any]  # with pod-template-hash
    created: datetime
    replicas: int
    name: str
    uid: str
    pods: list[PodRecord] = field(default_factory=list)
    scales: int = 0  # spec.replicas changes after creation (each bumps metadata.generation)

    @property
    def hash(self) -> str:
        return str(self.template["metadata"]["labels"]["pod-template-hash"])


class Deployment:
    """A Deployment under construction; call :meth:`revision`, :meth:`pod`, then :meth:`finish`."""

    def __init__(self, cb: ClusterBuilder, namespace: str, name: str, *, replicas: int, created: datetime,
                 labels: dict[str, str], selector: dict[str, str] | None = None, generation: int | None = None,
                 max_surge: str = "25%", max_unavailable: str = "25%", app: AppSpec | None = None) -> None:
        self.cb, self.namespace, self.name, self.app = cb, namespace, name, app
        self.replicas, self.created, self.labels = replicas, created, labels
        self.selector = selector or {"app.kubernetes.io/name": labels.get("app.kubernetes.io/name", name)}
        self.uid = cb.rng.uid()
        self.revisions: list[Revision] = []
        self.generation = generation
        self.max_surge, self.max_unavailable = max_surge, max_unavailable
        cb.workloads.add((namespace, name))
        self.rollout_started: datetime | None = None
        self.deadline_at: datetime | None = None
        self.unavailable_since: datetime | None = None

    def start_rollout(self, at: datetime, deadline_s: int = 600) -> None:
        """The newest revision's rollout began at ``at``; it times out ``deadline_s`` later."""
        self.rollout_started = at
        self.deadline_at = at + timedelta(seconds=deadline_s + self.cb.rng.randrange(1, 15))

    def involved(self) -> Involved:
        return Involved("Deployment", self.name, self.uid, self.namespace, "apps/v1", self.cb.rv(self.created))

    def revision(self, template: dict[str, Any], *, created: datetime, replicas: int,
                 number: int | None = None) -> Revision:
        tpl = copy.deepcopy(template)
        h = template_hash(tpl)
        tpl["metadata"]["labels"] = {**tpl["metadata"]["labels"], "pod-template-hash": h}
        number = number or (self.revisions[-1].number + 1 if self.revisions else 1)
        rev = Revision(number, tpl, created, replicas, f"{self.name}-{h}", self.cb.rng.uid())
        self.revisions.append(rev)
        return rev

    def pod(self, rev: Revision, *, created: datetime, node: NodeInfo | None = None,
            placed: bool = True) -> PodRecord:
        cb = self.cb
        node = node or (cb.place(created) if placed else None)
        owner = k8s.owner_ref("ReplicaSet", rev.name, rev.uid)
        pod = new_pod(cb, self.namespace, f"{rev.name}-{cb.rng.suffix()}", rev.template, node=node,
                      created=created, owner=owner, generate_name=f"{rev.name}-")
        rev.pods.append(pod)
        pod.replace = lambda at: self._replacement(rev, at)
        return pod

    def _replacement(self, rev: Revision, at: datetime) -> PodRecord:
        """The pod the ReplicaSet creates when one of its pods is being deleted."""
        pod = self.pod(rev, created=at)
        run_healthy(self.cb, pod, self.app, started=at + timedelta(seconds=self.cb.rng.between(2, 6)))
        self.pod_created_event(rev, pod)
        return pod

    def scaled(self, rev: Revision, at: datetime, old: int, new: int) -> None:
        """The deployment controller's ``ScalingReplicaSet`` event."""
        verb = "up" if new > old else "down"
        rev.scales += 1 if old else 0
        self.cb.controller_event(self.involved(), "deployment-controller", "ScalingReplicaSet",
                                 f"Scaled {verb} replica set {rev.name} from {old} to {new}", first=at)

    def pod_created_event(self, rev: Revision, pod: PodRecord) -> None:
        """The ReplicaSet's ``SuccessfulCreate`` event for ``pod``."""
        inv = Involved("ReplicaSet", rev.name, rev.uid, self.namespace, "apps/v1", self.cb.rv(rev.created))
        self.cb.controller_event(inv, "replicaset-controller", "SuccessfulCreate", f"Created pod: {pod.name}",
                                 first=_created(pod))

    def pod_deleted_event(self, rev: Revision, name: str, at: datetime) -> None:
        inv = Involved("ReplicaSet", rev.name, rev.uid, self.namespace, "apps/v1", self.cb.rv(rev.created))
        self.cb.controller_event(inv, "replicaset-controller", "SuccessfulDelete", f"Deleted pod: {name}", first=at)

    # -- rendering ----------------------------------------------------------------------------
    def finish(self) -> None:
        """Write the ReplicaSets and the Deployment, with status derived from the final pods."""
        self.cb.defer(self._write)

    def _write(self) -> None:
        for rev in self.revisions:
            self.cb.add(self.namespace, "replicasets", self._replicaset(rev))
        self.cb.add(self.namespace, "deployments", self._deployment())

    def _surge(self) -> int:
        return _percent(self.max_surge, self.replicas, up=True)

    def _replicaset(self, rev: Revision) -> dict[str, Any]:
        cb, ready = self.cb, [p for p in rev.pods if _ready(p) and not _terminating(p)]
        live = [p for p in rev.pods if not _terminating(p)]
        md = k8s.meta(rev.name, namespace=self.namespace, uid=rev.uid, rv=cb.rv(self._rs_changed(rev)),
                      created=rev.created, labels=rev.template["metadata"]["labels"],
                      annotations={"deployment.kubernetes.io/desired-replicas": str(self.replicas),
                                   "deployment.kubernetes.io/max-replicas": str(self.replicas + self._surge()),
                                   "deployment.kubernetes.io/revision": str(rev.number)},
                      generation=1 + rev.scales,
                      ownerReferences=[k8s.owner_ref("Deployment", self.name, self.uid)])
        status: dict[str, Any] = {"replicas": len(live)}
        if live:
            status["fullyLabeledReplicas"] = len(live)
        if ready:
            status.update(readyReplicas=len(ready), availableReplicas=len(ready))
        status["observedGeneration"] = md["generation"]
        return {"metadata": md,
                "spec": {"replicas": rev.replicas,
                         "selector": {"matchLabels": {**self.selector, "pod-template-hash": rev.hash}},
                         "template": rev.template},
                "status": status}

    def _rs_changed(self, rev: Revision) -> datetime:
        times = [rev.created] + [_created(p) for p in rev.pods]
        return max(times)

    def _deployment(self) -> dict[str, Any]:
        cb, newest = self.cb, self.revisions[-1]
        generation = self.generation or newest.number
        pods = [p for r in self.revisions for p in r.pods if not _terminating(p)]
        ready = [p for p in pods if _ready(p)]
        template = copy.deepcopy(newest.template)
        del template["metadata"]["labels"]["pod-template-hash"]
        status: dict[str, Any] = {"observedGeneration": generation, "replicas": len(pods),
                                  "updatedReplicas": len([p for p in newest.pods if not _terminating(p)])}
        if ready:
            status.update(readyReplicas=len(ready), availableReplicas=len(ready))
        if len(pods) - len(ready) > 0:
            status["unavailableReplicas"] = len(pods) - len(ready)
        status["conditions"] = self._conditions(len(ready), newest)
        changed = max([self._rs_changed(r) for r in self.revisions] + [self.unavailable_since or self.created] +
                      [self.deadline_at or self.created])
        md = k8s.meta(self.name, namespace=self.namespace, uid=self.uid, rv=cb.rv(min(changed, cb.now)),
                      created=self.created, labels=self.labels,
                      annotations={"deployment.kubernetes.io/revision": str(newest.number)},
                      generation=generation)
        spec = {"replicas": self.replicas, "selector": {"matchLabels": self.selector}, "template": template,
                "strategy": {"type": "RollingUpdate",
                             "rollingUpdate": {"maxUnavailable": self.max_unavailable, "maxSurge": self.max_surge}},
                "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600}
        return {"metadata": md, "spec": spec, "status": status}

    def _conditions(self, available: int, newest: Revision) -> list[dict[str, Any]]:
        min_available = self.replicas - _percent(self.max_unavailable, self.replicas, up=False)
        ok = available >= min_available
        since = self.unavailable_since or self.created
        avail = _cond("Available", ok, since if not ok else self.created + timedelta(seconds=40),
                      "MinimumReplicasAvailable" if ok else "MinimumReplicasUnavailable",
                      "Deployment has minimum availability." if ok else "Deployment does not have minimum availability.")
        if self.rollout_started is None:
            done = newest.created + timedelta(seconds=47)
            prog = _cond("Progressing", True, self.created, "NewReplicaSetAvailable",
                         f'ReplicaSet "{newest.name}" has successfully progressed.', updated=done)
        elif self.deadline_at and self.deadline_at <= self.cb.now:
            prog = _cond("Progressing", False, self.deadline_at, "ProgressDeadlineExceeded",
                         f'ReplicaSet "{newest.name}" has timed out progressing.')
        else:
            prog = _cond("Progressing", True, self.created, "ReplicaSetUpdated",
                         f'ReplicaSet "{newest.name}" is progressing.', updated=self.rollout_started)
        return [avail, prog]


def _cond(kind: str, ok: bool, at: datetime, reason: str, message: str, *,
          updated: datetime | None = None) -> dict[str, Any]:
    return {"type": kind, "status": "True" if ok else "False", "lastUpdateTime": rfc3339(updated or at),
            "lastTransitionTime": rfc3339(at), "reason": reason, "message": message}


def _percent(value: str, replicas: int, *, up: bool) -> int:
    if not value.endswith("%"):
        return int(value)
    exact = replicas * int(value[:-1]) / 100
    return math.ceil(exact) if up else math.floor(exact)


def _created(pod: PodRecord) -> datetime:
    return datetime.fromisoformat(pod.obj["metadata"]["creationTimestamp"].replace("Z", "+00:00"))


def _ready(pod: PodRecord) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True" for c in pod.obj["status"].get("conditions", []))


def _terminating(pod: PodRecord) -> bool:
    """Being deleted, or finished (``Failed``/``Succeeded``): no longer an active replica."""
    return "deletionTimestamp" in pod.obj["metadata"] or pod.obj["status"].get("phase") in ("Failed", "Succeeded")
