"""One gateway process: queue, exporters, processors and receivers, started and stopped in order.

Start: open the queue shards, create exporters and their delivery loops, processors, then the
receivers (last, so nothing is accepted before it can be queued). Stop (graceful): mark not
ready, shut the receivers down (requests in flight finish), give processors their ``shutdown``
(if the gateway had started: a failed start ends no session), keep exporting until the queue is
empty or ``shutdown_timeout`` passes, then close everything. What was not exported stays in the
queue for the next start.

The parts it starts live beside it: the queue shards a worker owns in
:mod:`sv_otel.server.shards`, the processors' timed and shutdown output and their routes in
:mod:`sv_otel.server.processing`, the per-receiver sink in :mod:`sv_otel.server.pipeline`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.routing import BaseRoute

from sv_otel.components import EventExporter, RequestExporter, SessionJsonExporter
from sv_otel.event import Event
from sv_otel.exporter.deadletter import DeadLetterFile
from sv_otel.exporter.delivery import DeliveryLoop
from sv_otel.exporter.retry import RetryPolicy
from sv_otel.queue import LOG_RECORDS, SESSION_JSON, DurableQueue, RecordCodec
from sv_otel.server.config import GatewayConfig
from sv_otel.server.health import health_routes
from sv_otel.server.metrics import GatewayMetrics
from sv_otel.server.pipeline import Pipeline, ReceiverSink
from sv_otel.server.processing import ProcessorOutput, processor_routes
from sv_otel.server.registry import ComponentContext, Receiver
from sv_otel.server.shards import open_shard, owned_shards
from sv_otel.server.sockets import HttpServer, bind_socket

__all__ = ["Gateway"]

logger = logging.getLogger(__name__)


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
        self._output: ProcessorOutput | None = None

    @property
    def telemetry_port(self) -> int | None:
        """The port of ``service.telemetry.address`` once started (None when not configured)."""
        return self._telemetry.port if self._telemetry is not None else None

    async def start(self) -> None:
        """Open the queue, start exporters, processors and receivers (in that order).

        A logs pipeline whose exporters all send ready requests queues OTLP log records
        (:data:`~sv_otel.queue.LOG_RECORDS`): its events are translated once, on the way in. A
        pipeline whose exporters are all sessionvision ones queues sessionvision JSON by session
        (:data:`~sv_otel.queue.SESSION_JSON`): encoded once, on the way in.
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
        codecs: dict[str, RecordCodec] = {}
        for pipeline in self.config.pipelines.values():
            exporters = [e.exporter for e in self._exports if e.pipeline == pipeline.id]
            if pipeline.signal == "logs" and all(isinstance(e, RequestExporter) for e in exporters):
                codecs[pipeline.id] = LOG_RECORDS
            elif exporters and all(isinstance(e, SessionJsonExporter) for e in exporters):
                codecs[pipeline.id] = SESSION_JSON
        for shard in owned_shards(data_dir, self.worker, self.workers):
            queue = await open_shard(
                service, shard, max_bytes=share, consumers=consumers, codecs=codecs
            )
            self._shards.append(queue)
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
        self._output = ProcessorOutput(self.pipelines, self.queue, self._pending_polled)
        routes = health_routes(self._state, self.metrics, self.refresh_gauges)
        if service.telemetry_address is not None:
            host, port = service.telemetry_address
            sock = bind_socket(host, port, reuse_port=self.workers > 1)
            self._telemetry = HttpServer(Starlette(routes=list(routes)), sock)
            await self._telemetry.start()
            routes = ()
        await self._start_receivers(routes)
        self._poll_task = asyncio.get_running_loop().create_task(self._output.poll_forever())
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
        if started and self._output is not None:
            await self._output.shutdown()
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
                served = (*extra, *processor_routes(component, feeds, sink))
                if served:
                    context = dataclasses.replace(context, extra_routes=served)
                extra = ()
            receiver = component.type.create(component.settings, context)
            await receiver.start(sink)
            self.receivers[receiver_id] = receiver
