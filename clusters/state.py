"""One cluster's objects and logs held in memory, answering as its API server would.

A :class:`ClusterState` is what a dump becomes once loaded (``clusters.dump.load_dump``); both the
:class:`~clusters.dump.DumpSource` and the simulator query it, so they agree on ordering,
selectors, log options and error messages. Objects are v1 dicts and are never copied here:
callers that hand them out copy them.

Lists come sorted by namespace then name (the order etcd keys give a real apiserver), which also
makes ``continue`` pagination stable.

Writes (the simulator's PATCH/DELETE/eviction support, ``clusters.simulator.controller``) go
through :meth:`ClusterState.put` and :meth:`ClusterState.remove` under :attr:`ClusterState.lock`.
They are copy-on-write: a new object and a new list replace the old ones, so a reader that holds a
list or an object from before keeps a consistent snapshot. Every write takes the next
``resourceVersion`` (the object's and the state's).
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from clusters import logs, rfc3339
from clusters.kinds import Resource, resolve
from clusters.normalize import OPAQUE_MAPS, redact_secret
from clusters.selectors import SelectorError, matches, parse_field_selector, parse_label_selector
from engine.sources import SourceError

__all__ = ["ClusterState", "newest_timestamp"]

ObjectKey = tuple[str, str]  # (namespace or "", name)
LogIndex = Mapping[tuple[str, str], Mapping[str, logs.ContainerLog]]  # (namespace, pod) -> container -> log

#: Fields whose timestamps say when the cluster last saw something happen.
TIME_FIELDS = frozenset({
    "lastTimestamp", "firstTimestamp", "eventTime", "lastObservedTime", "creationTimestamp",
    "startedAt", "finishedAt", "startTime", "completionTime", "lastTransitionTime",
    "lastHeartbeatTime", "lastProbeTime", "lastUpdateTime", "lastScheduleTime",
})


class ClusterState:
    """The objects and container logs of one cluster at one moment (``captured_at``)."""

    def __init__(
        self,
        name: str,
        objects: Mapping[str, Iterable[dict[str, Any]]],
        *,
        logs: LogIndex | None = None,
        previous_logs: LogIndex | None = None,
        captured_at: datetime | None = None,
        resource_version: str = "1",
    ) -> None:
        self.name = name
        self.resource_version = resource_version
        self.lock = threading.RLock()  # held by writers; readers never need it (copy-on-write)
        self._version = int(resource_version) if str(resource_version).isdigit() else 1
        self._items: dict[str, list[dict[str, Any]]] = {}
        self._index: dict[str, dict[ObjectKey, dict[str, Any]]] = {}
        for kind, items in objects.items():
            self._store(resolve(kind), items)
        self.logs = dict(logs or {})
        self.previous_logs = dict(previous_logs or {})
        self.captured_at = captured_at or newest_timestamp(self.all_objects())

    def _store(self, resource: Resource, items: Iterable[dict[str, Any]]) -> None:
        if resource.plural == "secrets":
            # Whatever built this state, Secret values never enter it.
            items = [redact_secret(item) for item in items]
        ordered = sorted(items, key=_key)
        self._items[resource.plural] = ordered
        self._index[resource.plural] = {_key(item): item for item in ordered}

    # -- writes (copy-on-write; callers hold ``lock`` across read-modify-write) ------------------

    def next_version(self) -> str:
        """A new, larger resourceVersion, which also becomes the state's (lists and continue tokens)."""
        with self.lock:
            self._version += 1
            self.resource_version = str(self._version)
            return self.resource_version

    def put(self, kind: str, obj: dict[str, Any]) -> dict[str, Any]:
        """Create or replace an object (keyed by namespace and name); returns it with its new resourceVersion."""
        resource = _resource(kind)
        with self.lock:
            obj = {**obj, "metadata": {**(obj.get("metadata") or {}), "resourceVersion": self.next_version()}}
            if resource.plural == "secrets":
                obj = redact_secret(obj)
            key = _key(obj)
            items = [i for i in self._items.get(resource.plural, []) if _key(i) != key]
            bisect.insort(items, obj, key=_key)
            index = dict(self._index.get(resource.plural, {}))
            index[key] = obj
            self._items[resource.plural], self._index[resource.plural] = items, index
            return obj

    def remove(self, kind: str, namespace: str | None, name: str) -> dict[str, Any]:
        """Delete an object; SourceError 404 when it does not exist. Returns the removed object."""
        resource = _resource(kind)
        with self.lock:
            gone = self.get(resource.plural, namespace, name)
            key = _key(gone)
            self._items[resource.plural] = [i for i in self._items[resource.plural] if _key(i) != key]
            index = dict(self._index[resource.plural])
            index.pop(key, None)
            self._index[resource.plural] = index
            self.next_version()
            return gone

    def all_objects(self) -> Iterable[dict[str, Any]]:
        for items in self._items.values():
            yield from items

    def kinds(self) -> list[str]:
        return sorted(self._items)

    def list(
        self,
        kind: str,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> list[dict[str, Any]]:
        """Matching objects (shared, not copied); ``namespace=None`` means all namespaces."""
        resource = _resource(kind)
        try:
            labels = parse_label_selector(label_selector)
            fields = parse_field_selector(field_selector, resource.plural)
        except SelectorError as exc:
            raise SourceError(str(exc), status=400, reason="BadRequest") from exc
        items = self._items.get(resource.plural, [])
        if namespace and resource.namespaced:
            items = [i for i in items if _key(i)[0] == namespace]
        return [i for i in items if matches(i, resource.plural, labels, fields)]

    def get(self, kind: str, namespace: str | None, name: str) -> dict[str, Any]:
        """One object (shared, not copied); SourceError 404 like the apiserver's when absent."""
        resource = _resource(kind)
        if resource.namespaced and not namespace:
            raise SourceError(f"{resource.plural} are namespaced: a namespace is required", status=400, reason="BadRequest")
        key = (namespace if resource.namespaced else "", name)
        found = self._index.get(resource.plural, {}).get(key)
        if found is None:
            raise SourceError(f'{resource.qualified} "{name}" not found', status=404, reason="NotFound")
        return found

    def server_version(self) -> str | None:
        """The kubelet version of the first node: the closest a dump comes to a server version."""
        for node in self._items.get("nodes", []):
            version = ((node.get("status") or {}).get("nodeInfo") or {}).get("kubeletVersion")
            if version:
                return str(version)
        return None

    def read_log(
        self,
        namespace: str,
        pod: str,
        container: str | None = None,
        *,
        previous: bool = False,
        tail_lines: int | None = None,
        since_seconds: int | None = None,
        since_time: datetime | None = None,
        timestamps: bool = False,
        limit_bytes: int | None = None,
    ) -> str:
        """A container's log as ``GET pods/{pod}/log`` would answer at ``captured_at``."""
        _check_log_options(pod, tail_lines, since_seconds, limit_bytes)
        container = self._container(namespace, pod, container)
        log = self._captured_log(namespace, pod, container, previous)
        return logs.render(
            log,
            captured_at=self.captured_at,
            tail_lines=tail_lines,
            since_seconds=since_seconds,
            since_time=since_time,
            timestamps=timestamps,
            limit_bytes=limit_bytes,
        )

    def _container(self, namespace: str, pod: str, container: str | None) -> str:
        spec = self.get("pods", namespace, pod).get("spec") or {}
        names = [c.get("name") for key in ("initContainers", "containers", "ephemeralContainers")
                 for c in spec.get(key) or []]
        if not container:
            app = [c.get("name") for c in spec.get("containers") or []]
            if len(app) == 1:
                return str(app[0])
            raise SourceError(
                f"a container name must be specified for pod {pod}, choose one of: [{' '.join(map(str, names))}]",
                status=400,
                reason="BadRequest",
            )
        if container not in names:
            raise SourceError(f"container {container} is not valid for pod {pod}", status=400, reason="BadRequest")
        return container

    def _captured_log(self, namespace: str, pod: str, container: str, previous: bool) -> str:
        index = self.previous_logs if previous else self.logs
        log = (index.get((namespace, pod)) or {}).get(container)
        if log is None and previous:
            raise SourceError(
                f'previous terminated container "{container}" in pod "{pod}" not found',
                status=400,
                reason="BadRequest",
            )
        if log is None:
            raise SourceError(
                f'no logs captured for container "{container}" in pod "{pod}": not in the dump',
                status=404,
                reason="NotFound",
            )
        if log.text is None:
            status = _recorded_error_status(log.error or "")
            raise SourceError(log.error or "logs unavailable", status=status)
        return log.text


def _resource(kind: str) -> Resource:
    try:
        return resolve(kind)
    except KeyError:
        raise SourceError("the server could not find the requested resource", status=404, reason="NotFound") from None


def _key(item: Mapping[str, Any]) -> ObjectKey:
    metadata = item.get("metadata") or {}
    return (str(metadata.get("namespace") or ""), str(metadata.get("name") or ""))


def _check_log_options(pod: str, tail_lines: int | None, since_seconds: int | None, limit_bytes: int | None) -> None:
    # The apiserver validates PodLogOptions before it asks the kubelet anything.
    problems = [
        f"{name}: Invalid value: {value}: must be {bound}"
        for name, value, bound, ok in (
            ("tailLines", tail_lines, "greater than or equal to 0", tail_lines is None or tail_lines >= 0),
            ("sinceSeconds", since_seconds, "greater than 0", since_seconds is None or since_seconds > 0),
            ("limitBytes", limit_bytes, "greater than 0", limit_bytes is None or limit_bytes > 0),
        )
        if not ok
    ]
    if problems:
        raise SourceError(f'PodLogOptions "{pod}" is invalid: {", ".join(problems)}', status=400, reason="BadRequest")


def _recorded_error_status(error: str) -> int:
    """The status the apiserver most likely gave when the dump's log request failed."""
    waiting = ("waiting to start", "ContainerCreating", "PodInitializing", "is terminated", "BadRequest")
    return 400 if any(marker in error for marker in waiting) else 500


def newest_timestamp(objects: Iterable[Mapping[str, Any]]) -> datetime | None:
    """The latest event, condition, container-state or creation time found in ``objects``."""
    newest: datetime | None = None
    for obj in objects:
        for stamp in _timestamps(obj):
            if newest is None or stamp > newest:
                newest = stamp
    return newest


def _timestamps(value: Any) -> Iterable[datetime]:
    if isinstance(value, list):
        for child in value:
            yield from _timestamps(child)
    elif isinstance(value, Mapping):
        for key, child in value.items():
            if key in OPAQUE_MAPS:
                continue  # annotations may hold any date; only API fields say what happened
            if key in TIME_FIELDS:
                parsed = rfc3339.parse(child)
                if parsed is not None:
                    yield parsed
            elif isinstance(child, (dict, list)):
                yield from _timestamps(child)
