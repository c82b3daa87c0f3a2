"""RFC 3339 timestamps as Kubernetes writes them.

The API server writes seconds (``2019-03-08T08:48:17Z``), micro-times for ``eventTime`` and the
kubelet nanoseconds in log timestamps; ``datetime.fromisoformat`` only takes up to microseconds,
so fractions are trimmed before parsing.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

__all__ = ["LEADING", "format_nanos", "format_seconds", "parse"]

_FRACTION = re.compile(r"(\.\d{1,6})\d*")

#: A log line's leading RFC 3339 timestamp followed by a space, as ``timestamps=true`` writes it.
LEADING = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})) ")


def parse(value: object) -> datetime | None:
    """A timezone-aware datetime, or None when ``value`` is not an RFC 3339 string."""
    if not isinstance(value, str) or len(value) < 20:
        return None
    text = _FRACTION.sub(lambda m: m.group(1), value.replace("z", "Z"), count=1)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    # A timestamp without an offset is not RFC 3339; reading it as UTC is the apiserver's habit.
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def format_seconds(moment: datetime) -> str:
    """``2019-03-08T08:59:58Z``: the precision of metadata and status timestamps."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def format_nanos(moment: datetime) -> str:
    """``2019-03-08T08:59:58.000000000Z``: what the kubelet prefixes log lines with."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond:06d}000Z"
