"""Collection against real dumps: owner chains, events, logs; partial evidence on failures; no secrets."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest

from clusters.dump import DumpSource
from engine.alerts import AlertTarget
from engine.collect import CollectRequest, collect_incident
from engine.config import CollectConfig
from engine.evidence import write_evidence
from engine.evidence_query import IncidentEvidence
from engine.rows import log_rows
from engine.sources import SourceError
from tests.conftest import DUMPS


@pytest.fixture(scope="module")
def minikube():
    return DumpSource(DUMPS / "minikube-2019-internal-types")


@pytest.fixture(scope="module")
def rke2():
    return DumpSource(DUMPS / "rke2-2025-after-reboot")


def ns_target(ns):
    return AlertTarget(kind="Namespace", namespace=ns, name=ns)


def test_internal_types_dump_yields_the_scheduling_and_secret_events(minikube):
    ev = collect_incident(minikube, CollectRequest("mk", "i1", [ns_target("default")], minikube.captured_at()))
    messages = [e["message"] for e in ev.rows["events"]]
    assert any("Insufficient cpu" in m for m in messages)
    assert any('secret "pgpassword" not found' in m for m in messages)
    assert ev.rows["errors"] == []


def test_owner_chain_history_and_logs_from_a_v1_dump(rke2):
    target = AlertTarget(kind="Namespace", namespace="kube-system", name="kube-system")
    ev = collect_incident(rke2, CollectRequest("rke2", "i2", [target], rke2.captured_at()))
    pods = {p["name"]: p for p in ev.rows["pods"]}
    op = next(p for n, p in pods.items() if n.startswith("cilium-operator-"))
    assert (op["workload_kind"], op["workload_name"]) == ("Deployment", "cilium-operator")
    assert any(c["workload_name"] == "cilium-operator" and c["revision"] for c in ev.rows["changes"])
    assert ev.rows["logs"], "current logs come from logs.txt"
    unknown = [c for c in ev.rows["containers"] if c["last_reason"] == "Unknown"]
    assert unknown and all(c["last_exit_code"] == 255 for c in unknown)
    # a dump has no previous logs: asked for, answered 400, recorded, nothing else lost
    assert all(e["resource"] == "logs" and e["status"] == 400 for e in ev.rows["errors"])


class Forbidding:
    """A source that forbids one kind, as RBAC would, around a real dump source."""

    def __init__(self, inner, kind):
        self.inner, self.kind, self.name = inner, kind, inner.name

    def list(self, kind, namespace=None, **kw):
        if kind == self.kind:
            raise SourceError(f'{kind} is forbidden: User "collector" cannot list resource "{kind}"', status=403)
        return self.inner.list(kind, namespace, **kw)

    def get(self, kind, namespace, name):
        return self.inner.get(kind, namespace, name)

    def read_log(self, *a, **kw):
        return self.inner.read_log(*a, **kw)

    def captured_at(self):
        return self.inner.captured_at()


def test_forbidden_resource_gives_partial_evidence_and_an_error_row(minikube, tmp_path):
    src = Forbidding(minikube, "events")
    ev = collect_incident(src, CollectRequest("mk", "i3", [ns_target("kube-system")], minikube.captured_at()))
    assert ev.rows["pods"] and not ev.rows["events"]
    assert {(e["resource"], e["status"], e["reason"]) for e in ev.rows["errors"]} == {("events", 403, "Forbidden")}
    write_evidence(tmp_path, ev)
    with IncidentEvidence(tmp_path, "i3") as q:
        # the namespace's events and the node's events were both refused
        assert q.sql("SELECT count(*) AS n FROM errors WHERE status = 403")[0]["n"] == len(ev.rows["errors"]) == 2
        assert q.sql("SELECT DISTINCT cluster FROM pods")[0]["cluster"] == "mk"


class OnePod:
    """A minimal in-memory source with one pod whose env carries a literal secret value."""

    name = "mem"
    pod = {
        "kind": "Pod", "apiVersion": "v1",
        "metadata": {"name": "api-0", "namespace": "shop", "uid": "u1", "creationTimestamp": "2026-11-20T10:00:00Z"},
        "spec": {"nodeName": "n1", "containers": [{
            "name": "api", "image": "api:1",
            "env": [{"name": "DB_PASSWORD", "value": "hunter2-literal"},
                    {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "api-secrets", "key": "token"}}}],
        }]},
        "status": {"phase": "Running", "containerStatuses": [{"name": "api", "ready": True, "restartCount": 0,
                                                              "state": {"running": {"startedAt": "2026-11-20T10:00:05Z"}}}]},
    }

    def list(self, kind, namespace=None, **kw):
        return [self.pod] if kind == "pods" else []

    def get(self, kind, namespace, name):
        if kind == "pods":
            return self.pod
        raise SourceError("not found", status=404)

    def read_log(self, *a, **kw):
        return "2026-11-20T10:00:06Z connecting to postgres://app:s3cr3tpw@db:5432/app\n"

    def captured_at(self):
        return datetime(2026, 11, 20, 10, 5, tzinfo=UTC)


def test_env_values_are_never_collected_and_logs_are_redacted(tmp_path):
    t = AlertTarget(kind="Pod", namespace="shop", name="api-0", pod="api-0")
    ev = collect_incident(OnePod(), CollectRequest("mem", "i4", [t], OnePod().captured_at()),
                          CollectConfig(max_concurrency=2))
    write_evidence(tmp_path, ev)
    blob = b"".join(p.read_bytes() for p in tmp_path.rglob("*.parquet"))
    assert b"hunter2-literal" not in blob and b"s3cr3tpw" not in blob
    c = ev.rows["containers"][0]
    assert c["env_names"] == ["DB_PASSWORD", "TOKEN"] and c["env_refs"] == ["secret:api-secrets:token"]
    assert ev.rows["logs"][0]["ts"] == datetime(2026, 11, 20, 10, 0, 6, tzinfo=UTC)


class Dead:
    """A cluster whose API server refuses connections, counting how often it is bothered."""

    name = "dead"

    def __init__(self):
        self.calls = 0

    def _fail(self, *a, **kw):
        self.calls += 1
        raise SourceError("connection refused", status=None)

    list = get = read_log = _fail

    def captured_at(self):
        return None


def test_unreachable_cluster_is_asked_once_and_reported_once():
    src = Dead()
    targets = [AlertTarget(kind="Pod", namespace="shop", name=f"api-6d4cf56db6-{s}", pod=f"api-6d4cf56db6-{s}",
                           workload="api") for s in ("bbbbb", "ccccc", "ddddd")]
    targets.append(AlertTarget(kind="Deployment", namespace="shop", name="api"))
    ev = collect_incident(src, CollectRequest("dead", "i5", targets + targets, datetime(2026, 11, 20, tzinfo=UTC)),
                          CollectConfig(max_concurrency=1))
    reasons = [(e["resource"], e["reason"]) for e in ev.rows["errors"]]
    assert reasons[0][1] == "Unreachable" and reasons[-1] == ("cluster", "Unreachable")
    assert "skipped" in ev.rows["errors"][-1]["message"]
    assert src.calls == 1 and len(reasons) == 2


class Rendezvous:
    """Around a real dump: the first ``parties`` log reads wait for each other, so they only all
    return if they run at the same time (otherwise the barrier breaks and they fail)."""

    def __init__(self, inner, parties):
        self.inner, self.name = inner, inner.name
        self.barrier = threading.Barrier(parties, timeout=30)
        self.lock, self.waiting = threading.Lock(), parties

    def list(self, *a, **kw):
        return self.inner.list(*a, **kw)

    def get(self, *a, **kw):
        return self.inner.get(*a, **kw)

    def read_log(self, *a, **kw):
        with self.lock:
            meet, self.waiting = self.waiting > 0, self.waiting - 1
        if meet:
            self.barrier.wait()
        return self.inner.read_log(*a, **kw)

    def captured_at(self):
        return self.inner.captured_at()


def test_the_calls_of_one_round_run_side_by_side(rke2):
    """A collection's independent calls (here: log reads) are in flight together, up to max_concurrency."""
    src = Rendezvous(rke2, parties=4)
    target = AlertTarget(kind="Namespace", namespace="kube-system", name="kube-system")
    ev = collect_incident(src, CollectRequest("rke2", "i6", [target], rke2.captured_at()),
                          CollectConfig(max_concurrency=4))
    assert not src.barrier.broken
    assert not [e for e in ev.rows["errors"] if e["reason"] in ("BrokenBarrierError", "Timeout")]
    assert ev.rows["logs"]


