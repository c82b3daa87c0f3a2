"""``Status`` bodies exactly as the API server writes them for failed requests.

The official client raises ``ApiException`` with the HTTP status and keeps this body, and callers
(``kubectl``, our ``LiveSource``) read ``reason`` and ``message`` from it, so the shapes and the
message wording follow kube-apiserver (``k8s.io/apimachinery/pkg/api/errors``, RBAC authorizer).
"""

from __future__ import annotations

from typing import Any

from clusters.kinds import Resource

__all__ = ["COLLECTOR_USER", "forbidden", "not_found", "resource_not_found", "status"]

#: The identity the simulator pretends the caller has, as RBAC messages name it.
COLLECTOR_USER = "system:serviceaccount:fleetsre:collector"


def status(code: int, reason: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
    }
    if details is not None:
        body["details"] = details
    body["code"] = code
    return body


def _details(resource: Resource, name: str | None) -> dict[str, Any]:
    details: dict[str, Any] = {}
    if name:
        details["name"] = name
    if resource.group:
        details["group"] = resource.group
    details["kind"] = resource.plural
    return details


def not_found(resource: Resource, name: str) -> dict[str, Any]:
    return status(404, "NotFound", f'{resource.qualified} "{name}" not found', _details(resource, name))


def resource_not_found() -> dict[str, Any]:
    """What the apiserver says for a path it does not serve."""
    return status(404, "NotFound", "the server could not find the requested resource", {})


def forbidden(
    resource: Resource, verb: str, namespace: str | None, name: str | None, subresource: str | None = None
) -> dict[str, Any]:
    """An RBAC denial: ``pods "x" is forbidden: User "..." cannot get resource "pods" ...``."""
    subject = f'{resource.qualified} "{name}"' if name else resource.qualified
    rbac_resource = f"{resource.plural}/{subresource}" if subresource else resource.plural
    scope = f'in the namespace "{namespace}"' if namespace else "at the cluster scope"
    message = (
        f'{subject} is forbidden: User "{COLLECTOR_USER}" cannot {verb} resource "{rbac_resource}" '
        f'in API group "{resource.group}" {scope}'
    )
    return status(403, "Forbidden", message, _details(resource, name))
