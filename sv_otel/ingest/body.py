"""Reading a request body from ASGI with a size cap and a deadline.

A client that announces or sends more than ``max_bytes`` gets 413 without the server buffering
the excess; one that trickles its body (slow-loris) gets 408 once ``timeout`` seconds pass.
"""

from __future__ import annotations

import asyncio

from starlette.requests import ClientDisconnect, Request

from sv_otel.errors import InvalidBatchError, PayloadTooLargeError, RequestTimeoutError

__all__ = ["read_body"]


async def read_body(request: Request, max_bytes: int, timeout: float) -> bytes:
    """The whole body of ``request``.

    Raises:
        PayloadTooLargeError: ``Content-Length`` or the bytes received exceed ``max_bytes``.
        RequestTimeoutError: the body took longer than ``timeout`` seconds.
        InvalidBatchError: the client went away or sent a bad ``Content-Length``.
    """
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.strip().isdigit():
            raise InvalidBatchError(f"Content-Length: not a number ({declared!r})")
        if int(declared) > max_bytes:
            raise PayloadTooLargeError(
                f"body: Content-Length {int(declared)} is over the limit of {max_bytes} bytes"
            )
    try:
        return await asyncio.wait_for(_collect(request, max_bytes), timeout)
    except asyncio.TimeoutError:
        raise RequestTimeoutError(f"body: not received within {timeout:g} seconds") from None
    except ClientDisconnect:
        raise InvalidBatchError("body: the client disconnected before sending it") from None


async def _collect(request: Request, max_bytes: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise PayloadTooLargeError(f"body: over the limit of {max_bytes} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
