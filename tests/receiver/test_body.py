"""Bounded body reading and decompression, including gzip bombs."""

from __future__ import annotations

import asyncio
import gzip
import zlib
from collections.abc import AsyncIterator

import pytest

from sv_otel.errors import InvalidBatchError, PayloadTooLargeError, UnsupportedEncodingError
from sv_otel.receiver.body import decode_body, read_body


async def _chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


def _read(*parts: bytes, length: str | None = None, limit: int = 10) -> bytes:
    return asyncio.run(read_body(_chunks(*parts), length, limit))


def test_read_body_within_the_limit() -> None:
    assert _read(b"12345", b"67890") == b"1234567890"
    assert _read(b"", length="0") == b""


def test_read_body_refuses_a_large_content_length_before_reading() -> None:
    with pytest.raises(PayloadTooLargeError) as caught:
        _read(length="11")
    assert caught.value.message == "body: Content-Length 11 is over the limit of 10 bytes"


def test_read_body_stops_streaming_at_the_limit() -> None:
    with pytest.raises(PayloadTooLargeError) as caught:
        _read(b"123456", b"78901", length=None)
    assert caught.value.message == "body: more than the limit of 10 bytes"


@pytest.mark.parametrize("encoding", [None, "", "identity", "IDENTITY"])
def test_identity(encoding: str | None) -> None:
    assert decode_body(b"\x0a\x00", encoding, 10) == b"\x0a\x00"


@pytest.mark.parametrize("encoding", ["gzip", "x-gzip", " GZIP "])
def test_gzip(encoding: str) -> None:
    assert decode_body(gzip.compress(b"payload"), encoding, 10) == b"payload"


def test_deflate_zlib_and_raw() -> None:
    raw = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    raw_stream = raw.compress(b"payload") + raw.flush()
    assert decode_body(zlib.compress(b"payload"), "deflate", 10) == b"payload"
    assert decode_body(raw_stream, "deflate", 10) == b"payload"


def test_exactly_the_limit_passes_one_more_byte_fails() -> None:
    assert decode_body(gzip.compress(b"x" * 1024), "gzip", 1024) == b"x" * 1024
    with pytest.raises(PayloadTooLargeError) as caught:
        decode_body(gzip.compress(b"x" * 1025), "gzip", 1024)
    assert caught.value.message == "body: decompresses to more than the limit of 1024 bytes"


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_bombs_stop_at_the_limit(encoding: str) -> None:
    bomb = (
        gzip.compress(bytes(64 * 1024 * 1024), compresslevel=9)
        if encoding == "gzip"
        else zlib.compress(bytes(64 * 1024 * 1024), 9)
    )
    assert len(bomb) < 100_000
    with pytest.raises(PayloadTooLargeError) as caught:
        decode_body(bomb, encoding, 1024 * 1024)
    assert caught.value.message == ("body: decompresses to more than the limit of 1048576 bytes")


@pytest.mark.parametrize(
    ("body", "encoding", "message"),
    [
        (
            b"not gzip",
            "gzip",
            "body: invalid gzip data (Error -3 while decompressing data: incorrect header check)",
        ),
        (gzip.compress(b"payload")[:-12], "gzip", "body: truncated gzip stream"),
        (
            b"\x78garbage",
            "deflate",
            "body: invalid deflate data (Error -3 while decompressing "
            "data: incorrect header check)",
        ),
        (zlib.compress(b"payload")[:-3], "deflate", "body: truncated deflate stream"),
    ],
)
def test_corrupt_streams(body: bytes, encoding: str, message: str) -> None:
    with pytest.raises(InvalidBatchError) as caught:
        decode_body(body, encoding, 100)
    assert caught.value.message == message
    assert not isinstance(caught.value, PayloadTooLargeError)


@pytest.mark.parametrize("encoding", ["br", "zstd", "gzip, br"])
def test_unsupported_encodings(encoding: str) -> None:
    with pytest.raises(UnsupportedEncodingError) as caught:
        decode_body(b"x", encoding, 100)
    assert caught.value.message == (
        f"Content-Encoding: unsupported encoding {encoding!r}; use gzip, deflate or identity"
    )
