"""The HTTP adapter of the session start: a starlette ``Route`` and a small ASGI app.

``sv-otel serve`` mounts :func:`start_route` on the HTTP endpoint of the sessionvision
receivers that feed the ``sessions`` processor's pipeline (see :mod:`sv_otel.sessions.component`),
passing the submit of that receiver (processors, then queue) and its CORS policy, so the
``$start`` event of each start call goes where browser events go, and its ``body_timeout``::

    starter = SessionStarter(secret=secret, has_ended=processor.has_ended)
    routes.append(
        start_route(
            starter,
            submit=receiver_sink.submit,
            cors=ingest_settings.cors,
            body_timeout=ingest_settings.body_timeout,
        )
    )

:func:`start_app` wraps the route in a Starlette app, for running it on its own.
Answers: 200 ``{"success": true, ...}``; 400/401/413/415 ``{"success": false, "reason"}``; 408
when the body takes longer than ``body_timeout`` (the connection is then closed); 503
with ``Retry-After`` when ``submit`` raises :class:`~sv_otel.errors.QueueFullError` (any other
sv_otel error from ``submit`` is answered with its ``status_hint`` and message). CORS works as on
the ingest endpoint (:class:`~sv_otel.ingest.cors.CorsPolicy`): a preflight is answered 204, or
403 naming what is refused; a request from an origin that is not allowed gets 403; methods other
than POST and OPTIONS get 405.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Sequence
from typing import Final, TypeAlias

from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sv_otel.errors import (
    PayloadTooLargeError,
    QueueFullError,
    RequestTimeoutError,
    SvOtelError,
)
from sv_otel.event import Event
from sv_otel.ingest.cors import CorsPolicy
from sv_otel.server.deadline import DEFAULT_BODY_TIMEOUT, body_deadline
from sv_otel.sessions.start import MAX_BODY_BYTES, START_PATH, SessionStarter, StartResult

__all__ = ["BODY_TIMEOUT", "EventSubmitter", "start_app", "start_route"]

BODY_TIMEOUT: Final = DEFAULT_BODY_TIMEOUT
"""Seconds a start request's body may take once its headers are in (as the ingest endpoint)."""

_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]  # others: Starlette's 405

EventSubmitter: TypeAlias = Callable[[Sequence[Event]], Awaitable[None]]
"""Hands events to the pipeline; raises ``QueueFullError`` when there is no room."""


def start_route(
    starter: SessionStarter,
    submit: EventSubmitter | None = None,
    *,
    path: str = START_PATH,
    cors: CorsPolicy | None = None,
    body_timeout: float = BODY_TIMEOUT,
) -> Route:
    """Return the route of the session start, answering through ``starter``.

    Args:
        starter: the sans-I/O start logic.
        submit: where the ``$start`` events go (the gateway's ingest path); None drops them.
        path: the route path (default ``/api/v1/sessions/start``).
        cors: which origins may call it (default: any, as the ingest endpoint's default).
        body_timeout: seconds the body may take once the headers are in; a slower one gets 408
            and the connection is closed.
    """
    policy = cors if cors is not None else CorsPolicy()

    async def start(request: Request) -> Response:
        origin = request.headers.get("origin")
        if request.method == "OPTIONS":
            return _preflight(policy, request, origin)
        headers = policy.response_headers(origin)
        if request.method != "POST":
            headers["Allow"] = "POST, OPTIONS"
            return _failure(405, f"{request.method}: use POST", headers)
        if not policy.allows(origin):
            return _failure(403, f"Origin: {origin!r} is not an allowed origin", headers)
        try:
            with body_deadline(body_timeout):
                body = await _read_body(request, MAX_BODY_BYTES)
        except PayloadTooLargeError as error:
            return _answer(StartResult.failure(error), headers)
        except RequestTimeoutError as error:
            headers["Connection"] = "close"  # the rest of a slow body is not waited for
            return _failure(408, error.message, headers)
        except ClientDisconnect:
            return Response(status_code=400)
        result = starter.handle(body, request.headers.get("content-encoding"))
        if result.events and submit is not None:
            try:
                await submit(result.events)
            except SvOtelError as error:
                if isinstance(error, QueueFullError):
                    headers["Retry-After"] = str(max(1, math.ceil(error.retry_after)))
                return _failure(error.status_hint, error.message, headers)
        return _answer(result, headers)

    return Route(path, start, methods=_METHODS)


def start_app(
    starter: SessionStarter,
    submit: EventSubmitter | None = None,
    *,
    allow_origins: Sequence[str] = ("*",),
    body_timeout: float = BODY_TIMEOUT,
) -> Starlette:
    """Return an ASGI app serving only the start route, with CORS for ``allow_origins`` (and
    ``body_timeout`` as in :func:`start_route`)."""
    cors = CorsPolicy.create(allow_origins, (), CorsPolicy().max_age)
    return Starlette(routes=[start_route(starter, submit, cors=cors, body_timeout=body_timeout)])


def _preflight(policy: CorsPolicy, request: Request, origin: str | None) -> Response:
    problem = policy.preflight(
        origin,
        request.headers.get("access-control-request-method"),
        request.headers.get("access-control-request-headers"),
    )
    if problem is not None or origin is None:
        return _failure(403, f"preflight: {problem}", {})
    return Response(status_code=204, headers=policy.preflight_headers(origin))


def _answer(result: StartResult, headers: dict[str, str]) -> Response:
    return JSONResponse(result.body, status_code=result.status, headers=headers)


def _failure(status: int, reason: str, headers: dict[str, str]) -> Response:
    return JSONResponse({"success": False, "reason": reason}, status_code=status, headers=headers)


async def _read_body(request: Request, limit: int) -> bytes:
    """Read the body, stopping (413) as soon as it is longer than ``limit`` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise PayloadTooLargeError(f"body: over the limit of {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLargeError(f"body: over the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
