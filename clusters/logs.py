"""Container logs from a dump: the ``logs.txt`` block format, and the kubelet's query options.

``kubectl cluster-info dump`` writes, per pod, ``==== START logs for container <c> of pod
<ns>/<pod> ====`` ... ``==== END logs ... ====`` blocks. When fetching failed, the block holds
``Create log request error: ...`` or ends with ``Request log error: ...`` instead of (or after)
the logs. The END marker follows the log bytes directly, so it is not always at a line start.

:func:`render` applies ``sinceSeconds``/``sinceTime``, ``tailLines``, ``timestamps`` and
``limitBytes`` the way the kubelet does, with one difference forced by the format: the dump keeps
no per-line times, so only lines that start with an RFC 3339 timestamp can be filtered by time,
and lines without one count as written at the capture time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from clusters import rfc3339

__all__ = ["ContainerLog", "parse_blocks", "render"]

_START = re.compile(r"^==== START logs for container (?P<container>\S+) of pod (?P<ns>[^/\s]+)/(?P<pod>\S+) ====\n", re.M)
_ERROR_PREFIXES = ("Create log request error: ", "Request log error: ")


@dataclass(frozen=True)
class ContainerLog:
    """One container's captured log: ``text`` is None when the dump could not fetch it."""

    text: str | None
    error: str | None = None

    @property
    def available(self) -> bool:
        return self.text is not None


def parse_blocks(content: str) -> dict[str, ContainerLog]:
    """Blocks of one ``logs.txt`` by container name."""
    logs: dict[str, ContainerLog] = {}
    starts = list(_START.finditer(content))
    for index, start in enumerate(starts):
        end_marker = f"==== END logs for container {start['container']} of pod {start['ns']}/{start['pod']} ====\n"
        limit = starts[index + 1].start() if index + 1 < len(starts) else len(content)
        end = content.find(end_marker, start.end(), limit)
        body = content[start.end() : end if end >= 0 else limit]
        logs[start["container"]] = _block(body)
    return logs


def _block(body: str) -> ContainerLog:
    lines = body.splitlines(keepends=True)
    if lines and lines[-1].startswith(_ERROR_PREFIXES):
        error = lines[-1].rstrip("\n")
        partial = "".join(lines[:-1])
        # A stream that broke midway still delivered lines worth keeping.
        return ContainerLog(partial if partial.strip() else None, error)
    return ContainerLog(body)


def render(
    text: str,
    *,
    captured_at: datetime | None,
    tail_lines: int | None = None,
    since_seconds: int | None = None,
    since_time: datetime | None = None,
    timestamps: bool = False,
    limit_bytes: int | None = None,
) -> str:
    """The log text a kubelet would return for these options, as of ``captured_at``."""
    lines = text.splitlines(keepends=True)
    cutoff = _cutoff(captured_at, since_seconds, since_time)
    if cutoff is not None:
        lines = [line for line in lines if _kept_since(line, cutoff)]
    if tail_lines is not None:
        lines = lines[-tail_lines:] if tail_lines > 0 else []
    if timestamps:
        lines = [_with_timestamp(line, captured_at) for line in lines]
    out = "".join(lines)
    if limit_bytes is not None:
        out = out.encode()[:limit_bytes].decode(errors="ignore")
    return out


def _cutoff(captured_at: datetime | None, since_seconds: int | None, since_time: datetime | None) -> datetime | None:
    # sinceSeconds counts back from the capture time, not the wall clock (DESIGN "Time").
    if since_seconds is not None and captured_at is not None:
        return captured_at - timedelta(seconds=since_seconds)
    return since_time


def _kept_since(line: str, cutoff: datetime) -> bool:
    stamp = _leading_time(line)
    return stamp is None or stamp >= cutoff


def _leading_time(line: str) -> datetime | None:
    m = rfc3339.LEADING.match(line)
    return rfc3339.parse(m.group(1)) if m else None


def _with_timestamp(line: str, captured_at: datetime | None) -> str:
    if _leading_time(line) is not None or captured_at is None:
        return line
    return f"{rfc3339.format_nanos(captured_at)} {line}"
