"""Builders for detector/investigation tests: evidence rows written with ``write_evidence`` and read
back with ``IncidentEvidence``, alerts and incidents, and the real strings of the shared samples."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from engine.alerts import Alert, AlertTarget
from engine.detectors import DetectContext
from engine.evidence import EvidenceSet, write_evidence
from engine.evidence_query import IncidentEvidence
from engine.incident import Incident
from tests.conftest import SAMPLES

T0 = datetime(2026, 11, 22, 18, 0, tzinfo=UTC)
CLUSTER = "prod-eu-1"


def sample_events() -> list[dict[str, Any]]:
    return json.loads((SAMPLES / "k8s/real-event-messages.json").read_text())["events"]


def sample_event(fragment: str, reason: str | None = None) -> str:
    """The message of the real sample event containing ``fragment`` (exact strings, never retyped)."""
    for e in sample_events():
        if fragment in e["message"] and (reason is None or e["reason"] == reason):
            return e["message"]
    raise KeyError(fragment)


def sample_status(pod_prefix: str) -> dict[str, Any]:
    data = json.loads((SAMPLES / "k8s/container-status-examples.json").read_text())
    return next(e for e in data["examples"] if e.get("pod", "").startswith(pod_prefix))["containerStatus"]


def sample_log(category: str, runtime: str | None = None) -> list[str]:
    data = json.loads((SAMPLES / "app-logs/real-app-log-samples.json").read_text())
    for s in data["samples"]:
        if s["category"] == category and (runtime is None or s["runtime"] == runtime):
            return s["lines"]
    raise KeyError(category)


def ago(minutes: float) -> datetime:
    return T0 - timedelta(minutes=minutes)


def pod(
    name: str,
    *,
    ns: str = "shop",
    wl: str | None = "checkout",
    kind: str = "Deployment",
    phase: str = "Running",
    ready: bool = False,
    node: str = "node-a",
    rev: str | None = None,
    focus: bool = True,
    **kw: Any,
) -> dict[str, Any]:
    return {
        "namespace": ns,
        "name": name,
        "uid": f"uid-{name}",
        "node": node,
        "phase": phase,
        "created_at": ago(30),
        "started_at": ago(30),
        "owner_kind": "ReplicaSet" if kind == "Deployment" else kind,
        "owner_name": f"{wl}-{rev}" if rev else wl,
        "workload_kind": kind if wl else "Pod",
        "workload_name": wl or name,
        "revision_hash": rev,
        "ready": ready,
        "conditions": "[]",
        "volumes": "[]",
        "in_focus": focus,
        **kw,
    }


def container(
    pod_name: str,
    name: str = "app",
    *,
    ns: str = "shop",
    state: str = "running",
    ready: bool = False,
    **kw: Any,
) -> dict[str, Any]:
    return {
        "namespace": ns,
        "pod": pod_name,
        "container": name,
        "init": False,
        "image": "registry.example.com/shop/app:1.0",
        "ready": ready,
        "restart_count": kw.pop("restart_count", 0),
        "state": state,
        "env_names": [],
        "env_refs": [],
        **kw,
    }


def from_status(pod_name: str, status: dict[str, Any], *, ns: str = "shop", **kw: Any) -> dict[str, Any]:
    """A containers row from a real v1 containerStatus object."""
    from engine.rows import parse_ts

    def state(st: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
        for k in ("waiting", "running", "terminated"):
            if st and k in st:
                return k, st[k] or {}
        return None, {}

    cur_name, cur = state(status.get("state") or {})
    last_name, last = state(status.get("lastState") or {})
    row = container(
        pod_name,
        status["name"],
        ns=ns,
        state=cur_name,
        ready=status.get("ready"),
        restart_count=status.get("restartCount"),
        image=status.get("image"),
        reason=cur.get("reason"),
        message=cur.get("message"),
        exit_code=cur.get("exitCode"),
        started_at=parse_ts(cur.get("startedAt")),
        last_state=last_name,
        last_reason=last.get("reason"),
        last_message=last.get("message"),
        last_exit_code=last.get("exitCode"),
        last_started_at=parse_ts(last.get("startedAt")),
        last_finished_at=parse_ts(last.get("finishedAt")),
    )
    row.update(kw)
    return row


def event(
    obj: str,
    reason: str,
    message: str,
    *,
    kind: str = "Pod",
    ns: str | None = "shop",
    type_: str = "Warning",
    count: int = 1,
    first: datetime | None = None,
    last: datetime | None = None,
    field_path: str | None = None,
    source: str = "kubelet",
) -> dict[str, Any]:
    last = last or ago(2)
    return {
        "namespace": ns,
        "object_kind": kind,
        "object_name": obj,
        "field_path": field_path,
        "type": type_,
        "reason": reason,
        "message": message,
        "count": count,
        "first_seen": first or last,
        "last_seen": last,
        "source": source,
    }


def logs(
    pod_name: str,
    lines: list[str],
    *,
    container_name: str = "app",
    ns: str = "shop",
    previous: bool = True,
    ts: datetime | None = None,
) -> list[dict[str, Any]]:
    return [
        {
            "namespace": ns,
            "pod": pod_name,
            "container": container_name,
            "previous": previous,
            "seq": i,
            "ts": ts,
            "line": line,
        }
        for i, line in enumerate(lines)
    ]


def write(
    tmp_path: Path, incident_id: str = "inc-test", cluster: str = CLUSTER, **tables: list[dict[str, Any]]
) -> None:
    ev = EvidenceSet(cluster=cluster, incident_id=incident_id)
    for name, rows in tables.items():
        ev.extend(name, rows)
    write_evidence(tmp_path, ev)


def alert(
    labels: dict[str, str],
    *,
    cluster: str = CLUSTER,
    starts: datetime | None = None,
    fingerprint: str = "c2737db728637995",
) -> Alert:
    return Alert(
        cluster=cluster,
        fingerprint=fingerprint,
        status="firing",
        labels={"severity": "warning", **labels},
        startsAt=starts or ago(5),
    )


def crashloop_alert(pod_name: str, ns: str = "shop", container_name: str = "app") -> Alert:
    return alert(
        {
            "alertname": "KubePodCrashLooping",
            "namespace": ns,
            "pod": pod_name,
            "container": container_name,
            "reason": "CrashLoopBackOff",
        }
    )


def incident(
    alerts: list[Alert], subject: AlertTarget | None = None, *, iid: str = "inc-test", cluster: str = CLUSTER
) -> Incident:
    subject = subject or alerts[0].target()
    starts = min(a.startsAt for a in alerts)
    return Incident(
        id=iid,
        cluster=cluster,
        key="test",
        subject=subject,
        opened_at=starts,
        updated_at=starts,
        alerts=alerts,
    )


def context(tmp_path: Path, inc: Incident, clock: datetime = T0) -> DetectContext:
    return DetectContext(
        incident_id=inc.id,
        cluster=inc.cluster,
        alerts=inc.alerts,
        subject=inc.subject,
        clock=clock,
        evidence=IncidentEvidence(tmp_path, inc.id),
    )
