"""Turn Kubernetes v1 JSON objects into evidence rows (see ``engine.evidence`` for the columns).

Pure functions over dicts: the same code serves live clusters, the simulator and dumps. Env var
values are never copied, only names and the Secret/ConfigMap keys they reference; free text that
can carry credentials (messages, log lines) goes through ``redact``.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from engine.redact import redact

__all__ = [
    "container_rows",
    "event_row",
    "log_rows",
    "node_condition_rows",
    "node_row",
    "parse_quantity_bytes",
    "parse_ts",
    "pod_row",
    "revision_row",
    "template_env_names",
    "workload_row",
]


def parse_ts(value: Any) -> datetime | None:
    if not value or not isinstance(value, str):
        return None
    v = value.strip().replace("Z", "+00:00")
    # Python < 3.11 style limit: trim nanoseconds to microseconds
    m = re.match(r"^(.*T\d\d:\d\d:\d\d)(\.\d+)?(.*)$", v)
    if m and m.group(2) and len(m.group(2)) > 7:
        v = m.group(1) + m.group(2)[:7] + m.group(3)
    try:
        dt = datetime.fromisoformat(v)
    except ValueError:
        return None
    if dt.year <= 1:
        return None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


_QTY = re.compile(r"^([0-9.]+)([a-zA-Z]*)$")
_MULT = {
    "": 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18,
    "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60, "m": 1e-3,
}


def parse_quantity_bytes(q: Any) -> int | None:
    if q is None:
        return None
    m = _QTY.match(str(q).strip())
    if not m or m.group(2) not in _MULT:
        return None
    return int(float(m.group(1)) * _MULT[m.group(2)])


def _meta(obj: dict[str, Any]) -> dict[str, Any]:
    return obj.get("metadata") or {}


def _controller_owner(obj: dict[str, Any]) -> dict[str, Any] | None:
    refs = _meta(obj).get("ownerReferences") or []
    for ref in refs:
        if ref.get("controller"):
            return ref
    return refs[0] if refs else None


def _volume_row(v: dict[str, Any]) -> dict[str, Any]:
    for kind, ref_key in (
        ("secret", "secretName"), ("configMap", "name"), ("persistentVolumeClaim", "claimName"),
        ("hostPath", "path"), ("emptyDir", None), ("projected", None), ("downwardAPI", None),
    ):
        if kind in v:
            spec = v.get(kind) or {}
            return {"name": v.get("name"), "kind": kind, "ref": spec.get(ref_key) if ref_key else None,
                    "optional": bool(spec.get("optional"))}
    other = next((k for k in v if k != "name"), None)
    return {"name": v.get("name"), "kind": other, "ref": None, "optional": False}


def pod_row(pod: dict[str, Any], workload: tuple[str | None, str | None], *, in_focus: bool) -> dict[str, Any]:
    meta, spec, status = _meta(pod), pod.get("spec") or {}, pod.get("status") or {}
    owner = _controller_owner(pod) or {}
    labels = meta.get("labels") or {}
    conds = status.get("conditions") or []
    ready = next((c.get("status") == "True" for c in conds if c.get("type") == "Ready"), None)
    return {
        "namespace": meta.get("namespace"),
        "name": meta.get("name"),
        "uid": meta.get("uid"),
        "node": spec.get("nodeName"),
        "phase": status.get("phase"),
        "reason": status.get("reason"),
        "message": redact(status.get("message")),
        "created_at": parse_ts(meta.get("creationTimestamp")),
        "started_at": parse_ts(status.get("startTime")),
        "owner_kind": owner.get("kind"),
        "owner_name": owner.get("name"),
        "workload_kind": workload[0],
        "workload_name": workload[1],
        "revision_hash": labels.get("pod-template-hash") or labels.get("controller-revision-hash"),
        "ready": ready,
        "conditions": json.dumps(
            [{k: c.get(k) for k in ("type", "status", "reason", "message", "lastTransitionTime")} for c in conds]
        ),
        "volumes": json.dumps([_volume_row(v) for v in spec.get("volumes") or []]),
        "in_focus": in_focus,
    }


def _state(st: dict[str, Any] | None) -> tuple[str | None, dict[str, Any]]:
    for name in ("waiting", "running", "terminated"):
        if st and st.get(name) is not None:
            return name, st.get(name) or {}
    return None, {}


def _env_refs(c: dict[str, Any]) -> tuple[list[str], list[str]]:
    names, refs = [], []
    for e in c.get("env") or []:
        names.append(e.get("name"))
        src = e.get("valueFrom") or {}
        if "secretKeyRef" in src:
            r = src["secretKeyRef"] or {}
            refs.append(f"secret:{r.get('name')}:{r.get('key')}")
        elif "configMapKeyRef" in src:
            r = src["configMapKeyRef"] or {}
            refs.append(f"configmap:{r.get('name')}:{r.get('key')}")
    for ef in c.get("envFrom") or []:
        if "secretRef" in ef:
            refs.append(f"secret:{(ef['secretRef'] or {}).get('name')}")
        elif "configMapRef" in ef:
            refs.append(f"configmap:{(ef['configMapRef'] or {}).get('name')}")
    return [n for n in names if n], refs


def container_rows(pod: dict[str, Any]) -> list[dict[str, Any]]:
    meta, spec, status = _meta(pod), pod.get("spec") or {}, pod.get("status") or {}
    statuses = {s.get("name"): s for s in (status.get("containerStatuses") or [])}
    statuses.update({s.get("name"): s for s in (status.get("initContainerStatuses") or [])})
    rows = []
    for init, containers in ((True, spec.get("initContainers") or []), (False, spec.get("containers") or [])):
        for c in containers:
            st = statuses.get(c.get("name")) or {}
            state, cur = _state(st.get("state"))
            last_state, last = _state(st.get("lastState"))
            res = c.get("resources") or {}
            lim, req = res.get("limits") or {}, res.get("requests") or {}
            env_names, env_refs = _env_refs(c)
            rows.append({
                "namespace": meta.get("namespace"), "pod": meta.get("name"), "container": c.get("name"),
                "init": init, "image": c.get("image") or st.get("image"), "ready": st.get("ready"),
                "restart_count": st.get("restartCount"), "state": state, "reason": cur.get("reason"),
                "message": redact(cur.get("message")), "exit_code": cur.get("exitCode"),
                "started_at": parse_ts(cur.get("startedAt")), "finished_at": parse_ts(cur.get("finishedAt")),
                "last_state": last_state, "last_reason": last.get("reason"),
                "last_message": redact(last.get("message")), "last_exit_code": last.get("exitCode"),
                "last_started_at": parse_ts(last.get("startedAt")),
                "last_finished_at": parse_ts(last.get("finishedAt")),
                "cpu_request": req.get("cpu"), "cpu_limit": lim.get("cpu"),
                "memory_request": req.get("memory"), "memory_limit": lim.get("memory"),
                "memory_limit_bytes": parse_quantity_bytes(lim.get("memory")),
                "liveness_probe": json.dumps(c["livenessProbe"]) if c.get("livenessProbe") else None,
                "readiness_probe": json.dumps(c["readinessProbe"]) if c.get("readinessProbe") else None,
                "startup_probe": json.dumps(c["startupProbe"]) if c.get("startupProbe") else None,
                "env_names": env_names, "env_refs": env_refs,
            })
    return rows


def event_row(ev: dict[str, Any]) -> dict[str, Any]:
    """Both core/v1 (involvedObject, first/lastTimestamp, count) and events.k8s.io shapes."""
    meta = _meta(ev)
    obj = ev.get("involvedObject") or ev.get("regarding") or {}
    series = ev.get("series") or {}
    event_time = parse_ts(ev.get("eventTime"))
    first = parse_ts(ev.get("firstTimestamp") or ev.get("deprecatedFirstTimestamp")) or event_time
    last = (
        parse_ts(ev.get("lastTimestamp") or ev.get("deprecatedLastTimestamp"))
        or parse_ts(series.get("lastObservedTime"))
        or event_time
        or first
        or parse_ts(meta.get("creationTimestamp"))
    )
    src = ev.get("source") or {}
    return {
        "namespace": obj.get("namespace") or meta.get("namespace"),
        "object_kind": obj.get("kind"),
        "object_name": obj.get("name"),
        "field_path": obj.get("fieldPath") or None,
        "type": ev.get("type"),
        "reason": ev.get("reason"),
        "message": redact(ev.get("message") or ev.get("note")),
        "count": ev.get("count") or series.get("count") or ev.get("deprecatedCount") or 1,
        "first_seen": first or last,
        "last_seen": last,
        "source": src.get("component") or ev.get("reportingComponent") or ev.get("reportingController"),
    }


_TS_PREFIX = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d))\s(.*)$")


def log_rows(namespace: str, pod: str, container: str, text: str, *, previous: bool) -> list[dict[str, Any]]:
    """Split log text into rows; a leading RFC3339 timestamp (``timestamps=true``) becomes ``ts``."""
    rows = []
    for seq, raw in enumerate(text.splitlines()):
        m = _TS_PREFIX.match(raw)
        ts, line = (parse_ts(m.group(1)), m.group(2)) if m else (None, raw)
        rows.append({"namespace": namespace, "pod": pod, "container": container, "previous": previous,
                     "seq": seq, "ts": ts, "line": redact(line)})
    return rows


def template_env_names(template: dict[str, Any]) -> list[str]:
    spec = template.get("spec") or {}
    names: list[str] = []
    for c in (spec.get("initContainers") or []) + (spec.get("containers") or []):
        names.extend(e.get("name") for e in (c.get("env") or []) if e.get("name"))
        for ef in c.get("envFrom") or []:
            ref = ef.get("configMapRef") or ef.get("secretRef") or {}
            names.append(f"envFrom:{ref.get('name')}")
    return sorted(set(names))


def _strip_env_values(template: dict[str, Any]) -> dict[str, Any]:
    spec = json.loads(json.dumps(template.get("spec") or {}))
    for c in (spec.get("initContainers") or []) + (spec.get("containers") or []):
        for e in c.get("env") or []:
            e.pop("value", None)
    return spec


def revision_row(rs: dict[str, Any], workload_kind: str, workload_name: str) -> dict[str, Any]:
    meta, spec, status = _meta(rs), rs.get("spec") or {}, rs.get("status") or {}
    ann = meta.get("annotations") or {}
    template = spec.get("template") or {}
    containers = (template.get("spec") or {}).get("containers") or []
    rev = ann.get("deployment.kubernetes.io/revision") or meta.get("revision") or rs.get("revision")
    return {
        "namespace": meta.get("namespace"), "workload_kind": workload_kind, "workload_name": workload_name,
        "revision_name": meta.get("name"), "revision": int(rev) if str(rev or "").isdigit() else None,
        "revision_hash": (meta.get("labels") or {}).get("pod-template-hash")
        or (meta.get("labels") or {}).get("controller-revision-hash"),
        "images": [c.get("image") for c in containers],
        "created_at": parse_ts(meta.get("creationTimestamp")),
        "replicas": status.get("replicas", spec.get("replicas")),
        "ready_replicas": status.get("readyReplicas", 0), "available_replicas": status.get("availableReplicas", 0),
        "env_names": template_env_names(template),
        "template": json.dumps(_strip_env_values(template)),
    }


def workload_row(obj: dict[str, Any]) -> dict[str, Any]:
    meta, spec, status = _meta(obj), obj.get("spec") or {}, obj.get("status") or {}
    kind = obj.get("kind")
    desired = spec.get("replicas")
    if kind == "DaemonSet":
        desired = status.get("desiredNumberScheduled")
    elif kind == "Job":
        desired = spec.get("completions") or spec.get("parallelism")
    return {
        "namespace": meta.get("namespace"), "kind": kind, "name": meta.get("name"), "replicas": desired,
        "ready_replicas": status.get("readyReplicas", status.get("numberReady", status.get("succeeded"))),
        "updated_replicas": status.get("updatedReplicas", status.get("updatedNumberScheduled")),
        "available_replicas": status.get("availableReplicas", status.get("numberAvailable")),
        "unavailable_replicas": status.get("unavailableReplicas", status.get("numberUnavailable", status.get("failed"))),
        "generation": meta.get("generation"), "observed_generation": status.get("observedGeneration"),
        "created_at": parse_ts(meta.get("creationTimestamp")),
        "conditions": json.dumps(status.get("conditions") or []),
    }


def node_row(node: dict[str, Any]) -> dict[str, Any]:
    meta, spec, status = _meta(node), node.get("spec") or {}, node.get("status") or {}
    conds = status.get("conditions") or []
    alloc = status.get("allocatable") or {}
    taints = [
        f"{t.get('key')}{'=' + t['value'] if t.get('value') else ''}:{t.get('effect')}" for t in spec.get("taints") or []
    ]
    return {
        "name": meta.get("name"),
        "ready": next((c.get("status") for c in conds if c.get("type") == "Ready"), None),
        "unschedulable": bool(spec.get("unschedulable")),
        "taints": taints,
        "cpu_allocatable": alloc.get("cpu"), "memory_allocatable": alloc.get("memory"),
        "pods_allocatable": alloc.get("pods"),
        "kubelet_version": (status.get("nodeInfo") or {}).get("kubeletVersion"),
        "created_at": parse_ts(meta.get("creationTimestamp")),
    }


def node_condition_rows(node: dict[str, Any]) -> list[dict[str, Any]]:
    name = _meta(node).get("name")
    return [
        {"node": name, "type": c.get("type"), "status": c.get("status"), "reason": c.get("reason"),
         "message": c.get("message"), "last_heartbeat": parse_ts(c.get("lastHeartbeatTime")),
         "last_transition": parse_ts(c.get("lastTransitionTime"))}
        for c in (node.get("status") or {}).get("conditions") or []
    ]
