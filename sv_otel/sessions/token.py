"""Signed session tokens: proof that sv_otel issued a session id, until an expiry time.

A token is four dot-separated fields::

    v1.<session id, base64url>.<expiry, epoch seconds>.<HMAC-SHA256, base64url>

The MAC covers ``v1.<session id>.<expiry>`` (the first three fields as written) under a secret
from the configuration, so a backend that knows the secret can trust the session id without asking
sv_otel. Verification compares MACs in constant time and never raises on bad input::

    token = sign_session_token("a1b2c3d4-...", secret=secret, ttl_seconds=86_400)
    verify_session_token(token, secret=secret)  # "a1b2c3d4-..."
    verify_session_token(token + "x", secret=secret)  # None

:func:`session_token_verifier` binds the secret for the linking propagator, which reads the
:data:`SESSION_TOKEN_HEADER` request header.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import string
import time
from collections.abc import Callable
from typing import Final, TypeAlias

from sv_otel.errors import ConfigurationError, InvalidSessionTokenError

__all__ = [
    "MIN_SECRET_BYTES",
    "SESSION_TOKEN_HEADER",
    "TokenVerifier",
    "check_session_token",
    "session_token_verifier",
    "sign_session_token",
    "verify_session_token",
]

SESSION_TOKEN_HEADER: Final = "X-Sessionvision-Session-Token"
"""The request header that carries a session token from the browser to backends."""

MIN_SECRET_BYTES: Final = 16
"""The shortest secret accepted (32 random bytes are recommended)."""

MAX_TOKEN_LENGTH: Final = 1024
"""Longer strings are rejected before any decoding."""

MAX_SESSION_ID_LENGTH: Final = 256
"""The longest session id a token can carry."""

TokenVerifier: TypeAlias = Callable[[str], "str | None"]
"""Takes a token, returns the verified session id or None (expired, forged or malformed)."""

_VERSION: Final = "v1"
_MAC_LENGTH: Final = 43  # base64url of 32 bytes, unpadded
_BASE64URL: Final = frozenset(string.ascii_letters + string.digits + "-_")


def sign_session_token(
    session_id: str, *, secret: bytes, ttl_seconds: int, now: float | None = None
) -> str:
    """Return a token for ``session_id`` that verifies until ``now + ttl_seconds``.

    Args:
        session_id: the session id, 1 to 256 characters.
        secret: the signing secret, at least :data:`MIN_SECRET_BYTES` bytes.
        ttl_seconds: how long the token stays valid, in whole seconds (at least 1).
        now: the current epoch time in seconds; default ``time.time()``.

    Raises:
        ConfigurationError: a bad secret, ``ttl_seconds`` or session id.
    """
    _check_secret(secret)
    if type(ttl_seconds) is not int or ttl_seconds < 1:
        raise ConfigurationError(f"ttl_seconds: expected a positive integer, got {ttl_seconds!r}")
    if type(session_id) is not str or not 0 < len(session_id) <= MAX_SESSION_ID_LENGTH:
        raise ConfigurationError(
            f"session_id: expected a string of 1 to {MAX_SESSION_ID_LENGTH} characters"
        )
    expiry = int(time.time() if now is None else now) + ttl_seconds
    signed = f"{_VERSION}.{_b64encode(session_id.encode())}.{expiry}"
    return f"{signed}.{_b64encode(_mac(secret, signed))}"


def verify_session_token(token: str, *, secret: bytes, now: float | None = None) -> str | None:
    """Return the session id of a valid, unexpired ``token``; None for anything else.

    Never raises on bad input: a non-string, an oversized, malformed, forged or expired token,
    or a secret that is too short all give None.
    """
    try:
        return check_session_token(token, secret=secret, now=now)[0]
    except (InvalidSessionTokenError, ConfigurationError):
        return None


def check_session_token(token: str, *, secret: bytes, now: float | None = None) -> tuple[str, int]:
    """Verify ``token`` and return its session id and expiry (epoch seconds).

    Raises:
        InvalidSessionTokenError: the token is malformed (``not a session token``), does not
            verify under ``secret`` (``invalid signature``) or has expired (``expired``).
        ConfigurationError: the secret is too short.
    """
    _check_secret(secret)
    if type(token) is not str or len(token) > MAX_TOKEN_LENGTH:
        raise InvalidSessionTokenError("not a session token")
    parts = token.split(".")
    if (
        len(parts) != 4
        or parts[0] != _VERSION
        or len(parts[3]) != _MAC_LENGTH
        or not _BASE64URL.issuperset(parts[3])
    ):
        raise InvalidSessionTokenError("not a session token")
    encoded_id, expiry_text, mac_text = parts[1], parts[2], parts[3]
    if not expiry_text.isascii() or not expiry_text.isdigit() or len(expiry_text) > 12:
        raise InvalidSessionTokenError("not a session token")
    # Compare the canonical text of the MAC, so no second spelling of it verifies.
    expected = _b64encode(_mac(secret, token[: -len(mac_text) - 1]))
    if not hmac.compare_digest(mac_text.encode(), expected.encode()):
        raise InvalidSessionTokenError("invalid signature")
    raw_id = _b64decode(encoded_id)
    try:
        session_id = raw_id.decode() if raw_id is not None else ""
    except UnicodeDecodeError:
        session_id = ""
    if not 0 < len(session_id) <= MAX_SESSION_ID_LENGTH:
        raise InvalidSessionTokenError("not a session token")
    expiry = int(expiry_text)
    if (time.time() if now is None else now) >= expiry:
        raise InvalidSessionTokenError("expired")
    return session_id, expiry


def session_token_verifier(
    secret: bytes, *, clock: Callable[[], float] = time.time
) -> TokenVerifier:
    """Return a :data:`TokenVerifier` bound to ``secret`` (for the linking propagator).

    Args:
        secret: the signing secret, at least :data:`MIN_SECRET_BYTES` bytes.
        clock: returns the current epoch time in seconds (tests pass a fake clock).

    Raises:
        ConfigurationError: the secret is too short (checked now, not at each call).
    """
    _check_secret(secret)

    def verify(token: str) -> str | None:
        return verify_session_token(token, secret=secret, now=clock())

    return verify


def _check_secret(secret: bytes) -> None:
    if type(secret) is not bytes or len(secret) < MIN_SECRET_BYTES:
        raise ConfigurationError(
            f"session token secret: expected at least {MIN_SECRET_BYTES} bytes"
        )


def _mac(secret: bytes, signed: str) -> bytes:
    return hmac.new(secret, signed.encode(), hashlib.sha256).digest()


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64decode(text: str) -> bytes | None:
    if not text.isascii():
        return None
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        return None
