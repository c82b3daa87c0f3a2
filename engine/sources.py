"""The ClusterSource protocol: what the collectors need from a cluster.

A source is a live API server (``clusters.live``), a ``kubectl cluster-info dump`` directory
(``clusters.dump``) or the fleet simulator reached through the live source. Every object is
returned as Kubernetes v1 JSON (camelCase keys, ``metadata``/``spec``/``status``), exactly as the
API server serialises it, so dumps and live clusters feed the collectors the same shapes.

Errors: every failure is a :class:`SourceError` carrying the HTTP status when there is one, so
the collector can record it as partial evidence (404 not found, 403 forbidden, 410 gone,
429 throttled, 5xx server, ``None`` for transport failures and timeouts).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol, runtime_checkable

__all__ = ["KINDS", "ClusterSource", "SourceError"]

#: Resource kinds the collectors ask for, by their lowercase plural REST name.
KINDS = (
    "pods",
    "events",
    "nodes",
    "replicasets",
    "deployments",
    "statefulsets",
    "daemonsets",
    "jobs",
    "configmaps",
)


class SourceError(Exception):
    """A call to a cluster source failed.

    ``status`` is the HTTP status (404, 403, 410, 429, 500, ...) or ``None`` when the cluster could
    not be reached or timed out. ``retryable`` says whether trying again may help.
    """

    def __init__(self, message: str, *, status: int | None = None, reason: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason or _reason_for(status)

    @property
    def retryable(self) -> bool:
        return self.status is None or self.status == 429 or self.status >= 500

    @property
    def not_found(self) -> bool:
        return self.status == 404


def _reason_for(status: int | None) -> str:
    return {
        None: "Unreachable",
        400: "BadRequest",
        401: "Unauthorized",
        403: "Forbidden",
        404: "NotFound",
        410: "Expired",
        429: "TooManyRequests",
        500: "InternalError",
        503: "ServiceUnavailable",
        504: "Timeout",
    }.get(status, "Error")


@runtime_checkable
class ClusterSource(Protocol):
    """Read-only access to one cluster's objects and logs."""

    name: str

    def list(
        self,
        kind: str,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> list[dict[str, Any]]:
        """List objects of ``kind`` (a name from :data:`KINDS`); ``namespace=None`` means all."""
        ...

    def get(self, kind: str, namespace: str | None, name: str) -> dict[str, Any]:
        """One object; raises :class:`SourceError` with status 404 when it does not exist."""
        ...

    def read_log(
        self,
        namespace: str,
        pod: str,
        container: str,
        *,
        previous: bool = False,
        tail_lines: int | None = None,
        since_seconds: int | None = None,
        timestamps: bool = False,
    ) -> str:
        """A container's log text (the previous instance's when ``previous``)."""
        ...

    def captured_at(self) -> datetime | None:
        """The moment the source's state was taken (a dump's newest timestamp); None when live."""
        ...
