"""missing_secret_or_configmap: a Secret or ConfigMap (or one of its keys) the pod references does not exist.

Signals (dumps hold no Secrets or ConfigMaps, so absence is only ever known from the kubelet):
- container ``waiting.reason=CreateContainerConfigError`` whose message is one of the kubelet's
  ``secret "x" not found`` / ``secrets "x" not found`` / ``configmap(s) "x" not found`` /
  ``couldn't find key K in ConfigMap|Secret ns/name``: 0.95;
- kubelet ``Failed`` events ``Error: <same message>``: 0.9;
- kubelet ``FailedMount`` ``MountVolume.SetUp failed for volume "v" : secret|configmap "x" not found``: 0.9;
- a crashed container whose logs say a setting is missing (``patterns.CONFIG``: ``required key X
  missing value``, ``Could not resolve placeholder 'X'``, ``KeyError: 'X'``, ...) while its env takes
  X from a ConfigMap or Secret *key* (``configMapKeyRef``/``secretKeyRef``): the kubelet started the
  container, so the reference is ``optional`` and the key is absent: 0.85 (the crash, and the
  config error it looks like, are symptoms).
A CreateContainerConfigError with any other message is left to ``config_error``. The pod's
``env_refs`` naming the missing object are added as evidence when present.
"""

from __future__ import annotations

from typing import Any

from engine.detectors import patterns as P
from engine.detectors.base import DetectContext, Finding
from engine.detectors.common import (
    Hits,
    View,
    container_source,
    crash_info,
    event_item,
    group,
    is_crashing,
    log_item,
    ref,
    scan_logs,
    status_item,
    view,
)
from engine.report import EvidenceItem, Subject

NAME = "missing_secret_or_configmap"


def detect(ctx: DetectContext) -> list[Finding]:
    v = view(ctx)
    hits = Hits(NAME)
    for pod, c in v.focus_containers():
        if c.get("state") == "waiting" and c.get("reason") == "CreateContainerConfigError":
            facts = parse(c.get("message") or "", pod.get("namespace"))
            if facts:
                hits.add(
                    v.subject_for_pod(pod),
                    0.95,
                    [status_item(c), *_refs(v, pod, facts)],
                    "status",
                    pods=[pod.get("name")],
                    container=c.get("container"),
                    **facts,
                )
    for e in v.focus_events:
        if e.get("object_kind") != "Pod":
            continue
        mount = P.MOUNT_SETUP_FAILED.search(e["msg"])
        facts = parse(mount.group("err") if mount else e["msg"], e.get("namespace"))
        if not facts:
            continue
        pod = v.pod_of_event(e)
        extra = _refs(v, pod, facts) if pod is not None else []
        hits.add(
            v.subject_for_event(e),
            0.9 * v.event_factor(e),
            [event_item(e), *extra],
            "mount" if mount else "event",
            pods=[e.get("object_name")],
            volume=mount.group("volume") if mount else None,
            **facts,
        )
    _optional_keys(v, hits)
    return list(hits.findings(_summary))


def _optional_keys(v: View, hits: Hits) -> None:
    """Crashes over a setting whose env var comes from a ConfigMap/Secret key the kubelet did not insist on."""
    for pod, c in v.focus_containers():
        crash = crash_info(c)
        if crash is None and not is_crashing(c):
            continue
        keyed = {_norm(r.split(":")[2]): r.split(":") for r in c.get("env_refs") or [] if r.count(":") == 2}
        if not keyed:
            continue
        for row, m in scan_logs(v.log_rows(pod, c["container"]), P.CONFIG):
            var = group(m, "var") or group(m, "field")
            ref_ = keyed.get(_norm(var or ""))
            if ref_ is None:
                continue
            kind = "Secret" if ref_[0] == "secret" else "ConfigMap"
            facts = {"kind": kind, "name": ref_[1], "key": ref_[2], "namespace": pod.get("namespace")}
            item = EvidenceItem(kind="status", cluster=c.get("cluster") or "", source=container_source(c),
                                text=f"env {var} comes from {kind} {ref_[1]} key {ref_[2]}; the container started "
                                "without it (optional reference)")
            hits.add(v.subject_for_pod(pod), 0.85 * v.history_factor(pod, crash[2] if crash else None),
                     [log_item(row), item, status_item(c)], "optional-key", pods=[pod.get("name")],
                     container=c.get("container"), **facts)
            break


def _norm(name: str) -> str:
    return name.strip("'\"` -").replace("-", "_").replace(".", "_").lower()


def parse(text: str, namespace: str | None) -> dict[str, Any] | None:
    """{kind, name, key, namespace} of the missing object named by a kubelet message, or None."""
    m = P.MISSING_KEY.search(text)
    if m:
        return {
            "kind": m.group("kind"),
            "name": m.group("name"),
            "key": m.group("key"),
            "namespace": m.group("ns"),
        }
    m = P.MISSING_OBJECT.search(text)
    if m:
        kind = "Secret" if m.group("kind").lower() == "secret" else "ConfigMap"
        return {"kind": kind, "name": m.group("name"), "key": None, "namespace": namespace}
    return None


def _refs(v: View, pod: dict[str, Any], facts: dict[str, Any]) -> list[EvidenceItem]:
    """The pod's own references to the missing object (env refs and volumes), never values."""
    prefix = f"{facts['kind'].lower()}:{facts['name']}"
    items = []
    for c in v.containers_of(pod, init=None):
        refs = [r for r in (c.get("env_refs") or []) if r == prefix or r.startswith(prefix + ":")]
        if refs:
            items.append(
                EvidenceItem(
                    kind="status",
                    cluster=c.get("cluster") or "",
                    source=f"pod/{c.get('namespace')}/{c.get('pod')} ({c.get('container')})",
                    text=f"references {', '.join(refs)}",
                )
            )
    for vol in v.volumes(pod):
        if vol.get("ref") == facts["name"] and str(vol.get("kind")).lower() == facts["kind"].lower():
            items.append(
                EvidenceItem(
                    kind="status",
                    cluster=pod.get("cluster") or "",
                    source=f"pod/{pod.get('namespace')}/{pod.get('name')}",
                    text=f"volume {vol.get('name')} mounts {vol.get('kind')} {vol.get('ref')}"
                    f"{' (optional)' if vol.get('optional') else ''}",
                )
            )
    return items


def _summary(subject: Subject, f: dict[str, Any]) -> str:
    ns = f.get("namespace") or subject.namespace
    obj = f"{f.get('kind')} {ns}/{f.get('name')}" if ns else f"{f.get('kind')} {f.get('name')}"
    if f.get("key"):
        return f"{ref(subject)} references key {f['key']} that {obj} does not have"
    via = f" (volume {f['volume']})" if f.get("volume") else ""
    return f"{ref(subject)} references {obj}, which does not exist{via}"
