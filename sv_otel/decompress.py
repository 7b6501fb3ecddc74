"""Bounded decompression of request bodies.

The limit applies to the decompressed bytes and is enforced while decompressing, so a gzip bomb
(1 GB of zeros in 1 MB) costs at most ``max_bytes`` of memory and the time to produce them.
"""

from __future__ import annotations

import zlib

from sv_otel.errors import InvalidBatchError, PayloadTooLargeError, UnsupportedEncodingError

__all__ = ["GZIP_MAGIC", "decompress_body"]

GZIP_MAGIC = b"\x1f\x8b"
_GZIP_NAMES = frozenset({"gzip", "x-gzip"})
_IDENTITY_NAMES = frozenset({"", "identity"})


def decompress_body(body: bytes, content_encoding: str | None, max_bytes: int) -> bytes:
    """Return the decoded body, gunzipping it when the header or the magic bytes say gzip.

    Args:
        body: the raw request body.
        content_encoding: the ``Content-Encoding`` header, if any (case-insensitive).
        max_bytes: the largest decompressed size accepted.

    Raises:
        UnsupportedEncodingError: an encoding other than gzip or identity (415).
        PayloadTooLargeError: the body, before or after decompression, is over ``max_bytes`` (413).
        InvalidBatchError: a corrupt or truncated gzip stream (400).
    """
    encoding = (content_encoding or "").strip().lower()
    if encoding in _GZIP_NAMES or (encoding in _IDENTITY_NAMES and body[:2] == GZIP_MAGIC):
        return _gunzip(body, max_bytes)
    if encoding not in _IDENTITY_NAMES:
        raise UnsupportedEncodingError(
            f"Content-Encoding: unsupported encoding {content_encoding!r}; use gzip or identity"
        )
    if len(body) > max_bytes:
        raise PayloadTooLargeError(f"body: {len(body)} bytes, over the limit of {max_bytes} bytes")
    return body


def _gunzip(body: bytes, max_bytes: int) -> bytes:
    chunks: list[bytes] = []
    budget = max_bytes
    data = body
    try:
        # A gzip file may hold several members back to back; decode them all within one budget.
        while True:
            decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
            chunk = decoder.decompress(data, budget + 1)
            if len(chunk) > budget:
                raise PayloadTooLargeError(
                    f"body: decompresses to more than the limit of {max_bytes} bytes"
                )
            if not decoder.eof:
                raise InvalidBatchError("body: truncated gzip stream")
            chunks.append(chunk)
            budget -= len(chunk)
            data = decoder.unused_data
            if not data.strip(b"\x00"):
                break
    except zlib.error as exc:
        raise InvalidBatchError(f"body: invalid gzip data ({exc})") from None
    return b"".join(chunks)
