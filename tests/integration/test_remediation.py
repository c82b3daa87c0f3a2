"""Runbook remediation against the fleet simulator, through the official kubernetes client (no Ray).

Each test serves its own copy of a generated scenario (writes change the simulated cluster), runs
the same in-process pipeline as ``fleetsre investigate`` with a live source, and checks the
result the way an operator would: by reading the cluster back through the API.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from clusters.dump import load_dump
from clusters.live import LiveSource
from clusters.scenarios import SCENARIOS, build_cluster, write_cluster, write_scenario
from clusters.simulator import Simulator
from clusters.state import ClusterState
from engine.alert_files import read_payloads
from engine.config import EngineConfig
from engine.report import Report, RootCause, Subject, Trigger
from engine.runbooks import load_runbooks
from engine.sources import SourceError
from engine.tools import REGISTRY, ToolContext
from engine.workflow import run_workflow
from serve.local import investigate_source

pytestmark = pytest.mark.integration

CLUSTER = "sim-r"
RUNBOOKS = load_runbooks()
NOW = datetime(2026, 11, 22, 18, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def scenarios(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("remediation")
    out = {}
    for name in ("oom_killed", "bad_rollout_image"):
        write_scenario(name, root / name, cluster=CLUSTER, seed=3)
        out[name] = root / name
    write_cluster(build_cluster(CLUSTER, []), root / "baseline")
    out["baseline"] = root / "baseline"
    return out


class Served:
    def __init__(self, sim: Simulator, kubeconfig: Path) -> None:
        self.sim, self.kubeconfig = sim, kubeconfig
        self.source = LiveSource.from_kubeconfig(kubeconfig, CLUSTER)
        self.api = config.new_client_from_config(config_file=str(kubeconfig), context=CLUSTER, persist_config=False)
        self.apps, self.core = client.AppsV1Api(self.api), client.CoreV1Api(self.api)

    def versions(self) -> dict[str, str]:
        """Every object's resourceVersion, as the API lists them."""
        return {f"{kind}/{o['metadata'].get('namespace')}/{o['metadata']['name']}": o["metadata"]["resourceVersion"]
                for kind in ("pods", "deployments", "replicasets", "nodes") for o in self.source.list(kind)}

    def pods(self, namespace: str, selector: dict[str, str]) -> list[client.V1Pod]:
        labels = ",".join(f"{k}={v}" for k, v in selector.items())
        return self.core.list_namespaced_pod(namespace, label_selector=labels).items


@contextmanager
def served(tmp_path: Path, dump: Path | ClusterState) -> Iterator[Served]:
    with Simulator({CLUSTER: dump}) as sim:
        s = Served(sim, sim.write_kubeconfig(tmp_path / "kubeconfig"))
        try:
            yield s
        finally:
            s.source.close()
            s.api.close()


def _investigate(s: Served, scenario: Path, data: Path, mode: str) -> list[Report]:
    cfg = EngineConfig(data_dir=data, remediation_mode=mode)  # type: ignore[arg-type]
    reports, _ = investigate_source(s.source, read_payloads(scenario / "alerts.jsonl"), cfg, runbooks=RUNBOOKS,
                                    writer=s.source.writer())
    return reports


def _steps(report: Report) -> dict[str, Any]:
    return {a.step: a for a in report.actions}


def _ready(pod: client.V1Pod) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or [])


def _healed(s: Served, namespace: str, name: str) -> list[client.V1Pod]:
    dep = s.apps.read_namespaced_deployment(name, namespace)
    pods = s.pods(namespace, dep.spec.selector.match_labels)
    assert dep.status.ready_replicas == dep.spec.replicas and not dep.status.unavailable_replicas
    assert len(pods) == dep.spec.replicas and all(_ready(p) for p in pods)
    hashes = {p.metadata.labels["pod-template-hash"] for p in pods}
    assert len(hashes) == 1  # one revision serves
    rs = s.apps.read_namespaced_replica_set(f"{name}-{hashes.pop()}", namespace)
    assert rs.metadata.annotations["deployment.kubernetes.io/revision"] == \
        dep.metadata.annotations["deployment.kubernetes.io/revision"]
    return pods


