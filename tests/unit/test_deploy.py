"""The production shape: the rendered Serve config and RayService, the RBAC and the Alertmanager snippet.

What is validated: the Serve config against Ray's own ``ServeDeploySchema``; the RayService structurally
(fields and types from KubeRay's ``rayservice_types.go`` as summarised in stack-facts §4) with its pod
templates against the Kubernetes 1.37 core schemas (kubernetes-validate, offline); the RBAC manifests
against those schemas too; the receiver snippet with ``amtool check-config`` when it is installed.
The KubeRay CRD OpenAPI schema itself is not available here (no installed package ships it, and it may
not be copied in), so the RayService is not CRD-validated: ``test_ray_service_structure`` is the
structural stand-in.
"""

from __future__ import annotations

import importlib
import json
import shutil
import subprocess
from pathlib import Path, PurePosixPath

import kubernetes_validate
import pytest
import yaml
from ray.serve.schema import ServeDeploySchema
from typer.testing import CliRunner

from serve import app as wiring
from serve.cli import app as cli
from serve.deploy import (
    DATA_PVC,
    FLEET_SECRET,
    SERVICE_ACCOUNT,
    WORKER_RESOURCE,
    ZONE_NODE_LABEL,
    RenderOptions,
    ray_service,
    render,
    serve_config,
)
from serve.ingress import Ingress
from serve.placement import HISTORY_RESOURCE

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "kubernetes"
K8S_VERSION = "1.37.0"
VARIANTS = [RenderOptions(), RenderOptions(llm=True), RenderOptions(mode="auto", fleet_path="/etc/fleet/f.yaml",
                                                                    data_dir="/data", namespace="sre"),
            RenderOptions(zones=("eu", "us-east-1"), fleet_revision="3")]
IDS = ["default", "llm", "auto", "zones"]
# RayService spec fields (rayservice_types.go @ feeaf72, stack-facts §4)
RAYSERVICE_SPEC = {"serveConfigV2", "rayClusterConfig", "upgradeStrategy", "rayClusterDeletionDelaySeconds",
                   "serveService", "excludeHeadPodFromServeSvc"}
UPGRADE_TYPES = {"NewCluster", "NewClusterWithIncrementalUpgrade", "None"}
READ_RESOURCES = {"pods", "pods/log", "events", "nodes", "deployments", "replicasets", "statefulsets", "daemonsets",
                  "jobs", "configmaps", "persistentvolumeclaims"}


