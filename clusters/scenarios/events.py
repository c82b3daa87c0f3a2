"""Events in the two shapes a core/v1 list returns, with the kubelet's and controllers' messages.

* Legacy recorder (kubelet, deployment/replicaset/node controllers): ``source``,
  ``firstTimestamp``/``lastTimestamp``/``count``, ``eventTime: null``.
* events.k8s.io recorder (kube-scheduler): ``eventTime`` in microseconds, ``series`` for repeats,
  ``action``, ``source: {}`` and null first/last timestamps.

Names are ``<involved object>.<UnixNano of creation in hex>``, as the recorders make them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ._time import micro, nano_hex, rfc3339

__all__ = ["Involved", "legacy_event", "scheduler_event"]


@dataclass(frozen=True)
class Involved:
    """An ``involvedObject`` reference."""

    kind: str
    name: str
    uid: str
    namespace: str = ""  # cluster-scoped objects (Nodes) have none; their events live in "default"
    api_version: str = "v1"
    resource_version: str = ""
    field_path: str = ""

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {"kind": self.kind}
        if self.namespace:
            d["namespace"] = self.namespace
        d.update(name=self.name, uid=self.uid, apiVersion=self.api_version)
        if self.resource_version:
            d["resourceVersion"] = self.resource_version
        if self.field_path:
            d["fieldPath"] = self.field_path
        return d

    @property
    def event_namespace(self) -> str:
        return self.namespace or "default"

    def container(self, name: str, *, init: bool = False) -> Involved:
        kind = "initContainers" if init else "containers"
        return Involved(self.kind, self.name, self.uid, self.namespace, self.api_version,
                        self.resource_version, f"spec.{kind}{{{name}}}")


def _meta(inv: Involved, created: datetime, uid: str, rv: str) -> dict[str, Any]:
    # The recorder names the event after time.Now() in nanoseconds; add the digits a datetime lacks.
    nanos = int(uid.replace("-", "")[:6], 16) % 1_000_000 if created.microsecond == 0 else int(uid[:3], 16) % 1000
    return {"name": f"{inv.name}.{nano_hex(created, nanos)}", "namespace": inv.event_namespace, "uid": uid,
            "resourceVersion": rv, "creationTimestamp": rfc3339(created)}


def legacy_event(inv: Involved, *, reason: str, message: str, type_: str, component: str, host: str = "",
                 first: datetime, last: datetime | None = None, count: int = 1, uid: str,
                 rv: str) -> dict[str, Any]:
    """An event from a ``record.EventRecorder`` (kubelet, controller-manager)."""
    last = last or first
    source: dict[str, str] = {"component": component}
    if host:
        source["host"] = host
    return {
        "metadata": _meta(inv, first, uid, rv),
        "involvedObject": inv.to_json(),
        "reason": reason,
        "message": message,
        "source": source,
        "firstTimestamp": rfc3339(first),
        "lastTimestamp": rfc3339(last),
        "count": count,
        "type": type_,
        "eventTime": None,
        "reportingComponent": component,
        "reportingInstance": host,
    }


def scheduler_event(inv: Involved, *, reason: str, message: str, type_: str, action: str, instance: str,
                    first: datetime, last: datetime | None = None, count: int = 1, uid: str,
                    rv: str) -> dict[str, Any]:
    """An events.k8s.io event from kube-scheduler, as read through core/v1."""
    d: dict[str, Any] = {
        "metadata": _meta(inv, first, uid, rv),
        "involvedObject": inv.to_json(),
        "reason": reason,
        "message": message,
        "source": {},
        "firstTimestamp": None,
        "lastTimestamp": None,
        "type": type_,
        "eventTime": micro(first),
    }
    if count > 1 and last is not None:
        d["series"] = {"count": count, "lastObservedTime": micro(last)}
    d.update(action=action, reportingComponent="default-scheduler", reportingInstance=instance)
    return d
