"""Bounded decompression of bodies.

:func:`decompress_body` reads sessionvision batches (gzip by header or by its magic bytes);
:func:`decode_body` undoes an HTTP ``Content-Encoding`` (gzip or deflate): OTLP/HTTP requests,
and the answers the OTLP/HTTP exporter reads. The limit applies to the decompressed bytes and is
enforced while decompressing, so a gzip bomb (1 GB of zeros in 1 MB) costs at most the limit of
memory and the time to produce it.
"""

from __future__ import annotations

import zlib
from typing import Final

from sv_otel.errors import InvalidBatchError, PayloadTooLargeError, UnsupportedEncodingError

__all__ = ["ENCODINGS", "GZIP_MAGIC", "MAX_GZIP_MEMBERS", "decode_body", "decompress_body"]

GZIP_MAGIC = b"\x1f\x8b"
_GZIP_NAMES = frozenset({"gzip", "x-gzip"})
_IDENTITY_NAMES = frozenset({"", "identity"})

ENCODINGS: Final = frozenset({"", "identity", "gzip", "x-gzip", "deflate"})
"""The ``Content-Encoding`` values :func:`decode_body` reads (gzip is the one OTLP requires)."""
_FEED_BYTES = 64 * 1024

MAX_GZIP_MEMBERS = 1024
"""The most gzip members a body may hold. Senders write one (browsers' ``CompressionStream``,
the OTel exporters, ``gzip``); thousands of empty ones would only cost time to walk."""


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
    """Decode every gzip member of ``body`` within one output budget, in time linear in its size.

    A gzip file may hold several members back to back. Each decoder is fed bounded slices of a
    view of the body, so what it leaves over (its ``unused_data``, a copy) is at most one slice:
    handing each member the rest of the body would copy it once per member, quadratic in a
    body of thousands of empty members. Trailing NUL padding is accepted, as ``gunzip`` does.
    """
    view = memoryview(body)
    size = len(body)
    chunks: list[bytes] = []
    budget = max_bytes
    offset = 0
    members = 0
    try:
        while True:
            members += 1
            if members > MAX_GZIP_MEMBERS:
                raise InvalidBatchError(f"body: more than {MAX_GZIP_MEMBERS} gzip members")
            decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
            while not decoder.eof:
                if offset >= size:
                    raise InvalidBatchError("body: truncated gzip stream")
                piece = view[offset : offset + _FEED_BYTES]
                chunk = decoder.decompress(piece, budget + 1)
                if len(chunk) > budget:
                    raise PayloadTooLargeError(
                        f"body: decompresses to more than the limit of {max_bytes} bytes"
                    )
                chunks.append(chunk)
                budget -= len(chunk)
                # Within the budget, the decoder took all it was given but what follows its end.
                offset += len(piece) - len(decoder.unused_data)
            if offset == size or (
                body[offset] == 0 and body.count(b"\x00", offset) == size - offset
            ):
                break
    except zlib.error as exc:
        raise InvalidBatchError(f"body: invalid gzip data ({exc})") from None
    return b"".join(chunks)


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
