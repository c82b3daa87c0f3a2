"""investigate(): root cause choice, precedence, triggers, timeline, evidence, recommendations, missing.

Evidence is written with ``write_evidence`` under tmp_path and read back with ``IncidentEvidence``;
the last tests run the real sample dumps through ``clusters.dump.DumpSource`` and
``engine.collect.collect_incident`` first.
"""

from __future__ import annotations

from datetime import timedelta

from engine.alerts import AlertTarget
from engine.detectors import run_detectors
from engine.evidence_query import IncidentEvidence
from engine.investigate import choose, investigate
from engine.recommend import double_memory
from tests.unit.detector_fixtures import (
    CLUSTER,
    T0,
    ago,
    alert,
    container,
    context,
    crashloop_alert,
    event,
    incident,
    logs,
    pod,
    sample_event,
    sample_log,
    write,
)

POD = "checkout-7d9c5b6f4-x2kqp"
NEW, OLD = "7d9c5b6f4", "5f6d7c8b9"


def run(tmp_path, alerts=None, **kw):
    inc = incident(alerts or [crashloop_alert(POD)])
    return investigate(inc, IncidentEvidence(tmp_path, inc.id), **kw)


def oom_container(**kw):
    base = dict(
        state="waiting",
        reason="CrashLoopBackOff",
        last_state="terminated",
        last_reason="OOMKilled",
        last_exit_code=137,
        last_finished_at=ago(3),
        restart_count=5,
        memory_limit="256Mi",
        memory_limit_bytes=256 * 2**20,
    )
    return container(POD, **{**base, **kw})


def panic_pod(tmp_path, changes, extra_pods=()):
    write(
        tmp_path,
        pods=[pod(POD, rev=NEW), *extra_pods],
        containers=[
            container(
                POD,
                state="waiting",
                reason="CrashLoopBackOff",
                last_state="terminated",
                last_reason="Error",
                last_exit_code=2,
                last_finished_at=ago(2),
                restart_count=4,
            )
        ],
        logs=logs(POD, sample_log("go_panic")[:6]),
        changes=changes,
    )


def revision(h, created, ready, images, env=()):
    return {
        "namespace": "shop",
        "workload_kind": "Deployment",
        "workload_name": "checkout",
        "revision_name": f"checkout-{h}",
        "revision": 7 if h == NEW else 6,
        "revision_hash": h,
        "images": images,
        "created_at": created,
        "replicas": 3,
        "ready_replicas": ready,
        "available_replicas": ready,
        "env_names": list(env),
        "template": "{}",
    }


# -- precedence and red herrings -------------------------------------------------------------------
def test_probe_failures_with_oomkilled_status_is_oom(tmp_path):
    write(
        tmp_path,
        pods=[pod(POD)],
        containers=[oom_container()],
        events=[
            event(
                POD,
                "Unhealthy",
                sample_event("Liveness probe failed: HTTP probe failed with statuscode: 500"),
                count=12,
                field_path="spec.containers{app}",
            ),
            event(
                POD,
                "Killing",
                "Container app failed liveness probe, will be restarted",
                type_="Normal",
                field_path="spec.containers{app}",
            ),
        ],
    )
    r = run(tmp_path)
    assert r.root_cause.category == "oom_killed" and r.root_cause.confidence >= 0.9
    assert (r.root_cause.subject.kind, r.root_cause.subject.name) == ("Deployment", "checkout")
    assert any("Liveness probe failed" in e.text for e in r.evidence), (
        "absorbed probe events are supporting evidence"
    )
    cmds = [x.command for x in r.recommendations]
    assert (
        cmds[0]
        == "kubectl --context prod-eu-1 -n shop set resources deployment/checkout -c app --limits=memory=512Mi"
    )
    assert any(e.kind == "resources" and "memory=256Mi" in e.text for e in r.evidence)


