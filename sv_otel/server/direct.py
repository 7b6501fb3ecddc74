"""The routes the HTTP protocol answers itself, without ASGI: the contract between them.

A :class:`DirectRoute` is a path that :func:`sv_otel.server.protocol.http_protocol` answers on
its own for ``POST`` and ``OPTIONS`` (the ingest endpoint, the OTLP/HTTP receiver's paths). A
request's life on a direct route::

    headers complete   route.begin(method, headers) -> an Answer (done), or a PendingRequest
    body arrives       collected; over request.max_bytes -> request.too_large()
    message complete   request.finish(body, respond) -> an Answer, or None and respond() later
    body too slow      request.timed_out() after request.timeout seconds
    client gone        request.abandon() (unless finish already has it)

:class:`Exchange` is one such request in the protocol's bookkeeping, where uvicorn keeps an ASGI
request-response cycle; :func:`render_answer` writes an :class:`Answer` as uvicorn would.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from uvicorn.protocols.http.httptools_impl import (
    HEADER_VALUE_RE,
    STATUS_LINE,
    RequestResponseCycle,
)

__all__ = ["Answer", "DirectRoute", "Exchange", "PendingRequest", "render_answer"]

_JSON = b"content-type: application/json\r\ncontent-length: "


@dataclass(slots=True)
class Answer:
    """A response: status, JSON body (empty for 204) and extra headers."""

    status: int
    body: bytes
    headers: dict[str, str]


class PendingRequest(Protocol):
    """A request on a direct route whose body is being read (see the module docstring)."""

    max_bytes: int
    """The largest body accepted."""
    timeout: float
    """Seconds the whole body may take."""

    def finish(self, body: bytes, respond: Callable[[Answer], None]) -> Answer | None:
        """Handle the complete body: the answer, or None when ``respond`` will be called."""
        ...

    def too_large(self) -> Answer:
        """The answer when the body grows over ``max_bytes``."""
        ...

    def timed_out(self) -> Answer:
        """The answer when the body took longer than ``timeout``."""
        ...

    def abandon(self) -> None:
        """The client went away before the body was complete."""
        ...


class DirectRoute(Protocol):
    """A path answered by the protocol itself (see the module docstring)."""

    def begin(self, method: str, headers: dict[str, str]) -> Answer | PendingRequest:
        """Check a request by its method and lower-cased headers, before its body."""
        ...


class _Unused(asyncio.Event):
    """Stands in for the cycle's message event, which nothing waits on for a direct route."""

    def set(self) -> None:
        """Nothing to wake."""


_UNUSED = _Unused()


class Exchange(RequestResponseCycle):
    """One request on a direct route.

    It takes the place of uvicorn's ``RequestResponseCycle`` in the protocol's bookkeeping
    (``self.cycle``, the pipeline, ``connection_lost``, ``shutdown``), which reads only
    ``response_complete``, ``disconnected``, ``keep_alive`` and ``message_event``; uvicorn's own
    constructor is not run, since the ASGI side of a cycle is never used.
    """

    def __init__(self, route: DirectRoute, method: str, headers: list[tuple[bytes, bytes]]):
        self.route = route
        self.method = method
        self.request_headers = headers
        self.keep_alive = True
        self.expect_continue = False
        self.request: PendingRequest | None = None
        self.finishing = False
        self.chunks: list[bytes] = []
        self.size = 0
        self.complete = False
        self.response_complete = False
        self.disconnected = False
        self.message_event = _UNUSED
        self.timer: asyncio.TimerHandle | None = None


def render_answer(
    answer: Answer, default_headers: Sequence[tuple[bytes, bytes]], keep_alive: bool
) -> bytes | None:
    """The bytes uvicorn would write for ``answer`` through ASGI: status line, its default
    headers (``server_state.default_headers``), the answer's headers, ``content-type`` and
    ``content-length`` (not on a 204), ``connection: close`` unless ``keep_alive``, then the body.

    Returns:
        The response, or None when a header value holds a character uvicorn refuses (uvicorn
        then closes the connection without an answer, and so must the caller).
    """
    parts = [STATUS_LINE[answer.status]]
    for name, value in default_headers:
        parts += (name, b": ", value, b"\r\n")
    for key, text in answer.headers.items():
        value = text.encode("latin-1")
        if HEADER_VALUE_RE.search(value):
            return None
        parts += (key.lower().encode("latin-1"), b": ", value, b"\r\n")
    if answer.status != 204:
        parts += (_JSON, b"%d" % len(answer.body), b"\r\n")
    if not keep_alive:
        parts.append(b"connection: close\r\n")
    parts += (b"\r\n", answer.body)
    return b"".join(parts)
