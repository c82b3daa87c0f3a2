"""Realistic failure scenarios for fleetsre: ``kubectl cluster-info dump`` directories, the
Alertmanager 0.25 webhooks a kube-prometheus-stack would send about them, and the ground truth.

Write one scenario::

    from clusters.scenarios import write_scenario
    write_scenario("oom_killed", "out/oom", seed=1)

or the demo fleet (three clusters, one bad rollout in two of them)::

    from clusters.scenarios import write_fleet
    manifest = write_fleet("out/fleet")

Compose your own cluster with :func:`build_cluster` and :class:`Fault`, then :func:`write_cluster`.
A large fleet with faults on a schedule, storms and flapping: :func:`write_fleet_at_scale`.
The generator hides nothing in the data: object names, labels and annotations are what a real
cluster would carry, and the answer lives only in ``expected.json`` / ``ground-truth.json``.
"""

from .alerts import Alert, fingerprint
from .cluster import ClusterBuilder, Incident
from .compose import DEFAULT_NOW, Fault, build_cluster, pack_faults, write_scenario
from .fleet import FLEET, FleetManifest, write_fleet
from .library import SCENARIOS, Scenario
from .profiles import PROFILES, Profile
from .scale import ScaleManifest, write_fleet_at_scale
from .write import ClusterResult, write_cluster

__all__ = [
    "DEFAULT_NOW",
    "FLEET",
    "PROFILES",
    "SCENARIOS",
    "Alert",
    "ClusterBuilder",
    "ClusterResult",
    "Fault",
    "FleetManifest",
    "Incident",
    "Profile",
    "ScaleManifest",
    "Scenario",
    "build_cluster",
    "fingerprint",
    "pack_faults",
    "write_cluster",
    "write_fleet",
    "write_fleet_at_scale",
    "write_scenario",
]
