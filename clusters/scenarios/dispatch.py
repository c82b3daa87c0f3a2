"""Alertmanager's dispatcher on a scripted clock: which webhooks a cluster's alerts produce.

Alerts arrive when Prometheus fires them (``startsAt``). Each ``namespace`` gets an aggregation
group (kube-prometheus routing: ``group_by: [namespace]``) that flushes ``group_wait`` after its
first alert and every ``group_interval`` after that; a flush notifies only when the group holds a
firing alert not yet notified (``notify.DedupStage``), and every notification carries all of the
group's alerts. Only flushes up to the capture time happen.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from .alerts import Alert, payload

__all__ = ["Notification", "notifications"]

GROUP_WAIT = timedelta(seconds=30)
GROUP_INTERVAL = timedelta(minutes=5)
#: Prometheus' notifier posts right after the evaluation that fired the alert.
SEND_DELAY = timedelta(milliseconds=40)


@dataclass(frozen=True)
class Notification:
    at: datetime
    body: dict[str, Any]


def notifications(alerts: list[Alert], *, now: datetime, external_url: str, prometheus_url: str,
                  receiver: str = "Default") -> list[Notification]:
    """Every webhook Alertmanager would have sent by ``now``, in send order."""
    groups: dict[str, list[Alert]] = defaultdict(list)
    for a in alerts:
        groups[a.labels.get("namespace", "")].append(a)
    out: list[Notification] = []
    for namespace, members in sorted(groups.items()):
        out += _group(namespace, members, now, external_url, prometheus_url, receiver)
    return sorted(out, key=lambda n: n.at)


def _arrival(a: Alert) -> datetime:
    assert a.starts_at is not None
    return a.starts_at + SEND_DELAY


def _group(namespace: str, members: list[Alert], now: datetime, external_url: str, prometheus_url: str,
           receiver: str) -> list[Notification]:
    members = sorted(members, key=_arrival)
    flush = _arrival(members[0]) + GROUP_WAIT
    notified: set[str] = set()
    out = []
    while flush <= now:
        present = [a for a in members if _arrival(a) <= flush]
        firing = {a.fingerprint for a in present if not (a.ends_at and a.ends_at <= flush)}
        if not firing <= notified:
            wire = [a.to_wire(prometheus_url, flush) for a in present]
            body = payload(wire, group_labels={"namespace": namespace}, external_url=external_url, receiver=receiver)
            out.append(Notification(flush, body))
            notified = firing
        flush += GROUP_INTERVAL
    return out
