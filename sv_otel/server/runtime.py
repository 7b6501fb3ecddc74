"""One gateway process: queue, exporters, processors and receivers, started and stopped in order.

Start: open the queue shards, create exporters and their delivery loops, processors, then the
receivers (last, so nothing is accepted before it can be queued). Stop (graceful): mark not
ready, shut the receivers down (requests in flight finish), give processors their ``shutdown``
(if the gateway had started: a failed start ends no session), keep exporting until the queue is
empty or ``shutdown_timeout`` passes, then close everything. What was not exported stays in the
queue for the next start.

With ``workers`` processes, worker ``i`` writes to ``queue/shard-i.db`` and also drains any shard
``k`` with ``k % workers == i`` left by an earlier run with more workers.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from starlette.applications import Starlette
from starlette.routing import BaseRoute

from sv_otel.components import EventExporter, EventProcessor, RequestExporter
from sv_otel.errors import QueueFullError
from sv_otel.event import Event
from sv_otel.exporter.deadletter import DeadLetterFile
from sv_otel.exporter.delivery import DeliveryLoop
from sv_otel.exporter.retry import RetryPolicy
from sv_otel.ingest.cors import CorsPolicy
from sv_otel.queue import LOG_RECORDS, DurableQueue
from sv_otel.server.config import Component, GatewayConfig
from sv_otel.server.health import health_routes
from sv_otel.server.metrics import GatewayMetrics
from sv_otel.server.pipeline import Pipeline, ReceiverSink, now_ms
from sv_otel.server.registry import ComponentContext, HttpRouteProvider, Receiver
from sv_otel.server.sockets import HttpServer, bind_socket

__all__ = ["Gateway"]

logger = logging.getLogger(__name__)

_Produce = Callable[[EventProcessor, int], list[Event]]
_SHARD = re.compile(r"^shard-(\d+)\.db$")
_POLL_INTERVAL = 1.0


@dataclass
class _Export:
    pipeline: str
    exporter: EventExporter
    policy: RetryPolicy
    max_batch_events: int | None = None


class Gateway:
    """Runs one worker's share of a :class:`~sv_otel.server.config.GatewayConfig`."""

    def __init__(
        self,
        config: GatewayConfig,
        *,
        worker: int = 0,
        workers: int = 1,
        metrics: GatewayMetrics | None = None,
    ) -> None:
        self.config = config
        self.worker = worker
        self.workers = workers
        self.metrics = metrics or GatewayMetrics()
        self.status = "starting"
        self.queue: DurableQueue | None = None
        self.receivers: dict[str, Receiver] = {}
        self.pipelines: dict[str, Pipeline] = {}
        self._shards: list[DurableQueue] = []
        self._exports: list[_Export] = []
        self._loops: list[DeliveryLoop] = []
        self._poll_task: asyncio.Task[None] | None = None
        self._pending_polled: dict[str, list[Event]] = {}
        self._telemetry: HttpServer | None = None

    @property
    def telemetry_port(self) -> int | None:
        """The port of ``service.telemetry.address`` once started (None when not configured)."""
        return self._telemetry.port if self._telemetry is not None else None

    async def start(self) -> None:
        """Open the queue, start exporters, processors and receivers (in that order).

        A logs pipeline whose exporters all send ready requests queues OTLP log records
        (:data:`~sv_otel.queue.LOG_RECORDS`): its events are translated once, on the way in.
        """
        service = self.config.service
        data_dir = service.data_dir
        data_dir.mkdir(parents=True, exist_ok=True)
        consumers = [
            (pipeline.id, exporter_id)
            for pipeline in self.config.pipelines.values()
            for exporter_id in pipeline.exporters
        ]
        share = max(1, service.queue_max_bytes // self.workers)
        self._create_exporters()
        codecs = {
            pipeline.id: LOG_RECORDS
            for pipeline in self.config.pipelines.values()
            if pipeline.signal == "logs"
            and all(
                isinstance(export.exporter, RequestExporter)
                for export in self._exports
                if export.pipeline == pipeline.id
            )
        }
        for shard in self._owned_shards():
            queue = await DurableQueue.open(
                data_dir / "queue" / f"shard-{shard}.db",
                max_bytes=share,
                consumers=consumers,
                synchronous=service.queue_synchronous,
                retry_after=service.queue_retry_after,
                max_record_events=service.max_batch_events,
                codecs=codecs,
            )
            self._shards.append(queue)
            for pipeline, events in queue.removed.items():
                logger.warning(
                    "%d queued events of pipeline %s, which is no longer configured, moved to "
                    "the dead-letter directory",
                    len(events),
                    pipeline,
                )
                await DeadLetterFile(data_dir / "deadletter", pipeline, "unconfigured").write(
                    events, f"pipeline {pipeline} is no longer configured"
                )
            if shard == self.worker:
                self.queue = queue
        assert self.queue is not None
        for queue in self._shards:
            for export in self._exports:
                loop = DeliveryLoop(
                    queue,
                    export.pipeline,
                    export.exporter,
                    policy=export.policy,
                    dead_letter=DeadLetterFile(
                        data_dir / "deadletter", export.pipeline, export.exporter.name
                    ),
                    metrics=self.metrics,
                    max_batch_events=export.max_batch_events or service.max_batch_events,
                    batch_timeout=service.batch_timeout,
                )
                loop.start()
                self._loops.append(loop)
        self._create_pipelines()
        routes = health_routes(self._state, self.metrics, self.refresh_gauges)
        if service.telemetry_address is not None:
            host, port = service.telemetry_address
            sock = bind_socket(host, port, reuse_port=self.workers > 1)
            self._telemetry = HttpServer(Starlette(routes=list(routes)), sock)
            await self._telemetry.start()
            routes = ()
        await self._start_receivers(routes)
        self._poll_task = asyncio.get_running_loop().create_task(self._poll_processors())
        self.status = "ready"

    async def stop(self) -> None:
        """Graceful stop (see the module docstring)."""
        started = self.status == "ready"
        self.status = "stopping"
        for receiver in self.receivers.values():
            try:
                await receiver.shutdown()
            except Exception:
                logger.exception("%s: shutdown failed", receiver.name)
        if self._poll_task is not None:
            self._poll_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poll_task
        if started:
            await self._shutdown_processors()
        timeout = self.config.service.shutdown_timeout
        await asyncio.gather(*(loop.stop(drain=True, timeout=timeout) for loop in self._loops))
        for export in self._exports:
            try:
                await export.exporter.shutdown()
            except Exception:
                logger.exception("%s: shutdown failed", export.exporter.name)
        if self._telemetry is not None:
            await self._telemetry.shutdown()
        for queue in self._shards:
            await queue.close()
        self.status = "stopped"

    def refresh_gauges(self) -> None:
        """Copy the queue sizes into the gauges (called before each scrape)."""
        totals: dict[str, tuple[int, int]] = {}
        for queue in self._shards:
            for pipeline, size in queue.queued_pipeline_bytes.items():
                events = queue.queued_events.get(pipeline, 0)
                old = totals.get(pipeline, (0, 0))
                totals[pipeline] = (old[0] + size, old[1] + events)
        for pipeline in self.config.pipelines:
            size, events = totals.get(pipeline, (0, 0))
            self.metrics.queue_bytes.labels(pipeline).set(size)
            self.metrics.queue_events.labels(pipeline).set(events)

    def _state(self) -> tuple[str, dict[str, object]]:
        details: dict[str, object] = {"worker": self.worker}
        if self.queue is not None:
            details["queue_bytes"] = self.queue.queued_bytes
            details["queue_max_bytes"] = self.queue.max_bytes
            if self.status == "ready" and self.queue.queued_bytes >= self.queue.max_bytes:
                return "queue_full", details
        return self.status, details

    def _owned_shards(self) -> list[int]:
        owned = {self.worker}
        directory = self.config.service.data_dir / "queue"
        if directory.is_dir():
            for path in directory.iterdir():
                match = _SHARD.match(path.name)
                if match and int(match.group(1)) % self.workers == self.worker:
                    owned.add(int(match.group(1)))
        return sorted(owned)

    def _context(self, name: str, pipeline: str | None = None) -> ComponentContext:
        signal = self.config.pipelines[pipeline].signal if pipeline else None
        return ComponentContext(
            name=name,
            data_dir=self.config.service.data_dir,
            metrics=self.metrics,
            signal=signal,
            pipeline=pipeline,
            worker=self.worker,
            workers=self.workers,
        )

    def _create_exporters(self) -> None:
        for pipeline in self.config.pipelines.values():
            for exporter_id in pipeline.exporters:
                component = self.config.exporters[exporter_id]
                exporter = component.type.create(
                    component.settings, self._context(exporter_id, pipeline.id)
                )
                policy = getattr(component.settings, "retry", None)
                if not isinstance(policy, RetryPolicy):
                    policy = RetryPolicy()
                # An exporter's settings may ask for batches of their own size.
                batch = getattr(component.settings, "max_batch_events", None)
                batch = batch if isinstance(batch, int) else None
                self._exports.append(_Export(pipeline.id, exporter, policy, batch))

    def _create_pipelines(self) -> None:
        for pipeline in self.config.pipelines.values():
            processors = []
            for processor_id in pipeline.processors:
                component = self.config.processors[processor_id]
                processors.append(
                    component.type.create(
                        component.settings, self._context(processor_id, pipeline.id)
                    )
                )
            self.pipelines[pipeline.id] = Pipeline(pipeline, processors)

    async def _start_receivers(self, routes: Sequence[BaseRoute]) -> None:
        assert self.queue is not None
        extra = tuple(routes)
        for receiver_id, component in self.config.receivers.items():
            feeds = [
                self.pipelines[p.id]
                for p in self.config.pipelines.values()
                if receiver_id in p.receivers
            ]
            if not feeds:
                continue
            sink = ReceiverSink(feeds, self.queue, self._pending_polled)
            context = self._context(receiver_id)
            if component.type.http_served(component.settings):
                served = (*extra, *_processor_routes(component, feeds, sink))
                if served:
                    context = dataclasses.replace(context, extra_routes=served)
                extra = ()
            receiver = component.type.create(component.settings, context)
            await receiver.start(sink)
            self.receivers[receiver_id] = receiver

    async def _poll_processors(self) -> None:
        while True:
            await asyncio.sleep(_POLL_INTERVAL)
            try:
                await self._collect(lambda processor, now: processor.poll(now))
            except Exception:
                logger.exception("processor poll failed")

    async def _shutdown_processors(self) -> None:
        try:
            await self._collect(lambda processor, now: processor.shutdown(now))
        except Exception:
            logger.exception("processor shutdown failed")
        if any(self._pending_polled.values()):
            lost = sum(len(events) for events in self._pending_polled.values())
            logger.error("%d processor events could not be queued at shutdown", lost)

    async def _collect(self, produce: _Produce) -> None:
        """Queue what each processor produces, run through the processors after it."""
        assert self.queue is not None
        now = now_ms()
        for pipeline in self.pipelines.values():
            for index, processor in enumerate(pipeline.processors):
                try:
                    produced = produce(processor, now)
                except Exception:
                    logger.exception("%s: processor %s failed", pipeline.id, processor.name)
                    continue
                if produced:
                    rest = pipeline.process(produced, now, start=index + 1)
                    self._pending_polled.setdefault(pipeline.id, []).extend(rest)
        batches = {p: events for p, events in self._pending_polled.items() if events}
        if not batches:
            return
        self._pending_polled.clear()  # the same dict: receiver sinks add to it too
        try:
            await self.queue.put(batches)
        except BaseException as exc:
            for pipeline_id, events in batches.items():  # kept, ahead of what came meanwhile
                pending = self._pending_polled
                pending[pipeline_id] = events + pending.get(pipeline_id, [])
            if not isinstance(exc, QueueFullError):
                raise
            logger.warning("queue full: processor events kept for the next poll")


_BODY_TIMEOUT: Final = 10.0
"""Seconds a body may take on a processor's route when its receiver does not say."""


def _processor_routes(
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
        body_timeout = _BODY_TIMEOUT
    routes: list[BaseRoute] = []
    for pipeline in feeds:
        for processor in pipeline.processors:
            if isinstance(processor, HttpRouteProvider):
                routes.extend(processor.http_routes(sink.submit, cors, body_timeout))
    return tuple(routes)
