"""Alertmanager webhook payload (version "4") and the normalised alert fleetsre works on.

The webhook model accepts every field Alertmanager 0.25 through 0.34 sends (``notification_reason``
from 0.32, ``routeLabels`` from 0.34) and tolerates fields it does not know. ``parse_payload``
validates the envelope strictly but each alert on its own, so one bad alert does not drop its group:
the caller stores the good ones and reports the rejected ones by index and field.

An alert's subject (what it is about) is read from its labels, minding the kube-state-metrics trap:
object-level alerts name the scraper's own pod in ``pod``/``container``, so ``deployment``,
``statefulset``, ``daemonset``, ``job_name`` and ``node`` take precedence over ``pod``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

__all__ = [
    "ZERO_TIME",
    "Alert",
    "AlertTarget",
    "PayloadError",
    "RejectedAlert",
    "WebhookAlert",
    "WebhookPayload",
    "alert_target",
    "normalise",
    "parse_alert",
    "parse_envelope",
    "parse_payload",
    "workload_from_pod_name",
]

ZERO_TIME = datetime(1, 1, 1, tzinfo=UTC)


class PayloadError(ValueError):
    """The webhook envelope is unusable (not JSON, wrong version, wrong shape). Retrying won't help."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class WebhookAlert(BaseModel):
    """One alert as Alertmanager's ``template.Alert`` serialises it."""

    model_config = ConfigDict(extra="allow")

    status: Literal["firing", "resolved"]
    labels: dict[str, str]
    annotations: dict[str, str] = Field(default_factory=dict)
    startsAt: datetime
    endsAt: datetime = ZERO_TIME
    generatorURL: str = ""
    fingerprint: str = Field(pattern=r"^[0-9a-fA-F]{1,16}$")

    @field_validator("labels")
    @classmethod
    def _has_alertname(cls, v: dict[str, str]) -> dict[str, str]:
        if not v.get("alertname"):
            raise ValueError("labels must include a non-empty alertname")
        return v

    @field_validator("startsAt", "endsAt")
    @classmethod
    def _utc(cls, v: datetime) -> datetime:
        return v.replace(tzinfo=UTC) if v.tzinfo is None else v.astimezone(UTC)


class WebhookPayload(BaseModel):
    """The envelope: ``notify/webhook.Message`` = ``template.Data`` + version, groupKey, truncatedAlerts."""

    model_config = ConfigDict(extra="allow")

    version: Literal["4"]
    receiver: str = ""
    status: Literal["firing", "resolved"] = "firing"
    alerts: list[dict[str, Any]]
    groupLabels: dict[str, str] = Field(default_factory=dict)
    commonLabels: dict[str, str] = Field(default_factory=dict)
    commonAnnotations: dict[str, str] = Field(default_factory=dict)
    externalURL: str = ""
    groupKey: str = ""
    truncatedAlerts: int = 0
    notification_reason: str | None = None
    routeLabels: dict[str, str] | None = None


class RejectedAlert(BaseModel):
    index: int
    field: str
    message: str


class AlertTarget(BaseModel):
    """What an alert is about: a workload, a pod, a node or a namespace-level object."""

    model_config = ConfigDict(frozen=True)

    kind: str  # Deployment | StatefulSet | DaemonSet | Job | Pod | Node | PersistentVolumeClaim | Namespace | Cluster
    namespace: str | None = None
    name: str = ""
    pod: str | None = None
    container: str | None = None
    workload: str | None = None  # workload name guessed from the pod name when the owner is unknown


class Alert(BaseModel):
    """A normalised alert: identity is (cluster, fingerprint)."""

    cluster: str
    fingerprint: str
    status: Literal["firing", "resolved"]
    labels: dict[str, str]
    annotations: dict[str, str] = Field(default_factory=dict)
    startsAt: datetime
    endsAt: datetime | None = None
    generatorURL: str = ""
    cluster_resolved: bool = True

    @property
    def alertname(self) -> str:
        return self.labels.get("alertname", "")

    @property
    def severity(self) -> str:
        return self.labels.get("severity", "")

    def target(self) -> AlertTarget:
        return alert_target(self.labels)


