"""Project tokens: where they are read from and how they are checked."""

from __future__ import annotations

import pytest

from sv_otel.errors import AuthenticationError, PermissionDeniedError
from sv_otel.ingest.auth import TokenCheck, bearer_token


@pytest.mark.parametrize(
    ("header", "token"),
    [
        ("Bearer abc", "abc"),
        ("bearer   abc  ", "abc"),
        ("Basic abc", None),
        ("Bearer", None),
        ("Bearer    ", None),
        ("", None),
        (None, None),
    ],
)
def test_bearer_token(header: str | None, token: str | None) -> None:
    assert bearer_token(header) == token


def test_no_configured_token_means_open() -> None:
    check = TokenCheck([])
    assert not check.required
    check.check(None)
    check.check("anything")


def test_configured_tokens_are_required_and_compared_exactly() -> None:
    check = TokenCheck(["sv_pub_1", "sv_pub_2"], header="X-Key")
    check.check("sv_pub_2")
    with pytest.raises(AuthenticationError) as missing:
        check.check(None)
    assert not isinstance(missing.value, PermissionDeniedError)
    assert "X-Key: <token>" in missing.value.message
    with pytest.raises(PermissionDeniedError):
        check.check("sv_pub_")
    with pytest.raises(PermissionDeniedError):
        check.check("sv_pub_1 ")