def test_log_rows_redact_the_lines_with_secrets_and_keep_the_rest_as_they_are():
    clean = [f"2026-11-20T10:00:0{i}Z handled GET /api/v1/orders/{i} in 12ms" for i in range(5)]
    text = "\n".join(clean[:3] + ["2026-11-20T10:00:09Z connecting with DB_PASSWORD=hunter2-literal"] + clean[3:])
    rows = log_rows("shop", "api-0", "api", text, previous=False)
    assert [r["seq"] for r in rows] == list(range(6))
    assert "hunter2-literal" not in rows[3]["line"] and "[REDACTED]" in rows[3]["line"]
    assert [r["line"] for r in rows[:3] + rows[4:]] == [c.split(" ", 1)[1] for c in clean]
    plain = log_rows("shop", "api-0", "api", "\n".join(clean), previous=True)
    assert [r["line"] for r in plain] == [c.split(" ", 1)[1] for c in clean] and all(r["previous"] for r in plain)


def test_evidence_of_two_incidents_open_at_once_stays_apart(minikube, rke2, tmp_path):
    """Readers share one in-process database, each with tables of its own (investigations run in threads)."""
    for cluster, src, inc in (("mk", minikube, "i7"), ("rke2", rke2, "i8")):
        write_evidence(tmp_path, collect_incident(src, CollectRequest(cluster, inc, [ns_target("kube-system")],
                                                                      src.captured_at())))
    with IncidentEvidence(tmp_path, "i7") as a, IncidentEvidence(tmp_path, "i8") as b:
        assert a.rows("pods") and b.rows("pods")
        assert a.sql("SELECT DISTINCT cluster, incident FROM pods") == [{"cluster": "mk", "incident": "i7"}]
        assert b.sql("SELECT DISTINCT cluster, incident FROM pods") == [{"cluster": "rke2", "incident": "i8"}]
        assert {r["name"] for r in a.rows("pods")}.isdisjoint({r["name"] for r in b.rows("pods")})
    with IncidentEvidence(tmp_path, "i9") as none:  # nothing collected yet: every table there, empty
        assert none.rows("pods") == [] and none.rows("errors") == []