def test_crash_whose_real_cause_is_a_missing_configmap_key(tmp_path):
    msg = "couldn't find key LOG_LEVEL in ConfigMap shop/checkout-config"
    write(
        tmp_path,
        pods=[pod(POD)],
        containers=[
            container(
                POD,
                state="waiting",
                reason="CreateContainerConfigError",
                message=msg,
                last_state="terminated",
                last_reason="Error",
                last_exit_code=2,
                last_finished_at=ago(4),
                restart_count=3,
                env_refs=["configmap:checkout-config:LOG_LEVEL"],
            )
        ],
        logs=logs(POD, sample_log("go_panic")[:6]),
        events=[
            event(POD, "Failed", f"Error: {msg}", count=5),
            event(POD, "BackOff", sample_event("Back-off restarting failed container", "BackOff"), count=9),
        ],
    )
    r = run(tmp_path)
    assert r.root_cause.category == "missing_secret_or_configmap"
    assert "LOG_LEVEL" in r.root_cause.summary and "ConfigMap shop/checkout-config" in r.root_cause.summary
    ctx = context(tmp_path, incident([crashloop_alert(POD)]))
    chosen, absorbed, _ = choose(run_detectors(ctx).findings)
    assert chosen.category == "missing_secret_or_configmap"
    assert "app_crash" in {f.category for f in absorbed}
    assert r.recommendations[0].command == (
        "kubectl --context prod-eu-1 -n shop patch configmap checkout-config --type merge "
        """-p '{"data":{"LOG_LEVEL":"<value>"}}'"""
    )


def test_dependency_beats_the_crash_it_causes_and_names_it(tmp_path):
    write(
        tmp_path,
        pods=[pod(POD)],
        containers=[
            container(
                POD,
                state="waiting",
                reason="CrashLoopBackOff",
                last_state="terminated",
                last_reason="Error",
                last_exit_code=1,
                last_finished_at=ago(2),
                restart_count=7,
            )
        ],
        logs=logs(POD, sample_log("db_connection_refused", "java/spring+hikari+pgjdbc")),
    )
    r = run(tmp_path)
    assert r.root_cause.category == "dependency_unavailable"
    assert "postgres:5432" in r.root_cause.summary
    assert r.root_cause.trigger.kind == "unknown", "a dependency being down does not show what took it down"
    assert any("kubernetes.io/service-name=postgres" in x.command for x in r.recommendations)


def test_node_not_ready_absorbs_the_pods_failing_on_it(tmp_path):
    write(
        tmp_path,
        pods=[pod(POD, node="node-b")],
        containers=[container(POD)],
        nodes=[
            {"name": "node-b", "ready": "Unknown", "taints": ["node.kubernetes.io/unreachable:NoExecute"]}
        ],
        node_conditions=[
            {
                "node": "node-b",
                "type": "Ready",
                "status": "Unknown",
                "reason": "NodeStatusUnknown",
                "message": "Kubelet stopped posting node status.",
                "last_transition": ago(15),
            }
        ],
        events=[
            event(
                POD,
                "Unhealthy",
                sample_event("Readiness probe failed: HTTP probe failed with statuscode: 503"),
            ),
            event(POD, "NodeNotReady", sample_event("Node is not ready")),
        ],
    )
    r = run(tmp_path)
    assert r.root_cause.category == "node_not_ready"
    assert (r.root_cause.subject.kind, r.root_cause.subject.name) == ("Node", "node-b")
    assert r.root_cause.trigger.kind == "node" and "node-b" in r.root_cause.trigger.detail
    assert r.recommendations[0].command == "kubectl --context prod-eu-1 describe node node-b"


# -- triggers ----------------------------------------------------------------------------------------
def test_rollout_trigger_new_revision_failing_old_one_healthy(tmp_path):
    panic_pod(
        tmp_path,
        [
            revision(OLD, ago(60 * 24 * 10), 3, ["registry.example.com/shop/app:1.4.2"]),
            revision(NEW, ago(20), 0, ["registry.example.com/shop/app:1.5.0"]),
        ],
    )
    r = run(tmp_path, clock=T0)
    assert r.root_cause.category == "app_crash"
    t = r.root_cause.trigger
    assert t.kind == "rollout"
    assert "Deployment shop/checkout" in t.detail and "revision 6 (checkout-5f6d7c8b9)" in t.detail
    assert "registry.example.com/shop/app:1.4.2 → registry.example.com/shop/app:1.5.0" in t.detail
    assert (
        r.recommendations[0].command == "kubectl --context prod-eu-1 -n shop rollout undo deployment/checkout"
    )
    assert [e.text.split(" created")[0] for e in r.timeline if e.kind == "change"] == [
        "Deployment shop/checkout revision 6 (checkout-5f6d7c8b9)",
        "Deployment shop/checkout revision 7 (checkout-7d9c5b6f4)",
    ]


def test_no_rollout_without_a_healthy_previous_revision(tmp_path):
    panic_pod(
        tmp_path,
        [
            revision(OLD, ago(60 * 24 * 10), 0, ["registry.example.com/shop/app:1.4.2"]),
            revision(NEW, ago(20), 0, ["registry.example.com/shop/app:1.5.0"]),
        ],
    )
    r = run(tmp_path, clock=T0)
    assert r.root_cause.category == "app_crash"
    assert r.root_cause.trigger.kind != "rollout"
    assert "rollout undo" not in " ".join(x.command for x in r.recommendations)


