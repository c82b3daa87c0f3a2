"""The change feed: strictly increasing sequence numbers, bounded retention, resets, waiting readers."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from engine.feed import FROM_NOW, ChangeFeed

AT = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def _publish(feed: ChangeFeed, n: int) -> list[int]:
    return [feed.publish("opened", {"id": f"inc-{i}"}, AT) for i in range(n)]


def test_readers_get_what_follows_their_sequence_in_order() -> None:
    feed = ChangeFeed(capacity=10)
    assert _publish(feed, 3) == [1, 2, 3]
    page = feed.since(1)
    assert [e["seq"] for e in page["events"]] == [2, 3] and page["last_seq"] == 3 and not page["reset"]
    assert feed.since(3) == {"last_seq": 3, "reset": False, "events": []}
    assert [e["incident"]["id"] for e in feed.since(0, limit=2)["events"]] == ["inc-0", "inc-1"]


def test_from_now_skips_history() -> None:
    feed = ChangeFeed()
    _publish(feed, 2)
    assert feed.since(FROM_NOW) == {"last_seq": 2, "reset": False, "events": []}


def test_a_reader_that_fell_behind_the_bound_is_told_to_reset() -> None:
    feed = ChangeFeed(capacity=3)
    _publish(feed, 5)  # 1 and 2 are gone
    page = feed.since(1)
    assert page["reset"] and [e["seq"] for e in page["events"]] == [3, 4, 5]
    assert not feed.since(2)["reset"]  # 3 is the oldest kept: nothing was missed


def test_a_reader_ahead_of_the_feed_restarted_manager_is_told_to_reset() -> None:
    feed = ChangeFeed()
    _publish(feed, 1)
    assert feed.since(40) == {"last_seq": 1, "reset": True, "events": []}


def test_capacity_must_be_positive() -> None:
    with pytest.raises(ValueError, match="capacity"):
        ChangeFeed(capacity=0)


def test_a_waiting_reader_wakes_on_the_next_change() -> None:
    async def scenario() -> tuple[dict, dict]:
        feed = ChangeFeed()
        _publish(feed, 1)
        waiter = asyncio.create_task(feed.wait(1, timeout_s=30))
        await asyncio.sleep(0)  # the reader is waiting now
        feed.publish("resolved", {"id": "inc-x"}, AT)
        woke = await waiter
        idle = await feed.wait(2, timeout_s=0.01)  # nothing new: returns empty after the timeout
        return woke, idle

    woke, idle = asyncio.run(scenario())
    assert [(e["seq"], e["kind"]) for e in woke["events"]] == [(2, "resolved")]
    assert idle == {"last_seq": 2, "reset": False, "events": []}
