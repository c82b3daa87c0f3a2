"""Detectors: one module per failure mode, each ``detect(ctx) -> list[Finding]``, and their registry.

``REGISTRY`` is the explicit, ordered list of (name, function) that ``run_detectors`` runs. A
detector that raises does not fail the investigation: its exception becomes a recorded error
(``DetectorRun.errors``) and the other detectors' findings stand. Log and message patterns live
in ``patterns``; shared reading of the evidence (focus, health, confidence) in ``common``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from engine.detectors import (
    app_crash,
    certificate_error,
    config_error,
    cpu_throttling,
    dependency_unavailable,
    disk_full,
    image_pull_error,
    insufficient_resources,
    job_failed,
    missing_secret_or_configmap,
    node_cordoned,
    node_not_ready,
    node_pressure,
    oom_killed,
    probe_failure,
    scheduling_constraints,
    volume_error,
)
from engine.detectors.base import DetectContext, Finding

__all__ = ["REGISTRY", "DetectContext", "DetectorRun", "Finding", "run_detectors"]

Detector = Callable[[DetectContext], list[Finding]]

REGISTRY: list[tuple[str, Detector]] = [
    ("oom_killed", oom_killed.detect),
    ("image_pull_error", image_pull_error.detect),
    ("missing_secret_or_configmap", missing_secret_or_configmap.detect),
    ("config_error", config_error.detect),
    ("dependency_unavailable", dependency_unavailable.detect),
    ("certificate_error", certificate_error.detect),
    ("disk_full", disk_full.detect),
    ("insufficient_resources", insufficient_resources.detect),
    ("scheduling_constraints", scheduling_constraints.detect),
    ("volume_error", volume_error.detect),
    ("probe_failure", probe_failure.detect),
    ("node_not_ready", node_not_ready.detect),
    ("node_pressure", node_pressure.detect),
    ("node_cordoned", node_cordoned.detect),
    ("job_failed", job_failed.detect),
    ("cpu_throttling", cpu_throttling.detect),
    ("app_crash", app_crash.detect),
]


@dataclass
class DetectorRun:
    findings: list[Finding] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)  # (detector, "ExcType: message")


def run_detectors(ctx: DetectContext, registry: list[tuple[str, Detector]] | None = None) -> DetectorRun:
    """Run every detector; an exception becomes an error entry, never a failed investigation."""
    run = DetectorRun()
    for name, fn in registry if registry is not None else REGISTRY:
        try:
            found = fn(ctx)
        except Exception as exc:  # a detector bug must not cost the incident its report
            run.errors.append((name, f"{type(exc).__name__}: {exc}"))
            continue
        for f in found:
            f.detector = f.detector or name
        run.findings.extend(found)
    return run