def test_recommend_mode_changes_nothing_in_the_simulator(tmp_path: Path, scenarios: dict[str, Path]) -> None:
    with served(tmp_path, scenarios["oom_killed"] / "dump") as s:
        before = s.versions()
        (report,) = _investigate(s, scenarios["oom_killed"], tmp_path / "data", "recommend")
        step = _steps(report)["raise-memory"]
        assert report.runbook == "oom-killed" and step.status == "recommended" and "set resources" in step.command
        assert s.versions() == before


def test_auto_mode_heals_the_oom_scenario(tmp_path: Path, scenarios: dict[str, Path]) -> None:
    with served(tmp_path, scenarios["oom_killed"] / "dump") as s:
        (report,) = _investigate(s, scenarios["oom_killed"], tmp_path / "data", "auto")
        subject = report.root_cause.subject
        step = _steps(report)["raise-memory"]
        assert step.status == "done" and step.mode == "auto", step
        old = {p.metadata.labels["pod-template-hash"] for p in s.core.list_namespaced_pod(subject.namespace).items
               if p.metadata.name.startswith(subject.name) and not _ready(p)}
        pods = _healed(s, subject.namespace, subject.name)
        assert old == set() and pods[0].status.container_statuses[0].state.running is not None
        limit = pods[0].spec.containers[0].resources.limits["memory"]
        assert step.result.endswith(f"raised to {limit}")


def test_auto_mode_heals_the_bad_image_scenario_by_rolling_back(tmp_path: Path, scenarios: dict[str, Path]) -> None:
    with served(tmp_path, scenarios["bad_rollout_image"] / "dump") as s:
        (report,) = _investigate(s, scenarios["bad_rollout_image"], tmp_path / "data", "auto")
        subject, steps = report.root_cause.subject, _steps(report)
        assert report.runbook == "bad-rollout" and steps["rollback"].status == "done"
        pods = _healed(s, subject.namespace, subject.name)
        bad = steps["pull"].result.split("cannot pull ")[1].split(" ")[0]
        assert all(p.spec.containers[0].image != bad for p in pods)
        rses = s.apps.list_namespaced_replica_set(subject.namespace).items
        failing = [r for r in rses if r.metadata.name.startswith(subject.name) and bad in
                   [c.image for c in r.spec.template.spec.containers]]
        assert failing and all(r.spec.replicas == 0 for r in failing)


def test_a_wrong_action_visibly_does_not_heal(tmp_path: Path, scenarios: dict[str, Path]) -> None:
    with served(tmp_path, scenarios["bad_rollout_image"] / "dump") as s:
        dep = s.source.get("deployments", *_subject(scenarios["bad_rollout_image"]))
        ns, name = dep["metadata"]["namespace"], dep["metadata"]["name"]
        container = dep["spec"]["template"]["spec"]["containers"][0]["name"]
        # more memory does not make a missing image exist
        s.source.writer().patch_deployment(ns, name, {"spec": {"template": {"spec": {"containers": [
            {"name": container, "resources": {"limits": {"memory": "3Gi"}}}]}}}})
        after = s.apps.read_namespaced_deployment(name, ns)
        newest = after.metadata.annotations["deployment.kubernetes.io/revision"]
        rs = next(r for r in s.apps.list_namespaced_replica_set(ns).items
                  if r.metadata.annotations.get("deployment.kubernetes.io/revision") == newest)
        pods = s.pods(ns, rs.spec.selector.match_labels)
        assert pods and not any(_ready(p) for p in pods)
        assert {p.status.container_statuses[0].state.waiting.reason for p in pods} == {"ImagePullBackOff"}
        # the rollout is stuck, as a real one is: the new revision never completes, the old one keeps serving
        progressing = next(c for c in after.status.conditions if c.type == "Progressing")
        assert after.status.updated_replicas < after.spec.replicas and progressing.reason != "NewReplicaSetAvailable"


