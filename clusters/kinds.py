"""The resource kinds fleetsre reads, in one table.

The dump loader (which file holds which kind), the live source (which client method to call) and
the simulator (which REST path serves which kind) all key on the lowercase plural REST name, so
the mapping between plural, ``kind``, API group and dump file lives here once.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["RESOURCES", "Resource", "resolve"]


@dataclass(frozen=True)
class Resource:
    """One REST resource: ``pods`` is kind ``Pod`` in the core group ``""``, version ``v1``."""

    plural: str
    kind: str
    group: str
    version: str
    namespaced: bool
    #: File stem in a dump directory (``replication-controllers``), None when dumps never hold it.
    file: str | None
    #: snake_case singular the official client uses in method names (``replica_set``).
    snake: str

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    @property
    def qualified(self) -> str:
        """``deployments.apps`` / ``pods``: how the apiserver names a resource in messages."""
        return f"{self.plural}.{self.group}" if self.group else self.plural


RESOURCES: dict[str, Resource] = {
    r.plural: r
    for r in (
        Resource("pods", "Pod", "", "v1", True, "pods", "pod"),
        Resource("events", "Event", "", "v1", True, "events", "event"),
        Resource("nodes", "Node", "", "v1", False, "nodes", "node"),
        Resource("namespaces", "Namespace", "", "v1", False, None, "namespace"),
        Resource("services", "Service", "", "v1", True, "services", "service"),
        Resource(
            "replicationcontrollers",
            "ReplicationController",
            "",
            "v1",
            True,
            "replication-controllers",
            "replication_controller",
        ),
        Resource("configmaps", "ConfigMap", "", "v1", True, "configmaps", "config_map"),
        Resource("secrets", "Secret", "", "v1", True, "secrets", "secret"),
        Resource("deployments", "Deployment", "apps", "v1", True, "deployments", "deployment"),
        Resource("replicasets", "ReplicaSet", "apps", "v1", True, "replicasets", "replica_set"),
        Resource("statefulsets", "StatefulSet", "apps", "v1", True, "statefulsets", "stateful_set"),
        Resource("daemonsets", "DaemonSet", "apps", "v1", True, "daemonsets", "daemon_set"),
        Resource("jobs", "Job", "batch", "v1", True, "jobs", "job"),
    )
}

# Callers may say "Pod", "pod" or "pods"; all mean the same resource.
_ALIASES = {alias: r for r in RESOURCES.values() for alias in (r.plural, r.kind.lower(), r.kind)}


def resolve(kind: str) -> Resource:
    """The resource for a plural REST name (or a Kind); KeyError when fleetsre does not know it."""
    try:
        return _ALIASES[kind] if kind in _ALIASES else _ALIASES[kind.lower()]
    except KeyError:
        raise KeyError(kind) from None
