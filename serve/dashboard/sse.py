"""Server-sent events for the change feed: the wire format, and a stream that long-polls the manager.

``event_stream`` yields ``ready`` first (with the sequence it starts from, also as its id), then one ``incident``
event per change with ``id: <seq>`` (a browser's EventSource sends it back as ``Last-Event-ID``
when it reconnects), ``reset`` when the reader missed changes, and a comment line as keep-alive
while nothing happens. It ends after ``max_s`` so that a forgotten tab does not hold an ingress
slot for ever; EventSource reconnects by itself.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import orjson

__all__ = ["event_stream", "format_event", "start_seq"]

Fetch = Callable[[int, float], Awaitable[dict[str, Any]]]


def format_event(event: str, data: Any, event_id: int | None = None) -> bytes:
    """One SSE message; data is JSON on a single line (orjson never writes a newline)."""
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\n".encode() + b"data: " + orjson.dumps(data) + b"\n\n"


def start_seq(after: int | None, last_event_id: str | None, from_now: int) -> int:
    """Where a stream starts: a reconnecting browser's Last-Event-ID (the freshest), else ``after``, else now.

    EventSource reconnects to the URL it was opened with, so an ``after`` in that URL is older than
    the Last-Event-ID it sends along.
    """
    if last_event_id and last_event_id.strip().isdigit():
        return int(last_event_id.strip())
    return after if after is not None else from_now


async def event_stream(fetch: Fetch, after: int, *, max_s: float, poll_s: float = 15.0,
                       retry_ms: int = 2000) -> AsyncIterator[bytes]:
    """Follow the feed from ``after`` until ``max_s`` has passed (monotonic clock: this is transport)."""
    page = await fetch(after, 0.0)
    yield f"retry: {retry_ms}\n\n".encode()
    # the id makes a reconnecting browser resume from here even if no change came in between
    yield format_event("ready", {"last_seq": page["last_seq"]}, page["last_seq"])
    deadline = time.monotonic() + max_s
    while True:
        if page["reset"]:
            yield format_event("reset", {"last_seq": page["last_seq"]}, page["last_seq"])
        for e in page["events"]:
            yield format_event("incident", e, e["seq"])
        if not page["events"] and not page["reset"]:
            yield b": keep-alive\n\n"
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return
        page = await fetch(page["last_seq"], min(poll_s, remaining))