def parse_envelope(body: Any) -> WebhookPayload:
    """The webhook envelope, its alerts still raw; raises :class:`PayloadError` (a 4xx) naming the field."""
    if not isinstance(body, dict):
        raise PayloadError("body", "expected a JSON object (an Alertmanager webhook payload)")
    try:
        return WebhookPayload.model_validate(body)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise PayloadError(_loc(err["loc"]), err["msg"]) from exc


def parse_alert(i: int, raw: Any) -> WebhookAlert | RejectedAlert:
    """Alert ``i`` of a payload, or why it is rejected (the field, as ``alerts[i].<field>``)."""
    try:
        return WebhookAlert.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        return RejectedAlert(index=i, field=f"alerts[{i}].{_loc(err['loc'])}", message=err["msg"])


def parse_payload(body: Any) -> tuple[WebhookPayload, list[WebhookAlert], list[RejectedAlert]]:
    """Validate an envelope; each alert separately. Raises :class:`PayloadError` for the envelope."""
    payload = parse_envelope(body)
    parsed = [parse_alert(i, raw) for i, raw in enumerate(payload.alerts)]
    good = [a for a in parsed if isinstance(a, WebhookAlert)]
    rejected = [a for a in parsed if isinstance(a, RejectedAlert)]
    return payload, good, rejected


def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "body"


def normalise(alert: WebhookAlert, cluster: str, *, cluster_resolved: bool = True) -> Alert:
    ends = None if alert.endsAt <= ZERO_TIME else alert.endsAt
    return Alert(
        cluster=cluster,
        fingerprint=alert.fingerprint.lower().rjust(16, "0"),
        status=alert.status,
        labels=dict(alert.labels),
        annotations=dict(alert.annotations),
        startsAt=alert.startsAt,
        endsAt=ends,
        generatorURL=alert.generatorURL,
        cluster_resolved=cluster_resolved,
    )


# ReplicaSet pod names: <deployment>-<pod-template-hash>-<5 random>. The hash and suffix use
# the apimachinery "safe" alphabet (no vowels, no 0/1/3), which keeps false matches rare.
_SAFE = "[bcdfghjklmnpqrstvwxz2456789]"
_RS_POD = re.compile(rf"^(?P<wl>.+)-{_SAFE}{{6,10}}-{_SAFE}{{5}}$")
_STS_POD = re.compile(r"^(?P<wl>.+)-(?P<ord>\d+)$")
_GEN_POD = re.compile(rf"^(?P<wl>.+)-{_SAFE}{{5}}$")

_OBJECT_LABELS = (
    ("deployment", "Deployment"),
    ("statefulset", "StatefulSet"),
    ("daemonset", "DaemonSet"),
    ("job_name", "Job"),
    ("persistentvolumeclaim", "PersistentVolumeClaim"),
    ("horizontalpodautoscaler", "HorizontalPodAutoscaler"),
)


def workload_from_pod_name(pod: str) -> str:
    """Best guess of the owning workload's name from a pod name (the owner chain beats this)."""
    for pattern in (_RS_POD, _STS_POD, _GEN_POD):
        m = pattern.match(pod)
        if m:
            return m.group("wl")
    return pod


def alert_target(labels: dict[str, str]) -> AlertTarget:
    ns = labels.get("namespace")
    for label, kind in _OBJECT_LABELS:
        if labels.get(label):
            return AlertTarget(kind=kind, namespace=ns, name=labels[label], workload=labels[label])
    if labels.get("node") and (labels.get("alertname", "").startswith(("KubeNode", "Node", "Kubelet")) or not labels.get("pod")):
        return AlertTarget(kind="Node", name=labels["node"])
    if labels.get("pod"):
        pod = labels["pod"]
        return AlertTarget(
            kind="Pod", namespace=ns, name=pod, pod=pod, container=labels.get("container"),
            workload=workload_from_pod_name(pod),
        )
    if ns:
        return AlertTarget(kind="Namespace", namespace=ns, name=ns)
    return AlertTarget(kind="Cluster", name=labels.get("alertname", ""))


def utc(dt: datetime) -> datetime:
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)