def test_old_revision_healthy_through_its_running_pods(tmp_path):
    old_pod = pod("checkout-5f6d7c8b9-bbbbb", rev=OLD, ready=True)
    panic_pod(
        tmp_path,
        [revision(OLD, ago(60 * 24 * 10), None, ["app:1"]), revision(NEW, ago(20), 0, ["app:2"])],
        extra_pods=[old_pod],
    )
    assert run(tmp_path, clock=T0).root_cause.trigger.kind == "rollout"


def test_no_rollout_when_the_revision_is_older_than_the_window(tmp_path):
    panic_pod(
        tmp_path, [revision(OLD, ago(60 * 24 * 10), 3, ["app:1"]), revision(NEW, ago(180), 0, ["app:2"])]
    )
    assert run(tmp_path, clock=T0).root_cause.trigger.kind != "rollout"
    assert run(tmp_path, clock=T0, recent_rollout_s=4 * 3600).root_cause.trigger.kind == "rollout"


def test_rollout_with_same_image_names_the_env_change(tmp_path):
    panic_pod(
        tmp_path,
        [
            revision(OLD, ago(60 * 24 * 10), 3, ["app:1"], env=["DB_HOST"]),
            revision(NEW, ago(20), 0, ["app:1"], env=["DB_HOST", "FEATURE_X"]),
        ],
    )
    detail = run(tmp_path, clock=T0).root_cause.trigger.detail
    assert "same image app:1" in detail and "added FEATURE_X" in detail


def test_first_revision_of_a_new_workload_is_a_rollout(tmp_path):
    panic_pod(tmp_path, [revision(NEW, ago(25), 0, ["registry.example.com/shop/app:1.0.0"])])
    t = run(tmp_path, clock=T0).root_cause.trigger
    assert t.kind == "rollout" and "first revision fails" in t.detail


def test_rollout_window_counts_back_from_the_first_alert_not_the_collection(tmp_path):
    """Evidence collected 70 minutes after a rollout that preceded the alert by 15 minutes."""
    panic_pod(
        tmp_path, [revision(OLD, ago(60 * 24 * 10), 3, ["app:1"]), revision(NEW, ago(70), 0, ["app:2"])]
    )
    a = crashloop_alert(POD)
    a.startsAt = ago(55)
    assert run(tmp_path, [a], clock=T0).root_cause.trigger.kind == "rollout"


def test_restart_with_unchanged_spec_failing_on_config_is_a_config_change(tmp_path):
    """kubectl rollout restart after a ConfigMap edit: new revision, same recorded spec, config error."""
    write(
        tmp_path,
        pods=[
            pod(POD, rev=NEW, volumes='[{"name": "config", "kind": "configMap", "ref": "checkout-config"}]')
        ],
        containers=[
            container(
                POD,
                state="waiting",
                reason="CrashLoopBackOff",
                last_state="terminated",
                last_reason="Error",
                last_exit_code=1,
                last_finished_at=ago(2),
                restart_count=4,
            )
        ],
        logs=logs(POD, sample_log("missing_config", "java/spring")),
        changes=[revision(OLD, ago(60 * 24 * 10), 3, ["app:1"]), revision(NEW, ago(20), 0, ["app:1"])],
    )
    r = run(tmp_path, clock=T0)
    assert r.root_cause.category == "config_error"
    t = r.root_cause.trigger
    assert t.kind == "config_change" and "restarted" in t.detail and "ConfigMap checkout-config" in t.detail


def test_key_removed_under_a_running_revision_is_a_config_change(tmp_path):
    msg = "couldn't find key SESSION_STORE_URL in ConfigMap shop/checkout-settings"
    older = pod("checkout-7d9c5b6f4-aaaaa", rev=NEW, ready=True, created_at=ago(60 * 24 * 5))
    write(
        tmp_path,
        pods=[pod(POD, rev=NEW, phase="Pending", created_at=ago(30)), older],
        containers=[container(POD, state="waiting", reason="CreateContainerConfigError", message=msg)],
        events=[event(POD, "Failed", f"Error: {msg}")],
        changes=[
            revision(OLD, ago(60 * 24 * 40), 0, ["app:0"]),
            revision(NEW, ago(60 * 24 * 5), 1, ["app:1"]),
        ],
    )
    t = run(tmp_path, clock=T0).root_cause.trigger
    assert t.kind == "config_change"
    assert "1 older pod(s) of the same revision run" in t.detail
    assert "ConfigMap shop/checkout-settings (key SESSION_STORE_URL)" in t.detail