def _docs(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def test_checked_in_ray_cluster_yaml_is_the_rendered_one(tmp_path):
    render(RenderOptions(), tmp_path)
    assert (tmp_path / "ray-cluster.yaml").read_text() == (ROOT / "ray-cluster.yaml").read_text(), (
        "ray-cluster.yaml drifted from serve/deploy.py: run "
        "`fleetsre deploy render --fleet-path /etc/fleetsre/fleet.yaml --data-dir /var/lib/fleetsre --out .` "
        "and delete the serve-config.yaml it writes next to it")


@pytest.mark.parametrize("opts", VARIANTS, ids=IDS)
def test_serve_config_validates_against_rays_schema(opts):
    doc = serve_config(opts)
    schema = ServeDeploySchema.parse_obj(doc)
    apps = {a.name: a for a in schema.applications}
    assert apps[wiring.APP_NAME].import_path == "serve.app:app_builder"
    revision = {"fleet_revision": opts.fleet_revision} if opts.fleet_revision else {}
    assert apps[wiring.APP_NAME].args == {"fleet": opts.fleet_path, "data_dir": opts.data_dir, "mode": opts.mode,
                                          "worker_resource": WORKER_RESOURCE, "history_resource": HISTORY_RESOURCE,
                                          **revision}
    ingress = apps[wiring.APP_NAME].deployments[0]
    assert ingress.name == Ingress.name
    assert 0 < ingress.ray_actor_options.num_cpus < 1
    assert schema.http_options.port == 8000
    assert ("llm" in apps) == opts.llm
    if opts.llm:
        assert apps["llm"].import_path == "ray.serve.llm:build_openai_app"
        assert apps["llm"].route_prefix == "/llm"
        (llm_cfg,) = apps["llm"].args["llm_configs"]
        assert llm_cfg["deployment_config"]["autoscaling_config"]["target_ongoing_requests"] < 1e9


def test_rays_schema_would_catch_a_broken_config():
    doc = serve_config(RenderOptions())
    doc["applications"][0]["deployments"][0]["ray_actor_options"]["num_cpus"] = -1
    with pytest.raises(Exception, match="num_cpus"):
        ServeDeploySchema.parse_obj(doc)


@pytest.mark.parametrize("opts", VARIANTS, ids=IDS)
def test_serve_config_v2_is_exactly_the_serve_config_file(opts, tmp_path):
    render(opts, tmp_path)
    on_disk = yaml.safe_load((tmp_path / "serve-config.yaml").read_text())
    embedded = yaml.safe_load(yaml.safe_load((tmp_path / "ray-cluster.yaml").read_text())["spec"]["serveConfigV2"])
    assert on_disk == embedded == serve_config(opts)


def test_import_path_is_the_code_builder_and_its_args_drive_it(tmp_path, monkeypatch):
    app_cfg = serve_config(RenderOptions(mode="auto"))["applications"][0]
    module, attr = app_cfg["import_path"].split(":")
    builder = getattr(importlib.import_module(module), attr)
    assert builder is wiring.app_builder
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text("clusters:\n  - name: prod-eu-1\n    in_cluster: true\n    zone: eu-west-1\n")
    seen = {}
    monkeypatch.setattr(wiring, "build_app", lambda f, cfg, **kw: seen.update(fleet=f, cfg=cfg, **kw) or "app")
    assert builder({**app_cfg["args"], "fleet": str(fleet)}) == "app"
    assert seen["fleet"].names() == ["prod-eu-1"]
    assert seen["cfg"].data_dir == Path("/var/lib/fleetsre")
    assert seen["cfg"].remediation_mode == "auto"
    assert seen["worker_resource"] == WORKER_RESOURCE
    assert seen["history_resource"] == HISTORY_RESOURCE


def _advertised(group: dict) -> dict:
    """A worker group's custom resources: rayStartParams.resources is a JSON object inside a quoted string."""
    raw = group["rayStartParams"].get("resources")
    if raw is None:
        return {}
    assert raw.startswith('"') and raw.endswith('"'), raw
    return json.loads(json.loads(raw))


def _pod_template_ok(template: dict) -> None:
    kubernetes_validate.validate({"apiVersion": "v1", "kind": "PodTemplate", "metadata": {"name": "t"},
                                  "template": template}, K8S_VERSION, strict=True)


@pytest.mark.parametrize("opts", VARIANTS, ids=IDS)
def test_ray_service_structure(opts):
    rs = ray_service(opts)
    assert rs["apiVersion"] == "ray.io/v1" and rs["kind"] == "RayService"
    assert rs["metadata"] == {"name": opts.name, "namespace": opts.namespace}
    spec = rs["spec"]
    assert set(spec) <= RAYSERVICE_SPEC and {"serveConfigV2", "rayClusterConfig"} <= set(spec)
    assert isinstance(spec["serveConfigV2"], str)
    assert spec["upgradeStrategy"]["type"] in UPGRADE_TYPES
    rc = spec["rayClusterConfig"]
    assert rc["rayVersion"] == importlib.import_module("ray").__version__
    assert rc["enableInTreeAutoscaling"] is True
    head, groups = rc["headGroupSpec"], rc["workerGroupSpecs"]
    assert head["rayStartParams"]["num-cpus"] == "0"  # the head does no work
    for g in [head, *groups]:
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in g["rayStartParams"].items())
        assert g["template"]["spec"]["containers"], "a group without containers"
        _pod_template_ok(g["template"])
    names = [g["groupName"] for g in groups]
    assert len(set(names)) == len(names)
    for g in groups:
        assert all(isinstance(g[k], int) for k in ("replicas", "minReplicas", "maxReplicas"))
        assert g["minReplicas"] <= g["replicas"] <= g["maxReplicas"]
    cpu = groups[0]
    assert cpu["groupName"] == "cpu" and cpu["maxReplicas"] > cpu["minReplicas"]  # autoscaling
    assert _advertised(cpu) == {WORKER_RESOURCE: 1000}
    assert WORKER_RESOURCE not in str(head["rayStartParams"])
    # exactly one node holds the history (the DuckDB writer restarts there), on the data volume
    holders = [g for g in groups if HISTORY_RESOURCE in _advertised(g)]
    assert [(g["groupName"], g["minReplicas"], g["maxReplicas"], _advertised(g)[HISTORY_RESOURCE])
            for g in holders] == [("history", 1, 1, 1)]
    # one group per zone, advertising its zone resource, on nodes labelled for that zone
    zoned = {g["groupName"]: g for g in groups if g["groupName"].startswith("zone-")}
    assert sorted(zoned) == [f"zone-{z}" for z in sorted(opts.zones)]
    for z in opts.zones:
        g = zoned[f"zone-{z}"]
        assert _advertised(g) == {f"zone:{z}": 1000}
        assert g["template"]["spec"]["nodeSelector"] == {ZONE_NODE_LABEL: z}
    # fleet.yaml from the Secret (read-only) wherever the builder may run; the data dir on the PVC on workers
    fleet_dir = str(PurePosixPath(opts.fleet_path).parent)
    for g in (head, *[g for g in groups if g["groupName"] != "gpu"]):
        pod = g["template"]["spec"]
        vols = {v["name"]: v for v in pod["volumes"]}
        mounts = {m["name"]: m for m in pod["containers"][0]["volumeMounts"]}
        assert vols["fleet"]["secret"]["secretName"] == FLEET_SECRET
        assert mounts["fleet"] == {"name": "fleet", "mountPath": fleet_dir, "readOnly": True}
        assert pod["serviceAccountName"] == SERVICE_ACCOUNT
    for g in [g for g in groups if g["groupName"] != "gpu"]:  # evidence and history: every CPU worker mounts it
        pod = g["template"]["spec"]
        assert {v["name"]: v for v in pod["volumes"]}["data"]["persistentVolumeClaim"]["claimName"] == DATA_PVC
        assert {m["name"]: m for m in pod["containers"][0]["volumeMounts"]}["data"]["mountPath"] == opts.data_dir
    gpu = [g for g in groups if g["groupName"] == "gpu"]
    assert bool(gpu) == opts.llm
    if gpu:
        assert gpu[0]["template"]["spec"]["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == "1"


def test_render_cli_writes_both_files_and_rejects_relative_paths(tmp_path):
    runner = CliRunner()
    res = runner.invoke(cli, ["deploy", "render", "--fleet-path", "/etc/fleetsre/fleet.yaml", "--data-dir",
                              "/var/lib/fleetsre", "--llm", "--out", str(tmp_path / "out")])
    assert res.exit_code == 0, res.output
    rs = yaml.safe_load((tmp_path / "out" / "ray-cluster.yaml").read_text())
    assert [g["groupName"] for g in rs["spec"]["rayClusterConfig"]["workerGroupSpecs"]] == ["cpu", "history", "gpu"]
    assert (tmp_path / "out" / "serve-config.yaml").is_file()
    bad = runner.invoke(cli, ["deploy", "render", "--fleet-path", "fleet.yaml", "--out", str(tmp_path / "bad")])
    assert bad.exit_code == 2 and not (tmp_path / "bad").exists()


def test_render_cli_makes_a_worker_group_per_zone_of_the_fleet(tmp_path):
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text("clusters:\n"
                     "  - {name: prod-eu-1, in_cluster: true, zone: eu}\n"
                     "  - {name: prod-us-1, in_cluster: true, zone: us}\n"
                     "  - {name: home, in_cluster: true}\n")
    res = CliRunner().invoke(cli, ["deploy", "render", "--fleet", str(fleet), "--zone", "ap", "--zone", "eu",
                                   "--fleet-revision", "7", "--out", str(tmp_path / "out")])
    assert res.exit_code == 0, res.output
    text = (tmp_path / "out" / "ray-cluster.yaml").read_text()
    rs = yaml.safe_load(text)
    groups = rs["spec"]["rayClusterConfig"]["workerGroupSpecs"]
    assert [g["groupName"] for g in groups] == ["cpu", "history", "zone-ap", "zone-eu", "zone-us"]
    assert "--zone ap --zone eu --zone us --fleet-revision 7" in text.splitlines()[0]  # the header re-renders it
    app = yaml.safe_load(rs["spec"]["serveConfigV2"])["applications"][0]
    assert app["args"]["fleet_revision"] == "7"
    bad = CliRunner().invoke(cli, ["deploy", "render", "--zone", "EU West", "--out", str(tmp_path / "bad")])
    assert bad.exit_code == 2 and not (tmp_path / "bad").exists()


@pytest.mark.parametrize("name", ["namespace.yaml", "rbac-readonly.yaml", "rbac-remediation.yaml"])
def test_manifests_validate_against_kubernetes_schemas(name):
    docs = _docs(K8S / name)
    assert docs
    for doc in docs:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def _roles() -> dict[str, dict]:
    docs = _docs(K8S / "rbac-readonly.yaml") + _docs(K8S / "rbac-remediation.yaml")
    return {(d["kind"], d["metadata"]["name"]): d for d in docs}


def test_read_only_role_reads_what_collectors_need_and_never_secrets():
    role = _roles()[("ClusterRole", "fleetsre-read")]
    covered = set()
    for rule in role["rules"]:
        assert "secret" not in yaml.safe_dump(rule).lower()
        assert "*" not in rule["resources"] and "*" not in rule.get("apiGroups", [])
        assert set(rule["verbs"]) <= {"get", "list", "watch"}
        covered |= set(rule["resources"])
    assert READ_RESOURCES <= covered


def test_remediation_role_is_exactly_the_auto_mode_writes():
    role = _roles()[("ClusterRole", "fleetsre-remediate")]
    grants = {(res, verb) for r in role["rules"] for res in r["resources"] for verb in r["verbs"]}
    assert grants == {("deployments", "patch"), ("deployments/scale", "patch"), ("nodes", "patch"),
                      ("pods", "delete"), ("pods/eviction", "create")}


def test_bindings_tie_the_roles_to_the_service_account_the_ray_pods_use():
    roles = _roles()
    sa = roles[("ServiceAccount", SERVICE_ACCOUNT)]
    rs = ray_service(RenderOptions())
    assert sa["metadata"]["namespace"] == rs["metadata"]["namespace"]
    for role in ("fleetsre-read", "fleetsre-remediate"):
        binding = roles[("ClusterRoleBinding", role)]
        assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role}
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": SERVICE_ACCOUNT,
                                        "namespace": sa["metadata"]["namespace"]}]
    pvc = {d["kind"]: d for d in _docs(K8S / "namespace.yaml")}["PersistentVolumeClaim"]
    assert pvc["metadata"] == {"name": DATA_PVC, "namespace": rs["metadata"]["namespace"]}


def test_alertmanager_receiver_snippet(tmp_path):
    text = (K8S / "alertmanager-receiver.yaml").read_text()
    doc = yaml.safe_load(text)
    (receiver,) = [r for r in doc["receivers"] if r["name"] == doc["route"]["receiver"]]
    (hook,) = receiver["webhook_configs"]
    assert hook["url"].endswith(":8000/webhook/alertmanager/<cluster>")
    assert hook["send_resolved"] is True
    auth = hook["http_config"]["authorization"]
    assert auth["type"] == "Bearer" and auth["credentials_file"].startswith("/")
    assert '"/webhook/alertmanager/{cluster}"' in (ROOT / "serve" / "ingress.py").read_text()
    amtool = shutil.which("amtool")
    if amtool is None:
        pytest.skip("amtool (prometheus-alertmanager) not installed: structural checks only")
    cfg = tmp_path / "alertmanager.yml"
    cfg.write_text(text.replace("<cluster>", "prod-eu-1"))
    res = subprocess.run([amtool, "check-config", str(cfg)], capture_output=True, text=True, timeout=30)
    assert res.returncode == 0, res.stdout + res.stderr
