"""The production shape, as data: the Serve config document and the KubeRay ``RayService`` around it.

One source of truth for ``fleetsre deploy render`` and the checked-in ``ray-cluster.yaml``:

- ``serve_config(opts)`` is the Serve config (the document ``serve deploy`` takes) whose application
  is this package's own builder, ``serve.app:app_builder``, with its args and per-deployment options;
- ``ray_service(opts)`` is a ``RayService`` (``ray.io/v1``) whose ``serveConfigV2`` is exactly that
  document, dumped as YAML;
- ``render(opts, out)`` writes both files.

Shape: the head runs no work (``num-cpus: "0"``, and every fleetsre actor asks for the custom resource
``WORKER_RESOURCE`` that only the worker groups advertise); an autoscaling CPU worker group runs the
ingress replicas and the actors; a one-pod ``history`` group advertises ``fleetsre-history`` and holds
the incident manager (the DuckDB writer, restarted there if it dies); with ``zones`` one worker group
per network zone (``zone-<zone>``, pods on Kubernetes nodes labelled ``ZONE_NODE_LABEL=<zone>``)
advertises ``zone:<zone>`` for the collectors of that zone's clusters (``serve/placement.py``); with
``llm`` a GPU worker group runs ``ray.serve.llm:build_openai_app`` as a second application.
fleet.yaml (kubeconfigs, tokens) comes from a Secret; the data dir is a PVC that every worker group
mounts (collectors write evidence, the investigator reads it, the manager owns DuckDB): it must be
ReadWriteMany as soon as more than one worker pod runs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Literal

import yaml

from serve.app import APP_NAME, app_builder
from serve.ingress import Ingress
from serve.llm import LLMOptions, openai_app_args
from serve.placement import HISTORY_RESOURCE, ZONE_PER_NODE, zone_resource

__all__ = ["RenderOptions", "WORKER_RESOURCE", "dump_yaml", "ray_service", "render", "serve_config"]

IMPORT_PATH = f"{app_builder.__module__}:{app_builder.__name__}"  # serve.app:app_builder
LLM_IMPORT_PATH = "ray.serve.llm:build_openai_app"
LLM_APP_NAME = "llm"
RAY_VERSION = "2.60.0"
HTTP_PORT = 8000
# Advertised by the worker groups only (rayStartParams.resources); the actors ask for a sliver of it, so
# they never land on the head even though they take num_cpus=0.
WORKER_RESOURCE = "fleetsre_worker"
WORKER_RESOURCE_PER_NODE = 1000
FLEET_SECRET = "fleetsre-fleet"
DATA_PVC = "fleetsre-data"
SERVICE_ACCOUNT = "fleetsre"
# Kubernetes node label that puts a zone's Ray workers on nodes that can reach that zone's API servers
ZONE_NODE_LABEL = "fleetsre.io/network-zone"
# Serve's HAProxy ingress and throughput preset (serve/app.py configure_ingress does the same locally):
# read at import by Ray, so they must be in every Ray pod's environment, not set by the app
def _ingress_env() -> list[dict[str, str]]:
    # fresh dicts each time: shared ones would come out as YAML anchors and aliases
    return [{"name": "RAY_SERVE_ENABLE_HA_PROXY", "value": "1"}, {"name": "RAY_SERVE_THROUGHPUT_OPTIMIZED", "value": "1"}]
LLM_SECRET = "fleetsre-llm"  # optional: key anthropic_api_key for the `claude` reasoner


@dataclass(frozen=True)
class RenderOptions:
    fleet_path: str = "/etc/fleetsre/fleet.yaml"  # where fleet.yaml is inside the pods (the Secret's mount)
    data_dir: str = "/var/lib/fleetsre"  # the PVC's mount
    llm: bool = False
    mode: Literal["recommend", "auto"] = "recommend"
    image: str = "registry.example.com/fleetsre:0.1.0"
    namespace: str = "fleetsre"
    name: str = "fleetsre"
    llm_model_id: str = "triage-llm"
    llm_model_source: str = "Qwen/Qwen2.5-7B-Instruct"
    llm_accelerator: str = "L4"
    zones: tuple[str, ...] = ()  # the fleet's zones (Fleet.zones()): one worker group each
    fleet_revision: str | None = None  # bump to make KubeRay redeploy the app after the fleet Secret changed
    config_path: str | None = None  # engine settings (EngineConfig YAML) inside the pods, e.g. next to fleet.yaml

    def __post_init__(self) -> None:
        from clusters.fleet import ClusterEntry

        for zone in self.zones:  # the fleet file's own rule: a zone is a resource and a group name part
            ClusterEntry.model_validate({"name": "x", "in_cluster": True, "zone": zone})
        if len(set(self.zones)) != len(self.zones):
            raise ValueError(f"zones repeat: {list(self.zones)}")
        for field in ("fleet_path", "data_dir", "config_path"):
            if getattr(self, field) is not None and not PurePosixPath(getattr(self, field)).is_absolute():
                raise ValueError(f"{field} must be an absolute path inside the pods, got {getattr(self, field)!r}")
        if self.mode not in ("recommend", "auto"):
            raise ValueError(f"mode must be recommend or auto, got {self.mode!r}")
        if PurePosixPath(self.fleet_path).parent == PurePosixPath(self.data_dir):
            raise ValueError("fleet.yaml's directory (a read-only Secret mount) cannot be the data dir")


def _fleetsre_app(opts: RenderOptions) -> dict[str, Any]:
    return {
        "name": APP_NAME,
        "route_prefix": "/",
        "import_path": IMPORT_PATH,
        "args": {"fleet": opts.fleet_path, "data_dir": opts.data_dir, "mode": opts.mode,
                 "worker_resource": WORKER_RESOURCE, "history_resource": HISTORY_RESOURCE,
                 **({"fleet_revision": opts.fleet_revision} if opts.fleet_revision else {}),
                 **({"config": opts.config_path} if opts.config_path else {})},
        "deployments": [{
            "name": Ingress.name,
            "max_ongoing_requests": 64,
            "autoscaling_config": {"min_replicas": 2, "max_replicas": 8, "target_ongoing_requests": 32},
            "ray_actor_options": {"num_cpus": 0.25},
        }],
    }


def _llm_app(opts: RenderOptions) -> dict[str, Any]:
    llm = LLMOptions(model_id=opts.llm_model_id, model_source=opts.llm_model_source,
                     accelerator_type=opts.llm_accelerator)
    return {
        "name": LLM_APP_NAME,
        "route_prefix": "/llm",  # -> /llm/v1/chat/completions
        "import_path": LLM_IMPORT_PATH,
        "args": openai_app_args(llm),  # serve/llm.py: validated against Ray's LLMConfig in the tests
    }


def serve_config(opts: RenderOptions) -> dict[str, Any]:
    """The Serve config document (what ``serve deploy`` takes and ``serveConfigV2`` holds)."""
    apps = [_fleetsre_app(opts)] + ([_llm_app(opts)] if opts.llm else [])
    return {
        "proxy_location": "EveryNode",
        "http_options": {"host": "0.0.0.0", "port": HTTP_PORT},
        "applications": apps,
    }


def _volumes(opts: RenderOptions, *, data: bool) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    mounts = [{"name": "fleet", "mountPath": str(PurePosixPath(opts.fleet_path).parent), "readOnly": True}]
    volumes: list[dict[str, Any]] = [{"name": "fleet", "secret": {"secretName": FLEET_SECRET}}]
    if data:
        mounts.append({"name": "data", "mountPath": opts.data_dir})
        volumes.append({"name": "data", "persistentVolumeClaim": {"claimName": DATA_PVC}})
    return mounts, volumes


def _resources_param(resources: dict[str, float]) -> str:
    # KubeRay passes rayStartParams through to `ray start`; this value becomes --resources='{"...": N}'
    # (the JSON object as a quoted string: KubeRay's documented form is '"{\"Custom1\": 1}"')
    return json.dumps(json.dumps(resources))


def _head(opts: RenderOptions) -> dict[str, Any]:
    # the Serve build task (num_cpus=0) may run here and reads fleet.yaml: the head mounts the Secret too
    mounts, volumes = _volumes(opts, data=False)
    return {
        "rayStartParams": {"num-cpus": "0", "dashboard-host": "0.0.0.0"},
        "template": {"spec": {
            "serviceAccountName": SERVICE_ACCOUNT,
            "containers": [{
                "name": "ray-head",
                "image": opts.image,
                "ports": [
                    {"containerPort": 6379, "name": "gcs-server"},
                    {"containerPort": 8265, "name": "dashboard"},
                    {"containerPort": 10001, "name": "client"},
                    {"containerPort": HTTP_PORT, "name": "serve"},
                    {"containerPort": 8080, "name": "metrics"},
                ],
                "resources": {"requests": {"cpu": "1", "memory": "4Gi"}, "limits": {"memory": "4Gi"}},
                "volumeMounts": mounts,
                "env": _ingress_env(),
            }],
            "volumes": volumes,
        }},
    }


def _group(opts: RenderOptions, name: str, resources: dict[str, float], *, replicas: tuple[int, int, int],
           cpu: str, memory: str) -> dict[str, Any]:
    mounts, volumes = _volumes(opts, data=True)
    low, start, high = replicas
    return {
        "groupName": name,
        "replicas": start,
        "minReplicas": low,
        "maxReplicas": high,
        "rayStartParams": {"resources": _resources_param(resources)},
        "template": {"spec": {
            "serviceAccountName": SERVICE_ACCOUNT,
            "containers": [{
                "name": "ray-worker",
                "image": opts.image,
                "resources": {"requests": {"cpu": cpu, "memory": memory}, "limits": {"cpu": cpu, "memory": memory}},
                "volumeMounts": mounts,
                # the `claude` reasoner's key, when the optional Secret exists (the investigator runs on workers)
                "env": [*_ingress_env(), {"name": "ANTHROPIC_API_KEY", "valueFrom": {"secretKeyRef": {
                    "name": LLM_SECRET, "key": "anthropic_api_key", "optional": True}}}],
            }],
            "volumes": volumes,
        }},
    }


def _cpu_group(opts: RenderOptions) -> dict[str, Any]:
    """Ingress replicas, the investigator and the collectors of clusters without a zone (autoscaling)."""
    return _group(opts, "cpu", {WORKER_RESOURCE: WORKER_RESOURCE_PER_NODE}, replicas=(1, 1, 4), cpu="4", memory="8Gi")


def _history_group(opts: RenderOptions) -> dict[str, Any]:
    """One pod that advertises the history resource: the incident manager (DuckDB, Qdrant) lives and restarts
    here. Exactly one, so the manager never has two candidate nodes."""
    return _group(opts, "history", {WORKER_RESOURCE: WORKER_RESOURCE_PER_NODE, HISTORY_RESOURCE: 1},
                  replicas=(1, 1, 1), cpu="2", memory="8Gi")


def _zone_group(opts: RenderOptions, zone: str) -> dict[str, Any]:
    """The collectors of one zone's clusters, on Kubernetes nodes that can reach them. minReplicas 2 would
    give instant fail-over; with 1, a lost pod's collectors wait for KubeRay to replace it."""
    group = _group(opts, f"zone-{zone}", {zone_resource(zone): ZONE_PER_NODE}, replicas=(1, 1, 2), cpu="1",
                   memory="2Gi")
    group["template"]["spec"]["nodeSelector"] = {ZONE_NODE_LABEL: zone}
    return group


