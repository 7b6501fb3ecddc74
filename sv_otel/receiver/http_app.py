"""OTLP/HTTP as an ASGI app: ``POST /v1/logs``, ``/v1/traces`` and ``/v1/metrics``.

Protobuf (``application/x-protobuf``) and JSON (``application/json``) share the port; the
``Content-Type`` picks the decoder, and the response (success or ``google.rpc.Status`` error) is
in the same encoding. Requests are answered in this order:

====================================================  =======================================
condition                                             answer
====================================================  =======================================
method other than POST (OPTIONS when CORS is on is    405, ``Allow: POST``
answered by the CORS layer)
unknown path                                          404
``Content-Type`` neither protobuf nor JSON            415 (a JSON ``Status``)
bearer token required and missing or wrong            401, ``WWW-Authenticate: Bearer``
a signal without a sink (see ``create_http_app``)     404 (a ``Status``)
body over ``max_request_bytes`` (raw or unzipped)     413
body slower than ``read_timeout``                     408, connection closed
client gone before the end of its body                none it can read (counted ``invalid``)
requests in flight hold ``max_in_flight_bytes``       503 + ``Retry-After: 1``
unsupported ``Content-Encoding``, corrupt gzip,       400 with ``Status`` + ``BadRequest``
undecodable body
sink full                                             503 + ``Retry-After: <seconds>``
otherwise                                             200 with ``Export*ServiceResponse``
                                                      (``partial_success`` when records were
                                                      rejected)
====================================================  =======================================

Serve it with uvicorn (:class:`~sv_otel.receiver.server.OTLPReceiver` does) or test it through
``httpx.ASGITransport``. ``sv-otel serve`` adds its ``/healthz``, ``/readyz`` and ``/metrics``
routes (``extra_routes``).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence

import grpc
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from sv_otel.decompress import decode_body
from sv_otel.receiver.auth import check_bearer
from sv_otel.receiver.body import read_body
from sv_otel.receiver.handler import ExportHandler, Sinks
from sv_otel.receiver.metrics import count_request
from sv_otel.receiver.settings import ReceiverSettings
from sv_otel.receiver.signals import BY_PATH, SIGNALS, Signal
from sv_otel.receiver.status import (
    Failure,
    encode_status,
    failure_for,
    not_served,
    retry_after_header,
)
from sv_otel.server.deadline import body_deadline

__all__ = ["JSON", "PROTOBUF", "create_http_app"]

JSON = "application/json"
PROTOBUF = "application/x-protobuf"
_MEDIA_TYPES = {JSON: JSON, PROTOBUF: PROTOBUF, "application/protobuf": PROTOBUF}
_CORS_HEADERS = ("Content-Type", "Content-Encoding", "Authorization")
# gRPC codes for the ``Status`` bodies of failures that have no exception class.
_UNIMPLEMENTED = grpc.StatusCode.UNIMPLEMENTED
_INVALID_ARGUMENT = grpc.StatusCode.INVALID_ARGUMENT
_NOT_FOUND = grpc.StatusCode.NOT_FOUND
_DISCONNECTED = Failure(
    400, _INVALID_ARGUMENT, "body: the client disconnected before sending all of it", "invalid"
)
"""Counted like any invalid request; the answer itself reaches no one."""

Endpoint = Callable[[Request], Awaitable[Response]]


def create_http_app(
    sink: Sinks,
    settings: ReceiverSettings | None = None,
    *,
    extra_routes: Sequence[BaseRoute] = (),
) -> Starlette:
    """Build the OTLP/HTTP ASGI app.

    Args:
        sink: where converted events go (:class:`~sv_otel.EventSink`), or a sink per signal
            name (``{"logs": ..., "traces": ...}``); a signal without one is answered 404.
        settings: limits, bearer token and CORS (addresses and TLS are the server's business);
            default :class:`~sv_otel.receiver.settings.ReceiverSettings` ``()``.
        extra_routes: more routes served by the same app (they are not OTLP endpoints).
    """
    settings = settings or ReceiverSettings()
    handler = ExportHandler(sink, max_in_flight_bytes=settings.max_in_flight_bytes)
    routes = [
        *extra_routes,
        *(
            Route(signal.path, _endpoint(signal, handler, settings), methods=["POST"])
            for signal in SIGNALS
        ),
    ]
    app = Starlette(
        routes=routes,
        middleware=_cors(settings),
        exception_handlers={HTTPException: _http_exception},
    )
    # "/v1/logs/" is a wrong path, as it is to the Collector: answer 404 naming the right one,
    # not a redirect (whose Location, built from the Host header, may not even be reachable).
    app.router.redirect_slashes = False
    return app


def _endpoint(signal: Signal, handler: ExportHandler, settings: ReceiverSettings) -> Endpoint:
    limit = settings.max_request_bytes
    read_timeout = settings.read_timeout
    token = settings.bearer_token
    served = handler.serves(signal)

    async def export(request: Request) -> Response:
        media_type = _media_type(request.headers.get("content-type"))
        json = media_type != PROTOBUF
        try:
            if media_type is None:
                return _failure(signal, _unsupported_media_type(request), json=True)
            check_bearer(request.headers.get("authorization"), token)
            if not served:
                return _failure(signal, not_served(signal), json=json)
            with handler.in_flight.hold() as hold:
                headers = request.headers
                with body_deadline(read_timeout):
                    raw = await read_body(
                        request.stream(), headers.get("content-length"), limit, hold.take
                    )
                data = decode_body(raw, headers.get("content-encoding"), limit)
                if data is not raw:
                    hold.take(len(data))
                body, partial = await handler.export(signal, data, json=json, hold=hold)
        except ClientDisconnect:  # the client went away mid-body: nothing went wrong here
            return _failure(signal, _DISCONNECTED, json=json)
        except Exception as error:  # every failure becomes an OTLP status, never a crash
            return _failure(signal, failure_for(error), json=json)
        count_request("http", signal.name, "partial" if partial else "ok")
        return Response(body, 200, media_type=media_type)

    return export


def _failure(
    signal: Signal, failure: Failure, *, json: bool, headers: dict[str, str] | None = None
) -> Response:
    count_request("http", signal.name, failure.outcome)
    headers = dict(headers or {})
    if failure.retry_after is not None:
        headers["Retry-After"] = retry_after_header(failure.retry_after)
    if failure.http_status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    elif failure.http_status == 408:
        headers["Connection"] = "close"  # the rest of a slow body is not waited for
    return Response(
        encode_status(failure, json=json),
        failure.http_status,
        headers=headers,
        media_type=JSON if json else PROTOBUF,
    )


def _media_type(content_type: str | None) -> str | None:
    if content_type is None:
        return None
    return _MEDIA_TYPES.get(content_type.partition(";")[0].strip().lower())


def _unsupported_media_type(request: Request) -> Failure:
    given = request.headers.get("content-type")
    shown = "missing" if given is None else f"{given[:100]!r} is not supported"
    return Failure(
        415, _INVALID_ARGUMENT, f"Content-Type: {shown}; use {PROTOBUF} or {JSON}", "unsupported"
    )


async def _http_exception(request: Request, exc: Exception) -> Response:
    """Starlette's own 404 / 405, answered as OTLP ``Status`` bodies and counted."""
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    json = _media_type(request.headers.get("content-type")) != PROTOBUF
    signal = BY_PATH.get(request.url.path)
    if status == 405 and signal is not None:
        failure = Failure(405, _UNIMPLEMENTED, f"{request.method}: use POST", "unsupported")
        return _failure(signal, failure, json=json, headers={"Allow": "POST"})
    path = request.url.path
    message = f"{path[:200]}: no such endpoint"
    meant = BY_PATH.get(path.rstrip("/"))
    if meant is not None:
        message += f" (the OTLP/HTTP path is {meant.path})"
    failure = Failure(status, _NOT_FOUND, message, "unsupported")
    return Response(
        encode_status(failure, json=json), status, media_type=JSON if json else PROTOBUF
    )


def _cors(settings: ReceiverSettings) -> list[Middleware]:
    origins = settings.cors_allowed_origins
    if not origins:
        return []
    exact = ["*"] if "*" in origins else [o for o in origins if "*" not in o]
    patterns = [re.escape(o).replace(r"\*", r"[^/]+") for o in origins if "*" in o and o != "*"]
    return [
        Middleware(
            CORSMiddleware,
            allow_origins=exact,
            allow_origin_regex="|".join(f"(?:{p})" for p in patterns) or None,
            allow_methods=["POST"],
            allow_headers=[*_CORS_HEADERS, *settings.cors_allowed_headers],
            expose_headers=["Retry-After"],
            max_age=settings.cors_max_age,
        )
    ]
