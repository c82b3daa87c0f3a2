"""Timestamp formats used by the Kubernetes API, Prometheus and Alertmanager."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

__all__ = ["ZERO_TIME", "go_duration", "micro", "nano_hex", "rfc3339", "rfc3339_nano", "secs"]

#: What Go prints for ``time.Time{}``: Alertmanager's ``endsAt`` of a firing alert.
ZERO_TIME = "0001-01-01T00:00:00Z"


def secs(value: float) -> timedelta:
    return timedelta(seconds=value)


def rfc3339(dt: datetime) -> str:
    """``metav1.Time``: whole seconds, UTC, ``Z``."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def micro(dt: datetime) -> str:
    """``metav1.MicroTime``: always six fractional digits."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def rfc3339_nano(dt: datetime) -> str:
    """Go ``time.RFC3339Nano`` (trailing zeros trimmed), as Alertmanager prints ``startsAt``."""
    dt = dt.astimezone(UTC)
    frac = f"{dt.microsecond:06d}".rstrip("0")
    base = dt.strftime("%Y-%m-%dT%H:%M:%S")
    return f"{base}.{frac}Z" if frac else f"{base}Z"


def nano_hex(dt: datetime, extra_ns: int = 0) -> str:
    """The suffix of an event name: ``fmt.Sprintf("%x", t.UnixNano())``."""
    ns = int(dt.timestamp()) * 1_000_000_000 + dt.microsecond * 1000 + extra_ns
    return f"{ns:x}"


def go_duration(seconds: float) -> str:
    """Go ``time.Duration.String()`` for whole seconds: ``10s``, ``1m20s``, ``5m0s``, ``1h2m0s``."""
    total = int(seconds)
    h, rest = divmod(total, 3600)
    m, s = divmod(rest, 60)
    if h:
        return f"{h}h{m}m{s}s"
    if m:
        return f"{m}m{s}s"
    return f"{s}s"
