"""Group commit: how the durable queue writes, bounded in bytes.

:class:`GroupCommit` is the write half of :class:`~sv_otel.queue.durable.DurableQueue` (its base
class; the queue adds opening, reading, acknowledging and closing). Every sqlite call runs on one
dedicated thread, so the event loop never blocks on disk. Writes are *group-committed*: the
batches submitted while a commit is in progress are written together by the next one, so
concurrent requests share one fsync. The queue is bounded in bytes (the encoded size of the
queued events); past the bound :meth:`GroupCommit.put` raises
:class:`~sv_otel.errors.QueueFullError`, which receivers answer with 503 + ``Retry-After``.

What one commit carries for a pipeline becomes one record (at most ``max_record_events``
events), and the records committed lately stay in memory
(:class:`~sv_otel.queue._tail.RecentRecords`) until every consumer acknowledged them, so the
exporters read them without going back to the file.

:meth:`GroupCommit.put_nowait` is on the path of every request: being a method of the queue
itself, not of a member object, it costs no extra call.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar

from sv_otel.errors import QueueFullError
from sv_otel.event import Event
from sv_otel.queue._codec import EVENTS, RecordCodec
from sv_otel.queue._store import Record, SqliteStore
from sv_otel.queue._tail import RecentRecords

__all__ = ["GroupCommit"]

logger = logging.getLogger(__name__)
_T = TypeVar("_T")
_MAX_RECORD_BYTES = 4 << 20
_RECENT_BYTES = 16 << 20


class GroupCommit:
    """The write half of a durable queue over one :class:`~sv_otel.queue._store.SqliteStore`.

    It holds what a commit changes: the records held in memory, the newest record id of each
    pipeline, the queue's sizes (:attr:`queued_bytes`, :attr:`queued_events`,
    :attr:`queued_pipeline_bytes`) and the subscribers told of new records.
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
        self._newest: dict[str, int] = {}
        self._thread = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="sv-queue")
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
        self.path = store.path

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

    async def _run(self, function: Callable[..., _T], *args: object) -> _T:
        """Run ``function(*args)`` on the thread of the sqlite calls (the queue's too)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._thread, function, *args)
