"""Where fleetsre's actors run: the collector plan (which actor collects which cluster, on which nodes)
and the Ray custom resources that pin them. Plain Python (no Ray import): the builder, the actors,
the renderer of the RayService and the tests all compute the same plan from the same fleet.

Placement uses Ray **custom resources**, not node labels: Ray 2.60 has ``label_selector`` on actors,
but it is documented as a beta option, ``ray.cluster_utils.Cluster`` and the KubeRay fields we could
check (stack-facts §4: ``rayStartParams`` passed through to ``ray start``) speak resources, and the
autoscaler scales a worker group up for a pending resource demand. So:

- a cluster with ``zone: eu`` in fleet.yaml is collected by an actor that asks for ``ZONE_SHARE`` of
  ``zone:eu``; only nodes that can reach that zone's API servers advertise ``zone:eu`` (KubeRay:
  one worker group per zone). A tiny share, so a node fits any number of collectors;
- clusters without a zone are collected by actors that schedule freely (as before);
- the incident manager (the one DuckDB writer) asks for 1 of ``HISTORY_RESOURCE``, advertised with
  quantity 1 by the node that mounts the data volume; it restarts there and nowhere else.

Sharding: per zone (clusters without a zone are one more group), ``collectors.max_actors`` caps the
actors; a cluster's shard is ``crc32(name) % shards_in_its_zone``.
"""

from __future__ import annotations

import hashlib
import zlib
from dataclasses import dataclass

from clusters.fleet import Fleet

__all__ = ["HISTORY_RESOURCE", "ZONE_SHARE", "CollectorShard", "collector_name", "fleet_hash", "local_resources",
           "persisted_fleet_json", "plan_collectors", "shard_of", "zone_resource"]

COLLECTOR_PREFIX = "fleetsre-collector-"
HISTORY_RESOURCE = "fleetsre-history"
ZONE_PREFIX = "zone:"
# per collector actor: 1/1000 of a node's zone resource, so a node advertising 1000 fits 1000 collectors
ZONE_SHARE = 0.001
ZONE_PER_NODE = 1000


def zone_resource(zone: str) -> str:
    return f"{ZONE_PREFIX}{zone}"


def shard_of(cluster: str, shards: int) -> int:
    """Stable cluster → shard index (crc32, so every process agrees)."""
    return zlib.crc32(cluster.encode()) % shards


def collector_name(shard: int, zone: str | None = None) -> str:
    """``fleetsre-collector-3`` for a zone-less shard, ``fleetsre-collector-eu-0`` for zone ``eu``."""
    return f"{COLLECTOR_PREFIX}{shard}" if zone is None else f"{COLLECTOR_PREFIX}{zone}-{shard}"


@dataclass(frozen=True)
class CollectorShard:
    name: str
    zone: str | None
    index: int
    clusters: tuple[str, ...]

    def resources(self) -> dict[str, float]:
        """The custom resources the actor asks for (none: schedule freely)."""
        return {zone_resource(self.zone): ZONE_SHARE} if self.zone else {}


def plan_collectors(fleet: Fleet) -> dict[str, CollectorShard]:
    """Actor name → shard, for every collector actor the fleet needs (zone-less group first, then zones
    in name order; shards that hashing leaves empty are left out). An empty fleet still gets one
    zone-less actor."""
    groups: dict[str | None, list[str]] = {}
    for c in fleet.clusters:
        groups.setdefault(c.zone, []).append(c.name)
    if not groups:
        groups[None] = []
    plan: dict[str, CollectorShard] = {}
    for zone in sorted(groups, key=lambda z: (z is not None, z or "")):
        names = groups[zone]
        shards = max(1, min(len(names), fleet.collectors.max_actors))
        members: dict[int, list[str]] = {i: [] for i in range(shards)}
        for name in names:
            members[shard_of(name, shards)].append(name)
        for i in range(shards):
            if members[i] or not names:  # crc32 may leave a shard empty: no actor for it
                shard = CollectorShard(collector_name(i, zone), zone, i, tuple(members[i]))
                plan[shard.name] = shard
    return plan


def collector_of(plan: dict[str, CollectorShard], cluster: str) -> str | None:
    """The name of the actor that collects ``cluster`` (None when the plan does not know it)."""
    return next((s.name for s in plan.values() if cluster in s.clusters), None)


def local_resources(fleet: Fleet) -> dict[str, float]:
    """What a single local Ray node advertises: it holds the history and reaches every zone."""
    zones = sorted({c.zone for c in fleet.clusters if c.zone})
    return {HISTORY_RESOURCE: 1, **{zone_resource(z): ZONE_PER_NODE for z in zones}}


def persisted_fleet_json(fleet: Fleet) -> str:
    """The fleet as restarted actors re-read it from the data dir: without the webhook tokens (the
    collectors and the manager never need them, and the data volume is no place for secrets)."""
    return fleet.model_dump_json(exclude={"clusters": {"__all__": {"token"}}})


def fleet_hash(fleet: Fleet) -> str:
    return hashlib.sha256(persisted_fleet_json(fleet).encode()).hexdigest()[:16]
