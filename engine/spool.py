"""The webhook write-ahead spool: a durable acknowledgement without a hop to the incident manager.

Role: an ingress replica appends each accepted webhook body (with its path cluster and receive
time) to a segment file under ``<data_dir>/spool/<writer-id>/`` and fsyncs before answering 2xx;
the incident manager reads every writer's directory in order, stores and correlates the records
and only then advances its committed position (kept in the history store, in the same transaction
as the alerts, so a record is applied exactly once). No Ray here: plain files and asyncio.

Layout and record format::

    <root>/<writer-id>/LOCK                 flock held by the live writer (a free lock: writer gone)
    <root>/<writer-id>/<index:016d>.seg     segments; a writer only ever appends to its newest one
    record = <u32 payload length> <u32 crc32(payload)> payload
    payload = <u64 received_at_ns> <u16 len(cluster)> cluster (UTF-8, empty: none) body

A record is complete when its length and checksum hold; a torn record (crash mid-write, never
acknowledged) at the end of a segment is ignored. A position ``(segment, offset)`` names the byte
after the last consumed record. Segments roll at ``segment_bytes``; the consumer deletes those
before its committed position, and a dead writer's directory once it is fully consumed.

Group commit: concurrent ``append`` calls of one writer share one ``write`` + ``fdatasync``
(run in a thread, so the event loop keeps accepting requests); every waiter is resolved after it.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import fcntl
import os
import shutil
import struct
import time
import zlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

__all__ = [
    "START",
    "Position",
    "PriorityLock",
    "SpoolConsumer",
    "SpoolRecord",
    "SpoolWriter",
    "encode_record",
    "pending_bytes",
    "prune",
    "read_records",
    "remove_if_done",
    "spool_dirs",
    "writer_alive",
]

_HEADER = struct.Struct("<II")
_META = struct.Struct("<QH")
SEGMENT_SUFFIX = ".seg"
LOCK_FILE = "LOCK"
#: A length past this is garbage (a torn or overwritten header), not a record.
MAX_RECORD_BYTES = 1 << 30


class Position(NamedTuple):
    """The byte after the last consumed record: (segment index, offset in it)."""

    segment: int
    offset: int


START = Position(0, 0)


@dataclass(frozen=True)
class SpoolRecord:
    position: Position  # where the record starts
    end: Position  # where the next one starts
    cluster: str | None
    received_at_ns: int
    body: bytes


def encode_record(body: bytes, cluster: str | None, received_at_ns: int) -> bytes:
    c = (cluster or "").encode()
    payload = _META.pack(received_at_ns, len(c)) + c + body
    return _HEADER.pack(len(payload), zlib.crc32(payload)) + payload


def _segment_name(index: int) -> str:
    return f"{index:016d}{SEGMENT_SUFFIX}"


def _segments(directory: Path) -> list[int]:
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return []
    return sorted(int(n[: -len(SEGMENT_SUFFIX)]) for n in names
                  if n.endswith(SEGMENT_SUFFIX) and n[: -len(SEGMENT_SUFFIX)].isdigit())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class SpoolWriter:
    """One writer's spool directory; ``await append(...)`` returns once the record is on disk."""

    def __init__(self, directory: Path | str, *, segment_bytes: int = 64 * 1024 * 1024, fsync: bool = True) -> None:
        self.directory = Path(directory)
        self.segment_bytes = segment_bytes
        self.fsync = fsync
        fresh = not self.directory.exists()
        self.directory.mkdir(parents=True, exist_ok=True)
        if fresh:  # the directory entry itself must survive a crash before any record is acknowledged
            _fsync_dir(self.directory.parent)
        self._lock_fd = os.open(self.directory / LOCK_FILE, os.O_CREAT | os.O_RDWR, 0o644)
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._lock_fd)
            raise RuntimeError(f"spool {self.directory} is held by another writer") from None
        # never append after a predecessor's (possibly torn) tail: always start a new segment
        existing = _segments(self.directory)
        self._fd = -1
        self.segment = -1
        self.size = 0
        self._open_segment(existing[-1] + 1 if existing else 0)
        self._pending: list[tuple[bytes, asyncio.Future[Position]]] = []
        self._flusher: asyncio.Task[None] | None = None
        self.fsyncs = 0  # how many group commits ran (tests, metrics)
        self.closed = False

    def _open_segment(self, index: int) -> None:
        fd = os.open(self.directory / _segment_name(index), os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_APPEND, 0o644)
        if self.fsync:
            _fsync_dir(self.directory)  # the new file's name is durable before a record in it is acknowledged
        if self._fd >= 0:
            os.close(self._fd)
        self._fd, self.segment, self.size = fd, index, 0

    async def append(self, body: bytes, cluster: str | None = None, received_at_ns: int | None = None) -> Position:
        """Spool one record; returns its start position once it (and its batch) is durable."""
        if self.closed:
            raise RuntimeError("spool writer is closed")
        record = encode_record(body, cluster, time.time_ns() if received_at_ns is None else received_at_ns)
        fut: asyncio.Future[Position] = asyncio.get_running_loop().create_future()
        self._pending.append((record, fut))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_loop())
        return await fut

    async def _flush_loop(self) -> None:
        # one batch at a time: whatever arrives during a write+fsync joins the next batch
        while self._pending:
            batch, self._pending = self._pending, []
            try:
                starts = await asyncio.to_thread(self._write_batch, [r for r, _ in batch])
            except BaseException as exc:  # every waiter learns the ack failed (-> 5xx, Alertmanager retries)
                for _, fut in batch:
                    if not fut.done():
                        fut.set_exception(exc if isinstance(exc, Exception) else RuntimeError(repr(exc)))
                if not isinstance(exc, Exception):
                    raise
                continue
            for (_, fut), pos in zip(batch, starts, strict=True):
                if not fut.done():
                    fut.set_result(pos)

    def _write_batch(self, records: list[bytes]) -> list[Position]:
        if self.size >= self.segment_bytes:
            self._open_segment(self.segment + 1)  # the previous segment was synced with its last batch
        starts, offset = [], self.size
        for r in records:
            starts.append(Position(self.segment, offset))
            offset += len(r)
        data = memoryview(b"".join(records))
        while data:
            n = os.write(self._fd, data)
            data = data[n:]
        self.size = offset
        if self.fsync:
            os.fdatasync(self._fd)
        self.fsyncs += 1
        return starts

    def end(self) -> Position:
        return Position(self.segment, self.size)

    async def close(self) -> None:
        """Flush what is pending, then release the directory (a consumer may remove it once drained)."""
        if self._flusher is not None:
            with contextlib.suppress(Exception):
                await self._flusher
        self.close_now()

    def close_now(self) -> None:
        if self.closed:
            return
        self.closed = True
        os.close(self._fd)
        os.close(self._lock_fd)  # releases the flock


