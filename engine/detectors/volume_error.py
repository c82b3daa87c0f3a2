"""volume_error: a volume cannot be bound, attached or mounted (other than a missing Secret/ConfigMap).

Signals:
- ``FailedAttachVolume`` ``Multi-Attach error for volume "pvc-..."`` (attachdetach-controller): 0.85;
- kubelet ``FailedMount`` ``MountVolume.SetUp failed for volume "v" : <err>`` whose error is not a
  missing Secret/ConfigMap, ``MountVolume.MountDevice failed``, ``AttachVolume.Attach failed``: 0.8;
  the generic ``Unable to attach or mount volumes: unmounted volumes=[...] ... timed out``: 0.6;
- scheduler ``FailedScheduling`` about claims (``pod has unbound immediate PersistentVolumeClaims``,
  ``persistentvolumeclaim "x" not found|is being deleted``, volume node affinity conflict): 0.85;
- PVC events ``ProvisioningFailed`` and ``FailedMapVolume``/``VolumeResizeFailed``: 0.7.
Mount errors that are really ``no space left on device`` are left to ``disk_full``.
"""

from __future__ import annotations

from typing import Any

from engine.detectors import patterns as P
from engine.detectors.base import DetectContext, Finding
from engine.detectors.common import Hits, event_item, ref, view
from engine.detectors.missing_secret_or_configmap import parse as parse_missing
from engine.report import Subject

NAME = "volume_error"


def classify(e: dict[str, Any]) -> tuple[float, dict[str, Any]] | None:
    """(base confidence, facts) for a volume event, or None when it is not a volume failure."""
    msg, reason = e["msg"], e.get("reason")
    if any(p.search(msg) for p in P.DISK_FULL):
        return None
    m = P.MULTI_ATTACH.search(msg)
    if m:
        return 0.85, {"volume": m.group("volume"), "problem": "multi-attach"}
    if reason == "FailedScheduling":
        m = P.PVC_PROBLEM.search(msg)
        return (0.85, {"pvc": m.group("pvc"), "problem": m.group(0)}) if m else None
    m = P.MOUNT_SETUP_FAILED.search(msg)
    if m:
        return (
            None
            if parse_missing(m.group("err"), None)
            else (0.8, {"volume": m.group("volume"), "problem": m.group("err")[:200]})
        )
    m = P.MOUNT_DEVICE_FAILED.search(msg)
    if m:
        return 0.8, {"volume": m.groupdict().get("volume"), "problem": msg[:200]}
    m = P.UNMOUNTED_VOLUMES.search(msg)
    if m:
        return 0.6, {"volume": m.group("vols").split(" ")[0] or None, "problem": "mount timed out"}
    if reason in (
        "ProvisioningFailed",
        "FailedMapVolume",
        "VolumeResizeFailed",
        "FailedAttachVolume",
        "FailedMount",
    ):
        return 0.7, {"problem": msg[:200]}
    return None


def detect(ctx: DetectContext) -> list[Finding]:
    v = view(ctx)
    hits = Hits(NAME)
    for e in v.focus_events:
        got = classify(e)
        if got is None:
            continue
        base, facts = got
        if e.get("object_kind") == "PersistentVolumeClaim":
            facts = {**facts, "pvc": e.get("object_name")}
        hits.add(
            v.subject_for_event(e),
            base * v.event_factor(e),
            [event_item(e)],
            facts["problem"][:40],
            pods=[e.get("object_name")] if e.get("object_kind") == "Pod" else None,
            **facts,
        )
    return list(hits.findings(_summary))


def _summary(subject: Subject, f: dict[str, Any]) -> str:
    what = (
        f"volume {f['volume']}" if f.get("volume") else (f"claim {f['pvc']}" if f.get("pvc") else "a volume")
    )
    if f.get("problem") == "multi-attach":
        return f"{ref(subject)}: {what} is still attached to another node (Multi-Attach error)"
    return f"{ref(subject)} cannot use {what}: {str(f.get('problem'))[:160]}"
