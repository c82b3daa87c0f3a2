"""Alertmanager's dispatcher on a scripted clock: which webhooks a cluster's alerts produce.

Alerts arrive when Prometheus fires them (``startsAt``) and again when they resolve (``endsAt``).
kube-prometheus routing: ``severity="critical"`` goes to the ``Critical`` receiver (route key
``{}/{severity="critical"}``), everything else to ``Default``; both ``group_by: [namespace]``.
Each (route, namespace) has an aggregation group that flushes ``group_wait`` after its first alert
and every ``group_interval`` after that. A flush notifies (``notify.DedupStage``) when it holds a
firing alert not notified yet, a resolved alert not notified yet (``send_resolved``), or when all
alerts resolved after a firing notification; every notification carries all of the group's
alerts. Resolved alerts leave the group after the flush; an empty group is destroyed and the next
alert starts a new one (with a new ``group_wait``). A series that fires again after resolving
(flapping) replaces its resolved self, as ``provider/mem`` merges it.

Inhibition (kube-prometheus ``alertmanager-secret.yaml``): an ``info`` alert is muted unless a
``warning`` or ``critical`` alert fires in its namespace (``InfoInhibitor``), and a ``critical``
alert mutes ``warning``/``info`` alerts with the same namespace and alertname. Only flushes up to
the capture time happen.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from .alerts import Alert, payload

__all__ = ["Notification", "notifications", "route_of"]

GROUP_WAIT = timedelta(seconds=30)
GROUP_INTERVAL = timedelta(minutes=5)
#: Prometheus' notifier posts right after the evaluation that fired (or resolved) the alert.
SEND_DELAY = timedelta(milliseconds=40)
_CRITICAL = ("Critical", '{}/{severity="critical"}')


@dataclass(frozen=True)
class Notification:
    at: datetime
    body: dict[str, Any]


def route_of(a: Alert, default_receiver: str = "Default") -> tuple[str, str]:
    """(receiver, route key) of the route the alert matches first."""
    return _CRITICAL if a.labels.get("severity") == "critical" else (default_receiver, "{}")


def notifications(alerts: list[Alert], *, now: datetime, external_url: str, prometheus_url: str,
                  receiver: str = "Default") -> list[Notification]:
    """Every webhook Alertmanager would have sent by ``now``, in send order."""
    groups: dict[tuple[tuple[str, str], str], list[Alert]] = defaultdict(list)
    for a in alerts:
        groups[(route_of(a, receiver), a.labels.get("namespace", ""))].append(a)
    mute = _Inhibitor(alerts)
    out: list[Notification] = []
    for (route, namespace), members in sorted(groups.items()):
        out += _Group(route, namespace, external_url, prometheus_url, mute).run(members, now)
    return sorted(out, key=lambda n: n.at)


def _arrival(a: Alert) -> datetime:
    assert a.starts_at is not None
    return a.starts_at + SEND_DELAY


def _resolved(a: Alert, t: datetime) -> bool:
    return a.ends_at is not None and a.ends_at + SEND_DELAY <= t


def _active(a: Alert, t: datetime) -> bool:
    return _arrival(a) <= t and not _resolved(a, t)


class _Inhibitor:
    """kube-prometheus' inhibit rules, evaluated at a flush."""

    def __init__(self, alerts: list[Alert]) -> None:
        self.loud: dict[str, list[Alert]] = defaultdict(list)  # namespace -> warning/critical alerts
        for a in alerts:
            if a.labels.get("severity") in ("warning", "critical"):
                self.loud[a.labels.get("namespace", "")].append(a)

    def muted(self, a: Alert, t: datetime) -> bool:
        ns, sev = a.labels.get("namespace", ""), a.labels.get("severity")
        if sev == "info" and not any(_active(b, t) for b in self.loud.get(ns, ())):
            return True  # InfoInhibitor: info alerts only travel with a warning in their namespace
        return sev in ("warning", "info") and any(
            b.labels.get("severity") == "critical" and b.labels["alertname"] == a.labels["alertname"] and _active(b, t)
            for b in self.loud.get(ns, ()))


class _Group:
    """One route's aggregation groups for one namespace, over time (one nflog entry)."""

    def __init__(self, route: tuple[str, str], namespace: str, external_url: str, prometheus_url: str,
                 mute: _Inhibitor) -> None:
        self.receiver, self.route_key = route
        self.labels = {"namespace": namespace} if namespace else {}
        self.external_url, self.prometheus_url, self.mute = external_url, prometheus_url, mute
        self.entry: tuple[frozenset[str], frozenset[str]] | None = None  # (firing, resolved) last notified

    def run(self, members: list[Alert], now: datetime) -> list[Notification]:
        pending = sorted(members, key=_arrival)
        store: dict[str, Alert] = {}
        out: list[Notification] = []
        i, flush = 0, None
        while True:
            if flush is None:  # no group: the next alert creates one
                if i >= len(pending):
                    return out
                flush = _arrival(pending[i]) + GROUP_WAIT
            if flush > now:
                return out
            while i < len(pending) and _arrival(pending[i]) <= flush:
                store[pending[i].fingerprint] = pending[i]
                i += 1
            note = self._flush(list(store.values()), flush)
            if note is not None:
                out.append(note)
            for fp in [fp for fp, a in store.items() if _resolved(a, flush)]:
                del store[fp]
            flush = flush + GROUP_INTERVAL if store else None

    def _flush(self, alerts: list[Alert], at: datetime) -> Notification | None:
        shown = [a for a in alerts if not self.mute.muted(a, at)]
        firing = frozenset(a.fingerprint for a in shown if not _resolved(a, at))
        resolved = frozenset(a.fingerprint for a in shown if _resolved(a, at))
        if not self._needs_update(firing, resolved):
            return None
        self.entry = (firing, resolved)
        wire = [a.to_wire(self.prometheus_url, at, a.fingerprint in resolved) for a in shown]
        body = payload(wire, group_labels=self.labels, external_url=self.external_url, receiver=self.receiver,
                       route_key=self.route_key)
        return Notification(at, body)

    def _needs_update(self, firing: frozenset[str], resolved: frozenset[str]) -> bool:
        """``DedupStage.needsUpdate`` with ``send_resolved: true`` and a repeat interval never reached."""
        if self.entry is None:
            return bool(firing)
        was_firing, was_resolved = self.entry
        if not firing <= was_firing:
            return True
        if not firing:
            return bool(was_firing)
        return not resolved <= was_resolved