def test_config_change_trigger_from_a_configmap_event(tmp_path):
    write(
        tmp_path,
        pods=[pod(POD, phase="Pending")],
        events=[
            event(POD, "Failed", sample_event('Error: configmaps "webapp" not found')),
            event(
                "webapp", "DELETE", "ConfigMap shop/webapp", kind="ConfigMap", type_="Normal", last=ago(10)
            ),
        ],
    )
    r = run(tmp_path)
    assert r.root_cause.category == "missing_secret_or_configmap"
    assert (
        r.root_cause.trigger.kind == "config_change"
        and "ConfigMap shop/webapp" in r.root_cause.trigger.detail
    )
    assert (
        r.recommendations[0].command
        == "kubectl --context prod-eu-1 -n shop create configmap webapp --from-literal=<KEY>=<value>"
    )


# -- partial evidence, clock, report shape ---------------------------------------------------------------
def test_partial_evidence_is_named_and_the_cause_still_found(tmp_path):
    forbidden = (
        'events is forbidden: User "system:serviceaccount:fleetsre:collector" cannot list resource "events" '
        'in API group "" in the namespace "shop"'
    )
    write(
        tmp_path,
        pods=[pod(POD)],
        containers=[oom_container()],
        errors=[
            {
                "resource": "events",
                "namespace": "shop",
                "status": 403,
                "reason": "Forbidden",
                "message": forbidden,
                "retryable": False,
            }
        ],
    )
    r = run(tmp_path)
    assert r.missing == [f"events in shop: 403 Forbidden — {forbidden}"]
    assert r.root_cause.category == "oom_killed"
    assert 0.8 <= r.root_cause.confidence < 0.95


def test_nothing_supports_a_category_gives_unknown_at_the_alert_clock(tmp_path):
    write(tmp_path)
    a = crashloop_alert(POD)
    r = run(tmp_path, [a])
    assert r.root_cause.category == "unknown" and r.root_cause.confidence <= 0.2
    assert r.generated_at == a.startsAt
    assert r.recommendations and r.recommendations[0].command.startswith(
        "kubectl --context prod-eu-1 -n shop"
    )
    assert [t.kind for t in r.timeline] == ["alert"]


def test_generated_at_is_the_newest_evidence_timestamp_and_reports_are_deterministic(tmp_path):
    write(
        tmp_path,
        pods=[pod(POD)],
        containers=[oom_container()],
        events=[event(POD, "BackOff", "Back-off restarting failed container", last=ago(-7))],
    )
    first, second = run(tmp_path), run(tmp_path)
    assert first.generated_at == T0 + timedelta(minutes=7)
    assert first.model_dump_json() == second.model_dump_json()


def test_timeline_sorted_capped_and_keeps_alerts(tmp_path):
    many = [
        event(
            f"{POD}",
            "Unhealthy",
            f"Readiness probe failed: HTTP probe failed with statuscode: {500 + i}",
            first=ago(200 - i),
            last=ago(100 - i),
        )
        for i in range(60)
    ]
    write(tmp_path, pods=[pod(POD)], containers=[oom_container()], events=many)
    r = run(tmp_path)
    assert len(r.timeline) == 50
    assert [t.at for t in r.timeline] == sorted(t.at for t in r.timeline)
    assert r.timeline[0].kind == "alert" or any(t.kind == "alert" for t in r.timeline)
    assert all(t.cluster == CLUSTER for t in r.timeline)


def test_missing_secret_recommendations_carry_no_values(tmp_path):
    write(
        tmp_path,
        pods=[pod(POD, phase="Pending")],
        containers=[
            container(
                POD,
                state="waiting",
                reason="CreateContainerConfigError",
                message='secret "pgpassword" not found',
            )
        ],
    )
    r = run(tmp_path)
    cmd = r.recommendations[0].command
    assert (
        cmd
        == "kubectl --context prod-eu-1 -n shop create secret generic pgpassword --from-literal=<KEY>=<value>"
    )


def test_image_pull_unauthorized_recommends_a_pull_secret(tmp_path):
    write(
        tmp_path,
        pods=[pod(POD, phase="Pending")],
        containers=[
            container(
                POD,
                state="waiting",
                reason="ErrImagePull",
                image="registry.example.com/shop/app:2.0",
                message="failed to pull and unpack image: 403 Forbidden",
            )
        ],
    )
    r = run(tmp_path)
    assert r.root_cause.category == "image_pull_error" and "unauthorized" in r.root_cause.summary
    assert (
        "create secret docker-registry regcred --docker-server=registry.example.com"
        in r.recommendations[0].command
    )


