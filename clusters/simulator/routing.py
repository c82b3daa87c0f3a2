"""Map Kubernetes REST paths to what they ask for.

The paths the official client uses: discovery (``/version``, ``/api``, ``/apis``, ``/api/v1``,
``/apis/<group>/<version>``), lists (all namespaces, one namespace, cluster-scoped), single
objects, ``pods/<name>/log``, and the subresources remediation writes to:
``pods/<name>/eviction`` and ``deployments/<name>/scale``. Anything else is None and the server
answers 404 like the apiserver does for paths it does not serve. Which method each route takes is
the server's business (``server.py``, ``writes.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

from clusters.kinds import RESOURCES, Resource

__all__ = ["Route", "route"]


@dataclass(frozen=True)
class Route:
    #: "version", "api", "apis", "group", "resources", "list", "get", "log", "eviction" or "scale".
    action: str
    resource: Resource | None = None
    namespace: str | None = None
    name: str | None = None
    group: str = ""
    version: str = ""


def route(path: str) -> Route | None:
    parts = [p for p in path.split("/") if p]
    if parts in (["version"], ["api"], ["apis"]):
        return Route(parts[0])
    if parts[:2] == ["api", "v1"]:
        return _group_path("", "v1", parts[2:])
    if parts[:1] == ["apis"] and len(parts) == 2:
        return Route("group", group=parts[1]) if _served(parts[1]) else None
    if parts[:1] == ["apis"] and len(parts) >= 3:
        return _group_path(parts[1], parts[2], parts[3:])
    return None


def _served(group: str, version: str = "v1") -> bool:
    return any(r.group == group and r.version == version for r in RESOURCES.values())


def _group_path(group: str, version: str, rest: list[str]) -> Route | None:
    if not _served(group, version):
        return None
    if not rest:
        return Route("resources", group=group, version=version)
    if rest[0] == "namespaces" and len(rest) >= 3:
        return _namespaced(group, version, rest[1], rest[2:])
    resource = _resource(group, version, rest[0])
    if resource is None or len(rest) > 2:
        return None
    if len(rest) == 1:
        return Route("list", resource)
    # /api/v1/pods/x does not exist: only cluster-scoped kinds are read without a namespace.
    return Route("get", resource, name=rest[1]) if not resource.namespaced else None


def _namespaced(group: str, version: str, namespace: str, rest: list[str]) -> Route | None:
    resource = _resource(group, version, rest[0])
    if resource is None or not resource.namespaced:
        return None
    if len(rest) == 1:
        return Route("list", resource, namespace)
    if len(rest) == 2:
        return Route("get", resource, namespace, rest[1])
    if len(rest) == 3 and resource.plural == "pods" and rest[2] in ("log", "eviction"):
        return Route(rest[2], resource, namespace, rest[1])
    if len(rest) == 3 and resource.plural == "deployments" and rest[2] == "scale":
        return Route("scale", resource, namespace, rest[1])
    return None


def _resource(group: str, version: str, plural: str) -> Resource | None:
    resource = RESOURCES.get(plural)
    if resource is None or resource.group != group or resource.version != version:
        return None
    return resource
