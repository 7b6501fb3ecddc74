"""Pipelines: receivers -> processors -> the durable queue (exporters read it on their own).

A receiver gets one :class:`ReceiverSink`, which runs a batch through the processors of every
pipeline the receiver feeds and writes the results into the queue in one transaction, so a
batch is either queued for all its pipelines or for none (and the receiver answers 503).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

from sv_otel.components import EventProcessor
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

    def __init__(self, pipelines: Sequence[Pipeline], queue: DurableQueue) -> None:
        self.pipelines = tuple(pipelines)
        self.queue = queue

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
        return self.queue.put_nowait({p.id: p.process(events, now) for p in self.pipelines})
