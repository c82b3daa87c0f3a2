"""The server-sent event stream over a scripted feed: wire format, order, resume point, resets."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson

from serve.dashboard.sse import event_stream, format_event, start_seq


def _page(last: int, events: list[int], reset: bool = False) -> dict[str, Any]:
    return {"last_seq": last, "reset": reset,
            "events": [{"seq": n, "kind": "opened", "incident": {"id": f"inc-{n}"}} for n in events]}


def _collect(pages: list[dict[str, Any]], after: int, chunks: int) -> tuple[list[bytes], list[tuple[int, float]]]:
    calls: list[tuple[int, float]] = []

    async def fetch(after: int, timeout_s: float) -> dict[str, Any]:
        calls.append((after, timeout_s))
        return pages[min(len(calls) - 1, len(pages) - 1)]

    async def run() -> list[bytes]:
        stream = event_stream(fetch, after, max_s=3600, poll_s=15)
        out = [await anext(stream) for _ in range(chunks)]
        await stream.aclose()
        return out

    return asyncio.run(run()), calls


def test_stream_starts_ready_then_sends_each_change_with_its_id() -> None:
    chunks, calls = _collect([_page(7, []), _page(9, [8, 9]), _page(9, [])], after=-1, chunks=6)
    assert chunks[0] == b"retry: 2000\n\n"
    assert chunks[1] == b'id: 7\nevent: ready\ndata: {"last_seq":7}\n\n'
    assert chunks[2] == b": keep-alive\n\n"
    assert chunks[3].startswith(b"id: 8\nevent: incident\ndata: ")
    assert orjson.loads(chunks[4].split(b"data: ")[1])["incident"]["id"] == "inc-9"
    assert chunks[5] == b": keep-alive\n\n"
    assert calls[:3] == [(-1, 0.0), (7, 15), (9, 15)]  # each poll continues from the last sequence seen


def test_a_reset_is_announced_before_the_events_that_follow_it() -> None:
    chunks, _ = _collect([_page(3, []), _page(40, [39, 40], reset=True)], after=3, chunks=5)
    assert chunks[3] == b'id: 40\nevent: reset\ndata: {"last_seq":40}\n\n'
    assert chunks[4].startswith(b"id: 39\nevent: incident")


def test_start_sequence_prefers_last_event_id_then_the_query_then_now() -> None:
    assert start_seq(5, "9", -1) == 9  # a reconnect: the browser's id is fresher than the URL's after
    assert start_seq(5, None, -1) == 5 and start_seq(5, "junk", -1) == 5
    assert start_seq(None, None, -1) == -1


def test_event_data_is_one_line_of_json() -> None:
    msg = format_event("incident", {"text": "two\nlines"}, 3)
    assert msg.count(b"\n") == 4 and msg.endswith(b"\n\n") and b'"two\\nlines"' in msg