# -- the consumer side -----------------------------------------------------------------------------

def spool_dirs(root: Path | str) -> list[Path]:
    """Every writer directory under the spool root, by name."""
    root = Path(root)
    try:
        return sorted(p for p in root.iterdir() if p.is_dir())
    except FileNotFoundError:
        return []


def _parse(buf: bytes, base: int, segment: int) -> Iterator[SpoolRecord]:
    """Complete, checksummed records at the start of ``buf`` (which starts at offset ``base``)."""
    i, n = 0, len(buf)
    while i + _HEADER.size <= n:
        length, crc = _HEADER.unpack_from(buf, i)
        start, stop = i + _HEADER.size, i + _HEADER.size + length
        if length < _META.size or length > MAX_RECORD_BYTES or stop > n:
            return  # incomplete (still being written) or torn
        payload = buf[start:stop]
        if zlib.crc32(payload) != crc:
            return  # torn: a crash mid-write; never acknowledged
        received, clen = _META.unpack_from(payload, 0)
        cluster = payload[_META.size:_META.size + clen].decode() or None
        body = payload[_META.size + clen:]
        yield SpoolRecord(Position(segment, base + i), Position(segment, base + stop), cluster, received, body)
        i = stop


def read_records(directory: Path | str, start: Position = START, *,
                 max_bytes: int = 8 * 1024 * 1024) -> tuple[list[SpoolRecord], Position]:
    """Records after ``start`` (about ``max_bytes`` of them, at least one), and the position after them.

    Stops at an incomplete or torn record of the newest segment (a live writer may still be
    writing it); an incomplete tail of an older segment is a crashed writer's and is skipped.
    """
    directory = Path(directory)
    segments = [s for s in _segments(directory) if s >= start.segment]
    out: list[SpoolRecord] = []
    pos, budget = start, max_bytes
    for k, seg in enumerate(segments):
        offset = start.offset if seg == start.segment else 0
        pos = Position(seg, offset)
        chunk = max(budget, 1 << 16)
        try:
            with open(directory / _segment_name(seg), "rb") as f:
                f.seek(offset)
                buf = f.read(chunk)
                at_eof = len(buf) < chunk
                got = list(_parse(buf, offset, seg))
                if not got and not at_eof and len(buf) >= _HEADER.size:  # one record bigger than the chunk
                    length, _ = _HEADER.unpack_from(buf, 0)
                    if _META.size <= length <= MAX_RECORD_BYTES:
                        buf += f.read(_HEADER.size + length - len(buf))
                        at_eof = len(buf) < _HEADER.size + length
                        got = list(_parse(buf, offset, seg))
        except FileNotFoundError:  # pruned meanwhile
            continue
        out.extend(got)
        if got:
            pos = got[-1].end
            budget -= pos.offset - offset
        if k == len(segments) - 1 or not at_eof or budget <= 0:
            break  # the newest segment (a live writer's), or the budget is spent
        # an older segment read to its end: what did not parse is a dead writer's torn tail
        pos = Position(segments[k + 1], 0)
    return out, pos


