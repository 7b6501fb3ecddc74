"""The ingest receiver's ASGI app: :data:`INGEST_PATH` to the endpoint, the rest to Starlette.

The endpoint itself (its checks, its answers) is :class:`sv_otel.ingest.endpoint.IngestEndpoint`;
this module only routes to it, and :func:`create_ingest_app` builds the two together.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.applications import Starlette
from starlette.routing import BaseRoute
from starlette.types import Receive, Scope, Send

from sv_otel.batch import INGEST_PATH
from sv_otel.components import EventSink
from sv_otel.ingest.endpoint import IngestEndpoint
from sv_otel.ingest.settings import IngestSettings
from sv_otel.server.metrics import GatewayMetrics

__all__ = ["INGEST_PATH", "IngestApp", "create_ingest_app"]


class IngestApp:
    """The receiver's ASGI app: :data:`INGEST_PATH` goes straight to the :class:`IngestEndpoint`
    (Starlette's middleware and router would cost more than handling a batch of ten events);
    every other path (``/healthz``, ``/metrics``, 404s) goes through Starlette.
    """

    def __init__(self, endpoint: IngestEndpoint, routes: Sequence[BaseRoute]) -> None:
        self.endpoint = endpoint
        self.other = Starlette(routes=list(routes))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI entry point."""
        if scope["type"] == "http" and scope["path"] == INGEST_PATH:
            await self.endpoint(scope, receive, send)
            return
        await self.other(scope, receive, send)


def create_ingest_app(
    sink: EventSink,
    settings: IngestSettings,
    metrics: GatewayMetrics,
    *,
    name: str = "sessionvision",
    extra_routes: Sequence[BaseRoute] = (),
) -> IngestApp:
    """The ASGI app serving :data:`INGEST_PATH` (plus ``extra_routes``, e.g. ``/healthz``)."""
    return IngestApp(IngestEndpoint(sink, settings, metrics, name), extra_routes)
