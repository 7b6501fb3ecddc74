"""Bounded decoding of bodies: gzip members and padding, deflate, bombs, costly shapes."""

from __future__ import annotations

import gzip
import os
import tracemalloc
import zlib

import pytest

from sv_otel.decompress import MAX_GZIP_MEMBERS, decode_body, decompress_body
from sv_otel.errors import InvalidBatchError, PayloadTooLargeError, UnsupportedEncodingError

EMPTY_MEMBER = gzip.compress(b"")


def test_members_are_decoded_in_order_and_nul_padding_is_ignored() -> None:
    body = gzip.compress(b"[1,") + gzip.compress(b"") + gzip.compress(b"2]") + bytes(100)
    assert decompress_body(body, "gzip", 1024) == b"[1,2]"


def test_a_member_larger_than_one_feed_is_decoded_whole() -> None:
    data = os.urandom(300_000)  # incompressible: the member spans several 64 KiB feeds
    body = gzip.compress(data) + gzip.compress(data[:10])
    assert decompress_body(body, "gzip", 1 << 20) == data + data[:10]


def test_the_budget_covers_all_members_together() -> None:
    body = gzip.compress(bytes(600)) + gzip.compress(bytes(600))
    with pytest.raises(PayloadTooLargeError, match="more than the limit of 1000 bytes"):
        decompress_body(body, "gzip", 1000)


def test_up_to_the_member_limit_is_accepted() -> None:
    body = gzip.compress(b"[]") + EMPTY_MEMBER * (MAX_GZIP_MEMBERS - 1)
    assert decompress_body(body, "gzip", 1024) == b"[]"


def test_one_member_over_the_limit_is_refused_naming_it() -> None:
    body = gzip.compress(b"[]") + EMPTY_MEMBER * MAX_GZIP_MEMBERS
    with pytest.raises(InvalidBatchError) as caught:
        decompress_body(body, "gzip", 1024)
    assert caught.value.message == f"body: more than {MAX_GZIP_MEMBERS} gzip members"
    assert type(caught.value) is InvalidBatchError
    assert caught.value.status_hint == 400


@pytest.mark.parametrize(
    ("tail", "message"),
    [
        (b"\x00\x00garbage", "body: invalid gzip data"),
        (b"garbage", "body: invalid gzip data"),
        (gzip.compress(b"[]")[:-3], "body: truncated gzip stream"),
    ],
    ids=["after-padding", "after-a-member", "truncated-member"],
)
def test_what_follows_a_member_must_be_a_member_or_padding(tail: bytes, message: str) -> None:
    with pytest.raises(InvalidBatchError, match=message):
        decompress_body(gzip.compress(b"[]") + tail, "gzip", 1024)


def test_a_member_never_holds_a_copy_of_the_rest_of_the_body() -> None:
    # Handing each member's decoder the rest of the body copies it once per member: with a
    # thousand members before 8 MiB of padding, 8 GB of copying. Fed in bounded slices, what a
    # decoder keeps is one slice, whatever follows.
    body = EMPTY_MEMBER * 1000 + bytes(8 << 20)
    tracemalloc.start()
    try:
        assert decompress_body(body, "gzip", 1024) == b""
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20, f"decoding took {peak} bytes at its peak"


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
