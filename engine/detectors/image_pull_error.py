"""image_pull_error: the image or tag does not exist, or the registry refuses or cannot be reached.

Signals:
- container ``waiting.reason`` ErrImagePull / ImagePullBackOff / InvalidImageName /
  ErrImageNeverPull / RegistryUnavailable / ImageInspectError: 0.9 (newer kubelets put the pull
  error itself in ``waiting.message``);
- kubelet events: ``Failed to pull image "X": <registry answer>``, ``Back-off pulling image "X"``
  (an event of type Normal), ``Error: ErrImagePull`` / ``Error: ImagePullBackOff``,
  ``Container image "X" is not present with pull policy of Never``: 0.85.
Both together corroborate. The finding names the image, its registry and the registry's answer:
``not found`` (tag/manifest/repository missing), ``unauthorized`` (credentials or permissions),
``unreachable`` (DNS/network to the registry), ``rate limited``, ``invalid name``, ``never pulled``.
"""

from __future__ import annotations

from typing import Any

from engine.detectors import patterns as P
from engine.detectors.base import DetectContext, Finding
from engine.detectors.common import (
    Hits,
    View,
    event_container,
    event_item,
    ref,
    registry_of,
    status_item,
    view,
)
from engine.report import Subject

NAME = "image_pull_error"
REASONS = (
    "ErrImagePull",
    "ImagePullBackOff",
    "InvalidImageName",
    "ErrImageNeverPull",
    "RegistryUnavailable",
    "ImageInspectError",
)


def detect(ctx: DetectContext) -> list[Finding]:
    v = view(ctx)
    hits = Hits(NAME)
    for pod, c in v.focus_containers():
        if c.get("state") == "waiting" and c.get("reason") in REASONS:
            image, err = _parse(c.get("message") or "", c.get("image"))
            hits.add(
                v.subject_for_pod(pod),
                0.9,
                [status_item(c)],
                "status",
                **_facts(image or c.get("image"), err, c.get("reason"), pod.get("name"), c.get("container")),
            )
    for e in v.focus_events:
        if e.get("object_kind") == "Pod":
            _event(v, hits, e)
    return list(hits.findings(_summary))


def _event(v: View, hits: Hits, e: dict[str, Any]) -> None:
    msg = e["msg"]
    image, err = _parse(msg, None)
    marker = msg.removeprefix("Error: ")
    if image is None and marker not in REASONS and e.get("reason") not in REASONS[2:]:
        return
    if image is None:
        err = ""
    pod = v.pod_of_event(e)
    cname = event_container(e)
    if image is None and pod is not None:
        image = next(
            (c.get("image") for c in v.containers_of(pod, init=None) if c.get("container") == cname), None
        )
    reason = marker if marker in REASONS else e.get("reason")
    hits.add(
        v.subject_for_event(e),
        0.85 * v.event_factor(e),
        [event_item(e)],
        "event",
        **_facts(image, err, reason, e.get("object_name"), cname),
    )


def _parse(text: str, fallback_image: str | None) -> tuple[str | None, str]:
    for pat in (P.PULL_FAILED, P.PULL_BACKOFF, P.NEVER_PULL, P.INVALID_IMAGE):
        m = pat.search(text)
        if m:
            err = m.groupdict().get("err") or ""
            if pat is P.NEVER_PULL:
                err = "not present with pull policy Never"
            return m.group("image"), err or ("" if pat is not P.INVALID_IMAGE else "invalid image name")
    return fallback_image if text else None, text


def answer(err: str, reason: str | None) -> str:
    """The registry's answer in a word, from the pull error text."""
    if reason == "InvalidImageName" or "invalid image name" in err or "invalid reference format" in err:
        return "invalid name"
    if reason == "ErrImageNeverPull" or "pull policy" in err:
        return "never pulled (imagePullPolicy: Never)"
    if not err.strip() or err in REASONS:
        return "unknown"
    if P.REGISTRY_RATE_LIMITED.search(err):
        return "rate limited"
    if "repository does not exist or may require" in err:
        return "not found or unauthorized"
    if P.REGISTRY_UNAUTHORIZED.search(err):
        return "unauthorized"
    if P.REGISTRY_NOT_FOUND.search(err):
        return "not found"
    if "x509" in err:
        return "registry certificate not trusted"
    if P.REGISTRY_UNREACHABLE.search(err):
        return "unreachable"
    return "unknown"


def _facts(
    image: str | None, err: str, reason: str | None, pod: str | None, container: str | None
) -> dict[str, Any]:
    ans = answer(err, reason)
    return {
        "image": image,
        "registry": registry_of(image),
        "answer": ans if ans != "unknown" else None,
        "error": err[:300] if err and err not in REASONS else None,
        "reason": reason,
        "pods": [pod],
        "container": container,
    }


def _summary(subject: Subject, f: dict[str, Any]) -> str:
    img = f"image {f['image']}" if f.get("image") else "its image"
    ans = f.get("answer") or "unknown"
    reg = f" from {f['registry']}" if f.get("registry") else ""
    return (
        f"{ref(subject)} cannot pull {img}{reg}: registry answer {ans} ({f.get('reason') or 'pull failed'})"
    )
