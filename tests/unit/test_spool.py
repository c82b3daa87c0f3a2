"""The webhook write-ahead spool (engine/spool.py): durable appends with group commit, in-order
consumption from a committed position, crash recovery, torn tails, segment roll and removal; and
the ingress screen that decides what is spooled at all (a 4xx never is)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from engine.alerts import PayloadError
from engine.ingest import screen_payload
from engine.spool import (
    START,
    Position,
    SpoolConsumer,
    SpoolWriter,
    encode_record,
    read_records,
    remove_if_done,
    writer_alive,
)
from tests.conftest import make_alert, make_payload


def _segs(d: Path) -> list[str]:
    return sorted(p.name for p in d.glob("*.seg"))


def test_append_is_durable_before_it_returns_and_reads_back_in_order(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[int] = []
    real = os.fdatasync
    monkeypatch.setattr(os, "fdatasync", lambda fd: (synced.append(fd), real(fd)))

    async def go() -> list[Position]:
        w = SpoolWriter(tmp_path / "w1")
        out = []
        for i in range(3):
            before = len(synced)
            out.append(await w.append(f"body-{i}".encode(), "c1" if i else None, received_at_ns=i))
            assert len(synced) == before + 1  # acknowledged only after its fsync
        await w.close()
        return out

    positions = asyncio.run(go())
    records, end = read_records(tmp_path / "w1")
    assert [r.body for r in records] == [b"body-0", b"body-1", b"body-2"]
    assert [r.cluster for r in records] == [None, "c1", "c1"]
    assert [r.received_at_ns for r in records] == [0, 1, 2]
    assert [r.position for r in records] == positions
    assert end == records[-1].end
    assert read_records(tmp_path / "w1", end) == ([], end)


def test_concurrent_appends_share_one_fsync(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async def go() -> SpoolWriter:
        w = SpoolWriter(tmp_path / "w")
        await asyncio.gather(*[w.append(f"{i}".encode()) for i in range(50)])
        await w.close()
        return w

    w = asyncio.run(go())
    assert w.fsyncs < 50  # the first waiter's batch, then everything that queued behind it
    assert w.fsyncs <= 2
    records, _ = read_records(tmp_path / "w")
    assert [r.body for r in records] == [f"{i}".encode() for i in range(50)]


def test_a_failed_fsync_fails_every_waiter_of_its_batch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(fd: int) -> None:
        raise OSError(5, "I/O error")

    async def go() -> list[object]:
        w = SpoolWriter(tmp_path / "w")
        monkeypatch.setattr(os, "fdatasync", boom)
        return await asyncio.gather(*[w.append(b"x") for _ in range(5)], return_exceptions=True)

    results = asyncio.run(go())
    assert all(isinstance(r, OSError) for r in results)


def test_consumer_redelivers_everything_after_the_committed_position(tmp_path: Path) -> None:
    root = tmp_path / "spool"

    async def write(n: int, start: int = 0) -> None:
        w = SpoolWriter(root / "w")
        for i in range(start, start + n):
            await w.append(f"{i}".encode())
        await w.close()

    asyncio.run(write(5))
    c = SpoolConsumer(root)
    ((spool, records, end),) = c.poll()
    assert [r.body for r in records] == [b"0", b"1", b"2", b"3", b"4"]
    c.committed(spool, records[1].end)  # the owner stored two, then "crashed"

    restarted = SpoolConsumer(root, {spool: tuple(records[1].end)})  # positions as persisted
    ((_, again, _),) = restarted.poll()
    assert [r.body for r in again] == [b"2", b"3", b"4"]
    restarted.committed(spool, again[-1].end)
    assert restarted.poll() == []
    assert restarted.pending_bytes() == 0


def test_torn_last_record_is_ignored_and_the_next_writer_continues(tmp_path: Path) -> None:
    root = tmp_path / "spool"
    d = root / "w"

    async def write(bodies: list[bytes]) -> None:
        w = SpoolWriter(d)
        for b in bodies:
            await w.append(b)
        await w.close()

    asyncio.run(write([b"a", b"b"]))
    (seg,) = d.glob("*.seg")
    whole = encode_record(b"never acknowledged", None, 0)
    with open(seg, "ab") as f:  # a crash mid-write: half a record
        f.write(whole[: len(whole) // 2])
    records, end = read_records(d)
    assert [r.body for r in records] == [b"a", b"b"]
    assert end.offset == seg.stat().st_size - len(whole) // 2

    corrupt = bytearray(encode_record(b"flipped", None, 0))
    corrupt[-1] ^= 0xFF  # complete length, wrong checksum
    with open(seg, "ab") as f:
        f.write(bytes(corrupt))
    assert [r.body for r in read_records(d)[0]] == [b"a", b"b"]

    asyncio.run(write([b"c"]))  # a new writer on the same directory starts a new segment
    assert len(_segs(d)) == 2
    records, _ = read_records(d)
    assert [r.body for r in records] == [b"a", b"b", b"c"]  # the old segment's torn tail is skipped


def test_segments_roll_and_are_deleted_once_committed(tmp_path: Path) -> None:
    root = tmp_path / "spool"

    async def write() -> None:
        w = SpoolWriter(root / "w", segment_bytes=100)
        for i in range(10):
            await w.append(bytes([65 + i]) * 95)  # a record is over 100 bytes: one per segment
        await w.close()

    asyncio.run(write())
    d = root / "w"
    assert len(_segs(d)) == 10
    c = SpoolConsumer(root)
    got: list[bytes] = []
    while batches := c.poll(max_bytes=150):
        for spool, records, end in batches:
            got.extend(r.body for r in records)
            c.committed(spool, end)
    assert got == [bytes([65 + i]) * 95 for i in range(10)]
    assert len(_segs(d)) == 1  # every segment before the committed position is gone
    assert not writer_alive(d)
    assert c.cleanup() == ["w"] and not d.exists()  # the dead writer's consumed directory goes too


def test_a_live_writers_directory_is_never_removed(tmp_path: Path) -> None:
    async def go() -> None:
        w = SpoolWriter(tmp_path / "w")
        await w.append(b"x")
        assert writer_alive(tmp_path / "w")
        ((_, records, end),) = SpoolConsumer(tmp_path).poll()
        assert not remove_if_done(tmp_path / "w", end)
        with pytest.raises(RuntimeError):
            SpoolWriter(tmp_path / "w")  # one writer per directory
        await w.close()
        assert remove_if_done(tmp_path / "w", end)

    asyncio.run(go())


def test_an_unconsumed_dead_writer_is_kept_until_drained(tmp_path: Path) -> None:
    async def go() -> None:
        w = SpoolWriter(tmp_path / "w")
        await w.append(b"x")
        await w.close()

    asyncio.run(go())
    assert not remove_if_done(tmp_path / "w", START)
    assert (tmp_path / "w").exists()


def test_several_writers_are_consumed_each_in_its_own_order(tmp_path: Path) -> None:
    async def go() -> None:
        a, b = SpoolWriter(tmp_path / "a"), SpoolWriter(tmp_path / "b")
        await asyncio.gather(*[x.append(f"{x.directory.name}{i}".encode()) for i in range(3) for x in (a, b)])
        await a.close()
        await b.close()

    asyncio.run(go())
    batches = SpoolConsumer(tmp_path).poll()
    assert {s: [r.body for r in recs] for s, recs, _ in batches} == {
        "a": [b"a0", b"a1", b"a2"], "b": [b"b0", b"b1", b"b2"]}


# -- what the ingress spools --------------------------------------------------------------------

def _payload(*alerts: dict) -> dict:
    return make_payload(*alerts)


def _good(fp: str = "0123456789abcdef") -> dict:
    return make_alert("KubePodCrashLooping", {"alertname": "KubePodCrashLooping", "namespace": "shop", "pod": "p"},
                      fp=fp, starts="2026-11-22T17:58:23.393Z")


@pytest.mark.parametrize(("body", "field"), [
    ([1, 2], "body"),
    ({**_payload(_good()), "version": "3"}, "version"),
    ({"version": "4"}, "alerts"),
    ({**_payload(_good()), "alerts": "nope"}, "alerts"),
])
def test_an_unusable_envelope_is_a_payload_error_so_never_spooled(body: object, field: str) -> None:
    with pytest.raises(PayloadError) as err:
        screen_payload(body)
    assert err.value.field == field


def test_the_screen_names_rejected_alerts_as_the_parser_does() -> None:
    from engine.alerts import parse_payload

    bad_time = {**_good("1"), "startsAt": "yesterday"}
    no_name = {**_good("2"), "labels": {"namespace": "x"}}
    bad_fp = {**_good(), "fingerprint": "not-hex"}
    body = _payload(_good(), bad_time, no_name, bad_fp, {**_good("3"), "startsAt": "2026-11-22T17:58:23Z"})
    accepted, rejected = screen_payload(body)
    _, good, expected = parse_payload(body)
    assert accepted == len(good) == 2
    assert rejected == expected


def test_priority_lock_lets_first_waiters_ahead_of_ordinary_ones() -> None:
    from engine.spool import PriorityLock

    async def go() -> list[str]:
        lock, order = PriorityLock(), []

        async def ordinary(name: str) -> None:
            async with lock:
                order.append(name)
                await asyncio.sleep(0)

        async def first(name: str) -> None:
            async with lock.first():
                order.append(name)

        await lock.acquire()
        tasks = [asyncio.create_task(ordinary(f"o{i}")) for i in range(3)]
        await asyncio.sleep(0)
        tasks.append(asyncio.create_task(first("f")))
        await asyncio.sleep(0)
        cancelled = asyncio.create_task(ordinary("gone"))
        await asyncio.sleep(0)
        cancelled.cancel()
        lock.release()
        await asyncio.gather(*tasks)
        assert not lock.locked()
        return order

    assert asyncio.run(go()) == ["f", "o0", "o1", "o2"]