def pending_bytes(directory: Path | str, committed: Position = START) -> int:
    """Bytes spooled after ``committed`` (complete or not): 0 means nothing left to consume."""
    directory = Path(directory)
    total = 0
    for seg in _segments(directory):
        if seg < committed.segment:
            continue
        try:
            size = (directory / _segment_name(seg)).stat().st_size
        except FileNotFoundError:
            continue
        total += max(0, size - (committed.offset if seg == committed.segment else 0))
    return total


def prune(directory: Path | str, committed: Position) -> int:
    """Delete the segments wholly before ``committed``; returns how many went."""
    directory = Path(directory)
    gone = 0
    for seg in _segments(directory):
        if seg >= committed.segment:
            break
        with contextlib.suppress(FileNotFoundError):
            os.unlink(directory / _segment_name(seg))
            gone += 1
    return gone


def writer_alive(directory: Path | str) -> bool:
    """Whether a live writer holds the directory (its flock)."""
    path = Path(directory) / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing drops a lock we may have taken
    return False


def remove_if_done(directory: Path | str, committed: Position) -> bool:
    """Remove a dead writer's directory once nothing complete is left after ``committed``."""
    directory = Path(directory)
    if writer_alive(directory):
        return False
    records, _ = read_records(directory, committed, max_bytes=1)
    if records:
        return False
    shutil.rmtree(directory, ignore_errors=True)
    return True


class SpoolConsumer:
    """Reads every writer directory under a spool root from its committed position, in order.

    The owner stores what ``poll`` returned, persists the new positions (with the data, ideally in
    one transaction) and then calls ``committed``; until it does, ``poll`` hands the same records
    out again (re-delivery after a crash of the owner is the same thing: positions start from what
    was persisted)."""

    def __init__(self, root: Path | str, positions: dict[str, tuple[int, int]] | None = None) -> None:
        self.root = Path(root)
        self.positions: dict[str, Position] = {k: Position(*v) for k, v in (positions or {}).items()}

    def poll(self, max_bytes: int = 4 * 1024 * 1024) -> list[tuple[str, list[SpoolRecord], Position]]:
        """The next records of each directory with some (about ``max_bytes`` in all), with each one's end."""
        out = []
        budget = max_bytes
        for d in spool_dirs(self.root):
            if budget <= 0:
                break
            records, end = read_records(d, self.positions.get(d.name, START), max_bytes=budget)
            if records or end != self.positions.get(d.name, START):
                out.append((d.name, records, end))
                budget -= sum(len(r.body) for r in records)
        return out

    def committed(self, spool: str, position: Position) -> None:
        """The owner has durably stored everything before ``position``: drop the segments before it."""
        self.positions[spool] = position
        prune(self.root / spool, position)

    def cleanup(self) -> list[str]:
        """Remove the directories of dead writers that are fully consumed; their ids (forget their positions)."""
        gone = []
        for d in spool_dirs(self.root):
            if remove_if_done(d, self.positions.get(d.name, START)):
                self.positions.pop(d.name, None)
                gone.append(d.name)
        return gone

    def pending_bytes(self) -> int:
        return sum(pending_bytes(d, self.positions.get(d.name, START)) for d in spool_dirs(self.root))


class PriorityLock:
    """An asyncio lock whose ``first()`` waiters go ahead of the ordinary ones.

    The incident manager's one critical section (correlation + DuckDB writes) is shared by storing
    the spool and by hundreds of concurrent investigations in a storm; with a FIFO lock each stored
    batch would queue behind every investigation's write. ``async with lock`` is an ordinary
    acquisition, ``async with lock.first()`` a priority one."""

    def __init__(self) -> None:
        self._locked = False
        self._waiters: list[collections.deque[asyncio.Future[None]]] = [collections.deque(), collections.deque()]

    def locked(self) -> bool:
        return self._locked

    async def acquire(self, priority: int = 1) -> bool:
        if not self._locked and not any(self._waiters):
            self._locked = True
            return True
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters[priority].append(fut)
        try:
            await fut
        except BaseException:
            if fut.done() and not fut.cancelled():
                self._wake()  # handed the lock while being cancelled: pass it on
            else:
                with contextlib.suppress(ValueError):
                    self._waiters[priority].remove(fut)
            raise
        return True

    def release(self) -> None:
        if not self._locked:
            raise RuntimeError("release of an unlocked PriorityLock")
        self._wake()

    def _wake(self) -> None:
        for queue in self._waiters:
            while queue:
                fut = queue.popleft()
                if not fut.done():
                    fut.set_result(None)  # ownership passes straight to it: _locked stays True
                    return
        self._locked = False

    async def __aenter__(self) -> None:
        await self.acquire()

    async def __aexit__(self, *exc: object) -> None:
        self.release()

    @contextlib.asynccontextmanager
    async def first(self) -> AsyncIterator[None]:
        await self.acquire(priority=0)
        try:
            yield
        finally:
            self.release()
