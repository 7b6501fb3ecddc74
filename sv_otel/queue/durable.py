"""The durable queue: accepted events are on disk before a receiver answers 2xx.

:class:`DurableQueue` wraps one :class:`~sv_otel.queue._store.SqliteStore` file. It writes as its
base class :class:`~sv_otel.queue._commit.GroupCommit` does: group-committed on one dedicated
thread, bounded in bytes (past the bound :meth:`DurableQueue.put` raises
:class:`~sv_otel.errors.QueueFullError`), with the records committed lately held in memory. This
module adds opening the file, reading, acknowledging, checkpoints and closing.

Delivery is at least once: an exporter reads records after its cursor, delivers them, then
acknowledges them (:meth:`DurableQueue.ack`); a crash in between delivers them again.

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
from collections.abc import Iterable, Mapping
from functools import partial
from pathlib import Path

from sv_otel.event import Event
from sv_otel.queue._codec import RecordCodec, decode_events, encode_events
from sv_otel.queue._commit import GroupCommit
from sv_otel.queue._store import Record, SqliteStore

__all__ = ["DurableQueue", "decode_events", "encode_events"]

logger = logging.getLogger(__name__)
_CHECKPOINT_INTERVAL = 0.5


class DurableQueue(GroupCommit):
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
        super().__init__(store, max_bytes, retry_after, max_record_events, codecs)
        self._cursors = store.cursors()
        self._checkpoint_thread = concurrent.futures.ThreadPoolExecutor(
            1, thread_name_prefix="sv-queue-checkpoint"
        )
        self._checkpoints: asyncio.Task[None] | None = None
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
