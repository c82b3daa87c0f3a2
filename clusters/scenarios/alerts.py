"""Alerts as Prometheus fires them and Alertmanager 0.25 sends them.

:class:`Alert` is one firing series (labels, annotations, when it became active);
:func:`fingerprint` is ``model.LabelSet.Fingerprint()``; :func:`payload` builds one webhook body
for a group, sorted and summarised exactly like ``dispatch.go`` and ``template.Data`` do, and
:func:`encode` writes it byte-for-byte like ``json.NewEncoder(...).Encode(msg)``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote_plus

from ._gojson import compact
from ._time import ZERO_TIME, rfc3339_nano
from .rules import Rule, render

__all__ = [
    "Alert",
    "StackLabels",
    "alert_sort_key",
    "encode",
    "fingerprint",
    "generator_url",
    "group_key",
    "payload",
]

_FNV64_OFFSET = 0xCBF29CE484222325
_FNV64_PRIME = 0x100000001B3
_SEP = 0xFF


def fingerprint(labels: dict[str, str]) -> str:
    """Prometheus ``LabelSet.Fingerprint()``: FNV-1a 64 over sorted names and values, each + 0xff."""
    h = _FNV64_OFFSET
    for name in sorted(labels):
        for part in (name, labels[name]):
            for b in part.encode():
                h = ((h ^ b) * _FNV64_PRIME) & 0xFFFFFFFFFFFFFFFF
            h = ((h ^ _SEP) * _FNV64_PRIME) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


def generator_url(prometheus_url: str, expr: str) -> str:
    """``TableLinkForExpression``: ``/graph?g0.expr=<QueryEscape(expr)>&g0.tab=1``."""
    return f"{prometheus_url}/graph?g0.expr={quote_plus(expr, safe='')}&g0.tab=1"


@dataclass(frozen=True)
class StackLabels:
    """Where kube-prometheus-stack runs in a cluster: the labels its scrapes and Prometheus add."""

    ksm_pod: str
    ksm_ip: str
    prometheus: str = "monitoring/kube-prometheus-stack-prometheus"
    release: str = "kube-prometheus-stack"
    namespace: str = "monitoring"
    cluster: str | None = None  # the ``cluster`` external label, when the fleet sets one

    def ksm_target(self) -> dict[str, str]:
        """Target labels of the kube-state-metrics ServiceMonitor (``honorLabels: true``)."""
        return {
            "container": "kube-state-metrics",
            "endpoint": "http",
            "instance": f"{self.ksm_ip}:8080",
            "job": "kube-state-metrics",
            "namespace": self.namespace,
            "pod": self.ksm_pod,
            "service": f"{self.release}-kube-state-metrics",
        }

    def external(self) -> dict[str, str]:
        labels = {"prometheus": self.prometheus}
        if self.cluster:
            labels["cluster"] = self.cluster
        return labels


@dataclass
class Alert:
    """One alert: the query's labels, the rule, and its timeline."""

    rule: Rule
    query_labels: dict[str, str]
    stack: StackLabels
    onset: datetime  # when the rule's expression first became true
    value: str = ""
    ends_at: datetime | None = None
    starts_at: datetime | None = None  # set by the Prometheus evaluation model
    labels: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        labels = {"alertname": self.rule.name, **self.query_labels, **self.stack.external()}
        labels["severity"] = self.rule.severity
        self.labels = dict(sorted(labels.items()))

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.labels)

    def annotations(self) -> dict[str, str]:
        return {
            "description": render(self.rule.description, self.query_labels, self.value),
            "runbook_url": self.rule.runbook_url,
            "summary": self.rule.summary,
        }

    def to_wire(self, prometheus_url: str, at: datetime, resolved: bool | None = None) -> dict[str, Any]:
        """The alert as a notification at ``at`` shows it (``resolved`` overrides the time test)."""
        assert self.starts_at is not None, "evaluate the alert before sending it"
        if resolved is None:
            resolved = self.ends_at is not None and self.ends_at <= at
        return {
            "status": "resolved" if resolved else "firing",
            "labels": self.labels,
            "annotations": self.annotations(),
            "startsAt": rfc3339_nano(self.starts_at),
            "endsAt": rfc3339_nano(self.ends_at) if resolved and self.ends_at else ZERO_TIME,
            "generatorURL": generator_url(prometheus_url, self.rule.expr),
            "fingerprint": self.fingerprint,
        }


def _less(a: dict[str, str], b: dict[str, str]) -> bool:
    """``types.AlertSlice.Less``: job, then instance (absent last), then ``LabelSet.Before``."""
    for key in ("job", "instance"):
        if key not in a and key not in b:
            continue
        if key not in a:
            return False
        if key not in b:
            return True
        if a[key] != b[key]:
            return a[key] < b[key]
    return _before(a, b)


def _before(a: dict[str, str], b: dict[str, str]) -> bool:
    if len(a) != len(b):
        return len(a) < len(b)
    for name in sorted([*a, *b]):
        if name not in a:
            return True
        if name not in b:
            return False
        if a[name] != b[name]:
            return a[name] < b[name]
    return False


def _cmp(a: dict[str, Any], b: dict[str, Any]) -> int:
    if _less(a["labels"], b["labels"]):
        return -1
    return 1 if _less(b["labels"], a["labels"]) else 0


alert_sort_key = functools.cmp_to_key(_cmp)


def group_key(group_labels: dict[str, str], route_key: str = "{}") -> str:
    inner = ",".join(f'{k}="{v}"' for k, v in sorted(group_labels.items()))
    return f"{route_key}:{{{inner}}}"


def _common(maps: list[dict[str, str]]) -> dict[str, str]:
    if not maps:
        return {}
    first = maps[0]
    return {k: v for k, v in first.items() if all(m.get(k) == v for m in maps[1:])}


def payload(alerts: list[dict[str, Any]], *, group_labels: dict[str, str], external_url: str,
            receiver: str = "Default", route_key: str = "{}") -> dict[str, Any]:
    """A version-4 webhook message for one aggregation group (``alerts`` already on the wire)."""
    ordered = sorted(alerts, key=alert_sort_key)  # sorted() is stable, like sort.Stable
    firing = any(a["status"] == "firing" for a in ordered)
    return {
        "receiver": receiver,
        "status": "firing" if firing else "resolved",
        "alerts": ordered,
        "groupLabels": dict(sorted(group_labels.items())),
        "commonLabels": _common([a["labels"] for a in ordered]),
        "commonAnnotations": _common([a["annotations"] for a in ordered]),
        "externalURL": external_url,
        "version": "4",
        "groupKey": group_key(group_labels, route_key),
        "truncatedAlerts": 0,
    }


def encode(message: dict[str, Any]) -> str:
    """The request body: compact Go JSON plus the encoder's trailing newline."""
    return compact(message) + "\n"
