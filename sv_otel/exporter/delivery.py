"""The delivery loop: from a pipeline's durable queue to one exporter, at least once.

For each exporter of each pipeline a :class:`DeliveryLoop` reads the records after its cursor
(up to ``max_batch_events`` events), calls ``exporter.export`` and, once it returned, moves the
cursor past them. With a ``batch_timeout``, a read that got everything queued but fewer events
than ``max_batch_events`` waits up to that long for more (as the Collector's batch processor
does), so a busy gateway sends few large requests rather than one per commit; a backlog and a
draining loop do not wait. Failures are handled the same way for every exporter:

* :class:`~sv_otel.errors.RetryableExportError` (or any unexpected exception): wait as the
  :class:`~sv_otel.exporter.retry.RetryPolicy` says (honouring the destination's ``retry_after``)
  and try again, for ever unless ``max_elapsed_time`` is set; the queue fills meanwhile and the
  receivers answer 503, so an outage loses nothing.
* :class:`~sv_otel.errors.PermanentExportError` (or giving up): write the batch to the dead-letter
  file, count it, and move on.

Records of OTLP log records (:data:`~sv_otel.queue.LOG_RECORDS`) go to an exporter that takes
ready requests (:class:`~sv_otel.components.RequestExporter`) as one request wrapping them, with
no translation; records of sessionvision JSON (:data:`~sv_otel.queue.SESSION_JSON`) go to a
:class:`~sv_otel.components.SessionJsonExporter` merged by session, with no encoding; anything
else is decoded to events for ``exporter.export``. A crash between
the export and the cursor update delivers that batch again (a duplicate, never a loss).
:meth:`DeliveryLoop.stop` with ``drain=True`` keeps exporting until the queue is empty or the
deadline passes; what is left stays queued for the next start.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any

import msgspec

from sv_otel.components import EventExporter, RequestExporter, SessionJsonExporter
from sv_otel.errors import InvalidOTLPError, PermanentExportError, RetryableExportError
from sv_otel.event import Event
from sv_otel.exporter.deadletter import DeadLetterFile
from sv_otel.exporter.retry import RetryPolicy
from sv_otel.queue import DurableQueue, Record, decode_events, is_log_records, is_session_json
from sv_otel.server.metrics import GatewayMetrics
from sv_otel.session_json import SessionJson
from sv_otel.translate import log_records_request

__all__ = ["DeliveryLoop"]

logger = logging.getLogger(__name__)


class _Stopped(Exception):
    """The loop was told to stop while waiting to retry."""


class DeliveryLoop:
    """Moves one pipeline's events from ``queue`` to ``exporter`` (see the module docstring)."""

    def __init__(
        self,
        queue: DurableQueue,
        pipeline: str,
        exporter: EventExporter,
        *,
        policy: RetryPolicy,
        dead_letter: DeadLetterFile,
        metrics: GatewayMetrics,
        max_batch_events: int = 1000,
        max_batch_bytes: int = 4 << 20,
        batch_timeout: float = 0.0,
    ) -> None:
        self.queue = queue
        self.pipeline = pipeline
        self.exporter = exporter
        self.policy = policy
        self.dead_letter = dead_letter
        self.max_batch_events = max_batch_events
        self.max_batch_bytes = max_batch_bytes
        self.batch_timeout = batch_timeout
        self._sent = metrics.sent.labels(exporter.name)
        self._retries = metrics.retries.labels(exporter.name)
        self._dead = metrics.dead_lettered.labels(exporter.name)
        self._stop = asyncio.Event()
        self._draining = False
        self._drain = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._requests = exporter if isinstance(exporter, RequestExporter) else None
        self._session_json = exporter if isinstance(exporter, SessionJsonExporter) else None

    def start(self) -> None:
        """Start delivering in a background task."""
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self, *, drain: bool, timeout: float) -> None:
        """Stop; with ``drain``, first deliver what is queued for up to ``timeout`` seconds."""
        if self._task is None:
            return
        if drain:
            self._draining = True
            self._drain.set()
            try:
                await asyncio.wait_for(asyncio.shield(self._task), timeout)
            except asyncio.TimeoutError:
                logger.warning(
                    "%s/%s: stopping with events still queued (delivered on the next start)",
                    self.pipeline,
                    self.exporter.name,
                )
        self._stop.set()
        if not self._task.done():
            self._task.cancel()
        try:
            await self._task
        except asyncio.CancelledError:
            pass
        except Exception:
            logger.exception("%s/%s: delivery loop failed", self.pipeline, self.exporter.name)

    async def _run(self) -> None:
        consumer = self.exporter.name
        wake = self.queue.subscribe()
        cursor = await self.queue.cursor(self.pipeline, consumer)
        clock = asyncio.get_running_loop().time
        waiting_since: float | None = None
        while not self._stop.is_set():
            wake.clear()
            try:
                records = await self.queue.read_after(
                    self.pipeline,
                    cursor,
                    max_events=self.max_batch_events,
                    max_bytes=self.max_batch_bytes,
                )
            except Exception:
                logger.exception("%s/%s: cannot read the queue", self.pipeline, consumer)
                await _first(self._stop.wait(), timeout=1.0)
                continue
            if not records:
                if self._draining:
                    return
                await _first(wake.wait(), self._stop.wait(), self._drain.wait(), timeout=1.0)
                continue
            if (
                self.batch_timeout
                and not self._draining
                and self.queue.caught_up(self.pipeline, records[-1].id)
                and sum(record.events for record in records) < self.max_batch_events
            ):  # a small batch of everything there is: give it time to grow
                now = clock()
                if waiting_since is None:
                    waiting_since = now
                if now < waiting_since + self.batch_timeout:
                    await _first(
                        self._stop.wait(),
                        self._drain.wait(),
                        timeout=waiting_since + self.batch_timeout - now,
                    )
                    continue
            waiting_since = None
            try:
                await self._deliver_records(records)
            except _Stopped:
                return
            cursor = records[-1].id
            try:
                await self.queue.ack(self.pipeline, consumer, cursor)
            except Exception:  # the next ack covers these records too
                logger.exception("%s/%s: cannot update the queue", self.pipeline, consumer)

    async def _deliver_records(self, records: Sequence[Record]) -> None:
        exporter = self._requests
        if exporter is not None and all(is_log_records(record) for record in records):
            request = log_records_request([record.payload for record in records])
            count = sum(record.events for record in records)
            await self._deliver(
                lambda: exporter.export_request(request, count), count, lambda: _events(records)
            )
            return
        json_exporter = self._session_json
        if json_exporter is not None and all(is_session_json(record) for record in records):
            try:
                batch = SessionJson.of_payloads(record.payload for record in records)
            except msgspec.DecodeError as error:  # damaged: note it, move on
                await self._dead_letter([], f"unreadable queue records: {error}")
                return
            await self._deliver(
                lambda: json_exporter.export_session_json(batch),
                batch.events,
                lambda: _events(records),
            )
            return
        try:
            events = decode_events(records)
        except (msgspec.DecodeError, InvalidOTLPError) as error:  # damaged: note it, move on
            await self._dead_letter([], f"unreadable queue records: {error}")
            return
        await self._deliver(lambda: self.exporter.export(events), len(events), lambda: events)

    async def _deliver(
        self,
        send: Callable[[], Awaitable[None]],
        count: int,
        events: Callable[[], list[Event]],
    ) -> None:
        """Send until it works, the failure is permanent, or the policy gives up."""
        started = time.monotonic()
        attempt = 0
        while True:
            try:
                await send()
            except PermanentExportError as error:
                refused = events() if error.events is None else list(error.events)
                await self._dead_letter(refused, error.message)
                if error.events is not None:  # the destination took the rest
                    self._sent.inc(count - len(refused))
                return
            except Exception as error:
                retry_after = error.retry_after if isinstance(error, RetryableExportError) else None
                message = error.message if isinstance(error, RetryableExportError) else repr(error)
                if not isinstance(error, RetryableExportError):
                    logger.exception("%s: export failed unexpectedly", self.exporter.name)
                if self.policy.gives_up(time.monotonic() - started):
                    await self._dead_letter(events(), f"gave up retrying: {message}")
                    return
                attempt += 1
                self._retries.inc()
                delay = self.policy.delay(attempt, retry_after)
                logger.warning(
                    "%s: export of %d events failed (%s); retry %d in %.1fs",
                    self.exporter.name,
                    count,
                    message,
                    attempt,
                    delay,
                )
                if await _first(self._stop.wait(), timeout=delay):
                    raise _Stopped from None
                continue
            self._sent.inc(count)
            return

    async def _dead_letter(self, events: list[Event], message: str) -> None:
        logger.error(
            "%s: %d events dead-lettered to %s: %s",
            self.exporter.name,
            len(events),
            self.dead_letter.path,
            message,
        )
        await self.dead_letter.write(events, message)
        self._dead.inc(len(events))


def _events(records: Sequence[Record]) -> list[Event]:
    """The events of records being dead-lettered (none if they cannot be read)."""
    try:
        return decode_events(records)
    except (msgspec.DecodeError, InvalidOTLPError):
        logger.exception("queue records being dead-lettered cannot be read")
        return []


async def _first(*waits: Coroutine[Any, Any, object], timeout: float) -> bool:
    """Wait for the first of ``waits`` or ``timeout``; True if one finished."""
    tasks = [asyncio.ensure_future(wait) for wait in waits]
    try:
        done, _ = await asyncio.wait(tasks, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
    return bool(done)
