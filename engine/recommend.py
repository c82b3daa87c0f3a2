"""Recommendations per root-cause category: concrete, prioritised, with runnable kubectl commands.

Commands use the real names from the evidence and always ``--context <cluster>`` so they are
safe to paste in a multi-cluster shell. A recent rollout that broke the workload puts
``rollout undo`` first. Nothing here ever prints or asks for a Secret's values: secret
commands carry ``<value>`` placeholders and inspection uses ``describe`` (keys and sizes only).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from engine.detectors.base import Finding
from engine.kubectl import Rec, container_flag, double_memory, first_pod, kubectl, parse_bytes, res
from engine.recommend_infra import INFRA
from engine.report import Recommendation, Subject, Trigger

__all__ = ["double_memory", "kubectl", "recommend"]

_ROLLABLE = ("Deployment", "StatefulSet", "DaemonSet")


def recommend(f: Finding | None, subject: Subject, trigger: Trigger) -> list[Recommendation]:
    facts: dict[str, Any] = (getattr(f, "facts", {}) or {}) if f is not None else {}
    recs: list[Rec] = []
    if trigger.kind == "rollout" and subject.kind in _ROLLABLE:
        change = trigger.detail.split(": ", 1)[1] if ": " in trigger.detail else "see the trigger"
        recs.append(
            (
                f"Roll back to the previous, healthy revision ({change[:160]})",
                kubectl(subject, f"rollout undo {res(subject)}"),
            )
        )
    category = f.category if f is not None else "unknown"
    recs += _BY_CATEGORY.get(category, _unknown)(subject, facts)
    pod = first_pod(facts)
    if pod and category not in ("node_not_ready", "node_pressure", "node_cordoned"):
        recs.append(("Read the pod's events and state", kubectl(subject, f"describe pod {pod}")))
    seen: set[str] = set()
    out = []
    for action, cmd in recs:
        if (cmd or action) in seen:
            continue
        seen.add(cmd or action)
        out.append(Recommendation(priority=len(out) + 1, action=action, command=cmd))
    return out


def _oom(s: Subject, f: dict[str, Any]) -> list[Rec]:
    if s.kind == "Node":
        return [
            (
                "See which pods use the node's memory",
                kubectl(s, "top pod -A --sort-by=memory", namespaced=False),
            ),
            (
                "Check the node's conditions and allocations",
                kubectl(s, f"describe node {s.name}", namespaced=False),
            ),
        ]
    new = double_memory(f.get("memory_limit_bytes")) or double_memory(parse_bytes(f.get("memory_request")))
    limit = f"--limits=memory={new}" if new else "--limits=memory=<2x observed peak>"
    recs = [
        (
            f"Raise the memory limit of {f.get('container') or 'the container'} "
            f"(now {f.get('memory_limit') or 'unset'}) to {new or 'about twice the observed peak'}",
            kubectl(s, f"set resources {res(s)}{container_flag(f)} {limit}"),
        ),
        (
            "Compare actual usage with the limit",
            kubectl(s, f"top pod {first_pod(f) or ''} --containers".replace("  ", " ")),
        ),
    ]
    if f.get("heap_error"):
        recs.insert(
            1,
            (
                "Cap the runtime heap below the container limit (e.g. JVM -XX:MaxRAMPercentage=75)",
                kubectl(s, f"set env {res(s)}{container_flag(f)} JAVA_TOOL_OPTIONS=-XX:MaxRAMPercentage=75"),
            ),
        )
    return recs


def _image(s: Subject, f: dict[str, Any]) -> list[Rec]:
    image, answer, c = (
        f.get("image") or "<image>",
        f.get("answer") or "unknown",
        f.get("container") or "<container>",
    )
    recs: list[Rec] = []
    if answer.startswith("unauthorized") or answer.startswith("not found or"):
        recs.append(
            (
                f"Give the pods credentials for {f.get('registry') or 'the registry'} (an imagePullSecret)",
                kubectl(
                    s,
                    f"create secret docker-registry regcred --docker-server={f.get('registry') or '<registry>'} "
                    "--docker-username=<user> --docker-password=<token>",
                ),
            )
        )
        recs.append(
            (
                "Reference it from the pods' service account",
                kubectl(s, 'patch serviceaccount default -p \'{"imagePullSecrets":[{"name":"regcred"}]}\''),
            )
        )
    if answer.startswith("not found") or answer in ("invalid name", "unknown"):
        recs.append(
            (
                f"Point {c} at an image tag that exists ({image} does not)",
                kubectl(s, f"set image {res(s)} {c}=<existing image:tag>"),
            )
        )
    if answer in ("unreachable", "rate limited", "registry certificate not trusted"):
        recs.append(
            (
                f"Check the nodes' DNS/egress/TLS to {f.get('registry') or 'the registry'} ({answer})",
                kubectl(s, "get events --field-selector reason=Failed --sort-by=.lastTimestamp"),
            )
        )
    if answer.startswith("never pulled"):
        recs.append(
            (
                "Set imagePullPolicy to IfNotPresent or preload the image on the nodes",
                kubectl(s, f"get {res(s)} -o jsonpath='{{..imagePullPolicy}}'"),
            )
        )
    return recs


def _missing(s: Subject, f: dict[str, Any]) -> list[Rec]:
    kind, name, key = f.get("kind") or "Secret", f.get("name") or "<name>", f.get("key")
    ns_s = s.model_copy(update={"namespace": f.get("namespace") or s.namespace})
    literal = f"--from-literal={key or '<KEY>'}=<value>"
    if key:
        look = kubectl(ns_s, f"describe {kind.lower()} {name}")
        field = "stringData" if kind == "Secret" else "data"
        patch = f"""patch {kind.lower()} {name} --type merge -p '{{"{field}":{{"{key}":"<value>"}}}}'"""
        create = (f"Add key {key} to {kind} {name} (the pods retry on their own)", kubectl(ns_s, patch))
        return [create, (f"List the keys {kind} {name} has", look)]
    cmd = (
        f"create secret generic {name} {literal}"
        if kind == "Secret"
        else f"create configmap {name} {literal}"
    )
    return [
        (f"Create the missing {kind} {name} (the kubelet retries; no restart needed)", kubectl(ns_s, cmd)),
        (f"Or fix the reference to it in the {s.kind}", kubectl(s, f"get {res(s)} -o yaml")),
    ]


def _config(s: Subject, f: dict[str, Any]) -> list[Rec]:
    pod = first_pod(f) or "<pod>"
    recs: list[Rec] = []
    if f.get("service_account"):
        recs.append(
            (
                f"Create ServiceAccount {f['service_account']} or fix serviceAccountName",
                kubectl(s, f"create serviceaccount {f['service_account']}"),
            )
        )
    if f.get("executable"):
        recs.append(
            (
                f"Fix the container command: {f['executable']!r} is not in the image",
                kubectl(s, f"get {res(s)} -o jsonpath='{{.spec.template.spec.containers[*].command}}'"),
            )
        )
    if f.get("variable") and re.fullmatch(r"[A-Z][A-Z0-9_]+", str(f["variable"])):
        recs.append(
            (
                f"Provide {f['variable']} to the container",
                kubectl(s, f"set env {res(s)}{container_flag(f)} {f['variable']}=<value>"),
            )
        )
    recs.append(
        (
            "Read the crashed instance's configuration error",
            kubectl(s, f"logs {pod}{container_flag(f)} --previous"),
        )
    )
    recs.append(("Compare with the last working revision", kubectl(s, f"rollout history {res(s)}")))
    return recs


def _dependency(s: Subject, f: dict[str, Any]) -> list[Rec]:
    dep = f.get("dependency") or ""
    host = dep.rsplit(":", 1)[0] if ":" in dep else dep
    recs: list[Rec] = []
    if host and not re.fullmatch(r"[\d.]+|localhost", host):
        svc = host.split(".")[0]
        recs.append(
            (
                f"Check that Service {svc} exists and has ready endpoints",
                kubectl(s, f"get endpointslices -l kubernetes.io/service-name={svc}"),
            )
        )
    recs.append(
        (
            f"Check the dependency {dep or '(see the log lines)'} itself (pods, recent restarts)",
            kubectl(s, "get pods -o wide"),
        )
    )
    if f.get("failure") == "name resolution failed":
        recs.append(
            (
                "Check cluster DNS",
                kubectl(s, "get pods -l k8s-app=kube-dns", namespaced=False) + " -n kube-system",
            )
        )
    recs.append(
        (
            "Read the failing instance's logs",
            kubectl(s, f"logs {first_pod(f) or '<pod>'}{container_flag(f)} --previous"),
        )
    )
    return recs


def _probe(s: Subject, f: dict[str, Any]) -> list[Rec]:
    return [
        (
            f"Check what the {str(f.get('probe') or 'liveness').lower()} probe calls; it answers: "
            f"{str(f.get('detail'))[:80]}",
            kubectl(s, f"get {res(s)} -o jsonpath='{{..{str(f.get('probe') or 'liveness').lower()}Probe}}'"),
        ),
        (
            "If the app is slow to start, add a startupProbe or raise initialDelaySeconds/failureThreshold",
            kubectl(s, f"edit {res(s)}"),
        ),
        (
            "Read the restarted instance's logs",
            kubectl(s, f"logs {first_pod(f) or '<pod>'}{container_flag(f)} --previous"),
        ),
    ]


def _job(s: Subject, f: dict[str, Any]) -> list[Rec]:
    return [
        ("Read the failed Job's pods' logs", kubectl(s, f"logs job/{s.name} --all-containers")),
        ("See why it failed", kubectl(s, f"describe job {s.name}")),
        ("After fixing, delete the failed Job (clears KubeJobFailed)", kubectl(s, f"delete job {s.name}")),
    ]


def _crash(s: Subject, f: dict[str, Any]) -> list[Rec]:
    return [
        (
            "Read the crashed instance's logs",
            kubectl(s, f"logs {first_pod(f) or '<pod>'}{container_flag(f)} --previous"),
        ),
        ("Compare with the last working revision", kubectl(s, f"rollout history {res(s)}")),
    ]


def _cert(s: Subject, f: dict[str, Any]) -> list[Rec]:
    return [
        (
            "Find the certificate in use and its expiry (cert-manager)",
            kubectl(s, "get certificates,certificaterequests"),
        ),
        ("Renew or re-issue the certificate, or add the CA to the client's trust store", ""),
    ]


def _throttle(s: Subject, f: dict[str, Any]) -> list[Rec]:
    lim = f.get("cpu_limit")
    return [
        (
            f"Raise or remove the CPU limit ({lim or 'unknown'})",
            kubectl(s, f"set resources {res(s)}{container_flag(f)} --limits=cpu=<2x {lim or 'current'}>"),
        )
    ]


def _unknown(s: Subject, f: dict[str, Any]) -> list[Rec]:
    return [
        ("Look at the recent events", kubectl(s, "get events --sort-by=.lastTimestamp")),
        (
            "Look at the subject's state",
            kubectl(s, f"describe {res(s).replace('/', ' ')}", namespaced=s.kind != "Node"),
        ),
    ]


_BY_CATEGORY: dict[str, Callable[[Subject, dict[str, Any]], list[Rec]]] = {
    **INFRA,
    "oom_killed": _oom,
    "image_pull_error": _image,
    "missing_secret_or_configmap": _missing,
    "config_error": _config,
    "dependency_unavailable": _dependency,
    "probe_failure": _probe,
    "job_failed": _job,
    "app_crash": _crash,
    "certificate_error": _cert,
    "cpu_throttling": _throttle,
}
