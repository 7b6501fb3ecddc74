"""The ``sessionvision`` receiver component: the HTTP endpoint and the gRPC service together."""

from __future__ import annotations

import logging

import grpc

from sv_otel.components import EventSink
from sv_otel.ingest.app import INGEST_PATH, create_ingest_app
from sv_otel.ingest.grpc import IngestServicer
from sv_otel.ingest.settings import IngestSettings
from sv_otel.server.registry import ComponentContext
from sv_otel.server.sockets import HttpServer, bind_socket

__all__ = ["IngestReceiver", "create_ingest_receiver"]

logger = logging.getLogger(__name__)


class IngestReceiver:
    """Serves ``POST /api/v1/ingest/events`` (uvicorn) and, if configured, gRPC ``Ingest``.

    ``http_port`` and ``grpc_port`` hold the bound ports once started (useful with port 0).
    """

    def __init__(self, settings: IngestSettings, context: ComponentContext) -> None:
        self.name = context.name
        self.settings = settings
        self.context = context
        self.http_port: int | None = None
        self.grpc_port: int | None = None
        self._http: HttpServer | None = None
        self._grpc: grpc.aio.Server | None = None

    async def start(self, sink: EventSink) -> None:
        """Bind the ports and start serving."""
        settings, context = self.settings, self.context
        if settings.http_endpoint is not None:
            host, port = settings.http_endpoint
            app = create_ingest_app(
                sink,
                settings,
                context.metrics,
                name=self.name,
                extra_routes=context.extra_routes,
            )
            sock = bind_socket(host, port, reuse_port=context.reuse_port)
            self._http = HttpServer(
                app, sock, header_timeout=settings.body_timeout, routes={INGEST_PATH: app.endpoint}
            )
            await self._http.start()
            self.http_port = self._http.port
            logger.info("%s: HTTP ingest on %s:%d", self.name, host, self.http_port)
        if settings.grpc_endpoint is not None:
            host, port = settings.grpc_endpoint
            limit = settings.limits.max_body_bytes
            server = grpc.aio.server(
                options=[
                    ("grpc.max_receive_message_length", limit),
                    ("grpc.so_reuseport", 1 if context.reuse_port else 0),
                ]
            )
            servicer = IngestServicer(sink, settings, context.metrics, self.name)
            server.add_generic_rpc_handlers((servicer.rpc_handler(),))
            address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
            self.grpc_port = server.add_insecure_port(address)
            await server.start()
            self._grpc = server
            logger.info("%s: gRPC ingest on %s:%d", self.name, host, self.grpc_port)

    async def shutdown(self) -> None:
        """Stop both servers, letting requests in flight finish."""
        if self._grpc is not None:
            await self._grpc.stop(grace=5.0)
        if self._http is not None:
            await self._http.shutdown()


def create_ingest_receiver(settings: IngestSettings, context: ComponentContext) -> IngestReceiver:
    """The registry's ``create`` for the ``sessionvision`` receiver type."""
    return IngestReceiver(settings, context)
