"""Reading an OTLP/HTTP request body within the size limit, and decompressing it within it too.

The limit is checked three times, each before the memory it protects is spent: against
``Content-Length`` (nothing is read), while streaming the raw body, and while decompressing, so a
gzip bomb costs at most the limit in memory.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator, Callable
from typing import Final

from sv_otel.decompress import decompress_body
from sv_otel.errors import InvalidBatchError, PayloadTooLargeError, UnsupportedEncodingError

__all__ = ["ENCODINGS", "decode_body", "read_body"]

ENCODINGS: Final = frozenset({"", "identity", "gzip", "x-gzip", "deflate"})
"""The ``Content-Encoding`` values accepted (gzip is the one OTLP requires)."""


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


def decode_body(raw: bytes, content_encoding: str | None, limit: int) -> bytes:
    """Undo the ``Content-Encoding`` of a body, producing at most ``limit`` bytes.

    Raises:
        UnsupportedEncodingError: an encoding other than gzip, deflate or identity.
        PayloadTooLargeError: the decompressed body is over ``limit``.
        InvalidBatchError: a corrupt or truncated compressed stream.
    """
    encoding = (content_encoding or "").strip().lower()
    if encoding not in ENCODINGS:
        raise UnsupportedEncodingError(
            f"Content-Encoding: unsupported encoding {content_encoding!r}; "
            "use gzip, deflate or identity"
        )
    if encoding == "deflate":
        return _inflate(raw, limit)
    return decompress_body(raw, encoding, limit)


def _inflate(raw: bytes, limit: int) -> bytes:
    # HTTP "deflate" is the zlib format; some clients send raw deflate: accept both.
    wbits = zlib.MAX_WBITS if raw[:1] == b"\x78" else -zlib.MAX_WBITS
    decoder = zlib.decompressobj(wbits)
    try:
        data = decoder.decompress(raw, limit + 1)
    except zlib.error as exc:
        raise InvalidBatchError(f"body: invalid deflate data ({exc})") from None
    if len(data) > limit:
        raise PayloadTooLargeError(f"body: decompresses to more than the limit of {limit} bytes")
    if not decoder.eof:
        raise InvalidBatchError("body: truncated deflate stream")
    return data
