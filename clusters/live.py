"""A live API server as a cluster source, through the official ``kubernetes`` client (v37).

Every call passes ``_preload_content=False`` and decodes the body itself, so callers get the
server's v1 JSON exactly (camelCase, RFC 3339 strings) instead of the client's pydantic models:
the same shapes a dump produces. Items of a list get the ``kind``/``apiVersion`` the server leaves
out of typed lists, so every object from any source carries both.

Errors become :class:`engine.sources.SourceError`: ``ApiException`` keeps its HTTP status and the
``Status`` body's reason and message; transport failures and timeouts have status None. Each
request has its own timeout and no client-side retries (the collector decides about retrying).

:class:`LiveWriter` (``LiveSource.writer()``) is the :class:`engine.writer.ClusterWriter` runbook
remediation uses in ``auto`` mode, on the same ApiClient: the patches ``kubectl`` sends (strategic
merge for set image / set resources / cordon, JSON patch for rollout undo, merge patch on the
``scale`` subresource), pod deletes, and ``policy/v1`` Evictions.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import urllib3
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from clusters.kinds import Resource, resolve
from engine.sources import SourceError
from engine.writer import PatchType

__all__ = ["LiveSource", "LiveWriter"]

DEFAULT_TIMEOUT_S = 10.0
DEFAULT_PAGE_SIZE = 500

_APIS: dict[str, Callable[[client.ApiClient], Any]] = {
    "": client.CoreV1Api,
    "apps": client.AppsV1Api,
    "batch": client.BatchV1Api,
}


class LiveSource:
    """A :class:`engine.sources.ClusterSource` over one API server."""

    def __init__(
        self,
        name: str,
        api_client: client.ApiClient,
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> None:
        self.name = name
        self.api_client = api_client
        self.timeout_s = float(timeout_s)
        self.page_size = int(page_size)
        self._apis = {group: make(api_client) for group, make in _APIS.items()}

    @classmethod
    def from_kubeconfig(
        cls,
        path: str | Path,
        context: str,
        name: str | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> LiveSource:
        """A source for one kubeconfig context, with its own ApiClient (no global config)."""
        api_client = config.new_client_from_config(
            config_file=str(path), context=context, persist_config=False, client_configuration=_configuration()
        )
        return cls(name or context, api_client, timeout_s=timeout_s, page_size=page_size)

    @classmethod
    def in_cluster(
        cls, name: str, timeout_s: float = DEFAULT_TIMEOUT_S, page_size: int = DEFAULT_PAGE_SIZE
    ) -> LiveSource:
        """A source for the cluster this process runs in, through its service account."""
        configuration = _configuration()
        config.load_incluster_config(client_configuration=configuration)
        return cls(name, client.ApiClient(configuration), timeout_s=timeout_s, page_size=page_size)

    def close(self) -> None:
        self.api_client.close()

    def writer(self) -> LiveWriter:
        """The writes remediation may make, through this source's client (never used by collection)."""
        return LiveWriter(self)

    # -- ClusterSource -----------------------------------------------------------------------

    def list(
        self,
        kind: str,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> list[dict[str, Any]]:
        resource = _resource(kind)
        method, args = self._list_method(resource, namespace)
        selectors = {k: v for k, v in (("label_selector", label_selector), ("field_selector", field_selector)) if v}
        try:
            return self._all_pages(resource, method, args, selectors)
        except SourceError as exc:
            if exc.status != 410:
                raise
            # The continue token expired mid-list: start over once from a fresh snapshot.
            return self._all_pages(resource, method, args, selectors)

    def get(self, kind: str, namespace: str | None, name: str) -> dict[str, Any]:
        resource = _resource(kind)
        api = self._apis[resource.group]
        if resource.namespaced:
            if not namespace:
                raise SourceError(f"{resource.plural} are namespaced: a namespace is required", status=400)
            call = getattr(api, f"read_namespaced_{resource.snake}")
            return self._json(call, name, namespace)
        return self._json(getattr(api, f"read_{resource.snake}"), name)

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
        # The v37 client validates strictly: ints must be ints, bools bools.
        options: dict[str, Any] = {"container": str(container), "previous": bool(previous), "timestamps": bool(timestamps)}
        if tail_lines is not None:
            options["tail_lines"] = int(tail_lines)
        if since_seconds is not None:
            options["since_seconds"] = int(since_seconds)
        body = self._call(self._apis[""].read_namespaced_pod_log, pod, namespace, **options)
        return body.decode("utf-8", errors="replace")

    def captured_at(self) -> datetime | None:
        return None  # a live cluster is read as of now

    # -- plumbing -----------------------------------------------------------------------------

    def _list_method(self, resource: Resource, namespace: str | None) -> tuple[Callable[..., Any], tuple[str, ...]]:
        api = self._apis[resource.group]
        if not resource.namespaced:
            return getattr(api, f"list_{resource.snake}"), ()
        if namespace:
            return getattr(api, f"list_namespaced_{resource.snake}"), (namespace,)
        return getattr(api, f"list_{resource.snake}_for_all_namespaces"), ()

    def _all_pages(
        self, resource: Resource, method: Callable[..., Any], args: tuple[str, ...], selectors: dict[str, str]
    ) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            paging: dict[str, Any] = {"limit": self.page_size}
            if token:
                paging["_continue"] = token
            page = self._json(method, *args, **selectors, **paging)
            kind = str(page.get("kind") or resource.list_kind).removesuffix("List")
            api_version = page.get("apiVersion") or resource.api_version
            items += [_typed(item, kind, api_version) for item in page.get("items") or []]
            token = (page.get("metadata") or {}).get("continue")
            if not token:
                return items

    def _json(self, method: Callable[..., Any], *args: Any, **kwargs: Any) -> dict[str, Any]:
        body = self._call(method, *args, **kwargs)
        try:
            decoded = json.loads(body)
        except ValueError as exc:
            raise SourceError(f"{self.name}: response is not JSON: {exc}", status=None, reason="BadResponse") from exc
        if not isinstance(decoded, dict):
            raise SourceError(f"{self.name}: expected a JSON object", status=None, reason="BadResponse")
        return decoded

    def _call(self, method: Callable[..., Any], *args: Any, **kwargs: Any) -> bytes:
        try:
            response = method(*args, _preload_content=False, _request_timeout=self.timeout_s, **kwargs)
            try:
                return bytes(response.data)
            finally:
                response.release_conn()
        except ApiException as exc:
            raise _api_error(self.name, exc) from exc
        except (urllib3.exceptions.HTTPError, OSError) as exc:  # OSError covers socket timeouts
            raise _transport_error(self.name, exc) from exc


_PATCH_TYPES: dict[str, str] = {
    "strategic": "application/strategic-merge-patch+json",
    "merge": "application/merge-patch+json",
    "json": "application/json-patch+json",
}


class LiveWriter:
    """A :class:`engine.writer.ClusterWriter` over one API server (see the module docstring)."""

    def __init__(self, source: LiveSource) -> None:
        self.source = source
        self.name = source.name
        self._core, self._apps = source._apis[""], source._apis["apps"]

    def patch_deployment(self, namespace: str, name: str, patch: Any, *,
                         patch_type: PatchType = "strategic") -> dict[str, Any]:
        return self.source._json(self._apps.patch_namespaced_deployment, name, namespace, patch,
                                 _content_type=_content_type(patch_type))

    def patch_node(self, name: str, patch: Any, *, patch_type: PatchType = "strategic") -> dict[str, Any]:
        return self.source._json(self._core.patch_node, name, patch, _content_type=_content_type(patch_type))

    def scale_deployment(self, namespace: str, name: str, replicas: int) -> dict[str, Any]:
        return self.source._json(self._apps.patch_namespaced_deployment_scale, name, namespace,
                                 {"spec": {"replicas": int(replicas)}}, _content_type=_PATCH_TYPES["merge"])

    def delete_pod(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self.source._json(self._core.delete_namespaced_pod, name, namespace)

    def evict_pod(self, namespace: str, name: str) -> None:
        eviction = client.V1Eviction(api_version="policy/v1", kind="Eviction",
                                     metadata=client.V1ObjectMeta(name=name, namespace=namespace))
        self.source._call(self._core.create_namespaced_pod_eviction, name, namespace, eviction)


def _content_type(patch_type: str) -> str:
    try:
        return _PATCH_TYPES[patch_type]
    except KeyError:
        raise ValueError(f"patch_type must be one of {', '.join(_PATCH_TYPES)}, not {patch_type!r}") from None


def _configuration() -> client.Configuration:
    configuration = client.Configuration()
    # No urllib3 retries: a hung server would otherwise cost four timeouts, not one, and a 429's
    # Retry-After would be slept through here instead of reported to the collector.
    configuration.retries = False
    return configuration


def _resource(kind: str) -> Resource:
    try:
        return resolve(kind)
    except KeyError:
        raise SourceError(f"unknown kind {kind!r}", status=404, reason="NotFound") from None


def _typed(item: dict[str, Any], kind: str, api_version: str) -> dict[str, Any]:
    rest = {k: v for k, v in item.items() if k not in ("kind", "apiVersion")}
    return {"kind": item.get("kind") or kind, "apiVersion": item.get("apiVersion") or api_version, **rest}


def _api_error(cluster: str, exc: ApiException) -> SourceError:
    # status 0 is the client's way of saying "no HTTP answer" (e.g. a TLS failure).
    code = int(exc.status) if exc.status else None
    reason, message = str(exc.reason or ""), str(exc.reason or "request failed")
    try:
        body = json.loads(exc.body or "")
    except (TypeError, ValueError):
        body = None
    if isinstance(body, dict) and body.get("kind") == "Status":
        reason = str(body.get("reason") or reason)
        message = str(body.get("message") or message)
    return SourceError(f"{cluster}: {message}", status=code, reason=reason if code else "")


def _transport_error(cluster: str, exc: BaseException) -> SourceError:
    cause = exc.reason if isinstance(exc, urllib3.exceptions.MaxRetryError) and exc.reason else exc
    # NewConnectionError subclasses ConnectTimeoutError in urllib3, yet a refusal is no timeout.
    refused = isinstance(cause, urllib3.exceptions.NewConnectionError)
    timed_out = not refused and isinstance(cause, (urllib3.exceptions.TimeoutError, TimeoutError))
    reason = "Timeout" if timed_out else "Unreachable"
    return SourceError(f"{cluster}: {reason.lower()}: {exc}", status=None, reason=reason)
