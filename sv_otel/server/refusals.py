"""The answers the HTTP protocol gives on its own, before any route is known (408, 431).

A server chooses how their bodies look with a :data:`Refusal`: the gateway's JSON error body
(:func:`json_refusal`, the default) or, on the OTLP receiver, a ``google.rpc.Status``
(:func:`sv_otel.receiver.status.protocol_refusal`). :func:`closing_answer` renders the whole
response once, when the protocol class is made.
"""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus
from typing import Final

import msgspec

__all__ = ["Refusal", "closing_answer", "json_refusal"]

_CLOSING_ANSWER: Final = (
    b"HTTP/1.1 %d %s\r\ncontent-type: %s\r\nconnection: close\r\ncontent-length: %d\r\n\r\n%s"
)

Refusal = Callable[[int, str, str], tuple[str, bytes]]
"""Renders an answer the protocol gives on its own (a 408 or 431, before any route is known):
``(status, error, message)`` to ``(content type, body)``. ``error`` is the status in snake case
(``request_timeout``), ``message`` names the problem (``headers: over 65536 bytes``)."""


def json_refusal(status: int, error: str, message: str) -> tuple[str, bytes]:
    """The gateway's JSON error body: ``{"status": ..., "error": ..., "message": ...}``."""
    body = msgspec.json.encode({"status": status, "error": error, "message": message})
    return "application/json", body


def closing_answer(refusal: Refusal, status: HTTPStatus, message: str) -> bytes:
    """A whole response with ``connection: close``, its body rendered by ``refusal``."""
    error = status.phrase.lower().replace(" ", "_")
    content_type, body = refusal(status.value, error, message)
    return _CLOSING_ANSWER % (
        status.value,
        status.phrase.encode("ascii"),
        content_type.encode("ascii"),
        len(body),
        body,
    )