def test_fleet_incident_keeps_each_rows_cluster(tmp_path):
    write(tmp_path, cluster="prod-eu-1", pods=[pod(POD)], containers=[oom_container()])
    write(
        tmp_path,
        cluster="prod-us-1",
        pods=[pod(POD, ready=True)],
        containers=[container(POD, ready=True)],
        errors=[
            {
                "resource": "pods",
                "namespace": "shop",
                "status": 500,
                "reason": "InternalError",
                "message": "etcdserver: request timed out",
                "retryable": True,
            }
        ],
    )
    alerts = [
        crashloop_alert(POD),
        alert(
            {"alertname": "KubePodCrashLooping", "namespace": "shop", "pod": POD},
            cluster="prod-us-1",
            fingerprint="aaaaaaaaaaaaaaaa",
        ),
    ]
    inc = incident(alerts, iid="inc-test", cluster="fleet")
    r = investigate(inc, IncidentEvidence(tmp_path, inc.id))
    assert r.cluster == "fleet" and r.root_cause.category == "oom_killed"
    assert r.root_cause.subject.cluster == "prod-eu-1"
    assert r.missing == [
        "[prod-us-1] pods in shop: 500 InternalError — etcdserver: request timed out (retryable)"
    ]
    assert {t.cluster for t in r.timeline} == {"prod-eu-1", "prod-us-1"}
    assert "--context prod-eu-1" in r.recommendations[0].command


def test_double_memory():
    assert (
        double_memory(256 * 2**20) == "512Mi"
        and double_memory(2**30) == "2Gi"
        and double_memory(None) is None
    )
    assert double_memory(300 * 10**6) == "573Mi"


def test_namespace_subject_is_kept_for_unknown(tmp_path):
    write(tmp_path)
    inc = incident(
        [alert({"alertname": "KubePodNotReady", "namespace": "shop"})],
        AlertTarget(kind="Namespace", namespace="shop", name="shop"),
    )
    r = investigate(inc, IncidentEvidence(tmp_path, inc.id))
    assert (r.root_cause.subject.kind, r.root_cause.subject.name, r.root_cause.subject.cluster) == (
        "Namespace",
        "shop",
        CLUSTER,
    )


def test_a_notready_node_of_other_pods_does_not_hijack_the_incident(tmp_path):
    other = pod("payments-5f6d7c8b9-abcde", wl="payments", node="node-z", focus=False)
    write(
        tmp_path,
        pods=[pod(POD), other],
        containers=[oom_container()],
        nodes=[{"name": "node-a", "ready": "True"}, {"name": "node-z", "ready": "Unknown"}],
        node_conditions=[
            {"node": "node-z", "type": "Ready", "status": "Unknown", "reason": "NodeStatusUnknown"}
        ],
    )
    r = run(tmp_path)
    assert r.root_cause.category == "oom_killed"
    assert not any("node-z" in e.source for e in r.evidence)


def test_missing_entries_without_namespace_or_status(tmp_path):
    write(
        tmp_path,
        errors=[
            {
                "resource": "cluster",
                "name": "prod-eu-1",
                "reason": "Unreachable",
                "message": "dial tcp 10.0.0.1:6443: i/o timeout",
                "retryable": True,
            },
            {"resource": "nodes", "name": "node-a", "status": 404, "reason": "NotFound"},
        ],
    )
    r = run(tmp_path)
    assert r.missing == [
        "cluster prod-eu-1: Unreachable — dial tcp 10.0.0.1:6443: i/o timeout (retryable)",
        "nodes node-a: 404 NotFound",
    ]
    assert r.root_cause.category == "unknown"


def test_missing_logs_of_unrelated_pods_are_listed_but_do_not_lower_confidence(tmp_path):
    err = {
        "resource": "logs",
        "namespace": "shop",
        "name": "payments-5f6d7c8b9-abcde/app (previous)",
        "status": 400,
        "reason": "BadRequest",
        "message": 'previous terminated container "app" not found',
        "retryable": False,
    }
    write(tmp_path, pods=[pod(POD)], containers=[oom_container()], errors=[err])
    r = run(tmp_path)
    assert r.missing == ["previous container logs not available for 1 container(s): payments-5f6d7c8b9-abcde/app"]
    assert r.root_cause.confidence == 0.95
