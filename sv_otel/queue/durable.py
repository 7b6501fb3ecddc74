"""The durable queue: accepted events are on disk before a receiver answers 2xx.

:class:`DurableQueue` wraps one :class:`~sv_otel.queue._store.SqliteStore` file. Every sqlite
call runs on one dedicated thread, so the event loop never blocks on disk. Writes are
*group-committed*: the batches submitted while a commit is in progress are written together by
the next one, so concurrent requests share one fsync. The queue is bounded in bytes (the msgpack
size of the queued events); past the bound :meth:`DurableQueue.put` raises
:class:`~sv_otel.errors.QueueFullError`, which receivers answer with 503 + ``Retry-After``.

Delivery is at least once: an exporter reads records after its cursor, delivers them, then
acknowledges them (:meth:`DurableQueue.ack`); a crash in between delivers them again.

What one commit carries for a pipeline becomes one record (at most ``max_record_events``
events), and the records committed lately stay in memory
(:class:`~sv_otel.queue._tail.RecentRecords`) until every consumer acknowledged them, so the
exporters read them without going back to the file.

Example::

    queue = await DurableQueue.open(path, max_bytes=256 << 20, consumers=[("logs", "otlp")])
    await queue.put({"logs": events})  # durable when this returns
    records = await queue.read("logs", "otlp", max_events=1000)
    await queue.ack("logs", "otlp", records[-1].id)
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import TypeVar

from sv_otel.errors import QueueFullError
from sv_otel.event import Event
from sv_otel.queue._codec import EVENTS, RecordCodec, decode_events, encode_events
from sv_otel.queue._store import Record, SqliteStore
from sv_otel.queue._tail import RecentRecords

__all__ = ["DurableQueue", "decode_events", "encode_events"]

logger = logging.getLogger(__name__)
_T = TypeVar("_T")
_CHECKPOINT_INTERVAL = 0.5
_MAX_RECORD_BYTES = 4 << 20
_RECENT_BYTES = 16 << 20


class DurableQueue:
    """A bounded, durable, multi-consumer queue of event batches in one sqlite file.

    Create it with :meth:`open`. ``retry_after`` is the hint (seconds) carried by the
    :class:`~sv_otel.errors.QueueFullError` raised when the queue is full.
    """

    def __init__(
        self,
        store: SqliteStore,
        max_bytes: int,
        retry_after: float,
        max_record_events: int = 1000,
        codecs: Mapping[str, RecordCodec] | None = None,
    ) -> None:
        self._store = store
        self._codecs = dict(codecs or {})
        self.max_bytes = max_bytes
        self.retry_after = retry_after
        self.max_record_events = max_record_events
        self._recent = RecentRecords(store.last_id(), _RECENT_BYTES)
        self._cursors = store.cursors()
        self._newest: dict[str, int] = {}
        self._thread = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="sv-queue")
        self._checkpoint_thread = concurrent.futures.ThreadPoolExecutor(
            1, thread_name_prefix="sv-queue-checkpoint"
        )
        self._pending: dict[str, list[tuple[int, bytes]]] = {}
        self._pending_bytes = 0
        self._group: asyncio.Future[None] | None = None
        self._flusher: asyncio.Task[None] | None = None
        self._flushing = False
        self._reserved = 0
        self.queued_bytes = 0
        self.queued_events: dict[str, int] = {}
        self.queued_pipeline_bytes: dict[str, int] = {}
        self._subscribers: list[asyncio.Event] = []
        self._checkpoints: asyncio.Task[None] | None = None
        self.path = store.path
        self.removed: dict[str, list[Event]] = {}
        """Events of pipelines no longer configured, taken out of the file by :meth:`open`."""

    @classmethod
    async def open(
        cls,
        path: Path,
        *,
        max_bytes: int,
        consumers: Iterable[tuple[str, str]],
        synchronous: str = "FULL",
        retry_after: float = 1.0,
        max_record_events: int = 1000,
        codecs: Mapping[str, RecordCodec] | None = None,
    ) -> DurableQueue:
        """Open (or create) the queue file at ``path`` for the given ``(pipeline, consumer)``.

        Events still queued for a pipeline that is not among ``consumers`` any more are taken
        out of the file into :attr:`removed`, for the caller to keep (never dropped silently).
        Batches committed together are joined into records of up to ``max_record_events``
        events (a larger batch stays one record). ``codecs`` chooses how a pipeline's events
        are written (:mod:`sv_otel.queue._codec`; default msgpack).
        """
        wanted = list(consumers)

        def setup() -> tuple[SqliteStore, list[tuple[str, Record]]]:
            store = SqliteStore(path, synchronous=synchronous)
            return store, store.register(wanted)

        store, removed = await asyncio.to_thread(setup)
        queue = cls(store, max_bytes, retry_after, max_record_events, codecs)
        for pipeline, record in removed:
            queue.removed.setdefault(pipeline, []).extend(decode_events([record]))
        await queue._refresh_totals()
        queue._checkpoints = asyncio.get_running_loop().create_task(queue._checkpoint_loop())
        return queue

    async def _checkpoint_loop(self) -> None:
        while True:
            await asyncio.sleep(_CHECKPOINT_INTERVAL)
            loop = asyncio.get_running_loop()
            try:
                await loop.run_in_executor(self._checkpoint_thread, self._store.checkpoint)
            except sqlite3.Error as error:
                logger.warning("queue: checkpoint of %s failed: %s", self.path, error)

    async def put(self, batches: Mapping[str, Sequence[Event]]) -> None:
        """Append ``{pipeline: events}`` durably and atomically; return once committed.

        Cancelling the caller does not cancel the commit (other requests share it).

        Raises:
            QueueFullError: the queue is over ``max_bytes``; nothing was written.
        """
        await asyncio.shield(self.put_nowait(batches))

    def put_nowait(self, batches: Mapping[str, Sequence[Event]]) -> asyncio.Future[None]:
        """Like :meth:`put`, without a coroutine: the future is done once the rows committed.

        Every row submitted while a commit is running joins the next commit, and they all get
        the same future, so a callback on it is the cheapest way to answer a request.

        Raises:
            QueueFullError: the queue is over ``max_bytes``; nothing was written.
        """
        codecs = self._codecs
        rows = [
            (p, len(events), codecs.get(p, EVENTS).encode(events))
            for p, events in batches.items()
            if events
        ]
        loop = asyncio.get_running_loop()
        if not rows:
            done: asyncio.Future[None] = loop.create_future()
            done.set_result(None)
            return done
        size = 0
        for row in rows:
            size += len(row[2])
        if self.queued_bytes + self._reserved + size > self.max_bytes:
            raise QueueFullError(
                f"queue: full ({self.queued_bytes + self._reserved} of {self.max_bytes} bytes "
                "waiting for export); retry later",
                retry_after=self.retry_after,
            )
        self._reserved += size
        pending = self._pending
        for pipeline, count, payload in rows:
            batches_of = pending.get(pipeline)
            if batches_of is None:
                pending[pipeline] = [(count, payload)]
            else:
                batches_of.append((count, payload))
        self._pending_bytes += size
        group = self._group
        if group is None:
            group = self._group = loop.create_future()
        if not self._flushing:
            self._flushing = True
            self._flusher = loop.create_task(self._flush())
        return group

    async def _flush(self) -> None:
        """Commit everything pending, again and again until nothing is left."""
        try:
            while self._pending:
                pending, group, size = self._pending, self._group, self._pending_bytes
                self._pending, self._group, self._pending_bytes = {}, None, 0
                assert group is not None
                rows = self._records(pending)
                try:
                    ids = await self._run(self._store.append, rows)
                except BaseException as exc:  # the requests must hear about it, not hang
                    self._reserved -= size
                    failure: BaseException = exc
                    if isinstance(exc, sqlite3.Error):  # e.g. disk full: the client retries
                        logger.error("queue: cannot write to %s: %s", self.path, exc)
                        failure = QueueFullError(
                            f"queue: cannot write ({exc}); retry later",
                            retry_after=self.retry_after,
                        )
                    if not group.done():
                        group.set_exception(failure)
                    if not isinstance(exc, Exception):
                        raise
                    continue
                self._reserved -= size
                for (pipeline, count, payload), record_id in zip(rows, ids, strict=True):
                    self._recent.add(pipeline, Record(record_id, count, payload))
                    self._newest[pipeline] = record_id
                self._count(rows)
                if not group.done():
                    group.set_result(None)
        finally:
            self._flushing = False

    def _records(self, pending: dict[str, list[tuple[int, bytes]]]) -> list[tuple[str, int, bytes]]:
        """The rows of one commit: each pipeline's batches joined into as few records as fit."""
        rows: list[tuple[str, int, bytes]] = []
        for pipeline, batches in pending.items():
            join = self._codecs.get(pipeline, EVENTS).join
            payloads: list[bytes] = []
            events = size = 0
            for count, payload in batches:
                if payloads and (
                    events + count > self.max_record_events
                    or size + len(payload) > _MAX_RECORD_BYTES
                ):
                    rows.append((pipeline, events, join(payloads, events)))
                    payloads, events, size = [], 0, 0
                payloads.append(payload)
                events += count
                size += len(payload)
            rows.append((pipeline, events, join(payloads, events)))
        return rows

    def _count(self, rows: list[tuple[str, int, bytes]]) -> None:
        for pipeline, count, payload in rows:
            self.queued_bytes += len(payload)
            self.queued_events[pipeline] = self.queued_events.get(pipeline, 0) + count
            self.queued_pipeline_bytes[pipeline] = self.queued_pipeline_bytes.get(
                pipeline, 0
            ) + len(payload)
        for subscriber in self._subscribers:
            subscriber.set()

    def subscribe(self) -> asyncio.Event:
        """An event set whenever records are appended (clear it before reading, then wait)."""
        event = asyncio.Event()
        event.set()
        self._subscribers.append(event)
        return event

    async def read(
        self, pipeline: str, consumer: str, *, max_events: int, max_bytes: int = 8 << 20
    ) -> list[Record]:
        """The next records for ``consumer`` after its cursor (empty if none)."""
        after = await self._run(self._store.cursor, pipeline, consumer)
        return await self.read_after(pipeline, after, max_events=max_events, max_bytes=max_bytes)

    async def read_after(
        self, pipeline: str, after: int, *, max_events: int, max_bytes: int = 8 << 20
    ) -> list[Record]:
        """The records of ``pipeline`` after id ``after`` (for a consumer tracking its own)."""
        recent = self._recent.read(pipeline, after, max_events, max_bytes)
        if recent is not None:
            return recent
        return await self._run(self._store.read, pipeline, after, max_events, max_bytes)

    def caught_up(self, pipeline: str, after: int) -> bool:
        """Whether a reader at id ``after`` has every record of ``pipeline`` committed so far
        (False while the queue has not committed one since it was opened: it cannot tell)."""
        newest = self._newest.get(pipeline)
        return newest is not None and after >= newest

    async def cursor(self, pipeline: str, consumer: str) -> int:
        """The id of the last record ``consumer`` acknowledged."""
        return await self._run(self._store.cursor, pipeline, consumer)

    async def ack(self, pipeline: str, consumer: str, upto: int) -> None:
        """Mark records up to ``upto`` delivered by ``consumer``; free fully delivered ones.

        The queue's sizes drop at once when the freed records were held in memory.
        """
        cursors = self._cursors.get(pipeline, {})
        if consumer not in cursors:
            return  # not a registered consumer: nothing to record
        since = min(cursors.values())
        cursors[consumer] = max(cursors[consumer], upto)
        done = min(cursors.values())
        freed = self._recent.release(pipeline, done, since) if done > since else (0, 0)
        if freed is not None:
            self._free(pipeline, *freed)
        size, events = await self._run(
            partial(self._store.ack, measure=freed is None), pipeline, consumer, upto, done
        )
        if freed is None:
            self._free(pipeline, size, events)

    def _free(self, pipeline: str, size: int, events: int) -> None:
        if size:
            self.queued_bytes -= size
            self.queued_pipeline_bytes[pipeline] = (
                self.queued_pipeline_bytes.get(pipeline, 0) - size
            )
            self.queued_events[pipeline] = self.queued_events.get(pipeline, 0) - events

    async def close(self) -> None:
        """Finish pending commits and close the file."""
        if self._checkpoints is not None:
            self._checkpoints.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._checkpoints
        # A checkpoint may still run on its thread: let it finish before the file is closed.
        await asyncio.to_thread(self._checkpoint_thread.shutdown, wait=True)
        while self._flushing:
            await asyncio.sleep(0.01)
        await self._run(self._store.close)
        self._thread.shutdown(wait=True)

    async def _refresh_totals(self) -> None:
        totals = await self._run(self._store.totals)
        self.queued_bytes = sum(size for size, _ in totals.values())
        self.queued_events = {pipeline: events for pipeline, (_, events) in totals.items()}
        self.queued_pipeline_bytes = {pipeline: size for pipeline, (size, _) in totals.items()}

    async def _run(self, function: Callable[..., _T], *args: object) -> _T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._thread, function, *args)
