"""Turn what ``kubectl cluster-info dump`` wrote into the v1 JSON an API server returns.

Old kubectl (~1.8-1.13) printed *internal* types: Go structs without JSON tags, so keys are the Go
field names (``Spec``, ``InvolvedObject``, ``ContainerID``), embedded ``ObjectMeta`` fields sit at
the top of each object (they do carry JSON tags, so they are lowerCamel already), nothing is
``omitempty`` (empty strings, nulls and zero structs everywhere) and there is no ``kind``. A few
internal fields also differ from their v1 names or places; those are listed below, checked against
``pkg/apis/core/types.go`` and ``staging/src/k8s.io/api/core/v1/types.go``.

v1 dumps pass through unchanged apart from ``items: null`` becoming ``[]`` and every item getting
the ``kind``/``apiVersion`` of the file it came from. Secrets lose their values in both paths.
"""

from __future__ import annotations

import re
from typing import Any

from clusters.kinds import Resource

__all__ = ["is_internal_list", "normalise_list", "redact_secret", "v1_key"]

#: ObjectMeta/ListMeta fields: JSON-tagged, so internal dumps print them lowerCamel at top level.
METADATA_FIELDS = frozenset({
    "name", "generateName", "namespace", "selfLink", "uid", "resourceVersion", "generation",
    "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "labels", "annotations",
    "ownerReferences", "finalizers", "initializers", "clusterName", "managedFields",
})
LIST_METADATA_FIELDS = frozenset({"selfLink", "resourceVersion", "continue", "remainingItemCount"})

#: Maps whose keys belong to users or resource names: never renamed, empty values kept.
OPAQUE_MAPS = frozenset({
    "labels", "annotations", "nodeSelector", "selector", "matchLabels", "limits", "requests",
    "capacity", "allocatable", "overhead", "data", "binaryData", "stringData", "volumeAttributes",
    "allocatedResources",
})

#: Internal Go field names whose v1 JSON name is not the generic lowerCamel form.
RENAMES = {
    "LastTerminationState": "lastState",  # ContainerStatus
    "ReportingController": "reportingComponent",  # Event
    "CephFS": "cephfs",  # VolumeSource
    "StorageOS": "storageos",  # VolumeSource
}

#: (parent v1 key, key) pairs that stay capitalised in v1: DaemonEndpoint.Port is json:"Port".
KEEP_AS_IS = frozenset({("kubeletEndpoint", "Port")})

#: v1 string fields without ``omitempty``: the apiserver prints them even when empty.
KEEP_EMPTY = frozenset({
    "reportingComponent", "reportingInstance", "image", "imageID", "machineID", "systemUUID",
    "bootID", "kernelVersion", "osImage", "containerRuntimeVersion", "kubeletVersion",
    "kubeProxyVersion", "operatingSystem", "architecture",
})

#: Internal PodSecurityContext holds these; v1 has them on PodSpec itself.
POD_SPEC_FROM_SECURITY_CONTEXT = ("hostNetwork", "hostPID", "hostIPC", "shareProcessNamespace")

#: Annotation kubectl apply leaves on objects: for a Secret it holds the values in clear.
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"

_LEADING_CAPS = re.compile(r"^([A-Z]+)(.*)$", re.S)


def v1_key(key: str, parent: str = "") -> str:
    """``HostIP`` -> ``hostIP``, ``HTTPGet`` -> ``httpGet``, ``UID`` -> ``uid``, plus exceptions."""
    if (parent, key) in KEEP_AS_IS:
        return key
    if key in RENAMES:
        return RENAMES[key]
    m = _LEADING_CAPS.match(key)
    if not m:
        return key
    caps, rest = m.groups()
    # In "HTTPGet" the last capital of the run starts the next word, so it stays upper.
    if len(caps) > 1 and rest[:1].islower():
        return caps[:-1].lower() + caps[-1] + rest
    return caps.lower() + rest


def is_internal_list(document: dict[str, Any]) -> bool:
    return "Items" in document and "items" not in document


def normalise_list(document: dict[str, Any], resource: Resource) -> tuple[list[dict[str, Any]], str]:
    """The items of one dump file as v1 objects, and the list's resourceVersion."""
    if is_internal_list(document):
        items = [_object(item) for item in document.get("Items") or []]
        resource_version = str(document.get("resourceVersion") or "")
    else:
        items = [dict(item) for item in document.get("items") or []]
        resource_version = str((document.get("metadata") or {}).get("resourceVersion") or "")
    items = [_typed(item, resource) for item in items]
    if resource.plural == "secrets":
        items = [redact_secret(item) for item in items]
    return items, resource_version


def _typed(item: dict[str, Any], resource: Resource) -> dict[str, Any]:
    # kind/apiVersion first, as the apiserver prints a single object.
    rest = {k: v for k, v in item.items() if k not in ("kind", "apiVersion")}
    return {"kind": resource.kind, "apiVersion": resource.api_version, **rest}


def _object(item: dict[str, Any]) -> dict[str, Any]:
    converted = _convert(item, "")
    return converted if isinstance(converted, dict) else {}


def _convert(value: Any, parent: str) -> Any:
    if isinstance(value, list):
        return [_convert(v, parent) for v in value if v is not None]
    if not isinstance(value, dict):
        return value
    internal = any(k[:1].isupper() for k in value)
    metadata: dict[str, Any] = {}
    out: dict[str, Any] = {}
    for key, child in value.items():
        if _dropped(key, child):
            continue
        if internal and key in METADATA_FIELDS:
            # Embedded ObjectMeta: JSON-tagged already, only needs to move under "metadata".
            metadata[key] = _opaque(child) if key in OPAQUE_MAPS else _convert(child, key)
            continue
        new_key = v1_key(key, parent)
        out[new_key] = _opaque(child) if new_key in OPAQUE_MAPS else _convert(child, new_key)
    if metadata:
        out = {"metadata": metadata, **out}
    if "containers" in out and isinstance(out.get("securityContext"), dict):
        _lift_pod_security_fields(out)
    return out


def _dropped(key: str, value: Any) -> bool:
    # Internal types are never omitempty; v1 omits nulls and (almost always) empty strings.
    return value is None or (value == "" and v1_key(key) not in KEEP_EMPTY)


def _opaque(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: v for k, v in value.items() if v is not None}
    return value


def _lift_pod_security_fields(spec: dict[str, Any]) -> None:
    """Move hostNetwork & co. from the internal PodSecurityContext up to the v1 PodSpec."""
    security = spec["securityContext"]
    for key in POD_SPEC_FROM_SECURITY_CONTEXT:
        flag = security.pop(key, None)
        if flag:  # v1 marks them omitempty: false is not printed.
            spec[key] = flag


def redact_secret(secret: dict[str, Any]) -> dict[str, Any]:
    """A Secret with its data keys kept and every value dropped (values become "")."""
    keys = sorted({*(secret.get("data") or {}), *(secret.get("stringData") or {})})
    redacted = {k: v for k, v in secret.items() if k not in ("data", "stringData")}
    if keys:
        redacted["data"] = dict.fromkeys(keys, "")
    metadata = dict(redacted.get("metadata") or {})
    annotations = {k: v for k, v in (metadata.get("annotations") or {}).items() if k != LAST_APPLIED}
    if "annotations" in metadata:
        metadata["annotations"] = annotations
    redacted["metadata"] = metadata
    return redacted
