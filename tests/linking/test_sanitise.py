"""Id cleaning: the documented outcome for each kind of hostile value."""

from __future__ import annotations

import pytest

from sv_otel.linking.sanitise import MAX_ID_LENGTH, MAX_TOKEN_LENGTH, clean_id, clean_token


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("a1b2c3d4-e5f6-4711-8899-aabbccddeeff", "a1b2c3d4-e5f6-4711-8899-aabbccddeeff"),
        ("0123456789abcdef0123456789abcdef", "0123456789abcdef0123456789abcdef"),
        ("jane+shop@example.com", "jane+shop@example.com"),
        ("org:42~user_7.v2=", "org:42~user_7.v2="),
        ("  padded\t", "padded"),
        ("\x00sess\x1bion\x7f\x85", "session"),
        ("line\r\nbreak", "linebreak"),
        ("", None),
        ("   ", None),
        ("\x00\x01", None),
        ("=", None),
        ("-leading-dash", None),
        ("a,b", None),
        ("a/b", None),
        ("a b", None),
        ('"quoted"', None),
        ("caf\u00e9", None),
        ("\u0441\u0435\u0441\u0441\u0438\u044f", None),
        ("emoji\U0001f600", None),
        ("x" * MAX_ID_LENGTH, "x" * MAX_ID_LENGTH),
        ("x" * (MAX_ID_LENGTH + 1), None),
        ("x" * 10_000, None),
        (" " * 10_000 + "x", None),
        (None, None),
        (42, None),
        (b"bytes", None),
    ],
)
def test_clean_id(value: object, expected: str | None) -> None:
    assert clean_id(value) == expected


def test_an_over_long_value_is_rejected_not_truncated() -> None:
    assert clean_id("s" * (MAX_ID_LENGTH + 1)) is None
    assert clean_id("\x00" * 100 + "s" * MAX_ID_LENGTH) == "s" * MAX_ID_LENGTH


def test_tokens_may_be_longer_than_ids() -> None:
    token = "eyJ" + "a" * (MAX_TOKEN_LENGTH - 3)
    assert clean_id(token) is None
    assert clean_token(token) == token
    assert clean_token(token + "a") is None
