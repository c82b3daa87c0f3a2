"""What kind of cluster a scenario runs in: provider, Kubernetes version, addressing.

The profile decides everything that differs between real fleets but not between scenarios: node
names and labels, IP ranges, the container runtime, and the kubelet's message dialect (``Created
container x`` up to 1.32, ``Created container: x`` in 1.33-1.34, ``Container created`` from 1.35).
"""

from __future__ import annotations

from dataclasses import dataclass

from ._rand import Rand

__all__ = ["PROFILES", "NodeInfo", "Profile", "profile_for"]


@dataclass(frozen=True)
class Profile:
    provider: str  # eks | gke | kubeadm
    minor: int
    kubelet_version: str
    region: str
    zones: tuple[str, ...]
    runtime: str
    os_image: str
    kernel: str
    instance_type: str
    capacity: dict[str, str]
    allocatable: dict[str, str]
    service_prefix: str  # first two octets of ClusterIPs
    dns_ip: str
    control_plane: bool  # whether a control-plane node is part of the NodeList

    def created_message(self, container: str) -> str:
        if self.minor >= 35:
            return "Container created"
        if self.minor >= 33:
            return f"Created container: {container}"
        return f"Created container {container}"

    def started_message(self, container: str) -> str:
        return "Container started" if self.minor >= 35 else f"Started container {container}"

    @property
    def pod_generation(self) -> bool:
        """Pods carry ``metadata.generation`` from 1.33."""
        return self.minor >= 33


@dataclass
class NodeInfo:
    name: str
    ip: str
    zone: str
    pod_cidr: str  # "10.244.1" style prefix for /24 allocation
    role: str  # worker | control-plane
    provider_id: str
    hostname: str
    next_ip: int = 10


PROFILES: dict[str, Profile] = {
    "eks": Profile(
        provider="eks", minor=32, kubelet_version="v1.32.9-eks-113cf36", region="eu-west-1",
        zones=("eu-west-1a", "eu-west-1b", "eu-west-1c"), runtime="containerd://1.7.27",
        os_image="Amazon Linux 2023.8.20250818", kernel="6.1.147-172.266.amzn2023.x86_64",
        instance_type="m6i.xlarge",
        capacity={"cpu": "4", "ephemeral-storage": "83873772Ki", "hugepages-1Gi": "0",
                  "hugepages-2Mi": "0", "memory": "15896064Ki", "pods": "58"},
        allocatable={"cpu": "3920m", "ephemeral-storage": "76224326324", "hugepages-1Gi": "0",
                     "hugepages-2Mi": "0", "memory": "14879232Ki", "pods": "58"},
        service_prefix="172.20", dns_ip="172.20.0.10", control_plane=False,
    ),
    "gke": Profile(
        provider="gke", minor=33, kubelet_version="v1.33.4-gke.1350000", region="us-central1",
        zones=("us-central1-a", "us-central1-b", "us-central1-f"), runtime="containerd://2.0.6",
        os_image="Container-Optimized OS from Google", kernel="6.6.97+", instance_type="e2-standard-4",
        capacity={"cpu": "4", "ephemeral-storage": "98831908Ki", "hugepages-1Gi": "0",
                  "hugepages-2Mi": "0", "memory": "16373300Ki", "pods": "110"},
        allocatable={"cpu": "3920m", "ephemeral-storage": "47060071478", "hugepages-1Gi": "0",
                     "hugepages-2Mi": "0", "memory": "13225524Ki", "pods": "110"},
        service_prefix="34.118", dns_ip="34.118.224.10", control_plane=False,
    ),
    "kubeadm": Profile(
        provider="kubeadm", minor=35, kubelet_version="v1.35.0", region="dc1",
        zones=("dc1-r1", "dc1-r2", "dc1-r3"), runtime="containerd://2.1.4",
        os_image="Ubuntu 24.04.3 LTS", kernel="6.8.0-85-generic", instance_type="vm-4c16g",
        capacity={"cpu": "4", "ephemeral-storage": "101590008Ki", "hugepages-1Gi": "0",
                  "hugepages-2Mi": "0", "memory": "16364756Ki", "pods": "110"},
        allocatable={"cpu": "4", "ephemeral-storage": "93625351218", "hugepages-1Gi": "0",
                     "hugepages-2Mi": "0", "memory": "16262356Ki", "pods": "110"},
        service_prefix="10.96", dns_ip="10.96.0.10", control_plane=True,
    ),
}


def profile_for(seed: int) -> Profile:
    """The profile a single-scenario cluster gets for ``seed``."""
    return list(PROFILES.values())[seed % len(PROFILES)]


def make_nodes(profile: Profile, cluster: str, rng: Rand, workers: int = 3) -> list[NodeInfo]:
    """Node identities in the provider's naming scheme."""
    nodes: list[NodeInfo] = []
    if profile.control_plane:
        nodes.append(_kubeadm_node(cluster, "cp-1", "192.168.10.11", 0, "control-plane", profile))
    pool = rng.hexstr(8)
    for i in range(workers):
        zone = profile.zones[i % len(profile.zones)]
        if profile.provider == "eks":
            ip = f"10.0.{16 * (i + 1) + rng.randrange(0, 15)}.{rng.randrange(10, 250)}"
            name = f"ip-{ip.replace('.', '-')}.{profile.region}.compute.internal"
            pid = f"aws:///{zone}/i-0{rng.hexstr(16)}"
            nodes.append(NodeInfo(name, ip, zone, ip.rsplit(".", 1)[0], "worker", pid, name))
        elif profile.provider == "gke":
            name = f"gke-{cluster}-default-pool-{pool}-{rng.suffix(4)}"
            ip = f"10.128.0.{rng.randrange(2, 60)}"
            pid = f"gce://acme-{cluster}/{zone}/{name}"
            nodes.append(NodeInfo(name, ip, zone, f"10.52.{i}", "worker", pid, name))
        else:
            nodes.append(_kubeadm_node(cluster, f"worker-{i + 1}", f"192.168.10.{21 + i}", i + 1,
                                       "worker", profile))
    return nodes


def _kubeadm_node(cluster: str, suffix: str, ip: str, idx: int, role: str, profile: Profile) -> NodeInfo:
    name = f"{cluster}-{suffix}"
    zone = profile.zones[idx % len(profile.zones)]
    return NodeInfo(name, ip, zone, f"10.244.{idx}", role, "", name)
