"""Signed session tokens: round trip, expiry, forgery, malformed input, wrong secret."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable
from typing import Any, cast

import pytest

from sv_otel.errors import ConfigurationError, InvalidSessionTokenError
from sv_otel.sessions.token import (
    check_session_token,
    session_token_verifier,
    sign_session_token,
    verify_session_token,
)

SECRET = b"0123456789abcdef0123456789abcdef"
OTHER = b"fedcba9876543210fedcba9876543210"
NOW = 1_700_000_000.0


def _token(session_id: str = "a1b2c3d4-e5f6-4711-8899-aabbccddeeff", ttl: int = 60) -> str:
    return sign_session_token(session_id, secret=SECRET, ttl_seconds=ttl, now=NOW)


def test_a_token_verifies_to_its_session_id_until_it_expires() -> None:
    token = _token(ttl=60)
    assert verify_session_token(token, secret=SECRET, now=NOW) == (
        "a1b2c3d4-e5f6-4711-8899-aabbccddeeff"
    )
    assert verify_session_token(token, secret=SECRET, now=NOW + 59.999) is not None
    assert verify_session_token(token, secret=SECRET, now=NOW + 60) is None
    assert check_session_token(token, secret=SECRET, now=NOW) == (
        "a1b2c3d4-e5f6-4711-8899-aabbccddeeff",
        int(NOW) + 60,
    )


def test_the_token_layout_is_version_id_expiry_mac() -> None:
    token = _token("s.1/ü", ttl=5)
    version, encoded, expiry, mac = token.split(".")
    assert version == "v1"
    assert base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode() == "s.1/ü"
    assert expiry == str(int(NOW) + 5)
    signed = f"v1.{encoded}.{expiry}".encode()
    expected = hmac.new(SECRET, signed, hashlib.sha256).digest()
    assert base64.urlsafe_b64decode(mac + "=") == expected
    assert verify_session_token(token, secret=SECRET, now=NOW) == "s.1/ü"


def test_a_wrong_secret_does_not_verify() -> None:
    assert verify_session_token(_token(), secret=OTHER, now=NOW) is None
    with pytest.raises(InvalidSessionTokenError, match=r"^invalid signature$"):
        check_session_token(_token(), secret=OTHER, now=NOW)


def _forge_expiry(token: str) -> str:
    version, encoded, expiry, mac = token.split(".")
    return f"{version}.{encoded}.{int(expiry) + 3600}.{mac}"


def _forge_id(token: str) -> str:
    version, _, expiry, mac = token.split(".")
    other = base64.urlsafe_b64encode(b"someone-else").rstrip(b"=").decode()
    return f"{version}.{other}.{expiry}.{mac}"


def _flip_mac(token: str) -> str:
    head, mac = token.rsplit(".", 1)
    return f"{head}.{('A' if mac[0] != 'A' else 'B')}{mac[1:]}"


def _resign_with(secret: bytes) -> str:
    return sign_session_token("a1b2c3d4-e5f6-4711-8899-aabbccddeeff", secret=secret,
                              ttl_seconds=60, now=NOW)  # fmt: skip


def _alternate_last_char(token: str) -> str:
    # The last base64 character of a 32-byte MAC carries 2 padding bits: another spelling of
    # the same bytes must not verify.
    head, mac = token.rsplit(".", 1)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    index = alphabet.index(mac[-1])
    return f"{head}.{mac[:-1]}{alphabet[index ^ 1]}"


@pytest.mark.parametrize(
    "forge",
    [_forge_expiry, _forge_id, _flip_mac, _alternate_last_char],
    ids=["extended-expiry", "other-session", "flipped-mac", "mac-respelled"],
)
def test_forged_tokens_are_rejected(forge: Callable[[str], str]) -> None:
    forged = forge(_token())
    assert forged != _token()
    assert verify_session_token(forged, secret=SECRET, now=NOW) is None
    with pytest.raises(InvalidSessionTokenError, match=r"^invalid signature$"):
        check_session_token(forged, secret=SECRET, now=NOW)


def test_a_token_signed_with_another_secret_is_rejected() -> None:
    assert verify_session_token(_resign_with(OTHER), secret=SECRET, now=NOW) is None


@pytest.mark.parametrize(
    "token",
    [
        "",
        "v1",
        "v1...",
        "v2.czE.1700000060.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "v1.czE.-5.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "v1.czE.\uff11\uff12.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "v1.czE.1700000060.short",
        "v1.czE.1700000060.AAAA.extra",
        "x" * 100_000,
        "v1.czE.1700000060.ÄAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "\x00\x01\x02",
    ],
    ids=[
        "empty", "one-part", "empty-parts", "other-version", "negative-expiry",
        "non-ascii-digits", "short-mac", "five-parts", "huge", "non-ascii-mac", "control",
    ],
)  # fmt: skip
def test_malformed_tokens_give_none_and_never_raise(token: str) -> None:
    assert verify_session_token(token, secret=SECRET, now=NOW) is None
    with pytest.raises(InvalidSessionTokenError, match=r"^not a session token$"):
        check_session_token(token, secret=SECRET, now=NOW)


@pytest.mark.parametrize("token", [None, 5, b"v1.a.b.c", ["v1"]])
def test_non_string_tokens_give_none(token: object) -> None:
    assert verify_session_token(cast(str, token), secret=SECRET, now=NOW) is None


def test_an_id_that_is_not_utf8_behind_a_valid_mac_is_rejected() -> None:
    encoded = base64.urlsafe_b64encode(b"\xff\xfe").rstrip(b"=").decode()
    signed = f"v1.{encoded}.{int(NOW) + 60}"
    mac = base64.urlsafe_b64encode(hmac.new(SECRET, signed.encode(), hashlib.sha256).digest())
    token = f"{signed}.{mac.rstrip(b'=').decode()}"
    assert verify_session_token(token, secret=SECRET, now=NOW) is None


def test_expired_tokens_say_so() -> None:
    with pytest.raises(InvalidSessionTokenError, match=r"^expired$"):
        check_session_token(_token(ttl=1), secret=SECRET, now=NOW + 1)


def test_the_verifier_binds_the_secret_and_reads_the_clock() -> None:
    now = [NOW]
    verify = session_token_verifier(SECRET, clock=lambda: now[0])
    token = _token(ttl=10)
    assert verify(token) == "a1b2c3d4-e5f6-4711-8899-aabbccddeeff"
    assert verify(_flip_mac(token)) is None
    now[0] = NOW + 10
    assert verify(token) is None
    assert session_token_verifier(OTHER, clock=lambda: NOW)(token) is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"secret": b"short"}, "session token secret: expected at least 16 bytes"),
        ({"secret": "a string secret!"}, "session token secret: expected at least 16 bytes"),
        ({"ttl_seconds": 0}, "ttl_seconds: expected a positive integer, got 0"),
        ({"ttl_seconds": 1.5}, "ttl_seconds: expected a positive integer, got 1.5"),
        ({"session_id": ""}, "session_id: expected a string of 1 to 256 characters"),
        ({"session_id": "x" * 257}, "session_id: expected a string of 1 to 256 characters"),
    ],
)
def test_signing_misconfiguration_fails_fast(kwargs: dict[str, Any], message: str) -> None:
    args: dict[str, Any] = {"session_id": "s1", "secret": SECRET, "ttl_seconds": 60}
    args.update(kwargs)
    with pytest.raises(ConfigurationError) as caught:
        sign_session_token(**args)
    assert caught.value.message == message


def test_a_verifier_with_a_short_secret_fails_fast_but_verify_does_not_raise() -> None:
    with pytest.raises(ConfigurationError, match="at least 16 bytes"):
        session_token_verifier(b"short")
    assert verify_session_token(_token(), secret=b"short", now=NOW) is None
