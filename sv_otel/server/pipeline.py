"""Pipelines: receivers -> processors -> the durable queue (exporters read it on their own).

A receiver gets one :class:`ReceiverSink`, which runs a batch through the processors of every
pipeline the receiver feeds and writes the results into the queue in one transaction, so a
batch is either queued for all its pipelines or for none (and the receiver answers 503). The
events the processors added to a batch that found the queue full (a ``session.start``...) are
not made again when the client sends the batch again, so they are kept for the gateway to queue
with the next poll's events.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

from sv_otel.components import EventProcessor
from sv_otel.errors import QueueFullError
from sv_otel.event import Event
from sv_otel.queue import DurableQueue
from sv_otel.server.config import PipelineConfig

__all__ = ["Pipeline", "ReceiverSink", "now_ms"]

logger = logging.getLogger(__name__)


def now_ms() -> int:
    """The current time in epoch milliseconds."""
    return time.time_ns() // 1_000_000


@dataclass
class Pipeline:
    """One configured pipeline with its processor instances."""

    config: PipelineConfig
    processors: list[EventProcessor]

    @property
    def id(self) -> str:
        """The pipeline id (``logs``, ``traces/2``)."""
        return self.config.id

    def process(self, events: Sequence[Event], now: int, start: int = 0) -> list[Event]:
        """Run ``events`` through the processors from index ``start`` on.

        A processor that raises is logged and skipped (its input passes on unchanged): a bug
        in a processor must not lose accepted events.
        """
        out = list(events)
        for processor in self.processors[start:]:
            try:
                out = processor.process(out, now)
            except Exception:
                logger.exception("%s: processor %s failed", self.id, processor.name)
        return out


class ReceiverSink:
    """The :class:`~sv_otel.components.EventSink` of one receiver."""

    def __init__(
        self,
        pipelines: Sequence[Pipeline],
        queue: DurableQueue,
        pending: dict[str, list[Event]] | None = None,
    ) -> None:
        self.pipelines = tuple(pipelines)
        self.queue = queue
        self.pending = pending
        """Where events added by processors go, by pipeline, when the queue is full."""

    async def submit(self, events: Sequence[Event]) -> None:
        """Process ``events`` for every pipeline and queue the results durably.

        Raises:
            QueueFullError: the queue has no room; nothing was queued.
        """
        await asyncio.shield(self.submit_nowait(events))

    def submit_nowait(self, events: Sequence[Event]) -> asyncio.Future[None]:
        """Like :meth:`submit`, without a coroutine: the future is done once queued durably.

        Raises:
            QueueFullError: the queue has no room; nothing was queued.
        """
        if len(self.pipelines) == 1 and not self.pipelines[0].processors:
            return self.queue.put_nowait({self.pipelines[0].id: events})
        now = now_ms()
        batches = {p.id: p.process(events, now) for p in self.pipelines}
        try:
            future = self.queue.put_nowait(batches)
        except QueueFullError:
            self._keep_added(events, batches)
            raise
        if self.pending is not None:
            future.add_done_callback(functools.partial(self._kept_if_full, events, batches))
        return future

    def _kept_if_full(
        self,
        events: Sequence[Event],
        batches: dict[str, list[Event]],
        future: asyncio.Future[None],
    ) -> None:
        """Keep the processors' events of a commit that failed for want of room."""
        if not future.cancelled() and isinstance(future.exception(), QueueFullError):
            self._keep_added(events, batches)

    def _keep_added(self, events: Sequence[Event], batches: dict[str, list[Event]]) -> None:
        """Keep the events the processors added to ``events`` for the gateway's next poll."""
        if self.pending is None:
            return
        given = {id(event) for event in events}
        for pipeline, out in batches.items():
            added = [event for event in out if id(event) not in given]
            if added:
                self.pending.setdefault(pipeline, []).extend(added)

    def for_signal(self, signal: str) -> ReceiverSink | None:
        """The sink of only this receiver's ``signal`` pipelines (None when it feeds none).

        For receivers whose input has a signal of its own (OTLP logs or traces), which goes to
        the pipelines of that signal only, as in the OpenTelemetry Collector.
        """
        pipelines = [p for p in self.pipelines if p.config.signal == signal]
        return ReceiverSink(pipelines, self.queue, self.pending) if pipelines else None