def _gpu_group(opts: RenderOptions) -> dict[str, Any]:
    return {
        "groupName": "gpu",
        "replicas": 1,
        "minReplicas": 0,
        "maxReplicas": 2,
        "rayStartParams": {},  # KubeRay derives num-gpus from the nvidia.com/gpu limit
        "template": {"spec": {
            "serviceAccountName": SERVICE_ACCOUNT,
            "containers": [{
                "name": "ray-worker",
                "image": opts.image,  # needs the `vllm` extra (ray[serve,llm] 2.60 pins vllm 0.29.0)
                "env": [{"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {"name": "hf-token", "key": "hf_token"}}}],
                "resources": {
                    "requests": {"cpu": "8", "memory": "32Gi", "nvidia.com/gpu": "1"},
                    "limits": {"cpu": "8", "memory": "32Gi", "nvidia.com/gpu": "1"},
                },
            }],
            "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
        }},
    }


def ray_service(opts: RenderOptions) -> dict[str, Any]:
    """The KubeRay RayService; its ``serveConfigV2`` is ``serve_config(opts)`` dumped as YAML."""
    groups = ([_cpu_group(opts), _history_group(opts)] + [_zone_group(opts, z) for z in opts.zones]
              + ([_gpu_group(opts)] if opts.llm else []))
    return {
        "apiVersion": "ray.io/v1",
        "kind": "RayService",
        "metadata": {"name": opts.name, "namespace": opts.namespace},
        "spec": {
            "upgradeStrategy": {"type": "NewCluster"},
            "serveConfigV2": dump_yaml(serve_config(opts)),
            "rayClusterConfig": {
                "rayVersion": RAY_VERSION,
                "enableInTreeAutoscaling": True,
                "headGroupSpec": _head(opts),
                "workerGroupSpecs": groups,
            },
        },
    }


class _Dumper(yaml.SafeDumper):
    pass


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def dump_yaml(doc: dict[str, Any]) -> str:
    """Stable YAML: keys in the order written above, multi-line strings as literal blocks."""
    return yaml.dump(doc, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=120)


def command_line(opts: RenderOptions) -> str:
    parts = ["fleetsre deploy render", f"--fleet-path {opts.fleet_path}", f"--data-dir {opts.data_dir}"]
    if opts.llm:
        parts.append("--llm")
    if opts.mode != "recommend":
        parts.append(f"--mode {opts.mode}")
    if opts.image != RenderOptions.image:
        parts.append(f"--image {opts.image}")
    if opts.namespace != RenderOptions.namespace:
        parts.append(f"--namespace {opts.namespace}")
    parts += [f"--zone {z}" for z in opts.zones]
    if opts.fleet_revision:
        parts.append(f"--fleet-revision {opts.fleet_revision}")
    if opts.config_path:
        parts.append(f"--config-path {opts.config_path}")
    return " ".join(parts + ["--out DIR"])


def render(opts: RenderOptions, out: Path) -> list[Path]:
    """Write ``serve-config.yaml`` and ``ray-cluster.yaml`` into ``out``; return their paths."""
    out.mkdir(parents=True, exist_ok=True)
    header = f"# Generated by `{command_line(opts)}` (serve/deploy.py). Do not edit: re-render.\n"
    files = {
        "serve-config.yaml": header + "# `serve deploy serve-config.yaml` on a running Ray cluster, or see ray-cluster.yaml.\n"
        + dump_yaml(serve_config(opts)),
        "ray-cluster.yaml": header + "# KubeRay RayService; needs deploy/kubernetes/ (namespace, RBAC, PVC) and the "
        f"`{FLEET_SECRET}` Secret.\n" + dump_yaml(ray_service(opts)),
    }
    paths = []
    for name, text in files.items():
        path = out / name
        path.write_text(text)
        paths.append(path)
    return paths
