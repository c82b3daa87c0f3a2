"""kubectl command building for recommendations: ``--context <cluster>``, namespace, resource names.

Also the quantity arithmetic recommendations need (twice a memory limit as a Kubernetes quantity).
"""

from __future__ import annotations

import math
import re
from typing import Any

from engine.report import Subject

__all__ = ["Rec", "container_flag", "double_memory", "first_pod", "kubectl", "parse_bytes", "res"]

Rec = tuple[str, str]  # (action, command)
_RESOURCE = {
    "Deployment": "deployment",
    "StatefulSet": "statefulset",
    "DaemonSet": "daemonset",
    "Job": "job",
    "CronJob": "cronjob",
    "ReplicaSet": "replicaset",
    "Pod": "pod",
    "Workload": "deployment",
}


def kubectl(subject: Subject, args: str, *, namespaced: bool = True) -> str:
    ns = f" -n {subject.namespace}" if namespaced and subject.namespace else ""
    return f"kubectl --context {subject.cluster}{ns} {args}"


def res(subject: Subject) -> str:
    return f"{_RESOURCE.get(subject.kind, subject.kind.lower())}/{subject.name}"


def double_memory(limit_bytes: int | None) -> str | None:
    """Twice a memory limit, as a Kubernetes quantity (``256Mi`` → ``512Mi``, ``1Gi`` → ``2Gi``)."""
    if not limit_bytes:
        return None
    target = 2 * int(limit_bytes)
    gi, mi = 2**30, 2**20
    if target % gi == 0:
        return f"{target // gi}Gi"
    return f"{math.ceil(target / mi)}Mi"


def first_pod(facts: dict[str, Any]) -> str | None:
    pods = [p for p in facts.get("pods") or [] if p]
    return pods[0] if pods else None


def container_flag(facts: dict[str, Any]) -> str:
    return f" -c {facts['container']}" if facts.get("container") else ""


def parse_bytes(q: str | None) -> int | None:
    m = re.match(r"^(\d+)(Ki|Mi|Gi)?$", q or "")
    if not m:
        return None
    return int(m.group(1)) * {None: 1, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30}[m.group(2)]
