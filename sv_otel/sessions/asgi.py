"""The HTTP adapter of the session start: a starlette ``Route`` and a small ASGI app.

The gateway mounts :func:`start_route` next to its ingest route, passing the same ``submit`` its
ingest uses (lifecycle processor, then queue), so the ``$start`` event of each start call goes
where browser events go::

    starter = SessionStarter(secret=secret, has_ended=processor.has_ended)
    routes.append(start_route(starter, submit=ingest_submit))

:func:`start_app` wraps the route in a Starlette app with CORS, for running it on its own.
Answers: 200 ``{"success": true, ...}``; 400/401/413/415 ``{"success": false, "reason"}``; 503
with ``Retry-After`` when ``submit`` raises :class:`~sv_otel.errors.QueueFullError` (any other
sv_otel error from ``submit`` is answered with its ``status_hint`` and message).
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeAlias

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sv_otel.errors import PayloadTooLargeError, QueueFullError, SvOtelError
from sv_otel.event import Event
from sv_otel.sessions.start import MAX_BODY_BYTES, START_PATH, SessionStarter, StartResult

__all__ = ["EventSubmitter", "start_app", "start_route"]

EventSubmitter: TypeAlias = Callable[[Sequence[Event]], Awaitable[None]]
"""Hands events to the pipeline; raises ``QueueFullError`` when there is no room."""


def start_route(
    starter: SessionStarter, submit: EventSubmitter | None = None, *, path: str = START_PATH
) -> Route:
    """Return the ``POST`` route of the session start, answering through ``starter``.

    Args:
        starter: the sans-I/O start logic.
        submit: where the ``$start`` events go (the gateway's ingest path); None drops them.
        path: the route path (default ``/api/v1/sessions/start``).
    """

    async def start(request: Request) -> Response:
        try:
            body = await _read_body(request, MAX_BODY_BYTES)
        except PayloadTooLargeError as error:
            return _answer(StartResult.failure(error))
        except ClientDisconnect:
            return Response(status_code=400)
        result = starter.handle(body, request.headers.get("content-encoding"))
        if result.events and submit is not None:
            try:
                await submit(result.events)
            except SvOtelError as error:
                headers = {}
                if isinstance(error, QueueFullError):
                    headers["Retry-After"] = str(max(1, math.ceil(error.retry_after)))
                return JSONResponse(
                    {"success": False, "reason": error.message},
                    status_code=error.status_hint,
                    headers=headers,
                )
        return _answer(result)

    return Route(path, start, methods=["POST"])


def start_app(
    starter: SessionStarter,
    submit: EventSubmitter | None = None,
    *,
    allow_origins: Sequence[str] = ("*",),
) -> Starlette:
    """Return an ASGI app serving only the start route, with CORS for ``allow_origins``."""
    cors = Middleware(
        CORSMiddleware,
        allow_origins=list(allow_origins),
        allow_methods=["POST"],
        allow_headers=["Content-Type", "Content-Encoding"],
    )
    return Starlette(routes=[start_route(starter, submit)], middleware=[cors])


def _answer(result: StartResult) -> Response:
    return JSONResponse(result.body, status_code=result.status)


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
