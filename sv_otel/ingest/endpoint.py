"""The handler of the sessionvision ingest endpoint, ``POST /api/v1/ingest/events``.

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
The JSON bodies are built in :mod:`sv_otel.ingest.answers`; :mod:`sv_otel.ingest.app` mounts
the endpoint beside the receiver's other routes.

The endpoint is written in two steps, so the HTTP protocol can serve it without ASGI
(:mod:`sv_otel.server.protocol`): :meth:`IngestEndpoint.begin` makes every check that needs only
the method and headers, and the :class:`IngestRequest` it returns takes the body
(``finish``), answering once the batch is durable through a callback on the queue's commit. The
ASGI entry point (:meth:`IngestEndpoint.__call__`, used by in-process clients and for requests
the protocol does not take directly) runs the same two steps, so both answer alike.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol, runtime_checkable

import msgspec
from starlette.types import Receive, Scope, Send

from sv_otel.batch import parse_batch
from sv_otel.components import EventSink
from sv_otel.errors import (
    OverloadedError,
    QueueFullError,
    SvOtelError,
    UnsupportedMediaTypeError,
)
from sv_otel.event import Event
from sv_otel.ingest.answers import ERROR_NAMES, accepted, all_rejected, error_answer
from sv_otel.ingest.auth import TokenCheck, bearer_token
from sv_otel.ingest.body import body_too_large, check_content_length, read_body
from sv_otel.ingest.settings import IngestSettings
from sv_otel.server.deadline import body_timed_out
from sv_otel.server.direct import Answer
from sv_otel.server.metrics import GatewayMetrics

logger = logging.getLogger(__name__)

__all__ = ["Answer", "IngestEndpoint", "IngestRequest"]

_MEDIA_TYPES = frozenset({"", "application/json", "text/plain", "application/x-ndjson"})
_ENCODER = msgspec.json.Encoder()


@runtime_checkable
class _FutureSink(Protocol):
    """A sink that can hand back a future instead of a coroutine (the gateway's own)."""

    def submit_nowait(self, events: Sequence[Event]) -> asyncio.Future[None]: ...


class IngestEndpoint:
    """The handler of :data:`~sv_otel.ingest.app.INGEST_PATH` (see the module docstring)."""

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
        self._submit_nowait = sink.submit_nowait if isinstance(sink, _FutureSink) else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI entry point for one request to :data:`~sv_otel.ingest.app.INGEST_PATH`."""
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        try:
            answer = await self.answer(scope["method"], headers, receive)
        except Exception:
            logger.exception("%s: request failed", self.name)
            answer = error_answer(500, "internal_error", "server: internal error", {})
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
        started = self.begin(method, headers)
        if isinstance(started, Answer):
            return started
        try:
            body = await read_body(receive, None, started.max_bytes, started.timeout)
        except SvOtelError as error:
            return started.fail(error)
        except BaseException:
            started.abandon()
            raise
        waiter: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()

        def respond(answer: Answer) -> None:
            if not waiter.done():
                waiter.set_result(answer)

        return started.finish(body, respond) or await waiter

    def begin(self, method: str, headers: Mapping[str, str]) -> Answer | IngestRequest:
        """Every check before the body: an answer, or the request that reads the body.

        A returned :class:`IngestRequest` counts in ``in_flight`` until it answers.
        """
        origin = headers.get("origin")
        cors = self.settings.cors
        if method == "OPTIONS":
            return self._preflight(headers, origin)
        out = cors.response_headers(origin)
        if method != "POST":
            out["Allow"] = "POST, OPTIONS"
            return error_answer(405, "method_not_allowed", f"{method}: use POST", out)
        if not cors.allows(origin):
            self._rejected.labels(self.name, "origin").inc()
            return error_answer(
                403, "forbidden", f"Origin: {origin!r} is not an allowed origin", out
            )
        if self.in_flight >= self.settings.max_concurrent_requests:
            return self._fail(
                OverloadedError(
                    "server: too many requests in flight; retry later",
                    retry_after=self.settings.retry_after,
                ),
                out,
            )
        try:
            content_type = headers.get("content-type", "")
            media_type = content_type.split(";", 1)[0].strip().lower()
            if media_type not in _MEDIA_TYPES:
                raise UnsupportedMediaTypeError(
                    f"Content-Type: {content_type!r} is not supported; "
                    "send application/json or text/plain"
                )
            token = bearer_token(headers.get("authorization")) or headers.get(self._token_header)
            if token is not None:
                self.tokens.check(token)
            check_content_length(headers.get("content-length"), self.settings.max_request_bytes)
        except SvOtelError as error:
            return self._fail(error, out)
        self.in_flight += 1
        return IngestRequest(self, headers.get("content-encoding"), token, out)

    def _finish(
        self, request: IngestRequest, body: bytes, respond: Callable[[Answer], None]
    ) -> Answer | None:
        try:
            return self._queue(request, body, respond)
        except Exception:
            logger.exception("%s: request failed", self.name)
            request.release()
            return error_answer(500, "internal_error", "server: internal error", {})

    def _queue(
        self, request: IngestRequest, body: bytes, respond: Callable[[Answer], None]
    ) -> Answer | None:
        try:
            batch = parse_batch(
                body, content_encoding=request.encoding, limits=self.settings.limits
            )
            if request.token is None:
                self.tokens.check(batch.token)
        except SvOtelError as error:
            return request.fail(error)
        rejected = len(batch.rejected)
        if rejected:
            self._rejected.labels(self.name, "invalid_event").inc(rejected)
            if not batch.events:
                request.release()
                return Answer(400, _ENCODER.encode(all_rejected(batch)), request.cors)
        if not batch.events:
            request.release()
            return Answer(200, _ENCODER.encode(accepted(batch)), request.cors)
        try:
            if self._submit_nowait is not None:
                committed = self._submit_nowait(batch.events)
            else:
                committed = asyncio.ensure_future(self.sink.submit(batch.events))
        except SvOtelError as error:
            return request.fail(error)

        def done(future: asyncio.Future[None]) -> None:
            request.release()
            error = None if future.cancelled() else future.exception()
            if future.cancelled() or error is not None:
                if isinstance(error, SvOtelError):
                    respond(self._fail(error, request.cors))
                    return
                logger.error("%s: request failed", self.name, exc_info=error)
                respond(error_answer(500, "internal_error", "server: internal error", {}))
                return
            self._accepted.inc(len(batch.events))
            respond(Answer(200, _ENCODER.encode(accepted(batch)), request.cors))

        committed.add_done_callback(done)
        return None

    def _preflight(self, headers: Mapping[str, str], origin: str | None) -> Answer:
        cors = self.settings.cors
        problem = cors.preflight(
            origin,
            headers.get("access-control-request-method"),
            headers.get("access-control-request-headers"),
        )
        if problem is not None:
            self._rejected.labels(self.name, "origin").inc()
            return error_answer(403, "forbidden", f"preflight: {problem}", {})
        assert origin is not None
        return Answer(204, b"", cors.preflight_headers(origin))

    def _fail(self, error: SvOtelError, headers: dict[str, str]) -> Answer:
        name, reason = "internal_error", "internal"
        for kind, error_name, error_reason in ERROR_NAMES:
            if isinstance(error, kind):
                name, reason = error_name, error_reason
                break
        self._rejected.labels(self.name, reason).inc()
        if isinstance(error, QueueFullError):
            headers = {**headers, "Retry-After": str(max(1, round(error.retry_after)))}
        return error_answer(error.status_hint, name, error.message, headers)


class IngestRequest:
    """A request that passed :meth:`IngestEndpoint.begin`, waiting for its body.

    Implements :class:`sv_otel.server.direct.PendingRequest`. It counts in the endpoint's
    ``in_flight`` until :meth:`release` (which every way of answering calls, once).
    """

    __slots__ = ("_open", "cors", "encoding", "endpoint", "max_bytes", "timeout", "token")

    def __init__(
        self,
        endpoint: IngestEndpoint,
        encoding: str | None,
        token: str | None,
        cors: dict[str, str],
    ) -> None:
        self.endpoint = endpoint
        self.encoding = encoding
        self.token = token
        """The token from a header (already checked), or None to check the body's."""
        self.cors = cors
        self.max_bytes = endpoint.settings.max_request_bytes
        self.timeout = endpoint.settings.body_timeout
        self._open = True

    def finish(self, body: bytes, respond: Callable[[Answer], None]) -> Answer | None:
        """Parse, validate and queue the batch: the answer, or None when ``respond`` will be
        called (once the batch is durable, or the queue refused it)."""
        return self.endpoint._finish(self, body, respond)

    def fail(self, error: SvOtelError) -> Answer:
        """The answer to ``error`` (a problem with the body)."""
        self.release()
        return self.endpoint._fail(error, self.cors)

    def too_large(self) -> Answer:
        """413: the body grew over ``max_bytes``."""
        return self.fail(body_too_large(self.max_bytes))

    def timed_out(self) -> Answer:
        """408: the body took longer than ``timeout``."""
        return self.fail(body_timed_out(self.timeout))

    def abandon(self) -> None:
        """The client went away before its body was complete."""
        self.release()

    def release(self) -> None:
        """Stop counting this request in flight (idempotent)."""
        if self._open:
            self._open = False
            self.endpoint.in_flight -= 1
