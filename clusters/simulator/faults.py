"""Per-cluster fault injection: the ways real API servers misbehave toward a collector.

A cluster's faults come from a plain dict (the ``faults:`` entry of ``fleet.yaml``):

``latency_ms``
    a number (fixed delay per request) or ``{"p50": .., "p99": ..}``: delays drawn from the
    log-normal distribution with that median and 99th percentile (API latency is long-tailed).
``error_rate``
    fraction of requests answered ``500 InternalError``.
``throttle_rate``
    fraction of requests answered ``429 TooManyRequests`` with ``Retry-After: 1``.
``unreachable``
    ``true`` (or ``"refuse"``): the kubeconfig points the cluster at a bound but never listening
    port on 127.0.0.1, so connecting is refused at once, as for a host whose apiserver is down;
    requests that still arrive on the cluster's prefix are dropped without an answer.
    ``"hang"``: connections are accepted and never answered, as behind a black-holing firewall;
    only the client's timeout ends them.
``forbidden``
    resources (``pods``, ``pods/log``, ``events``, ``Deployment`` ..., or ``"*"``) the caller has
    no RBAC grant for: ``403 Forbidden`` with the authorizer's message. As in RBAC, ``pods`` does
    not cover ``pods/log``.
"""

from __future__ import annotations

import math
import random
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from clusters.kinds import Resource, resolve

__all__ = ["Faults", "FaultInjector"]

_KEYS = {"latency_ms", "error_rate", "throttle_rate", "unreachable", "forbidden"}
_Z99 = 2.3263478740408408  # standard normal quantile at 0.99


@dataclass(frozen=True)
class Faults:
    latency_p50_ms: float = 0.0
    latency_p99_ms: float = 0.0
    error_rate: float = 0.0
    throttle_rate: float = 0.0
    unreachable: str = ""  # "", "refuse" or "hang"
    forbidden: frozenset[str] = field(default_factory=frozenset)
    #: The dict these faults were read from, passed through to fleet.yaml unchanged.
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False)

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any] | None) -> Faults:
        spec = dict(spec or {})
        unknown = set(spec) - _KEYS
        if unknown:
            raise ValueError(f"unknown fault(s) {sorted(unknown)}; known: {sorted(_KEYS)}")
        p50, p99 = _latency(spec.get("latency_ms", 0))
        return cls(
            latency_p50_ms=p50,
            latency_p99_ms=p99,
            error_rate=_fraction(spec, "error_rate"),
            throttle_rate=_fraction(spec, "throttle_rate"),
            unreachable=_unreachable(spec.get("unreachable", False)),
            forbidden=frozenset(_forbidden_name(n) for n in spec.get("forbidden") or ()),
            raw=spec,
        )

    def forbids(self, resource: Resource, subresource: str | None = None) -> bool:
        name = f"{resource.plural}/{subresource}" if subresource else resource.plural
        return "*" in self.forbidden or name in self.forbidden


def _latency(value: Any) -> tuple[float, float]:
    if isinstance(value, Mapping):
        p50 = float(value.get("p50", 0))
        return p50, max(p50, float(value.get("p99", p50)))
    return float(value or 0), float(value or 0)


def _fraction(spec: Mapping[str, Any], key: str) -> float:
    value = float(spec.get(key, 0) or 0)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{key} must be between 0 and 1, got {value}")
    return value


def _unreachable(value: Any) -> str:
    if value in (False, None, "", "false"):
        return ""
    if value in (True, "true", "refuse"):
        return "refuse"
    if value == "hang":
        return "hang"
    raise ValueError(f'unreachable must be true, "refuse" or "hang", got {value!r}')


def _forbidden_name(name: str) -> str:
    if name == "*":
        return name
    base, _, sub = name.partition("/")
    plural = resolve(base).plural
    return f"{plural}/{sub}" if sub else plural


class FaultInjector:
    """Draws the random parts of one cluster's faults; seeded, so a run can be repeated."""

    def __init__(self, faults: Faults, seed: int | str = 0) -> None:
        self.faults = faults
        self._rng = random.Random(str(seed))
        self._lock = threading.Lock()  # request threads share one generator

    def delay_s(self) -> float:
        f = self.faults
        if f.latency_p50_ms <= 0 or f.latency_p99_ms <= f.latency_p50_ms:
            return f.latency_p50_ms / 1000.0
        sigma = (math.log(f.latency_p99_ms) - math.log(f.latency_p50_ms)) / _Z99
        with self._lock:
            return self._rng.lognormvariate(math.log(f.latency_p50_ms), sigma) / 1000.0

    def injected_status(self) -> int | None:
        """500 or 429 when this request is to fail, None otherwise."""
        with self._lock:
            draw = self._rng.random()
        if draw < self.faults.error_rate:
            return 500
        if draw < self.faults.error_rate + self.faults.throttle_rate:
            return 429
        return None
