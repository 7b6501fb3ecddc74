"""The processors' own output: what they produce on a timer and at shutdown, and their routes.

Processors (such as ``sessions``) produce events of their own, not only in answer to a batch:
on each poll (a session times out) and at shutdown (every open session ends). A
:class:`ProcessorOutput` collects that output once a second, runs it through the processors
after the one that produced it, and queues it. What the queue refuses (it is full) is kept, in
the same dict the receivers' sinks add their refused processor output to, and queued ahead of
newer output on the next poll.

:func:`processor_routes` gives the HTTP routes that processors serve (a session start endpoint)
on a receiver that faces browsers.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Final

from starlette.routing import BaseRoute

from sv_otel.components import EventProcessor
from sv_otel.errors import QueueFullError
from sv_otel.event import Event
from sv_otel.ingest.cors import CorsPolicy
from sv_otel.queue import DurableQueue
from sv_otel.server.config import Component
from sv_otel.server.deadline import DEFAULT_BODY_TIMEOUT
from sv_otel.server.pipeline import Pipeline, ReceiverSink, now_ms
from sv_otel.server.registry import HttpRouteProvider

__all__ = ["POLL_INTERVAL", "ProcessorOutput", "processor_routes"]

logger = logging.getLogger(__name__)

Produce = Callable[[EventProcessor, int], list[Event]]
"""Asks one processor for its output at a time (epoch ms): its ``poll`` or its ``shutdown``."""

POLL_INTERVAL: Final = 1.0
"""Seconds between two polls of the processors."""


class ProcessorOutput:
    """Collects and queues the output of the processors of ``pipelines``.

    Args:
        pipelines: the gateway's pipelines, by id.
        queue: the worker's queue.
        pending: processor output waiting for room in the queue, by pipeline; shared with the
            receivers' sinks, which add to it.
    """

    def __init__(
        self,
        pipelines: Mapping[str, Pipeline],
        queue: DurableQueue,
        pending: dict[str, list[Event]],
    ) -> None:
        self._pipelines = pipelines
        self._queue = queue
        self._pending = pending

    async def poll_forever(self) -> None:
        """Poll every :data:`POLL_INTERVAL` seconds until cancelled; a failed poll is logged."""
        while True:
            await asyncio.sleep(POLL_INTERVAL)
            try:
                await self.collect(lambda processor, now: processor.poll(now))
            except Exception:
                logger.exception("processor poll failed")

    async def shutdown(self) -> None:
        """Queue the processors' ``shutdown`` output; log what could not be queued."""
        try:
            await self.collect(lambda processor, now: processor.shutdown(now))
        except Exception:
            logger.exception("processor shutdown failed")
        if any(self._pending.values()):
            lost = sum(len(events) for events in self._pending.values())
            logger.error("%d processor events could not be queued at shutdown", lost)

    async def collect(self, produce: Produce) -> None:
        """Queue what each processor produces, run through the processors after it."""
        now = now_ms()
        for pipeline in self._pipelines.values():
            for index, processor in enumerate(pipeline.processors):
                try:
                    produced = produce(processor, now)
                except Exception:
                    logger.exception("%s: processor %s failed", pipeline.id, processor.name)
                    continue
                if produced:
                    rest = pipeline.process(produced, now, start=index + 1)
                    self._pending.setdefault(pipeline.id, []).extend(rest)
        batches = {p: events for p, events in self._pending.items() if events}
        if not batches:
            return
        self._pending.clear()  # the same dict: receiver sinks add to it too
        try:
            await self._queue.put(batches)
        except BaseException as exc:
            for pipeline_id, events in batches.items():  # kept, ahead of what came meanwhile
                pending = self._pending
                pending[pipeline_id] = events + pending.get(pipeline_id, [])
            if not isinstance(exc, QueueFullError):
                raise
            logger.warning("queue full: processor events kept for the next poll")


def processor_routes(
    receiver: Component, feeds: Sequence[Pipeline], sink: ReceiverSink
) -> tuple[BaseRoute, ...]:
    """The routes the processors of ``feeds`` serve on ``receiver``, if it faces browsers.

    A receiver faces browsers when its settings carry a CORS policy (``settings.cors``); the
    routes submit through its ``sink``, answer with its policy and wait for a request body as
    long as it does (``settings.body_timeout``).
    """
    cors = getattr(receiver.settings, "cors", None)
    if not isinstance(cors, CorsPolicy):
        return ()
    body_timeout = getattr(receiver.settings, "body_timeout", None)
    if not isinstance(body_timeout, (int, float)):
        body_timeout = DEFAULT_BODY_TIMEOUT  # the receiver does not say
    routes: list[BaseRoute] = []
    for pipeline in feeds:
        for processor in pipeline.processors:
            if isinstance(processor, HttpRouteProvider):
                routes.extend(processor.http_routes(sink.submit, cors, body_timeout))
    return tuple(routes)
