"""Reading a request body from ASGI ``receive`` with a size cap and a deadline.

A client that announces or sends more than ``max_bytes`` gets 413 without the server buffering
the excess; one that trickles its body (slow-loris) gets 408 once ``timeout`` seconds pass
(:func:`sv_otel.server.deadline.body_deadline`).
"""

from __future__ import annotations

from starlette.types import Receive

from sv_otel.errors import InvalidBatchError, PayloadTooLargeError
from sv_otel.server.deadline import body_deadline

__all__ = ["body_too_large", "check_content_length", "read_body"]


async def read_body(
    receive: Receive, content_length: str | None, max_bytes: int, timeout: float
) -> bytes:
    """The whole body of the request ``receive`` belongs to.

    Args:
        receive: the ASGI receive callable.
        content_length: the ``Content-Length`` header, if any.
        max_bytes: the largest body accepted.
        timeout: seconds the whole body may take.

    Raises:
        PayloadTooLargeError: ``Content-Length`` or the bytes received exceed ``max_bytes``.
        RequestTimeoutError: the body took longer than ``timeout`` seconds.
        InvalidBatchError: the client went away or sent a bad ``Content-Length``.
    """
    check_content_length(content_length, max_bytes)
    with body_deadline(timeout):
        return await _collect(receive, max_bytes)


def check_content_length(content_length: str | None, max_bytes: int) -> None:
    """Check a ``Content-Length`` header before the body is read.

    Raises:
        InvalidBatchError: not a number.
        PayloadTooLargeError: over ``max_bytes``.
    """
    if content_length is not None:
        if not content_length.strip().isdigit():
            raise InvalidBatchError(f"Content-Length: not a number ({content_length!r})")
        if int(content_length) > max_bytes:
            raise PayloadTooLargeError(
                f"body: Content-Length {int(content_length)} is over the limit of {max_bytes} bytes"
            )


def body_too_large(max_bytes: int) -> PayloadTooLargeError:
    """The error for a body that grew over ``max_bytes`` while it was read."""
    return PayloadTooLargeError(f"body: over the limit of {max_bytes} bytes")


async def _collect(receive: Receive, max_bytes: int) -> bytes:
    message = await receive()
    if message["type"] == "http.request" and not message.get("more_body", False):
        body: bytes = message.get("body", b"")  # the usual case: all in one message
        if len(body) > max_bytes:
            raise body_too_large(max_bytes)
        return body
    chunks: list[bytes] = []
    size = 0
    while True:
        if message["type"] != "http.request":
            raise InvalidBatchError("body: the client disconnected before sending it")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > max_bytes:
            raise body_too_large(max_bytes)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)
        message = await receive()
