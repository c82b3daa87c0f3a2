"""The change feed: a bounded, numbered log of incident changes that readers follow by sequence.

The incident manager publishes one event whenever an incident opens, changes, resolves, is merged
or gets a report; the HTTP layer streams them (server-sent events) or long-polls them. Sequence
numbers start at 1 and only grow. The feed keeps the last ``capacity`` events: a reader that falls
further behind, or that holds a sequence from before a restart (ahead of the feed), gets
``reset: true`` and should reload what it shows instead of applying events.

``publish`` and ``wait`` must run on one event loop (the actor's); nothing here is thread-safe.
"""

from __future__ import annotations

import asyncio
from collections import deque
from datetime import datetime
from typing import Any

__all__ = ["FROM_NOW", "ChangeFeed"]

#: ``after`` value that means "only what comes next".
FROM_NOW = -1


class ChangeFeed:
    def __init__(self, capacity: int = 1024) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, not {capacity}")
        self._events: deque[dict[str, Any]] = deque(maxlen=capacity)
        self.seq = 0
        self._changed: asyncio.Event | None = None

    def publish(self, kind: str, incident: dict[str, Any], at: datetime) -> int:
        """Append one change and wake the waiting readers; returns its sequence number."""
        self.seq += 1
        self._events.append({"seq": self.seq, "kind": kind, "at": at, "incident": incident})
        if self._changed is not None:
            self._changed.set()
            self._changed = None
        return self.seq

    def since(self, after: int, limit: int = 100) -> dict[str, Any]:
        """The events after ``after`` (at most ``limit``), ``last_seq`` to continue from, and ``reset``."""
        if after == FROM_NOW:
            return {"last_seq": self.seq, "reset": False, "events": []}
        oldest = self._events[0]["seq"] if self._events else self.seq + 1
        reset = after > self.seq or after < oldest - 1
        if after > self.seq:
            return {"last_seq": self.seq, "reset": True, "events": []}
        events = [e for e in self._events if e["seq"] > after][:limit]
        last = events[-1]["seq"] if events else max(after, oldest - 1)
        return {"last_seq": last, "reset": reset, "events": events}

    async def wait(self, after: int, timeout_s: float, limit: int = 100) -> dict[str, Any]:
        """Like ``since``, but when nothing is newer wait up to ``timeout_s`` for the next change."""
        page = self.since(after, limit)
        if page["events"] or page["reset"] or after == FROM_NOW or timeout_s <= 0:
            return page
        if self._changed is None:
            self._changed = asyncio.Event()
        try:
            await asyncio.wait_for(self._changed.wait(), timeout_s)
        except TimeoutError:
            pass
        return self.since(after, limit)
