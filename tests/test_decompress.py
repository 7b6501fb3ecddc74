"""Bounded gzip decoding: several members, NUL padding, and bodies built to cost time."""

from __future__ import annotations

import gzip
import os
import tracemalloc

import pytest

from sv_otel.decompress import MAX_GZIP_MEMBERS, decompress_body
from sv_otel.errors import InvalidBatchError, PayloadTooLargeError

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
