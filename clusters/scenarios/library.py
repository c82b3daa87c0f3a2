"""The scenario registry: one entry per failure mode, with the ground truth it produces."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .cluster import ClusterBuilder, Incident
from .scen_app import config_error, dependency_unavailable, oom_killed, probe_failure
from .scen_batch import cpu_throttling, job_failed
from .scen_crash import app_crash_panic, app_crash_traceback, crash_missing_configmap_key, dependency_dns
from .scen_infra import insufficient_resources, node_not_ready
from .scen_node import kubelet_stopped, node_pressure
from .scen_rollout import (
    bad_rollout_config,
    bad_rollout_image,
    image_pull_error,
    missing_configmap_key,
    missing_configmap_volume,
    missing_secret,
)
from .scen_sched import node_cordoned, scheduling_affinity, scheduling_taint
from .scen_storage import disk_full, volume_multi_attach, volume_pvc_pending
from .scen_tls import certificate_expired, certificate_untrusted

__all__ = ["SCENARIOS", "Scenario"]

Build = Callable[..., Incident]


@dataclass(frozen=True)
class Scenario:
    """A failure mode. ``build(cluster, seed=, app=, namespace=)`` adds it to a cluster and returns
    its incident; ``category`` and ``trigger`` are what ``expected.json`` will say."""

    name: str
    category: str
    trigger: str
    build: Build
    node_level: bool = False  # builds before the baseline (it decides which node fails)

    @property
    def summary(self) -> str:
        return (self.build.__doc__ or "").strip().splitlines()[0]

    def __call__(self, cb: ClusterBuilder, **kwargs: object) -> Incident:
        inc = self.build(cb, **kwargs)
        assert (inc.category, inc.trigger) == (self.category, self.trigger), self.name
        return inc


SCENARIOS: dict[str, Scenario] = {s.name: s for s in [
    Scenario("oom_killed", "oom_killed", "unknown", oom_killed),
    Scenario("image_pull_error", "image_pull_error", "rollout", image_pull_error),
    Scenario("bad_rollout_image", "image_pull_error", "rollout", bad_rollout_image),
    Scenario("bad_rollout_config", "config_error", "rollout", bad_rollout_config),
    Scenario("dependency_unavailable", "dependency_unavailable", "unknown", dependency_unavailable),
    Scenario("missing_secret", "missing_secret_or_configmap", "rollout", missing_secret),
    Scenario("missing_configmap_key", "missing_secret_or_configmap", "config_change", missing_configmap_key),
    Scenario("missing_configmap_volume", "missing_secret_or_configmap", "rollout", missing_configmap_volume),
    Scenario("config_error", "config_error", "config_change", config_error),
    Scenario("insufficient_resources", "insufficient_resources", "unknown", insufficient_resources),
    Scenario("probe_failure", "probe_failure", "unknown", probe_failure),
    Scenario("node_not_ready", "node_not_ready", "node", node_not_ready, node_level=True),
    Scenario("app_crash_panic", "app_crash", "rollout", app_crash_panic),
    Scenario("app_crash_traceback", "app_crash", "unknown", app_crash_traceback),
    Scenario("crash_missing_configmap_key", "missing_secret_or_configmap", "config_change",
             crash_missing_configmap_key),
    Scenario("dependency_dns", "dependency_unavailable", "unknown", dependency_dns),
    Scenario("certificate_expired", "certificate_error", "external", certificate_expired),
    Scenario("certificate_untrusted", "certificate_error", "rollout", certificate_untrusted),
    Scenario("scheduling_affinity", "scheduling_constraints", "rollout", scheduling_affinity),
    Scenario("scheduling_taint", "scheduling_constraints", "unknown", scheduling_taint),
    Scenario("node_cordoned", "node_cordoned", "node", node_cordoned, node_level=True),
    Scenario("volume_multi_attach", "volume_error", "unknown", volume_multi_attach),
    Scenario("volume_pvc_pending", "volume_error", "rollout", volume_pvc_pending),
    Scenario("disk_full", "disk_full", "unknown", disk_full),
    Scenario("node_pressure", "node_pressure", "node", node_pressure, node_level=True),
    Scenario("kubelet_stopped", "node_not_ready", "node", kubelet_stopped, node_level=True),
    Scenario("job_failed", "job_failed", "unknown", job_failed),
    Scenario("cpu_throttling", "cpu_throttling", "unknown", cpu_throttling),
]}
