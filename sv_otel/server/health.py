"""``/healthz``, ``/readyz`` and ``/metrics``: the routes that tell how the gateway is doing.

* ``GET /healthz``: 200 ``{"status": "ok"}`` while the process runs its event loop.
* ``GET /readyz``: 200 ``{"status": "ready", ...}`` once every receiver and exporter started and
  the queue has room; 503 ``{"status": "starting" | "stopping" | "queue_full", ...}`` otherwise
  (a load balancer then sends browsers elsewhere).
* ``GET /metrics``: the Prometheus text of :class:`~sv_otel.server.metrics.GatewayMetrics`.
"""

from __future__ import annotations

from collections.abc import Callable

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from sv_otel.server.metrics import CONTENT_TYPE, GatewayMetrics

__all__ = ["health_routes"]

_ENCODER = msgspec.json.Encoder()


def health_routes(
    state: Callable[[], tuple[str, dict[str, object]]],
    metrics: GatewayMetrics,
    before_scrape: Callable[[], None],
) -> tuple[BaseRoute, ...]:
    """The three routes; ``state()`` returns ``(status, details)``, ``"ready"`` when ready."""

    async def healthz(request: Request) -> Response:
        return _json(200, {"status": "ok"})

    async def readyz(request: Request) -> Response:
        status, details = state()
        return _json(200 if status == "ready" else 503, {"status": status, **details})

    async def metrics_page(request: Request) -> Response:
        before_scrape()
        return Response(metrics.render(), media_type=CONTENT_TYPE)

    return (
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics_page, methods=["GET"]),
    )


def _json(status: int, payload: object) -> Response:
    return Response(_ENCODER.encode(payload), status_code=status, media_type="application/json")
