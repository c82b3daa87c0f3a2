"""Write a finished cluster to disk: the dump, ``alerts.jsonl`` and ``expected.json``.

Dump layout (``kubectl cluster-info dump --all-namespaces --output-directory``)::

    dump/nodes.json
    dump/<ns>/{events,pods,deployments,replicasets,daemonsets,services,replication-controllers}.json
    dump/<ns>/<pod>/logs.txt            current logs, one START/END block per init + app container

fleetsre side files that a real dump lacks::

    dump/<ns>/<pod>/logs.previous.txt   the previous container instance's logs, same block format
    dump/<ns>/configmaps.json           ConfigMapList
    dump/<ns>/secrets.json              SecretList: metadata and data keys, every value ""
    dump/<ns>/statefulsets.json         StatefulSetList (only where a scenario built one with its status)
    dump/<ns>/jobs.json                 JobList (likewise)
    dump/fleetsre-dump.json             {"cluster": ..., "captured_at": RFC3339}

and beside the dump (not in it: nothing in the dump may name the fault)::

    fleetsre-faults.json                which fix heals each fault (the simulator's health model, healing.py)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._gojson import pretty
from ._time import rfc3339
from .alerts import encode
from .cluster import ClusterBuilder, PodRecord
from .dispatch import Notification, notifications
from .healing import write_faults
from .k8s import k8s_list
from .nodes import render_node

__all__ = ["ClusterResult", "write_cluster"]

_LISTS = [("events", "EventList"), ("replication-controllers", "ReplicationControllerList"),
          ("services", "ServiceList"), ("daemonsets", "DaemonSetList"), ("deployments", "DeploymentList"),
          ("replicasets", "ReplicaSetList"), ("pods", "PodList")]


@dataclass(frozen=True)
class ClusterResult:
    """What was written for one cluster."""

    name: str
    root: Path
    external_url: str
    captured_at: str
    incidents: list[dict[str, Any]]
    notifications: int
    sent: tuple[Notification, ...] = ()  # the webhooks, in send order

    @property
    def dump(self) -> Path:
        return self.root / "dump"

    @property
    def alerts(self) -> Path:
        return self.root / "alerts.jsonl"

    @property
    def expected(self) -> Path:
        return self.root / "expected.json"


def write_cluster(cb: ClusterBuilder, root: Path, *, drop_silent: bool = False) -> ClusterResult:
    """Render ``cb``; ``drop_silent``: leave out incidents none of whose alerts was ever sent
    (instead of failing, which is what a single scenario wants)."""
    cb.finalize()
    root.mkdir(parents=True, exist_ok=True)
    _write_dump(cb, root / "dump")
    write_faults(cb, root)
    sent = notifications(cb.alerts, now=cb.now, external_url=cb.external_url, prometheus_url=cb.prometheus_url,
                         receiver=cb.receiver)
    (root / "alerts.jsonl").write_text("".join(encode(n.body) for n in sent))
    order = _first_sent(sent)
    incidents = [x for x in (_incident(inc, order, drop_silent) for inc in cb.incidents) if x is not None]
    expected = {"cluster": cb.name, "captured_at": rfc3339(cb.now), "incidents": incidents}
    (root / "expected.json").write_text(json.dumps(expected, indent=2) + "\n")
    return ClusterResult(cb.name, root, cb.external_url, rfc3339(cb.now), incidents, len(sent), tuple(sent))


def _first_sent(sent: list[Any]) -> dict[str, int]:
    order: dict[str, int] = {}
    for n in sent:
        for a in n.body["alerts"]:
            order.setdefault(a["fingerprint"], len(order))
    return order


def _incident(inc: Any, order: dict[str, int], drop_silent: bool = False) -> dict[str, Any] | None:
    fps = sorted({a.fingerprint for a in inc.alerts if a.fingerprint in order}, key=order.__getitem__)
    if not fps and drop_silent:
        return None
    if not fps:
        raise ValueError(f"incident {inc.subject} fired no alert before the capture time; start it earlier")
    return {"alerts": fps, "category": inc.category, "trigger": inc.trigger, "subject": inc.subject,
            "scenario": inc.scenario, **inc.extra}


def _write_dump(cb: ClusterBuilder, dump: Path) -> None:
    dump.mkdir(parents=True, exist_ok=True)
    rv = int(cb.rv(cb.now)) + 40
    (dump / "nodes.json").write_text(pretty(k8s_list("NodeList", str(rv), [render_node(cb, n) for n in
                                                                            sorted(cb.nodes, key=lambda n: n.name)])))
    for ns in sorted(cb.namespaces):
        rv += cb.rng.randrange(1, 4)
        _write_namespace(cb, dump / ns, ns, str(rv))
    meta = {"cluster": cb.name, "captured_at": rfc3339(cb.now)}
    (dump / "fleetsre-dump.json").write_text(json.dumps(meta, indent=2) + "\n")


def _write_namespace(cb: ClusterBuilder, path: Path, ns: str, rv: str) -> None:
    path.mkdir(parents=True, exist_ok=True)
    pods = sorted((p for p in cb.pods if p.namespace == ns), key=lambda p: p.name)
    objects = cb.objects[ns]
    for kind, list_kind in _LISTS:
        if kind == "pods":
            items = [p.obj for p in pods]
        elif kind == "events":
            items = sorted((e for e in cb.events if e["metadata"]["namespace"] == ns),
                           key=lambda e: e["metadata"]["name"])
        else:
            items = sorted(objects.get(kind, []), key=lambda o: o["metadata"]["name"])
        (path / f"{kind}.json").write_text(pretty(k8s_list(list_kind, rv, items)))
    for kind, list_kind in (("configmaps", "ConfigMapList"), ("secrets", "SecretList"),
                            ("statefulsets", "StatefulSetList"), ("jobs", "JobList")):
        items = sorted(objects.get(kind, []), key=lambda o: o["metadata"]["name"])
        if items or kind in ("configmaps", "secrets"):
            (path / f"{kind}.json").write_text(pretty(k8s_list(list_kind, rv, items)))
    for pod in pods:
        _write_logs(path / pod.name, pod)


def _blocks(pod: PodRecord, logs: dict[str, str], *, all_containers: bool = True) -> str:
    spec = pod.obj["spec"]
    names = [c["name"] for c in spec.get("initContainers", [])] + [c["name"] for c in spec["containers"]]
    out = []
    for c in names if all_containers else [n for n in names if n in logs]:
        where = f"container {c} of pod {pod.namespace}/{pod.name}"
        out.append(f"==== START logs for {where} ====\n{logs.get(c, '')}==== END logs for {where} ====\n")
    return "".join(out)


def _write_logs(path: Path, pod: PodRecord) -> None:
    path.mkdir(parents=True, exist_ok=True)
    (path / "logs.txt").write_text(_blocks(pod, pod.logs))
    if pod.previous:  # containers without a previous instance get no block (reading them is a 400)
        (path / "logs.previous.txt").write_text(_blocks(pod, pod.previous, all_containers=False))

