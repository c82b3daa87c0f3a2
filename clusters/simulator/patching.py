"""The three PATCH bodies the API server accepts for built-in kinds, applied to v1 JSON.

- ``application/strategic-merge-patch+json`` (the official client's default for a dict body;
  kubectl set image / set resources / cordon): maps merge, ``null`` deletes, lists of objects with
  a merge key (``containers`` by ``name``, ``volumeMounts`` by ``mountPath``, ...) merge item by
  item, other lists are replaced; ``$patch: delete`` / ``$patch: replace`` directives are honoured
  and ``$setElementOrder``/``$retainKeys`` ignored.
- ``application/merge-patch+json`` (RFC 7386; kubectl scale): maps merge, ``null`` deletes, lists
  are replaced.
- ``application/json-patch+json`` (RFC 6902; the client's choice for a list body, kubectl rollout
  undo): ``add``, ``remove``, ``replace``, ``test``, ``copy``, ``move``.

Errors are :class:`PatchError` carrying the status the apiserver would answer (415 unknown
content type, 400 a malformed body, 422 an invalid path or failed test).
"""

from __future__ import annotations

import copy
import json
from typing import Any

__all__ = ["CONTENT_TYPES", "PatchError", "apply_patch", "patch_kind"]

CONTENT_TYPES = {
    "application/strategic-merge-patch+json": "strategic",
    "application/merge-patch+json": "merge",
    "application/json-patch+json": "json",
}
#: Merge keys of the lists fleetsre's writes touch (k8s.io/api patchMergeKey tags).
MERGE_KEYS = {"containers": "name", "initContainers": "name", "ephemeralContainers": "name", "env": "name",
              "volumes": "name", "volumeMounts": "mountPath", "ports": "containerPort", "imagePullSecrets": "name",
              "conditions": "type", "hostAliases": "ip", "ownerReferences": "uid", "envFrom": None}


class PatchError(Exception):
    def __init__(self, code: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.code, self.reason = code, reason


def patch_kind(content_type: str | None) -> str:
    media = (content_type or "").split(";")[0].strip().lower()
    if media not in CONTENT_TYPES:
        accepted = ", ".join(sorted(CONTENT_TYPES) + ["application/apply-patch+yaml"])
        raise PatchError(415, "UnsupportedMediaType",
                         f"the body of the request was in an unknown format - accepted media types include: {accepted}")
    return CONTENT_TYPES[media]


def apply_patch(obj: dict[str, Any], body: bytes | Any, kind: str) -> dict[str, Any]:
    """A patched copy of ``obj``; ``body`` is raw bytes (decoded here) or an already decoded value."""
    patch = _decode(body) if isinstance(body, (bytes, str)) else body
    if kind == "json":
        if not isinstance(patch, list):
            raise PatchError(400, "BadRequest", "json patch must be a list of operations")
        return _json_patch(copy.deepcopy(obj), patch)
    if not isinstance(patch, dict):
        raise PatchError(400, "BadRequest", f"{kind} merge patch must be a JSON object")
    return _merge(copy.deepcopy(obj), patch, strategic=kind == "strategic")


def _decode(body: bytes | str) -> Any:
    try:
        return json.loads(body)
    except ValueError as exc:
        raise PatchError(400, "BadRequest", f"error decoding patch: {exc}") from None


def _merge(target: Any, patch: Any, *, strategic: bool, key: str = "") -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if strategic and patch.get("$patch") == "replace":
        return {k: v for k, v in patch.items() if k != "$patch"}
    out = dict(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if strategic and (k.startswith("$setElementOrder/") or k in ("$retainKeys", "$patch")):
            continue
        if v is None:
            out.pop(k, None)
        elif strategic and isinstance(v, list) and MERGE_KEYS.get(k) and isinstance(out.get(k), list):
            out[k] = _merge_list(out[k], v, MERGE_KEYS[k] or "")
        elif isinstance(v, dict):
            out[k] = _merge(out.get(k), v, strategic=strategic, key=k)
        else:
            out[k] = copy.deepcopy(v)
    return out


def _merge_list(current: list[Any], patch: list[Any], merge_key: str) -> list[Any]:
    out = [copy.deepcopy(x) for x in current]
    for item in patch:
        if not isinstance(item, dict) or merge_key not in item:
            raise PatchError(400, "BadRequest", f"map in a list merged by {merge_key!r} is missing {merge_key!r}")
        at = next((i for i, x in enumerate(out) if isinstance(x, dict) and x.get(merge_key) == item[merge_key]), None)
        if item.get("$patch") == "delete":
            if at is not None:
                out.pop(at)
        elif at is None:
            out.append({k: v for k, v in item.items() if k != "$patch"})
        else:
            out[at] = _merge(out[at], item, strategic=True)
    return out


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise PatchError(422, "Invalid", f"json patch path {path!r} must start with '/'")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _parent(doc: Any, parts: list[str], path: str) -> Any:
    cur = doc
    for p in parts[:-1]:
        try:
            cur = cur[int(p)] if isinstance(cur, list) else cur[p]
        except (KeyError, IndexError, ValueError, TypeError):
            raise PatchError(422, "Invalid", f"json patch path {path!r}: {p!r} not found") from None
    return cur


def _get(doc: Any, path: str) -> Any:
    parts = _pointer(path)
    if not parts:
        return doc
    parent = _parent(doc, parts, path)
    try:
        return parent[int(parts[-1])] if isinstance(parent, list) else parent[parts[-1]]
    except (KeyError, IndexError, ValueError, TypeError):
        raise PatchError(422, "Invalid", f"json patch path {path!r} does not exist") from None


def _put(doc: Any, path: str, value: Any, *, replace: bool) -> Any:
    parts = _pointer(path)
    if not parts:
        return value
    parent, last = _parent(doc, parts, path), parts[-1]
    if isinstance(parent, list):
        index = len(parent) if last == "-" else int(last)
        if replace:
            parent[index] = value
        else:
            parent.insert(index, value)
    elif isinstance(parent, dict):
        if replace and last not in parent:
            raise PatchError(422, "Invalid", f"json patch replace: path {path!r} does not exist")
        parent[last] = value
    else:
        raise PatchError(422, "Invalid", f"json patch path {path!r}: parent is not a container")
    return doc


def _remove(doc: Any, path: str) -> Any:
    parts = _pointer(path)
    _get(doc, path)
    parent = _parent(doc, parts, path)
    if isinstance(parent, list):
        parent.pop(int(parts[-1]))
    else:
        del parent[parts[-1]]
    return doc


def _json_patch(doc: Any, ops: list[Any]) -> Any:
    for op in ops:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise PatchError(400, "BadRequest", f"json patch operation {op!r} needs 'op' and 'path'")
        name, path = op["op"], op["path"]
        if name in ("add", "replace"):
            doc = _put(doc, path, copy.deepcopy(op.get("value")), replace=name == "replace")
        elif name == "remove":
            doc = _remove(doc, path)
        elif name == "test":
            if _get(doc, path) != op.get("value"):
                raise PatchError(422, "Invalid", f"json patch test failed at {path!r}")
        elif name in ("copy", "move"):
            value = copy.deepcopy(_get(doc, op.get("from", "")))
            if name == "move":
                doc = _remove(doc, op["from"])
            doc = _put(doc, path, value, replace=False)
        else:
            raise PatchError(400, "BadRequest", f"json patch operation {name!r} is not supported")
    return doc
