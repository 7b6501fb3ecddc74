"""Bearer-token checks."""

from __future__ import annotations

import pytest

from sv_otel.errors import AuthenticationError
from sv_otel.receiver.auth import check_bearer


@pytest.mark.parametrize("header", [None, "", "Bearer s3cret", "whatever"])
def test_no_token_configured_accepts_anything(header: str | None) -> None:
    check_bearer(header, None)


@pytest.mark.parametrize("header", ["Bearer s3cret", "bearer s3cret", "BEARER  s3cret "])
def test_the_right_token_passes(header: str) -> None:
    check_bearer(header, "s3cret")


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (None, "authorization: missing; send 'Authorization: Bearer <token>'"),
        ("", "authorization: missing; send 'Authorization: Bearer <token>'"),
        ("Basic dXNlcjpwYXNz", "authorization: expected the Bearer scheme"),
        ("Bearer wrong", "authorization: invalid bearer token"),
        ("Bearer s3cret-and-more", "authorization: invalid bearer token"),
        ("Bearer \u00e9", "authorization: invalid bearer token"),
    ],
)
def test_wrong_or_missing_tokens_are_refused(header: str | None, message: str) -> None:
    with pytest.raises(AuthenticationError) as caught:
        check_bearer(header, "s3cret")
    assert caught.value.message == message
