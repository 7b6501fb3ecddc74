"""Project tokens: which requests may ingest.

A token may arrive in ``Authorization: Bearer <token>``, in the token header
(``X-Sessionvision-Token`` by default; configurable), or as the body's ``token`` (the only way a
``sendBeacon`` can carry one). A header token is checked before the body is read. With no tokens
configured the endpoint is open. Tokens are compared in constant time and never exported.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable

from sv_otel.errors import AuthenticationError, PermissionDeniedError

__all__ = ["DEFAULT_TOKEN_HEADER", "TokenCheck", "bearer_token"]

DEFAULT_TOKEN_HEADER = "X-Sessionvision-Token"


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, or None."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


class TokenCheck:
    """Checks project tokens against the configured list (open when the list is empty)."""

    def __init__(self, tokens: Iterable[str], header: str = DEFAULT_TOKEN_HEADER) -> None:
        self._tokens = tuple(token.encode() for token in tokens)
        self.header = header

    @property
    def required(self) -> bool:
        """Whether a token is required at all."""
        return bool(self._tokens)

    def check(self, token: str | None) -> None:
        """Accept ``token`` or raise.

        Raises:
            AuthenticationError: a token is required and ``token`` is None (401).
            PermissionDeniedError: ``token`` is not a configured token (403).
        """
        if not self._tokens:
            return
        if token is None:
            raise AuthenticationError(
                "missing project token: send Authorization: Bearer <token>, "
                f'{self.header}: <token>, or the body\'s "token"'
            )
        given = token.encode()
        matched = False
        for known in self._tokens:
            matched |= hmac.compare_digest(given, known)
        if not matched:
            raise PermissionDeniedError("project token is not valid for this endpoint")