def _subject(scenario: Path) -> tuple[str, str]:
    import json

    s = json.loads((scenario / "expected.json").read_text())["incidents"][0]["subject"]
    return s["namespace"], s["name"]


def test_auto_mode_uncordons_a_healthy_cordoned_node(tmp_path: Path, scenarios: dict[str, Path]) -> None:
    with served(tmp_path, scenarios["baseline"] / "dump") as s:
        node = s.source.list("nodes")[0]["metadata"]["name"]
        s.source.writer().patch_node(node, {"spec": {"unschedulable": True}})  # kubectl cordon
        cordoned = s.core.read_node(node)
        assert cordoned.spec.unschedulable and "node.kubernetes.io/unschedulable" in [t.key for t in cordoned.spec.taints]
        subject = Subject(kind="Node", name=node, cluster=CLUSTER)
        report = Report(incident_id="inc-c", cluster=CLUSTER, generated_at=NOW, root_cause=RootCause(
            category="node_cordoned", summary=f"Node {node} is cordoned", confidence=0.6, subject=subject,
            trigger=Trigger(kind="node")))
        run = run_workflow(RUNBOOKS.by_id["node-cordoned"], report, _NoEvidence(), source=s.source,
                           writer=s.source.writer(), mode="auto")
        assert {a.step: a.status for a in run.steps}["uncordon"] == "done"
        healed = s.core.read_node(node)
        assert not healed.spec.unschedulable and "node.kubernetes.io/unschedulable" not in \
            [t.key for t in healed.spec.taints or []]


@pytest.mark.skipif("node_cordoned" not in SCENARIOS, reason="the scenario library has no node_cordoned scenario")
def test_auto_mode_heals_the_cordoned_node_scenario(tmp_path: Path) -> None:
    write_scenario("node_cordoned", tmp_path / "s", cluster=CLUSTER, seed=3)
    with served(tmp_path, tmp_path / "s" / "dump") as s:
        (report,) = _investigate(s, tmp_path / "s", tmp_path / "data", "auto")
        steps = _steps(report)
        assert report.runbook == "node-cordoned" and steps["uncordon"].status == "done", steps
        node = steps["uncordon"].result.split()[1]
        assert not s.core.read_node(node).spec.unschedulable
        subject = report.root_cause.subject
        pods = _healed(s, subject.namespace, subject.name)
        assert {p.spec.node_name for p in pods} == {node}  # the pool's only node takes its pods back


class _NoEvidence:
    def rows(self, table: str) -> list[dict[str, Any]]:
        return []


def _with_extra_pods(dump: Path) -> tuple[ClusterState, str]:
    """The baseline plus a mirror pod and a bare pod on its busiest worker."""
    state = load_dump(dump, CLUSTER)
    node = max((n["metadata"]["name"] for n in state.list("nodes")),
               key=lambda n: len(state.list("pods", field_selector=f"spec.nodeName={n}")))
    template = copy.deepcopy(state.list("pods", field_selector=f"spec.nodeName={node}")[0])
    for name, ns, meta in (("kube-apiserver-x", "kube-system", {"annotations": {"kubernetes.io/config.mirror": "m"}}),
                           ("scratch", "default", {})):
        pod = copy.deepcopy(template)
        pod["metadata"] = {"name": name, "namespace": ns, "uid": f"uid-{name}", **meta}
        state.put("pods", pod)
    return state, node


