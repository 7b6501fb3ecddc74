"""Bounded body reading: Content-Length, then the bytes as they stream in."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from sv_otel.errors import PayloadTooLargeError
from sv_otel.receiver.body import read_body


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
