"""Builders for v1 objects in the exact field order the API server serialises them.

Go encodes struct fields in declaration order, so every builder here emits keys in that order
(``ObjectMeta``, ``PodSpec``, ``Container``, ...). Values the API server defaults
(``terminationMessagePath``, ``defaultMode: 420``, the ``kube-api-access-*`` volume, the
not-ready/unreachable tolerations) are filled in as a real cluster would.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ._rand import Rand
from ._time import rfc3339

__all__ = [
    "META_ORDER",
    "container",
    "http_probe",
    "k8s_list",
    "meta",
    "order",
    "owner_ref",
    "pod_spec_from_template",
    "service",
    "template_spec",
    "with_pod_fields",
]

META_ORDER = _META = ["name", "generateName", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp",
         "deletionTimestamp", "deletionGracePeriodSeconds", "labels", "annotations", "ownerReferences",
         "finalizers"]
_POD_SPEC = ["volumes", "initContainers", "containers", "restartPolicy", "terminationGracePeriodSeconds",
             "dnsPolicy", "nodeSelector", "serviceAccountName", "serviceAccount",
             "automountServiceAccountToken", "nodeName", "hostNetwork", "hostPID", "securityContext",
             "imagePullSecrets", "affinity", "schedulerName", "tolerations", "priorityClassName", "priority",
             "enableServiceLinks", "preemptionPolicy", "topologySpreadConstraints"]
_CONTAINER = ["name", "image", "command", "args", "workingDir", "ports", "envFrom", "env", "resources",
              "volumeMounts", "livenessProbe", "readinessProbe", "startupProbe", "lifecycle",
              "terminationMessagePath", "terminationMessagePolicy", "imagePullPolicy", "securityContext"]


def order(d: dict[str, Any], keys: list[str]) -> dict[str, Any]:
    """``d`` with its keys in struct order (unknown keys last), empty values dropped (omitempty)."""
    out = {k: d[k] for k in keys if k in d and d[k] is not None}
    out.update({k: v for k, v in d.items() if k not in keys and v is not None})
    return out


def meta(name: str, *, namespace: str | None = None, uid: str, rv: str, created: datetime,
         labels: dict[str, str] | None = None, annotations: dict[str, str] | None = None,
         **extra: Any) -> dict[str, Any]:
    d = {"name": name, "namespace": namespace, "uid": uid, "resourceVersion": rv,
         "creationTimestamp": rfc3339(created), "labels": labels or None, "annotations": annotations or None,
         **extra}
    return order(d, _META)


def owner_ref(kind: str, name: str, uid: str, api_version: str = "apps/v1") -> dict[str, Any]:
    return {"apiVersion": api_version, "kind": kind, "name": name, "uid": uid, "controller": True,
            "blockOwnerDeletion": True}


def http_probe(path: str, port: int | str, *, initial: int = 0, timeout: int = 1, period: int = 10,
               failure: int = 3) -> dict[str, Any]:
    probe: dict[str, Any] = {"httpGet": {"path": path, "port": port, "scheme": "HTTP"}}
    if initial:
        probe["initialDelaySeconds"] = initial
    probe.update(timeoutSeconds=timeout, periodSeconds=period, successThreshold=1, failureThreshold=failure)
    return probe


def container(name: str, image: str, *, ports: list[tuple[str, int]] | None = None,
              env: list[dict[str, Any]] | None = None, env_from: list[dict[str, Any]] | None = None,
              resources: dict[str, Any] | None = None, mounts: list[dict[str, Any]] | None = None,
              liveness: dict[str, Any] | None = None, readiness: dict[str, Any] | None = None,
              args: list[str] | None = None, command: list[str] | None = None,
              hardened: bool = True) -> dict[str, Any]:
    d: dict[str, Any] = {
        "name": name, "image": image, "command": command, "args": args,
        "ports": [{"name": n, "containerPort": p, "protocol": "TCP"} for n, p in ports or []] or None,
        "envFrom": env_from, "env": env or None, "resources": resources or {}, "volumeMounts": mounts,
        "livenessProbe": liveness, "readinessProbe": readiness,
        "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File",
        "imagePullPolicy": "IfNotPresent",
    }
    if hardened:
        d["securityContext"] = {"capabilities": {"drop": ["ALL"]}, "runAsNonRoot": True,
                                "readOnlyRootFilesystem": True, "allowPrivilegeEscalation": False}
    return order(d, _CONTAINER)


def with_pod_fields(spec: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """A pod (template) spec with ``fields`` set, keys kept in ``PodSpec`` order."""
    return order({**spec, **fields}, _POD_SPEC)


def template_spec(containers: list[dict[str, Any]], *, service_account: str = "default",
                  volumes: list[dict[str, Any]] | None = None, grace: int = 30,
                  extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """A ``PodTemplateSpec.spec`` as stored in a Deployment after defaulting."""
    d: dict[str, Any] = {
        "volumes": volumes, "containers": containers, "restartPolicy": "Always",
        "terminationGracePeriodSeconds": grace, "dnsPolicy": "ClusterFirst",
        "serviceAccountName": service_account, "serviceAccount": service_account,
        "securityContext": {}, "schedulerName": "default-scheduler", **(extra or {}),
    }
    return order(d, _POD_SPEC)


_DEFAULT_TOLERATIONS = [
    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute",
     "tolerationSeconds": 300},
]


def _api_access_volume(name: str) -> dict[str, Any]:
    return {"name": name, "projected": {"sources": [
        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
        {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1",
                                                                      "fieldPath": "metadata.namespace"}}]}},
    ], "defaultMode": 420}}


def pod_spec_from_template(spec: dict[str, Any], rng: Rand, node: str | None) -> dict[str, Any]:
    """What admission and the scheduler turn a template spec into on the Pod."""
    out = dict(spec)
    tolerations = list(spec.get("tolerations") or [])
    keys = {t.get("key") for t in tolerations}
    tolerations += [t for t in _DEFAULT_TOLERATIONS if t["key"] not in keys]
    if spec.get("automountServiceAccountToken") is not False:
        vol = f"kube-api-access-{rng.suffix(5)}"
        out["volumes"] = [*(spec.get("volumes") or []), _api_access_volume(vol)]
        mount = {"name": vol, "readOnly": True, "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}
        out["containers"] = [{**c, "volumeMounts": [*(c.get("volumeMounts") or []), mount]}
                             for c in spec["containers"]]
        out["containers"] = [order(c, _CONTAINER) for c in out["containers"]]
        if spec.get("initContainers"):
            out["initContainers"] = [order({**c, "volumeMounts": [*(c.get("volumeMounts") or []), mount]},
                                           _CONTAINER) for c in spec["initContainers"]]
    out.update(nodeName=node, tolerations=tolerations, priority=spec.get("priority", 0),
               enableServiceLinks=True, preemptionPolicy="PreemptLowerPriority")
    return order(out, _POD_SPEC)


def service(name: str, namespace: str, *, uid: str, rv: str, created: datetime, labels: dict[str, str],
            selector: dict[str, str] | None, ports: list[dict[str, Any]], cluster_ip: str,
            annotations: dict[str, str] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"ports": ports, "selector": selector, "clusterIP": cluster_ip,
                            "clusterIPs": [cluster_ip], "type": "ClusterIP", "sessionAffinity": "None",
                            "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack",
                            "internalTrafficPolicy": "Cluster"}
    return {"metadata": meta(name, namespace=namespace, uid=uid, rv=rv, created=created, labels=labels,
                             annotations=annotations),
            "spec": order(spec, ["ports", "selector", "clusterIP", "clusterIPs", "type", "sessionAffinity"]),
            "status": {"loadBalancer": {}}}


def k8s_list(kind: str, rv: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    """A List as ``kubectl cluster-info dump`` writes it: an empty list is ``"items": null``."""
    api = "apps/v1" if kind in _APPS_LISTS else "batch/v1" if kind == "JobList" else "v1"
    return {"kind": kind, "apiVersion": api,
            "metadata": {"resourceVersion": rv}, "items": items or None}


_APPS_LISTS = {"DeploymentList", "ReplicaSetList", "DaemonSetList", "StatefulSetList"}
