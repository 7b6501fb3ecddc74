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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import msgspec
from starlette.applications import Starlette
from starlette.routing import BaseRoute
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

__all__ = ["INGEST_PATH", "Answer", "IngestApp", "IngestEndpoint", "create_ingest_app"]

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


@dataclass(slots=True)
class Answer:
    """A response: status, JSON body (empty for 204) and extra headers."""

    status: int
    body: bytes
    headers: dict[str, str]


class IngestEndpoint:
    """The raw ASGI handler of :data:`INGEST_PATH` (see the module docstring)."""

    def __init__(
        self, sink: EventSink, settings: IngestSettings, metrics: GatewayMetrics, name: str
    ) -> None:
        self.sink = sink
        self.settings = settings
        self.tokens = TokenCheck(settings.tokens, settings.token_header)
        self._token_header = settings.token_header.lower()
        self.name = name
        self.in_flight = 0
        self._accepted = metrics.accepted.labels(name)
        self._rejected = metrics.rejected

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI entry point for one request to :data:`INGEST_PATH`."""
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        try:
            answer = await self.answer(scope["method"], headers, receive)
        except Exception:
            logger.exception("%s: request failed", self.name)
            answer = _error(500, "internal_error", "server: internal error", {})
        raw = [
            (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in answer.headers.items()
        ]
        if answer.status != 204:
            raw.append((b"content-type", b"application/json"))
            raw.append((b"content-length", str(len(answer.body)).encode()))
        await send({"type": "http.response.start", "status": answer.status, "headers": raw})
        await send({"type": "http.response.body", "body": answer.body})

    async def answer(self, method: str, headers: Mapping[str, str], receive: Receive) -> Answer:
        """The answer to one request, given its method and lower-cased headers."""
        origin = headers.get("origin")
        cors = self.settings.cors
        if method == "OPTIONS":
            return self._preflight(headers, origin)
        out = cors.response_headers(origin)
        if method != "POST":
            out["Allow"] = "POST, OPTIONS"
            return _error(405, "method_not_allowed", f"{method}: use POST", out)
        if not cors.allows(origin):
            self._rejected.labels(self.name, "origin").inc()
            return _error(403, "forbidden", f"Origin: {origin!r} is not an allowed origin", out)
        if self.in_flight >= self.settings.max_concurrent_requests:
            return self._fail(
                OverloadedError(
                    "server: too many requests in flight; retry later",
                    retry_after=self.settings.retry_after,
                ),
                out,
            )
        self.in_flight += 1
        try:
            return await self._ingest(headers, receive, out)
        except SvOtelError as error:
            return self._fail(error, out)
        finally:
            self.in_flight -= 1

    async def _ingest(
        self, headers: Mapping[str, str], receive: Receive, out: dict[str, str]
    ) -> Answer:
        content_type = headers.get("content-type", "")
        media_type = content_type.split(";", 1)[0].strip().lower()
        if media_type not in _MEDIA_TYPES:
            raise UnsupportedMediaTypeError(
                f"Content-Type: {content_type!r} is not supported; "
                "send application/json or text/plain"
            )
        header_token = bearer_token(headers.get("authorization")) or headers.get(self._token_header)
        if header_token is not None:
            self.tokens.check(header_token)
        settings = self.settings
        body = await read_body(
            receive,
            headers.get("content-length"),
            settings.max_request_bytes,
            settings.body_timeout,
        )
        batch = parse_batch(
            body, content_encoding=headers.get("content-encoding"), limits=settings.limits
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
            return Answer(400, _ENCODER.encode(payload), out)
        if batch.events:
            await self.sink.submit(batch.events)
            self._accepted.inc(len(batch.events))
        payload = {"accepted": len(batch.events), "rejected": rejected, "errors": errors}
        return Answer(200, _ENCODER.encode(payload), out)

    def _preflight(self, headers: Mapping[str, str], origin: str | None) -> Answer:
        cors = self.settings.cors
        problem = cors.preflight(
            origin,
            headers.get("access-control-request-method"),
            headers.get("access-control-request-headers"),
        )
        if problem is not None:
            self._rejected.labels(self.name, "origin").inc()
            return _error(403, "forbidden", f"preflight: {problem}", {})
        assert origin is not None
        return Answer(204, b"", cors.preflight_headers(origin))

    def _fail(self, error: SvOtelError, headers: dict[str, str]) -> Answer:
        name, reason = "internal_error", "internal"
        for kind, error_name, error_reason in _ERROR_NAMES:
            if isinstance(error, kind):
                name, reason = error_name, error_reason
                break
        self._rejected.labels(self.name, reason).inc()
        if isinstance(error, QueueFullError):
            headers = {**headers, "Retry-After": str(max(1, round(error.retry_after)))}
        return _error(error.status_hint, name, error.message, headers)


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


def _error(status: int, name: str, message: str, headers: dict[str, str]) -> Answer:
    payload = {"status": status, "error": name, "message": message}
    return Answer(status, _ENCODER.encode(payload), headers)
