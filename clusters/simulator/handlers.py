"""Answer one read request against one cluster's state: plain functions, no sockets.

Lists are ``<Kind>List`` objects with ``metadata.resourceVersion`` and ``continue`` pagination;
their items carry no ``kind``/``apiVersion`` (a real apiserver omits them in typed lists), single
objects do. Logs are ``text/plain``. Every failure is a ``Status`` object with the apiserver's
reason, message and code.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from clusters import rfc3339
from clusters.kinds import RESOURCES, Resource
from clusters.simulator import status
from clusters.simulator.routing import Route
from clusters.state import ClusterState
from engine.sources import SourceError

__all__ = ["Response", "handle", "json_response"]

_EXPIRED = (
    "The provided continue parameter is too old to display a consistent list result. You can start "
    "a new list without the continue parameter, or use the continue token in this response to "
    "retrieve the remainder of the results."
)


@dataclass
class Response:
    code: int
    body: bytes
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


def json_response(body: Mapping[str, Any], code: int | None = None) -> Response:
    return Response(code or int(body.get("code", 200)), orjson.dumps(body))


class BadRequest(Exception):
    """A query parameter the apiserver would reject."""


def handle(state: ClusterState, route: Route, query: Mapping[str, str], server_address: str) -> Response:
    """The response to ``GET <route>?<query>`` for a cluster in ``state``."""
    try:
        if route.action == "log":
            return _log(state, route, query)
        if route.action in ("list", "get"):
            return _objects(state, route, query)
        return json_response(_discovery(state, route, server_address), 200)
    except BadRequest as exc:
        return json_response(status.status(400, "BadRequest", str(exc)))
    except SourceError as exc:
        return json_response(_source_error(exc, route))


def _source_error(exc: SourceError, route: Route) -> dict[str, Any]:
    code = exc.status or 500
    if code == 404 and route.resource is not None and route.name and route.action != "log":
        return status.not_found(route.resource, route.name)
    details = {"name": route.name, "kind": "pods"} if code == 404 and route.name else None
    return status.status(code, exc.reason, str(exc), details)


def _objects(state: ClusterState, route: Route, query: Mapping[str, str]) -> Response:
    resource = route.resource
    assert resource is not None
    if _flag(query, "watch"):
        raise BadRequest("watch is not supported by the fleetsre simulator")
    if route.action == "get":
        obj = state.get(resource.plural, route.namespace, str(route.name))
        return json_response({"kind": resource.kind, "apiVersion": resource.api_version, **obj}, 200)
    items = state.list(
        resource.plural,
        route.namespace,
        label_selector=query.get("labelSelector"),
        field_selector=query.get("fieldSelector"),
    )
    return json_response(_list_body(state, resource, items, query), 200)


def _list_body(
    state: ClusterState, resource: Resource, items: list[dict[str, Any]], query: Mapping[str, str]
) -> dict[str, Any]:
    start = _continue_start(query.get("continue"), state.resource_version)
    if start is not None:
        items = [i for i in items if _key(i) > start]
    limit = _int(query, "limit", minimum=0) or 0
    page, rest = (items[:limit], items[limit:]) if limit else (items, [])
    metadata: dict[str, Any] = {"resourceVersion": state.resource_version}
    if rest:
        metadata["continue"] = _continue_token(state.resource_version, _key(page[-1]))
        # The apiserver only counts what is left when no selector makes counting expensive.
        if not query.get("labelSelector") and not query.get("fieldSelector"):
            metadata["remainingItemCount"] = len(rest)
    return {
        "kind": resource.list_kind,
        "apiVersion": resource.api_version,
        "metadata": metadata,
        "items": [{k: v for k, v in i.items() if k not in ("kind", "apiVersion")} for i in page],
    }


def _key(item: Mapping[str, Any]) -> str:
    metadata = item.get("metadata") or {}
    # NUL sorts before any name character, so "ns/a" < "ns/a-b" holds as in etcd key order.
    return f"{metadata.get('namespace') or ''}\x00{metadata.get('name') or ''}"


def _continue_token(resource_version: str, last_key: str) -> str:
    token = {"v": "meta.k8s.io/v1", "rv": resource_version, "start": last_key}
    return base64.urlsafe_b64encode(json.dumps(token).encode()).decode()


def _continue_start(token: str | None, resource_version: str) -> str | None:
    if not token:
        return None
    try:
        decoded = json.loads(base64.urlsafe_b64decode(token.encode()))
        start, token_version = str(decoded["start"]), str(decoded["rv"])
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise BadRequest(f"continue key is not valid: {exc}") from None
    if token_version != resource_version:
        raise SourceError(_EXPIRED, status=410, reason="Expired")
    return start


def _log(state: ClusterState, route: Route, query: Mapping[str, str]) -> Response:
    since_time = query.get("sinceTime")
    if since_time and query.get("sinceSeconds"):
        raise BadRequest("at most one of sinceTime or sinceSeconds may be specified")
    parsed_since = rfc3339.parse(since_time) if since_time else None
    if since_time and parsed_since is None:
        raise BadRequest(f'parsing time "{since_time}" as RFC3339: cannot parse')
    text = state.read_log(
        str(route.namespace),
        str(route.name),
        query.get("container") or None,
        previous=_flag(query, "previous"),
        tail_lines=_int(query, "tailLines"),
        since_seconds=_int(query, "sinceSeconds"),
        since_time=parsed_since,
        timestamps=_flag(query, "timestamps"),
        limit_bytes=_int(query, "limitBytes"),
    )
    return Response(200, text.encode(), "text/plain")


def _flag(query: Mapping[str, str], name: str) -> bool:
    return query.get(name, "").lower() in ("true", "1")


def _int(query: Mapping[str, str], name: str, minimum: int | None = None) -> int | None:
    raw = query.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f'{name}: Invalid value: "{raw}": must be an integer') from None
    if minimum is not None and value < minimum:
        raise BadRequest(f"{name}: Invalid value: {value}: must be greater than or equal to {minimum}")
    return value


def _discovery(state: ClusterState, route: Route, server_address: str) -> dict[str, Any]:
    if route.action == "version":
        return _version(state.server_version() or "v1.0.0")
    if route.action == "api":
        cidrs = [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}]
        return {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": cidrs}
    if route.action == "apis":
        groups = sorted({r.group for r in RESOURCES.values() if r.group})
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [_group(g) for g in groups]}
    if route.action == "group":
        return {"kind": "APIGroup", "apiVersion": "v1", **_group(route.group)}
    return _resource_list(route.group, route.version)


def _version(git_version: str) -> dict[str, str]:
    major, _, rest = git_version.lstrip("v").partition(".")
    minor = rest.split(".")[0]
    return {
        "major": major,
        "minor": minor,
        "gitVersion": git_version,
        "gitCommit": "",
        "gitTreeState": "clean",
        "buildDate": "",
        "goVersion": "",
        "compiler": "gc",
        "platform": "linux/amd64",
    }


def _group(group: str) -> dict[str, Any]:
    version = {"groupVersion": f"{group}/v1", "version": "v1"}
    return {"name": group, "versions": [version], "preferredVersion": version}


def _resource_list(group: str, version: str) -> dict[str, Any]:
    resources: list[dict[str, Any]] = []
    for r in RESOURCES.values():
        if r.group == group and r.version == version:
            entry = {"name": r.plural, "singularName": r.kind.lower(), "namespaced": r.namespaced, "kind": r.kind}
            resources.append({**entry, "verbs": ["get", "list"]})
            if r.plural == "pods":
                resources.append({**entry, "name": "pods/log", "singularName": "", "verbs": ["get"]})
    group_version = f"{group}/{version}" if group else version
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": resources}
