"""The ClusterWriter protocol: the few mutations runbook remediation may make to a cluster.

``engine`` defines it, ``clusters.live.LiveWriter`` implements it with the official client (and
so reaches a real API server or the fleet simulator). A dump has no writer. Every call sends
what ``kubectl`` sends for the same action:

==========================  ==============================================================
patch_deployment            PATCH deployments/<name>; ``patch_type`` "strategic"
                            (``application/strategic-merge-patch+json``, kubectl set image /
                            set resources), "merge" (``application/merge-patch+json``) or
                            "json" (``application/json-patch+json``, kubectl rollout undo)
patch_node                  PATCH nodes/<name> (kubectl cordon / uncordon: strategic merge)
scale_deployment            PATCH deployments/<name>/scale ``{"spec": {"replicas": n}}``
                            (merge patch, as kubectl scale)
delete_pod                  DELETE pods/<name>
evict_pod                   POST pods/<name>/eviction (policy/v1 Eviction, as kubectl drain)
==========================  ==============================================================

Errors are :class:`engine.sources.SourceError` with the HTTP status (409 conflict, 429 a
PodDisruptionBudget refused an eviction, 403 RBAC, ...).
"""

from __future__ import annotations

from typing import Any, Literal, Protocol, runtime_checkable

__all__ = ["ClusterWriter", "PatchType"]

PatchType = Literal["strategic", "merge", "json"]


@runtime_checkable
class ClusterWriter(Protocol):
    """Mutations of one cluster; each returns the object as the server answered (or None)."""

    name: str

    def patch_deployment(self, namespace: str, name: str, patch: Any, *,
                         patch_type: PatchType = "strategic") -> dict[str, Any]: ...

    def patch_node(self, name: str, patch: Any, *, patch_type: PatchType = "strategic") -> dict[str, Any]: ...

    def scale_deployment(self, namespace: str, name: str, replicas: int) -> dict[str, Any]: ...

    def delete_pod(self, namespace: str, name: str) -> dict[str, Any] | None: ...

    def evict_pod(self, namespace: str, name: str) -> None: ...
