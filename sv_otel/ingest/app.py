"""The sessionvision ingest endpoint as an ASGI app: ``POST /api/v1/ingest/events``.

What a request goes through, in order (the first problem answers)::

    OPTIONS        CORS preflight: 204, or 403 naming the origin/method/header refused
    method         405 unless POST
    origin         403 when CORS is configured and the Origin is not allowed
    load           503 + Retry-After when max_concurrent_requests are in flight
    Content-Type   415 unless JSON or text (sendBeacon posts text/plain), or none at all
    header token   401 / 403 when tokens are configured (checked before the body is read)
    body           413 over max_request_bytes, 408 when slower than body_timeout
    batch          400 not JSON / not events, 413 too big once decompressed, 415 encoding
    body token     401 / 403 when there was no header token
    events         400 when every event is invalid (per-event messages in "errors")
    queue          503 + Retry-After when the durable queue is full
    200            {"accepted": n, "rejected": m, "errors": [{"index": i, "message": ...}]}

Every error answers JSON ``{"status": 413, "error": "payload_too_large", "message": ...}``. The
SDK retries only 5xx, so overload is always 503 (never 429). Valid events of a partly invalid
batch are accepted; ``errors`` lists at most 100 rejections (``rejected`` counts them all).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import msgspec
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import Receive, Scope, Send

from sv_otel.batch import parse_batch
from sv_otel.components import EventSink
from sv_otel.errors import (
    AuthenticationError,
    InvalidBatchError,
    OverloadedError,
    PayloadTooLargeError,
    PermissionDeniedError,
    QueueFullError,
    RequestTimeoutError,
    SvOtelError,
    UnsupportedEncodingError,
    UnsupportedMediaTypeError,
)
from sv_otel.ingest.auth import TokenCheck, bearer_token
from sv_otel.ingest.body import read_body
from sv_otel.ingest.settings import IngestSettings
from sv_otel.server.metrics import GatewayMetrics

logger = logging.getLogger(__name__)

__all__ = ["INGEST_PATH", "FastIngestApp", "IngestEndpoint", "create_ingest_app"]

INGEST_PATH = "/api/v1/ingest/events"
_MEDIA_TYPES = frozenset({"", "application/json", "text/plain", "application/x-ndjson"})
_MAX_ERRORS = 100
_ENCODER = msgspec.json.Encoder()

# (error name, metrics reason) by exception class, most specific first.
_ERROR_NAMES: tuple[tuple[type[SvOtelError], str, str], ...] = (
    (PayloadTooLargeError, "payload_too_large", "too_large"),
    (UnsupportedEncodingError, "unsupported_encoding", "unsupported"),
    (UnsupportedMediaTypeError, "unsupported_media_type", "unsupported"),
    (RequestTimeoutError, "request_timeout", "timeout"),
    (InvalidBatchError, "bad_request", "bad_request"),
    (PermissionDeniedError, "forbidden", "forbidden"),
    (AuthenticationError, "unauthenticated", "unauthenticated"),
    (OverloadedError, "overloaded", "overloaded"),
    (QueueFullError, "queue_full", "queue_full"),
)


class IngestEndpoint:
    """The request handler (see the module docstring); one per receiver."""

    def __init__(
        self, sink: EventSink, settings: IngestSettings, metrics: GatewayMetrics, name: str
    ) -> None:
        self.sink = sink
        self.settings = settings
        self.tokens = TokenCheck(settings.tokens, settings.token_header)
        self.name = name
        self.in_flight = 0
        self._accepted = metrics.accepted.labels(name)
        self._rejected = metrics.rejected

    async def handle(self, request: Request) -> Response:
        """Answer one request to :data:`INGEST_PATH`."""
        origin = request.headers.get("origin")
        cors = self.settings.cors
        if request.method == "OPTIONS":
            return self._preflight(request, origin)
        headers = cors.response_headers(origin)
        if request.method != "POST":
            headers["Allow"] = "POST, OPTIONS"
            return _error(405, "method_not_allowed", f"{request.method}: use POST", headers)
        if not cors.allows(origin):
            self._rejected.labels(self.name, "origin").inc()
            return _error(403, "forbidden", f"Origin: {origin!r} is not an allowed origin", headers)
        if self.in_flight >= self.settings.max_concurrent_requests:
            return self._fail(
                OverloadedError(
                    "server: too many requests in flight; retry later",
                    retry_after=self.settings.retry_after,
                ),
                headers,
            )
        self.in_flight += 1
        try:
            return await self._ingest(request, headers)
        except SvOtelError as error:
            return self._fail(error, headers)
        finally:
            self.in_flight -= 1

    async def _ingest(self, request: Request, headers: dict[str, str]) -> Response:
        content_type = request.headers.get("content-type", "")
        media_type = content_type.split(";", 1)[0].strip().lower()
        if media_type not in _MEDIA_TYPES:
            raise UnsupportedMediaTypeError(
                f"Content-Type: {content_type!r} is not supported; "
                "send application/json or text/plain"
            )
        header_token = bearer_token(request.headers.get("authorization")) or request.headers.get(
            self.tokens.header
        )
        if header_token is not None:
            self.tokens.check(header_token)
        body = await read_body(request, self.settings.max_request_bytes, self.settings.body_timeout)
        batch = parse_batch(
            body,
            content_encoding=request.headers.get("content-encoding"),
            limits=self.settings.limits,
        )
        if header_token is None:
            self.tokens.check(batch.token)
        rejected = len(batch.rejected)
        if rejected:
            self._rejected.labels(self.name, "invalid_event").inc(rejected)
        errors = [{"index": r.index, "message": r.message} for r in batch.rejected[:_MAX_ERRORS]]
        if rejected and not batch.events:
            payload = {
                "status": 400,
                "error": "bad_request",
                "message": f"every event was rejected ({rejected}); first: "
                f"{batch.rejected[0].message}",
                "accepted": 0,
                "rejected": rejected,
                "errors": errors,
            }
            return _json(400, payload, headers)
        if batch.events:
            await self.sink.submit(batch.events)
            self._accepted.inc(len(batch.events))
        payload = {"accepted": len(batch.events), "rejected": rejected, "errors": errors}
        return _json(200, payload, headers)

    def _preflight(self, request: Request, origin: str | None) -> Response:
        cors = self.settings.cors
        problem = cors.preflight(
            origin,
            request.headers.get("access-control-request-method"),
            request.headers.get("access-control-request-headers"),
        )
        if problem is not None:
            self._rejected.labels(self.name, "origin").inc()
            return _error(403, "forbidden", f"preflight: {problem}", {})
        assert origin is not None
        return Response(status_code=204, headers=cors.preflight_headers(origin))

    def _fail(self, error: SvOtelError, headers: dict[str, str]) -> Response:
        name, reason = "internal_error", "internal"
        for kind, error_name, error_reason in _ERROR_NAMES:
            if isinstance(error, kind):
                name, reason = error_name, error_reason
                break
        self._rejected.labels(self.name, reason).inc()
        if isinstance(error, QueueFullError):
            headers = {**headers, "Retry-After": str(max(1, round(error.retry_after)))}
        return _error(error.status_hint, name, error.message, headers)


def create_ingest_app(
    sink: EventSink,
    settings: IngestSettings,
    metrics: GatewayMetrics,
    *,
    name: str = "sessionvision",
    extra_routes: Sequence[BaseRoute] = (),
) -> Starlette:
    """The ASGI app serving :data:`INGEST_PATH` (plus ``extra_routes``, e.g. ``/healthz``)."""
    endpoint = IngestEndpoint(sink, settings, metrics, name)
    methods = ["POST", "OPTIONS", "GET", "PUT", "PATCH", "DELETE"]
    routes: list[BaseRoute] = [Route(INGEST_PATH, endpoint.handle, methods=methods), *extra_routes]
    app = Starlette(routes=routes)
    app.state.ingest = endpoint
    return app


class FastIngestApp:
    """The app of :func:`create_ingest_app`, with :data:`INGEST_PATH` dispatched directly.

    Starlette's middleware and router cost more than the handler itself for a batch of ten
    events; this wrapper sends requests for the ingest path straight to the handler and
    everything else (health, metrics, 404s) through Starlette.
    """

    def __init__(self, app: Starlette) -> None:
        self.app = app
        self.endpoint: IngestEndpoint = app.state.ingest

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI entry point."""
        if scope["type"] == "http" and scope["path"] == INGEST_PATH:
            try:
                response = await self.endpoint.handle(Request(scope, receive))
            except Exception:
                logger.exception("%s: request failed", self.endpoint.name)
                response = _error(500, "internal_error", "server: internal error", {})
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _error(status: int, name: str, message: str, headers: dict[str, str]) -> Response:
    return _json(status, {"status": status, "error": name, "message": message}, headers)


def _json(status: int, payload: object, headers: dict[str, str]) -> Response:
    return Response(
        _ENCODER.encode(payload), status_code=status, headers=headers, media_type="application/json"
    )
