"""Recommendations for the cluster-side categories: scheduling, capacity, storage and nodes.

Used by ``engine.recommend`` through ``INFRA``; every command carries ``--context <cluster>``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from engine.kubectl import Rec, container_flag, first_pod, kubectl, res
from engine.report import Subject

__all__ = ["INFRA"]


def _scheduling(s: Subject, f: dict[str, Any]) -> list[Rec]:
    return [
        (
            "Compare the pods' nodeSelector/affinity/tolerations with the nodes' labels and taints",
            kubectl(
                s,
                f"get {res(s)} -o jsonpath='{{.spec.template.spec.nodeSelector}} {{.spec.template.spec.tolerations}}'",
            ),
        ),
        (
            "List node taints",
            kubectl(
                s, "get nodes -o custom-columns=NAME:.metadata.name,TAINTS:.spec.taints", namespaced=False
            ),
        ),
    ]


def _insufficient(s: Subject, f: dict[str, Any]) -> list[Rec]:
    what = ", ".join(f.get("resources") or []) or "cpu/memory"
    recs: list[Rec] = [
        (
            f"See how much {what} the nodes have left (Allocated resources)",
            kubectl(s, "describe nodes", namespaced=False),
        ),
        (
            f"Lower the pods' {what} requests or add node capacity",
            kubectl(s, f"set resources {res(s)} --requests=cpu=<less>,memory=<less>"),
        ),
    ]
    if f.get("quota"):
        recs.insert(
            0,
            (
                f"ResourceQuota {f['quota']} is exhausted: raise it or free usage",
                kubectl(s, f"describe resourcequota {f['quota']}"),
            ),
        )
    return recs


def _volume(s: Subject, f: dict[str, Any]) -> list[Rec]:
    if f.get("problem") == "multi-attach":
        return [
            (
                "Find the node and pod still holding the volume, and let it detach (delete the old pod)",
                kubectl(s, "get volumeattachments", namespaced=False) + f" | grep {f.get('volume') or ''}",
            )
        ]
    pvc = f.get("pvc")
    return [
        ("Check the claim and its provisioning", kubectl(s, f"describe pvc {pvc}" if pvc else "get pvc")),
        ("Check the storage class / CSI driver", kubectl(s, "get storageclass,csidrivers", namespaced=False)),
    ]


def _node(s: Subject, f: dict[str, Any]) -> list[Rec]:
    n = f.get("node") or (s.name if s.kind == "Node" else "<node>")
    return [
        (
            f"Inspect node {n}: conditions, kubelet heartbeat, pressure",
            kubectl(s, f"describe node {n}", namespaced=False),
        ),
        (
            f"See what runs on {n}",
            kubectl(s, f"get pods -A -o wide --field-selector spec.nodeName={n}", namespaced=False),
        ),
        (
            f"If {n} does not recover, move its pods away",
            kubectl(s, f"drain {n} --ignore-daemonsets --delete-emptydir-data", namespaced=False),
        ),
        (
            "On the node: check the kubelet and container runtime",
            "journalctl -u kubelet --since '1 hour ago'",
        ),
    ]


def _pressure(s: Subject, f: dict[str, Any]) -> list[Rec]:
    n = f.get("node") or s.name
    return [
        (
            f"See what pressure node {n} reports and which pods use it",
            kubectl(s, f"describe node {n}", namespaced=False),
        ),
        ("Find the heaviest pods", kubectl(s, "top pod -A --sort-by=memory", namespaced=False)),
        ("Give the evicted workloads requests that match their usage", ""),
    ]


def _cordoned(s: Subject, f: dict[str, Any]) -> list[Rec]:
    nodes = f.get("nodes") or ([s.name] if s.kind == "Node" else [])
    return [
        (
            f"If maintenance on {n} is over, make it schedulable again",
            kubectl(s, f"uncordon {n}", namespaced=False),
        )
        for n in nodes[:3]
    ] + [("Check which nodes are cordoned", kubectl(s, "get nodes", namespaced=False))]


def _disk(s: Subject, f: dict[str, Any]) -> list[Rec]:
    if s.kind == "Node":
        return [
            (
                f"Free disk on node {s.name} (images, logs)",
                kubectl(s, f"describe node {s.name}", namespaced=False),
            )
        ]
    return [
        (
            "See which filesystem is full",
            kubectl(s, f"exec {first_pod(f) or '<pod>'}{container_flag(f)} -- df -h"),
        ),
        ("Expand the volume claim or clean up data", kubectl(s, "get pvc")),
    ]


INFRA: dict[str, Callable[[Subject, dict[str, Any]], list[Rec]]] = {
    "insufficient_resources": _insufficient,
    "scheduling_constraints": _scheduling,
    "volume_error": _volume,
    "node_not_ready": _node,
    "node_pressure": _pressure,
    "node_cordoned": _cordoned,
    "disk_full": _disk,
}