def test_drain_evicts_only_what_it_should(tmp_path: Path, scenarios: dict[str, Path]) -> None:
    state, node = _with_extra_pods(scenarios["baseline"] / "dump")
    with served(tmp_path, state) as s:
        before = {f"{p['metadata']['namespace']}/{p['metadata']['name']}": p
                  for p in s.source.list("pods", field_selector=f"spec.nodeName={node}")}
        report = Report(incident_id="inc-d", cluster=CLUSTER, generated_at=NOW, root_cause=RootCause(
            category="node_not_ready", summary="s", confidence=0.9, subject=Subject(kind="Node", name=node,
                                                                                   cluster=CLUSTER)))
        plan = REGISTRY["drain"].run(ToolContext(report, _NoEvidence(), {}, s.source), {})
        evict, skipped = plan.outputs["evict"], plan.outputs["skipped"]  # type: ignore[union-attr]
        kinds = {k: ((p["metadata"].get("ownerReferences") or [{}])[0].get("kind")) for k, p in before.items()}
        assert set(evict) == {k for k, kind in kinds.items() if kind in ("ReplicaSet", "StatefulSet")
                              and not k.startswith("kube-system/")}
        assert {"kube-system/kube-apiserver-x", "default/scratch"} <= set(skipped)
        assert {k for k, kind in kinds.items() if kind == "DaemonSet"} <= set(skipped)
        assert plan.apply(s.source.writer()).endswith(f"evicted {len(evict)} of {len(evict)} pod(s)")  # type: ignore[union-attr]
        after = {f"{p['metadata']['namespace']}/{p['metadata']['name']}"
                 for p in s.source.list("pods", field_selector=f"spec.nodeName={node}")}
        assert after == set(skipped)
        assert s.core.read_node(node).spec.unschedulable
        for key in evict:  # every evicted pod's controller replaced it on another, schedulable node
            ns, name = key.split("/")
            owner = before[key]["metadata"]["ownerReferences"][0]
            siblings = [p for p in s.core.list_namespaced_pod(ns).items
                        if (p.metadata.owner_references or [None])[0] and
                        p.metadata.owner_references[0].uid == owner["uid"]]
            assert siblings and all(p.spec.node_name != node and _ready(p) for p in siblings)


def test_writes_answer_like_the_apiserver(tmp_path: Path, scenarios: dict[str, Path]) -> None:
    with served(tmp_path, scenarios["baseline"] / "dump") as s:
        dep = s.source.list("deployments", "shop")[0]
        ns, name = dep["metadata"]["namespace"], dep["metadata"]["name"]
        scale = s.source.writer().scale_deployment(ns, name, 1)
        assert scale["kind"] == "Scale" and scale["spec"]["replicas"] == 1
        assert len(s.pods(ns, dep["spec"]["selector"]["matchLabels"])) == 1
        assert s.apps.read_namespaced_deployment_scale(name, ns).spec.replicas == 1
        with pytest.raises(ApiException) as err:
            s.apps.patch_namespaced_deployment(name, ns, {"spec": {}}, _content_type="application/apply-patch+yaml")
        assert err.value.status == 415
        with pytest.raises(SourceError) as missing:
            s.source.writer().evict_pod(ns, "no-such-pod")
        assert missing.value.status == 404 and missing.value.reason == "NotFound"
        with pytest.raises(SourceError) as invalid:
            s.source.writer().patch_deployment(ns, name, [{"op": "replace", "path": "/spec/replicas", "value": -1}],
                                               patch_type="json")
        assert invalid.value.status == 422
        pod = s.source.list("pods", ns)[0]["metadata"]["name"]
        with pytest.raises(ApiException) as method:
            s.core.patch_namespaced_pod(pod, ns, {"metadata": {"labels": {"x": "y"}}})
        assert method.value.status == 405


def test_rbac_faults_forbid_writes_too(tmp_path: Path, scenarios: dict[str, Path]) -> None:
    with Simulator({CLUSTER: scenarios["baseline"] / "dump"}, faults={CLUSTER: {"forbidden": ["nodes"]}}) as sim:
        src = LiveSource.from_kubeconfig(sim.write_kubeconfig(tmp_path / "kc"), CLUSTER)
        node = sim.state(CLUSTER).list("nodes")[0]["metadata"]["name"]
        with pytest.raises(SourceError) as err:
            src.writer().patch_node(node, {"spec": {"unschedulable": True}})
        assert err.value.status == 403 and 'cannot patch resource "nodes"' in str(err.value)
        assert not sim.state(CLUSTER).get("nodes", None, node)["spec"].get("unschedulable")
        src.close()
