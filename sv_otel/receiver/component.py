"""The ``otlp`` receiver of ``sv-otel serve``: OTLP/gRPC and OTLP/HTTP into the gateway's pipelines.

As in the OpenTelemetry Collector, what arrives on the logs service goes to the ``logs``
pipelines that list the receiver, and spans to its ``traces`` pipelines; a signal with no such
pipeline is answered 404 / ``UNIMPLEMENTED``. Both protocols share their ports between worker
processes (``SO_REUSEPORT``) when ``--workers`` is above 1. HTTP is served by the gateway's
:class:`~sv_otel.server.sockets.HttpServer` (slow headers are cut off after
``read_header_timeout`` and oversized ones refused, each answered with a JSON ``Status``),
and, when it is the first HTTP receiver, carries ``/healthz``, ``/readyz`` and ``/metrics`` too.

Accepted events count in ``sv_otel_receiver_accepted_events_total{receiver}``, requests
refused for a full queue in ``sv_otel_receiver_rejected_events_total{reason="queue_full"}``,
next to the receiver's own ``sv_otel_receiver_requests_total`` and friends.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence

import grpc
from prometheus_client import Counter

from sv_otel.components import EventSink
from sv_otel.errors import ConfigurationError, QueueFullError
from sv_otel.event import Event
from sv_otel.queue import DurableQueue
from sv_otel.receiver.config import OTLPReceiverConfig
from sv_otel.receiver.grpc_server import create_grpc_server
from sv_otel.receiver.http_app import create_http_app
from sv_otel.receiver.server import otlp_http_server
from sv_otel.receiver.settings import split_address
from sv_otel.server.pipeline import ReceiverSink
from sv_otel.server.registry import ComponentContext
from sv_otel.server.sockets import HttpServer, bind_socket

__all__ = ["OTLPReceiverComponent", "create_otlp_receiver"]

logger = logging.getLogger(__name__)

_SIGNALS = ("logs", "traces")


class _CountingSink:
    """Counts what the gateway's sink accepts, and the requests it refuses for lack of room.

    It also remembers the last refusal: until an export frees room in the queue, a request at
    least as large as the refused one is refused before it is decoded (:meth:`check_room`), so a
    client that retries too soon costs no conversion.
    """

    def __init__(
        self, sink: EventSink, accepted: Counter, refused: Counter, queue: DurableQueue | None
    ) -> None:
        self._sink = sink
        self._accepted = accepted
        self._refused = refused
        self._queue = queue
        self._refusal: tuple[int, int] | None = None  # (queued bytes, body size) then
        # The size of the request being handled: check_room, the conversion and submit run
        # without a pause in between (bodies converted in a thread are the exception, where
        # another request's size may be taken; it only shifts which requests are refused early).
        self._size = 0

    def check_room(self, size: int) -> None:
        self._size = size
        queue, refusal = self._queue, self._refusal
        if queue is None or refusal is None:
            return
        queued, refused_size = refusal
        if queue.queued_bytes < queued:  # an export freed room since
            self._refusal = None
            return
        if size >= refused_size:
            self._refused.inc()
            raise QueueFullError(
                f"queue: full ({queue.queued_bytes} of {queue.max_bytes} bytes waiting for "
                "export); retry later",
                retry_after=queue.retry_after,
            )

    async def submit(self, events: Sequence[Event]) -> None:
        try:
            await self._sink.submit(events)
        except QueueFullError:
            self._refused.inc()
            if self._queue is not None:
                self._refusal = (self._queue.queued_bytes, self._size)
            raise
        self._accepted.inc(len(events))


class OTLPReceiverComponent:
    """The ``otlp`` receiver: a gRPC server and an HTTP server, either of them optional.

    ``grpc_port`` and ``http_port`` hold the bound ports once started (useful with port 0).
    """

    def __init__(self, config: OTLPReceiverConfig, context: ComponentContext) -> None:
        self.name = context.name
        self.config = config
        self.context = context
        self.grpc_port: int | None = None
        self.http_port: int | None = None
        self._grpc: grpc.aio.Server | None = None
        self._http: HttpServer | None = None

    async def start(self, sink: EventSink) -> None:
        """Bind the ports and start serving; events go to ``sink``'s pipelines by signal.

        Raises:
            ConfigurationError: a port cannot be bound or a TLS file cannot be used.
        """
        sinks = self._sinks(sink)
        config, reuse_port = self.config, self.context.reuse_port
        if config.grpc is not None:
            try:
                self._grpc, self.grpc_port = create_grpc_server(
                    sinks, config.grpc, reuse_port=reuse_port
                )
            except ConfigurationError:
                raise ConfigurationError(
                    f"receivers.{self.name}: cannot listen on {config.grpc.grpc_address} for "
                    "OTLP/gRPC (the address is in use or not available)"
                ) from None
            await self._grpc.start()
            logger.info("%s: OTLP/gRPC on %s", self.name, config.grpc.grpc_address)
        if config.http is not None:
            address = config.http.http_address
            assert address is not None
            host, port = split_address(address)
            try:
                sock = bind_socket(host, port, reuse_port=reuse_port)
            except OSError as error:
                reason = os.strerror(error.errno) if error.errno else str(error)
                raise ConfigurationError(
                    f"receivers.{self.name}: cannot listen on {address} for OTLP/HTTP ({reason})"
                ) from None
            self._http = otlp_http_server(
                create_http_app(sinks, config.http, extra_routes=self.context.extra_routes),
                sock,
                config.http,
            )
            await self._http.start()
            self.http_port = self._http.port
            logger.info("%s: OTLP/HTTP on %s", self.name, address)

    async def shutdown(self) -> None:
        """Stop both servers, letting requests in flight finish."""
        if self._grpc is not None:
            await self._grpc.stop(grace=5.0)
        if self._http is not None:
            await self._http.shutdown()

    def _sinks(self, sink: EventSink) -> dict[str, EventSink]:
        metrics = self.context.metrics
        accepted = metrics.accepted.labels(self.name)
        refused = metrics.rejected.labels(self.name, "queue_full")
        sinks: dict[str, EventSink] = {}
        for signal in _SIGNALS:
            target = sink.for_signal(signal) if isinstance(sink, ReceiverSink) else sink
            if target is not None:
                queue = target.queue if isinstance(target, ReceiverSink) else None
                sinks[signal] = _CountingSink(target, accepted, refused, queue)
        return sinks


def create_otlp_receiver(
    config: OTLPReceiverConfig, context: ComponentContext
) -> OTLPReceiverComponent:
    """The registry's ``create`` for the ``otlp`` receiver type."""
    return OTLPReceiverComponent(config, context)
