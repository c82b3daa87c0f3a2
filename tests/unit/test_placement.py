"""The collector plan and placement resources (serve/placement.py): which actor collects which cluster,
and what it asks Ray for. Pure Python, no Ray."""

from __future__ import annotations

import zlib

import pytest

from clusters.fleet import Fleet
from serve.placement import (
    HISTORY_RESOURCE,
    ZONE_SHARE,
    collector_of,
    fleet_hash,
    local_resources,
    persisted_fleet_json,
    plan_collectors,
)


def _fleet(clusters: list[tuple[str, str | None]], cap: int = 8, token: str | None = None) -> Fleet:
    return Fleet.model_validate({
        "clusters": [{"name": n, "in_cluster": True, "zone": z, "token": token} for n, z in clusters],
        "collectors": {"max_actors": cap}})


def test_zoneless_fleet_keeps_the_old_shards():
    fleet = _fleet([(f"c{i}", None) for i in range(5)], cap=2)
    plan = plan_collectors(fleet)
    assert sorted(plan) == ["fleetsre-collector-0", "fleetsre-collector-1"]
    for name in fleet.names():
        shard = plan[collector_of(plan, name)]
        assert shard.index == zlib.crc32(name.encode()) % 2 and shard.zone is None
    assert all(s.resources() == {} for s in plan.values())  # schedule freely


def test_each_zone_gets_its_own_shards_pinned_to_its_resource():
    clusters = [(f"eu-{i}", "eu") for i in range(3)] + [("us-0", "us"), ("home", None)]
    plan = plan_collectors(_fleet(clusters, cap=2))
    assert set(plan) <= {"fleetsre-collector-0", "fleetsre-collector-eu-0", "fleetsre-collector-eu-1",
                         "fleetsre-collector-us-0"}
    assert all(s.clusters for s in plan.values())  # no actor without a cluster
    owners = {c: collector_of(plan, c) for c, _ in clusters}
    for cluster, zone in clusters:
        shard = plan[owners[cluster]]
        assert shard.zone == zone and cluster in shard.clusters
        assert shard.resources() == ({f"zone:{zone}": ZONE_SHARE} if zone else {})
    # every cluster in exactly one shard
    assert sorted(c for s in plan.values() for c in s.clusters) == sorted(c for c, _ in clusters)
    assert collector_of(plan, "not-in-fleet") is None


def test_cap_is_per_zone_and_an_empty_fleet_still_has_a_collector():
    plan = plan_collectors(_fleet([(f"eu-{i}", "eu") for i in range(10)] + [(f"us-{i}", "us") for i in range(10)],
                                  cap=3))
    assert {(s.zone, s.index) for s in plan.values()} == {(z, i) for z in ("eu", "us") for i in range(3)}
    assert list(plan_collectors(Fleet())) == ["fleetsre-collector-0"]


def test_a_local_node_advertises_the_history_and_every_zone():
    res = local_resources(_fleet([("a", "eu"), ("b", "us"), ("c", None), ("d", "eu")]))
    assert res == {HISTORY_RESOURCE: 1, "zone:eu": 1000, "zone:us": 1000}
    assert res[HISTORY_RESOURCE] == 1  # one manager per node, and only one


def test_persisted_fleet_has_no_tokens_and_its_hash_tracks_the_clusters():
    fleet = _fleet([("a", "eu")], token="s3cret")
    assert "s3cret" not in persisted_fleet_json(fleet)
    assert Fleet.model_validate_json(persisted_fleet_json(fleet)).names() == ["a"]
    assert fleet_hash(fleet) == fleet_hash(_fleet([("a", "eu")], token="other"))  # tokens are the ingress's
    assert fleet_hash(fleet) != fleet_hash(_fleet([("a", "eu"), ("b", "eu")]))
    assert fleet_hash(fleet) != fleet_hash(_fleet([("a", "us")]))


@pytest.mark.parametrize("zone", ["EU", "eu west", "zone:eu", "-eu", ""])
def test_zone_names_must_fit_resource_and_group_names(zone):
    with pytest.raises(ValueError, match="zone"):
        _fleet([("a", zone)])
