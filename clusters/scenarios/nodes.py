"""Node objects: labels per provider, conditions, taints of a node that stopped reporting."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from . import k8s
from ._rand import derive
from ._time import rfc3339
from .cluster import ClusterBuilder
from .podstatus import image_status
from .profiles import NodeInfo

__all__ = ["NOT_READY_GRACE", "render_node"]

#: ``--node-monitor-grace-period`` (50s since 1.32): how long before a silent node turns Unknown.
NOT_READY_GRACE = timedelta(seconds=50)

_CONDITIONS = [
    ("MemoryPressure", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
    ("DiskPressure", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
    ("PIDPressure", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
    ("Ready", "KubeletReady", "kubelet is posting ready status"),
]


def _labels(cb: ClusterBuilder, node: NodeInfo) -> dict[str, str]:
    p = cb.profile
    labels = {"beta.kubernetes.io/arch": "amd64", "beta.kubernetes.io/instance-type": p.instance_type,
              "beta.kubernetes.io/os": "linux", "failure-domain.beta.kubernetes.io/region": p.region,
              "failure-domain.beta.kubernetes.io/zone": node.zone, "kubernetes.io/arch": "amd64",
              "kubernetes.io/hostname": node.hostname, "kubernetes.io/os": "linux",
              "node.kubernetes.io/instance-type": p.instance_type, "topology.kubernetes.io/region": p.region,
              "topology.kubernetes.io/zone": node.zone}
    if p.provider == "eks":
        labels.update({"eks.amazonaws.com/capacityType": "ON_DEMAND", "eks.amazonaws.com/nodegroup": "general",
                       "eks.amazonaws.com/nodegroup-image": "ami-0c2f3a7e21d8b9f04",
                       "k8s.io/cloud-provider-aws": derive("aws", cb.name).hexstr(32)})
    elif p.provider == "gke":
        labels.update({"cloud.google.com/gke-boot-disk": "pd-balanced", "cloud.google.com/gke-container-runtime":
                       "containerd", "cloud.google.com/gke-nodepool": "default-pool",
                       "cloud.google.com/gke-os-distribution": "cos", "cloud.google.com/machine-family": "e2"})
    elif node.role == "control-plane":
        labels["node-role.kubernetes.io/control-plane"] = ""
        labels["node.kubernetes.io/exclude-from-external-load-balancers"] = ""
    if p.provider == "kubeadm":
        for k in [k for k in labels if "region" in k or "zone" in k or "instance-type" in k]:
            del labels[k]
    labels.update(cb.node_state[node.name].labels if node.name in cb.node_state else {})
    return dict(sorted(labels.items()))


def _annotations(cb: ClusterBuilder, node: NodeInfo) -> dict[str, str]:
    ann = {"node.alpha.kubernetes.io/ttl": "0", "volumes.kubernetes.io/controller-managed-attach-detach": "true"}
    if cb.profile.provider == "eks":
        ann["alpha.kubernetes.io/provided-node-ip"] = node.ip
    elif cb.profile.provider == "kubeadm":
        ann.update({"kubeadm.alpha.kubernetes.io/cri-socket": "unix:///var/run/containerd/containerd.sock",
                    "projectcalico.org/IPv4Address": f"{node.ip}/24",
                    "projectcalico.org/IPv4IPIPTunnelAddr": f"{node.pod_cidr}.0"})
    else:
        ann["container.googleapis.com/instance_id"] = str(derive("gce", node.name).randrange(10**18, 10**19))
    return dict(sorted(ann.items()))


def _conditions(cb: ClusterBuilder, node: NodeInfo, booted: datetime) -> list[dict[str, Any]]:
    down = cb.down_nodes.get(node.name)
    changed = cb.node_state[node.name].conditions if node.name in cb.node_state else {}
    out = []
    for kind, reason, message in _CONDITIONS:
        if kind in changed and not down:
            status, why, text, since = changed[kind]
            beat = cb.now - timedelta(seconds=cb.rng.randrange(2, 9))
            out.append({"type": kind, "status": status, "lastHeartbeatTime": rfc3339(beat),
                        "lastTransitionTime": rfc3339(since), "reason": why, "message": text})
            continue
        if down:
            out.append({"type": kind, "status": "Unknown", "lastHeartbeatTime": rfc3339(down),
                        "lastTransitionTime": rfc3339(down + NOT_READY_GRACE), "reason": "NodeStatusUnknown",
                        "message": "Kubelet stopped posting node status."})
            continue
        beat = cb.now - timedelta(seconds=cb.rng.randrange(5, 280) if kind != "Ready" else cb.rng.randrange(5, 40))
        started = booted + timedelta(seconds=30 if kind == "Ready" else 0)
        out.append({"type": kind, "status": "True" if kind == "Ready" else "False", "lastHeartbeatTime": rfc3339(beat),
                    "lastTransitionTime": rfc3339(started), "reason": reason, "message": message})
    return out


def _images(cb: ClusterBuilder, node: NodeInfo) -> list[dict[str, Any]]:
    seen: Counter[str] = Counter()
    for pod in cb.pods:
        if pod.node is node:
            for c in pod.obj["spec"]["containers"]:
                if pod.obj["status"].get("containerStatuses") and any(
                        s.get("imageID") for s in pod.obj["status"]["containerStatuses"]):
                    seen[c["image"]] += 1
    pause = {"eks": "602401143452.dkr.ecr.eu-west-1.amazonaws.com/eks/pause:3.10",
             "gke": "gke.gcr.io/pause:3.10@sha256:" + derive("pause").hexstr(64)}.get(
                 cb.profile.provider, "registry.k8s.io/pause:3.10")
    out = []
    for image in [*sorted(seen), pause.split("@")[0]]:
        name, image_id = image_status(image)
        out.append({"names": [image_id, name], "sizeBytes": derive("size", image).randrange(300_000, 420_000_000)})
    return sorted(out, key=lambda i: -i["sizeBytes"])


def _volumes(cb: ClusterBuilder, node: NodeInfo) -> dict[str, Any]:
    state = cb.node_state.get(node.name)
    if state is None or not state.volumes:
        return {}
    return {"volumesInUse": list(state.volumes),
            "volumesAttached": [{"name": v, "devicePath": ""} for v in state.volumes]}


def render_node(cb: ClusterBuilder, node: NodeInfo) -> dict[str, Any]:
    p = cb.profile
    booted = cb.node_booted[node.name]
    created = booted - timedelta(minutes=1)
    spec: dict[str, Any] = {}
    if p.provider != "eks":
        spec.update(podCIDR=f"{node.pod_cidr}.0/24", podCIDRs=[f"{node.pod_cidr}.0/24"])
    if node.provider_id:
        spec["providerID"] = node.provider_id
    taints = []
    if node.role == "control-plane":
        taints.append({"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"})
    down = cb.down_nodes.get(node.name)
    if down:
        at = down + NOT_READY_GRACE
        taints += [{"key": "node.kubernetes.io/unreachable", "effect": "NoSchedule", "timeAdded": rfc3339(at)},
                   {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute",
                    "timeAdded": rfc3339(at + timedelta(seconds=5))}]
    state = cb.node_state.get(node.name)
    if state is not None:
        taints += state.taints
        if state.unschedulable:
            spec["unschedulable"] = True
    if taints:
        spec["taints"] = taints
    addresses = [{"type": "InternalIP", "address": node.ip}, {"type": "Hostname", "address": node.hostname}]
    if p.provider == "eks":
        addresses.insert(1, {"type": "InternalDNS", "address": node.name})
    last_write = down + NOT_READY_GRACE if down else cb.now - timedelta(seconds=cb.rng.randrange(3, 40))
    status = {
        "capacity": p.capacity, "allocatable": p.allocatable, "conditions": _conditions(cb, node, booted),
        "addresses": addresses, "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
        "nodeInfo": {"machineID": derive("mid", node.name).hexstr(32), "systemUUID": derive("sys", node.name).uid(),
                     "bootID": derive("boot", node.name).uid(), "kernelVersion": p.kernel, "osImage": p.os_image,
                     "containerRuntimeVersion": p.runtime, "kubeletVersion": p.kubelet_version,
                     "kubeProxyVersion": "", "operatingSystem": "linux", "architecture": "amd64"},
        "images": _images(cb, node),
        **_volumes(cb, node),
        "runtimeHandlers": [{"name": h, "features": {"recursiveReadOnlyMounts": True,
                                                     "userNamespaces": p.minor >= 33}} for h in ("", "runc")],
        "features": {"supplementalGroupsPolicy": True},
    }
    md = k8s.meta(node.name, uid=cb.node_uids[node.name], rv=cb.rv(last_write), created=created,
                  labels=_labels(cb, node), annotations=_annotations(cb, node))
    return {"metadata": md, "spec": spec, "status": status}
