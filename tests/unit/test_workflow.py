"""The workflow executor and the tools: gates, modes, refusals, plans — over a small in-memory
cluster (a ClusterState behind the real DumpSource) and a writer that records what it is asked."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from clusters.dump import DumpSource
from clusters.state import ClusterState
from engine.remediate import ACTED
from engine.report import Report, RootCause, Subject, Trigger
from engine.runbooks import load_runbooks
from engine.sources import SourceError
from engine.tools import REGISTRY, Refused, ToolContext
from engine.tools.memory import memory_target
from engine.tools.nodes import drain_selection
from engine.workflow import run_workflow

NOW = datetime(2026, 11, 22, 18, 30, tzinfo=UTC)
RUNBOOKS = load_runbooks()


class Evidence:
    def __init__(self, **tables: list[dict[str, Any]]) -> None:
        self.tables = tables

    def rows(self, table: str) -> list[dict[str, Any]]:
        return [{"cluster": "c1", **r} for r in self.tables.get(table, [])]


class RecordingWriter:
    name = "c1"

    def __init__(self, fail: bool = False) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.fail = fail

    def _record(self, *call: Any) -> dict[str, Any]:
        if self.fail:
            raise SourceError("c1: deployments.apps \"api\" is forbidden", status=403)
        self.calls.append(call)
        return {}

    def patch_deployment(self, namespace: str, name: str, patch: Any, *, patch_type: str = "strategic") -> dict:
        return self._record("patch_deployment", namespace, name, patch, patch_type)

    def patch_node(self, name: str, patch: Any, *, patch_type: str = "strategic") -> dict:
        return self._record("patch_node", name, patch, patch_type)

    def scale_deployment(self, namespace: str, name: str, replicas: int) -> dict:
        return self._record("scale_deployment", namespace, name, replicas)

    def delete_pod(self, namespace: str, name: str) -> dict:
        return self._record("delete_pod", namespace, name)

    def evict_pod(self, namespace: str, name: str) -> None:
        self._record("evict_pod", namespace, name)


def _node(name: str, *, unschedulable: bool = False, **conditions: str) -> dict[str, Any]:
    conds = {"Ready": "True", "MemoryPressure": "False", "DiskPressure": "False", "PIDPressure": "False", **conditions}
    spec = {"unschedulable": True} if unschedulable else {}
    return {"kind": "Node", "metadata": {"name": name}, "spec": spec,
            "status": {"conditions": [{"type": t, "status": s} for t, s in conds.items()]}}


def _cluster(limit: str = "256Mi", nodes: list[dict[str, Any]] | None = None) -> DumpSource:
    container = {"name": "app", "image": "shop/api:1.2.0", "resources": {"limits": {"memory": limit}}}
    template = {"metadata": {"labels": {"app": "api"}}, "spec": {"containers": [container]}}
    owner = {"kind": "Deployment", "name": "api", "uid": "dep-1", "controller": True}
    objects = {
        "nodes": nodes or [_node("n1")],
        "deployments": [{"kind": "Deployment", "metadata": {"name": "api", "namespace": "shop", "uid": "dep-1"},
                         "spec": {"replicas": 2, "template": template}}],
        "replicasets": [{"kind": "ReplicaSet", "metadata": {"name": "api-7f", "namespace": "shop", "uid": "rs-1",
                                                            "ownerReferences": [owner]}, "spec": {"template": template}}],
        "pods": [
            {"kind": "Pod", "metadata": {"name": "api-7f-x1", "namespace": "shop", "ownerReferences": [
                {"kind": "ReplicaSet", "name": "api-7f", "uid": "rs-1", "controller": True}]},
             "spec": {"nodeName": "n1", "containers": [container]}},
            {"kind": "Pod", "metadata": {"name": "debug", "namespace": "shop"}, "spec": {"nodeName": "n1"}},
        ],
    }
    return DumpSource.from_state(ClusterState("c1", objects, captured_at=NOW))


def _oom_evidence(killed: bool = True) -> Evidence:
    pod = {"namespace": "shop", "name": "api-7f-x1", "node": "n1", "workload_kind": "Deployment",
           "workload_name": "api", "owner_kind": "ReplicaSet", "owner_name": "api-7f", "phase": "Running"}
    c = {"namespace": "shop", "pod": "api-7f-x1", "container": "app", "init": False, "ready": False,
         "state": "waiting", "reason": "CrashLoopBackOff", "last_reason": "OOMKilled" if killed else "Error",
         "memory_limit": "256Mi", "memory_limit_bytes": 256 * 2**20, "restart_count": 7}
    return Evidence(pods=[pod], containers=[c])


def _report(category: str, kind: str = "Deployment", name: str = "api", namespace: str | None = "shop",
            trigger: str = "unknown") -> Report:
    subject = Subject(kind=kind, namespace=namespace, name=name, cluster="c1")
    return Report(incident_id="inc-1", cluster="c1", generated_at=NOW,
                  root_cause=RootCause(category=category, summary="s", confidence=0.9, subject=subject,  # type: ignore[arg-type]
                                       trigger=Trigger(kind=trigger)))  # type: ignore[arg-type]


def _steps(run: Any) -> dict[str, Any]:
    return {s.step: s for s in run.steps}


def test_a_step_is_skipped_when_its_gate_is_false() -> None:
    run = run_workflow(RUNBOOKS.by_id["oom-killed"], _report("oom_killed"), _oom_evidence(killed=False),
                       source=_cluster(), writer=RecordingWriter(), mode="auto")
    steps = _steps(run)
    assert steps["oom"].status == "done" and steps["oom"].mode == "read"
    assert steps["raise-memory"].status == "skipped"
    assert steps["raise-memory"].why == "gate 'steps.oom.oom_killed' is false (steps.oom.oom_killed = False)"
    assert run.outputs["oom"] == {"oom_killed": False, "pods": 0, "status": "done"}


def test_recommend_mode_writes_the_action_and_the_command_and_changes_nothing() -> None:
    writer = RecordingWriter()
    run = run_workflow(RUNBOOKS.by_id["oom-killed"], _report("oom_killed"), _oom_evidence(), source=_cluster(),
                       writer=writer, mode="recommend")
    step = _steps(run)["raise-memory"]
    assert (step.status, step.mode, step.mutates) == ("recommended", "recommend", True)
    assert step.command == "kubectl --context c1 -n shop set resources deployment/api -c app --limits=memory=512Mi"
    assert step.inputs == {"container": "app", "floor": "256Mi", "cap": "4Gi", "factor": 2}
    assert "from 256Mi to 512Mi" in step.result and "global remediation_mode" in step.why
    assert writer.calls == []


def test_auto_mode_applies_the_plan_through_the_writer_once_per_incident() -> None:
    writer = RecordingWriter()
    run = run_workflow(RUNBOOKS.by_id["oom-killed"], _report("oom_killed"), _oom_evidence(), source=_cluster(),
                       writer=writer, mode="auto")
    assert _steps(run)["raise-memory"].status == "done" and _steps(run)["raise-memory"].mode == "auto"
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "app", "resources": {"limits": {"memory": "512Mi"}}}]}}}}
    assert writer.calls == [("patch_deployment", "shop", "api", patch, "strategic")]
    again = run_workflow(RUNBOOKS.by_id["oom-killed"], _report("oom_killed"), _oom_evidence(), source=_cluster(),
                         writer=writer, mode="auto", hold=ACTED)
    assert _steps(again)["raise-memory"].status == "recommended" and "already acted" in _steps(again)["raise-memory"].why
    assert len(writer.calls) == 1


def test_auto_mode_without_a_writer_or_with_a_failing_api_is_recorded_not_raised() -> None:
    run = run_workflow(RUNBOOKS.by_id["oom-killed"], _report("oom_killed"), _oom_evidence(), source=_cluster(),
                       writer=None, mode="auto")
    step = _steps(run)["raise-memory"]
    assert step.status == "refused" and "has no writer (a dump cannot be changed)" in step.why
    run = run_workflow(RUNBOOKS.by_id["oom-killed"], _report("oom_killed"), _oom_evidence(), source=_cluster(),
                       writer=RecordingWriter(fail=True), mode="auto")
    assert _steps(run)["raise-memory"].status == "failed" and "forbidden" in _steps(run)["raise-memory"].result


def test_a_runbook_that_allows_recommend_only_never_acts_even_in_auto_mode() -> None:
    writer = RecordingWriter()
    run = run_workflow(RUNBOOKS.by_id["missing-secret-or-configmap"], _report("missing_secret_or_configmap"),
                       Evidence(containers=[{"namespace": "shop", "pod": "api-7f-x1", "container": "app",
                                             "message": 'secret "api-db" not found', "env_refs": ["secret:api-db:pass"]}]),
                       source=_cluster(), writer=writer, mode="auto")
    create = _steps(run)["create"]
    assert create.status == "recommended" and "never guessed" in create.why
    assert create.command == "kubectl --context c1 -n shop create secret generic api-db --from-literal=pass=<value>"
    assert writer.calls == []


def test_uncordon_is_refused_on_a_node_with_pressure() -> None:
    source = _cluster(nodes=[_node("n1", unschedulable=True, MemoryPressure="True")])
    report = _report("node_cordoned", kind="Node", name="n1", namespace=None, trigger="node")
    writer = RecordingWriter()
    run = run_workflow(RUNBOOKS.by_id["node-cordoned"], report, Evidence(), source=source, writer=writer, mode="auto")
    steps = _steps(run)
    assert steps["conditions"].status == "done" and "MemoryPressure=True" in steps["conditions"].result
    assert steps["uncordon"].status == "skipped" and "steps.conditions.healthy = False" in steps["uncordon"].why
    assert steps["why-cordoned"].status == "recommended" and "MemoryPressure=True" in steps["why-cordoned"].result
    with pytest.raises(Refused, match=r"node n1 is not healthy \(MemoryPressure=True\): it stays cordoned"):
        REGISTRY["uncordon"].run(ToolContext(report, Evidence(), {}, source), {})
    assert writer.calls == []


def test_uncordon_a_healthy_node_and_cordon_one_already_cordoned() -> None:
    source = _cluster(nodes=[_node("n1", unschedulable=True)])
    report = _report("node_cordoned", kind="Node", name="n1", namespace=None, trigger="node")
    writer = RecordingWriter()
    run = run_workflow(RUNBOOKS.by_id["node-cordoned"], report, Evidence(), source=source, writer=writer, mode="auto")
    assert _steps(run)["uncordon"].status == "done" and _steps(run)["uncordon"].command == "kubectl --context c1 uncordon n1"
    assert writer.calls == [("patch_node", "n1", {"spec": {"unschedulable": None}}, "strategic")]
    run = run_workflow(RUNBOOKS.by_id["node-pressure"], _report("node_pressure", kind="Node", name="n1", namespace=None),
                       Evidence(), source=_cluster(nodes=[_node("n1", unschedulable=True, DiskPressure="True")]),
                       writer=writer, mode="auto")
    assert _steps(run)["cordon"].status == "skipped" and "already cordoned" in _steps(run)["cordon"].result


@pytest.mark.parametrize(("current", "target"), [("100Mi", "256Mi"), ("256Mi", "512Mi"), ("3Gi", "4Gi")])
def test_memory_is_doubled_within_the_floor_and_the_cap(current: str, target: str) -> None:
    from engine.quantity import format_bytes, parse_quantity

    new = memory_target(parse_quantity(current) or 0, factor=2, floor=256 * 2**20, cap=4 * 2**30)
    assert format_bytes(new) == target


def test_memory_at_the_cap_and_containers_without_a_limit_are_refused() -> None:
    ctx = ToolContext(_report("oom_killed"), _oom_evidence(), {}, _cluster(limit="4Gi"))
    with pytest.raises(Refused, match="already at or above the cap 4Gi"):
        REGISTRY["raise_memory_limit"].run(ctx, {"container": "app"})
    ctx = ToolContext(_report("oom_killed"), _oom_evidence(), {}, _cluster(limit=""))
    with pytest.raises(Refused, match="has no memory limit"):
        REGISTRY["raise_memory_limit"].run(ctx, {"container": "app"})


def test_mutations_follow_the_owner_chain_to_the_deployment() -> None:
    ctx = ToolContext(_report("oom_killed", kind="Pod", name="api-7f-x1"), Evidence(), {}, _cluster())
    plan = REGISTRY["patch_image"].run(ctx, {"container": "app", "image": "shop/api:1.1.9"})
    assert plan.target == "deployment/shop/api"  # type: ignore[union-attr]
    assert plan.command == "kubectl --context c1 -n shop set image deployment/api app=shop/api:1.1.9"  # type: ignore[union-attr]
    with pytest.raises(Refused, match="already runs shop/api:1.2.0"):
        REGISTRY["patch_image"].run(ctx, {"container": "app", "image": "shop/api:1.2.0"})


def test_delete_pod_refuses_a_bare_pod() -> None:
    ctx = ToolContext(_report("app_crash"), Evidence(), {}, _cluster())
    plan = REGISTRY["delete_pod"].run(ctx, {"pod": "api-7f-x1"})
    assert plan.outputs == {"owner": "ReplicaSet/api-7f"}  # type: ignore[union-attr]
    with pytest.raises(Refused, match="not owned by a controller"):
        REGISTRY["delete_pod"].run(ctx, {"pod": "debug"})


def test_drain_selection_skips_daemonset_mirror_kube_system_and_bare_pods() -> None:
    def pod(ns: str, name: str, owner: str | None = "ReplicaSet", **meta: Any) -> dict[str, Any]:
        refs = [{"kind": owner, "name": "o", "controller": True}] if owner else []
        return {"metadata": {"namespace": ns, "name": name, "ownerReferences": refs, **meta}}

    evict, skipped = drain_selection([
        pod("shop", "web"), pod("shop", "db-0", "StatefulSet"), pod("monitoring", "exporter", "DaemonSet"),
        pod("kube-system", "etcd", None, annotations={"kubernetes.io/config.mirror": "abc"}),
        pod("kube-system", "coredns"), pod("shop", "scratch", None),
        pod("shop", "old", deletionTimestamp="2026-11-22T18:00:00Z")], ["kube-system"])
    assert evict == ["shop/web", "shop/db-0"]
    assert set(skipped) == {"monitoring/exporter", "kube-system/etcd", "kube-system/coredns", "shop/scratch", "shop/old"}
    assert "DaemonSet" in skipped["monitoring/exporter"] and "mirror" in skipped["kube-system/etcd"]


def test_a_failing_tool_is_recorded_and_the_workflow_goes_on() -> None:
    class Down(DumpSource):
        def get(self, kind: str, namespace: str | None, name: str) -> dict[str, Any]:
            raise SourceError("c1: unreachable", status=None)

    down = Down.from_state(_cluster().state)
    report = _report("node_not_ready", kind="Node", name="n1", namespace=None, trigger="node")
    run = run_workflow(RUNBOOKS.by_id["node-not-ready"], report, Evidence(), source=down, mode="recommend")
    steps = _steps(run)
    assert steps["ready"].status == "failed" and "unreachable" in steps["ready"].result
    assert steps["events"].status == "done"
    # a missing output never satisfies a comparison: the failed read does not open the cordon's gate
    assert steps["cordon"].status == "skipped" and "(steps.ready.ready = None)" in steps["cordon"].why
