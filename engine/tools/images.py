"""Images: ``image_pull_check`` (which container cannot pull what, and a known-good image) and
``patch_image`` (kubectl set image: a strategic merge patch of one container's image)."""

from __future__ import annotations

import json
from typing import Any

from engine.tools._evidence import containers_of, deployment_target, subject_pods
from engine.tools.base import Observation, Plan, Refused, Tool, ToolContext, need
from engine.tools.rollout import healthy_revision
from engine.writer import ClusterWriter

__all__ = ["IMAGE_PULL_CHECK", "PATCH_IMAGE"]

PULL_REASONS = ("ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull", "RegistryUnavailable")


def _check(ctx: ToolContext, args: dict[str, Any]) -> Observation:
    pods = subject_pods(ctx, args.get("kind"), args.get("namespace"), args.get("name"))
    failing = [c for c in containers_of(ctx, pods) if c.get("state") == "waiting" and c.get("reason") in PULL_REASONS]
    if not failing:
        return Observation("no container of the subject is failing to pull its image",
                           {"failing": False, "pods": 0, "suggested_image": None})
    c = failing[0]
    previous = _previous_image(ctx, str(c.get("container")), str(c.get("image")))
    fallback = args.get("fallback") or None
    suggested = previous or fallback
    text = (f"{len(failing)} container(s) cannot pull {c.get('image')} ({c.get('reason')}): "
            f"{str(c.get('message') or '')[:200]}; known-good image: "
            + (f"{previous} (an earlier healthy revision)" if previous else
               f"{fallback} (the runbook's fallback)" if fallback else "none"))
    return Observation(text, {"failing": True, "container": c.get("container"), "image": c.get("image"),
                              "error": c.get("message"), "pods": len({x.get("pod") for x in failing}),
                              "previous_image": previous, "suggested_image": suggested})


def _previous_image(ctx: ToolContext, container: str, bad: str) -> str | None:
    """The container's image in the newest healthy revision of the subject that used another image."""
    s = ctx.subject
    revs = sorted((r for r in ctx.rows("changes") if r.get("namespace") == s.namespace
                   and r.get("workload_name") == s.name and healthy_revision(r)),
                  key=lambda r: r.get("revision") or 0)
    for rev in reversed(revs):
        try:
            spec = json.loads(rev.get("template") or "{}")
        except ValueError:
            continue
        image = next((x.get("image") for x in spec.get("containers") or [] if x.get("name") == container), None)
        if image and image != bad:
            return str(image)
    return None


def _patch(ctx: ToolContext, args: dict[str, Any]) -> Plan:
    container, image = str(need(args, "container")), str(need(args, "image"))
    namespace, name = deployment_target(ctx, args)
    if ctx.source is not None:
        dep = ctx.source.get("deployments", namespace, name)
        containers = {c.get("name"): c for c in dep["spec"]["template"]["spec"].get("containers") or []}
        if container not in containers:
            raise Refused(f"deployment {namespace}/{name} has no container {container!r} ({', '.join(containers)})")
        if containers[container].get("image") == image:
            raise Refused(f"container {container} of deployment {namespace}/{name} already runs {image}")
    patch = {"spec": {"template": {"spec": {"containers": [{"name": container, "image": image}]}}}}

    def apply(writer: ClusterWriter) -> str:
        writer.patch_deployment(namespace, name, patch, patch_type="strategic")
        return f"deployment {namespace}/{name}: container {container} now uses {image}"

    return Plan(f"set the image of container {container} of deployment {namespace}/{name} to {image}",
                ctx.kubectl(f"set image deployment/{name} {container}={image}", namespace),
                f"deployment/{namespace}/{name}", apply, {"image": image, "container": container})


IMAGE_PULL_CHECK = Tool(
    "image_pull_check", "containers that cannot pull their image, the error, and a known-good image", _check,
    optional=("kind", "namespace", "name", "fallback"),
    outputs=("failing", "container", "image", "error", "pods", "previous_image", "suggested_image"))
PATCH_IMAGE = Tool(
    "patch_image", "point one container of a Deployment at another image (kubectl set image)", _patch,
    mutates=True, required=("container", "image"), optional=("kind", "namespace", "name"),
    outputs=("image", "container"))
