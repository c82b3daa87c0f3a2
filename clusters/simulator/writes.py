"""Answer the write requests remediation sends, as the API server would.

=======================================================  =========================================
``PATCH  /apis/apps/v1/namespaces/N/deployments/D``       strategic merge, merge or JSON patch
``GET|PATCH /apis/apps/v1/namespaces/N/deployments/D/scale``  an ``autoscaling/v1`` Scale
``PATCH  /api/v1/nodes/X``                                cordon / uncordon
``DELETE /api/v1/namespaces/N/pods/P``                    the pod, with its deletionTimestamp
``POST   /api/v1/namespaces/N/pods/P/eviction``           a policy/v1 Eviction; 201 Success Status
=======================================================  =========================================

Other methods on served paths are ``405 MethodNotAllowed``. Failures are ``Status`` bodies: 404
for a missing object, 415 for an unknown patch content type, 400/422 for a bad body or value.
"""

from __future__ import annotations

import json
from typing import Any

from clusters.simulator import status
from clusters.simulator.controller import Controller
from clusters.simulator.handlers import Response, json_response
from clusters.simulator.patching import PatchError, patch_kind
from clusters.simulator.routing import Route
from engine.sources import SourceError

__all__ = ["handle_write", "is_write"]

_WRITES = {("PATCH", "deployments", "get"), ("PATCH", "deployments", "scale"), ("GET", "deployments", "scale"),
           ("PATCH", "nodes", "get"), ("DELETE", "pods", "get"), ("POST", "pods", "eviction")}


def is_write(method: str, route: Route) -> bool:
    """Whether this request is one :func:`handle_write` answers (everything but plain reads)."""
    return method != "GET" or route.action in ("scale", "eviction")


def verb(method: str, route: Route) -> str:
    """The RBAC verb of a request (as the apiserver's authorizer names it)."""
    if method == "GET":
        return "list" if route.action == "list" else "get"
    return {"PATCH": "patch", "DELETE": "delete", "POST": "create", "PUT": "update"}.get(method, method.lower())


def handle_write(controller: Controller, method: str, route: Route, body: bytes, content_type: str | None) -> Response:
    plural = route.resource.plural if route.resource else ""
    if (method, plural, route.action) not in _WRITES:
        message = "the server does not allow this method on the requested resource"
        return json_response(status.status(405, "MethodNotAllowed", message, {}))
    ns, name = route.namespace or "", str(route.name)
    try:
        return _dispatch(controller, method, plural, route.action, ns, name, body, content_type)
    except PatchError as exc:
        return json_response(status.status(exc.code, exc.reason, str(exc), {"name": name, "kind": plural}))
    except SourceError as exc:
        if exc.status == 404 and route.resource is not None:
            return json_response(status.not_found(route.resource, name))
        return json_response(status.status(exc.status or 500, exc.reason, str(exc)))


def _dispatch(c: Controller, method: str, plural: str, action: str, ns: str, name: str, body: bytes,
              content_type: str | None) -> Response:
    if action == "scale":
        scale = c.get_scale(ns, name) if method == "GET" else c.patch_scale(ns, name, body, patch_kind(content_type))
        return json_response(scale, 200)
    if action == "eviction":
        _check_eviction(body, ns, name)
        c.evict_pod(ns, name)
        return json_response({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                              "code": 201}, 201)
    if method == "DELETE":
        return json_response(c.delete_pod(ns, name), 200)
    if plural == "nodes":
        return json_response(c.patch_node(name, body, patch_kind(content_type)), 200)
    return json_response(c.patch_deployment(ns, name, body, patch_kind(content_type)), 200)


def _check_eviction(body: bytes, ns: str, name: str) -> None:
    try:
        doc: Any = json.loads(body or b"{}")
    except ValueError as exc:
        raise PatchError(400, "BadRequest", f"error decoding Eviction: {exc}") from None
    md = (doc or {}).get("metadata") or {}
    if md.get("name") not in (None, name):
        raise PatchError(400, "BadRequest", f"name in URL does not match name in Eviction object: {md.get('name')}")
    if md.get("namespace") not in (None, "", ns):
        raise PatchError(400, "BadRequest", "namespace in URL does not match namespace in Eviction object")
