"""The files of a dump directory as ``kubectl cluster-info dump`` writes them, plus fleetsre's side files.

- Lists: ``{"kind": "PodList", "apiVersion": "v1", "metadata": {"resourceVersion": ..}, "items": [..]}``
  printed like Go's ``json.MarshalIndent(obj, "", "    ")`` (HTML-safe escapes, trailing newline);
  items carry no ``kind``/``apiVersion`` (typed lists omit them) and an empty list is ``null``.
- Log blocks: ``==== START logs for container <c> of pod <ns>/<pod> ====\\n<logs>==== END ...====\\n``;
  a failed read is the line ``Request log error: <message>`` inside the block.

What leaves the cluster is scrubbed here too (``clusters/DUMP_FORMAT.md``): ConfigMaps keep their
data KEYS only, env var values whose name says secret are masked, and log text goes through
:func:`engine.redact.redact`.
"""

from __future__ import annotations

import json
import re
from typing import Any

from clusters.kinds import Resource
from clusters.normalize import LAST_APPLIED
from engine.redact import redact

__all__ = ["ERROR_PREFIXES", "MASK", "keys_only", "list_document", "log_block", "go_json", "scrub", "scrub_log"]

MASK = "[REDACTED]"
ERROR_PREFIXES = ("Create log request error: ", "Request log error: ")

_GO_ESCAPES = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"})
_SECRET_NAME = re.compile(r"(?i)(password|passwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|credential)")
_CONTAINER_LISTS = ("containers", "initContainers", "ephemeralContainers")
_NOT_SECRETS = frozenset({"", "true", "false", "yes", "no", "on", "off", "enabled", "disabled"})


def go_json(document: Any) -> str:
    """``json.MarshalIndent(document, "", "    ")`` plus the newline kubectl's printer adds."""
    return json.dumps(document, ensure_ascii=False, indent=4).translate(_GO_ESCAPES) + "\n"


def list_document(resource: Resource, items: list[dict[str, Any]], resource_version: str) -> dict[str, Any]:
    """A ``<Kind>List`` as kubectl prints it: typed items without kind/apiVersion, ``null`` when empty."""
    bare = [{k: v for k, v in item.items() if k not in ("kind", "apiVersion")} for item in items]
    return {
        "kind": resource.list_kind,
        "apiVersion": resource.api_version,
        "metadata": {"resourceVersion": resource_version},
        "items": bare or None,
    }


def log_block(namespace: str, pod: str, container: str, text: str | None, error: str | None = None) -> str:
    """One container's block; ``error`` (a failed read) becomes kubectl's ``Request log error:`` line."""
    where = f"container {container} of pod {namespace}/{pod}"
    body = text or ""
    if error is not None:
        line = error if error.startswith(ERROR_PREFIXES) else f"Request log error: {error}"
        body += line.rstrip("\n") + "\n"
    return f"==== START logs for {where} ====\n{body}==== END logs for {where} ====\n"


def scrub_log(text: str) -> str:
    """Log text with tokens, URL passwords, keys and JWTs masked (``engine.redact``)."""
    return redact(text) or ""


def keys_only(configmap: dict[str, Any]) -> dict[str, Any]:
    """A ConfigMap with its ``data``/``binaryData`` keys kept and every value ``""``."""
    out = {k: v for k, v in configmap.items() if k not in ("data", "binaryData")}
    for field in ("data", "binaryData"):
        if configmap.get(field):
            out[field] = dict.fromkeys(sorted(configmap[field]), "")
    return _without_last_applied(out)


def scrub(obj: dict[str, Any]) -> dict[str, Any]:
    """``obj`` with env var values whose name says secret masked, in specs, templates and last-applied."""
    scrubbed = _scrub_value(obj)
    annotations = (scrubbed.get("metadata") or {}).get("annotations") or {}
    if LAST_APPLIED in annotations:
        annotations[LAST_APPLIED] = _scrub_last_applied(annotations[LAST_APPLIED])
    return scrubbed


def _scrub_value(value: Any) -> Any:
    if isinstance(value, list):
        return [_scrub_value(v) for v in value]
    if not isinstance(value, dict):
        return value
    out = {}
    for key, child in value.items():
        if key in _CONTAINER_LISTS and isinstance(child, list):
            out[key] = [_scrub_container(c) for c in child]
        else:
            out[key] = _scrub_value(child)
    return out


def _scrub_container(container: Any) -> Any:
    if not isinstance(container, dict):
        return container
    return {k: [_masked_env(e) for e in v] if k == "env" and isinstance(v, list) else _scrub_value(v)
            for k, v in container.items()}


def _masked_env(entry: Any) -> Any:
    if not isinstance(entry, dict) or not isinstance(entry.get("value"), str):
        return entry
    value = entry["value"]
    # a switch such as AUTH_PASS_CREDENTIALS=false holds no secret, and masking it hides configuration
    if value.lower() in _NOT_SECRETS or not _SECRET_NAME.search(str(entry.get("name"))):
        return entry
    return {**entry, "value": MASK}


def _scrub_last_applied(text: Any) -> Any:
    try:
        applied = json.loads(text)
    except (TypeError, ValueError):
        return redact(text) if isinstance(text, str) else text
    if isinstance(applied, dict) and applied.get("kind") in ("ConfigMap", "Secret"):
        applied = {k: v for k, v in applied.items() if k not in ("data", "binaryData", "stringData")}
    return json.dumps(_scrub_value(applied), separators=(",", ":")) + "\n"


def _without_last_applied(obj: dict[str, Any]) -> dict[str, Any]:
    metadata = dict(obj.get("metadata") or {})
    annotations = metadata.get("annotations")
    if annotations and LAST_APPLIED in annotations:
        metadata["annotations"] = {k: v for k, v in annotations.items() if k != LAST_APPLIED}
        return {**obj, "metadata": metadata}
    return obj
