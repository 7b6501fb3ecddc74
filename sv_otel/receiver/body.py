"""Reading an OTLP/HTTP request body within the size limit.

The limit is checked three times, each before the memory it protects is spent: against
``Content-Length`` (nothing is read), while streaming the raw body, and while decompressing
(:func:`sv_otel.decompress.decode_body`), so a gzip bomb costs at most the limit in memory.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from sv_otel.errors import PayloadTooLargeError

__all__ = ["read_body"]


async def read_body(
    chunks: AsyncIterator[bytes],
    content_length: str | None,
    limit: int,
    take: Callable[[int], None] | None = None,
) -> bytes:
    """Collect a request body of at most ``limit`` bytes.

    Args:
        chunks: the body as it arrives.
        content_length: the ``Content-Length`` header, if any.
        limit: the largest body accepted.
        take: called with the size of each chunk before it is kept (it may refuse by raising,
            e.g. :meth:`sv_otel.receiver.admission.Hold.take`).

    Raises:
        PayloadTooLargeError: ``Content-Length`` or the bytes received exceed ``limit``.
    """
    if content_length is not None and content_length.strip().isdigit():
        declared = int(content_length)
        if declared > limit:
            raise PayloadTooLargeError(
                f"body: Content-Length {declared} is over the limit of {limit} bytes"
            )
    parts: list[bytes] = []
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise PayloadTooLargeError(f"body: more than the limit of {limit} bytes")
        if take is not None:
            take(len(chunk))
        parts.append(chunk)
    return b"".join(parts)
